import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcodec.channel import AWGNChannel, NoiselessChannel
from semcodec.codecs.bpg_ldpc import HEADER_BITS, BpgLdpcCodec
from semcodec.source_coding.hevc import HevcEncoder, decode, pack, split_container, unpack


def test_noiseless_decode_is_bit_identical_to_hevc_decode_of_the_sent_stream(small_image):
    codec = BpgLdpcCodec(design_snr_db=10.0)
    res = codec.run(small_image, snr_db=10.0, channel=NoiselessChannel())
    q = res.record["transmitter"]["quality"]
    sent = codec.hevc.encode(small_image, q)
    assert res.reconstruction.status == "ok"
    assert torch.equal(res.reconstruction.image, codec.hevc.decode(sent))
    assert torch.equal(codec.hevc.decode(sent), decode(codec.hevc.heif(small_image, q)))
    assert res.record["streams"]["image"]["bits"] == len(sent) * 8


def test_rate_fit_picks_the_highest_quality_that_fits(small_image):
    enc = HevcEncoder()
    budget = len(enc.encode(small_image, 37)) + 5
    q, data = enc.fit(small_image, budget)
    assert len(data) <= budget
    assert len(enc.encode(small_image, q + 1)) > budget
    assert enc.fit(small_image, 10) is None  # not even quality 0 fits in 10 bytes


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(24, 120), w=st.integers(24, 120), inv=st.sampled_from([3, 6, 12, 24]),
       snr=st.sampled_from([0.0, 8.0, 20.0]))
def test_bit_budget_is_never_exceeded(small_image, h, w, inv, snr):
    image = small_image[:, :h, :w]
    codec = BpgLdpcCodec(bandwidth=1 / inv)
    rec = codec.run(image, snr_db=snr, channel=NoiselessChannel(), metrics=["psnr"]).record
    assert rec["channel_uses"] <= int(3 * h * w / inv)
    assert rec["streams"]["header"]["bits"] == HEADER_BITS


def test_high_snr_round_trip_is_good(small_image):
    rec = BpgLdpcCodec().run(small_image, snr_db=19.0, channel=AWGNChannel(), metrics=["psnr"]).record
    assert rec["status"] == "ok"
    assert rec["metrics"]["psnr"] > 32


def test_the_cliff_designed_for_10db_fails_at_4db(small_image):
    codec = BpgLdpcCodec(design_snr_db=10.0)
    rec = codec.run(small_image, snr_db=4.0, channel=AWGNChannel(), metrics=["psnr"]).record
    assert rec["status"] == "decode_failed"
    assert rec["metrics"]["psnr"] < 15
    assert rec["effective_design_snr_db"] == 10.0 and rec["config"]["design_snr_db"] == 10.0


def test_forced_mcs_is_used(small_image):
    rec = BpgLdpcCodec(mcs="qpsk-1/2").run(small_image, snr_db=30.0, channel=AWGNChannel(),
                                           metrics=["psnr"]).record
    assert rec["info"]["mcs"] == "qpsk-1/2"


def test_container_is_sent_compressed_and_rebuilt_exactly(small_image):
    enc = HevcEncoder()
    heif = enc.heif(small_image, 30)
    boxes, payload = split_container(heif)
    packet = pack(heif, enc.template)
    assert unpack(packet, enc.template) == heif
    assert len(packet) < len(heif) - 200  # ~380 bytes of boxes become ~80
    assert packet.endswith(payload)
    with pytest.raises(ValueError):
        enc.decode(b"\x00\x10" + bytes(30) + payload)


def test_on_rayleigh_fading_the_matched_link_decodes(small_image):
    """Matched to a Rayleigh block-fading channel (MCS from its table, codewords interleaved over the
    frame), the chain decodes at 19 dB, with a more robust MCS than AWGN at the same SNR gets."""
    from semcodec.channel import RayleighChannel

    fading = RayleighChannel(coherence=64)  # a 192x256 crop spans 64-symbol blocks as Kodak spans 1,024
    matched = BpgLdpcCodec().run(small_image, snr_db=19.0, channel=fading, seed=1, metrics=["psnr"]).record
    assert matched["status"] == "ok" and matched["metrics"]["psnr"] > 26
    assert matched["transmitter"]["mcs"] != BpgLdpcCodec().run(small_image, snr_db=19.0, channel=AWGNChannel(),
                                                                  metrics=["psnr"]).record["transmitter"]["mcs"]


