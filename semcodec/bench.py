"""The bench runner: every (image, codec, SNR) once, appended to a JSONL file as it is made.

Each record is written, flushed and fsynced the moment it exists (:mod:`.results_file`), so an
interrupted run loses at most the transmission in flight; a rerun with the same ``--out`` skips
every item already there.
Items are ordered image → codec → SNR, so a codec's SNR-independent transmitter work (rate
fit, segmentation, captions) is cached per image and reused across the sweep.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .errors import InvalidInput, SemcodecError
from .results_file import ResultsWriter, deduplicate, read_results, record_key, skipped_record

if TYPE_CHECKING:
    from .codec import Codec
    from .data import DatasetImage


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The usable records of a results file, one per work item (see :mod:`.results_file`)."""
    return deduplicate(read_results(path).records)


@dataclass
class BenchPlan:
    """A bench to run: what to send, and where the results go."""

    dataset: str
    images: list["DatasetImage"]
    codecs: dict[str, "Codec"]
    snrs: list[float]
    channel: Any
    seed: int = 0
    metrics: list[str] | None = None
    out: Path = Path("results.jsonl")

    def items(self) -> Iterator[tuple["DatasetImage", str, float]]:
        for image in self.images:
            for name in self.codecs:
                for snr in self.snrs:
                    yield image, name, snr

    @property
    def total(self) -> int:
        return len(self.images) * len(self.codecs) * len(self.snrs)


def _placeholder(plan: BenchPlan, image: "DatasetImage", codec: "Codec", snr: float) -> dict[str, Any]:
    return {"dataset": plan.dataset, "image": image.id, "codec": codec.name, "snr_db": float(snr),
            "channel": plan.channel.name, "seed": plan.seed, "config": codec.config()}


def run_bench(plan: BenchPlan, on_record: Callable[[dict[str, Any], bool], None] | None = None,
              on_warning: Callable[[str], None] | None = None,
              writer: ResultsWriter | None = None) -> list[dict[str, Any]]:
    """Run every missing item of ``plan``; returns all records for the plan (old and new).

    ``on_record(record, was_cached)`` is called once per item, in order; ``on_warning(line)``
    for what was found wrong in the results file (a torn tail moved aside, foreign lines).
    An image that cannot be read (corrupt, over the pixel limit) becomes a ``skipped`` record
    with its reason and the run goes on; skipped items are tried again on every resume.
    ``writer``: an already opened (locked) :class:`ResultsWriter` on ``plan.out``, else one is
    opened here.
    """
    if writer is None:
        with ResultsWriter(plan.out) as own:
            return run_bench(plan, on_record, on_warning, own)
    from .imageio import load_image

    warn = on_warning or (lambda line: None)
    results: list[dict[str, Any]] = []
    if writer.moved_torn:
        warn(f"{plan.out} ended in a torn line (a run killed mid-write); moved it to {writer.moved_torn}")
    found = read_results(plan.out)
    if found.problems():
        warn(f"{plan.out}: ignored {found.problems()}")
    done = {record_key(r): r for r in deduplicate(found.records)}
    loaded: tuple[str, Any, str | None] | None = None
    for image, name, snr in plan.items():
        codec = plan.codecs[name]
        placeholder = _placeholder(plan, image, codec, snr)
        cached = done.get(record_key(placeholder))
        if cached is not None and cached["status"] != "skipped":
            results.append(cached)
            if on_record:
                on_record(cached, True)
            continue
        if loaded is None or loaded[0] != image.id:
            try:
                loaded = (image.id, load_image(image.path), None)
            except SemcodecError as exc:
                loaded = (image.id, None, str(exc))
        rec = _attempt(plan, codec, snr, loaded[1], loaded[2], placeholder)
        rec["dataset"], rec["image"] = plan.dataset, image.id
        if cached is not None and rec["status"] == "skipped" and rec["reason"] == cached.get("reason"):
            rec, was_cached = cached, True  # still unreadable, for the same reason: nothing new
        else:
            writer.append(rec)
            was_cached = False
        results.append(rec)
        if on_record:
            on_record(rec, was_cached)
    return results


def _attempt(plan: BenchPlan, codec: "Codec", snr: float, image: Any, load_error: str | None,
             placeholder: dict[str, Any]) -> dict[str, Any]:
    """One transmission's record, or a ``skipped`` record saying why it could not be made."""
    reason = load_error
    if reason is None:
        try:
            return dict(codec.run(image, snr_db=snr, channel=plan.channel, seed=plan.seed,
                                  metrics=plan.metrics).record)
        except InvalidInput as exc:  # this image cannot go through this codec (e.g. too large)
            reason = str(exc)
        except MemoryError:
            reason = "out of memory"
    p = placeholder
    return skipped_record(p["dataset"], p["image"], p["codec"], p["snr_db"], p["channel"], p["seed"],
                          p["config"], reason)


@dataclass
class Table:
    """Mean of one metric per (codec, bandwidth) row and SNR column."""

    metric: str
    snrs: list[float]
    rows: list[tuple[str, float, dict[float, tuple[float | None, int, int]]]]
    # row: (codec, mean bandwidth ratio, {snr: (mean or None, n used, n decode_failed)})


def aggregate(records: Iterable[dict[str, Any]], metric: str = "psnr") -> Table:
    """Average ``metric`` over images, per codec configuration and SNR (skipped records excluded)."""
    groups: dict[tuple[str, str], dict[float, list[dict[str, Any]]]] = {}
    snrs: set[float] = set()
    for r in records:
        if r.get("status") == "skipped":
            continue
        cfg = r.get("config") or {}
        label = r["codec"]
        if cfg.get("design_snr_db") is not None:
            label += f" (designed {cfg['design_snr_db']:g} dB)"
        groups.setdefault((label, json.dumps(cfg, sort_keys=True)), {}).setdefault(float(r["snr_db"]), []).append(r)
        snrs.add(float(r["snr_db"]))
    rows = []
    for (label, _), by_snr in sorted(groups.items()):
        ratios = [r["bandwidth_ratio"] for recs in by_snr.values() for r in recs]
        cells = {}
        for snr, recs in by_snr.items():
            vals = [r["metrics"].get(metric) for r in recs]
            vals = [v for v in vals if v is not None and math.isfinite(v)]
            failed = sum(r.get("status") == "decode_failed" for r in recs)
            cells[snr] = (statistics.fmean(vals) if vals else None, len(vals), failed)
        rows.append((label, statistics.fmean(ratios), cells))
    return Table(metric, sorted(snrs), rows)


def plot(table: Table, path: str | Path) -> Path:
    """Metric vs SNR, one line per codec configuration (as in the Multi-SC letter's Fig. 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    markers = "osD^v<>ph*"
    for i, (label, ratio, cells) in enumerate(table.rows):
        xs = [s for s in table.snrs if s in cells and cells[s][0] is not None]
        ax.plot(xs, [cells[s][0] for s in xs], marker=markers[i % len(markers)],
                label=f"{label}, k/n={ratio:.3f}")
    ax.set_xlabel("channel SNR (dB)")
    ax.set_ylabel(table.metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    try:
        fig.savefig(path, dpi=150)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path
