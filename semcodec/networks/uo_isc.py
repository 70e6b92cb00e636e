"""UO-ISC's trainable parts (Huang & Wong, GLOBECOM 2025): query-aligned token features,
segment-wise vector quantisation, and the query-conditioned convolutional decoder.

The frozen CLIPSeg towers are *not* in this module (they are a pretrained component,
:mod:`semcodec.models.clipseg`); this module sees their outputs:

- ``hidden`` : ``L`` vision hidden states ``[B, T, H]`` (``T = 1 + g²`` tokens: CLS + a ``g x g``
  patch grid), one per extracted layer;
- ``text``   : the query's CLIP text embedding ``[B, E]``.

Transmitter: each layer is projected ``H -> D`` (``reduce_dim``) and, with alignment on,
modulated by the query (FiLM: ``(1 + gamma(t)) h + beta(t)``); every token vector is split
into ``D / group`` segments, L2-normalised, and each segment replaced by the index of its nearest
code in that (layer, segment)'s codebook of ``K`` entries. Payload: ``L x T x D/group`` indices
of ``log2 K`` bits. Receiver: indices -> codes -> per-layer token grids -> transposed-conv
upsampling (k4 s2, InstanceNorm, LeakyReLU 0.2) to ``g * 2^levels`` pixels, each further layer
entering through a skip path, the query modulating the first block; a 3x3 head gives RGB.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class FiLM(nn.Module):
    """``(1 + gamma(t)) * h + beta(t)``; starts as the identity (zero-initialised)."""

    def __init__(self, text_dim: int, dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(text_dim, 2 * dim)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, h: Tensor, text: Tensor) -> Tensor:
        gamma, beta = self.lin(text).chunk(2, dim=-1)
        shape = (h.shape[0],) + (1,) * (h.dim() - 2) + (h.shape[-1],)
        return h * (1 + gamma.reshape(shape)) + beta.reshape(shape)


class SegmentVQ(nn.Module):
    """One codebook of ``size`` entries per (layer, segment of ``group`` dims); cosine nearest code.

    ``forward(z [B, L, T, D]) -> (z_q [B, L, T, D], indices [B, L, T, D/group], loss)``: codebook
    term + 0.25 x commitment term on the L2-normalised segments, straight-through gradient."""

    def __init__(self, layers: int, dim: int, group: int = 32, size: int = 64) -> None:
        super().__init__()
        if dim % group:
            raise ValueError(f"reduce_dim {dim} is not a multiple of the segment size {group}")
        self.layers, self.dim, self.group, self.size = layers, dim, group, size
        self.codebooks = nn.Parameter(F.normalize(torch.randn(layers, dim // group, size, group), dim=-1))

    @property
    def bits_per_index(self) -> int:
        return int(math.ceil(math.log2(self.size)))

    def _segments(self, z: Tensor) -> Tensor:
        b, l, t, _ = z.shape
        return F.normalize(z.reshape(b, l, t, self.dim // self.group, self.group), dim=-1)

    def lookup(self, indices: Tensor) -> Tensor:
        """``[B, L, T, G]`` indices -> ``[B, L, T, D]`` (normalised) codes."""
        cb = F.normalize(self.codebooks, dim=-1)  # [L, G, K, g]
        b, l, t, g = indices.shape
        layer = torch.arange(l, device=indices.device).view(1, l, 1, 1).expand_as(indices)
        seg = torch.arange(g, device=indices.device).view(1, 1, 1, g).expand_as(indices)
        return cb[layer, seg, indices].reshape(b, l, t, g * self.group)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        zn = self._segments(z)
        cb = F.normalize(self.codebooks, dim=-1)
        indices = torch.einsum("bltgd,lgkd->bltgk", zn, cb).argmax(-1)
        q = self.lookup(indices).reshape(zn.shape)
        loss = F.mse_loss(q, zn.detach()) + 0.25 * F.mse_loss(zn, q.detach())
        q_st = zn + (q - zn).detach()
        return q_st.reshape(z.shape), indices, loss


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.InstanceNorm2d(cout, affine=True),
                         nn.LeakyReLU(0.2))


class Decoder(nn.Module):
    """Token grids of ``L`` layers + the query -> image ``[B, 3, g 2^levels, g 2^levels]``."""

    def __init__(self, layers: int, dim: int, text_dim: int, levels: int = 4, width: int = 64) -> None:
        super().__init__()
        top = width * 2 ** (levels - 1)
        self.stem = nn.Sequential(nn.Conv2d(dim, top, 3, 1, 1), nn.LeakyReLU(0.2))
        self.cls = nn.Linear(layers * dim, top)
        self.film = FiLM(text_dim, top)
        chans = [top // 2 ** i for i in range(levels + 1)]  # top, top/2, ..., width/2
        self.skips = nn.ModuleList(nn.Conv2d(dim, chans[i], 1) for i in range(min(layers - 1, levels)))
        self.ups = nn.ModuleList(_up(chans[i], chans[i + 1]) for i in range(levels))
        self.head = nn.Conv2d(chans[-1], 3, 3, 1, 1)

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        b, l, t, d = z.shape
        g = int(round(math.sqrt(t - 1)))
        grids = z[:, :, 1:].reshape(b, l, g, g, d).permute(0, 1, 4, 2, 3)  # [B, L, D, g, g]
        # the deepest layer feeds the stem; the others enter through skip paths on the way up
        x = self.stem(grids[:, -1]) + self.cls(z[:, :, 0].reshape(b, l * d))[:, :, None, None]
        x = self.film(x.permute(0, 2, 3, 1), text).permute(0, 3, 1, 2)
        for i, up in enumerate(self.ups):
            if i < len(self.skips):
                skip = self.skips[i](grids[:, l - 2 - i])
                x = x + F.interpolate(skip, size=x.shape[-2:], mode="nearest")
            x = up(x)
        return torch.sigmoid(self.head(x))


class UoIscNet(nn.Module):
    """Projection + FiLM alignment, segment-wise VQ, decoder (everything UO-ISC trains).

    Args:
        hidden: the vision tower's width (768 for CLIPSeg ViT-B/16).
        text_dim: the query embedding's width (512 for CLIPSeg).
        layers: number of extracted hidden states ``L``.
        reduce_dim: ``D``, per-token width after projection.
        group, codebook: segment size and codebook entries (``log2`` bits per index).
        levels, width: decoder upsampling levels (x2 each) and channels at full resolution x 2.
        align: modulate the features by the query (the paper's text alignment; off for the ablation).
    """

    def __init__(self, hidden: int, text_dim: int, layers: int = 4, reduce_dim: int = 64, group: int = 32,
                 codebook: int = 64, levels: int = 4, width: int = 64, align: bool = True) -> None:
        super().__init__()
        self.config = {"hidden": hidden, "text_dim": text_dim, "layers": layers, "reduce_dim": reduce_dim,
                       "group": group, "codebook": codebook, "levels": levels, "width": width, "align": align}
        self.align = align
        self.proj = nn.ModuleList(nn.Linear(hidden, reduce_dim) for _ in range(layers))
        self.film = nn.ModuleList(FiLM(text_dim, reduce_dim) for _ in range(layers))
        self.vq = SegmentVQ(layers, reduce_dim, group, codebook)
        self.decoder = Decoder(layers, reduce_dim, text_dim, levels, width)

    def architecture(self) -> dict:
        return dict(self.config)

    def features(self, hidden: list[Tensor], text: Tensor) -> Tensor:
        """``L x [B, T, H]`` -> ``[B, L, T, D]`` (query-modulated when ``align``)."""
        out = []
        for proj, film, h in zip(self.proj, self.film, hidden):
            z = proj(h)
            out.append(film(z, text) if self.align else z)
        return torch.stack(out, dim=1)

    def encode(self, hidden: list[Tensor], text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> ``(z_q, indices [B, L, T, G], vq_loss)``."""
        return self.vq(self.features(hidden, text))

    def decode(self, indices: Tensor, text: Tensor) -> Tensor:
        """Received indices + the query -> image ``[B, 3, S, S]`` in [0, 1]."""
        return self.decoder(self.vq.lookup(indices), text)

    def forward(self, hidden: list[Tensor], text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Training path: ``(image, indices, vq_loss)`` with straight-through codes."""
        z_q, indices, vq_loss = self.encode(hidden, text)
        return self.decoder(z_q, text), indices, vq_loss


class PatchDiscriminator(nn.Module):
    """PatchGAN critic with spectral norm (64-128-256-512-1), for phase 2's WGAN-GP."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        chans = [3, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [sn(nn.Conv2d(chans[i], chans[i + 1], 4, 2 if i < 3 else 1, 1)), nn.LeakyReLU(0.2)]
        layers.append(sn(nn.Conv2d(chans[-1], 1, 4, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x * 2 - 1)