def test_a_picture_smaller_than_its_budget_designs_for_the_frame_it_sends():
    """A flat picture's HEVC file is far below a large budget: its frame spans one fade, not the
    budget's many, and the MCS is the one the one-fade table allows."""
    from semcodec.channel import RayleighChannel
    from semcodec.phy.mcs import choose_mcs

    flat = torch.full((3, 256, 256), 0.5)
    rec = BpgLdpcCodec(bandwidth=1 / 3).run(flat, snr_db=20.0, channel=RayleighChannel(), metrics=["psnr"]).record
    assert rec["channel_uses"] < 2 * 1024 and rec["transmitter"]["design_fades"] == 1
    assert rec["transmitter"]["mcs"] == choose_mcs(20.0, channel="rayleigh", fades=1).name


@pytest.mark.parametrize("code", ["nr", "regular"])
def test_every_mcs_on_every_channel_and_size_keeps_the_budget_or_says_why_in_one_line(small_image, code):
    """Short frames and tiny images with the 6144-bit codes: a record within budget (the last
    codeword shortened to what fits), or a SemcodecError (the CLI's one line), never a crash."""
    from semcodec.channel import parse_channel_spec
    from semcodec.errors import SemcodecError
    from semcodec.phy.mcs import mcs_list
    from semcodec.signal import budget_uses

    sizes = [(96, 128), (24, 40), (8, 8)]
    for i, m in enumerate(mcs_list(code)):
        h, w = sizes[i % len(sizes)]
        for channel in ("awgn", "rayleigh:coherence=256"):
            codec = BpgLdpcCodec(bandwidth=1 / 6, mcs=m.name, code=code)
            try:
                rec = codec.run(small_image[:, :h, :w], snr_db=25.0, channel=parse_channel_spec(channel), seed=i,
                                metrics=["psnr"]).record
            except SemcodecError as exc:
                assert h * w < 400, (m.name, h, w, exc)  # only a budget too small for the header
                continue
            assert rec["channel_uses"] <= budget_uses(1 / 6, h, w), (m.name, channel, h, w)
            assert rec["status"] in ("ok", "decode_failed") and rec["transmitter"]["mcs"] == m.name


def test_the_capacity_bound_sits_above_bpg_ldpc_and_is_labelled_a_bound_in_reports(tiny_kodak, tmp_path):
    import json

    from conftest import run_cli

    out = tmp_path / "b.jsonl"
    res = run_cli("bench", str(tiny_kodak), "--codecs", "bpg-ldpc,bpg-capacity", "--snr", "0,6", "--limit", "2",
                  "--metrics", "psnr", "--out", str(out))
    assert res.returncode == 0, res.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    by = {(r["codec"], r["image"], r["snr_db"]): r for r in recs}
    for (codec, image, snr), r in by.items():
        if codec == "bpg-capacity":
            assert r["bound"] is True and r["status"] == "ok"
            assert r["metrics"]["psnr"] >= by[("bpg-ldpc", image, snr)]["metrics"]["psnr"] - 0.05
    rep = run_cli("report", str(out), "--vs", "bpg-ldpc", "--format", "markdown")
    assert rep.returncode == 0, rep.stderr
    assert "bpg-capacity (bound)" in rep.stdout and "| bpg-capacity |" not in rep.stdout


def test_encoders_of_the_same_settings_share_their_packets(small_image, monkeypatch):
    """bpg-capacity's rate search reuses what bpg-ldpc's encoder already made of the image; an
    encoder of other settings does not (its packets differ)."""
    first = HevcEncoder()
    budget = len(first.encode(small_image, 40)) + 1
    first.fit(small_image, budget)
    made: list[int] = []
    real = HevcEncoder.heif
    monkeypatch.setattr(HevcEncoder, "heif", lambda self, image, q: made.append(q) or real(self, image, q))
    assert HevcEncoder().fit(small_image, budget) == first.fit(small_image, budget) and made == []
    HevcEncoder(chroma="444").fit(small_image, budget)
    assert made  # other settings encode for themselves
