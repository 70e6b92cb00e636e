"""`report` never averages what must not be averaged, says what made each number, and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import TINY_OPTS, assert_clean_error, call_cli


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory, kodak_dir):
    from PIL import Image

    root = tmp_path_factory.mktemp("sets")
    for folder, names in (("setA", ("kodim05", "kodim23")), ("setB", ("kodim15", "kodim20"))):
        (root / folder).mkdir()
        for n in names:
            Image.open(kodak_dir / f"{n}.png").resize((64, 48)).save(root / folder / f"{n}.png")
    return root


@pytest.fixture(scope="module")
def mixed(two_sets):
    """One results file: setA over AWGN and Rayleigh, setB over AWGN (uncoded-analog, deep-jscc)."""
    out = two_sets / "mixed.jsonl"
    for folder, channel in (("setA", "awgn"), ("setA", "rayleigh"), ("setB", "awgn")):
        code, _, err = call_cli("bench", two_sets / folder, "--codecs", "uncoded-analog,deep-jscc", "--snr", "0,5",
                                "--channel", channel, "--out", out)
        assert code == 0, err
    return out


def test_channels_and_datasets_are_never_averaged_together(mixed):
    from semcodec.bench import read_records
    from semcodec.report import aggregate

    tables = aggregate(read_records(mixed), "psnr")
    assert [(t.dataset, t.channel) for t in tables] == [("setA", "awgn"), ("setA", "rayleigh"), ("setB", "awgn")]
    for t in tables:
        assert [r.codec for r in t.rows] == ["deep-jscc", "uncoded-analog"]
        assert all(c.n == 2 for r in t.rows for c in r.cells.values())
    awgn, ray = tables[0].rows[0].cells[5.0].mean, tables[1].rows[0].cells[5.0].mean
    assert awgn != ray
    code, out, err = call_cli("report", mixed)
    assert code == 0 and out.count("setA, AWGN") == 1 and out.count("setA, rayleigh") == 1 and "setB" in out


def test_filters_and_formats(mixed):
    code, out, _ = call_cli("report", mixed, "--channel", "awgn", "--dataset", "setA", "--codec", "deep-jscc",
                            "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {(r["dataset"], r["channel"], r["codec"]) for r in rows} == {("setA", "awgn", "deep-jscc")}
    assert {r["snr_db"] for r in rows} == {"0", "5"} and all(r["n"] == "2" for r in rows)
    code, out, _ = call_cli("report", mixed, "--format", "json", "--metric", "ms_ssim")
    assert code == 0 and len(json.loads(out)) == 3
    code, out, _ = call_cli("report", mixed, "--format", "markdown")
    assert code == 0 and out.count("| codec | k/n | N |") == 3
    assert_clean_error(*call_cli("report", mixed, "--format", "xml"), "--format")
    assert_clean_error(*call_cli("report", mixed, "--channel", "moon"), "no records left")


def test_several_files_at_once_and_a_plot_with_units(mixed, two_sets):
    other = two_sets / "other.jsonl"
    assert call_cli("bench", two_sets / "setB", "--codecs", "uncoded-analog", "--snr", "10", "--out", other)[0] == 0
    code, out, err = call_cli("report", mixed, other, "--dataset", "setB", "--plot", two_sets / "fig.png")
    assert code == 0 and "10 dB" in out and (two_sets / "fig.png").stat().st_size > 10_000


def test_a_changed_option_is_its_own_row_labelled_with_what_differs(two_sets):
    out = two_sets / "opts.jsonl"
    for margin in ("1.0", "3.0"):
        code, _, err = call_cli("bench", two_sets / "setA", "--codecs", "bpg-ldpc", "--snr", "10", "--out", out,
                                "--opt", f"margin_db={margin}")
        assert code == 0, err
    assert len(out.read_text().splitlines()) == 4  # recomputed, not reused
    code, text, _ = call_cli("report", out)
    assert "bpg-ldpc [margin_db=1]" in text and "bpg-ldpc [margin_db=3]" in text


def test_another_model_recomputes_and_test_models_are_not_presented_as_results(tiny_models, tiny_kodak,
                                                                               tmp_path):
    import shutil

    other = tmp_path / "blip_copy"
    shutil.copytree(tiny_models["blip"], other)
    out = tmp_path / "r.jsonl"
    opts = [x for k, v in TINY_OPTS.items() for x in ("--opt", f"{k}={v}")]
    base = ("bench", tiny_kodak, "--codecs", "vlm-csc", "--snr", "10", "--limit", "1", "--out", out, *opts)
    assert call_cli(*base)[0] == 0
    assert call_cli(*base, "--model", f"blip={other}")[0] == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2  # the second run recomputed
    ids = [r["provenance"]["components"]["blip"]["id"] for r in recs]
    assert ids[0] != ids[1] and recs[0]["provenance"]["config_digest"] != recs[1]["provenance"]["config_digest"]
    assert all(r["provenance"]["test_models"] for r in recs)
    assert_clean_error(*call_cli("report", out), "tiny random models")
    code, text, err = call_cli("report", out, "--allow-test-models")
    assert code == 0 and "vlm-csc [models" in text
