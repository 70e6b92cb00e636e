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

