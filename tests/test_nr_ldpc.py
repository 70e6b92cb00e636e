"""5G NR LDPC: Sionna's codes decoded by our kernel, checked against Sionna's own decoder."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semcodec.channel import noise_variance
from semcodec.phy.mcs import (NR_MCS, REGULAR_MCS, capacity_bytes, codeword_plan, deinterleave, frame_symbols,
                              interleave, mcs_from_index, mcs_index, parse_mcs, receive_bytes, transmit_bytes)
from semcodec.phy.nr_ldpc import nr_code


def _bpsk_frames(code, esn0_db: float, frames: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    info = torch.randint(0, 2, (frames, code.k), generator=g, dtype=torch.uint8)
    x = 1.0 - 2.0 * code.encode(info).float()
    n0 = noise_variance(esn0_db)
    y = x + torch.randn(x.shape, generator=g) * math.sqrt(n0 / 2)
    return info, 4.0 * y / n0


def test_every_decoded_word_satisfies_the_standards_parity_checks():
    """Noiseless: the kernel returns the information bits and the graph's checks all hold (the
    code, its rate matching and our expansion of the received bits agree with the encoder)."""
    for k, n in [(4096, 6144), (2048, 6144), (100, 150), (500, 1500)]:
        code = nr_code(k, n)
        info, llr = _bpsk_frames(code, 30.0, 3, seed=k)
        dec, ok, used = code.decode(llr, 20)
        assert torch.equal(dec, info) and ok.all() and (used == 1).all()
        hard = (torch.from_numpy(code.expand(llr.numpy())) < 0).to(torch.uint8)
        z = code.z
        hard[:, : 2 * z] = info[:, : 2 * z]  # the punctured systematic bits, known here
        assert code.syndrome_ok(hard[:, : code.n_pruned]).all()


@pytest.mark.parametrize("k, n", [(4096, 6144), (2048, 6144), (1536, 4608), (5120, 6144), (3072, 3686),
                                  (12, 36), (100, 150), (500, 1500), (3840, 4608), (8448, 9000)])
def test_our_compiled_encoder_gives_sionnas_codewords_bit_for_bit(k, n):
    """Both base graphs, shortened last codewords, the largest k: the numba encoder's rate-matched
    codewords equal Sionna's LDPC5GEncoder's (its own call, not our tables)."""
    code = nr_code(k, n)
    info = torch.randint(0, 2, (5, k), generator=torch.Generator().manual_seed(k), dtype=torch.uint8)
    with torch.no_grad():
        theirs = code.encoder(info.float()).round().to(torch.uint8)
    assert torch.equal(code.encode(info), theirs)


def test_a_cached_code_needs_no_sionna_and_a_damaged_cache_file_is_rebuilt(tmp_path):
    """A second run loads the code from the cache folder without importing Sionna; a cache file
    whose tables were tampered with (or cut short) is detected and rebuilt, never used."""
    import subprocess
    import sys

    env = {**os.environ, "SEMCODEC_CACHE": str(tmp_path)}
    probe = ("import sys, torch; from semcodec.phy.nr_ldpc import nr_code; c = nr_code(1000, 2000); "
             "u = torch.randint(0, 2, (4, 1000)); x = 1.0 - 2.0 * c.encode(u).float(); "
             "d, ok, _ = c.decode(20 * x); assert ok.all() and torch.equal(d, u.to(torch.uint8)); "
             "print('sionna' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], [r.stderr[-500:] for r in runs]
    (cached,) = tmp_path.glob("nr-ldpc/*/k1000_n2000.npz")
    with np.load(cached) as f:
        tables = {key: f[key] for key in f.files}
    tables["c1"] = tables["c1"].copy()
    tables["c1"][3, 0] = (tables["c1"][3, 0] + 1) % int(tables["k_ldpc"])  # one wrong parity equation
    np.savez(cached, **tables)
    damaged = cached.read_bytes()
    r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr[-500:]  # rebuilt through Sionna
    assert cached.read_bytes() != damaged
    cached.write_bytes(damaged[: len(damaged) // 2])
    r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr[-500:]


def test_an_unwritable_cache_folder_costs_time_not_the_run(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SEMCODEC_CACHE", str(blocker))
    nr_code.cache_clear()
    try:
        code = nr_code(600, 1200)
        info = torch.randint(0, 2, (2, 600), dtype=torch.uint8)
        dec, ok, _ = code.decode(20 * (1.0 - 2.0 * code.encode(info).float()))
        assert ok.all() and torch.equal(dec, info)
    finally:
        nr_code.cache_clear()


def test_the_papers_code_corrects_what_it_should_and_fails_where_it_must():
    """(6144, 4096) with BPSK: clean at 1.5 dB Es/N0 (its waterfall is near 0.4 dB), lost at -1 dB."""
    code = nr_code(4096, 6144)
    info, llr = _bpsk_frames(code, 1.5, 32, seed=1)
    dec, ok, _ = code.decode(llr, 20)
    assert ok.all() and torch.equal(dec, info)
    info, llr = _bpsk_frames(code, -1.0, 32, seed=2)
    dec, ok, _ = code.decode(llr, 20)
    assert not ok.any() and (dec != info).any(1).all()


def _wilson(f: int, n: int) -> tuple[float, float]:
    z = 1.96
    p = f / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


@pytest.mark.parametrize("k, n, points", [(240, 480, (-2.5, -2.0, -1.5)), (320, 480, (-0.5, 0.0, 0.5))])
def test_our_fer_equals_sionnas_decoder_on_the_same_frames(k, n, points):
    """Same frames, 20 iterations, layered offset min-sum, no early stop: at three points of the
    waterfall each FER lies in the other's 95 % interval (the full table for every MCS at 6144
    bits: ``python benchmarks/ber_curves.py --reference``)."""
    torch.set_num_threads(1)
    code = nr_code(k, n)
    ref = code.reference_decoder(20)
    frames = 120
    fers = []
    for i, snr in enumerate(points):
        info, llr = _bpsk_frames(code, snr, frames, seed=100 + i)
        ours, _, _ = code.decode(llr, 20, early_stop=False)
        with torch.no_grad():
            theirs = ref(-llr).round().to(torch.uint8)
        f_o, f_r = int((ours != info).any(1).sum()), int((theirs != info).any(1).sum())
        lo_o, hi_o = _wilson(f_o, frames)
        lo_r, hi_r = _wilson(f_r, frames)
        assert lo_o <= f_r / frames <= hi_o or lo_r <= f_o / frames <= hi_r, (snr, f_o, f_r)
        fers.append(f_o / frames)
    assert fers[0] > 0.05 and fers[0] > fers[-1], fers  # the points are in the waterfall, not past it


def test_mcs_indices_name_their_family():
    seen = set()
    for m in NR_MCS + REGULAR_MCS:
        i = mcs_index(m)
        assert 0 <= i < 32 and i not in seen and mcs_from_index(i) == m
        seen.add(i)
    assert parse_mcs("qpsk-1/2").family == "nr" and parse_mcs("qpsk-1/2", "regular").family == "regular"
    papers = {"qpsk-1/3", "qpsk-1/2", "qpsk-2/3", "16qam-1/2", "16qam-2/3", "64qam-1/2", "64qam-2/3", "64qam-3/4"}
    assert papers <= {m.name for m in NR_MCS}
    assert all(m.n == 6144 for m in NR_MCS)


@settings(max_examples=30, deadline=None)
@given(payload=st.integers(1, 40_000), which=st.integers(0, len(NR_MCS) - 1))
def test_a_frame_is_whole_codewords_and_one_shortened_last_one(payload, which):
    """Never a codeword of filler: the last one carries only what is left (at the same rate), and
    the capacity of a frame's symbol count holds at least its payload."""
    m = NR_MCS[which]
    plan = codeword_plan(payload * 8, m)
    k_full = round(6144 * m.rate_value)
    assert all(kn == (k_full, 6144) for kn in plan[:-1])
    k_last, n_last = plan[-1]
    rest = payload * 8 - (len(plan) - 1) * k_full
    assert 0 < rest <= k_full and k_last == min(k_full, -(-rest // 64) * 64)  # <= 63 fill bits, never a codeword
    assert n_last % m.mod.bits_per_symbol == 0
    assert k_last / m.rate_value - 1e-9 <= n_last < k_last / m.rate_value + m.mod.bits_per_symbol
    uses = frame_symbols(payload * 8, m)
    assert capacity_bytes(uses, m) >= payload
    assert frame_symbols(capacity_bytes(uses, m) * 8, m) <= uses


def test_the_interleaver_spreads_a_short_last_codeword_over_the_whole_frame():
    lengths = [100, 100, 100, 7]
    order = torch.arange(sum(lengths))
    sent = interleave(order, lengths)
    assert torch.equal(deinterleave(sent, lengths), order)
    last = (sent >= 300).nonzero().flatten()
    assert last.min() < 307 / 7 and last.max() > 307 - 307 / 7  # from the start to the end
    assert torch.equal(interleave(torch.arange(12), 3), torch.arange(12).reshape(3, 4).T.reshape(-1))


@pytest.mark.parametrize("name", ["bpsk-1/3", "qpsk-1/2", "16qam-2/3", "64qam-5/6"])
def test_bytes_round_trip_at_high_snr_and_break_far_below(name):
    m = parse_mcs(name)
    data = os.urandom(1000)
    x = transmit_bytes(data, m)
    assert abs(x.abs().square().mean().item() - 1) < 0.05
    out, failed, total = receive_bytes(x, 1e-4, None, m, len(data))
    assert out == data and failed == 0 and total == len(codeword_plan(8000, m))
    g = torch.Generator().manual_seed(0)
    y = x + torch.view_as_complex(torch.randn(x.numel(), 2, generator=g)) * math.sqrt(noise_variance(-8.0) / 2)
    _, failed, _ = receive_bytes(y, noise_variance(-8.0), None, m, len(data))
    assert failed > 0


@pytest.mark.parametrize("name", ["qpsk-3/4", "16qam-5/6", "bpsk-1/3"])
def test_a_last_codeword_that_rounds_up_to_a_full_one_still_round_trips(name):
    """Its bits on the 64-bit grid reach k: same code as a full codeword, but padded (a bench crashed here)."""
    m = parse_mcs(name)
    k = round(6144 * m.rate_value)
    for n_bytes in (k // 8 * 2 - 1, k // 8 * 2 - 7, k // 8 + 1):
        data = os.urandom(n_bytes)
        x = transmit_bytes(data, m)
        assert x.numel() == frame_symbols(n_bytes * 8, m)
        out, failed, _ = receive_bytes(x, 1e-4, None, m, n_bytes)
        assert out == data and failed == 0
