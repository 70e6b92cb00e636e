"""Hostile input, case by case: every one is one line and exit 2 (or 0 where it is legitimate),
never a traceback, and no record is ever lost. Grows with every case found (issue 10)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch

from conftest import assert_clean_error, call_cli


def write_png_header_bomb(path: Path, width: int, height: int) -> Path:
    """A valid all-black PNG of ``width`` x ``height`` written row by row (a few hundred KB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, kodak_dir):
    """Two 48x64 Kodak crops: a dataset every codec crosses in milliseconds."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("tiny_set")
    for name in ("kodim05", "kodim23"):
        Image.open(kodak_dir / f"{name}.png").resize((64, 48)).save(folder / f"{name}.png")
    return folder


# -- usage errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (("decode", "x.npz", "--json"), "no such option"),
    (("bench", "kodak24", "--limit", "0"), "--limit"),
    (("bench", "kodak24", "--limit", "-3"), "--limit"),
    (("encode", "--seed", "abc"), "--seed"),
    (("encode", "--grid", "abc"), "grid='abc' is not valid"),
    (("decode", "x.npz"), "--output"),
    (("frobnicate",), "no such command"),
    (("codecs", "extra"), "unexpected extra"),
    (("encode", "--codec", "deep-jscc", "--seed", "18446744073709551616"), "--seed"),
    (("encode", "--codec", "deep-jscc", "--seed", "-1"), "--seed"),
    (("encode", "--codec", "bpg-ldpc", "--opt", "iterations=abc"), "iterations"),
    (("encode", "--codec", "bpg-ldpc", "--opt", "margin_db=abc"), "margin_db"),
    (("encode", "--codec", "bpg-ldpc", "--opt", "iterations=1e9"), "iterations"),
    (("encode", "--codec", "bpg-ldpc", "--opt", "chroma=422"), "one of"),
    (("encode", "--codec", "deep-jscc", "--opt", "bogus=1"), "options: checkpoint"),
    (("encode", "--codec", "deep-jscc", "--max-pixels", "0"), "--max-pixels"),
    (("encode", "--codec", "deep-jscc", "--device", "tpu:9"), "device"),
    (("report", "x.jsonl", "--metric", "foo"), "unknown metric"),
    (("report", "x.jsonl", "--plot", "fig.xyz"), "unsupported format"),
    (("train", "deep-jscc", "--data", ".", "--out", "m.safetensors", "--lr", "nan"), "--lr"),
    (("train", "adjscc", "--data", ".", "--out", "m.safetensors", "--lr", "-1"), "--lr"),
    (("train", "adjscc", "--data", ".", "--out", "m.txt"), "unsupported format"),
])
def test_usage_errors_are_one_line_and_exit_2(args, needle, tmp_path):
    assert_clean_error(*call_cli(*args, cwd=tmp_path), needle)


def test_train_with_zero_epochs_is_a_usage_error(tmp_path, tiny_folder):
    code, out, err = call_cli("train", "deep-jscc", "--data", tiny_folder, "--out", tmp_path / "m.safetensors",
                              "--epochs", "0")
    assert_clean_error(code, out, err, "--epochs")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_device_without_a_gpu_is_refused_before_work(tmp_path):
    code, out, err = call_cli("encode", "--codec", "deep-jscc", "--device", "cuda", "-o", tmp_path / "x.png")
    assert_clean_error(code, out, err, "no CUDA GPU")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("plot", ["p.xyz", "/nonexistent/dir/fig.png"])
def test_bench_checks_the_plot_path_before_any_work(plot, tmp_path, tiny_folder):
    out = tmp_path / "r.jsonl"
    code, o, e = call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out,
                          "--plot", plot, cwd=tmp_path)
    assert_clean_error(code, o, e, "fig.png" if plot.startswith("/") else "unsupported format")
    assert not out.exists()  # nothing was run


def test_report_on_records_with_missing_fields_or_strings(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"codec": "x"}\n{"codec": "deep-jscc", "dataset": "d", "image": "i", "snr_db": "ten", '
                   '"channel": "awgn", "seed": 0, "status": "ok", "metrics": {"psnr": "high"}}\n[1, 2]\n'
                   '{"codec": "deep-jscc", "dataset": "d", "image": "i", "snr_db": 3, "channel": "awgn", "seed": 0, '
                   '"status": "ok", "metrics": {"psnr": 30.0}, "bandwidth_ratio": 0.08, '
                   '"config": {"design_snr_db": "ten"}}\n')
    assert_clean_error(*call_cli("report", bad), "no semcodec records")


# -- images ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    return write_png_header_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png", 20000, 20000)


def test_a_png_declaring_20000x20000_is_refused_from_its_header(bomb, tmp_path):
    assert bomb.stat().st_size < 1_000_000
    code, out, err = call_cli("encode", bomb, "--codec", "deep-jscc", "-o", tmp_path / "x.png")
    assert_clean_error(code, out, err, "over the limit of 64,000,000")
    code, out, err = call_cli("encode", bomb, "--codec", "deep-jscc", "--max-pixels", "1000")
    assert_clean_error(code, out, err, "over the limit of 1,000 ")


def test_a_real_12000x12000_image_is_refused_in_little_memory(tmp_path):
    big = write_png_header_bomb(tmp_path / "big.png", 12000, 12000)
    for codec in ("deep-jscc", "bpg-ldpc"):
        code = ("import resource, subprocess, sys;"
                f"p = subprocess.run([sys.executable, '-m', 'semcodec.cli', 'encode', {str(big)!r}, '--codec', "
                f"{codec!r}], capture_output=True, text=True);"
                "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
                "print(p.stderr, file=sys.stderr)")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        rc, max_rss_kb = map(int, proc.stdout.split())
        assert rc == 2 and "over the limit of 64,000,000" in proc.stderr and "Traceback" not in proc.stderr
        assert max_rss_kb < 4 * 1024 * 1024, f"{codec} used {max_rss_kb / 1024:.0f} MB"


def test_special_files_are_refused_for_what_they_are(tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    loop_a, loop_b = tmp_path / "a.png", tmp_path / "b.png"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    for path, needle in ((fifo, "a FIFO"), (loop_a, "symbolic link loop"), (Path("/dev/zero"), "a device"),
                         (tmp_path, "a folder"), (tmp_path / "none.png", "no such file")):
        assert_clean_error(*call_cli("encode", path, "--codec", "deep-jscc"), needle)
        assert_clean_error(*call_cli("decode", path, "-o", tmp_path / "x.png"), needle)


def test_a_bad_image_in_a_bench_folder_is_a_skipped_record_and_the_run_goes_on(tmp_path, tiny_folder, bomb):
    folder = tmp_path / "set"
    folder.mkdir()
    for f in tiny_folder.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "aaa_bomb.png").write_bytes(bomb.read_bytes())
    (folder / "broken.png").write_text("not an image")
    out = tmp_path / "r.jsonl"
    args = ("bench", folder, "--codecs", "uncoded-analog", "--snr", "0,10", "--out", out)
    code, o, e = call_cli(*args)
    assert code == 0, e
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    skipped = [r for r in recs if r["status"] == "skipped"]
    assert len(recs) == 8 and len(skipped) == 4
    assert {r["image"] for r in skipped} == {"aaa_bomb", "broken"} and all(r["reason"] for r in skipped)
    assert call_cli(*args)[0] == 0
    assert out.read_text().count("\n") == 8  # resumed: nothing new, nothing twice


# -- results files ---------------------------------------------------------------------------
def _records(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # every line readable


def _keys(recs: list[dict]) -> list[tuple]:
    return [(r["image"], r["codec"], r["snr_db"]) for r in recs]


def test_a_torn_last_line_is_moved_aside_and_the_resume_is_clean(tmp_path, tiny_folder):
    out = tmp_path / "r.jsonl"
    base = ("bench", tiny_folder, "--codecs", "uncoded-analog", "--out", out)
    assert call_cli(*base, "--snr", "0,5")[0] == 0
    whole = out.read_text()
    torn = whole.splitlines()[-1][: 57]
    out.write_text(whole + torn)  # killed mid-write
    code, o, e = call_cli(*base, "--snr", "0,5,10")
    assert code == 0 and "torn" in e
    recs = _records(out)
    assert len(recs) == 6 and len(set(_keys(recs))) == 6
    assert (tmp_path / "r.jsonl.torn").read_text() == torn + "\n"


def test_a_second_bench_on_the_same_out_is_refused(tmp_path, tiny_folder):
    from semcodec.bench.results_file import ResultsWriter

    out = tmp_path / "r.jsonl"
    with ResultsWriter(out):
        code, o, e = call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert_clean_error(code, o, e, "being written by another bench")
    assert call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)[0] == 0


@pytest.mark.parametrize("target", ["/dev/full", "/dev/zero", "DIR"])
def test_out_must_be_a_regular_file(target, tmp_path, tiny_folder):
    out = tmp_path if target == "DIR" else target
    code, o, e = call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert code == 2 and "Traceback" not in o + e and len(e.strip().splitlines()) == 1
    assert_clean_error(*call_cli("report", out), "not a regular file")


def test_foreign_and_malformed_lines_are_counted_and_skipped(tmp_path, tiny_folder):
    out = tmp_path / "r.jsonl"
    out.write_text('{"codec": "deep-jscc", "snr_db": 3}\nnot json at all\n{"tool": "other"}\n')
    code, o, e = call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert code == 0 and "1 line(s) that are not JSON" in e and "2 JSON object(s)" in e
    code, o, e = call_cli("report", out)
    assert code == 0 and "uncoded-analog" in o and "not JSON" in e


def test_report_deduplicates_by_the_record_key(tmp_path, tiny_folder):
    from semcodec.bench import read_records
    from semcodec.report import aggregate

    out = tmp_path / "r.jsonl"
    assert call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "0,5", "--out", out)[0] == 0
    once = call_cli("report", out)[1]
    twice = tmp_path / "twice.jsonl"
    twice.write_text(out.read_text() * 2)  # two benches appended the same work
    assert call_cli("report", twice)[1].splitlines()[1:] == once.splitlines()[1:]  # the title names the file
    cells = aggregate(read_records(twice))[0].rows[0].cells
    assert all(c.n == 2 for c in cells.values())  # two images per cell, not four


def test_disk_full_mid_write_leaves_no_partial_line_and_resumes(tmp_path, tiny_folder, monkeypatch):
    out = tmp_path / "r.jsonl"
    base = ("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "0,5,10", "--out", out)
    real_write = os.write
    calls = {"n": 0}

    def full_after_two(fd, data):
        calls["n"] += 1
        if calls["n"] > 2:  # the third record: half of it fits, then the disk is full
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("semcodec.bench.results_file.os.write", full_after_two)
    code, o, e = call_cli(*base)
    assert_clean_error(code, o, e, "the disk is full")
    assert len(_records(out)) == 2  # the two written records are whole; no torn line
    monkeypatch.setattr("semcodec.bench.results_file.os.write", real_write)  # space is back
    assert call_cli(*base)[0] == 0
    recs = _records(out)
    assert len(recs) == 6 and len(set(_keys(recs))) == 6


def test_kill_9_during_a_bench_then_resume(tmp_path, kodak_dir):
    out = tmp_path / "r.jsonl"
    args = [sys.executable, "-m", "semcodec.cli", "bench", "kodak24", "--data", str(kodak_dir), "--codecs",
            "deep-jscc", "--snr", "0,3,6,9,12", "--limit", "2", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 10):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open(out, "ab") as f:  # and, as if the kill came mid-write, half a record
        f.write(b'{"codec": "deep-jscc", "dataset": "kodak24", "image": "kodim0')
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    recs = _records(out)
    assert len(recs) == 10 and len(set(_keys(recs))) == 10


# -- plugins ---------------------------------------------------------------------------------
def test_an_entry_point_naming_a_non_class_is_reported_not_a_traceback(monkeypatch, tmp_path, tiny_folder):
    from importlib.metadata import EntryPoint

    from semcodec import registry

    real = registry.registered

    def with_bad(group):
        found = dict(real(group))
        if group == registry.CODECS:
            ep = EntryPoint(name="bad", value="math:pi", group=group)
            found["bad"] = registry.Registered("bad", "math:pi", "bad-plugin", ep)
        return found

    monkeypatch.setattr(registry, "registered", with_bad)
    code, out, err = call_cli("codecs")
    cells = "".join(out.replace("│", " ").split())  # the table folds long cells over lines
    assert code == 0 and "notasemcodec.Codecsubclass" in cells
    assert_clean_error(*call_cli("encode", "--codec", "bad"), "not a semcodec.Codec subclass")
    code, out, err = call_cli("bench", tiny_folder, "--codecs", "all", "--snr", "5", "--out", tmp_path / "r.jsonl")
    assert code == 0 and "skipping bad" in err


# -- training ---------------------------------------------------------------------------------
def test_train_refuses_a_missing_folder_and_a_resume_onto_a_foreign_file(tmp_path, tiny_folder):
    assert_clean_error(*call_cli("train", "deep-jscc", "--data", tiny_folder, "--out",
                                 tmp_path / "no" / "dir" / "m.safetensors", "--epochs", "1"), "cannot write")
    garbage = tmp_path / "g.safetensors"
    garbage.write_text("not a checkpoint")
    for trainer in ("deep-jscc", "adjscc"):
        assert_clean_error(*call_cli("train", trainer, "--data", tiny_folder, "--out", garbage, "--resume"),
                           "training state")
    assert garbage.read_text() == "not a checkpoint"  # not overwritten


def test_ctrl_c_during_training_exits_130(tmp_path, tiny_folder):
    out = tmp_path / "m.safetensors"
    proc = subprocess.Popen([sys.executable, "-m", "semcodec.cli", "train", "deep-jscc", "--data", str(tiny_folder),
                             "--out", str(out), "--crop", "32", "--batch", "2", "--epochs", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err


# -- found by a hostile review ----------------------------------------------------------------
def test_bench_refuses_to_append_to_a_file_that_is_not_a_results_file(tmp_path, tiny_folder):
    victim = tmp_path / "photo.png"
    victim.write_bytes((tiny_folder / "kodim05.png").read_bytes())
    before = victim.read_bytes()
    assert_clean_error(*call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", victim),
                       "does not look like a results file")
    assert victim.read_bytes() == before and not (tmp_path / "photo.png.torn").exists()


def test_outputs_may_not_overwrite_the_input_or_each_other(tmp_path, tiny_folder):
    img = tmp_path / "in.png"
    img.write_bytes((tiny_folder / "kodim05.png").read_bytes())
    assert_clean_error(*call_cli("encode", img, "--codec", "deep-jscc", "-o", img), "same file")
    assert_clean_error(*call_cli("encode", img, "--codec", "deep-jscc", "-o", tmp_path / "x.png",
                                 "--save-signal", tmp_path / "x.png"), "same file")
    assert img.read_bytes() == (tiny_folder / "kodim05.png").read_bytes()


def test_another_folder_of_the_same_name_or_an_edited_image_is_recomputed(tmp_path, tiny_folder, kodak_dir):
    from PIL import Image

    a, b = tmp_path / "one" / "ds", tmp_path / "two" / "ds"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    Image.open(kodak_dir / "kodim05.png").resize((64, 48)).save(a / "x.png")
    Image.open(kodak_dir / "kodim23.png").resize((64, 48)).save(b / "x.png")
    out = tmp_path / "r.jsonl"
    for folder in (a, b):
        assert call_cli("bench", folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)[0] == 0
    recs = _records(out)
    assert len(recs) == 2 and recs[0]["metrics"]["psnr"] != recs[1]["metrics"]["psnr"]


def test_two_files_with_one_stem_are_two_images(tmp_path, kodak_dir):
    from PIL import Image

    folder = tmp_path / "ds"
    folder.mkdir()
    Image.open(kodak_dir / "kodim05.png").resize((64, 48)).save(folder / "a.png")
    Image.open(kodak_dir / "kodim23.png").resize((64, 48)).save(folder / "a.jpg")
    out = tmp_path / "r.jsonl"
    assert call_cli("bench", folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)[0] == 0
    assert sorted(r["image"] for r in _records(out)) == ["a.jpg", "a.png"]


def test_a_resume_after_a_namesake_was_added_is_refused_not_counted_twice(tmp_path, kodak_dir):
    """a.png was benched as ``a``; a.jpg put beside it makes a.png's id ``a.png``: resuming into
    the same file would compute it again under the new id and the report would count it twice."""
    from PIL import Image

    folder = tmp_path / "ds"
    folder.mkdir()
    Image.open(kodak_dir / "kodim05.png").resize((64, 48)).save(folder / "a.png")
    out = tmp_path / "r.jsonl"
    args = ("bench", folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert call_cli(*args)[0] == 0
    before = out.read_bytes()
    Image.open(kodak_dir / "kodim23.png").resize((64, 48)).save(folder / "a.jpg")
    code, out_text, err = call_cli(*args)
    assert_clean_error(code, out_text, err, "now 'a.png'")
    assert out.read_bytes() == before
    assert call_cli(*args[:-1], tmp_path / "other.jsonl")[0] == 0


def test_a_resume_that_asks_for_another_metric_computes_it(tmp_path, tiny_folder):
    out = tmp_path / "r.jsonl"
    base = ("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert call_cli(*base, "--metrics", "ms_ssim")[0] == 0
    assert call_cli(*base, "--metrics", "psnr")[0] == 0
    from semcodec.bench import read_records

    assert all(r["metrics"]["psnr"] is not None for r in read_records(out))


def test_16_bit_and_float_images_are_scaled_not_clipped(tmp_path):
    import numpy as np
    from PIL import Image

    from semcodec.imageio import load_image

    ramp = np.linspace(0, 1, 48 * 64).reshape(48, 64)
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(tmp_path / "g16.png")
    Image.fromarray(ramp.astype(np.float32)).save(tmp_path / "f.tif")
    for name in ("g16.png", "f.tif"):
        x = load_image(tmp_path / name)
        assert abs(x.mean().item() - 0.5) < 0.01 and x.min() == 0 and x.max() == 1


@pytest.mark.parametrize("env, needle", [({"SEMCODEC_MAX_PIXELS": "inf"}, "SEMCODEC_MAX_PIXELS"),
                                         ({"SEMCODEC_DEVICE": "garbage"}, "device")])
def test_bad_environment_values_are_one_line_errors(env, needle, monkeypatch):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert_clean_error(*call_cli("encode", "--codec", "deep-jscc"), needle)


def test_a_receiver_cannot_override_what_the_transmitter_chose(tmp_path, tiny_folder):
    sig = tmp_path / "s.npz"
    assert call_cli("encode", tiny_folder / "kodim05.png", "--codec", "bpg-ldpc", "--opt", "chroma=444",
                    "--save-signal", sig)[0] == 0
    assert_clean_error(*call_cli("decode", sig, "-o", tmp_path / "o.png", "--opt", "chroma=420"),
                       "set by the transmitter")


def test_a_closed_pipe_is_a_quiet_exit_0(tmp_path):
    # pipefail: the exit code is semcodec's, not head's
    proc = subprocess.run(f"set -o pipefail; {sys.executable} -m semcodec.cli codecs | head -c 1 >/dev/null",
                          shell=True, capture_output=True, text=True, executable="/bin/bash",
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def test_malformed_semcodec_toml_and_impossible_model_paths(tmp_path):
    (tmp_path / "semcodec.toml").write_text('models = "x"\n')
    assert_clean_error(*call_cli("models", "list", cwd=tmp_path), "semcodec.toml")
    (tmp_path / "semcodec.toml").write_bytes(b"\xff\xfe[models]\n")
    assert_clean_error(*call_cli("models", "list", cwd=tmp_path), "semcodec.toml")
    (tmp_path / "semcodec.toml").write_text('[models]\ncaptioner = "/etc/passwd"\nsegmenter = "/etc"\n')
    code, out, err = call_cli("models", "list", cwd=tmp_path)
    assert code == 0 and "yes /etc" not in out


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (9, 7)])
def test_an_image_too_small_for_any_header_is_a_clear_error_for_every_budget_codec(size, tmp_path):
    from PIL import Image

    img = tmp_path / "tiny.png"
    Image.new("RGB", size, (120, 40, 200)).save(img)
    for codec in ("bpg-ldpc", "deep-jscc", "adjscc"):
        assert_clean_error(*call_cli("encode", img, "--codec", codec, "--snr", "10"), "header")
    out = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", tmp_path, "--codecs", "bpg-ldpc,deep-jscc", "--snr", "10", "--out", out)
    assert code == 0, err
    assert {r["status"] for r in _records(out)} == {"skipped"}


def test_a_checkpoint_for_another_budget_is_refused_at_both_ends(tmp_path, tiny_folder):
    img = tiny_folder / "kodim05.png"
    assert_clean_error(*call_cli("encode", img, "--codec", "deep-jscc", "--opt", "checkpoint=deep_jscc_k1_6_snr10"),
                       "not the budget")
    sig = tmp_path / "s.npz"
    assert call_cli("encode", img, "--codec", "deep-jscc", "--save-signal", sig)[0] == 0
    import numpy as np

    with np.load(sig) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    meta["header"]["checkpoint"] = "deep_jscc_k1_6_snr5"
    with open(sig, "wb") as f:
        np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    assert_clean_error(*call_cli("decode", sig, "-o", tmp_path / "x.png"), "not the budget")


# -- hardening round 2 (issue 21) -------------------------------------------------------------
@pytest.mark.parametrize("trainer, length", [("deep-jscc", "--epochs"), ("adjscc", "--steps")])
def test_a_second_training_run_never_replaces_the_first_model(trainer, length, tmp_path, tiny_folder):
    out = tmp_path / "m.safetensors"
    args = ("train", trainer, "--data", tiny_folder, "--out", out, length, "1", "--crop", "32", "--batch", "2")
    code, _, err = call_cli(*args)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert_clean_error(*call_cli(*args), "--force")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing replaced
    out.unlink()  # the card alone (or the state alone) is also a trained run's
    assert_clean_error(*call_cli(*args), "exists")
    assert_clean_error(*call_cli(*args, "--force", "--resume"), "one of them")
    code, _, err = call_cli(*args, "--force")
    assert code == 0 and out.exists(), err


def _batch_trainers() -> list[str]:
    from semcodec.registry import names
    from semcodec.train import TRAINERS, load_trainer

    return [n for n in names(TRAINERS) if {"batch", "crop"} <= set(load_trainer(n).options)]


@pytest.mark.parametrize("trainer", _batch_trainers())
def test_a_batch_past_the_machines_memory_is_refused_before_the_first_step(trainer, tmp_path, tiny_folder):
    """Every registered trainer with --batch and --crop (a plugin's too) is checked by the
    framework, before its data is loaded: memory follows batch x crop, not the data."""
    from semcodec.train import REQUIRED, load_trainer

    cls = load_trainer(trainer)
    assert "tiny-ae" in _batch_trainers() and "deep-jscc" in _batch_trainers()
    args = ["train", trainer, "--out", tmp_path / "m.safetensors", "--batch", "100000"]
    for key, option in cls.options.items():
        if option.default is REQUIRED:  # the folders a trainer reads: the tiny set
            args += [(option.flags or (f"--{key.replace('_', '-')}",))[0], tiny_folder]
    assert_clean_error(*call_cli(*args), "lower --batch")
    assert not any(tmp_path.iterdir())


def test_an_output_file_named_with_a_trailing_slash_is_refused(tmp_path, tiny_folder):
    """``--out M.safetensors/`` names a folder: it must not become a file of that name."""
    for args in (("train", "tiny-ae", "--data", tiny_folder, "--steps", "1", "--out", f"{tmp_path}/m.safetensors/"),
                 ("encode", "--codec", "deep-jscc", "--snr", "6", "-o", f"{tmp_path}/r.png/"),
                 ("encode", "--codec", "deep-jscc", "--snr", "6", "--save-signal", f"{tmp_path}/s.npz/"),
                 ("bench", "--codecs", "deep-jscc", "--snr", "6", "--data", tiny_folder, "--out", f"{tmp_path}/r.jsonl/"),
                 ("bench", "--codecs", "deep-jscc", "--snr", "6", "--data", tiny_folder, "--plot", f"{tmp_path}/p.png/"),
                 ("report", tiny_folder / "none.jsonl", "--grid", f"{tmp_path}/g.png/"),
                 ("decode", tiny_folder / "none.npz", "-o", f"{tmp_path}/r.png/")):
        assert_clean_error(*call_cli(*args), "is a folder")
    assert not any(tmp_path.iterdir())


def test_an_image_replaced_during_a_bench_is_recorded_under_the_hash_of_the_bytes_decoded(tmp_path, kodak_dir):
    from PIL import Image, ImageFilter

    from semcodec.bench import BenchPlan, file_digest, run_bench
    from semcodec.channel import AWGNChannel
    from semcodec.data import folder as dataset_folder
    from semcodec.codec import load_codec

    ds = tmp_path / "ds"
    ds.mkdir()
    Image.open(kodak_dir / "kodim05.png").resize((64, 48)).save(ds / "a.png")
    Image.open(kodak_dir / "kodim23.png").resize((64, 48)).save(ds / "b.png")
    original = (ds / "b.png").read_bytes()
    blurred = tmp_path / "blurred.png"
    Image.open(ds / "b.png").filter(ImageFilter.GaussianBlur(3)).save(blurred)
    out = tmp_path / "r.jsonl"

    def plan():
        return BenchPlan("ds", dataset_folder(ds), {"uncoded-analog": load_codec("uncoded-analog")()}, [5.0],
                         AWGNChannel(), metrics=["psnr"], out=out)

    def swap(rec, cached):  # b.png is replaced after the plan hashed it, before it is read
        if rec["image"] == "a":
            (ds / "b.png").write_bytes(blurred.read_bytes())

    run_bench(plan(), on_record=swap)
    bad = next(r for r in _records(out) if r["image"] == "b")
    assert bad["image_sha256"] == file_digest(blurred)
    (ds / "b.png").write_bytes(original)  # restored: the resume computes it again, from the original
    recs = run_bench(plan())
    good = next(r for r in recs if r["image"] == "b")
    assert good["image_sha256"] == file_digest(ds / "b.png") and good["metrics"]["psnr"] != bad["metrics"]["psnr"]


def test_a_folder_merely_named_kodak24_is_labelled_by_its_path(tmp_path, kodak_dir):
    import shutil

    from PIL import Image, ImageFilter

    from semcodec.data import resolve

    fake = tmp_path / "fk" / "kodak24"
    shutil.copytree(kodak_dir, fake, ignore=shutil.ignore_patterns("*.part"))
    name, _ = resolve(str(fake))
    assert name == "kodak24"  # the true set, wherever it lies
    Image.open(fake / "kodim07.png").filter(ImageFilter.GaussianBlur(2)).save(fake / "kodim07.png")
    name, _ = resolve(str(fake))
    assert name == str(fake)
    for other in ("bsds500", "voc2012"):
        lookalike = tmp_path / "x" / other
        lookalike.mkdir(parents=True)
        shutil.copy(kodak_dir / "kodim01.png", lookalike / "a.png")
        assert resolve(str(lookalike))[0] == str(lookalike)


def test_image_ids_are_unique_within_a_dataset(tmp_path, kodak_dir):
    from PIL import Image

    folder = tmp_path / "ds"
    folder.mkdir()
    for i, name in enumerate(("a.png", "a.jpg", "a.png.webp", "a.jpg.png")):
        Image.open(kodak_dir / f"kodim0{i + 1}.png").resize((64, 48)).save(folder / name)
    out = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert code == 0, err
    ids = [r["image"] for r in _records(out)]
    assert len(ids) == 4 and len(set(ids)) == 4
    code, table, err = call_cli("report", out, "--format", "csv")
    assert code == 0 and "edited" not in err and ",4," in table, (table, err)


def test_a_symlinked_image_stays_in_the_folder_the_user_named(tmp_path, kodak_dir):
    from PIL import Image

    elsewhere, ds = tmp_path / "elsewhere", tmp_path / "ds"
    elsewhere.mkdir()
    ds.mkdir()
    Image.open(kodak_dir / "kodim05.png").resize((64, 48)).save(ds / "a.png")
    Image.open(kodak_dir / "kodim23.png").resize((64, 48)).save(elsewhere / "target.png")
    (ds / "b.png").symlink_to(elsewhere / "target.png")
    out = tmp_path / "r.jsonl"
    assert call_cli("bench", ds, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)[0] == 0
    assert {r["dataset_path"] for r in _records(out)} == {str(ds)}
    code, table, err = call_cli("report", out, "--format", "csv")
    assert code == 0 and ",2," in table, table


@pytest.mark.parametrize("how", ["env", "flag"])
def test_a_data_folder_that_is_a_file_is_one_line(how, tmp_path, monkeypatch):
    args = ["bench", "kodak24", "--codecs", "deep-jscc", "--snr", "5", "--out", tmp_path / "r.jsonl"]
    if how == "env":
        monkeypatch.setenv("SEMCODEC_DATA", "/etc/passwd")
    else:
        args += ["--data", "/etc/passwd"]
    assert_clean_error(*call_cli(*args), "not a folder")
    assert_clean_error(*call_cli("bench", "/etc/passwd", "--codecs", "deep-jscc", "--out", tmp_path / "r.jsonl"),
                       "not a folder")


@pytest.fixture(scope="module")
def kept_bench(tmp_path_factory, tiny_folder):
    """A bench with kept reconstructions: the records and images `report --grid/--html` draws."""
    folder = tmp_path_factory.mktemp("kept")
    out = folder / "k.jsonl"
    code, _, err = call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5,10", "--out", out,
                            "--keep-images", folder / "kept")
    assert code == 0, err
    return _records(out)


def _write(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _bad_file(kind: str, tmp_path: Path):
    if kind == "int":
        return 5
    if kind == "passwd":
        return "/etc/passwd"
    if kind == "empty":
        (tmp_path / "e.png").write_bytes(b"")
        return str(tmp_path / "e.png")
    if kind == "svg":
        (tmp_path / "i.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
        return str(tmp_path / "i.svg")
    if kind == "gigapixel":
        return str(write_png_header_bomb(tmp_path / "bomb.png", 100_000, 100_000))
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo.png")
        return str(tmp_path / "fifo.png")
    return "/dev/zero"


@pytest.mark.parametrize("kind", ["int", "passwd", "empty", "truncated", "svg", "gigapixel", "fifo", "devzero"])
def test_a_bad_kept_image_is_skipped_with_a_note_and_the_rest_is_drawn(kind, kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    if kind == "truncated":
        good = Path(recs[0]["files"]["reconstruction"]).read_bytes()
        (tmp_path / "t.png").write_bytes(good[: len(good) // 3])
        recs[0]["files"]["reconstruction"] = str(tmp_path / "t.png")
    else:
        recs[0]["files"]["reconstruction"] = _bad_file(kind, tmp_path)
    results = _write(tmp_path / "r.jsonl", recs)
    code, out, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--html", tmp_path / "h",
                              "--format", "csv")
    assert code == 0 and "Traceback" not in err and "internal error" not in err, err
    assert (tmp_path / "g.png").is_file() and (tmp_path / "h" / "index.html").is_file()
    if kind != "int":
        assert "left out of the grid" in err, err


@pytest.mark.parametrize("field, value", [
    ("provenance", [1, 2]), ("provenance.metric_models", ["clip"]), ("provenance.components", "x"),
    ("image_path", 7), ("files", [1]), ("streams", "x"), ("texts", [1]), ("unavailable", 3),
    ("image_sha256", {"a": 1}), ("channel_uses", "many"),
    ("channel", "rician:K=nan"), ("channel", "rician:K=inf"), ("channel", ""), ("channel", "awgn:"),
    ("channel", "a b"), ("dataset", ""), ("codec", " "), ("channel_params", [1]), ("channel_params", "K=3"),
    ("channel_params", {"K": [3]}),
])
def test_a_record_field_of_the_wrong_type_is_skipped_with_a_note(field, value, kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    node = recs[0]
    *parents, last = field.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    results = _write(tmp_path / "r.jsonl", recs)
    code, out, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--html", tmp_path / "h")
    assert code == 0 and "not semcodec records" in err and "internal error" not in err, err


@pytest.mark.parametrize("path", ["/dev/zero", "fifo"])
def test_report_never_opens_a_special_file_named_by_a_record(path, kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    if path == "fifo":
        os.mkfifo(tmp_path / "fifo")
        path = str(tmp_path / "fifo")
    twin = dict(recs[0], image_path=path, image_sha256="0" * 16)  # a second record of one image
    results = _write(tmp_path / "r.jsonl", [twin, *recs])
    proc = subprocess.run([sys.executable, "-m", "semcodec.cli", "report", str(results), "--format", "csv"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_duplicated_key_in_a_record_is_reported(kept_bench, tmp_path):
    line = json.dumps(kept_bench[0]).replace('"psnr":', '"psnr": 99.0, "psnr":', 1)
    results = tmp_path / "r.jsonl"
    results.write_text(line + "\n")
    code, out, err = call_cli("report", results, "--format", "csv")
    assert code == 0 and "give a key twice" in err and "'psnr'" in err, err


@pytest.mark.parametrize("text", ["[models]\ncaptioner = " + "[" * 3000 + "]" * 3000 + "\n",
                                  "x = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n"])
def test_a_deeply_nested_semcodec_toml_is_one_line(text, tmp_path):
    (tmp_path / "semcodec.toml").write_text(text)
    assert_clean_error(*call_cli("models", "list", cwd=tmp_path), "nested too deeply")
    assert_clean_error(*call_cli("encode", "--codec", "deep-jscc", "--snr", "5", "-o", tmp_path / "x.png",
                                 cwd=tmp_path), "semcodec.toml")


def _record_strategy(base: dict, tmp: str):
    from hypothesis import strategies as st

    junk = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                     st.text(max_size=8), st.lists(st.integers(), max_size=3),
                     st.dictionaries(st.text(max_size=4), st.integers(), max_size=3))
    paths = st.sampled_from(["/dev/zero", "/etc/passwd", tmp, tmp + "/nope.png", base["files"]["reconstruction"], ""])
    fields = st.sampled_from(["provenance", "metrics", "files", "image_path", "image_sha256", "status", "snr_db",
                              "seed", "config", "texts", "streams", "dataset_path", "unavailable", "bandwidth_ratio",
                              "files.reconstruction", "files.source", "provenance.metric_models",
                              "provenance.config_digest", "metrics.psnr"])
    return st.lists(st.tuples(fields, st.one_of(junk, paths)), max_size=4)


def test_generated_records_never_crash_report_grid_or_html(kept_bench, tmp_path):
    from hypothesis import HealthCheck, given, settings

    base = kept_bench[0]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(edits=_record_strategy(base, str(tmp_path)))
    def run(edits):
        rec = json.loads(json.dumps(base))
        for field, value in edits:
            node = rec
            *parents, last = field.split(".")
            for p in parents:
                if not isinstance(node.get(p), dict):
                    node[p] = {}
                node = node[p]
            node[last] = value
        lines = [json.dumps(rec, allow_nan=True), *(json.dumps(r) for r in kept_bench[1:])]
        results = tmp_path / "gen.jsonl"
        results.write_text("\n".join(lines) + "\n")
        code, out, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--html", tmp_path / "h",
                                  "--format", "json")
        assert code in (0, 2) and "Traceback" not in err and "internal error" not in err, (edits, err)
        if code == 2:
            assert len([line for line in err.splitlines() if line.strip()]) == 1, err

    run()


def test_a_damaged_training_state_or_another_configuration_is_refused_in_one_line(tmp_path, tiny_folder):
    """--resume onto a state that is truncated, a torch file of other content, or a run made with
    other settings: one line, exit 2, the files untouched (never exit 1, never a silent restart)."""
    out = tmp_path / "m.safetensors"
    code, _, err = call_cli("train", "deep-jscc", "--data", tiny_folder, "--out", out, "--epochs", "1",
                            "--crop", "32", "--batch", "2")
    assert code == 0, err
    assert_clean_error(*call_cli("train", "deep-jscc", "--data", tiny_folder, "--out", out, "--epochs", "2",
                                 "--crop", "32", "--batch", "2", "--snr", "3", "--resume"), "snr_db")
    state = out.with_suffix(".state.pt")
    good = state.read_bytes()
    for damaged in (good[: len(good) // 2], None, [1, 2, 3], {"optimizer": "x", "epoch": "many"}):
        if damaged is None or isinstance(damaged, bytes):
            state.write_bytes(damaged if damaged is not None else b"")
        else:
            torch.save(damaged, state)
        before = out.read_bytes()
        assert_clean_error(*call_cli("train", "deep-jscc", "--data", tiny_folder, "--out", out, "--epochs", "2",
                                     "--crop", "32", "--batch", "2", "--resume"), "--resume")
        assert out.read_bytes() == before
    for trainer, extra in (("adjscc", ("--steps", "2")),):
        out2 = tmp_path / f"{trainer}.safetensors"
        code, _, err = call_cli("train", trainer, "--data", tiny_folder, "--out", out2, "--crop", "32",
                                "--batch", "2", *extra)
        assert code == 0, err
        st = out2.with_suffix(".state.pt")
        for damaged in ({"config": 3}, {"config": {}, "model": {}}, [0]):
            torch.save(damaged, st)
            assert_clean_error(*call_cli("train", trainer, "--data", tiny_folder, "--out", out2, "--crop", "32",
                                         "--batch", "2", *extra, "--resume"), "--resume" if damaged != {"config": {}, "model": {}} else "")


def test_a_5000_digit_number_in_a_results_file_or_a_queries_file_is_one_line(tmp_path, kodak_dir):
    """Python refuses to read integers of more than 4,300 digits (ValueError, not a JSON error):
    a record holding one is a malformed line, a queries file holding one is refused."""
    good = '{"codec": "deep-jscc", "dataset": "kodak24", "image": "kodim01", "snr_db": 5.0, "seed": 0}'
    big = tmp_path / "big.jsonl"
    big.write_text(good.replace('"seed": 0', '"seed": ' + "9" * 5000) + "\n")
    assert_clean_error(*call_cli("report", big), "not JSON")
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"image": "kodim01", "question": "what?", "n": ' + "1" * 5000 + "}\n")
    assert_clean_error(*call_cli("bench", "kodak24", "--data", kodak_dir.parent, "--codecs", "deep-jscc",
                                 "--limit", "1", "--snr", "5", "--queries", queries, "--out", tmp_path / "o.jsonl"),
                       "not a JSON object")


def test_a_signal_header_claiming_a_huge_picture_costs_its_8_bit_copy_not_gigabytes(tmp_path):
    """A 20 KB bpg-ldpc signal file whose header says 8000x8000 (the pixel limit) and whose symbols
    are noise (so the failed transmission's grey picture is what decodes; an intact stream under an
    edited size is refused, see test_signal_tamper): the grey picture is a view, and writing it
    holds Pillow's picture (4 bytes a pixel) and one small band of floats; the whole process stays
    under 1 GB, torch included (before: three float32 copies, 3 GB)."""
    import io
    import zipfile

    import numpy as np

    sig = tmp_path / "s.npz"
    code, _, err = call_cli("encode", "--codec", "bpg-ldpc", "--snr", "10", "--save-signal", sig, "-o", tmp_path / "a.png")
    assert code == 0, err
    big = tmp_path / "big.npz"
    with zipfile.ZipFile(sig) as zin, zipfile.ZipFile(big, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "meta.npy":
                meta = json.loads(bytes(np.load(io.BytesIO(data))).decode())
                meta["header"]["height"] = meta["header"]["width"] = 8000
                buf = io.BytesIO()
                np.save(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
                data = buf.getvalue()
            elif name.startswith("y::"):
                y = np.load(io.BytesIO(data))
                noise = np.random.default_rng(0).standard_normal((2, *y.shape)).astype(np.float32)
                buf = io.BytesIO()
                np.save(buf, (noise[0] + 1j * noise[1]).astype(y.dtype))
                data = buf.getvalue()
            zout.writestr(name, data)
    # VmHWM: this process's own peak (ru_maxrss would inherit the forking pytest's high mark)
    probe = ("import re, torch; hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]); "
             "base = hwm(); from semcodec.signal_file import decode_file; from semcodec.imageio import save_image; "
             f"name, r = decode_file({str(big)!r}); save_image(r.image, {str(tmp_path / 'b.png')!r}); "
             "print(r.status, (hwm() - base) // 1024, hwm() // 1024)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    status, grown_mb, peak_mb = r.stdout.split()
    assert status == "decode_failed" and int(grown_mb) < 480 and int(peak_mb) < 1024, (r.stdout, r.stderr[-300:])


def test_no_report_or_encode_output_overwrites_an_input_by_another_name(tmp_path, kodak_dir):
    """Outputs reaching an input through a hard link (or a symlink) are refused: the results file
    under --plot or inside --html, the source image under encode -o."""
    import shutil

    results = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", "kodak24", "--data", kodak_dir.parent, "--codecs", "deep-jscc", "--limit", "1",
                            "--snr", "5", "--out", results)
    assert code == 0, err
    original = results.read_bytes()
    os.link(results, tmp_path / "hl.png")
    (tmp_path / "sl.png").symlink_to(results)
    for target in ("hl.png", "sl.png"):
        assert_clean_error(*call_cli("report", results, "--plot", tmp_path / target), "which this command reads")
    html = tmp_path / "html"
    html.mkdir()
    (html / ".semcodec-report").write_text("")  # a report folder of ours, so only the link stops it
    os.link(results, html / "snr.png")
    assert_clean_error(*call_cli("report", results, "--html", html), "which this command reads")
    assert results.read_bytes() == original
    image = tmp_path / "in.png"
    shutil.copy(kodak_dir / "kodim23.png", image)
    os.link(image, tmp_path / "out.png")
    before = image.read_bytes()
    assert_clean_error(*call_cli("encode", image, "--codec", "deep-jscc", "-o", tmp_path / "out.png"), "same file")
    assert image.read_bytes() == before


def test_vqa_and_coco_annotation_files_from_anywhere_are_one_line_errors(tmp_path):
    """--vqa-questions / --coco-instances: /dev/zero, a FIFO, a folder, a JSON nested 100,000 deep,
    wrong types: a one-line SemcodecError each (never a hang, a RecursionError or a TypeError)."""
    from semcodec.errors import SemcodecError
    from semcodec.queries import Sample, read_vqav2, unseen_objects_split

    images = tmp_path / "img"
    images.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    cases = [Path("/dev/zero"), fifo, tmp_path, deep]
    for i, text in enumerate(['{"questions": 7}', '{"questions": "abc"}', '[1, 2]', '{"questions": [[1], {"image_id": []}]}',
                              '{"categories": 3, "annotations": []}', '{"categories": [{"id": [1], "name": "dog"}]}']):
        (tmp_path / f"t{i}.json").write_text(text)
        cases.append(tmp_path / f"t{i}.json")
    sample = [Sample(images / "x.jpg", "what is it?", "1")]
    for path in cases:
        for call in (lambda p: read_vqav2(p, images), lambda p: unseen_objects_split(sample, p)):
            with pytest.raises(SemcodecError) as info:
                call(path)
            assert "\n" not in str(info.value)


def test_a_line_longer_than_any_record_is_skipped_without_being_held(tmp_path):
    from semcodec.bench.results_file import MAX_LINE_BYTES, read_results

    rec = json.loads(Path(__file__).parent.joinpath("..", "benchmarks", "results", "channels_kodak24.jsonl")
                     .read_text().splitlines()[0])
    path = tmp_path / "r.jsonl"
    with open(path, "w") as f:
        f.write(json.dumps(rec) + "\n")
        f.write('{"codec": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n')
        f.write(json.dumps({**rec, "image": "kodim02"}) + "\n")
    found = read_results(path)
    assert rec["image"] != "kodim02"
    assert found.malformed == 1 and found.torn_bytes == 0
    assert [r["image"] for r in found.records] == [rec["image"], "kodim02"]


def test_a_misspelt_component_in_semcodec_toml_is_named_not_ignored(tmp_path):
    (tmp_path / "semcodec.toml").write_text('[models]\ncaptionr = "llava-hf/llava-1.5-7b-hf"\n')
    assert_clean_error(*call_cli("models", "list", cwd=tmp_path), "no component 'captionr'")


# -- hostile round 3 (issue 21, the independent re-test) -----------------------------------
def test_a_bench_never_writes_its_figure_over_what_it_reads(tmp_path, tiny_folder):
    """--plot through a hard link to --out, or a link to a dataset image, and --out over the
    --queries file: each one line and exit 2, nothing replaced."""
    out = tmp_path / "r.jsonl"
    base = ("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--metrics", "psnr")
    assert call_cli(*base, "--out", out)[0] == 0
    results = out.read_bytes()
    os.link(out, tmp_path / "r.png")
    assert_clean_error(*call_cli(*base, "--out", out, "--plot", tmp_path / "r.png"), "same file")
    assert out.read_bytes() == results
    image = tiny_folder / "kodim05.png"
    pixels = image.read_bytes()
    (tmp_path / "img.png").symlink_to(image)
    assert_clean_error(*call_cli(*base, "--out", out, "--plot", tmp_path / "img.png"), "would overwrite")
    assert image.read_bytes() == pixels
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"image": "kodim05", "question": "what is it?"}\n')
    assert_clean_error(*call_cli(*base, "--queries", queries, "--out", queries), "same file")
    assert queries.read_text().count("\n") == 1


def test_two_report_outputs_are_never_one_file(tmp_path, kept_bench):
    results = _write(tmp_path / "r.jsonl", kept_bench)
    assert_clean_error(*call_cli("report", results, "--plot", tmp_path / "x.png", "--grid", tmp_path / "x.png"),
                       "same file")


@pytest.mark.parametrize("kind", ["fifo", "folder", "devzero"])
def test_a_verified_dataset_with_a_fifo_or_folder_in_place_of_an_image_is_one_line(tmp_path, kodak_dir, kind):
    folder = tmp_path / "kodak24"
    folder.mkdir()
    for image in kodak_dir.glob("kodim*.png"):
        os.symlink(image, folder / image.name)
    (folder / "kodim02.png").unlink()
    {"fifo": lambda p: os.mkfifo(p), "folder": lambda p: p.mkdir(),
     "devzero": lambda p: p.symlink_to("/dev/zero")}[kind](folder / "kodim02.png")
    proc = subprocess.run([sys.executable, "-m", "semcodec.cli", "bench", "kodak24", "--data", str(tmp_path),
                           "--codecs", "uncoded-analog", "--snr", "10", "--metrics", "psnr", "--limit", "1",
                           "--out", str(tmp_path / "x.jsonl")], capture_output=True, text=True, timeout=120)
    assert_clean_error(proc.returncode, proc.stdout, proc.stderr, "kodim02.png")


def test_a_resume_compares_data_folders_as_places_not_as_spellings(tmp_path, train_dir):
    """``tiny`` from another working directory is another folder (refused); ``$PWD/tiny`` is the
    same one (accepted)."""
    here, there = tmp_path / "here", tmp_path / "there"
    for root, files in ((here, sorted(train_dir.iterdir())[:3]), (there, sorted(train_dir.iterdir())[3:6])):
        (root / "tiny").mkdir(parents=True)
        for f in files:
            shutil.copy(f, root / "tiny" / f.name)
    out = tmp_path / "m.safetensors"
    args = ("train", "deep-jscc", "--data", "tiny", "--crop", "32", "--batch", "2", "--out", out, "--val", "tiny")
    assert call_cli(*args, "--epochs", "1", cwd=here)[0] == 0
    assert_clean_error(*call_cli(*args, "--epochs", "2", "--resume", cwd=there), "other data")
    code, _, err = call_cli("train", "deep-jscc", "--data", here / "tiny", "--crop", "32", "--batch", "2", "--out", out,
                            "--val", here / "tiny", "--epochs", "2", "--resume", cwd=tmp_path)
    assert code == 0, err


def test_a_fifo_in_place_of_a_training_state_is_refused_not_waited_on(tmp_path, train_dir):
    out = tmp_path / "m.safetensors"
    base = ("train", "deep-jscc", "--data", train_dir, "--crop", "32", "--batch", "2", "--out", out)
    assert call_cli(*base, "--epochs", "1")[0] == 0
    out.with_suffix(".state.pt").unlink()
    os.mkfifo(out.with_suffix(".state.pt"))
    proc = subprocess.run([sys.executable, "-m", "semcodec.cli", *map(str, base), "--epochs", "2", "--resume"],
                          capture_output=True, text=True, timeout=120)
    assert_clean_error(proc.returncode, proc.stdout, proc.stderr, "not a regular file")


@pytest.mark.parametrize("field,value", [("bandwidth_ratio", 1e308), ("codec", "c" * 100_000)])
def test_a_record_with_an_absurd_ratio_or_name_is_left_out_with_a_note(tmp_path, kept_bench, field, value):
    recs = json.loads(json.dumps(kept_bench))
    recs[0][field] = value
    results = _write(tmp_path / "r.jsonl", recs)
    code, out, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--format", "csv")
    assert code == 0 and "Traceback" not in err and "internal error" not in err, err
    assert "ignored 1 JSON object(s) that are not semcodec records" in err


def test_a_kept_image_path_with_a_nul_byte_is_skipped_with_a_note(tmp_path, kept_bench):
    recs = json.loads(json.dumps(kept_bench))
    recs[0]["files"]["reconstruction"] = "a\x00b.png"
    results = _write(tmp_path / "r.jsonl", recs)
    code, out, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--format", "csv")
    assert code == 0 and "internal error" not in err, err


def test_a_settings_file_with_a_5000_digit_number_is_one_line(tmp_path):
    (tmp_path / "semcodec.toml").write_text("x = " + "9" * 5000 + "\n")
    assert_clean_error(*call_cli("models", "list", cwd=tmp_path), "semcodec.toml")


def test_a_weight_index_pointing_outside_its_folder_is_refused(tmp_path):
    from semcodec.errors import ModelUnavailable
    from semcodec.models.validate import check_shards_inside

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a.weight": "../elsewhere/model.safetensors"}}))
    with pytest.raises(ModelUnavailable, match="outside its folder"):
        check_shards_inside(tmp_path / "m", "clip")
    (tmp_path / "m" / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a.weight": "model-00001-of-00001.safetensors"}}))
    check_shards_inside(tmp_path / "m", "clip")


@pytest.mark.parametrize("field", ["codec", "dataset", "channel"])
def test_a_name_holding_terminal_escapes_is_skipped_not_printed(field, kept_bench, tmp_path):
    """A codec (dataset, channel) name with an ANSI escape and a bell would recolour the user's
    terminal and make matplotlib warn about missing glyphs: the record is skipped with a note."""
    recs = json.loads(json.dumps(kept_bench))
    recs[0][field] = "\x1b[31mred\x07"
    results = _write(tmp_path / "r.jsonl", recs)
    code, out, err = call_cli("report", results, "--plot", tmp_path / "p.png", "--html", tmp_path / "h")
    assert code == 0 and "control characters" in err, err
    assert "\x1b" not in out + err and "\x07" not in out + err and "Glyph" not in err, err


def test_a_resumed_bench_says_a_saved_record_gives_a_key_twice(tmp_path, tiny_folder):
    out = tmp_path / "r.jsonl"
    args = ("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert call_cli(*args)[0] == 0
    lines = out.read_text().splitlines()
    lines[0] = lines[0].replace('"psnr":', '"psnr": 99.0, "psnr":', 1)
    out.write_text("\n".join(lines) + "\n")
    code, _, err = call_cli(*args)
    assert code == 0 and "give a key twice" in err and "'psnr'" in err, err


@pytest.mark.parametrize("field, value", [
    ("snr_db", 10**400), ("snr_db", 1e300), ("snr_db", -1e308), ("channel_uses", 10**400), ("elapsed_s", 10**400),
    ("metrics.psnr", 10**400), ("metrics.psnr", -1e308), ("metrics.ms_ssim", 1e308), ("bandwidth_ratio", 10**400),
    ("config.bandwidth", 10**400), ("config.design_snr_db", -10**400), ("seed", 10**400),
    ("effective_design_snr_db", 10**400),
])
def test_numbers_beyond_float_range_are_left_out_not_overflowed(field, value, kept_bench, tmp_path):
    """A hand-edited 10**400 (valid JSON, no float holds it) or -1e308 in a record: the record is
    left out with a note; report, --vs, --grid and --html run on the rest without numpy warnings."""
    recs = json.loads(json.dumps(kept_bench))
    twin = [dict(r, codec="twin") for r in json.loads(json.dumps(kept_bench))]  # a second codec for --vs
    node = recs[0]
    *parents, last = field.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    results = _write(tmp_path / "r.jsonl", recs + twin)
    code, out, err = call_cli("report", results, "--vs", "uncoded-analog", "--grid", tmp_path / "g.png",
                              "--html", tmp_path / "h", "--format", "json")
    assert code == 0 and "not semcodec records" in err, err
    assert "Warning" not in err and "overflow" not in err and "internal error" not in err, err


def test_an_image_id_with_control_characters_is_drawn_without_font_warnings(kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    for r in recs:
        r["image"] = "a\x1b[31m\x07" + r["image"]
    results = _write(tmp_path / "r.jsonl", recs)
    code, out, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--plot", tmp_path / "p.png")
    assert code == 0 and "Glyph" not in err and "Warning" not in err, err


def test_an_image_too_large_for_the_memory_free_is_refused_from_its_header(tmp_path, tiny_folder, monkeypatch):
    """bench: a skipped record saying how much the image needs (the run goes on); encode: one line.
    Here the machine "has" 1 MiB free, so even a small image does not fit."""
    import semcodec.limits as limits

    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": 1 << 20)
    out = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "10", "--out", out)
    recs = _records(out)
    assert code == 0 and recs and all(r["status"] == "skipped" and "GiB free" in r["reason"] for r in recs), err
    image = next(p for p in Path(tiny_folder).iterdir() if p.suffix == ".png")
    assert_clean_error(*call_cli("encode", image, "--codec", "uncoded-analog", "--snr", "10", "-o", tmp_path / "x.png"),
                       "GiB free")


def test_html_writes_only_into_a_new_empty_or_report_folder(kept_bench, tmp_path, tiny_folder):
    """Never into a dataset folder (a later bench would take snr.png for an image) nor over a
    user's own index.html; a second report into its own folder is fine."""
    results = _write(tmp_path / "r.jsonl", kept_bench)
    before = sorted(p.name for p in Path(tiny_folder).iterdir())
    assert_clean_error(*call_cli("report", results, "--html", tiny_folder), "no semcodec report wrote")
    assert sorted(p.name for p in Path(tiny_folder).iterdir()) == before
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "index.html").write_text("<html>my homepage</html>")
    assert_clean_error(*call_cli("report", results, "--html", mine), "no semcodec report wrote")
    assert (mine / "index.html").read_text() == "<html>my homepage</html>"
    for _ in range(2):  # new, then its own folder again
        code, _, err = call_cli("report", results, "--html", tmp_path / "h")
        assert code == 0 and (tmp_path / "h" / "index.html").is_file(), err


