"""The SNR-adaptive learned codec: the SNR input matters, training learns, checkpoints round-trip,
the transmitter's power is what the convention says, and the budget is never exceeded."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcodec.networks.adjscc import AdaptiveJSCC


def test_the_snr_input_changes_encoder_and_decoder_outputs():
    torch.manual_seed(0)
    model = AdaptiveJSCC(c_max=16, width=16, blocks=1).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        s0, shape = model.encode(x, 0.0, 8)
        s20, _ = model.encode(x, 20.0, 8)
        assert not torch.allclose(s0, s20)
        y0 = model.decode(s0, shape, (32, 32), 0.0)
        y20 = model.decode(s0, shape, (32, 32), 20.0)
    assert not torch.allclose(y0, y20)


def test_symbols_have_unit_mean_energy_per_image_at_every_rate():
    model = AdaptiveJSCC(c_max=16, width=16, blocks=1).eval()
    x = torch.rand(3, 3, 40, 24)
    for c in (8, 16):
        with torch.no_grad():
            s, shape = model.encode(x, torch.tensor([0.0, 5.0, 20.0]), c)
        assert s.dtype == torch.complex64 and s.shape == (3, c * 10 * 6 // 2) and shape == (c, 10, 6)
        assert torch.allclose(s.abs().square().mean(dim=1), torch.ones(3), atol=1e-5)


def test_a_few_training_steps_lower_the_loss(tmp_path, train_dir):
    import random

    from semcodec.train.adjscc import AdaptiveTrainConfig, forward, train_adaptive
    from semcodec.train.data import augmented_crops
    from semcodec.codecs.adjscc import load_model
    from semcodec.train.data import list_images, load_uint8 as _load_uint8

    config = AdaptiveTrainConfig(data=[str(train_dir)], steps=40, batch=4, crop=32, width=16, blocks=1,
                                 warmup=5, save_every=20, eval_every=1000, lr=3e-3, ema=0.9)
    train_adaptive(config, tmp_path / "m.safetensors")
    assert (tmp_path / "m.json").is_file() and (tmp_path / "m.state.pt").is_file()
    x = augmented_crops(_load_uint8(list_images([str(train_dir)])[:4], "cpu"), 8, 32, random.Random(1))
    torch.manual_seed(0)
    untrained = AdaptiveJSCC(16, 16, 1)
    trained = load_model(str(tmp_path / "m.safetensors"), "cpu")
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(forward(untrained, x, 10.0, 8), x).item()
        after = torch.nn.functional.mse_loss(forward(trained, x, 10.0, 8), x).item()
    assert after < 0.7 * before, (after, before)


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, train_dir):
    from safetensors.torch import load_file

    from semcodec.train.adjscc import AdaptiveTrainConfig, train_adaptive

    config = AdaptiveTrainConfig(data=[str(train_dir)], steps=10, batch=2, crop=32, width=8, blocks=1,
                                 warmup=2, save_every=5, eval_every=1000)
    train_adaptive(config, tmp_path / "straight.safetensors")

    def stop_at_5(step, loss, kodak):
        if step == 5:
            raise KeyboardInterrupt  # Ctrl-C right after the checkpoint of step 5

    with pytest.raises(KeyboardInterrupt):
        train_adaptive(config, tmp_path / "resumed.safetensors", progress=stop_at_5, progress_every=1)
    from dataclasses import replace

    from semcodec.errors import InvalidInput

    with pytest.raises(InvalidInput, match="done 5 steps"):  # fewer steps than done: a contradictory card
        train_adaptive(replace(config, steps=4), tmp_path / "resumed.safetensors", resume=True)
    train_adaptive(config, tmp_path / "resumed.safetensors", resume=True)
    a, b = load_file(tmp_path / "straight.safetensors"), load_file(tmp_path / "resumed.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_real_ctrl_c_between_saves_is_saved_at_that_step(tmp_path, train_dir):
    """SIGINT at step 3 (saves every 5): the run writes step 3 and says --resume; resumed, it ends
    on the uninterrupted run's weights."""
    import os
    import signal

    from safetensors.torch import load_file

    from semcodec.train.adjscc import AdaptiveTrainConfig, train_adaptive
    from semcodec.train.checkpoint import TrainingInterrupted, state_path

    config = AdaptiveTrainConfig(data=[str(train_dir)], steps=8, batch=2, crop=32, width=8, blocks=1,
                                 warmup=2, save_every=5, eval_every=1000)
    train_adaptive(config, tmp_path / "straight.safetensors")

    def ctrl_c_at_3(step, loss, kodak):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "resumed.safetensors"
    with pytest.raises(TrainingInterrupted, match="step 4"):  # the step under way finishes first
        train_adaptive(config, out, progress=ctrl_c_at_3, progress_every=1)
    assert torch.load(state_path(out), weights_only=True)["step"] == 4
    train_adaptive(config, out, resume=True)
    a, b = load_file(tmp_path / "straight.safetensors"), load_file(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_test_set_is_never_trained_on_and_a_resume_needs_a_state(tmp_path, train_dir, kodak_dir):
    """kodak24 is the test set: a training folder holding any of its files (renamed or not) is
    refused, as is one that shares a file with --eval; --resume with nothing to resume is an error."""
    import shutil

    from conftest import assert_clean_error, call_cli

    sneaky = tmp_path / "sneaky"
    shutil.copytree(train_dir, sneaky)
    shutil.copy(kodak_dir / "kodim07.png", sneaky / "holiday.png")
    common = ("--steps", "1", "--batch", "1", "--crop", "32", "--width", "8", "--blocks", "1")
    for trainer_args in (("--data", sneaky), ("--data", train_dir, "--data", kodak_dir)):
        assert_clean_error(*call_cli("train", "adjscc", *trainer_args, "--out", tmp_path / "a.safetensors", *common),
                           "kodak24 is the test set")
    assert_clean_error(*call_cli("train", "deep-jscc", "--data", sneaky, "--out", tmp_path / "d.safetensors",
                                 "--epochs", "1"), "kodak24 is the test set")
    assert_clean_error(*call_cli("train", "adjscc", "--data", train_dir, "--eval", train_dir, "--out",
                                 tmp_path / "e.safetensors", *common), "also in the evaluation data")
    assert_clean_error(*call_cli("train", "adjscc", "--data", train_dir, "--out", tmp_path / "r.safetensors",
                                 "--resume", *common), "nothing to resume")
    assert not list(tmp_path.glob("*.safetensors"))


def test_save_load_gives_identical_outputs(tmp_path):
    from semcodec.train.adjscc import save_adaptive
    from semcodec.codecs.adjscc import load_model

    model = AdaptiveJSCC(c_max=16, width=16, blocks=1).eval()
    save_adaptive(tmp_path / "m.safetensors", model, {"architecture": model.architecture()})
    loaded = load_model(str(tmp_path / "m.safetensors"), "cpu")
    x = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        s1, shape = model.encode(x, 7.0, 8)
        s2, _ = loaded.encode(x, 7.0, 8)
        assert torch.equal(s1, s2)
        assert torch.equal(model.decode(s1, shape, (36, 44), 3.0), loaded.decode(s2, shape, (36, 44), 3.0))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(16, 70), st.integers(16, 70), st.sampled_from([1 / 12, 1 / 6]))
