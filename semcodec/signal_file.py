"""Saving what the receiver got, so the receiver can run in another process.

A signal file (``.npz``, no pickles) holds the received symbols of every stream, the fading
coefficients and noise variance, the header, and the codec's name and configuration. It is
written after the channel: ``semcodec decode`` rebuilds exactly what the one-process path
rebuilds from the same seed.

A signal file is untrusted input (anyone can write one), so reading it is a validation in
layers, each before anything is allocated from what the file claims:

1. the container: a zip of ``.npy`` members, each array's shape and dtype read from its header
   and bounded (symbols are complex64 vectors of at most ``3 x`` the pixel limit), no members
   beyond ``meta`` and the streams it lists;
2. the metadata: a versioned schema (``format``), types and ranges of every field, the codec
   registered here, finite SNR and noise variance;
3. the values: every symbol and fading coefficient finite;
4. the codec's own schema (:meth:`semcodec.Codec.validate_received`): header fields, image size
   under the pixel limit, stream names and lengths. Options that name files (a checkpoint
   path) are never taken from the file: the receiver gives its own on the command line.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .channel import CHANNEL_LABEL
from .errors import InvalidInput, SemcodecError, SignalFileError
from .schema import Any_, Bool, Int, MapOf, Nullable, Num, Obj, Scalar, Str, loads_unique
from .signal import Received, ReceivedStream

if TYPE_CHECKING:
    from .codec import Codec
    from .signal import Reconstruction

FORMAT = "semcodec-signal/4"
#: Formats this version reads (/1 differs only in how a header names a checkpoint).
READABLE = ("semcodec-signal/1", "semcodec-signal/2", "semcodec-signal/3", FORMAT)
#: Formats whose digital streams were laid out otherwise: before the digital link scrambled,
#: interleaved and CRC-protected its codewords (/3), and before the 5G NR codes and 5-bit MCS
#: indices (/4). Their analog streams still decode, their digital ones cannot.
OLD_DIGITAL_LAYOUT = ("semcodec-signal/1", "semcodec-signal/2", "semcodec-signal/3")
#: The metadata JSON is small; anything larger is not ours.
MAX_META_BYTES = 1 << 20
STREAM_NAME = r"[A-Za-z0-9_.-]{1,64}"

_STREAM = Obj({"kind": Str(16, choices=("digital", "analog")), "noise_var": Num(0.0, 1e12),
               "bits": Nullable(Int(0, 2**40)), "fading": Bool()})
_META = Obj({
    "format": Str(32, choices=READABLE),
    "codec": Str(64),
    "config": Obj({"bandwidth": Num(1e-6, 10.0), "design_snr_db": Nullable(Num(-30.0, 60.0)),
                   "options": MapOf(Scalar(), max_len=64)}, optional=("design_snr_db", "options")),
    "header": MapOf(Any_(), max_len=64),
    "header_bits": Int(0, 1 << 20),
    "channel": Str(200, pattern=CHANNEL_LABEL),
    "snr_db": Num(-30.0, 60.0),
    "streams": MapOf(_STREAM, max_len=64, key=Str(64, pattern=STREAM_NAME)),
    "extra": MapOf(Scalar(), max_len=16),
}, optional=("extra",))


def save_received(path: str | Path, received: Received, codec: str, config: dict[str, Any],
                  extra: dict[str, Any] | None = None) -> Path:
    """Write ``received`` plus the codec's identity to ``path`` (npz)."""
    import numpy as np

    from .imageio import write_replacing

    path = Path(path)
    arrays: dict[str, Any] = {}
    streams = {}
    for name, s in received.streams.items():
        arrays[f"y::{name}"] = s.symbols.numpy()
        if s.fading is not None:
            arrays[f"h::{name}"] = s.fading.numpy()
        streams[name] = {"kind": s.kind, "noise_var": s.noise_var, "bits": s.bits,
                         "fading": s.fading is not None}
    meta = {"format": FORMAT, "codec": codec, "config": config, "header": received.header,
            "header_bits": received.header_bits, "channel": received.channel,
            "snr_db": received.snr_db, "streams": streams, "extra": extra or {}}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    return write_replacing(path, write)


def _npy_header(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], Any]:
    """Shape and dtype of one ``.npy`` member, read from its header (no data is read)."""
    import numpy as np
    from numpy.lib import format as npy

    with zf.open(member) as f:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy.read_array_header_2_0(f)
        else:
            raise ValueError("unknown npy version")
    if fortran or dtype.hasobject:
        raise ValueError("unsupported array layout")
    return tuple(int(n) for n in shape), np.dtype(dtype)


