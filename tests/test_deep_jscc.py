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
