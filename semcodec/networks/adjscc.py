"""An SNR- and rate-adaptive deep JSCC network: one model for every SNR and two bandwidths.

Why this shape: the 2019 deep-JSCC autoencoder needs one checkpoint per SNR and tops out near
31.5 dB on a noiseless channel. This network keeps its cheap convolutional layout (so it trains
on two CPU cores) but (1) is wider and residual at the 1/4 resolution where most of the
modelling happens, (2) conditions every block on the channel SNR with ADJSCC's attention
module (global pool, concatenate SNR and rate, two small FC layers, sigmoid channel scales) so
one model serves -5…20 dB, and (3) does rate adaptation by channel masking (as SwinJSCC does):
the encoder produces ``c_max`` latent channels ordered by importance; a bandwidth ratio
``k/n = c/96`` sends the first ``c`` of them and the decoder sees zeros for the rest.

Shapes: an image ``[B, 3, H, W]`` (H, W multiples of 4 after padding) becomes a latent
``[B, c, H/4, W/4]``; consecutive real values pair into ``c*H*W/32`` complex symbols per image.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: Spatial downsampling of the encoder; images are padded to a multiple of this.
DOWNSAMPLE = 4
#: SNR normalisation for the attention modules' input (dB / SNR_SCALE_DB).
SNR_SCALE_DB = 20.0


class SnrAttention(nn.Module):
    """ADJSCC's attention feature module: channel scales from (pooled features, SNR, rate).

    ``x [B, C, h, w]``, ``cond [B, 2]`` (SNR / 20 dB, k/n * 12) -> ``x * sigmoid(MLP)``.
    """

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or max(16, channels // 4)
        self.fc1 = nn.Linear(channels + 2, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        pooled = x.mean(dim=(2, 3))
        a = torch.sigmoid(self.fc2(F.relu(self.fc1(torch.cat([pooled, cond], dim=1)))))
        return x * a[:, :, None, None]


class ResBlock(nn.Module):
    """Two 3x3 convolutions with PReLU and an identity skip, then SNR attention."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.att = SnrAttention(channels)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        return self.att(x + self.conv2(self.act(self.conv1(x))), cond)


