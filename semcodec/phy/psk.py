"""Gray-mapped 8-PSK with hard decisions: the uncoded link of UO-ISC's authors' code, where each
6-bit codebook index travels as two 8-PSK symbols.

Point ``k`` is ``exp(j 2 pi k / 8)`` (unit energy) and carries the Gray label ``k ^ (k >> 1)``, so
neighbouring points differ in one bit. The receiver equalises with its CSI (``y / h``) and picks
the nearest point (the phase sector).
"""

from __future__ import annotations

import math

import torch

BITS_PER_SYMBOL = 3
_GRAY = torch.tensor([k ^ (k >> 1) for k in range(8)])
_POSITION = torch.argsort(_GRAY)  # label -> point index


def modulate(bits: torch.Tensor) -> torch.Tensor:
    """Bits ``[n]`` (0/1, n a multiple of 3, MSB first) -> ``[n / 3]`` complex64 unit-energy symbols."""
    b = bits.to(torch.int64).reshape(-1, BITS_PER_SYMBOL)
    labels = (b[:, 0] << 2) | (b[:, 1] << 1) | b[:, 2]
    phase = _POSITION[labels].to(torch.float32) * (2 * math.pi / 8)
    return torch.polar(torch.ones_like(phase), phase)


def hard_bits(y: torch.Tensor, fading: torch.Tensor | None = None) -> torch.Tensor:
    """Received ``[n]`` symbols -> ``[3 n]`` bits of the nearest points (after ``y / h``)."""
    z = y if fading is None else y / torch.where(fading.abs() > 0, fading, torch.ones_like(fading))
    k = torch.remainder(torch.round(torch.angle(z) / (2 * math.pi / 8)), 8).to(torch.int64)
    labels = _GRAY[k]
    return torch.stack([(labels >> 2) & 1, (labels >> 1) & 1, labels & 1], dim=1).reshape(-1).to(torch.uint8)