def test_the_budget_is_never_exceeded_header_included(h, w, ratio):
    from semcodec.channel import AWGNChannel
    from semcodec.codecs.adjscc import AdaptiveJsccCodec

    codec = AdaptiveJsccCodec(bandwidth=ratio)
    rec = codec.run(torch.rand(3, h, w), snr_db=10.0, channel=AWGNChannel(), seed=0).record
    assert rec["channel_uses"] <= math.floor(3 * h * w * ratio)
    assert rec["status"] == "ok"


def test_one_model_at_every_snr_beats_noise_and_degrades_gracefully(small_image):
    from semcodec.channel import AWGNChannel
    from semcodec.codecs.adjscc import AdaptiveJsccCodec

    codec = AdaptiveJsccCodec()
    psnr = {snr: codec.run(small_image, snr_db=snr, channel=AWGNChannel(), seed=0).record["metrics"]["psnr"]
            for snr in (-5, 0, 10, 20)}
    assert psnr[-5] < psnr[0] < psnr[10] <= psnr[20] + 0.05
    assert psnr[10] > 22  # the shipped checkpoint, whatever its training stage, is far above noise
    mismatched = AdaptiveJsccCodec(design_snr_db=10.0).run(small_image, snr_db=4.0, channel=AWGNChannel(), seed=0)
    assert mismatched.record["status"] == "ok" and mismatched.record["metrics"]["psnr"] > psnr[0] - 1


@pytest.mark.parametrize("ratio", ["1/24", "1/3", "1/11"])
def test_a_bandwidth_the_model_cannot_serve_is_a_clear_error(ratio, tmp_path):
    from conftest import assert_clean_error, call_cli

    assert_clean_error(*call_cli("encode", "--codec", "adjscc", "--bandwidth", ratio), "adjscc")


