"""Bench throughput by executor: records/s for local 1 job, local 2 jobs, Ray with 1 and 2 workers,
on the same work in one run; then, with ``--full``, the kodak24 x 8 SNRs x {bpg-ldpc, deep-jscc}
sweep with every default metric at -j 1 and -j 2.

    python benchmarks/scaling.py [--data ../shared/datasets] [--images 8] [--repeats 1] [--full]

Each configuration is a fresh ``semcodec bench`` process writing a fresh results file (no
cached work, no warm codec caches), so what is compared is what a user would see; process start
(~1-2 s) and, for Ray, starting a local cluster (~5 s) are inside the timing, as they are for a
user. Ratios are against local 1 job of the same run; with ``--repeats`` the median is quoted.
"local, 1 job on 1 core" is the same job held to one core (as on a one-core machine): 2 jobs on
2 cores against it is how the executor scales per core, apart from one job's own threads.

CPU time (user + system, of the bench process and every process it waited for) is measured too:
"cores busy" = CPU time / wall time. One job that already keeps ``c`` of the machine's ``C`` cores
busy can be sped up by more jobs at most ``C / c`` times (the same work, at best the same CPU time
per record) — the table prints that bound next to what was measured. Ray's own processes are not
children of the bench, so its CPU column counts only the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_json  # noqa: E402

SNRS = "-3,0,3,6,9,12,15,19"
#: (name, bench flags, held to one core)
CONFIGS = [("local, 1 job", ["--executor", "local", "-j", "1"], False),
           ("local, 1 job on 1 core", ["--executor", "local", "-j", "1"], True),
           ("local, 2 jobs", ["--executor", "local", "-j", "2"], False),
           ("ray, 1 worker", ["--executor", "ray", "-j", "1"], False),
           ("ray, 2 workers", ["--executor", "ray", "-j", "2"], False)]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench(data: str, images: int | None, extra: list[str], metrics: str | None,
          one_core: bool = False) -> tuple[float, int, float]:
    """Wall time of one fresh ``semcodec bench`` process, the records it wrote, and its CPU time
    (``one_core``: the process may use only the first core it is given, as on a 1-core machine)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.jsonl"
        cmd = [sys.executable, "-m", "semcodec", "bench", "kodak24", "--data", data, "--codecs",
               "bpg-ldpc,deep-jscc", "--snr", SNRS, "--out", str(out), *extra]
        if images:
            cmd += ["--limit", str(images)]
        if metrics:
            cmd += ["--metrics", metrics]
        cpu0, t0 = _children_cpu(), time.perf_counter()
        pin = sorted(os.sched_getaffinity(0))[:1]
        run = subprocess.run(cmd, capture_output=True, text=True,
                             preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if one_core else None)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        if run.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed: {run.stderr.strip()[-500:]}")
        return wall, sum(1 for line in out.read_text().splitlines() if line.strip()), cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak24"))
    ap.add_argument("--images", type=int, default=12, help="kodak24 images in the comparison (default 12)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--full", action="store_true", help="also the whole kodak24 sweep at -j 1 and -j 2")
    args = ap.parse_args()

    rows, table = [], {}
    for name, extra, one_core in CONFIGS:
        runs = [bench(args.data, args.images, extra, None, one_core) for _ in range(args.repeats)]
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, _, c in runs)
        records = runs[0][1]
        table[name] = {"wall_s": round(wall, 2), "records": records, "records_per_s": round(records / wall, 3),
                       "walls": [round(w, 2) for w, _, _ in runs], "cpu_s": round(cpu, 1),
                       "cores_busy": round(cpu / wall, 2)}
    base = table["local, 1 job"]["records_per_s"]
    for name, row in table.items():
        row["vs_local_1_job"] = round(row["records_per_s"] / base, 3)
        rows.append([name, row["records"], row["wall_s"], row["records_per_s"], row["vs_local_1_job"],
                     row["cpu_s"], row["cores_busy"]])
    print(f"kodak24, first {args.images} images x 8 SNRs x {{bpg-ldpc, deep-jscc}}, default metrics")
    print_table(["executor", "records", "wall s", "records/s", "x local 1 job", "cpu s", "cores busy"], rows)
    n_cores = len(os.sched_getaffinity(0))
    bound = round(n_cores / table["local, 1 job"]["cores_busy"], 2)
    print(f"one job keeps {table['local, 1 job']['cores_busy']} of {n_cores} cores busy: more jobs can "
          f"speed it up at most {bound}x (at equal CPU time per record)")
    ray_vs_local = {n: round(table[f"ray, {n} worker{'s' if n > 1 else ''}"]["records_per_s"]
                             / table[f"local, {n} job{'s' if n > 1 else ''}"]["records_per_s"], 3) for n in (1, 2)}
    print(f"ray / local at equal workers: {json.dumps(ray_vs_local)}")
    per_core = round(table["local, 2 jobs"]["records_per_s"] / table["local, 1 job on 1 core"]["records_per_s"], 3)
    print(f"per core: 2 jobs on {n_cores} cores / 1 job on 1 core = {per_core}x (how the executor scales when "
          f"workers, not threads, are what fills the cores)")
    full = {}
    if args.full:
        for name, extra, _ in [c for c in CONFIGS if c[0] in ("local, 1 job", "local, 2 jobs")]:
            wall, records, cpu = bench(args.data, None, extra, None)
            full[name] = {"wall_s": round(wall, 1), "records": records, "cpu_s": round(cpu, 1)}
            print(f"full kodak24 sweep, {name}: {records} records in {wall:.1f} s ({cpu:.0f} CPU s)")
    path = write_json("scaling", {"images": args.images, "snrs": SNRS, "configs": table,
                                  "cores": n_cores, "bound_for_more_jobs": bound,
                                  "ray_vs_local_equal_workers": ray_vs_local,
                                  "two_jobs_vs_one_job_on_one_core": per_core, "full_sweep": full})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
