"""Gray-mapped BPSK, QPSK, 16-QAM and 64-QAM with unit mean energy, and max-log LLR demapping.

Square QAM is two Gray-mapped PAMs (I and Q), so demapping is separable: per real dimension
the max-log LLR of a bit is ``(min_{a: b=1} |z - a|^2 - min_{a: b=0} |z - a|^2) / N0`` with
``z`` the equalised sample and ``N0`` the complex noise variance (``N0/2`` per dimension).
With fading, ``z = y conj(h) / |h|^2`` and the noise variance becomes ``N0 / |h|^2`` per symbol.
LLR sign convention: positive means bit 0 is more likely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from ..errors import InvalidInput


def gray_pam(bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Levels of a Gray-mapped 2^bits-PAM (unscaled odd integers) and their bit labels.

    Returns ``(levels [L], labels [L, bits])`` where level ``i`` carries ``labels[i]`` (MSB first).
    """
    n = 1 << bits
    levels = torch.arange(-(n - 1), n, 2, dtype=torch.float32)
    gray = [i ^ (i >> 1) for i in range(n)]
    labels = torch.tensor([[(g >> (bits - 1 - b)) & 1 for b in range(bits)] for g in gray])
    return levels, labels


@dataclass(frozen=True)
class Modulation:
    """A Gray-mapped constellation with unit mean symbol energy.

    Attributes:
        name: ``bpsk``, ``qpsk``, ``16qam`` or ``64qam``.
        bits_per_symbol: 1, 2, 4 or 6.
    """

    name: str
    bits_per_symbol: int

    @property
    def bits_per_dim(self) -> int:
        return 1 if self.bits_per_symbol == 1 else self.bits_per_symbol // 2

    @cached_property
    def _pam(self) -> tuple[torch.Tensor, torch.Tensor]:
        levels, labels = gray_pam(self.bits_per_dim)
        # Unit mean energy over the complex symbol (BPSK uses only the real axis).
        dims = 1 if self.bits_per_symbol == 1 else 2
        scale = math.sqrt(dims * levels.square().mean().item())
        return levels / scale, labels

    def modulate(self, bits: torch.Tensor) -> torch.Tensor:
        """Bits ``[..., n]`` (0/1, n a multiple of bits_per_symbol) -> symbols ``[..., n/bps]`` complex64."""
        levels, _ = self._pam
        m = self.bits_per_dim
        b = bits.to(torch.int64).reshape(*bits.shape[:-1], -1, m)
        # Gray label -> level index: the binary-reflected inverse (prefix XOR of the bits).
        idx = torch.zeros(b.shape[:-1], dtype=torch.int64)
        acc = torch.zeros_like(idx)
        for j in range(m):
            acc = acc ^ b[..., j]
            idx = (idx << 1) | acc
        amp = levels[idx]
        if self.bits_per_symbol == 1:
            return torch.complex(amp, torch.zeros_like(amp))
        amp = amp.reshape(*amp.shape[:-1], -1, 2)
        return torch.complex(amp[..., 0], amp[..., 1])

    def demap(self, y: torch.Tensor, noise_var: float | torch.Tensor,
              fading: torch.Tensor | None = None) -> torch.Tensor:
        """Max-log LLRs ``[..., n*bps]`` (float32) of received symbols ``y [..., n]``."""
        levels, labels = self._pam
        n0 = torch.as_tensor(noise_var, dtype=torch.float32)
        if fading is not None:
            gain = fading.abs().square().clamp_min(1e-12)
            y = y * fading.conj() / gain
            n0 = n0 / gain
        n0 = torch.broadcast_to(n0, y.shape).clamp_min(1e-12)
        if self.bits_per_symbol == 1:
            comps, n0c = y.real.unsqueeze(-1), n0.unsqueeze(-1)
        else:
            comps = torch.stack([y.real, y.imag], dim=-1)  # [..., n, 2]
            n0c = torch.stack([n0, n0], dim=-1)
        d = (comps.unsqueeze(-1) - levels).square()  # [..., n, dims, L]
        inf = torch.tensor(float("inf"))
        llrs = []
        for b in range(self.bits_per_dim):
            is1 = labels[:, b].bool()
            d1 = torch.where(is1, d, inf).amin(-1)
            d0 = torch.where(~is1, d, inf).amin(-1)
            llrs.append((d1 - d0) / n0c)
        out = torch.stack(llrs, dim=-1)  # [..., n, dims, bits_per_dim]
        return out.reshape(*y.shape[:-1], -1)


MODULATIONS = {m.name: m for m in (Modulation("bpsk", 1), Modulation("qpsk", 2),
                                   Modulation("16qam", 4), Modulation("64qam", 6))}


def modulation(name: str) -> Modulation:
    try:
        return MODULATIONS[name.lower()]
    except KeyError:
        raise InvalidInput(f"unknown modulation {name!r} (known: {', '.join(MODULATIONS)})") from None