def test_tampered_checkpoints_are_refused_before_anything_is_allocated(tmp_path, small_image):
    """Architecture metadata is bounded and must match the tensors; non-finite weights are refused."""
    import json
    import time

    from safetensors.torch import load_file, save_file

    from conftest import assert_clean_error, call_cli
    from semcodec.codecs.adjscc import shipped

    tensors = load_file(shipped()[0].path)
    image = tmp_path / "img.png"
    from semcodec.imageio import save_image

    save_image(small_image, image)
    cases = {"wide": ({"c_max": 16, "width": 100_000_000, "blocks": 2}, tensors),
             "deep": ({"c_max": 16, "width": 64, "blocks": 100_000_000}, tensors),
             "mismatch": ({"c_max": 16, "width": 32, "blocks": 2}, tensors),
             "float": ({"c_max": 16, "width": 64.0, "blocks": 2}, tensors),
             "nan": ({"c_max": 16, "width": 64, "blocks": 2},
                     {k: v * float("nan") if i == 0 else v for i, (k, v) in enumerate(tensors.items())})}
    for name, (arch, ts) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        save_file(ts, path, metadata={"architecture": json.dumps(arch)})
        t0 = time.monotonic()
        assert_clean_error(*call_cli("encode", image, "--codec", "adjscc", "--snr", "10", "--opt",
                                     f"checkpoint={path}", "-o", tmp_path / "o.png"),
                           "non-finite" if name == "nan" else "not an adjscc checkpoint")
        assert time.monotonic() - t0 < 20, name


def test_snrs_beyond_the_trained_range_are_held_to_its_edge(small_image):
    """Told 60 dB, a network trained on −5…20 dB would extrapolate (and lose quality as the channel
    improves); it is told 20 dB, so a better channel never hurts."""
    from semcodec.channel import AWGNChannel
    from semcodec.codecs.adjscc import AdaptiveJsccCodec

    codec = AdaptiveJsccCodec()
    psnr = {}
    for snr in (20.0, 60.0, -5.0, -30.0):
        result = codec.run(small_image, snr_db=snr, channel=AWGNChannel(), metrics=["psnr"])
        psnr[snr] = result.record["metrics"]["psnr"]
        assert result.reconstruction.info["decoder_snr_db"] == min(max(snr, -5.0), 20.0)
    assert psnr[60.0] >= psnr[20.0] > psnr[-5.0] > psnr[-30.0]


def test_an_image_side_no_header_can_carry_is_refused(tmp_path):
    from PIL import Image

    from conftest import assert_clean_error, call_cli

    Image.new("RGB", (65536, 4), (90, 100, 110)).save(tmp_path / "wide.png")
    assert_clean_error(*call_cli("encode", tmp_path / "wide.png", "--codec", "adjscc", "--snr", "10"), "65,535")


def test_the_spreading_order_is_a_permutation_that_scatters_every_fading_block():
    from semcodec.links.analog import spreading_positions

    for n in (1, 2, 3, 10, 1024, 4095, 36864):
        p = spreading_positions(n)
        assert sorted(p.tolist()) == list(range(n))
    n, block = 36864, 1024
    latent_of_position = torch.empty(n, dtype=torch.long)
    latent_of_position[spreading_positions(n)] = torch.arange(n)
    one_block = latent_of_position[:block].sort().values
    assert (one_block[1:] - one_block[:-1]).max() < 4 * n // block  # spread over the whole latent


def test_interleaving_is_undone_exactly_and_pays_on_block_fading(small_image):
    """Noiseless: the same image with or without the spreading order (the receiver undoes it).
    On Rayleigh block fading at 0 dB the fading model gains from it, as the digital link does."""
    from semcodec.channel import NoiselessChannel, RayleighChannel
    from semcodec.codec import load_codec

    img = small_image[:, :96, :128]
    plain, spread = load_codec("adjscc-fading")(interleave=False), load_codec("adjscc-fading")()
    a = plain.run(img, snr_db=10.0, channel=NoiselessChannel(), seed=1).reconstruction.image
    b = spread.run(img, snr_db=10.0, channel=NoiselessChannel(), seed=1).reconstruction.image
    assert torch.allclose(a, b, atol=1e-5)
    psnr = {name: sum(c.run(img, snr_db=0.0, channel=RayleighChannel(coherence=256), seed=s, metrics=["psnr"])
                      .record["metrics"]["psnr"] for s in range(4)) / 4 for name, c in (("plain", plain), ("spread", spread))}
    assert psnr["spread"] > psnr["plain"] + 0.5, psnr
