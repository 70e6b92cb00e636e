"""Trainers plug in like codecs: ``semcodec train NAME`` for every trainer registered under
``semcodec.trainers`` (the built-in three and the example plugin's), built from its declared
options, with the framework's checks, checkpoint writer and resume rule."""

from __future__ import annotations

import json
import shutil
from importlib.metadata import EntryPoint, entry_points

import pytest
from conftest import assert_clean_error, call_cli


@pytest.fixture()
def two_images(train_dir, tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    for path in sorted(train_dir.iterdir())[:2]:
        shutil.copy(path, folder / path.name)
    return folder


def test_train_help_lists_every_registered_trainer():
    code, out, err = call_cli("train", "--help")
    assert code == 0, err
    for name in ("deep-jscc", "adjscc", "uo-isc", "tiny-ae"):
        assert name in out


def test_the_example_plugins_trainer_runs_then_resumes_and_never_overwrites(two_images, tmp_path):
    out = tmp_path / "tiny.safetensors"
    args = ("train", "tiny-ae", "--data", two_images, "--out", out)
    code, stdout, err = call_cli(*args, "--steps", "6")
    assert code == 0, err
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["steps_done"] == 6 and out.with_suffix(".state.pt").is_file()
    assert 5 < card["train_psnr_db"] < 60  # a finite PSNR of real training (NaN fails both)
    code, stdout, err = call_cli(*args, "--steps", "9", "--resume")
    assert code == 0, err
    assert json.loads(out.with_suffix(".json").read_text())["steps_done"] == 9
    before = out.read_bytes()
    code, stdout, err = call_cli(*args, "--steps", "3")
    assert_clean_error(code, stdout, err, "--resume to continue")
    code, stdout, err = call_cli(*args, "--steps", "12", "--resume", "--batch", "2")
    assert_clean_error(code, stdout, err, "other batch")
    assert out.read_bytes() == before


@pytest.mark.parametrize("extra,needle", [(("--steps", "zero"), "--steps"), (("--steps", "0"), "--steps"),
                                          (("--crop", "12"), "multiple of 8"), (("--frobnicate",), "--frobnicate")])
def test_a_trainers_declared_options_are_typed_and_checked(two_images, tmp_path, extra, needle):
    code, out, err = call_cli("train", "tiny-ae", "--data", two_images, "--out", tmp_path / "t.safetensors", *extra)
    assert_clean_error(code, out, err, needle)
    assert not (tmp_path / "t.safetensors").exists()


def test_every_trainer_has_the_common_options_and_checks_them_first(two_images, tmp_path):
    code, out, err = call_cli("train", "tiny-ae", "--data", two_images, "--out", tmp_path / "t.ckpt")
    assert_clean_error(code, out, err, ".safetensors")
    code, out, err = call_cli("train", "tiny-ae", "--data", two_images, "--out", tmp_path / "t.safetensors",
                              "--device", "cuda:7")
    assert_clean_error(code, out, err, "cuda")
    code, out, err = call_cli("train", "tiny-ae", "--data", two_images, "--out", tmp_path / "t.safetensors", "--resume")
    assert_clean_error(code, out, err, "nothing to resume")


@pytest.fixture()
def fresh_trainers(monkeypatch):
    """The train group rebuilt from the entry points a test installs."""
    from semcodec import registry
    from semcodec.cli.app import train_app

    def install(*extra: EntryPoint) -> None:
        real = list(entry_points(group="semcodec.trainers"))
        registry.registered.cache_clear()
        monkeypatch.setattr(registry, "entry_points",
                            lambda group: real + list(extra) if group == "semcodec.trainers" else entry_points(group=group))
        monkeypatch.setattr(train_app, "registered_commands", [])

    yield install
    registry.registered.cache_clear()


@pytest.mark.parametrize("target,needle", [("semcodec_no_such_module:Trainer", "fails to import"),
                                           ("semcodec.codec:Codec", "not a semcodec.Trainer subclass")])
def test_a_broken_trainer_plugin_is_listed_and_says_why_without_breaking_the_others(fresh_trainers, target, needle):
    fresh_trainers(EntryPoint("broken", target, "semcodec.trainers"))
    code, out, err = call_cli("train", "--help")
    assert code == 0 and "broken" in out and "tiny-ae" in out, err
    code, out, err = call_cli("train", "broken")
    assert_clean_error(code, out, err, needle)
