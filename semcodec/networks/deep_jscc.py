"""The deep JSCC autoencoder of Bourtsoulatze, Kurka and Gündüz (IEEE TCCN 2019).

Encoder: five 5x5 convolutions (16 filters stride 2, 32 stride 2, 32, 32, c), each followed by
PReLU, then per-image power normalisation; the latent *is* the channel input. Decoder: the
mirrored transposed convolutions ending in a sigmoid. With the 4x spatial downsampling, an
image of ``3*H*W`` real values becomes ``c*H*W/32`` complex symbols, so ``k/n = c/96``
(c = 8 -> 1/12, c = 16 -> 1/6).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: Spatial downsampling of the encoder; images are padded to a multiple of this.
DOWNSAMPLE = 4


def channels_for_ratio(ratio: float) -> int:
    """Latent channels ``c`` giving bandwidth ratio ``ratio`` (k/n = c/96); must be even."""
    c = round(ratio * 96)
    if c < 2 or c % 2 or not math.isclose(c / 96, ratio, rel_tol=0.02):
        raise ValueError(f"bandwidth ratio {ratio:g} is not c/96 for an even c")
    return c


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 5, stride, 2), nn.PReLU(cout))


def _deconv(cin: int, cout: int, stride: int, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 5, stride, 2, output_padding=stride - 1), act
    )


def power_normalize(z: Tensor) -> Tensor:
    """Real latent ``[B, c, h, w]`` -> complex symbols ``[B, c*h*w/2]`` of unit mean energy.

    Consecutive real values form one complex symbol; each image is scaled on its own so that
    ``mean(|s|^2) = 1`` (the transmitter's average power constraint).
    """
    b = z.shape[0]
    s = torch.view_as_complex(z.reshape(b, -1, 2).float().contiguous())
    energy = s.abs().square().mean(dim=1, keepdim=True)
    return s / torch.sqrt(energy.clamp_min(1e-12))


def symbols_to_latent(s: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """Inverse of the pairing in :func:`power_normalize`: ``[B, n]`` complex -> ``[B, c, h, w]``."""
    return torch.view_as_real(s).reshape(s.shape[0], *shape)


class DeepJSCC(nn.Module):
    """The autoencoder; ``encode`` gives channel symbols, ``decode`` an image in [0, 1].

    Args:
        c: latent channels (sets the bandwidth ratio c/96).
    """

    downsample = DOWNSAMPLE

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.c = c
        self.encoder = nn.Sequential(
            _conv(3, 16, 2), _conv(16, 32, 2), _conv(32, 32, 1), _conv(32, 32, 1), _conv(32, c, 1)
        )
        self.decoder = nn.Sequential(
            _deconv(c, 32, 1, nn.PReLU(32)),
            _deconv(32, 32, 1, nn.PReLU(32)),
            _deconv(32, 32, 1, nn.PReLU(32)),
            _deconv(32, 16, 2, nn.PReLU(16)),
            _deconv(16, 3, 2, nn.Sigmoid()),
        )

    @staticmethod
    def pad(x: Tensor) -> Tensor:
        """Pad ``[B, 3, H, W]`` (replicate) so H and W are multiples of :data:`DOWNSAMPLE`."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % DOWNSAMPLE, (-w) % DOWNSAMPLE
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    @property
    def max_channels(self) -> int:
        return self.c

    def encode(self, x: Tensor, snr_db: Tensor | float | None = None,
               c: int | None = None) -> tuple[Tensor, tuple[int, int, int]]:
        """``[B, 3, H, W]`` in [0, 1] -> (complex symbols ``[B, n]``, latent shape (c, h, w)).

        ``snr_db`` and ``c`` are accepted for the links' common interface and ignored: this
        network was trained for one SNR and sends all its latent channels."""
        z = self.encoder(self.pad(x) - 0.5)
        return power_normalize(z), tuple(z.shape[1:])

    def decode(self, s: Tensor, latent_shape: tuple[int, int, int], size: tuple[int, int],
               snr_db: Tensor | float | None = None) -> Tensor:
        """Noisy symbols ``[B, n]`` -> image ``[B, 3, H, W]`` cropped to ``size``."""
        x = self.decoder(symbols_to_latent(s, latent_shape))
        return x[..., : size[0], : size[1]]
