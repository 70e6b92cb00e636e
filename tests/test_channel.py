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
    from semcodec.channel import parse_channel_spec

    chan = parse_channel_spec(f"rician:K={k:g},coherence=1")
    _, h = chan(torch.ones(400_000, dtype=torch.complex64), 60.0, torch.Generator().manual_seed(3))
    p = h.abs().square().double()
    assert abs(p.mean().item() - 1) < 0.01
    # moments of |h|^2 for Rician with E|h|^2 = 1: Var = (2K + 1) / (K + 1)^2
    gamma = p.var().item()
    k_hat = (1 - gamma + math.sqrt(max(0.0, 1 - gamma))) / gamma if gamma < 1 else 0.0
    assert abs(k_hat - k) < 0.08 * (k + 1)


def test_channel_specs_are_typed_and_their_label_is_canonical():
    from semcodec.channel import parse_channel_spec
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


@pytest.mark.parametrize("spec", ["rayleigh:csi=estimated", "rician:K=3,csi=estimated,pilots=4",
                                  "rayleigh:coherence=64,csi=estimated,pilots=8", "ofdm-tdl:csi=estimated"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 30.0])
def test_estimated_csi_error_is_what_the_receiver_is_told(spec, snr_db):
    """The receiver equalises with h_hat and the variance effective_noise_var(N0): what remains,
    y - h_hat x, must have exactly that variance (N0 plus the LS estimation error), and at high
    SNR h_hat approaches the true channel (the error shrinks with N0)."""
    from semcodec.channel import parse_channel_spec

    ch = parse_channel_spec(spec)
    x = unit_symbols(60_000, seed=3)
    y, h_hat = ch(x, snr_db, torch.Generator().manual_seed(4))
    measured = (y - h_hat * x).abs().square().mean().item()
    told = ch.effective_noise_var(noise_variance(snr_db))
    assert told > noise_variance(snr_db)
    # OFDM's time interpolation adds a little model error at 3 m/s; it shows only where noise is tiny
    assert abs(measured / told - 1) < (0.08 if snr_db < 30 or "ofdm" not in spec else 0.5)


def test_estimated_csi_at_high_snr_approaches_perfect_csi():
    """LS over 16 pilots: the estimate's error is N0/16, so it vanishes as the SNR grows."""
    from semcodec.channel import parse_channel_spec

    g = torch.Generator().manual_seed(5)
    x = torch.polar(torch.ones(64_000), torch.randint(0, 4, (64_000,), generator=g) * (math.pi / 2) + math.pi / 4)
    for snr_db in (0.0, 20.0, 40.0):
        y, h_hat = parse_channel_spec("rayleigh:csi=estimated")(x, snr_db, torch.Generator().manual_seed(6))
        n0 = noise_variance(snr_db)
        # y / x = h + n / x with |x| = 1: what is left beyond N0 is h_hat's own error
        error = (h_hat - y / x).abs().square().mean().item() - n0
        assert abs(error / (n0 / 16) - 1) < 0.15, (snr_db, error)


def test_pilots_are_channel_uses_counted_in_the_budget_and_the_record():
    from semcodec.codecs.bpg_ldpc import BpgLdpcCodec
    from semcodec.channel import parse_channel_spec
    from semcodec.sample import sample_image

    image = sample_image()
    budget = math.floor(3 * image.shape[1] * image.shape[2] / 12)
    for spec in ("rayleigh:csi=estimated", "ofdm-tdl:csi=estimated", "rayleigh"):
        rec = BpgLdpcCodec().run(image, snr_db=12.0, channel=parse_channel_spec(spec), seed=0).record
        pilots = sum(s.get("pilots", 0) for s in rec["streams"].values())
        assert rec.get("pilot_uses", 0) == pilots
        assert rec["channel_uses"] == sum(s["channel_uses"] for s in rec["streams"].values()) <= budget
        if "estimated" in spec:
            data = rec["streams"]["image"]["channel_uses"] - pilots
            assert pilots == parse_channel_spec(spec).pilot_uses(data) > 0
            assert rec["status"] == "ok" and rec["metrics"]["psnr"] > 25
        else:
            assert pilots == 0 and "pilot_uses" not in rec


def test_estimated_csi_needs_room_for_data_and_a_channel_with_fades():
    from semcodec.channel import parse_channel_spec

    with pytest.raises(InvalidInput, match="no room for data"):
        parse_channel_spec("rayleigh:coherence=16,csi=estimated")
    with pytest.raises(InvalidInput, match="csi must be one of"):
        parse_channel_spec("rayleigh:csi=guessed")
    with pytest.raises(InvalidInput, match="unknown parameter 'csi'"):
        parse_channel_spec("awgn:csi=estimated")


def test_the_csi_flag_sets_the_channels_csi_or_says_in_one_line_why_not(tmp_path):
    from conftest import run_cli

    for args, needle in ((["--channel", "awgn", "--csi", "estimated"], "no channel state to estimate"),
                         (["--channel", "rayleigh-fast", "--csi", "estimated"], "no channel state to estimate"),
                         (["--channel", "rayleigh", "--csi", "maybe"], "--csi must be perfect or estimated"),
                         (["--channel", "rayleigh:csi=perfect", "--csi", "estimated"], "give one")):
        r = run_cli("encode", "--codec", "bpg-ldpc", "--snr", "10", *args)
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    out = tmp_path / "r.jsonl"
    r = run_cli("encode", "--codec", "deep-jscc", "--snr", "10", "--channel", "rician:K=3", "--csi", "estimated",
                "--json")
    assert r.returncode == 0, r.stderr[-400:]
    import json

    rec = json.loads(r.stdout)
    assert rec["channel"] == "rician:csi=estimated" and rec["channel_params"]["csi"] == "estimated"
    assert rec["pilot_uses"] == rec["streams"]["image"]["pilots"] > 0
    assert rec["bandwidth_ratio"] <= 1 / 12 + 1e-9 and out is not None
    # tx and rx split: a saved signal decodes to the same picture (the receiver knows the pilots)
    sig, a, b = tmp_path / "s.npz", tmp_path / "a.png", tmp_path / "b.png"
    r = run_cli("encode", "--codec", "adjscc", "--snr", "5", "--channel", "ofdm-tdl", "--csi", "estimated",
                "--save-signal", sig, "-o", a)
    assert r.returncode == 0, r.stderr[-400:]
    r = run_cli("decode", sig, "-o", b)
    assert r.returncode == 0, r.stderr[-400:]
    from semcodec.imageio import load_image

    assert torch.equal(load_image(a), load_image(b))
