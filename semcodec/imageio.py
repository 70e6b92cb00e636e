"""Image files in and out (Pillow), as float tensors ``[3, H, W]`` in [0, 1], RGB.

Any mode is converted explicitly and EXIF orientation is honoured; every failure a user can
cause becomes an :class:`~semcodec.errors.InvalidInput` with one clear line.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .errors import InvalidInput

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from torch import Tensor


def check_readable_file(path: Path, what: str = "") -> None:
    """Refuse, in one line each, what is not a regular readable file: missing, a folder, a FIFO
    or device (``/dev/zero`` would be read forever), a symlink loop, no permission."""
    import errno
    import stat

    label = f"{what} {path}".strip()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInput(f"{label}: a symbolic link loop") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InvalidInput(f"{label}: no such file") from None
        raise InvalidInput(f"{label}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
        raise InvalidInput(f"{label}: not a regular file ({kind})")
    if not os.access(path, os.R_OK):
        raise InvalidInput(f"{label}: permission denied")


def check_fits_in_memory(path: Path, bytes_per_pixel: float) -> None:
    """Refuse, from the file's header, an image whose run would not fit in the memory free now
    (``bytes_per_pixel``: the codec's :attr:`~semcodec.codec.Codec.bytes_per_pixel`); an unreadable header
    is left to the loader to explain."""
    import warnings

    from PIL import Image

    from .limits import check_pixels, check_run_memory

    check_readable_file(path)  # never open a FIFO or a device
    Image.MAX_IMAGE_PIXELS = None  # Pillow's own bomb limit would hide the size: our limits apply
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's decompression-bomb warning: our limits apply
            with Image.open(path) as im:
                width, height = im.size
    except Exception:  # noqa: BLE001 - the loader says what is wrong with the file
        return
    check_pixels(height, width, str(path))  # the pixel limit first: it is the user's own setting
    check_run_memory(height, width, float(bytes_per_pixel), str(path))  # host memory: image, metrics


def open_rgb(path: str | Path, data: bytes | None = None) -> "PILImage.Image":
    """Open an image file as an RGB Pillow image (EXIF orientation applied).

    The pixel limit (:mod:`semcodec.limits`) is checked from the file's header, before any
    pixel is decoded, so a small file declaring a huge image costs nothing. ``data``: the file's
    bytes, already read (then ``path`` only names it in errors).
    """
    import io
    import struct
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    from .limits import check_pixels

    path = Path(path)
    if data is None:
        check_readable_file(path)
    Image.MAX_IMAGE_PIXELS = None  # our own limit applies, checked below from the header
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path if data is None else io.BytesIO(data)) as im:
                check_pixels(im.height, im.width, str(path))
                im = ImageOps.exif_transpose(im)
                im = _to_8bit(im)
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    return Image.alpha_composite(background, rgba).convert("RGB")
                return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            TypeError, IndexError, struct.error) as exc:
        raise InvalidInput(f"{path}: not a readable image ({type(exc).__name__})") from None
    except MemoryError:
        raise InvalidInput(f"{path}: too large to decode in memory") from None


def _to_8bit(im: "PILImage.Image") -> "PILImage.Image":
    """16-bit and float greyscale images scaled to 8 bits (Pillow's ``convert`` would clip them
    at 255: a 16-bit PNG would come out white, a float TIFF in [0, 1] black)."""
    if im.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return im
    import numpy as np
    from PIL import Image

    arr = np.asarray(im, dtype=np.float64)
    peak = float(arr.max()) if arr.size else 0.0
    if im.mode.startswith("I;16") or (im.mode == "I" and peak > 255):
        arr = arr / 257.0  # 0..65535 -> 0..255
    elif im.mode == "F" and peak <= 1.0:
        arr = arr * 255.0  # floats in [0, 1]
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "L")


def pil_to_tensor(im: "PILImage.Image") -> "Tensor":
    """RGB Pillow image -> float32 ``[3, H, W]`` in [0, 1]."""
    import numpy as np
    import torch

    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(x: "Tensor") -> "PILImage.Image":
    """Float ``[3, H, W]`` in [0, 1] -> 8-bit RGB Pillow image (rounded, clipped)."""
    from PIL import Image

    import numpy as np
    import torch

    x = x.detach()
    h, w = int(x.shape[-2]), int(x.shape[-1])

    def to_8bit(band: "Tensor") -> "PILImage.Image":
        band = band.to("cpu", torch.float32).clamp(0, 1).mul_(255).round_()
        return Image.fromarray(np.ascontiguousarray(band.to(torch.uint8).permute(1, 2, 0).numpy()), "RGB")

    rows = max(1, (1 << 20) // max(1, w))  # ~12 MB of float32 at a time: a 64-megapixel picture
    if rows >= h:
        return to_8bit(x)
    out = Image.new("RGB", (w, h))  # filled band by band: never more than the picture and one band
    for top in range(0, h, rows):
        out.paste(to_8bit(x[:, top:top + rows]), (0, top))
    return out


def quantize(x: "Tensor") -> "Tensor":
    """Round to the 8-bit grid a saved PNG holds, so metrics match the file on disk."""
    return x.clamp(0, 1).mul(255).round().div(255)


def load_image(path: str | Path) -> "Tensor":
    """Read an image file as float ``[3, H, W]`` in [0, 1]."""
    return pil_to_tensor(open_rgb(path))


def load_image_with_digest(path: str | Path) -> tuple["Tensor", str]:
    """``(image, sha256 of the bytes decoded)`` (16 hex, as the bench's resume key): the file is
    read once, hashed and decoded from those bytes, so a file replaced meanwhile can never be
    recorded under the other file's hash."""
    import hashlib

    path = Path(path)
    check_readable_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except MemoryError:
        raise InvalidInput(f"{path}: too large to read in memory") from None
    return pil_to_tensor(open_rgb(path, data)), hashlib.sha256(data).hexdigest()[:16]


def fresh_output(path: str | Path) -> Path:
    """Make ``path`` ready to be written as a new file: a symlink, a hard link's second name or a
    FIFO in its place is removed (replaced, never written through to a file someone else owns;
    a FIFO would block). A folder is left for the writer to refuse."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except OSError:
        return path
    if stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink > 1) or not (
            stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        try:
            path.unlink()
        except OSError as exc:
            raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_replacing(path: str | Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` to a hidden sibling of ``path`` (same suffix: writers pick the format from
    it), then rename it over ``path``: an earlier file survives a full disk or a failed write
    whole, and nobody ever reads half a file. Any failure is one :class:`InvalidInput`."""
    path = fresh_output(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, ValueError, KeyError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise InvalidInput(f"cannot write {path}: {reason}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return path


def save_image(x: "Tensor", path: str | Path) -> Path:
    """Write ``[3, H, W]`` to ``path`` (format from the suffix); clear error if unwritable."""
    pil = tensor_to_pil(x)
    return write_replacing(path, lambda tmp: pil.save(tmp))


def image_key(image: "Tensor") -> str:
    """A digest of the 8-bit image: the cache key of everything computed from it (HEVC sizes,
    a semantic codec's SNR-independent analysis)."""
    import hashlib

    return hashlib.blake2b(tensor_to_pil(image).tobytes(), digest_size=16).hexdigest()
