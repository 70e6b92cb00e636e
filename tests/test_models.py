"""The pretrained-component layer on the tiny kit (real from_pretrained / pipeline code)."""

import time

import torch

from conftest import no_models_env as _empty_caches
from conftest import run_cli


def test_llava_captions_a_batch_of_four_in_one_generate_call(tiny_models, monkeypatch):
    from semcodec.models.captioner import LlavaCaptioner

    cap = LlavaCaptioner(max_new_tokens=8)
    _, model = cap._parts()
    calls = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: calls.append(k["input_ids"].shape[0]) or original(*a, **k))
    captions = cap.caption([torch.rand(3, 40, 60) for _ in range(4)])
    assert len(captions) == 4 and all(isinstance(c, str) for c in captions)
    assert calls == [4]
    assert cap._parts()[1] is model  # loaded once per process, not per call


def test_blip_bart_clip_and_vqa_run(tiny_models):
    from semcodec.models.captioner import VQA, BlipCaptioner
    from semcodec.models.clip import ClipEmbedder
    from semcodec.models.speller import SpellingCorrector

    assert all(isinstance(c, str) for c in BlipCaptioner(max_new_tokens=6).caption([torch.rand(3, 32, 32)] * 2))
    assert len(SpellingCorrector().correct(["a cqt", "on a sofw"])) == 2
    e = ClipEmbedder().image_embeds([torch.rand(3, 40, 40), torch.rand(3, 50, 30)])
    assert e.shape[0] == 2 and torch.allclose(e.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert isinstance(VQA(max_new_tokens=4).answer(torch.rand(3, 32, 32), "What is it?"), str)


def test_generator_returns_source_size_and_keeps_long_prompts(tiny_models):
    from semcodec.models.generator import Generator

    long_prompt = " ".join(["a red cat sitting on a green sofa near the window"] * 12)
    image, info = Generator(ip_adapter=True, steps=2, resolution=64).generate(
        long_prompt, (50, 70), image_prompt=torch.rand(3, 40, 40))
    assert image.shape == (3, 50, 70) and 0 <= image.min() and image.max() <= 1
    assert info["prompt_chunks"] >= 2  # encoded in chunks, not truncated at 77 tokens
    plain, _ = Generator(ip_adapter=False, steps=2, resolution=64).generate("a cat", (33, 47))
    assert plain.shape == (3, 33, 47)


def test_segmenter_mask_and_box_lie_inside_the_image(tiny_models):
    from semcodec.models.segmenter import VOC_CLASSES, Segmenter

    seg = Segmenter(size=64).segment(torch.rand(3, 60, 90))
    assert seg is not None and seg.mask.shape == (60, 90) and seg.label in VOC_CLASSES[1:]
    top, left, bottom, right = seg.box
    assert 0 <= top < bottom <= 60 and 0 <= left < right <= 90
    assert seg.mask[top:bottom, left:right].sum() == seg.mask.sum()


def test_id_precedence_cli_over_env_over_toml(tmp_path, monkeypatch):
    from semcodec.models import source

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEMCODEC_SPELLER", raising=False)
    assert source.model_id("speller") == "oliverguhr/spelling-correction-english-base"
    (tmp_path / "semcodec.toml").write_text('[models]\nspeller = "from-toml"\n')
    assert source.model_id("speller") == "from-toml"
    monkeypatch.setenv("SEMCODEC_SPELLER", "from-env")
    assert source.model_id("speller") == "from-env"
    monkeypatch.setitem(source._overrides, "speller", "from-cli")
    assert source.model_id("speller") == "from-cli"


def test_missing_weights_fail_fast_with_one_line_naming_model_and_fix(tmp_path, kodak_dir):
    env = _empty_caches(tmp_path)
    t0 = time.time()
    out = run_cli("models", "check", env=env)
    assert time.time() - t0 < 10  # the process incl. interpreter start; the check itself is ms
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line = out.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "llava-hf/llava-interleave-qwen-0.5b-hf" in line and "semcodec models pull" in line
    enc = run_cli("encode", kodak_dir / "kodim23.png", "--codec", "multi-sc", "--snr", "10", env=env)
    assert enc.returncode == 2 and "semcodec models pull multi-sc" in enc.stderr
    assert len(enc.stderr.strip().splitlines()) == 1


def test_ready_check_is_fast_in_process(tmp_path, monkeypatch):
    from semcodec.codecs.multi_sc import MultiScCodec

    for k, v in _empty_caches(tmp_path).items():
        monkeypatch.setenv(k, v)
    t0 = time.perf_counter()
    ready, reason = MultiScCodec.readiness()
    assert time.perf_counter() - t0 < 1.0
    assert not ready and "captioner" in reason


def test_codecs_command_marks_semantic_codecs_not_ready(tmp_path):
    out = run_cli("codecs", env=_empty_caches(tmp_path))
    assert out.returncode == 0
    for name in ("multi-sc", "single-text", "vlm-csc"):
        row = next(line for line in out.stdout.splitlines() if name in line)
        assert "no" in row


def test_clip_cos_and_lpips_are_null_with_reasons_without_weights(tmp_path, monkeypatch, small_image):
    from semcodec.metrics import compute_metrics
    from semcodec.signal import Reconstruction

    for k, v in _empty_caches(tmp_path).items():
        monkeypatch.setenv(k, v)
    values, why = compute_metrics(small_image, Reconstruction(small_image), {}, None)
    assert values["clip_cos"] is None and "openai/clip-vit-base-patch32" in why["clip_cos"]
    assert values["lpips"] is None and "AlexNet" in why["lpips"]
