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
    assert code == 0 and out.count("setA, AWGN") == 1 and out.count("setA, Rayleigh") == 1 and "setB" in out


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


def test_an_edited_image_is_counted_once_with_its_latest_record(tmp_path, kodak_dir):
    from PIL import Image

    from semcodec.bench import read_records
    from semcodec.report import aggregate

    folder = tmp_path / "img"
    folder.mkdir()
    Image.open(kodak_dir / "kodim05.png").resize((64, 48)).save(folder / "x.png")
    out = tmp_path / "r.jsonl"
    args = ("bench", folder, "--codecs", "uncoded-analog", "--snr", "10", "--out", out)
    assert call_cli(*args)[0] == 0
    Image.open(kodak_dir / "kodim23.png").resize((64, 48)).save(folder / "x.png")
    assert call_cli(*args)[0] == 0
    recs = read_records(out)
    assert len(recs) == 2  # recomputed for the new content
    (table,) = aggregate(recs)
    cell = table.rows[0].cells[10.0]
    assert cell.n == 1 and cell.mean == recs[1]["metrics"]["psnr"] and table.rows[0].superseded == 1


def test_grid_rows_follow_the_seed_and_rd_lines_follow_the_configuration(two_sets, tmp_path):
    from semcodec.bench import read_records
    from semcodec.report import aggregate

    out = tmp_path / "seeds.jsonl"
    for seed in ("0", "1"):
        assert call_cli("bench", two_sets / "setA", "--codecs", "uncoded-analog", "--snr", "0", "--seed", seed,
                        "--out", out, "--keep-images", tmp_path / "kept")[0] == 0
    code, _, err = call_cli("report", out, "--grid", tmp_path / "g.png")
    assert code == 0, err
    (table,) = aggregate(read_records(out))
    assert [r.seed for r in table.rows] == [0, 1]
    from semcodec.report import tables as report

    seen = {}
    real = report._thumb
    report._thumb = lambda path, width=240: seen.setdefault(path, real(path, width))
    try:
        report.grid(read_records(out), tmp_path / "g2.png")
    finally:
        report._thumb = real
    assert sum("_s0.png" in p for p in seen) == 2 and sum("_s1.png" in p for p in seen) == 2

    rd = tmp_path / "rd.jsonl"
    for extra in ((), ("--opt", "margin_db=4")):
        assert call_cli("bench", two_sets / "setA", "--codecs", "bpg-ldpc", "--snr", "10", "--bandwidth", "1/12,1/6",
                        "--out", rd, *extra)[0] == 0
    lines = {}
    import matplotlib.axes

    real_errorbar = matplotlib.axes.Axes.errorbar
    matplotlib.axes.Axes.errorbar = lambda self, x, y, **k: (lines.setdefault(k["label"], list(x)),
                                                            real_errorbar(self, x, y, **k))[1]
    try:
        report.rd_plot(read_records(rd), tmp_path / "rd.png", 10.0)
    finally:
        matplotlib.axes.Axes.errorbar = real_errorbar
    assert len(lines) == 2 and all(len(x) == 2 for x in lines.values())  # two configurations, two budgets each