def test_a_grid_of_hundreds_of_snrs_shows_a_dozen_columns_and_says_so(kept_bench, tmp_path):
    from PIL import Image

    recs = [dict(r, snr_db=-30 + 0.25 * i) for i in range(300) for r in kept_bench if r["snr_db"] == 5.0]
    results = _write(tmp_path / "r.jsonl", recs)
    code, _, err = call_cli("report", results, "--grid", tmp_path / "g.png", "--plot", tmp_path / "p.png",
                            "--format", "csv")
    assert code == 0, err
    with Image.open(tmp_path / "g.png") as g:
        assert g.width < 13 * 2.2 * 110 + 50, g.size  # 12 SNR columns and the originals', not 300


@pytest.mark.parametrize("kind", ["fifo", "folder", "devzero"])
def test_a_semcodec_toml_that_is_not_a_file_is_said_not_ignored(kind, tmp_path):
    target = tmp_path / "semcodec.toml"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        target.symlink_to("/dev/zero")
    assert_clean_error(*call_cli("models", "list", cwd=tmp_path), "not a regular file")


def test_keep_images_naming_the_results_file_or_an_empty_data_path_is_refused_first(tmp_path, tiny_folder):
    out = tmp_path / "r.jsonl"
    assert_clean_error(*call_cli("bench", tiny_folder, "--codecs", "uncoded-analog", "--snr", "10", "--out", out,
                                 "--keep-images", out), "--keep-images")
    assert not out.exists()  # no folder made where the results file goes
    assert_clean_error(*call_cli("bench", "kodak24", "--data", "", "--codecs", "uncoded-analog", "--snr", "10",
                                 "--out", out), "empty path")


