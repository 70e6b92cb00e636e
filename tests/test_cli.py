"""The CLI as a user drives it: real processes, real files, exit codes and one-line errors."""

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
from PIL import Image

from conftest import no_models_env, run_cli

REQUIRED = {"codec", "dataset", "image", "snr_db", "channel", "seed", "status", "channel_uses",
            "bandwidth_ratio", "metrics", "unavailable", "streams", "texts", "elapsed_s", "semcodec_version"}


def test_help_does_not_import_torch():
    code = ("import sys\nfrom semcodec.cli import app\n"
            "try:\n    app(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'diffusers', 'numpy') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "encode" in out.stdout and "HEAVY []" in out.stdout


def test_codecs_lists_builtins_and_the_plugin():
    out = run_cli("codecs")
    assert out.returncode == 0, out.stderr
    for name in ("bpg-ldpc", "deep-jscc", "uncoded-analog", "semcodec-example"):
        assert name in out.stdout


def test_encode_json_prints_one_record_of_the_design_schema(kodak_dir, tmp_path):
    out = run_cli("encode", kodak_dir / "kodim23.png", "--codec", "uncoded-analog", "--snr", "10", "--json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert REQUIRED <= set(rec)
    assert rec["codec"] == "uncoded-analog" and rec["image"] == "kodim23" and rec["status"] == "ok"
    assert rec["channel_uses"] == sum(s["channel_uses"] for s in rec["streams"].values())
    assert rec["metrics"]["lpips"] is None and rec["unavailable"]["lpips"]


def test_uncoded_analog_psnr_rises_monotonically_with_snr(small_image):
    from semcodec.channel import AWGNChannel
    from semcodec.codec import load_codec

    codec = load_codec("uncoded-analog")()
    psnrs = [codec.run(small_image, snr_db=s, channel=AWGNChannel(), metrics=["psnr"]).record["metrics"]["psnr"]
             for s in (-5, 0, 5, 10, 20)]
    assert psnrs == sorted(psnrs) and psnrs[-1] - psnrs[0] > 10


@pytest.mark.parametrize("codec", ["uncoded-analog", "deep-jscc", "bpg-ldpc"])
def test_save_signal_then_decode_in_another_process_is_bit_exact(kodak_dir, tmp_path, codec):
    img = tmp_path / "in.png"
    Image.open(kodak_dir / "kodim23.png").crop((256, 160, 512, 352)).save(img)
    one, sig, two = tmp_path / "one.png", tmp_path / "s.npz", tmp_path / "two.png"
    enc = run_cli("encode", img, "--codec", codec, "--snr", "12", "--channel", "rayleigh",
                  "--seed", "3", "-o", one, "--save-signal", sig)
    assert enc.returncode == 0, enc.stderr
    dec = run_cli("decode", sig, "-o", two)
    assert dec.returncode == 0, dec.stderr
    assert Image.open(one).tobytes() == Image.open(two).tobytes()


def test_encode_without_an_image_uses_the_builtin_sample(tmp_path):
    out = run_cli("encode", "--codec", "deep-jscc", "--snr", "6", "-o", tmp_path / "r.png")
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "r.png").size == (384, 256)


def _assert_one_line_error(out, *needles):
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    for needle in needles:
        assert needle in lines[0]


def test_hostile_inputs_give_exit_2_and_one_line(kodak_dir, tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture")
    corrupt_sig = tmp_path / "bad.npz"
    corrupt_sig.write_bytes(b"PK\x03\x04 definitely not a zip")
    good = kodak_dir / "kodim23.png"
    cases = [
        (("encode", not_image, "--codec", "deep-jscc"), "not a readable image"),
        (("encode", tmp_path / "missing.png", "--codec", "deep-jscc"), "no such file"),
        (("encode", good, "--codec", "no-such-codec"), "unknown codec"),
        (("encode", good, "--codec", "deep-jscc", "--snr", "nan"), "finite"),
        (("encode", good, "--codec", "deep-jscc", "--snr", "loud"), "SNR"),
        (("encode", good, "--codec", "deep-jscc", "-o", tmp_path / "no" / "dir" / "x.png"), "cannot write"),
        (("encode", good, "--codec", "deep-jscc", "--bandwidth", "1/0"), "bandwidth"),
        (("decode", corrupt_sig, "-o", tmp_path / "x.png"), "signal file"),
        (("decode", tmp_path / "nothing.npz", "-o", tmp_path / "x.png"), "no such file"),
        (("bench", "no-such-dataset", "--codecs", "deep-jscc"), "unknown dataset"),
        (("report", tmp_path / "missing.jsonl"), "no such file"),
    ]
    for args, needle in cases:
        _assert_one_line_error(run_cli(*args), needle)


def test_default_codec_not_ready_names_the_no_download_codec(kodak_dir, tmp_path):
    out = run_cli("encode", kodak_dir / "kodim23.png", "--snr", "10", env=no_models_env(tmp_path))
    _assert_one_line_error(out, "--codec deep-jscc")


def _keys(path):
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["image"], r["codec"], r["snr_db"]) for r in recs]


