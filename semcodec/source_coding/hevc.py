"""HEVC intra image coding (the core of BPG) through pillow-heif (libheif + x265).

No BPG package exists on PyPI or Debian; BPG *is* HEVC intra coding in a small container, so
this project uses libheif's HEVC encoder. Send only what the receiver needs, and count every
byte: a HEIF file is ~380 bytes of boxes (ftyp, meta with the decoder configuration) before the
HEVC data. Most of it is the same for every image, so the boxes are deflated with a preset
dictionary both ends derive from the same encoder (the header of the built-in sample image),
which leaves ~77 bytes; the packet is ``[2-byte length][deflated boxes][HEVC data]``.
Encoded sizes are cached per (image, quality, chroma) so a rate search and an SNR sweep never
encode the same thing twice. x265 runs with preset ``fast`` by default: about twice as fast as
libheif's default at ~0.1 dB cost on Kodak (``--opt preset=slow`` for the last tenth of a dB).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from ..imageio import image_key

if TYPE_CHECKING:
    from torch import Tensor

QUALITY_RANGE = (0, 100)
CHROMA = ("420", "444")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
#: Typical slope of ln(file size) per quality step, used to extrapolate from one known size.
LOG_SIZE_PER_QUALITY = 0.07
#: Threads x265 and libde265 may use (``None``: their own default, one per core). Bench workers
#: that share the cores set it (:func:`set_threads`); the bitstream does not depend on it.
_threads: int | None = None
_default_decode_threads: int | None = None


def set_threads(threads: int | None) -> None:
    """Cap the threads of the HEVC encoder and decoder in this process (``None``: per core)."""
    import pillow_heif

    global _threads, _default_decode_threads
    if _default_decode_threads is None:
        _default_decode_threads = pillow_heif.options.DECODE_THREADS
    _threads = None if threads is None else max(1, int(threads))
    pillow_heif.options.DECODE_THREADS = _default_decode_threads if _threads is None else _threads


@lru_cache(maxsize=1)
def _register() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()


def split_container(data: bytes) -> tuple[bytes, bytes]:
    """A HEIF file -> (every box up to the mdat payload, the payload)."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"mdat":
            return data[:offset + 8], data[offset + 8:]
        if size < 8:
            break
        offset += size
    raise ValueError("not a HEIF file with an mdat box")


def pack(data: bytes, template: bytes) -> bytes:
    """HEIF file -> the packet that is sent (boxes deflated against ``template``)."""
    boxes, payload = split_container(data)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=template)
    compressed = deflate.compress(boxes) + deflate.flush()
    return struct.pack(">H", len(compressed)) + compressed + payload


def unpack(packet: bytes, template: bytes) -> bytes:
    """The received packet -> a HEIF file; ``ValueError`` when the boxes do not inflate."""
    if len(packet) < 2:
        raise ValueError("packet too short")
    (n,) = struct.unpack(">H", packet[:2])
    try:
        inflate = zlib.decompressobj(-15, zdict=template)
        boxes = inflate.decompress(packet[2:2 + n]) + inflate.flush()
    except zlib.error as exc:
        raise ValueError(f"container does not inflate ({exc})") from None
    return boxes + packet[2 + n:]


#: Packets made so far, per (chroma, preset), per image (the most recent :data:`CACHED_IMAGES`),
#: per quality: shared by every encoder of one process, so bpg-capacity's rate search reuses
#: bpg-ldpc's encodes of the same image (and an SNR sweep never encodes one thing twice).
_PACKETS: "dict[tuple[str, str], OrderedDict[str, dict[int, bytes]]]" = {}
#: Images whose packets are kept (a few: a bench visits an image's SNRs and codecs together).
CACHED_IMAGES = 4


