import json

from semcodec.bench import BenchPlan, read_records, run_bench
from semcodec.report import aggregate
from semcodec.channel import AWGNChannel
from semcodec.data import kodak24
from semcodec.codec import load_codec


def _plan(kodak_dir, out, snrs=(0.0, 10.0)):
    codec = load_codec("uncoded-analog")()
    return BenchPlan("kodak24", kodak24(kodak_dir, download=False)[:2], {codec.name: codec}, list(snrs),
                     AWGNChannel(), metrics=["psnr"], out=out)


def test_rerun_skips_done_items_and_ignores_a_torn_line(kodak_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    first = run_bench(_plan(kodak_dir, out))
    assert len(first) == 4
    with open(out, "a") as f:
        f.write('{"codec": "uncoded-analog", "snr_')  # killed mid-write
    seen = []
    again = run_bench(_plan(kodak_dir, out), lambda rec, cached: seen.append(cached))
    assert seen == [True] * 4
    assert [r["metrics"] for r in again] == [r["metrics"] for r in first]
    assert len(read_records(out)) == 4


def test_a_new_snr_only_runs_what_is_missing(kodak_dir, tmp_path):
    out = tmp_path / "r.jsonl"
    run_bench(_plan(kodak_dir, out))
    seen = []
    run_bench(_plan(kodak_dir, out, (0.0, 10.0, 20.0)), lambda rec, cached: seen.append(cached))
    assert seen.count(False) == 2 and len(read_records(out)) == 6


def test_aggregate_means_per_codec_and_snr(kodak_dir, tmp_path):
    records = run_bench(_plan(kodak_dir, tmp_path / "r.jsonl"))
    (table,) = aggregate(records, "psnr")
    (row,) = table.rows
    assert row.label == "uncoded-analog" and abs(row.ratio - 0.5) < 0.01
    values = [r["metrics"]["psnr"] for r in records if r["snr_db"] == 10.0]
    cell = row.cells[10.0]
    assert abs(cell.mean - sum(values) / 2) < 1e-9 and cell.n == 2
    assert abs(cell.ci95 - 12.706 * abs(values[0] - values[1]) / 2 ** 0.5 / 2 ** 0.5) < 1e-9
    assert json.dumps(records[0])  # records are plain JSON
