"""Multi-SC, single-text SC and VLM-CSC end to end on the tiny kit (never a quality number)."""

import json
import math

import pytest
import sacrebleu
import torch

from conftest import TINY_OPTS, run_cli
from semcodec.channel import AWGNChannel
from semcodec.channel import noise_variance
from semcodec.links.text import ALPHABET, bits_to_text, decode_text, encode_text, text_to_bits, to_alphabet
from semcodec.codec import load_codec

SEMANTIC = ["multi-sc", "single-text", "vlm-csc"]


def _opts(name):
    return {k: v for k, v in TINY_OPTS.items()} | ({"segment_size": 64} if name != "vlm-csc" else {})


def test_any_bit_pattern_decodes_to_printable_text_and_one_flip_is_one_typo():
    g = torch.Generator().manual_seed(0)
    text = bits_to_text(torch.randint(0, 2, (600,), generator=g))
    assert len(text) == 100 and set(text) <= set(ALPHABET)
    bits = text_to_bits("a cat")
    bits[7] ^= 1
    typo = bits_to_text(bits)
    assert sum(a != b for a, b in zip(typo, "a cat")) == 1 and typo.isprintable()
    assert to_alphabet("Café, naïve!") == "Cafe. naive."


def test_text_over_the_channel_degrades_with_noise():
    text = to_alphabet("two dogs play in the green grass near a small red house on a sunny day") * 3
    symbols, _ = encode_text(text)

    def received(snr):
        y, _ = AWGNChannel()(symbols, snr, torch.Generator().manual_seed(1))
        return decode_text(y, noise_variance(snr), None, len(text))

    low, mid, high = received(0.0), received(20.0), received(40.0)
    assert low != text and high == text
    bleu = lambda hyp: sacrebleu.sentence_bleu(hyp, [text]).score  # noqa: E731
    assert bleu(low) < bleu(mid)


@pytest.mark.parametrize("name", SEMANTIC)
def test_codec_records_are_complete_and_channel_effects_real(tiny_models, tiny_kodak, name):
    from semcodec.imageio import load_image

    image = load_image(tiny_kodak / "kodim23.png")
    codec = load_codec(name)(**_opts(name))
    recs = {snr: codec.run(image, snr_db=snr, channel=AWGNChannel(), seed=0).record for snr in (0.0, 20.0, 40.0)}
    for rec in recs.values():
        assert rec["status"] == "ok" and rec["image_size"] == [64, 96]
        assert rec["channel_uses"] == sum(s["channel_uses"] for s in rec["streams"].values())
        assert rec["metrics"]["bleu"] is not None and rec["metrics"]["clip_cos"] is not None
        for key, s in rec["streams"].items():
            if key.startswith(("sub_", "caption_")):
                assert s["kind"] == "digital" and s["channel_uses"] == math.ceil(s["bits"] / 2)  # QPSK, uncoded
                assert s["bits"] == 6 * len(rec["texts"][key]["sent"])
        assert json.dumps(rec)
    sent = [t["sent"] for t in recs[0.0]["texts"].values()]
    rx = {snr: [t["received"] for t in r["texts"].values()] for snr, r in recs.items()}
    assert rx[40.0] == sent
    assert rx[0.0] != sent
    bleu = {snr: sacrebleu.corpus_bleu(rx[snr], [sent]).score for snr in rx}
    assert bleu[0.0] < bleu[20.0]


