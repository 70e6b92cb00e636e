"""Training data shared by every trainer: image lists, uint8 tensors on the device, random
crops, the held-out rule (kodak24 is the test set, never trained on) and a memory estimate
checked before the first step."""

from __future__ import annotations

import random
from pathlib import Path

from ..errors import InvalidInput
from ..limits import check_free_memory


def list_images(folders: list[str]) -> list[Path]:
    """All image files directly inside ``folders`` (sorted, so runs are reproducible)."""
    from ..data import folder

    return [image.path for f in folders for image in folder(f, "training data")]


#: Peak bytes a pixel while a training image is loaded into the uint8 set, with a margin. Measured
#: (VmHWM growth of :func:`load_uint8` on 4096x4096 files): 8-bit RGB PNG / JPEG / TIFF 12, palette
#: PNG 10, lossless WebP 23, RGBA PNG 24, 16-bit grey PNG 28 (3 kept); 64 leaves twice the worst
#: measured for the modes not tried.
DECODE_BYTES_PER_PIXEL = 64


def load_uint8(files: list[Path], device) -> list:
    """Images as uint8 ``[3, H, W]`` tensors on the training device (cropped there, so a GPU is
    not starved by a Python data loader)."""
    import numpy as np
    import torch

    from ..imageio import check_fits_in_memory, open_rgb

    for f in files:  # refused from its header, before a huge picture is decoded
        check_fits_in_memory(Path(f), DECODE_BYTES_PER_PIXEL)
    return [
        torch.from_numpy(np.asarray(open_rgb(f), dtype=np.uint8).copy()).permute(2, 0, 1).to(device)
        for f in files
    ]


def random_crops(images: list, n: int, crop: int, rng: random.Random, rotate: bool = False):
    """``n`` random ``crop``x``crop`` patches with random horizontal flips (and, with ``rotate``,
    a random multiple of 90° rotation), ``[n, 3, crop, crop]`` in [0, 1]."""
    import torch

    out = []
    for _ in range(n):
        img = images[rng.randrange(len(images))]
        h, w = img.shape[-2:]
        top, left = rng.randrange(h - crop + 1), rng.randrange(w - crop + 1)
        patch = img[:, top : top + crop, left : left + crop]
        if rng.random() < 0.5:
            patch = patch.flip(-1)
        out.append(torch.rot90(patch, rng.randrange(4), dims=(-2, -1)) if rotate else patch)
    return torch.stack(out).float().div_(255.0)


#: Measured peak training memory per pixel of a batch (forward + backward, float32, CPU), with a
#: margin: deep JSCC ~430 B, adjscc at width 64 ~1,035 B (grows with the width).
BYTES_PER_PIXEL = {"deep-jscc": 600, "adjscc": 1400}


def check_memory(batch: int, pixels: int, bytes_per_pixel: float, device: str, what: str,
                 size_option: str | None = "--crop") -> None:
    """Memory follows ``--batch`` x crop, not the data: estimate one step before the first one
    and refuse in one line past what the machine has (the kernel would kill the run silently).
    ``size_option``: the trainer's option that sets the pixels (``None``: a fixed input size)."""
    check_free_memory(batch * pixels * bytes_per_pixel, device,
                      f"--batch {batch}: one training step of {what} ({batch} x {pixels:,} pixels)",
                      f"lower --batch{f' or {size_option}' if size_option else ''}")


def check_held_out(train: list[Path], held_out: list[Path]) -> bool:
    """Refuse training on a test image: any file of the kodak24 test set (by its pinned SHA-256,
    wherever it lies and whatever it is called) or of the evaluation folder. Returns whether the
    evaluation set is exactly kodak24 (so a card may call its curve the kodak24 curve)."""
    from ..data import KODAK24_SHA256, sha256

    kodak = set(KODAK24_SHA256.values())
    held = {sha256(p): p for p in held_out}
    for path in train:
        digest = sha256(path)
        if digest in kodak:
            raise InvalidInput(f"training data {path} is a kodak24 image: kodak24 is the test set, never trained on")
        if digest in held:
            raise InvalidInput(f"training data {path} is also in the evaluation data ({held[digest]})")
    return bool(held) and set(held) == kodak


def augmented_crops(images: list, n: int, crop: int, rng: random.Random):
    """``n`` random ``crop``² patches, each flipped and rotated by a multiple of 90° at random."""
    return random_crops(images, n, crop, rng, rotate=True)
