"""Image files in and out (Pillow), as float tensors ``[3, H, W]`` in [0, 1], RGB.

Any mode is converted explicitly and EXIF orientation is honoured; every failure a user can
cause becomes an :class:`~semcodec.errors.InvalidInput` with one clear line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidInput

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from torch import Tensor


def open_rgb(path: str | Path) -> "PILImage.Image":
    """Open an image file as an RGB Pillow image (EXIF orientation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(background, rgba).convert("RGB")
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidInput(f"{path}: not a readable image ({type(exc).__name__})") from None


def pil_to_tensor(im: "PILImage.Image") -> "Tensor":
    """RGB Pillow image -> float32 ``[3, H, W]`` in [0, 1]."""
    import numpy as np
    import torch

    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(x: "Tensor") -> "PILImage.Image":
    """Float ``[3, H, W]`` in [0, 1] -> 8-bit RGB Pillow image (rounded, clipped)."""
    from PIL import Image

    arr = x.detach().float().clamp(0, 1).mul(255).round().to("cpu").byte().permute(1, 2, 0).numpy()
    return Image.fromarray(arr, "RGB")


def quantize(x: "Tensor") -> "Tensor":
    """Round to the 8-bit grid a saved PNG holds, so metrics match the file on disk."""
    return x.clamp(0, 1).mul(255).round().div(255)


def load_image(path: str | Path) -> "Tensor":
    """Read an image file as float ``[3, H, W]`` in [0, 1]."""
    return pil_to_tensor(open_rgb(path))


def save_image(x: "Tensor", path: str | Path) -> Path:
    """Write ``[3, H, W]`` to ``path`` (format from the suffix); clear error if unwritable."""
    path = Path(path)
    try:
        tensor_to_pil(x).save(path)
    except (OSError, ValueError, KeyError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise InvalidInput(f"cannot write {path}: {reason}") from None
    return path
