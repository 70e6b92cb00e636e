"""The bench runner: every (image, codec, SNR) once, appended to a JSONL file as it is made.

Each record is written, flushed and fsynced the moment it exists (:mod:`.results_file`), so an
interrupted run loses at most the transmission in flight; a rerun with the same ``--out`` skips
every item already there.
Work is grouped in units — one image through one codec configuration at every missing SNR —
so a codec's SNR-independent transmitter work (rate fit, segmentation, captions) is cached per
image and reused across the sweep. Units run in this process, in worker processes (``-j``) or on
Ray actors (:mod:`.executors`); records stream back and only this process writes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..errors import InvalidInput
from .plan import BenchPlan, WorkUnit, _placeholder, file_digest
from .results_file import ResultsWriter, deduplicate, read_results, record_key


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The usable records of a results file, one per work item (see :mod:`.results_file`)."""
    return deduplicate(read_results(path).records)


def _kept(rec: dict[str, Any], folder: Path) -> bool:
    """Whether a saved record's reconstruction was kept in ``folder`` and is still on disk."""
    files = rec.get("files")
    if not (isinstance(files, dict) and isinstance(files.get("reconstruction"), str)):
        return False
    path = Path(files["reconstruction"])
    return path.is_file() and Path(folder).resolve() in path.resolve().parents


def _needs_metrics(cached: dict[str, Any], wanted: list[str], placeholder: dict[str, Any]) -> bool:
    """A saved record is recomputed when it lacks a metric this run asks for, or when a model
    behind a requested metric is another one now (or is here now and was not then)."""
    from ..provenance import metric_model_identity

    unavailable = cached.get("unavailable") or {}
    metrics = cached.get("metrics") or {}
    for m in wanted:
        if m not in metrics or unavailable.get(m) == "not requested":
            return True
        if metric_model_identity(cached, m) != metric_model_identity(placeholder, m):
            return True
    return False


def check_ids_unchanged(plan: BenchPlan, records: list[dict[str, Any]]) -> None:
    """Refuse a resume whose images now have other ids than the results file gives them.

    An image's id is its file stem, or its file name when another image beside it shares the
    stem: putting ``a.jpg`` beside ``a.png`` turns ``a`` into ``a.png``. Resuming then would
    compute ``a.png`` again and a report would count the one image twice.
    """
    by_path = {os.path.abspath(im.path): im.id for im in plan.images}
    for rec in records:
        path, old = rec.get("image_path"), rec.get("image")
        if (isinstance(path, str) and path in by_path and rec.get("dataset") == plan.dataset
                and by_path[path] != old):
            raise InvalidInput(
                f"{plan.out} has records of {path} as image {old!r}, which is now {by_path[path]!r} "
                f"(another image in {os.path.dirname(path)} shares its name); move that image out "
                "or write to another results file")


def run_bench(plan: BenchPlan, on_record: Callable[[dict[str, Any], bool], None] | None = None,
              on_warning: Callable[[str], None] | None = None,
              writer: ResultsWriter | None = None, executor: Any | None = None) -> list[dict[str, Any]]:
    """Run every missing item of ``plan``; returns all records for the plan (old and new).

    ``on_record(record, was_cached)`` is called once per item: first for every item already in
    the results file, then for each new record as it arrives (in order with the default
    executor; as workers finish with ``-j``/Ray). ``on_warning(line)`` for what was found wrong
    in the results file (a torn tail moved aside, foreign lines). An image that cannot be read
    (corrupt, over the pixel limit) becomes a ``skipped`` record with its reason and the run goes
    on; skipped items are tried again on every resume. ``writer``: an already opened (locked)
    :class:`ResultsWriter` on ``plan.out``, else one is opened here. ``executor``: where units
    run (:mod:`semcodec.bench.executors`; default: this process, one after another). Whatever the
    executor, only this process writes the results file.
    """
    if writer is None:
        with ResultsWriter(plan.out) as own:
            return run_bench(plan, on_record, on_warning, own, executor)
    from .executors import SerialExecutor

    warn = on_warning or (lambda line: None)
    if writer.moved_torn:
        warn(f"{plan.out} ended in a torn line (a run killed mid-write); moved it to {writer.moved_torn}")
    found = read_results(plan.out)
    if found.problems():
        warn(f"{plan.out}: ignored {found.problems()}")
    if found.notes():
        warn(f"{plan.out}: {found.notes()}")
    done = {record_key(r): r for r in deduplicate(found.records)}
    check_ids_unchanged(plan, found.records)
    wanted = plan.metrics
    if wanted is None:
        from ..registry import METRICS, names

        wanted = names(METRICS)
    results: dict[tuple[int, int], dict[str, Any]] = {}  # (unit, snr index) -> record, for the order
    units: list[WorkUnit] = []
    cached_of: dict[tuple[int, int], dict[str, Any]] = {}
    digests: dict[str, str | None] = {}
    for image, key, codec, query in ((im, k, c, q) for im in plan.images for k, c in plan.codecs.items()
                                     for q in plan.questions(im.id, c)):
        if image.id not in digests:
            digests[image.id] = file_digest(image.path)
        digest = digests[image.id]
        unit = WorkUnit(len(units), image.id, str(image.path), key, list(plan.snrs), [], [], query)
        for i, snr in enumerate(plan.snrs):
            placeholder = _placeholder(plan, image, codec, snr, digest, query)
            unit.placeholders.append(placeholder)
            cached = done.get(record_key(placeholder))
            if (cached is not None and cached["status"] != "skipped"
                    and not _needs_metrics(cached, wanted, placeholder)
                    and not (plan.keep_images is not None and not _kept(cached, plan.keep_images))):
                results[(unit.uid, i)] = cached
                if on_record:
                    on_record(cached, True)
                continue
            if cached is not None:
                cached_of[(unit.uid, i)] = cached
            unit.todo.append(i)
        units.append(unit)

    def receive(unit: WorkUnit, i: int, rec: dict[str, Any]) -> None:
        cached = cached_of.get((unit.uid, i))
        if cached is not None and rec["status"] == "skipped" and rec["reason"] == cached.get("reason"):
            rec, was_cached = cached, True  # still unreadable, for the same reason: nothing new
        else:
            writer.append(rec)
            was_cached = False
        results[(unit.uid, i)] = rec
        if on_record:
            on_record(rec, was_cached)

    (executor or SerialExecutor()).run(plan, [u for u in units if u.todo], receive)
    return [results[k] for k in sorted(results)]
