"""The command line driven with generated argument lists (hypothesis): whatever a user types,
the exit code is 0, 2 or 130, nothing prints a traceback, and the output stays small."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import call_cli


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, kodak_dir):
    """A working folder holding a tiny image folder, a tiny image and a results file."""
    from PIL import Image

    root = tmp_path_factory.mktemp("generated")
    (root / "set").mkdir()
    Image.open(kodak_dir / "kodim23.png").resize((48, 32)).save(root / "set" / "a.png")
    Image.open(kodak_dir / "kodim23.png").resize((48, 32)).save(root / "img.png")
    (root / "notes.txt").write_text("not an image")
    code, _, err = call_cli("bench", root / "set", "--codecs", "uncoded-analog", "--snr", "0,5",
                            "--out", root / "r.jsonl")
    assert code == 0, err
    return root


WORDS = st.sampled_from([
    "img.png", "set", "r.jsonl", "notes.txt", "missing.png", "out.png", "fig.png", "fig.xyz", "/dev/null",
    "/dev/zero", "/nonexistent/x.png", ".", "", "-", "--", "deep-jscc", "uncoded-analog", "bpg-ldpc",
    "multi-sc", "all", "awgn", "rayleigh", "noiseless", "moon", "0", "-1", "1", "5", "1e999", "nan", "inf",
    "1/12", "1/0", "abc", "18446744073709551616", "-3,0,3", "0,,5", "psnr", "bleu", "foo", "cpu", "cuda",
    "cuda:7", "iterations=abc", "mcs=qpsk-1/2", "bogus=1", "checkpoint=/etc/passwd", "captioner=/nowhere",
    "x=y=z", "é", "\x00"[:0] + "tab\there",
])
FLAGS = st.sampled_from([
    "--snr", "--codec", "-c", "--codecs", "--channel", "--seed", "--bandwidth", "--design-snr", "--mcs",
    "--grid", "--text-fec", "--opt", "-O", "--device", "--model", "-o", "--output", "--save-signal", "--json",
    "--out", "--plot", "--limit", "--metric", "--metrics", "--data", "--max-pixels", "--paste-slice",
    "--epochs", "--help", "--bogus", "--debug-not",
])
COMMANDS = st.sampled_from([
    ["encode"], ["decode"], ["bench"], ["report"], ["codecs"], ["models", "list"], ["models", "check"],
    ["train", "deep-jscc"], ["train", "adjscc"], ["frobnicate"], [],
])


def _safe(command: list[str], args: list[str]) -> bool:
    """Skip argument lists that would legitimately start long work (training, a full dataset,
    downloads): the property is about parsing and validation, not about running for minutes."""
    if command[:1] == ["train"] and "--epochs" not in args and "--steps" not in args:
        return "--data" not in args
    if command[:1] == ["train"]:
        return False
    if command == ["bench"] and ("set" not in args[:1]):
        return False
    if command[:1] == ["models"] and command[1:] == ["check"]:
        return False
    return True


#: Mostly well-formed: a positional word, then flag/value pairs (so parsing succeeds and the
#: values reach validation and the library).
PAIRS = st.builds(lambda first, pairs: [first, *[x for pair in pairs for x in pair]],
                  WORDS, st.lists(st.tuples(FLAGS, WORDS), max_size=4))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(COMMANDS, st.one_of(st.lists(st.one_of(WORDS, FLAGS), max_size=7), PAIRS))
def test_any_argument_list_exits_0_2_or_130_without_a_traceback(sandbox, command, args):
    if not _safe(command, args):
        return
    if command == ["bench"]:
        args = [*args, "--limit", "1"]
    code, out, err = call_cli(*command, *args, cwd=sandbox)
    assert code in (0, 2, 130), (command, args, code, err[-2000:])
    assert "Traceback" not in out + err
    assert len(out) + len(err) < 20_000