@pytest.mark.parametrize("jobs,sig", [("1", signal.SIGINT), ("2", signal.SIGINT), ("2", signal.SIGTERM),
                                      ("ray", signal.SIGTERM)],
                         ids=["ctrl-c", "ctrl-c-2-jobs", "sigterm-2-jobs", "sigterm-ray"])
def test_bench_interrupted_with_sigint_resumes_without_duplicates(kodak_dir, tmp_path, jobs, sig):
    if jobs == "ray":
        pytest.importorskip("ray", reason="the ray extra is not installed")
    out = tmp_path / "results.jsonl"
    args = [sys.executable, "-m", "semcodec.cli", "bench", "kodak24", "--data", str(kodak_dir),
            "--codecs", "bpg-ldpc", "--snr", "0,6,12", "--limit", "4", "--out", str(out),
            *(["--executor", "ray", "-j", "2"] if jobs == "ray" else ["-j", jobs])]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 3):
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "workers outlived the bench"
    partial = _keys(out)
    assert 3 <= len(partial) < 12
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    keys = _keys(out)
    assert len(keys) == 12 and len(set(keys)) == 12
    assert keys[: len(partial)] == partial  # nothing redone, nothing lost
    assert "bpg-ldpc" in rerun.stdout and "12 dB" in rerun.stdout


def test_workers_do_not_outlive_a_killed_bench(kodak_dir, tmp_path):
    """kill -9 of the driver (an OOM kill, a lost node): its workers go too, within seconds."""
    out = tmp_path / "results.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "semcodec.cli", "bench", "kodak24", "--data", str(kodak_dir),
                             "--codecs", "bpg-ldpc", "--snr", "0,6,12", "--limit", "4", "--out", str(out), "-j", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and (not out.exists() or not out.read_text().strip()):
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers
    proc.kill()
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [p.cmdline()[:3] for p in alive]


def test_report_renders_table_and_plot(kodak_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    bench = run_cli("bench", "kodak24", "--data", kodak_dir, "--codecs", "deep-jscc,uncoded-analog",
                    "--snr", "0,10", "--limit", "2", "--out", out, "--metrics", "psnr")
    assert bench.returncode == 0, bench.stderr
    assert len(out.read_text().splitlines()) == 8
    rep = run_cli("report", out, "--plot", tmp_path / "fig.png")
    assert rep.returncode == 0, rep.stderr
    assert "deep-jscc" in rep.stdout and "uncoded-analog" in rep.stdout
    assert Image.open(tmp_path / "fig.png").size[0] > 100


def test_codecs_own_typed_options_and_a_plugin_declares_one(kodak_dir):
    from conftest import assert_clean_error, call_cli

    code, out, _ = call_cli("codecs", "--options", "uncoded-analog")
    assert code == 0 and "estimator" in out and "lmmse, zf" in out
    psnr = {}
    for est in ("lmmse", "zf"):
        code, out, err = call_cli("encode", kodak_dir / "kodim23.png", "--codec", "uncoded-analog", "--snr", "0",
                                  "--opt", f"estimator={est}", "--json")
        assert code == 0, err
        psnr[est] = json.loads(out)["metrics"]["psnr"]
    assert psnr["lmmse"] > psnr["zf"] + 1  # the shrinkage pays at 0 dB
    assert_clean_error(*call_cli("encode", "--codec", "uncoded-analog", "--opt", "bogus=1"), "options: estimator")
    assert_clean_error(*call_cli("encode", "--codec", "uncoded-analog", "--opt", "estimator=mmse"), "lmmse, zf")


def test_version_and_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "semcodec", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("semcodec ")
