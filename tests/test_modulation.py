import itertools

import pytest
import torch

from semcodec.phy.modulation import MODULATIONS


@pytest.mark.parametrize("name", list(MODULATIONS))
def test_constellation_has_unit_mean_energy_and_gray_labels(name):
    m = MODULATIONS[name]
    bps = m.bits_per_symbol
    labels = torch.tensor(list(itertools.product([0, 1], repeat=bps)))
    points = m.modulate(labels.reshape(-1))
    assert len(set(points.tolist())) == 2 ** bps
    assert points.abs().square().mean().item() == pytest.approx(1.0, abs=1e-6)
    # Gray: nearest neighbours differ in exactly one bit.
    d = (points[:, None] - points[None]).abs()
    d.fill_diagonal_(float("inf"))
    dmin = d.min()
    for i, j in zip(*torch.nonzero(d < dmin * 1.01, as_tuple=True)):
        assert (labels[i] != labels[j]).sum() == 1


@pytest.mark.parametrize("name", list(MODULATIONS))
def test_demap_recovers_bits_and_llr_sign(name):
    m = MODULATIONS[name]
    bits = torch.randint(0, 2, (600 * m.bits_per_symbol,), generator=torch.Generator().manual_seed(0))
    llr = m.demap(m.modulate(bits), 1e-3)
    assert torch.equal((llr < 0).long(), bits)  # positive LLR = bit 0


def test_demap_with_fading_equalises():
    m = MODULATIONS["16qam"]
    bits = torch.randint(0, 2, (4000,), generator=torch.Generator().manual_seed(1))
    x = m.modulate(bits)
    h = torch.polar(torch.full(x.shape, 0.3), torch.linspace(0, 6, x.numel()))
    llr = m.demap(h * x, 1e-4, fading=h)
    assert torch.equal((llr < 0).long(), bits)
