"""Codecs own their options and flags; the record layout is versioned; a core install without
the semantic extra says in one line what to install."""

import json
import subprocess
import sys

import pytest

from conftest import assert_clean_error, call_cli


def _record(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_a_plugin_option_works_and_a_bogus_one_names_the_valid_ones():
    code, out, err = call_cli("encode", "--codec", "uncoded-analog", "--opt", "estimator=zf", "--snr", "3", "--json")
    assert code == 0, err
    assert _record(out)["config"]["options"] == {"estimator": "zf"}
    assert_clean_error(*call_cli("encode", "--codec", "uncoded-analog", "--opt", "bogus=1"), "options: estimator")
    assert_clean_error(*call_cli("encode", "--codec", "uncoded-analog", "--opt", "estimator=mmse"), "one of lmmse, zf")
    assert_clean_error(*call_cli("encode", "--codec", "bpg-ldpc", "--opt", "bogus=1"), "options: chroma")


@pytest.mark.parametrize("args", [["--mcs", "qpsk-1/2"], ["--mcs=qpsk-1/2"], ["--opt", "mcs=qpsk-1/2"]])
def test_a_codec_declared_flag_is_the_same_as_its_option(args):
    code, out, err = call_cli("encode", "--codec", "bpg-ldpc", "--snr", "8", *args, "--json")
    assert code == 0, err
    rec = _record(out)
    assert rec["transmitter"]["mcs"] == "qpsk-1/2" and rec["config"]["options"]["mcs"] == "qpsk-1/2"


def test_a_plugin_declared_flag_works_on_encode():
    code, out, err = call_cli("encode", "--codec", "uncoded-analog", "--estimator", "zf", "--snr", "3", "--json")
    assert code == 0, err
    assert _record(out)["config"]["options"]["estimator"] == "zf"


@pytest.mark.parametrize("args,needle", [
    (["--mcs"], "--mcs needs a value"),
    (["--mcs", "qam-9/10"], "unknown MCS"),
    (["--no-mcs"], "No such option"),
    (["--bogus-flag", "1"], "No such option"),
    (["--estimator", "zf"], "No such option: --estimator"),  # a flag of another codec, not of bpg-ldpc
])
def test_bad_codec_flags_are_one_line_errors(args, needle):
    assert_clean_error(*call_cli("encode", "--codec", "bpg-ldpc", "--snr", "8", *args), needle)


def test_codecs_options_lists_types_defaults_and_flags():
    code, out, err = call_cli("codecs", "--options", "bpg-ldpc")
    assert code == 0, err
    for word in ("mcs", "chroma", "one of 420, 444", "iterations", "int in [1, 200]", "--mcs"):
        assert word in out


def test_records_are_versioned_and_old_ones_migrate_on_read(tmp_path):
    from semcodec.bench.results_file import read_results

    code, out, err = call_cli("encode", "--codec", "deep-jscc", "--snr", "4", "--design-snr", "10", "--json")
    assert code == 0, err
    rec = _record(out)
    assert rec["record_version"] == 2 and "design_snr_db" not in rec
    assert rec["effective_design_snr_db"] == 10.0 and rec["config"]["design_snr_db"] == 10.0
    old = {k: v for k, v in rec.items() if k not in ("record_version", "effective_design_snr_db")}
    old.update(design_snr_db=10.0, dataset="d", image="i")
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(old) + "\n")
    (got,) = read_results(path).records
    assert got["record_version"] == 2 and got["effective_design_snr_db"] == 10.0 and "design_snr_db" not in got
    code, out, err = call_cli("report", str(path), "--format", "csv")
    assert code == 0, err
    assert "requested_design_snr_db" in out.splitlines()[0]


#: Runs the CLI with the semantic extra's packages unimportable, as on a core-only install.
CORE_ONLY = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = {"transformers", "diffusers", "accelerate", "huggingface_hub", "tokenizers", "sacrebleu", "lpips"}

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Blocker())
from semcodec.cli import main
sys.argv = ["semcodec", *sys.argv[1:]]
main()
"""


def _core_only(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CORE_ONLY, *args], capture_output=True, text=True, timeout=300)


def test_without_the_semantic_extra_the_core_works_and_semantic_codecs_say_what_to_install():
    out = _core_only("encode", "--codec", "multi-sc")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "pip install 'semcodec[semantic]'" in out.stderr
    listed = _core_only("codecs")
    assert listed.returncode == 0 and "semcodec[semantic]" in listed.stdout
    ran = _core_only("encode", "--codec", "deep-jscc", "--snr", "5", "--json")
    assert ran.returncode == 0, ran.stderr
    rec = _record(ran.stdout)
    assert rec["metrics"]["psnr"] > 20 and rec["metrics"]["lpips"] is None
    assert "semcodec[semantic]" in rec["unavailable"]["lpips"]
    assert "semcodec[semantic]" in rec["unavailable"]["clip_cos"]


def test_shell_completion_completes_commands_and_options():
    import os

    env = {**os.environ, "_SEMCODEC_COMPLETE": "complete_bash", "COMP_WORDS": "semcodec enc", "COMP_CWORD": "1"}
    out = subprocess.run([sys.executable, "-m", "semcodec"], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["encode"], out.stderr
    env.update(COMP_WORDS="semcodec bench --cod", COMP_CWORD="2")
    out = subprocess.run([sys.executable, "-m", "semcodec"], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["--codecs"], out.stderr


def test_an_option_scoped_to_one_codec_reaches_only_that_codec(kodak_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", "kodak24", "--data", kodak_dir, "--codecs", "bpg-ldpc,deep-jscc", "--limit", "1",
                            "--snr", "8", "--metrics", "psnr", "--opt", "bpg-ldpc.mcs=qpsk-1/2", "--out", out)
    assert code == 0, err
    options = {json.loads(line)["codec"]: json.loads(line)["config"]["options"] for line in out.read_text().splitlines()}
    assert options["bpg-ldpc"]["mcs"] == "qpsk-1/2" and "mcs" not in options["deep-jscc"]
    assert_clean_error(*call_cli("bench", "kodak24", "--data", kodak_dir, "--codecs", "deep-jscc", "--limit", "1",
                                 "--opt", "bpg-ldpc.mcs=qpsk-1/2", "--out", out), "CODEC.KEY=VALUE")
    code, out_text, err = call_cli("encode", "--codec", "bpg-ldpc", "--opt", "bpg-ldpc.mcs=qpsk-1/2", "--snr", "8",
                                   "--json")
    assert code == 0 and _record(out_text)["transmitter"]["mcs"] == "qpsk-1/2", err
