import math

import pytest
import torch

from semcodec.channel import AWGNChannel, NoiselessChannel, RayleighChannel, check_snr, noise_variance
from semcodec.errors import InvalidInput
from semcodec.signal import Signal, Stream


def unit_symbols(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.view_as_complex(torch.randn(n, 2, generator=g) / math.sqrt(2))
    return x / x.abs().square().mean().sqrt()


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_awgn_realised_snr_matches_definition(snr_db):
    x = unit_symbols(1_000_000)
    y, h = AWGNChannel()(x, snr_db, torch.Generator().manual_seed(1))
    assert h is None
    noise = y - x
    measured = 10 * math.log10(x.abs().square().mean().item() / noise.abs().square().mean().item())
    assert abs(measured - snr_db) < 0.05
    # Circular: half the noise power in each real dimension.
    assert abs(noise.real.var().item() / noise.imag.var().item() - 1) < 0.01


def test_rayleigh_average_snr_and_unit_fading_power():
    x = unit_symbols(1_000_000)
    y, h = RayleighChannel(coherence=1)(x, 3.0, torch.Generator().manual_seed(2))
    assert abs(h.abs().square().mean().item() - 1) < 0.01
    noise = y - h * x
    measured = 10 * math.log10((h * x).abs().square().mean().item() / noise.abs().square().mean().item())
    assert abs(measured - 3.0) < 0.05


def test_rayleigh_block_fading_is_constant_within_a_block():
    _, h = RayleighChannel(coherence=100)(unit_symbols(1000), 10.0, torch.Generator().manual_seed(0))
    blocks = h.reshape(10, 100)
    assert torch.allclose(blocks, blocks[:, :1].expand(-1, 100))
    assert not torch.allclose(blocks[0, 0], blocks[1, 0])


def test_transmit_is_seeded_and_streams_are_independent():
    sig = Signal({"a": Stream(unit_symbols(1000), "analog"), "b": Stream(unit_symbols(1000, 1), "analog")})
    r1 = AWGNChannel().transmit(sig, 5.0, seed=7)
    r2 = AWGNChannel().transmit(sig, 5.0, seed=7)
    r3 = AWGNChannel().transmit(sig, 5.0, seed=8)
    assert torch.equal(r1.streams["a"].symbols, r2.streams["a"].symbols)
    assert not torch.equal(r1.streams["a"].symbols, r3.streams["a"].symbols)
    assert r1.streams["a"].noise_var == pytest.approx(noise_variance(5.0))


def test_noiseless_channel_is_identity():
    x = unit_symbols(100)
    y, _ = NoiselessChannel()(x, 0.0)
    assert torch.equal(x, y)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "abc", "", "1e9"])
def test_bad_snr_is_rejected(bad):
    with pytest.raises(InvalidInput):
        check_snr(bad)