def test_keep_images_on_a_resumed_run_keeps_them(two_sets, tmp_path):
    out = tmp_path / "r.jsonl"
    base = ("bench", two_sets / "setA", "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert call_cli(*base)[0] == 0
    assert call_cli(*base, "--keep-images", tmp_path / "kept")[0] == 0
    assert len(list((tmp_path / "kept").rglob("*.png"))) == 2
    code, _, err = call_cli("report", out, "--grid", tmp_path / "g.png")
    assert code == 0, err


def test_records_without_provenance_are_labelled_so(two_sets, tmp_path):
    out = tmp_path / "r.jsonl"
    assert call_cli("bench", two_sets / "setA", "--codecs", "uncoded-analog", "--snr", "5", "--out", out)[0] == 0
    old = tmp_path / "old.jsonl"
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    old.write_text("".join(json.dumps({k: v for k, v in r.items() if k not in ("provenance", "image_sha256")}) + "\n"
                           for r in recs))
    code, text, _ = call_cli("report", out, old)
    assert code == 0 and "[no provenance]" in text


def test_identical_texts_even_empty_score_100_and_each_stream_has_chrf():
    from semcodec.metrics import score_texts

    texts = {"a": {"sent": "", "received": ""}, "b": {"sent": "a cat", "received": "a cqt", "corrected": "a cat"}}
    score_texts(texts)
    assert texts["a"]["bleu_received"] == 100.0 and texts["a"]["chrf_received"] == 100.0
    assert texts["b"]["chrf_received"] < 100.0 and texts["b"]["chrf_corrected"] == 100.0


def test_a_restored_image_is_reported_with_the_record_of_its_current_content(tmp_path, kodak_dir):
    from PIL import Image, ImageOps

    from semcodec.bench import read_records
    from semcodec.report import aggregate

    folder = tmp_path / "e"
    folder.mkdir()
    original = Image.open(kodak_dir / "kodim05.png").resize((64, 48))
    original.save(folder / "x.png")
    out = tmp_path / "r.jsonl"
    args = ("bench", folder, "--codecs", "uncoded-analog", "--snr", "10", "--out", out)
    assert call_cli(*args)[0] == 0
    ImageOps.flip(original).save(folder / "x.png")
    assert call_cli(*args)[0] == 0
    original.save(folder / "x.png")  # restored: the first record is reused, and reported
    assert call_cli(*args)[0] == 0
    recs = read_records(out)
    assert len(recs) == 2
    (table,) = aggregate(recs)
    assert table.rows[0].cells[10.0].mean == recs[0]["metrics"]["psnr"]


def test_two_folders_of_one_name_are_two_datasets(tmp_path, kodak_dir):
    from PIL import Image

    from semcodec.bench import read_records
    from semcodec.report import aggregate

    out = tmp_path / "r.jsonl"
    for parent, name in (("p", "kodim05"), ("q", "kodim23")):
        (tmp_path / parent / "val").mkdir(parents=True)
        Image.open(kodak_dir / f"{name}.png").resize((64, 48)).save(tmp_path / parent / "val" / f"{name}.png")
        assert call_cli("bench", tmp_path / parent / "val", "--codecs", "uncoded-analog", "--snr", "5",
                        "--out", out)[0] == 0
    tables = aggregate(read_records(out))
    assert len(tables) == 2 and all(t.images == 1 for t in tables) and "(" in tables[0].dataset


def test_fewer_metrics_or_another_device_spelling_recompute_nothing(two_sets, tmp_path):
    out = tmp_path / "r.jsonl"
    base = ("bench", two_sets / "setA", "--codecs", "deep-jscc", "--snr", "5", "--out", out)
    assert call_cli(*base)[0] == 0
    assert call_cli(*base, "--metrics", "psnr")[0] == 0
    assert call_cli(*base, "--device", "cpu:0")[0] == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2 and "chrf" in recs[0]["metrics"]


def test_a_metric_left_out_is_computed_when_asked_for_later(two_sets, tmp_path):
    out = tmp_path / "r.jsonl"
    base = ("bench", two_sets / "setA", "--codecs", "uncoded-analog", "--snr", "5", "--out", out)
    assert call_cli(*base, "--metrics", "psnr")[0] == 0
    first = [json.loads(line) for line in out.read_text().splitlines()]
    assert first[0]["unavailable"]["ms_ssim"] == "not requested" and "chrf" in first[0]["metrics"]
    assert call_cli(*base)[0] == 0
    assert len(out.read_text().splitlines()) == 4


def test_a_rewritten_big_model_file_changes_its_fingerprint(tmp_path, monkeypatch):
    import os

    from semcodec.provenance import fingerprint

    monkeypatch.setenv("SEMCODEC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(os.urandom(17 << 20))
    before = fingerprint(folder)
    data = bytearray(weights.read_bytes())
    data[9 << 20] ^= 0xFF  # one byte in the middle, same size
    weights.write_bytes(bytes(data))
    assert fingerprint(folder) != before
    assert (tmp_path / "cache" / "file-hashes.json").is_file()  # the big file's hash is remembered


def test_a_plot_of_a_metric_with_no_values_is_refused(mixed, tmp_path):
    from conftest import assert_clean_error

    assert_clean_error(*call_cli("report", mixed, "--metric", "bleu", "--plot", tmp_path / "p.png"), "no bleu values")


def test_another_model_recomputes_and_test_models_are_not_presented_as_results(tiny_models, tiny_kodak,
                                                                               tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    copy, other = tmp_path / "blip_copy", tmp_path / "blip_other"
    shutil.copytree(tiny_models["blip"], copy)
    shutil.copytree(tiny_models["blip"], other)
    weights = load_file(other / "model.safetensors")
    first = sorted(weights)[0]
    weights[first] = weights[first] + 0.01  # other weights, same architecture and size
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    out = tmp_path / "r.jsonl"
    opts = [x for k, v in TINY_OPTS.items() for x in ("--opt", f"{k}={v}")]
    base = ("bench", tiny_kodak, "--codecs", "vlm-csc", "--snr", "10", "--limit", "1", "--out", out, *opts)
    assert call_cli(*base)[0] == 0
    assert call_cli(*base, "--model", f"blip={copy}")[0] == 0  # the same weights elsewhere: reused
    assert len(out.read_text().splitlines()) == 1
    assert call_cli(*base, "--model", f"blip={other}")[0] == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 2  # other weights: recomputed
    revs = [r["provenance"]["components"]["blip"]["revision"] for r in recs]
    assert revs[0] != revs[1] and recs[0]["provenance"]["config_digest"] != recs[1]["provenance"]["config_digest"]
    assert all(r["provenance"]["test_models"] for r in recs)
    assert_clean_error(*call_cli("report", out), "tiny random models")
    code, text, err = call_cli("report", out, "--allow-test-models", "--html", tmp_path / "html")
    assert code == 0 and "vlm-csc [models" in text and "TEST MODELS" in text
    assert "not results" in (tmp_path / "html" / "index.html").read_text()
    # the model behind a metric is in the provenance too (here the tiny CLIP behind clip_cos)
    assert "clip_cos" in recs[0]["provenance"]["metric_models"] and "clip_cos" in recs[0]["provenance"]["test_models"]