class AdaptiveJSCC(nn.Module):
    """Encoder/decoder pair; ``encode`` gives channel symbols, ``decode`` an image in [0, 1].

    Args:
        c_max: latent channels at the largest bandwidth ratio (``c_max/96``; 16 -> 1/6).
        width: feature channels at 1/4 resolution (half of it at 1/2 resolution).
        blocks: residual blocks on each side at 1/4 resolution.
        csi: the decoder also takes each received value's reliability — the post-equalisation
            error variance ``v`` of its symbol (:func:`semcodec.equalization.lmmse`), as
            ``log10(1/v) / 2`` in ``c_max`` extra input channels (0 where nothing was sent) —
            so on fading it knows which symbols a deep fade buried. ``False``: the AWGN model,
            told only the mean SNR.
    """

    def __init__(self, c_max: int = 16, width: int = 64, blocks: int = 2, csi: bool = False) -> None:
        super().__init__()
        self.c_max, self.width, self.blocks, self.csi = c_max, width, blocks, bool(csi)
        half = width // 2
        self.e1 = nn.Sequential(nn.Conv2d(3, half, 5, 2, 2), nn.PReLU(half))
        self.e1_att = SnrAttention(half)
        self.e2 = nn.Sequential(nn.Conv2d(half, width, 5, 2, 2), nn.PReLU(width))
        self.e2_att = SnrAttention(width)
        self.e_blocks = nn.ModuleList(ResBlock(width) for _ in range(blocks))
        self.e_out = nn.Conv2d(width, c_max, 3, 1, 1)

        self.d_in = nn.Sequential(nn.Conv2d(c_max * (2 if self.csi else 1), width, 3, 1, 1), nn.PReLU(width))
        self.d_in_att = SnrAttention(width)
        self.d_blocks = nn.ModuleList(ResBlock(width) for _ in range(blocks))
        self.d2 = nn.Sequential(nn.ConvTranspose2d(width, half, 5, 2, 2, output_padding=1), nn.PReLU(half))
        self.d2_att = SnrAttention(half)
        self.d1 = nn.ConvTranspose2d(half, 3, 5, 2, 2, output_padding=1)

    downsample = DOWNSAMPLE

    @property
    def max_channels(self) -> int:
        return self.c_max

    def architecture(self) -> dict:
        """The constructor arguments, as stored in a checkpoint's card."""
        arch = {"c_max": self.c_max, "width": self.width, "blocks": self.blocks}
        return {**arch, "csi": True} if self.csi else arch

    @staticmethod
    def condition(snr_db: Tensor | float, c: int, batch: int, device) -> Tensor:
        """``[B, 2]`` conditioning input: SNR/20 dB and the bandwidth ratio times 12."""
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=device).reshape(-1)
        snr = snr.expand(batch) if snr.numel() == 1 else snr
        rate = torch.full((batch,), c / 96 * 12, device=device)
        return torch.stack([snr / SNR_SCALE_DB, rate], dim=1)

    @staticmethod
    def pad(x: Tensor) -> Tensor:
        """Pad ``[B, 3, H, W]`` (replicate) so H and W are multiples of :data:`DOWNSAMPLE`."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % DOWNSAMPLE, (-w) % DOWNSAMPLE
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def latent(self, x: Tensor, snr_db: Tensor | float, c: int) -> Tensor:
        """``[B, 3, H, W]`` in [0, 1] -> real latent ``[B, c, H/4, W/4]`` (not yet normalised)."""
        cond = self.condition(snr_db, c, x.shape[0], x.device)
        h = self.e1_att(self.e1(self.pad(x) - 0.5), cond)
        h = self.e2_att(self.e2(h), cond)
        for block in self.e_blocks:
            h = block(h, cond)
        return self.e_out(h)[:, :c]

    def encode(self, x: Tensor, snr_db: Tensor | float, c: int) -> tuple[Tensor, tuple[int, int, int]]:
        """Image -> (complex symbols ``[B, c*h*w/2]`` of unit mean energy per image, (c, h, w))."""
        from .deep_jscc import power_normalize

        z = self.latent(x, snr_db, c)
        return power_normalize(z), tuple(z.shape[1:])

    def decode(self, s: Tensor, latent_shape: tuple[int, int, int], size: tuple[int, int],
               snr_db: Tensor | float, noise_var: Tensor | None = None) -> Tensor:
        """Equalised symbols ``[B, n]`` -> image ``[B, 3, H, W]`` cropped to ``size``.

        ``noise_var [B, n]``: each symbol's post-equalisation error variance (required by a
        ``csi`` model, ignored otherwise)."""
        c, h, w = latent_shape

        def masked(t: Tensor) -> Tensor:  # channel masking: the unsent channels are zeros
            return F.pad(t, (0, 0, 0, 0, 0, self.c_max - c)) if c < self.c_max else t

        z = masked(torch.view_as_real(s).reshape(s.shape[0], c, h, w))
        if self.csi:
            if noise_var is None:
                raise ValueError("this adjscc model takes per-symbol noise variances (csi=True)")
            r = torch.log10(1.0 / noise_var.real.float().clamp(1e-6, 1.0)) / 2
            r = r.repeat_interleave(2, dim=-1).reshape(s.shape[0], c, h, w).to(z.dtype)
            z = torch.cat([z, masked(r)], dim=1)
        cond = self.condition(snr_db, c, s.shape[0], s.device)
        y = self.d_in_att(self.d_in(z), cond)
        for block in self.d_blocks:
            y = block(y, cond)
        y = self.d2_att(self.d2(y), cond)
        x = torch.sigmoid(self.d1(y))
        return x[..., : size[0], : size[1]]


def latent_channels(ratio: float, c_max: int) -> int:
    """Latent channels sent for bandwidth ratio ``ratio`` (k/n = c/96, c even and <= c_max)."""
    c = round(ratio * 96)
    if c < 2 or c % 2 or c > c_max or not math.isclose(c / 96, ratio, rel_tol=0.02):
        raise ValueError(
            f"bandwidth ratio {ratio:g} is not c/96 for an even c <= {c_max} "
            f"(this model serves 1/48 … {c_max}/96)"
        )
    return c
