import json

from semcodec.bench import BenchPlan, aggregate, read_records, run_bench
from semcodec.channel import AWGNChannel
from semcodec.data import kodak24
from semcodec.registry import load_codec


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
    table = aggregate(records, "psnr")
    (label, ratio, cells), = table.rows
    assert label == "uncoded-analog" and abs(ratio - 0.5) < 0.01
    expected = sum(r["metrics"]["psnr"] for r in records if r["snr_db"] == 10.0) / 2
    assert abs(cells[10.0][0] - expected) < 1e-9 and cells[10.0][1] == 2
    assert json.dumps(records[0])  # records are plain JSON
