import math

import pytest
import torch

from semcodec.metrics import compute_metrics, psnr
from semcodec.signal import Reconstruction


def test_psnr_of_a_known_error():
    a = torch.zeros(3, 8, 8)
    b = torch.full((3, 8, 8), 0.1)
    assert psnr(a, b) == pytest.approx(20.0)
    assert math.isinf(psnr(a, a))


def test_lpips_is_null_with_a_reason_when_alexnet_weights_are_absent(tmp_path, monkeypatch, small_image):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    values, unavailable = compute_metrics(small_image, Reconstruction(small_image * 0.9), {}, None)
    assert values["lpips"] is None
    assert "AlexNet" in unavailable["lpips"] and "random" in unavailable["lpips"]
    assert values["psnr"] > 20 and 0 < values["ms_ssim"] <= 1


def test_ms_ssim_on_a_tiny_image_is_null_not_a_crash():
    img = torch.rand(3, 64, 64)
    values, unavailable = compute_metrics(img, Reconstruction(img), {}, ["psnr", "ms_ssim"])
    assert values["ms_ssim"] is None and "161" in unavailable["ms_ssim"]
    assert values["psnr"] is None and "identical" in unavailable["psnr"]


def test_bleu_compares_sent_and_final_texts():
    img = torch.rand(3, 8, 8)
    same = Reconstruction(img, texts={"t0": {"sent": "a cat on a mat", "received": "a cat on a mat"}})
    diff = Reconstruction(img, texts={"t0": {"sent": "a cat on a mat", "received": "a cqt oj a mzt"}})
    hi, _ = compute_metrics(img, same, {}, ["bleu"])
    lo, _ = compute_metrics(img, diff, {}, ["bleu"])
    assert hi["bleu"] == pytest.approx(100.0) and lo["bleu"] < 50
    none, why = compute_metrics(img, Reconstruction(img), {}, ["bleu"])
    assert none["bleu"] is None and "no text" in why["bleu"]


@pytest.mark.parametrize("text", ["cat", "a cat", "a red cat", "a red cat sits on the green sofa by the window"])
def test_bleu_and_chrf_of_identical_short_texts_are_100(text):
    img = torch.rand(3, 8, 8)
    rec = Reconstruction(img, texts={"t0": {"sent": text, "received": text}})
    values, _ = compute_metrics(img, rec, {}, ["bleu", "chrf"])
    assert values["bleu"] == 100.0 and values["chrf"] == 100.0


def test_bleu_scores_the_text_the_generator_used_even_when_the_corrector_returned_nothing():
    from semcodec.metrics import score_texts

    img = torch.rand(3, 8, 8)
    texts = {"t0": {"sent": "a cat on a mat", "received": "a cat on a mat", "corrected": ""}}
    values, _ = compute_metrics(img, Reconstruction(img, texts=texts), {}, ["bleu"])
    assert values["bleu"] == 0.0  # the generator got "", not the (perfect) received text
    score_texts(texts)
    assert texts["t0"]["bleu_received"] == 100.0 and texts["t0"]["bleu_corrected"] == 0.0


@pytest.mark.parametrize("size,noise", [((512, 768), 0.02), ((512, 768), 0.2), ((171, 333), 0.05), ((161, 161), 0.1)])
def test_our_ms_ssim_is_pytorch_msssim_value(kodim23, size, noise):
    """The faster MS-SSIM (one grouped blur per scale) gives pytorch-msssim's number, odd sizes too."""
    import torch
    from pytorch_msssim import ms_ssim as reference

    from semcodec.metrics import ms_ssim

    h, w = size
    a = kodim23[None, :, :h, :w]
    b = (a + noise * torch.randn(a.shape, generator=torch.Generator().manual_seed(h))).clamp(0, 1)
    assert ms_ssim(a, b).item() == pytest.approx(reference(a, b, data_range=1.0).item(), abs=1e-6)
    assert ms_ssim(a, a).item() == pytest.approx(1.0, abs=1e-6)


def test_ms_ssim_reusing_the_sources_blurs_gives_the_same_value_and_keeps_few():
    """A bench scores one source against many reconstructions: the source's blurs are reused,
    bit for bit the value of a fresh computation, and only the last two sources are kept."""
    from semcodec import metrics

    gen = torch.Generator().manual_seed(3)
    xs = [torch.rand(1, 3, 170, 180, generator=gen) for _ in range(3)]
    for i, x in enumerate(xs):
        for noise in (0.02, 0.2):
            y = (x + noise * torch.randn(x.shape, generator=gen)).clamp(0, 1)
            fresh = float(metrics.ms_ssim(x, y))
            assert float(metrics.ms_ssim(x, y, source_key=f"s{i}")) == fresh
            assert float(metrics.ms_ssim(x, y, source_key=f"s{i}")) == fresh  # from the kept blurs
    assert len(metrics._SOURCE_STATS) == metrics.SOURCE_STATS_KEPT
