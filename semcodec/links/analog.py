"""The analog link: a learned encoder/decoder pair whose latent *is* the channel input.

Transmitter: image ``[3, H, W]`` -> network encoder (padded to its downsampling) -> real latent
``[c, H/4, W/4]`` -> consecutive pairs as complex symbols, power-normalised per image (unit mean
energy). Receiver: MMSE-equalised symbols -> decoder -> image cropped to ``H x W``.

The budget is the budget: at most ``floor(k/n * 3HW)`` channel uses *including the header*.
When the padded latent is larger than what is left, a few latent values, spread evenly over it,
are not sent (:func:`puncture`); the receiver reads them as zeros (:func:`depuncture`), which
acts like a little extra noise everywhere rather than a hole in one corner of the image.

The same path serves training (:meth:`AnalogLink.forward`: batches, one SNR per sample, the
project's channel blocks), so "trained at 10 dB" means the bench's 10 dB.

Networks plug in through a small interface (both :class:`~semcodec.networks.deep_jscc.DeepJSCC`
and :class:`~semcodec.networks.adjscc.AdaptiveJSCC` have it): ``downsample``, ``max_channels``,
``encode(x, snr_db, c) -> (symbols [B, n], latent shape)`` and
``decode(y, latent shape, size, snr_db) -> [B, 3, H, W]``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from . import Transmission

if TYPE_CHECKING:
    from torch import Tensor

    from ..channel import Channel
    from ..signal import ReceivedStream

#: Header fields of the link: image height and width, 16 bits each.
HEADER_BITS = 16 + 16


def spreading_positions(n: int) -> "Tensor":
    """Where latent symbol ``i`` goes in a stream of ``n``: ``(a i) mod n``, ``a`` the integer
    coprime to ``n`` nearest ``0.618 n`` (golden-ratio spreading). Neighbouring latent values land
    far apart, and a run of consecutive channel uses (one fading block) holds values from all over
    the latent, so a deep fade costs a little everywhere instead of a hole in the image. Plain
    arithmetic, so both ends (and any later version) derive the same order."""
    import torch

    if n < 3:
        return torch.arange(n)
    a = max(1, round(0.6180339887498949 * n))
    while math.gcd(a, n) != 1:
        a += 1
    return (torch.arange(n, dtype=torch.long) * a) % n


def punctured_positions(full: int, sent: int) -> "Tensor":
    """Indices of the ``full - sent`` latent symbols *not* sent when only ``sent`` fit the budget,
    spread evenly over the latent (both ends derive the same set)."""
    import torch

    drop = full - sent
    if drop <= 0:
        return torch.zeros(0, dtype=torch.long)
    return torch.unique(torch.linspace(0, full - 1, drop).round().long())


def puncture(symbols: "Tensor", sent: int) -> "Tensor":
    """``[n]`` symbols -> the ``sent`` that are transmitted, rescaled to unit mean energy."""
    import torch

    keep = torch.ones(symbols.numel(), dtype=torch.bool)
    keep[punctured_positions(symbols.numel(), sent)] = False
    s = symbols[keep][:sent]
    return s / s.abs().square().mean().sqrt().clamp_min(1e-12)


def depuncture(received: "Tensor", full: int, fill: float = 0.0) -> "Tensor":
    """The receiver's ``[full]`` latent symbols: what arrived in place, ``fill`` where nothing was
    sent (0 for symbols; 1 for their error variances: nothing known)."""
    import torch

    keep = torch.ones(full, dtype=torch.bool)
    keep[punctured_positions(full, received.numel())] = False
    out = received.new_full((full,), fill)
    out[keep] = received
    return out


class AnalogLink:
    """Image <-> power-normalised latent symbols through a learned network.

    Args:
        network: an encoder/decoder with the interface in the module docstring.
        bandwidth: the budget k/n = channel uses / (3HW), header included.
        channels: latent channels sent (rate adaptation by channel masking); ``None``: all.
        other_header_bits: header bits the codec sends beside this link's (a checkpoint id…):
            they come out of the same budget.
        interleave: send the symbols in the order of :func:`spreading_positions` (the receiver
            undoes it): what a digital link's interleaver does for its codewords, for fading.
    """

    def __init__(self, network: Any, bandwidth: float, channels: int | None = None,
                 other_header_bits: int = 0, interleave: bool = False) -> None:
        self.network = network
        self.interleave = bool(interleave)
        self.bandwidth = float(bandwidth)
        self.channels = int(channels or network.max_channels)
        self.other_header_bits = int(other_header_bits)

    @property
    def device(self):
        return next(self.network.parameters()).device

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """``(c, ceil(H/d), ceil(W/d))`` of an image, ``d`` the network's downsampling."""
        d = self.network.downsample
        return self.channels, math.ceil(height / d), math.ceil(width / d)

    def budget(self, height: int, width: int) -> int:
        """Symbols the stream may use: the k/n budget minus the header's channel uses."""
        from ..signal import budget_uses, header_channel_uses

        return budget_uses(self.bandwidth, height, width) - header_channel_uses(HEADER_BITS + self.other_header_bits)

    def symbols(self, height: int, width: int) -> int:
        """Symbols actually sent for an ``H x W`` image: the latent, or the budget if smaller."""
        return min(math.prod(self.latent_shape(height, width)) // 2, self.budget(height, width))

    def transmit(self, image: "Tensor", snr_db: float | None = None) -> Transmission:
        """``[3, H, W]`` in [0, 1] -> analog stream (unit mean energy) + ``{height, width}``.

        ``snr_db``: what the encoder is told (the design SNR); ignored by single-SNR networks."""
        import torch

        from ..signal import Stream

        h, w = image.shape[-2:]
        budget = self.budget(h, w)
        if budget < 1:
            raise InvalidInput(f"a {w}x{h} image leaves no channel use for the image at k/n "
                               f"{self.bandwidth:.4g} once the header is sent")
        with torch.no_grad():
            symbols, _ = self.network.encode(image.unsqueeze(0).to(self.device), snr_db, self.channels)
        s = puncture(symbols[0], min(budget, symbols.shape[1]))
        if self.interleave:
            s = s.new_empty(s.shape).index_copy_(0, spreading_positions(s.numel()), s)
        return Transmission(Stream(s.cpu(), "analog"), {"height": int(h), "width": int(w)}, HEADER_BITS)

    def receive(self, stream: "ReceivedStream", header: dict[str, Any], snr_db: float | None = None) -> "Tensor":
        """Noisy stream + ``{height, width}`` -> image ``[3, H, W]`` (unsent values read as zeros).

        ``snr_db``: the channel SNR the decoder is told (ignored by single-SNR networks)."""
        import torch

        h, w = int(header["height"]), int(header["width"])
        shape = self.latent_shape(h, w)
        full = math.prod(shape) // 2
        expected = self.symbols(h, w)
        if stream.symbols.numel() != expected:
            raise InvalidInput(f"the received stream has {stream.symbols.numel()} symbols, which does not match "
                               f"the header ({w}x{h} at k/n {self.bandwidth:.4g} sends {expected})")
        with torch.no_grad():
            order = spreading_positions(expected) if self.interleave else slice(None)
            if getattr(self.network, "csi", False):  # LMMSE symbols + each one's error variance
                x_hat, var = stream.lmmse()
                x_hat, var = x_hat[order], var[order]
                y = depuncture(x_hat, full).unsqueeze(0).to(self.device)
                v = depuncture(var, full, fill=1.0).unsqueeze(0).to(self.device)
                image = self.network.decode(y, shape, (h, w), snr_db, noise_var=v)
            else:
                y = depuncture(stream.equalized()[order], full).unsqueeze(0).to(self.device)
                image = self.network.decode(y, shape, (h, w), snr_db)
        return image[0].cpu()

    def forward(self, x: "Tensor", snr_db: "Tensor | float", channel: "Channel",
                generator: "Any | None" = None) -> "Tensor":
        """The training path: ``[B, 3, H, W]`` -> encoder -> ``channel`` at ``snr_db`` (a float or
        one per sample, ``[B]``) -> MMSE equaliser -> decoder -> ``[B, 3, H, W]``; differentiable.
        Every latent value is sent (training crops are multiples of the downsampling)."""
        import torch

        from ..channel import mmse_equalize, noise_variance
        from ..equalization import lmmse

        s, shape = self.network.encode(x, snr_db, self.channels)
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=s.device).reshape(-1, 1)
        y, h = channel(s, snr, generator)
        if getattr(self.network, "csi", False):  # exactly what receive() gives it at run time
            x_hat, var = lmmse(y, h, noise_variance(snr))
            return self.network.decode(x_hat, shape, x.shape[-2:], snr_db, noise_var=var)
        return self.network.decode(mmse_equalize(y, h, noise_variance(snr)), shape, x.shape[-2:], snr_db)
