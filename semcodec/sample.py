"""A built-in sample image, drawn procedurally, so `semcodec encode` works with no file at all.

It is synthetic on purpose: the package ships no dataset images. Sky gradient, sun, hills,
a house with a window and textured grass give edges, smooth areas and texture to code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


def sample_image(height: int = 256, width: int = 384) -> "Tensor":
    """The sample scene as float ``[3, height, width]`` in [0, 1] (deterministic)."""
    import numpy as np
    import torch

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    yn, xn = y / height, x / width
    img = np.zeros((height, width, 3), np.float32)
    img[...] = np.stack([0.35 + 0.3 * yn, 0.55 + 0.3 * yn, 0.95 - 0.1 * yn], -1)  # sky
    sun = (xn - 0.8) ** 2 + ((yn - 0.2) * height / width) ** 2 < 0.006
    img[sun] = (1.0, 0.9, 0.4)
    hill = yn > 0.6 + 0.08 * np.sin(xn * 7.0)
    rng = np.random.default_rng(0)
    grass = np.stack([0.2 + 0.1 * np.sin(x * 0.9) * np.cos(y * 0.7), 0.55 + 0.05 * rng.standard_normal(x.shape),
                      0.2 * np.ones_like(x)], -1)
    img[hill] = grass[hill]
    house = (xn > 0.2) & (xn < 0.45) & (yn > 0.45) & (yn < 0.75)
    img[house] = (0.75, 0.3, 0.25)
    roof = (yn < 0.45) & (yn > 0.3) & (np.abs(xn - 0.325) < (yn - 0.3) * 1.0)
    img[roof] = (0.35, 0.2, 0.15)
    window = (xn > 0.26) & (xn < 0.32) & (yn > 0.52) & (yn < 0.6)
    img[window] = (0.95, 0.95, 0.7)
    return torch.from_numpy(np.clip(img, 0, 1)).permute(2, 0, 1).contiguous()
