"""Options and checks shared by commands: SNR lists, codec options, output paths that must not
overwrite inputs, devices, channels; each a one-line error on bad input."""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ..errors import InvalidInput
from ..numbers import decimal, integer


def number(kind: type, lo: float | None = None, hi: float | None = None) -> Callable[[Any], Any]:
    """The ``parser`` of a numeric option: the one number rule of :mod:`semcodec.numbers` (``6_0``
    is not 60) and the range [``lo``, ``hi``]; a finite value for a float."""
    def parse(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise typer.BadParameter(f"wants a number, got {value!r}")
        try:
            out = (integer if kind is int else decimal)(value) if isinstance(value, str) else kind(value)
        except ValueError:
            raise typer.BadParameter(f"{'an integer' if kind is int else 'a number'} is wanted, "
                                     f"got {_short(value)}") from None
        if isinstance(out, float) and not math.isfinite(out):
            raise typer.BadParameter(f"a finite number is wanted, got {_short(value)}")
        if (lo is not None and out < lo) or (hi is not None and out > hi):
            raise typer.BadParameter(f"must be {range_text(lo, hi)}, got {_short(value)}")
        return out
    return parse


def range_text(lo: float | None, hi: float | None) -> str:
    """``x>=1``, ``x<=10`` or ``1<=x<=10``: a numeric option's range, in errors and in ``--help``."""
    a, b = (f"{v:g}" if isinstance(v, float) else str(v) for v in (lo, hi))
    return f"x>={a}" if hi is None else f"x<={b}" if lo is None else f"{a}<=x<={b}"


SnrOpt = Annotated[str, typer.Option("--snr", help="Channel SNR, Es/N0 per complex symbol, in dB.")]
CodecOpt = Annotated[str, typer.Option("--codec", "-c", help="Codec name (see `semcodec codecs`).")]
ChannelOpt = Annotated[str, typer.Option("--channel", help="NAME[:key=value,...]: awgn, rayleigh[:coherence=1024,csi=perfect,pilots=16], rayleigh-fast, rician[:K=3,coherence=1024], ofdm-tdl[:model=C,delay_spread=100,speed=3,carrier=3.5,fft=256,scs=30,cp=18], noiseless, or a plugin's.")]
CsiOpt = Annotated[Optional[str], typer.Option("--csi", help="Receiver CSI on a fading channel: perfect, or estimated from pilots (LS; the pilots are channel uses of the budget).")]
SeedOpt = Annotated[int, typer.Option("--seed", parser=number(int, 0, 2**63 - 1), help="Seed of the channel noise.")]
MaxPixelsOpt = Annotated[Optional[int], typer.Option("--max-pixels", parser=number(int, 1), help="Refuse images larger than this (default 64000000, or SEMCODEC_MAX_PIXELS).")]
BandwidthOpt = Annotated[Optional[str], typer.Option("--bandwidth", help="Channel-use budget k/n, header included (default 1/12); codecs with a fixed or content-dependent use refuse it.")]
DesignOpt = Annotated[Optional[str], typer.Option("--design-snr", help="SNR the transmitter designs for (default: the channel SNR).")]
OptOpt = Annotated[Optional[list[str]], typer.Option("--opt", "-O", help="Codec option KEY=VALUE (repeatable).")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="torch device for model components.")]
ModelOpt = Annotated[Optional[list[str]], typer.Option("--model", help="Component weights COMPONENT=ID or local folder (repeatable).")]


@dataclass(frozen=True)
class TransmissionOptions:
    """The options of a transmission that ``encode`` and ``bench`` share (see
    :func:`with_transmission_options`)."""

    channel: str = "awgn"
    csi: str | None = None
    seed: int = 0
    bandwidth: str | None = None
    design_snr: str | None = None
    opt: list[str] | None = None
    device: str | None = None
    model: list[str] | None = None


#: Their command-line declarations, in the order ``--help`` lists them.
TRANSMISSION_OPTIONS = {"channel": ChannelOpt, "csi": CsiOpt, "seed": SeedOpt, "bandwidth": BandwidthOpt,
                        "design_snr": DesignOpt, "opt": OptOpt, "device": DeviceOpt, "model": ModelOpt}