#: Room for an ``.npy`` member's header beyond its data (numpy pads it to 64 bytes; 64 KiB at most).
NPY_HEADER_ROOM = 1 << 16


def _check_member_size(zf: zipfile.ZipFile, member: str, shape: tuple[int, ...], dtype: Any, path: Path) -> None:
    """A member's uncompressed size (the zip's directory says it, before a byte is inflated) must
    be what its array header declares: a 1.5 MB file may otherwise inflate to gigabytes."""
    import math

    declared = math.prod(shape) * dtype.itemsize
    size = zf.getinfo(member).file_size
    if size > declared + NPY_HEADER_ROOM:
        raise SignalFileError(f"{path}: member {member} inflates to {size:,} bytes, more than its array "
                              f"({declared:,} bytes) needs")


#: Received symbols carry the channel's noise in every mantissa, which deflate cannot squeeze
#: (real files: 1.1x); a stream over 4 MiB that deflates more than this was made, not received.
MAX_SYMBOL_DEFLATE_RATIO = 4.0


def _check_noisy(zf: zipfile.ZipFile, member: str, path: Path) -> None:
    """Refuse a large symbol member that compresses like zeros (a 0.75 MB file claiming 96 M
    symbols would otherwise cost gigabytes to decode before anything could be said of it)."""
    info = zf.getinfo(member)
    if info.file_size > 4 << 20 and info.file_size > MAX_SYMBOL_DEFLATE_RATIO * max(1, info.compress_size):
        raise SignalFileError(f"{path}: member {member} deflates {info.file_size / max(1, info.compress_size):,.0f}x; "
                              "received symbols carry channel noise and do not compress so (a made-up file)")


def _read_array(zf: zipfile.ZipFile, member: str):
    import numpy as np

    with zf.open(member) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def load_received(path: str | Path, check: "Callable[[Received, str, dict[str, Any]], None] | None" = None,
                  ) -> tuple[Received, str, dict[str, Any], dict[str, Any]]:
    """Read and validate a signal file -> ``(received, codec name, codec config, extra)``.

    Layers 1-3 of the module docstring. ``check(received, codec, config)`` (the codec's own
    checks, :func:`decode_file`) runs on the streams' *shapes* — symbols on torch's meta device,
    no memory — before any array is read, so a stream longer than its header implies is refused
    before it is allocated; every member's inflated size is checked against its array header.
    """
    import numpy as np
    import torch

    from .imageio import check_readable_file
    from .limits import max_pixels

    path = Path(path)
    try:
        check_readable_file(path, "signal file")
    except InvalidInput as exc:
        raise SignalFileError(str(exc)) from None
    max_symbols = 3 * max_pixels()
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            members = set(names)
            if len(members) != len(names):
                raise SignalFileError(f"{path}: two members share a name (a tampered file)")
            if "meta.npy" not in members:
                raise SignalFileError(f"{path}: not a semcodec signal file (no metadata)")
            shape, dtype = _npy_header(zf, "meta.npy")
            if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_META_BYTES:
                raise SignalFileError(f"{path}: metadata is not a small byte string")
            _check_member_size(zf, "meta.npy", shape, dtype, path)
            meta = loads_unique(bytes(_read_array(zf, "meta.npy")).decode())
            if not isinstance(meta, dict) or meta.get("format") not in READABLE:
                raise SignalFileError(f"{path}: not a {FORMAT} file")
            meta = _META.check(meta, "signal file")
            if meta["format"] in OLD_DIGITAL_LAYOUT and any(s["kind"] == "digital" for s in meta["streams"].values()):
                raise SignalFileError(f"{path}: a {meta['format']} file from an older semcodec, whose digital "
                                      f"streams used another channel-code layout; encode the image again")
            wanted = {"meta.npy"}
            shapes: dict[str, dict[str, int]] = {}
            total = 0
            for name, s in meta["streams"].items():
                shapes[name] = {}
                for prefix in ("y", "h") if s["fading"] else ("y",):
                    member = f"{prefix}::{name}.npy"
                    if member not in members:
                        raise SignalFileError(f"{path}: stream {name!r} has no {prefix} array")
                    wanted.add(member)
                    shape, dtype = _npy_header(zf, member)
                    if dtype != np.complex64 or len(shape) != 1:
                        raise SignalFileError(f"{path}: stream {name!r}: {prefix} must be a complex64 vector, "
                                              f"not {dtype} of shape {shape}")
                    _check_member_size(zf, member, shape, dtype, path)
                    if prefix == "y":
                        _check_noisy(zf, member, path)
                        total += shape[0]
                    if shape[0] > max_symbols or total > max_symbols:
                        raise SignalFileError(f"{path}: stream {name!r} brings the file to {total:,} symbols, more "
                                              f"than any image under the pixel limit needs")
                    shapes[name][prefix] = shape[0]
                if "h" in shapes[name] and shapes[name]["h"] != shapes[name]["y"]:
                    raise SignalFileError(f"{path}: stream {name!r}: fading and symbols differ in length")
            extra_members = sorted(members - wanted)
            if extra_members:
                raise SignalFileError(f"{path}: unexpected array(s) {', '.join(extra_members)[:80]}")
            header = meta["header"]
            if check is not None:  # the codec's checks, on shapes only
                shaped = {name: ReceivedStream(torch.empty(n["y"], dtype=torch.complex64, device="meta"),
                                               s["kind"], float(s["noise_var"]), None, s["bits"])
                          for (name, n), s in zip(shapes.items(), meta["streams"].values())}
                probe = Received(shaped, header, meta["header_bits"], meta["channel"], meta["snr_db"])
                check(probe, meta["codec"], meta["config"])
                header = probe.header
            streams = {}
            for name, s in meta["streams"].items():
                arrays = {}
                for prefix in shapes[name]:
                    arr = _read_array(zf, f"{prefix}::{name}.npy")
                    if not np.isfinite(arr).all():
                        raise SignalFileError(f"{path}: stream {name!r}: {prefix} holds NaN or infinite values")
                    arrays[prefix] = torch.from_numpy(arr)
                streams[name] = ReceivedStream(arrays["y"], s["kind"], float(s["noise_var"]), arrays.get("h"),
                                               s["bits"])
    except SemcodecError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError, RecursionError,
            json.JSONDecodeError, UnicodeDecodeError, NotImplementedError, RuntimeError) as exc:
        raise SignalFileError(f"{path}: not a readable signal file ({type(exc).__name__})") from None
    received = Received(streams, header, meta["header_bits"], meta["channel"], meta["snr_db"])
    return received, meta["codec"], meta["config"], meta.get("extra", {})