def test_past_pillows_own_bomb_limit_the_memory_check_still_refuses(tmp_path, monkeypatch):
    """A 15000x15000 header with --max-pixels raised: Pillow's bomb guard fires on open above
    179 MP; the memory check must still read the size and refuse (the kernel killed it at 24 GB)."""
    import semcodec.limits as limits

    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": 8 << 30)
    bomb = write_png_header_bomb(tmp_path / "big.png", 15000, 15000)
    assert_clean_error(*call_cli("encode", bomb, "--codec", "uncoded-analog", "--snr", "10", "-o", tmp_path / "x.png",
                                 "--max-pixels", "1000000000"), "GiB")


def test_keep_images_in_the_dataset_folder_and_html_through_links_are_refused_or_replaced(tmp_path, tiny_folder,
                                                                                        kept_bench):
    """Kept reconstructions inside the dataset would be read as images by the next bench; a link
    put in a report folder where a figure goes is replaced, never written through."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_folder, data)
    before = sorted(p.name for p in data.iterdir())
    for keep in (data, data / "kept"):
        assert_clean_error(*call_cli("bench", data, "--codecs", "uncoded-analog", "--snr", "10",
                                     "--out", tmp_path / "r.jsonl", "--keep-images", keep), "dataset's folder")
    assert sorted(p.name for p in data.iterdir()) == before
    results = _write(tmp_path / "k.jsonl", kept_bench)
    site = tmp_path / "site"
    code, _, err = call_cli("report", results, "--html", site)
    assert code == 0, err
    victim = data / before[0]
    original = victim.read_bytes()
    (site / "snr.png").unlink()
    (site / "snr.png").symlink_to(victim)
    code, _, err = call_cli("report", results, "--html", site)
    assert code == 0 and victim.read_bytes() == original and not (site / "snr.png").is_symlink(), err


def test_a_tiny_budget_many_codecs_and_ids_with_newlines_stay_one_line_and_quiet(kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    recs[0]["config"]["bandwidth"] = 5e-324  # would overflow the rate-distortion axis
    code, _, err = call_cli("report", _write(tmp_path / "t.jsonl", recs), "--rd", tmp_path / "rd.png",
                            "--rd-snr", "5")
    assert code == 0 and "not semcodec records" in err and "Warning" not in err, err
    many = [dict(r, codec=f"c{i}") for i in range(60) for r in kept_bench]
    code, _, err = call_cli("report", _write(tmp_path / "m.jsonl", many), "--plot", tmp_path / "p.png")
    assert code == 0 and "Warning" not in err, err
    odd = [dict(r, image="a\nb" + r["image"]) for r in kept_bench]
    code, out, err = call_cli("report", _write(tmp_path / "o.jsonl", odd), "--grid", tmp_path / "g.png",
                              "--images", "nosuch")
    assert_clean_error(code, out, err, "\\n")


def test_figures_pages_and_kept_images_replace_links_instead_of_writing_through(kept_bench, tmp_path, tiny_folder):
    """A hard link or symlink where an output goes is replaced (the user's file keeps its bytes);
    a linked folder inside the --keep-images tree is not written through."""
    results = _write(tmp_path / "r.jsonl", kept_bench)
    mine = tmp_path / "mine.txt"
    mine.write_text("precious")
    os.link(mine, tmp_path / "p.png")
    (tmp_path / "g.png").symlink_to(mine)
    for flag, name in (("--plot", "p.png"), ("--grid", "g.png")):
        code, _, err = call_cli("report", results, flag, tmp_path / name)
        assert code == 0 and mine.read_text() == "precious", err
    site = tmp_path / "site"
    assert call_cli("report", results, "--html", site)[0] == 0
    (site / "index.html").unlink()
    os.link(mine, site / "index.html")
    assert call_cli("report", results, "--html", site)[0] == 0 and mine.read_text() == "precious"
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_folder, data)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    kept = tmp_path / "kept"
    out = tmp_path / "b.jsonl"
    assert call_cli("bench", data, "--codecs", "uncoded-analog", "--snr", "10", "--out", out, "--keep-images", kept)[0] == 0
    for folder in {Path(r["files"]["reconstruction"]).parent for r in _records(out)}:
        shutil.rmtree(folder)
        folder.symlink_to(data)  # a planted link to the dataset, deep in the tree
    out.unlink()
    code, _, err = call_cli("bench", data, "--codecs", "uncoded-analog", "--snr", "10", "--out", out,
                            "--keep-images", kept)
    assert code == 0 and {p.name: p.read_bytes() for p in data.iterdir()} == before, err
    assert all(r["status"] == "skipped" and "leads out" in r["reason"] for r in _records(out))


def test_train_refuses_a_seed_past_64_bits_and_says_why_one_image_is_too_few(tmp_path, tiny_folder):
    out = tmp_path / "m.safetensors"
    assert_clean_error(*call_cli("train", "deep-jscc", "--data", tiny_folder, "--out", out, "--seed", str(2**64)),
                       "--seed")
    one = tmp_path / "one"
    one.mkdir()
    shutil_src = next(p for p in Path(tiny_folder).iterdir())
    (one / shutil_src.name).write_bytes(shutil_src.read_bytes())
    assert_clean_error(*call_cli("train", "deep-jscc", "--data", one, "--out", out, "--epochs", "1", "--crop", "32"),
                       "at least two")


@pytest.mark.parametrize("field, value, needle", [
    ("metrics.ms_ssim", 1.5, "metrics.ms_ssim outside"), ("metrics.ms_ssim", -0.2, "metrics.ms_ssim outside"),
    ("metrics.psnr", 1e15, "metrics.psnr outside"), ("metrics.psnr", -3.0, "metrics.psnr outside"),
    ("channel_uses", 5e-324, "not a count"), ("channel_uses", 1.5, "not a count"), ("channel_uses", -4, "not a count"),
])
def test_a_metric_or_count_no_run_can_produce_is_left_out_with_a_note(field, value, needle, kept_bench, tmp_path):
    """MS-SSIM lies in [0, 1], PSNR of images in [0, 1] in [0, 200] dB, channel uses are a count:
    a record holding anything else was edited or written by another tool, and is left out."""
    recs = json.loads(json.dumps(kept_bench))
    node = recs[0]
    *parents, last = field.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    code, out, err = call_cli("report", _write(tmp_path / "r.jsonl", recs), "--format", "json")
    assert code == 0 and needle in err, err
    assert len(json.loads(out)[0]["rows"][0]["cells"]) == 2  # the other records are all reported


def test_an_snr_differing_from_another_by_less_than_a_microdecibel_is_the_same_column(kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    twins = [dict(r, snr_db=r["snr_db"] + 1e-9, codec="twin") for r in recs]  # the same points, 1 ndB off
    for r in twins:
        r["provenance"] = dict(r["provenance"], config_digest="other")
    zero = [dict(r, snr_db=5e-324, codec="zero") for r in recs if r["snr_db"] == 5]
    code, out, err = call_cli("report", _write(tmp_path / "r.jsonl", recs + twins + zero), "--format", "json")
    assert code == 0, err
    snrs = {float(s) for t in json.loads(out) for row in t["rows"] for s in row["cells"]}
    assert snrs == {0.0, 5.0, 10.0}, snrs


def test_ms_ssim_in_db_of_a_perfect_picture_is_noted_not_a_silent_dash(kept_bench, tmp_path):
    recs = json.loads(json.dumps(kept_bench))
    recs[0]["metrics"]["ms_ssim"] = 1.0
    code, out, err = call_cli("report", _write(tmp_path / "r.jsonl", recs), "--metric", "ms_ssim_db")
    assert code == 0 and "1 record(s) with ms_ssim 1 have no ms_ssim_db" in " ".join(err.split()), err


def test_decode_refuses_a_header_claiming_a_picture_the_memory_free_cannot_hold(tmp_path, monkeypatch):
    """A few header bytes may claim any picture; with the pixel limit raised the decode is bounded
    by the memory free (here the machine "has" 1 KiB): one line, nothing written."""
    import semcodec.limits as limits

    sig = tmp_path / "s.npz"
    code, _, err = call_cli("encode", "--codec", "bpg-ldpc", "--snr", "10", "--save-signal", sig, "-o", tmp_path / "a.png")
    assert code == 0, err
    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": 1 << 10)
    assert_clean_error(*call_cli("decode", sig, "-o", tmp_path / "b.png"), "GiB free")
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("args", [
    ("encode", "--codec", "deep-jscc", "--snr", "6_0"),
    ("encode", "--codec", "deep-jscc", "--snr", "\u0666"),  # an Arabic-Indic six
    ("encode", "--codec", "deep-jscc", "--snr", "6", "--design-snr", "1_0"),
    ("encode", "--codec", "deep-jscc", "--snr", "6", "--seed", "1_0"),
    ("encode", "--codec", "deep-jscc", "--snr", "6", "--channel", "rician:K=3_0"),
    ("encode", "--codec", "deep-jscc", "--snr", "6", "--bandwidth", "1/1_2"),
    ("encode", "--codec", "bpg-ldpc", "--snr", "6", "--opt", "margin_db=1_0"),
    ("bench", "kodak24", "--codecs", "deep-jscc", "--snr", "0,6_0", "--out", "r.jsonl"),
    ("bench", "kodak24", "--codecs", "deep-jscc", "--snr", "0", "--limit", "1_0", "--out", "r.jsonl"),
    ("report", "x.jsonl", "--rd-snr", "1_0"),
    ("train", "deep-jscc", "--data", ".", "--out", "m.safetensors", "--snr", "6_0"),
    ("train", "adjscc", "--data", ".", "--out", "m.safetensors", "--batch", "1_6"),
    ("train", "adjscc", "--data", ".", "--out", "m.safetensors", "--channel-weights", "1,2_0,1"),
])
def test_a_number_is_plain_decimal_so_a_typo_never_runs_as_another_value(args, tmp_path):
    """``6_0`` is 60 to Python (digit grouping) and ``٦`` is 6: a typo for 6 or 6.0 must not run a
    sweep at 60 dB. Every number a user types follows one rule, and the rest is one line, exit 2."""
    code, out, err = call_cli(*args, cwd=tmp_path)
    assert_clean_error(code, out, err)
    assert not (tmp_path / "r.jsonl").exists() and not (tmp_path / "m.safetensors").exists()


def test_the_pixel_limit_from_the_environment_follows_the_number_rule(monkeypatch):
    monkeypatch.setenv("SEMCODEC_MAX_PIXELS", "1_000")
    assert_clean_error(*call_cli("encode", "--codec", "deep-jscc"), "SEMCODEC_MAX_PIXELS")


def test_plain_spellings_of_a_number_are_still_read():
    from semcodec.numbers import decimal, integer

    assert [decimal(t) for t in ("6", " +6 ", "6.", ".5", "-6e0", "1E1")] == [6.0, 6.0, 6.0, 0.5, -6.0, 10.0]
    assert integer(" -7 ") == -7
    for bad in ("6_0", "0x6", "6,", "", "1e", "\u0666", "\uff16", "6 dB"):
        with pytest.raises(ValueError):
            decimal(bad)
    with pytest.raises(ValueError):
        integer("1.0")


def _half_then_full(target_arg: int):
    """A writer that puts a few bytes where it was told to write, then finds the disk full."""
    def write(*args, **kwargs):
        where = args[target_arg]
        if hasattr(where, "write"):
            where.write(b"half a file")
        else:
            Path(where).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


@pytest.mark.parametrize("what", ["decode -o", "encode --save-signal", "report --plot"])
def test_a_full_disk_never_destroys_the_earlier_output_file(what, tmp_path, tiny_folder, kept_bench, monkeypatch):
    """An output written again (a second decode, a new figure) onto a full disk: one line, exit 2,
    and the earlier file is still there whole (written to a sibling, renamed only when complete)."""
    import matplotlib.figure
    import numpy as np
    from PIL import Image

    src = tiny_folder / "kodim05.png"
    sig, target = tmp_path / "s.npz", tmp_path / ("s2.npz" if what == "encode --save-signal" else "out.png")
    assert call_cli("encode", src, "--codec", "deep-jscc", "--snr", "6", "-o", tmp_path / "a.png",
                    "--save-signal", sig)[0] == 0
    args = {"decode -o": ("decode", sig, "-o", target),
            "encode --save-signal": ("encode", src, "--codec", "deep-jscc", "--snr", "6", "-o", tmp_path / "b.png",
                                     "--save-signal", target),
            "report --plot": ("report", _write(tmp_path / "k.jsonl", kept_bench), "--plot", target)}[what]
    assert call_cli(*args)[0] == 0
    before = target.read_bytes()
    owner, name, arg = {"decode -o": (Image.Image, "save", 1), "encode --save-signal": (np, "savez_compressed", 0),
                        "report --plot": (matplotlib.figure.Figure, "savefig", 1)}[what]
    monkeypatch.setattr(owner, name, _half_then_full(arg))
    code, out, err = call_cli(*args)
    monkeypatch.undo()
    assert_clean_error(code, out, err, "No space left")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_channel_of_a_plugin_not_installed_here_is_still_reported(kept_bench, tmp_path):
    """Records are data: a well-formed label of a channel this machine lacks keeps its own table."""
    recs = json.loads(json.dumps(kept_bench))
    for r in recs:
        r["channel"], r["channel_params"] = "lab-channel:K=3.5,model=C", {"K": 3.5, "model": "C"}
    code, out, err = call_cli("report", _write(tmp_path / "r.jsonl", recs))
    assert code == 0 and "lab-channel:K=3.5,model=C" in out and "not semcodec records" not in err, (out, err)
