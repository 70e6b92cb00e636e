"""`report --vs`: Bjøntegaard deltas with known answers, paired bootstrap intervals that cover,
paired differences, refusals in one line, and the paper formats (LaTeX, pgfplots, PDF/SVG)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_error, call_cli

REAL = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "learned_vs_classical_awgn.jsonl"
SNRS = [-3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 19.0]


def curve(s):
    """A concave, rising PSNR-vs-SNR curve (no straight line: PCHIP has work to do)."""
    return 38.0 - 16.0 * np.exp(-(np.asarray(s, float) + 5.0) / 9.0)


def rec(codec, image, snr, psnr, ms_ssim=None, budget=1 / 12, ratio=None, status="ok", **extra):
    return {"codec": codec, "dataset": "synth", "image": image, "snr_db": float(snr), "channel": "awgn", "seed": 0,
            "status": status, "channel_uses": 1000, "bandwidth_ratio": ratio if ratio is not None else budget,
            "metrics": {"psnr": float(psnr), "ms_ssim": ms_ssim}, "config": {"bandwidth": budget, "design_snr_db": None,
                                                                              "options": {}},
            "provenance": {"config_digest": f"{codec}-{budget:.5f}", "test_models": []}, **extra}


def write(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def compare_records(records, ref, metric="psnr", resamples=200):
    from semcodec.report.comparison import add_derived, compare
    from semcodec.report import aggregate

    records = add_derived(records, metric)
    return compare(aggregate(records, metric), records, ref, resamples)


# -- known answers ----------------------------------------------------------------------------------
def test_a_curve_shifted_by_2_db_in_snr_saves_exactly_2_db_and_one_lifted_1_db_gains_exactly_1():
    from semcodec.report.comparison import bd_metric, bd_snr

    s = np.array(SNRS)
    assert abs(bd_snr(s, curve(s), s - 2.0, curve(s)) - 2.0) < 1e-6
    assert abs(bd_snr(s, curve(s), s + 2.0, curve(s)) + 2.0) < 1e-6  # needs 2 dB more: -2
    assert abs(bd_metric(s, curve(s), s, curve(s) + 1.0) - 1.0) < 1e-6
    assert abs(bd_metric(s, curve(s), s, curve(s) - 1.0) + 1.0) < 1e-6


def test_the_same_known_answers_through_records_with_images_of_different_difficulty():
    rng = np.random.default_rng(1)
    offsets = rng.normal(0, 3, 12)
    records = []
    for i, d in enumerate(offsets):
        for s in SNRS:
            records.append(rec("ref", f"im{i}", s, curve(s) + d))
            records.append(rec("shifted", f"im{i}", s - 2.0, curve(s) + d))  # reaches each quality 2 dB sooner
            records.append(rec("lifted", f"im{i}", s, curve(s) + d + 1.0))
    (vs,) = compare_records(records, "ref")
    by = {v.label: v for v in vs.rows}
    assert abs(by["shifted"].bd_snr.value - 2.0) < 1e-6 and by["shifted"].bd_snr.n_images == 12
    # paired: every resample moves both curves alike, so the interval is the shift itself
    assert abs(by["shifted"].bd_snr.low - 2.0) < 1e-6 and abs(by["shifted"].bd_snr.high - 2.0) < 1e-6
    assert abs(by["lifted"].bd_metric.value - 1.0) < 1e-6
    assert abs(by["lifted"].bd_metric.low - 1.0) < 1e-6 and abs(by["lifted"].bd_metric.high - 1.0) < 1e-6
    assert by["lifted"].bd_metric.over == [-3.0, 19.0]
    assert all(abs(d.mean - 1.0) < 1e-9 and d.significant for d in by["lifted"].differences)
    assert by["shifted"].bd_metric.over == [-3.0, 17.0]  # the SNR range both cover, nothing extrapolated


def test_bandwidth_saving_from_a_sweep_at_one_snr():
    from semcodec.report.comparison import bd_rate_saving

    budgets = [1 / 48, 1 / 24, 1 / 12, 1 / 6]
    q = lambda k: 20 + 4 * math.log2(k * 48) + 0.3 * math.log2(k * 48) ** 2  # noqa: E731
    records = []
    for i, d in enumerate([-1.0, 0.0, 0.5, 2.0]):
        for b in budgets:
            records.append(rec("ref", f"im{i}", 10, q(b) + d, budget=b))
            records.append(rec("half", f"im{i}", 10, q(b) + d, budget=b / 2))  # the same quality on half the symbols
    (vs,) = compare_records(records, "ref")
    (bw,) = vs.bandwidth
    assert bw.label == "half" and bw.snr_db == 10 and bw.budgets == 4 and bw.reference_budgets == 4
    assert abs(bw.saving_percent.value - 50.0) < 1e-6
    import bjontegaard

    rate = np.array(budgets)
    quality = np.array([q(b) for b in budgets])
    assert abs(bd_rate_saving(rate, quality, rate * 0.8, quality + 0.2)
               + bjontegaard.bd_rate(rate, quality, rate * 0.8, quality + 0.2, "pchip", min_overlap=0)) < 1e-9


def test_against_the_bjontegaard_package_and_scipy_on_a_real_pair():
    import bjontegaard
    from scipy.interpolate import PchipInterpolator

    from semcodec.bench.results_file import deduplicate, read_results

    records = deduplicate(read_results(REAL).records)
    (vs,) = compare_records(records, "adjscc")
    (table,) = __import__("semcodec.report.tables", fromlist=["aggregate"]).aggregate(records, "psnr")
    mean = {r.label: np.array([r.cells[s].mean for s in SNRS]) for r in table.rows}
    s = np.array(SNRS)
    ref, test = mean["adjscc"], mean["deep-jscc"]
    by = {v.label: v for v in vs.rows}
    expect = bjontegaard.bd_linear(s, ref, s, test, "pchip", min_overlap=0)
    by_hand = (PchipInterpolator(s, test).integrate(-3, 19) - PchipInterpolator(s, ref).integrate(-3, 19)) / 22
    assert abs(by["deep-jscc"].bd_metric.value - expect) < 1e-9 and abs(expect - by_hand) < 1e-9
    saving = -bjontegaard.bd_linear(ref, s, test, s, "pchip", min_overlap=0)  # both curves rise strictly
    assert abs(by["deep-jscc"].bd_snr.value - saving) < 1e-9
    assert by["deep-jscc"].bd_snr.value < 0 and by["deep-jscc"].bd_snr.excludes_zero  # deep-jscc needs more SNR
    # bpg-ldpc's plateau (one MCS at 12 and 15 dB): the 15 dB point reaches nothing new and is left out
    bpg = mean["bpg-ldpc"]
    keep = [i for i in range(len(s)) if bpg[i] > max(bpg[:i], default=-1)]
    assert len(keep) == len(s) - 1
    expect = -bjontegaard.bd_linear(ref, s, bpg[keep], s[keep], "pchip", require_matching_points=False, min_overlap=0)
    assert abs(by["bpg-ldpc"].bd_snr.value - expect) < 1e-9
    assert vs.failures == {"bpg-ldpc": {"-3": 24}}


# -- uncertainty ------------------------------------------------------------------------------------------
def test_the_paired_bootstrap_interval_covers_the_true_gain_in_about_95_percent_of_seeds():
    from semcodec.report.comparison import bootstrap_bd

    s = np.array(SNRS)
    hits, seeds = 0, range(100)
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        difficulty = rng.normal(0, 3, (20, 1))
        ref = curve(s) + difficulty + rng.normal(0, 0.6, (20, len(s)))
        test = curve(s) + 0.7 + difficulty + rng.normal(0, 0.6, (20, len(s)))
        iv = bootstrap_bd(s, ref, s, test, "metric", resamples=400, seed=seed)
        hits += iv.low <= 0.7 <= iv.high
    assert 0.89 <= hits / len(seeds) <= 0.99, hits  # 93 of 100 (a plain percentile interval: 88)


def test_a_paired_interval_is_narrower_than_an_unpaired_one_when_image_difficulty_dominates():
    from semcodec.report.comparison import bootstrap_bd, paired_difference

    rng = np.random.default_rng(7)
    s = np.array(SNRS)
    difficulty = rng.normal(0, 4, (24, 1))
    ref = curve(s) + difficulty + rng.normal(0, 0.3, (24, len(s)))
    test = curve(s) + 0.4 + difficulty + rng.normal(0, 0.3, (24, len(s)))
    d = paired_difference(test[:, 3], ref[:, 3], 6.0)
    assert d.ci95 < d.ci95_unpaired / 4 and d.significant
    paired = bootstrap_bd(s, ref, s, test, "metric", resamples=500)
    unpaired = bootstrap_bd(s, ref, s, test, "metric", resamples=500, paired=False)
    assert paired.value == unpaired.value
    assert (paired.high - paired.low) < (unpaired.high - unpaired.low) / 4
    assert paired.low > 0 > unpaired.low  # only the paired comparison sees the 0.4 dB gain


def test_the_bootstrap_is_seeded():
    records = [rec(c, f"im{i}", s, curve(s) + i * 0.3 + (0.5 if c == "b" else 0) + 0.1 * ((i * 7 + s) % 3))
               for c in "ab" for i in range(8) for s in SNRS]
    first = [v.as_dict() for v in compare_records(records, "a")]
    assert first == [v.as_dict() for v in compare_records(records, "a")]


# -- the command line --------------------------------------------------------------------------------------------
@pytest.fixture
def synth(tmp_path):
    records = []
    for i in range(6):
        d = 0.7 * i - 1.5
        for s in SNRS:
            records.append(rec("ref", f"im{i}", s, curve(s) + d, ms_ssim=0.99 - 0.2 * math.exp(-(s + 5) / 6)))
            records.append(rec("ours", f"im{i}", s, curve(s + 1.5) + d + 0.05 * (i % 2),
                               ms_ssim=0.992 - 0.2 * math.exp(-(s + 6) / 6)))
    records.append(rec("ref", "im0", -3.0, 11.0, ms_ssim=0.3, status="decode_failed"))  # replaces im0 at -3 dB
    records = [r for r in records if not (r["codec"] == "ref" and r["image"] == "im0" and r["snr_db"] == -3.0
                                          and r["status"] == "ok")]
    return write(tmp_path / "synth.jsonl", records)


def test_vs_prints_the_deltas_the_differences_and_says_how_failures_count(synth):
    code, out, err = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200")
    assert code == 0, err
    assert "BD-PSNR (dB)" in out and "BD-SNR (dB saved)" in out and "paired difference per SNR" in out
    assert "decode failures counted at the PSNR their records hold" in out and "ref: 1 at -3 dB" in out
    code, out, err = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200", "--format", "json")
    doc = json.loads(out)
    (vs,) = doc["vs"]
    (ours,) = vs["rows"]
    assert ours["label"] == "ours" and ours["n_images"] == 6 and ours["bd_snr"]["value"] > 0
    assert {"value", "low", "high", "excludes_zero", "over"} <= set(ours["bd_metric"])
    assert len(ours["differences"]) == len(SNRS) and vs["failures"] == {"ref": {"-3": 1}}
    assert doc["tables"][0]["rows"][0]["label"] == "ours"
    code, text, _ = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200")
    shown = f"{ours['bd_snr']['value']:+.2f} [{ours['bd_snr']['low']:+.2f}, {ours['bd_snr']['high']:+.2f}]"
    assert shown in text  # what the table prints is what the JSON holds
    code, out, _ = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["quantity"] for r in rows} == {"bd_metric", "bd_snr", "paired_difference"}


def test_unknown_reference_and_curves_that_do_not_overlap_are_refused_in_one_line(synth, tmp_path):
    assert_clean_error(*call_cli("report", synth, "--vs", "nope"), "no such codec")
    far = [rec("ref", f"im{i}", s, 30 + s / 4 + i) for i in range(3) for s in (10, 15, 19)]
    far += [rec("low", f"im{i}", s, 10 + s + i) for i in range(3) for s in (-3, 0, 3)]
    assert_clean_error(*call_cli("report", write(tmp_path / "far.jsonl", far), "--vs", "ref"), "do not overlap")


def test_ms_ssim_in_db():
    from semcodec.report.comparison import add_derived, ms_ssim_db

    assert abs(ms_ssim_db(0.9) - 10.0) < 1e-12 and abs(ms_ssim_db(0.99) - 20.0) < 1e-9 and ms_ssim_db(1.0) is None
    (r,) = add_derived([rec("a", "x", 0, 30, ms_ssim=1.0)], "ms_ssim_db")
    assert r["metrics"]["ms_ssim_db"] is None and "infinite" in r["unavailable"]["ms_ssim_db"]


def _tabulars(tex: str):
    """(column count of the spec, cells of every row) of each tabular."""
    out = []
    for spec, body in re.findall(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", tex, re.S):
        ncols = len(re.findall(r"[lrc]", spec))
        rows = []
        for line in body.splitlines():
            line = re.sub(r"\\(toprule|midrule|bottomrule|cmidrule(\(lr\))?\{[^}]*\})", "", line).strip()
            if not line:
                continue
            assert line.endswith(r"\\"), line
            cells = re.split(r"(?<!\\)&", line[:-2])
            width = sum(int(m.group(1)) if (m := re.search(r"\\multicolumn\{(\d+)\}", c)) else 1 for c in cells)
            rows.append(width)
        out.append((ncols, rows))
    return out


def test_latex_is_booktabs_tabulars_with_the_right_number_of_columns(synth, tmp_path):
    import shutil
    import subprocess

    code, tex, err = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200", "--format", "latex")
    assert code == 0, err
    tabs = _tabulars(tex)
    assert len(tabs) == 3  # means, Bjøntegaard deltas, per-SNR differences
    assert [n for n, _ in tabs] == [2 + len(SNRS), 4, 1 + len(SNRS)]
    for ncols, rows in tabs:
        assert rows and all(w == ncols for w in rows), (ncols, rows)
    assert tex.count(r"\toprule") == 3 and "^{*}" in tex and r"\textsuperscript{F1}" in tex
    if shutil.which("pdflatex"):
        doc = tmp_path / "t.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage[T1]{fontenc}\\begin{document}"
                       + tex + "\\end{document}\n")
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", doc.name], cwd=tmp_path, capture_output=True,
                             timeout=60)
        assert run.returncode == 0, run.stdout[-2000:]


def test_pgfplots_csv_one_line_per_snr(synth, tmp_path):
    code, out, err = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200", "--format", "pgfplots")
    assert code == 0, err
    lines = [x for x in out.splitlines() if not x.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [float(r["snr_db"]) for r in rows] == SNRS
    assert {"ours", "ours_ci95", "ref", "ref_failed", "ours_diff", "ours_diff_ci95"} <= set(rows[0])
    assert rows[0]["ref_failed"] == "1"
    two = write(tmp_path / "two.jsonl", [dict(rec("a", "x", 0, 30), channel=c) for c in ("awgn", "rayleigh")])
    assert_clean_error(*call_cli("report", two, "--format", "pgfplots"), "--channel")


def test_figures_as_pdf_and_svg_with_the_bound_dashed_and_the_html_shows_the_comparison(synth, tmp_path, monkeypatch):
    for suffix, magic in ((".pdf", b"%PDF"), (".svg", b"<?xml")):
        out = tmp_path / f"f{suffix}"
        code, _, err = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200", "--plot", out)
        assert code == 0, err
        assert out.read_bytes().startswith(magic)
    from semcodec.report import tables as report

    bound = [rec("capacity", "bound", s, 40 + s / 2, bound=True) for s in SNRS]
    seen = {}
    monkeypatch.setattr(report, "_save", lambda fig, plt, path, dpi=150: seen.setdefault("fig", fig) and Path(path))
    tables = report.aggregate([*bound, rec("ref", "im0", 0, 30), rec("ref", "im0", 5, 32)])
    report.plot(tables, tmp_path / "b.png")
    ax = seen["fig"].axes[0]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert "k/n = 1/12" in ax.get_title() and ax.get_xlabel().endswith("(dB)") and ax.get_ylabel() == "PSNR (dB)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 2 and any(x.startswith("capacity") for x in legend)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert dashed, styles
    monkeypatch.undo()
    code, _, err = call_cli("report", synth, "--vs", "ref", "--bootstrap", "200", "--html", tmp_path / "h")
    assert code == 0, err
    page = (tmp_path / "h" / "index.html").read_text()
    assert "Against ref" in page and "Bjøntegaard deltas" in page and "paired difference per SNR" in page


def test_the_reference_is_a_codec_or_a_label_and_an_ambiguous_one_is_refused(tmp_path):
    base = [rec(c, f"im{i}", s, curve(s) + i + (0.5 if c == "b" else 0)) for c in "ab" for i in range(4) for s in SNRS]
    designed = [dict(r, codec="b", config={**r["config"], "design_snr_db": 10.0},
                     provenance={"config_digest": "b-designed", "test_models": []}) for r in base if r["codec"] == "b"]
    other = [dict(r, channel="rayleigh") for r in base if r["codec"] == "a"]
    path = write(tmp_path / "r.jsonl", base + designed + other)
    code, out, err = call_cli("report", path, "--vs", "b (designed 10 dB)", "--bootstrap", "100", "--format", "json")
    assert code == 0, err
    (vs,) = json.loads(out)["vs"]
    assert vs["reference"] == "b (designed 10 dB)" and [r["label"] for r in vs["rows"]] == ["a", "b"]
    assert vs["notes"] == ["not compared, no b (designed 10 dB) there: synth/rayleigh"]
    code, out, err = call_cli("report", path, "--vs", "b", "--bootstrap", "100", "--format", "json")
    assert code == 0 and [r["label"] for r in json.loads(out)["vs"][0]["rows"]] == ["a", "b (designed 10 dB)"]
    margins = [dict(r, config={**r["config"], "options": {"margin_db": m}},
                    provenance={"config_digest": f"a-{m}", "test_models": []}) for r in base if r["codec"] == "a"
               for m in (0, 3)]
    path = write(tmp_path / "m.jsonl", margins + [r for r in base if r["codec"] == "b"])
    assert_clean_error(*call_cli("report", path, "--vs", "a"), "give one label")