def receiver_codec(codec_name: str, config: dict[str, Any], device: str | None,
                   options: dict[str, Any] | None = None) -> "Codec":
    """The codec a signal file's configuration describes, as the *receiver* builds it: options
    that name files are dropped from the file's configuration; ``options`` (the receiver's own
    command line) are applied on top."""
    from .codec import load_codec

    cls = load_codec(codec_name)
    specs = cls.option_specs()
    from_file = {k: v for k, v in (config.get("options") or {}).items()
                 if k in specs and not specs[k].path}
    unknown = sorted(set(config.get("options") or {}) - set(specs))
    if unknown:
        raise SignalFileError(f"signal file: {codec_name} has no option(s) {', '.join(unknown)[:80]}")
    files = sorted(k for k, spec in specs.items() if spec.path)
    for key in options or {}:
        if key in specs and not specs[key].path:
            raise InvalidInput(f"decode --opt {key}: set by the transmitter, and the signal file carries it; "
                               f"a receiver gives only files ({', '.join(files) or 'none for ' + codec_name})")
    merged = {"bandwidth": config["bandwidth"], "design_snr_db": config.get("design_snr_db"),
              "options": {**from_file, **(options or {})}}
    return cls.from_config(merged, device)


def decode_file(path: str | Path, device: str | None = None,
                options: dict[str, Any] | None = None) -> tuple[str, "Reconstruction"]:
    """Validate a signal file in every layer and run its codec's receiver on it.

    Returns ``(codec name, reconstruction)``. Every problem with the file is a one-line
    :class:`SemcodecError`; a receiver that still trips over a value that passed validation is
    reported the same way (the file is the cause), never as a traceback.
    """
    from .codec import budget_on

    built: dict[str, "Codec"] = {}

    def channel_of(shaped: Received):
        from .channel import parse_channel_spec

        try:
            return parse_channel_spec(shaped.channel)
        except SemcodecError as exc:
            raise SignalFileError(f"{path}: its channel {str(shaped.channel)[:60]!r} is not one this receiver knows "
                                  f"({exc})") from None

    def check(shaped: Received, name: str, config: dict[str, Any]) -> None:
        built["codec"] = receiver_codec(name, config, device, options)
        with budget_on(channel_of(shaped)):  # a pilot pattern's channel uses are not the data's
            built["codec"].validate_received(shaped)

    received, codec_name, config, _ = load_received(path, check)
    codec = built["codec"]
    try:
        with budget_on(channel_of(received)):
            return codec_name, codec.decode(received)
    except SemcodecError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, RuntimeError, OverflowError) as exc:
        raise SignalFileError(f"{path}: {codec_name} could not decode it ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:100] if str(exc) else ''})") from None
