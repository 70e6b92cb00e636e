"""Run codecs over a dataset through the library's bench runner and summarise (shared helper)."""

from __future__ import annotations

import time
from pathlib import Path

from semcodec.bench import BenchPlan, run_bench
from semcodec.report import aggregate
from semcodec.data import resolve
from semcodec.channel import load_channel
from semcodec.codec import load_codec


def sweep(dataset: str, data: str | None, codecs: dict[str, dict], snrs: list[float], out: Path,
          metrics: list[str] | None = None, fresh: bool = True, channel: str = "awgn",
          limit: int | None = None) -> tuple[list[dict], float]:
    """Run every (image, codec, snr); ``codecs`` maps a codec name to its constructor kwargs.

    Returns the records and the wall time. ``fresh`` deletes ``out`` first so the time is real.
    """
    name, images = resolve(dataset, data)
    images = images[:limit] if limit else images
    if fresh and out.exists():
        out.unlink()
    records: list[dict] = []
    t0 = time.perf_counter()
    for codec_name, kwargs in codecs.items():
        codec = load_codec(codec_name)(**kwargs)
        plan = BenchPlan(name, images, {codec_name: codec}, snrs, load_channel(channel)(),
                         metrics=metrics, out=out)
        records += run_bench(plan)
    return records, time.perf_counter() - t0


def table_rows(records: list[dict], metric: str) -> tuple[list[str], list[list]]:
    """One table (the records share dataset and channel): mean per codec row and SNR column."""
    (table,) = aggregate(records, metric)
    headers = ["codec", "k/n", *[f"{s:g} dB" for s in table.snrs]]
    fmt = "{:.2f}" if metric == "psnr" else "{:.4f}"
    rows = []
    for r in table.rows:
        row = [r.label, round(r.ratio, 4)]
        for s in table.snrs:
            c = r.cells.get(s)
            row.append("-" if c is None or c.mean is None else fmt.format(c.mean) + (f" ({c.failed}F)" if c.failed else ""))
        rows.append(row)
    return headers, rows
