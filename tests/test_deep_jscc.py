import pytest
import torch

from semcodec.channel import AWGNChannel, NoiselessChannel
from semcodec.codecs.deep_jscc import DeepJsccCodec, choose_checkpoint, shipped_checkpoints
from semcodec.networks.deep_jscc import DeepJSCC, power_normalize
from semcodec.train.checkpoint import save_checkpoint
from semcodec.train.deep_jscc import TrainConfig, train_deep_jscc


def test_power_normalisation_gives_unit_energy_per_image():
    z = torch.randn(4, 8, 6, 6) * torch.tensor([0.1, 1.0, 5.0, 50.0])[:, None, None, None]
    s = power_normalize(z)
    assert s.shape == (4, 8 * 36 // 2)
    assert torch.allclose(s.abs().square().mean(1), torch.ones(4), atol=1e-5)


def test_bandwidth_ratio_and_any_image_size():
    model = DeepJSCC(8).eval()
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        s, shape = model.encode(x)
        y = model.decode(s, shape, x.shape[-2:])
    assert y.shape == x.shape
    assert s.shape[1] == 8 * 40 * 52 // 32  # padded to multiples of 4; k/n = c/96


def test_checkpoint_save_and_load_gives_identical_outputs(tmp_path):
    from semcodec.codecs.deep_jscc import load_model

    torch.manual_seed(0)
    model = DeepJSCC(8).eval()
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model, {"bandwidth_ratio": 1 / 12, "train_snr_db": 5.0})
    loaded = load_model(str(path), "cpu")
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        assert torch.equal(model.encode(x)[0], loaded.encode(x)[0])
    out = DeepJsccCodec(checkpoint=str(path)).run(x[0], snr_db=5.0, channel=AWGNChannel())
    assert out.record["info"]["checkpoint"] == "m"


def test_a_few_training_steps_lower_the_loss(tmp_path):
    from PIL import Image

    folder = tmp_path / "crops"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(8):  # smooth random images: learnable in a few steps
        base = torch.rand(3, 4, 4, generator=g)
        img = torch.nn.functional.interpolate(base[None], size=(32, 32), mode="bilinear")[0]
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype("uint8")).save(folder / f"{i}.png")
    losses = []
    cfg = TrainConfig(data=[str(folder)], val=[str(folder)], snr_db=10.0, epochs=60, batch=8, crop=32,
                      lr=3e-3, val_every=60)
    card = train_deep_jscc(cfg, tmp_path / "ck.safetensors",
                           progress=lambda e, n, loss, v: losses.append(loss))
    assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5
    assert card["epochs_done"] == 60 and card["train_snr_db"] == 10.0
    assert (tmp_path / "ck.json").exists()


def test_shipped_checkpoints_cover_both_ratios_at_low_and_high_snr():
    ckpts = shipped_checkpoints()
    for ratio in (1 / 12, 1 / 6):
        snrs = [c.train_snr_db for c in ckpts if abs(c.bandwidth_ratio - ratio) < 1e-6]
        assert min(snrs) <= 1 and max(snrs) >= 13
        for c in ckpts:
            assert "command" in c.card and "val_psnr_db" in c.card
    assert choose_checkpoint(1 / 12, 9.0).train_snr_db == 10.0
    assert choose_checkpoint(1 / 6, -3.0).train_snr_db == 0.0


def test_codec_round_trip_beats_threshold_and_degrades_gracefully(kodim23):
    codec = DeepJsccCodec(design_snr_db=10.0)
    hi = codec.run(kodim23, snr_db=10.0, channel=AWGNChannel(), metrics=["psnr"]).record
    lo = codec.run(kodim23, snr_db=4.0, channel=AWGNChannel(), metrics=["psnr"]).record
    clean = codec.run(kodim23, snr_db=10.0, channel=NoiselessChannel(), metrics=["psnr"]).record
    assert hi["metrics"]["psnr"] > 30
    assert hi["bandwidth_ratio"] == pytest.approx(1 / 12, rel=0.01)
    assert 0 < hi["metrics"]["psnr"] - lo["metrics"]["psnr"] < 4  # no cliff
    assert clean["metrics"]["psnr"] >= hi["metrics"]["psnr"]


