"""OFDM over 38.901 TDL multipath (Sionna's models): the channel every codec can be sent over."""

from __future__ import annotations

import math

import pytest
import torch

from semcodec.channel import parse_channel_spec
from semcodec.errors import SemcodecError


def _symbols(n: int, seed: int = 0) -> torch.Tensor:
    return torch.view_as_complex(torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * math.sqrt(0.5))


@pytest.mark.parametrize("model", ["A", "C", "D"])
def test_a_tdl_profiles_power_is_one_and_the_grid_has_unit_mean_energy(model):
    from semcodec.ofdm import _tdl

    tdl = _tdl(model, 100e-9, 3.5e9, 3.0)
    assert float(tdl.mean_powers.sum()) == pytest.approx(1.0, abs=1e-3)
    chan = parse_channel_spec(f"ofdm-tdl:model={model}")
    _, h = chan(_symbols(256 * 40), 60.0, torch.Generator().manual_seed(1))
    assert h.abs().square().mean().item() == pytest.approx(1.0, abs=1e-3)


def test_without_noise_the_receiver_gets_the_symbols_back_exactly_and_h_is_sionnas():
    """y = H x element by element: dividing by the applied response returns x; and the response is
    what Sionna's TDL + cir_to_ofdm_channel give for the same seed."""
    from sionna.phy import config
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

    from semcodec.ofdm import _tdl

    chan = parse_channel_spec("ofdm-tdl:model=B,speed=30")
    x = _symbols(256 * 12 + 100)
    gen = torch.Generator().manual_seed(5)
    y, h = chan(x, 300.0, gen)  # 300 dB: no noise to speak of
    assert torch.allclose(y / h, x, atol=1e-4)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(5)).item())
    config.seed = seed
    a, tau = _tdl("B", 100e-9, 3.5e9, 30.0)(1, 13, 1.0 / chan.symbol_duration)
    ref = cir_to_ofdm_channel(subcarrier_frequencies(256, 30e3), a, tau, normalize=True).reshape(-1)[: x.numel()]
    assert torch.allclose(h, ref.to(torch.complex64), atol=1e-5)


def test_a_short_delay_spread_is_flat_over_the_band_and_a_long_one_is_not():
    flat = parse_channel_spec("ofdm-tdl:model=A,delay_spread=1,speed=0")
    _, h = flat(_symbols(256 * 4), 60.0, torch.Generator().manual_seed(2))
    row = h[:256].abs()
    assert (row.max() / row.min()).item() < 1.05  # one fade over the whole band
    selective = parse_channel_spec("ofdm-tdl:model=A,delay_spread=300,cp=64")
    _, h = selective(_symbols(256 * 4), 60.0, torch.Generator().manual_seed(2))
    assert (h[:256].abs().max() / h[:256].abs().min()).item() > 3  # frequency-selective fades


def test_a_cyclic_prefix_shorter_than_the_channel_is_refused_and_bad_specs_are_one_line():
    for bad in ("ofdm-tdl:delay_spread=3000", "ofdm-tdl:model=F", "ofdm-tdl:fft=8", "ofdm-tdl:scs=abc",
                "ofdm-tdl:model=A,model=B"):
        with pytest.raises(SemcodecError):
            parse_channel_spec(bad)
    chan = parse_channel_spec("ofdm-tdl:model=A,delay_spread=30")
    assert chan.label == "ofdm-tdl:delay_spread=30,model=A"
    assert chan.describe()["cp_overhead"] == pytest.approx(18 / 256, abs=1e-6)


def test_the_channel_is_seeded():
    chan = parse_channel_spec("ofdm-tdl")
    x = _symbols(3000)
    y1, h1 = chan(x, 10.0, torch.Generator().manual_seed(9))
    y2, h2 = chan(x, 10.0, torch.Generator().manual_seed(9))
    _, h3 = chan(x, 10.0, torch.Generator().manual_seed(10))
    assert torch.equal(y1, y2) and torch.equal(h1, h2) and not torch.equal(h1, h3)
