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


def test_rayleigh_power_follows_the_exponential_law():
    """|h|^2 of Rayleigh fading is Exp(1): mean 1 and a Kolmogorov-Smirnov test that a wrong law fails."""
    from scipy import stats

    from semcodec.channel import RayleighFastChannel

    x = torch.ones(200_000, dtype=torch.complex64)
    _, h = RayleighFastChannel()(x, 60.0, torch.Generator().manual_seed(7))
    p = h.abs().square().numpy()
    assert abs(p.mean() - 1) < 0.01
    assert stats.kstest(p, "expon").pvalue > 1e-3
    assert stats.kstest(p * 1.1, "expon").pvalue < 1e-6  # 0.4 dB too strong: caught


@pytest.mark.parametrize("k", [0.0, 1.0, 3.0, 10.0])
def test_rician_k_is_recovered_from_samples_and_the_mean_power_is_one(k):
    from semcodec.registry import parse_channel_spec

    chan = parse_channel_spec(f"rician:K={k:g},coherence=1")
    _, h = chan(torch.ones(400_000, dtype=torch.complex64), 60.0, torch.Generator().manual_seed(3))
    p = h.abs().square().double()
    assert abs(p.mean().item() - 1) < 0.01
    # moments of |h|^2 for Rician with E|h|^2 = 1: Var = (2K + 1) / (K + 1)^2
    gamma = p.var().item()
    k_hat = (1 - gamma + math.sqrt(max(0.0, 1 - gamma))) / gamma if gamma < 1 else 0.0
    assert abs(k_hat - k) < 0.08 * (k + 1)


def test_channel_specs_are_typed_and_their_label_is_canonical():
    from semcodec.registry import parse_channel_spec
    from semcodec.errors import SemcodecError

    assert parse_channel_spec("rician").label == "rician"
    assert parse_channel_spec("rician:K=3").label == "rician"  # the default is left out
    assert parse_channel_spec(" rician:coherence=256, K=1 ").label == "rician:K=1,coherence=256"
    assert parse_channel_spec("rayleigh:coherence=1024").label == "rayleigh"
    assert parse_channel_spec("rayleigh-fast").coherence == 1
    for bad in ("rician:K=-1", "rician:K=nan", "rician:k=3", "rayleigh:coherence=0", "rayleigh:coherence=1.5",
                "awgn:foo=1", "rayleigh-fast:coherence=4", "rician:K", "nosuch"):
        with pytest.raises(SemcodecError):  # the CLI's one line, exit 2
            parse_channel_spec(bad)


def test_lmmse_error_variance_is_what_the_estimate_actually_makes():
    from semcodec.equalization import lmmse

    g = torch.Generator().manual_seed(0)
    n = 200_000
    x = torch.view_as_complex(torch.randn(n, 2, generator=g) * math.sqrt(0.5))
    h = torch.view_as_complex(torch.randn(n, 2, generator=g) * math.sqrt(0.5))
    n0 = 0.3
    y = h * x + torch.view_as_complex(torch.randn(n, 2, generator=g) * math.sqrt(n0 / 2))
    x_hat, v = lmmse(y, h, n0)
    assert ((x - x_hat).abs().square().mean() / v.mean()).item() == pytest.approx(1.0, abs=0.02)
    _, v_awgn = lmmse(y, None, n0)
    assert torch.allclose(v_awgn, torch.full_like(v_awgn, n0 / (1 + n0)))