def test_rayleigh_training_and_resume(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray((torch.rand(24, 24, 3).numpy() * 255).astype("uint8")).save(folder / f"{i}.png")
    out = tmp_path / "r.safetensors"
    cfg = TrainConfig(data=[str(folder)], val=[str(folder)], channel="rayleigh", epochs=2, batch=4, crop=16)
    assert train_deep_jscc(cfg, out)["epochs_done"] == 2
    cfg.epochs = 4
    seen = []
    card = train_deep_jscc(cfg, out, resume=True, progress=lambda e, n, loss, v: seen.append(e))
    assert seen == [3, 4] and card["epochs_done"] == 4 and card["channel"] == "rayleigh"


def test_a_checkpoint_of_ones_own_without_its_card_gives_a_writable_record(tmp_path, small_image):
    """A user's .safetensors without the JSON card: the record says the training SNR is unknown
    (null), and it is strict JSON — the bench can write it."""
    import json
    import shutil

    from semcodec.bench.results_file import ResultsWriter

    shipped = choose_checkpoint(1 / 12, 10.0)
    own = tmp_path / "mine.safetensors"
    shutil.copy(shipped.path, own)
    (tmp_path / "mine.json").write_text('{"train_snr_db": NaN}')  # a tampered card: same outcome
    for card in (True, False):
        if not card:
            (tmp_path / "mine.json").unlink()
        rec = DeepJsccCodec(bandwidth=1 / 12, checkpoint=str(own)).run(
            small_image, snr_db=10.0, channel=AWGNChannel(), metrics=["psnr"]).record
        assert "NaN" not in json.dumps(rec) and rec["metrics"]["psnr"] > 20
        json.dumps(rec, allow_nan=False)
        with ResultsWriter(tmp_path / "r.jsonl") as w:
            w.append(rec)
    assert [json.loads(line)["codec"] for line in (tmp_path / "r.jsonl").read_text().splitlines()] == ["deep-jscc"] * 2


def _random_folder(folder, n=4, size=24):
    from PIL import Image

    folder.mkdir()
    gen = torch.Generator().manual_seed(5)
    for i in range(n):
        Image.fromarray((torch.rand(size, size, 3, generator=gen).numpy() * 255).astype("uint8")).save(folder / f"{i}.png")
    return folder


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_ctrl_c_saves_the_run_and_resume_ends_where_an_unbroken_run_ends(tmp_path):
    """Ctrl-C (or SIGTERM) mid-run saves a state that continues the very run: after --resume the
    weights equal those of a run never interrupted, bit for bit."""
    import os
    import signal

    from semcodec.train.checkpoint import TrainingInterrupted, state_path

    folder = _random_folder(tmp_path / "imgs")
    cfg = dict(data=[str(folder)], val=[str(folder)], epochs=4, batch=1, crop=16, val_every=4)
    train_deep_jscc(TrainConfig(**cfg), tmp_path / "whole.safetensors")

    out = tmp_path / "broken.safetensors"

    def ctrl_c(epoch, *_):
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match="--resume"):
        train_deep_jscc(TrainConfig(**cfg), out, progress=ctrl_c)
    assert torch.load(state_path(out), weights_only=True)["epoch"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    train_deep_jscc(TrainConfig(**cfg), out, resume=True)
    whole, resumed = _weights(tmp_path / "whole.safetensors"), _weights(out)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_kill_9_mid_epoch_loses_at_most_the_save_interval(tmp_path):
    """A run killed without warning (kill -9) mid-epoch has a state saved within SAVE_SECONDS;
    here 0 s, so every step: the resumed run still ends on the unbroken run's weights."""
    import subprocess
    import sys

    from semcodec.train.checkpoint import state_path

    folder = _random_folder(tmp_path / "imgs")
    cfg = dict(data=[str(folder)], val=[str(folder)], epochs=3, batch=1, crop=16, val_every=3)
    train_deep_jscc(TrainConfig(**cfg), tmp_path / "whole.safetensors")
    out = tmp_path / "killed.safetensors"
    script = f"""
import os, signal
import semcodec.train.deep_jscc as dj
dj.SAVE_SECONDS = 0.0
calls = []
crops = dj.random_crops
def killing_crops(*a, **k):
    calls.append(1)
    if len(calls) == 7:  # epoch 1 (0-based), its 3rd step: steps 1 and 2 of that epoch are saved
        os.kill(os.getpid(), signal.SIGKILL)
    return crops(*a, **k)
dj.random_crops = killing_crops
dj.train_deep_jscc(dj.TrainConfig(**{cfg!r}), dj.Path({str(out)!r}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    state = torch.load(state_path(out), weights_only=True)
    assert (state["epoch"], state["step_in_epoch"]) == (1, 2)  # saved after the killed step's predecessor
    train_deep_jscc(TrainConfig(**cfg), out, resume=True)
    whole, resumed = _weights(tmp_path / "whole.safetensors"), _weights(out)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_resume_refuses_weights_copied_over_the_checkpoint(tmp_path):
    """Another run's weights put in place of a checkpoint are not continued (and not overwritten)."""
    import shutil

    from semcodec.errors import InvalidInput

    folder = _random_folder(tmp_path / "imgs")
    cfg = dict(data=[str(folder)], val=[str(folder)], epochs=1, batch=2, crop=16)
    train_deep_jscc(TrainConfig(**cfg), tmp_path / "a.safetensors")
    train_deep_jscc(TrainConfig(**cfg, seed=1), tmp_path / "b.safetensors")
    shutil.copy(tmp_path / "b.safetensors", tmp_path / "a.safetensors")
    before = (tmp_path / "a.safetensors").read_bytes()
    with pytest.raises(InvalidInput, match="not the checkpoint its training state"):
        train_deep_jscc(TrainConfig(**{**cfg, "epochs": 2}), tmp_path / "a.safetensors", resume=True)
    assert (tmp_path / "a.safetensors").read_bytes() == before


def test_resume_refuses_another_runs_checkpoint_and_state_copied_together(tmp_path):
    import shutil

    from semcodec.errors import InvalidInput

    folder = _random_folder(tmp_path / "imgs")
    cfg = dict(data=[str(folder)], val=[str(folder)], epochs=1, batch=2, crop=16)
    train_deep_jscc(TrainConfig(**cfg), tmp_path / "a.safetensors")
    train_deep_jscc(TrainConfig(**cfg, seed=1), tmp_path / "b.safetensors")
    for suffix in (".safetensors", ".state.pt"):
        shutil.copy(tmp_path / f"b{suffix}", tmp_path / f"a{suffix}")
    with pytest.raises(InvalidInput, match="other seed"):
        train_deep_jscc(TrainConfig(**{**cfg, "epochs": 2}), tmp_path / "a.safetensors", resume=True)