class HevcEncoder:
    """Encodes one image at given qualities into sendable packets, remembering every result
    (in a cache shared by the encoders of one process that have the same settings)."""

    def __init__(self, chroma: str = "420", preset: str = "fast") -> None:
        if str(chroma) not in CHROMA:
            raise InvalidInput(f"chroma must be one of {', '.join(CHROMA)}, got {chroma!r}")
        if preset not in PRESETS:
            raise InvalidInput(f"x265 preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        self.chroma = str(chroma)
        self.preset = preset

    def heif(self, image: "Tensor", quality: int) -> bytes:
        """The plain HEIF file for ``image`` at ``quality`` (0–100)."""
        from ..imageio import tensor_to_pil

        _register()
        buf = io.BytesIO()
        params = {"preset": self.preset}
        if _threads is not None:
            params["x265:pools"] = str(_threads)
        tensor_to_pil(image).save(buf, format="HEIF", quality=int(quality), chroma=self.chroma,
                                  enc_params=params)
        return buf.getvalue()

    @property
    def template(self) -> bytes:
        """The shared deflate dictionary: the boxes of the sample image's file (same encoder)."""
        return _template(self.chroma, self.preset)

    def _known(self, key: str) -> dict[int, bytes]:
        """The packets already made of image ``key`` by any encoder of these settings, by quality."""
        images = _PACKETS.setdefault((self.chroma, self.preset), OrderedDict())
        if key in images:
            images.move_to_end(key)
        else:
            images[key] = {}
            while len(images) > CACHED_IMAGES:
                images.popitem(last=False)
        return images[key]

    def encode(self, image: "Tensor", quality: int, key: str | None = None) -> bytes:
        """The packet sent for ``image`` at ``quality``."""
        known = self._known(key or image_key(image))
        if quality not in known:
            known[quality] = pack(self.heif(image, quality), self.template)
        return known[quality]

    def decode(self, packet: bytes) -> "Tensor":
        """Packet -> ``[3, H, W]``; ``ValueError`` when the container or the HEVC data is rejected."""
        return decode(unpack(packet, self.template))

    def fit(self, image: "Tensor", max_bytes: int, key: str | None = None) -> tuple[int, bytes] | None:
        """The highest quality whose file is at most ``max_bytes`` (``None`` if even 0 is too big).

        Search: keep the bracket [fits, too big] from every size already known for this image,
        and probe the quality that log-linear interpolation of the file size predicts, rounded to
        the nearest (truncating it made 4 % more encodes over a kodak24 sweep's 16 budgets an
        image); usually 2 encodes per new budget, the least an exact answer needs (q and q + 1).
        """
        import math

        key = key or image_key(image)
        lo, hi = QUALITY_RANGE[0] - 1, QUALITY_RANGE[1] + 1
        sizes = {q: len(data) for q, data in self._known(key).items()}
        for q, size in sizes.items():
            if size <= max_bytes:
                lo = max(lo, q)
            else:
                hi = min(hi, q)
        while hi - lo > 1:
            if lo in sizes and hi in sizes:
                t = (math.log(max_bytes) - math.log(sizes[lo])) / (math.log(sizes[hi]) - math.log(sizes[lo]))
                q = lo + round(t * (hi - lo))
            elif lo in sizes or hi in sizes:  # one side known: extrapolate with a typical slope
                q0 = lo if lo in sizes else hi
                q = round(q0 + (math.log(max_bytes) - math.log(sizes[q0])) / LOG_SIZE_PER_QUALITY)
            else:
                q = 40
            q = min(max(q, lo + 1), hi - 1)
            sizes[q] = len(self.encode(image, q, key))
            if sizes[q] <= max_bytes:
                lo = q
            else:
                hi = q
        return None if lo < QUALITY_RANGE[0] else (lo, self.encode(image, lo, key))


@lru_cache(maxsize=None)
def _template(chroma: str, preset: str) -> bytes:
    from ..sample import sample_image

    return split_container(HevcEncoder(chroma, preset).heif(sample_image(), 30))[0]


#: Peak memory a pixel of decoding a signal whose header claims a large picture (HEVC decode,
#: then the picture written by Pillow): ~7.5 B grown at 8000x8000, ~5.7 at 20000x20000, measured
#: with VmHWM on bpg-ldpc; the codecs that carry an HEVC stream declare it as theirs.
DECODE_BYTES_PER_PIXEL = 8.0


def decode(data: bytes) -> "Tensor":
    """HEIF bytes -> ``[3, H, W]``; raises ``ValueError`` when libheif rejects the bitstream."""
    from PIL import Image

    from ..imageio import pil_to_tensor

    _register()
    try:
        with Image.open(io.BytesIO(data)) as im:
            return pil_to_tensor(im.convert("RGB"))
    except Exception as exc:  # libheif reports corrupt streams with several exception types
        raise ValueError(f"HEVC decoder rejected the bitstream ({type(exc).__name__})") from None


def check_declared_size(image: "Tensor", height: int, width: int) -> None:
    """Refuse an intact bitstream that decodes to another size than its header declares.

    When every bit arrived (codewords decoded, CRC matching), the HEVC stream is the one the
    transmitter sent, so a mismatch is an edited header, not a channel failure: showing a grey
    picture of the declared size (up to the pixel limit) would score a forgery as a transmission.
    Raises :class:`~semcodec.errors.SignalFileError`.
    """
    if tuple(image.shape) != (3, height, width):
        from ..errors import SignalFileError

        raise SignalFileError(f"header: declares {height}x{width} pixels, but its intact bitstream decodes to "
                              f"{int(image.shape[-2])}x{int(image.shape[-1])}")