def with_transmission_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the transmission options; it receives them as one ``link: TransmissionOptions``
    (declared once here, so commands do not each repeat the list)."""
    hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()
           if p.name != "link"]
    defaults = TransmissionOptions()
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, name), annotation=kind)
             for name, kind in TRANSMISSION_OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(**values: Any) -> Any:
        link = TransmissionOptions(**{name: values.pop(name) for name in TRANSMISSION_OPTIONS})
        return command(**values, link=link)

    wrapper.__signature__ = inspect.Signature(own + extra, return_annotation=None)  # type: ignore[attr-defined]
    return wrapper


def apply_model_overrides(models: list[str] | None) -> None:
    """``--model captioner=/path`` -> the component uses that id in this process."""
    if models:
        from ..models.source import apply_overrides

        apply_overrides(models)


def parse_snr_list(text: str) -> list[float]:
    """'-3,0,3' -> [-3.0, 0.0, 3.0], each checked to be a finite SNR in range."""
    from ..channel import check_snr

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidInput("--snr needs at least one value in dB")
    return list(dict.fromkeys(check_snr(p) for p in parts))  # 5,5.0 is one SNR


def parse_options(opts: list[str] | None) -> dict[str, object]:
    """``KEY=VALUE`` strings (JSON values parsed, anything else a string) -> codec options; each
    codec checks them against its typed :class:`~semcodec.codec.Option` declarations. One key
    given twice with different values (``--mcs`` and ``--opt mcs=``) is an error, not a guess."""
    import json

    out: dict[str, object] = {}
    for item in opts or []:
        if "=" not in item:
            raise InvalidInput(f"--opt wants KEY=VALUE, got {_short(item)}")
        key, value = item.split("=", 1)
        key = key.strip()
        try:
            parsed: object = json.loads(value)
        except (ValueError, RecursionError):  # not JSON (or a 5,000-digit number): the string itself
            parsed = value
        if key in out and out[key] != parsed:
            raise InvalidInput(f"option {key} is given twice, as {_short(out[key])} and {_short(parsed)}")
        out[key] = parsed
    return out


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def file_path(value: str | Path) -> Path:
    """An output file's name as typed (the ``parser`` of every output-file option): a name that
    ends in a separator names a folder, and ``Path`` would silently make a file of it."""
    text = os.fspath(value)
    if isinstance(value, str) and text.endswith(("/", os.sep)):
        raise InvalidInput(f"{text}: a name ending in {text[-1]!r} is a folder; give the output file's name")
    return Path(text)


def check_writable(path: Path | None) -> None:
    """Fail before the (possibly long) work when an output could not be written afterwards."""
    if path is None:
        return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK) or path.is_dir():
        raise InvalidInput(f"cannot write {path}: no writable folder {parent}" if not path.is_dir()
                           else f"cannot write {path}: it is a folder")


#: What matplotlib can write, so a bad --plot suffix fails before the run, not after it.
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".webp", ".jpg", ".jpeg")


def check_output(path: Path | None, suffixes: tuple[str, ...] | None = None) -> None:
    """An output path must have a known format (when ``suffixes``) and be writable."""
    if path is None:
        return
    if suffixes and path.suffix.lower() not in suffixes:
        raise InvalidInput(f"{path}: unsupported format {path.suffix or '(no suffix)'!r} "
                           f"(use one of {', '.join(suffixes)})")
    check_writable(path)


def file_identity(path: Path | str) -> tuple | str:
    """What makes two paths one file: device and inode where it exists (a hard link or a symlink
    is the same file under another name), else the resolved path."""
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return os.path.realpath(path)


def check_distinct(paths: dict[str, Path | None]) -> None:
    """No output may overwrite the input or another output (``-o in.png`` on ``in.png``, or on
    a hard link to it)."""
    seen: dict[tuple | str, str] = {}
    for what, path in paths.items():
        if path is None:
            continue
        for key in {file_identity(path), os.path.realpath(path)}:
            if key in seen:
                raise InvalidInput(f"{what} and {seen[key]} are the same file ({path}); choose another")
            seen[key] = what


def check_report_outputs(outputs: dict[str, Path | None], html_dir: Path | None, results: list[Path],
                         records: list[dict]) -> None:
    """A report never writes over what it reads: the results files and every image a record
    names (kept reconstructions, sources), whatever name or link the output reaches them by."""
    from ..report.html import OUTPUT_NAME  # the names a page writes in its folder

    protected: dict[tuple | str, str] = {}
    for path in results:
        protected[file_identity(path)] = str(path)
    for rec in records:
        files = rec.get("files") if isinstance(rec.get("files"), dict) else {}
        for value in (*files.values(), rec.get("image_path")):
            if isinstance(value, str) and value and len(value) < 4096 and os.path.isfile(value):
                protected[file_identity(value)] = value
    targets = {what: p for what, p in outputs.items() if p is not None}
    if html_dir is not None and html_dir.is_dir():
        with contextlib.suppress(OSError):
            targets.update({f"--html {html_dir}": f for f in html_dir.iterdir() if OUTPUT_NAME.match(f.name)})
    for what, path in targets.items():
        if os.path.exists(path) and file_identity(path) in protected:
            raise InvalidInput(f"{what} would overwrite {protected[file_identity(path)]}, which this command reads "
                               f"({path}); choose another path")


def check_device(device: str | None) -> None:
    """``--device`` (or ``SEMCODEC_DEVICE``) must name a device this machine has; checked before
    any work."""
    device = device or os.environ.get("SEMCODEC_DEVICE") or None
    if not device:
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InvalidInput(f"--device {device!r} is not a torch device (cpu, cuda, cuda:1, mps)") from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidInput(f"device {device} (--device or SEMCODEC_DEVICE): no CUDA GPU on this machine; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InvalidInput(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return
    if dev.type == "mps" and torch.backends.mps.is_available():
        return
    raise InvalidInput(f"--device {device}: not available on this machine (use cpu or cuda)")


def apply_limits(max_pixels: int | None) -> None:
    from ..limits import max_pixels as current, set_max_pixels

    set_max_pixels(max_pixels)
    current()  # a bad SEMCODEC_MAX_PIXELS is an error now, not when the first image loads