def test_multi_sc_streams_header_and_slice_accounting(tiny_models, tiny_kodak):
    from semcodec.codecs.multi_sc import BASE_HEADER_BITS
    from semcodec.imageio import load_image

    codec = load_codec("multi-sc")(**_opts("multi-sc"), slice_bandwidth=1 / 6)
    rec = codec.run(load_image(tiny_kodak / "kodim05.png"), snr_db=10.0, channel=AWGNChannel()).record
    assert sorted(rec["streams"]) == ["header", "slice", "sub_0", "sub_1", "sub_2", "sub_3"]
    assert rec["streams"]["header"]["bits"] == BASE_HEADER_BITS + 4 * 16 + 4
    top, left, bottom, right = rec["transmitter"]["box"]
    h, w = bottom - top, right - left
    hp, wp = h + (-h) % 4, w + (-w) % 4
    # c = 16 latent channels for k/n = 1/6, cut to the slice's budget (its header included)
    assert rec["streams"]["slice"]["channel_uses"] == min(16 * hp * wp // 32, 3 * h * w // 6 - 36)
    assert set(rec["texts"]["sub_0"]) == {"sent", "received", "corrected", "bleu_received", "bleu_corrected",
                                          "chrf_received", "chrf_corrected"}


def test_an_snr_sweep_captions_each_image_once(tiny_models, tiny_kodak, monkeypatch, tmp_path):
    from semcodec.bench import BenchPlan, run_bench
    from semcodec.data import folder
    from semcodec.models import captioner

    calls = []
    original = captioner.LlavaCaptioner.caption
    monkeypatch.setattr(captioner.LlavaCaptioner, "caption",
                        lambda self, images: calls.append(len(images)) or original(self, images))
    codec = load_codec("multi-sc")(**_opts("multi-sc"))
    images = folder(tiny_kodak)[:2]
    run_bench(BenchPlan("small", images, {"multi-sc": codec}, [0.0, 10.0, 20.0], AWGNChannel(),
                        metrics=["psnr", "bleu"], out=tmp_path / "r.jsonl"))
    assert calls == [4, 4]  # one batched call of four sub-images per image, not per SNR


def test_cli_encode_and_bench_run_all_three(tiny_models, tiny_kodak, tmp_path):
    opts = [a for k, v in TINY_OPTS.items() for a in ("--opt", f"{k}={v}")]
    enc = run_cli("encode", tiny_kodak / "kodim15.png", "--codec", "vlm-csc", "--snr", "5", "--json", *opts)
    assert enc.returncode == 0, enc.stderr
    assert json.loads(enc.stdout)["texts"]["caption_0"]["sent"]
    out = tmp_path / "r.jsonl"
    bench = run_cli("bench", str(tiny_kodak), "--codecs", ",".join(SEMANTIC), "--snr", "0,20", "--limit", "1",
                    "--out", out, "--opt", "segment_size=64", *opts, "--metrics", "psnr,bleu")
    assert bench.returncode == 0, bench.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted({r["codec"] for r in recs}) == sorted(SEMANTIC) and len(recs) == 6


def test_text_fec_ldpc_protects_the_texts(tiny_models, tiny_kodak):
    from semcodec.imageio import load_image

    image = load_image(tiny_kodak / "kodim05.png")
    plain = load_codec("vlm-csc")(**TINY_OPTS)
    coded = load_codec("vlm-csc")(**TINY_OPTS, text_fec="ldpc")
    rec_plain = plain.run(image, snr_db=3.0, channel=AWGNChannel(), metrics=["bleu"]).record
    rec_coded = coded.run(image, snr_db=3.0, channel=AWGNChannel(), metrics=["bleu"]).record
    t_plain, t_coded = rec_plain["texts"]["caption_0"], rec_coded["texts"]["caption_0"]
    assert t_plain["received"] != t_plain["sent"]
    assert t_coded["received"] == t_coded["sent"]
    # a short caption is one shortened 5G NR QPSK rate-1/2 codeword: twice its bits (on a 64-bit grid) in symbols
    from semcodec.links.text import text_symbols

    n_chars = len(t_coded["sent"])
    assert rec_coded["streams"]["caption_0"]["channel_uses"] == text_symbols(n_chars, "ldpc")
    assert text_symbols(n_chars, "ldpc") == max(64, -(-(-(-n_chars * 6 // 8) * 8) // 64) * 64)


def test_grid_option_from_the_cli(tiny_models, tiny_kodak):
    opts = [a for k, v in TINY_OPTS.items() for a in ("--opt", f"{k}={v}")]
    out = run_cli("encode", tiny_kodak / "kodim05.png", "--codec", "multi-sc", "--snr", "10", "--grid", "3",
                  "--paste-slice", "--opt", "segment_size=64", "--json", *opts)
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert len([k for k in rec["streams"] if k.startswith("sub_")]) == 9
    assert rec["config"]["options"]["paste_slice"] is True


def test_no_object_sends_a_centre_crop_and_says_so(tiny_models, tiny_kodak, monkeypatch):
    from semcodec.imageio import load_image
    from semcodec.models import segmenter

    monkeypatch.setattr(segmenter.Segmenter, "segment", lambda self, image: None)
    rec = load_codec("multi-sc")(**_opts("multi-sc")).run(load_image(tiny_kodak / "kodim15.png"), snr_db=10.0,
                                                         channel=AWGNChannel(), metrics=["psnr"]).record
    assert rec["transmitter"]["object_found"] is False
    assert rec["transmitter"]["box"] == [16, 24, 48, 72]  # the centre half of 64x96
    assert "no object" in rec["info"]["note"]
