"""Receiver-side equalisation with channel state information.

Its own module, below both :mod:`semcodec.signal` (a received stream equalises itself) and
:mod:`semcodec.channel` (which re-exports it), so neither imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def mmse_equalize(y: "torch.Tensor", h: "torch.Tensor | None", n0: float) -> "torch.Tensor":
    """Linear MMSE estimate of unit-energy symbols from ``y = h x + n`` with receiver CSI.

    ``x_hat = conj(h) y / (|h|^2 + N0)``; without fading (``h is None``) it returns ``y``
    unchanged, which is what an analog decoder trained on AWGN expects.
    """
    if h is None:
        return y
    return y * h.conj() / (h.abs().square() + n0)



def lmmse(y: "torch.Tensor", h: "torch.Tensor | None", n0) -> tuple["torch.Tensor", "torch.Tensor"]:
    """The receiver contract for every channel: LMMSE estimates and their error variances.

    ``y = h x + n`` with unit-energy ``x`` and ``n ~ CN(0, N0)``; ``h is None`` means ``h = 1``.
    Returns ``(x_hat, v)``, both of ``y``'s shape: ``x_hat = conj(h) y / (|h|^2 + N0)`` and the
    per-symbol post-equalisation error variance ``v = E|x - x_hat|^2 = N0 / (|h|^2 + N0)``
    (1 where nothing was received, 0 on a noiseless channel). A decoder told ``v`` knows which
    symbols a fade has buried, which a decoder told only the mean SNR cannot.

    Shapes: ``y`` ``[..., n]`` complex; ``h`` ``None`` or broadcastable to it; ``n0`` a float or
    a tensor broadcastable to it (``[B, 1]`` in training).
    """
    import torch

    gain = torch.ones_like(y.real) if h is None else h.abs().square()
    denom = gain + n0
    x_hat = (y if h is None else y * h.conj()) / denom
    return x_hat, (n0 / denom) * torch.ones_like(gain)
