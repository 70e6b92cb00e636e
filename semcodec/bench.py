"""The bench runner: every (image, codec, SNR) once, appended to a JSONL file as it is made.

Each record is written, flushed and fsynced the moment it exists (:mod:`.results_file`), so an
interrupted run loses at most the transmission in flight; a rerun with the same ``--out`` skips
every item already there.
Work is grouped in units — one image through one codec configuration at every missing SNR —
so a codec's SNR-independent transmitter work (rate fit, segmentation, captions) is cached per
image and reused across the sweep. Units run in this process, in worker processes (``-j``) or on
Ray actors (:mod:`semcodec.executors`); records stream back and only this process writes them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

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
    keep_images: Path | None = None  # save every reconstruction (and received texts) here
    #: image id -> the users' questions about it (``--queries``); a query-driven codec runs once
    #: per question, the others once per image
    queries: dict[str, list[str]] | None = None

    def questions(self, image_id: str, codec: "Codec") -> list[str | None]:
        """The questions asked of ``codec`` on ``image_id``: with ``--queries`` every codec runs once
        per question on the images asked about (``answer_match`` compares its reconstruction's
        answer; only a query-driven codec is told the question); without, ``[None]`` (no question;
        a query-driven codec then has nothing to do)."""
        if self.queries is None:
            return [] if codec.takes_query else [None]
        return list(self.queries.get(image_id, []))  # an image nobody asked about is not benched

    def items(self) -> Iterator[tuple["DatasetImage", str, float]]:
        for image in self.images:
            for name in self.codecs:
                for snr in self.snrs:
                    yield image, name, snr

    @property
    def total(self) -> int:
        per_image = sum(len(self.questions(im.id, c)) for im in self.images for c in self.codecs.values())
        return per_image * len(self.snrs)


def _placeholder(plan: BenchPlan, image: "DatasetImage", codec: "Codec", snr: float,
                 image_sha256: str | None, query: str | None = None) -> dict[str, Any]:
    return {"dataset": plan.dataset, "image": image.id, "codec": codec.name, "snr_db": float(snr), "query": query,
            "channel": plan.channel.label, "seed": plan.seed, "config": codec.config(),
            "provenance": codec.provenance(plan.metrics), "image_sha256": image_sha256,
            # the folder the user named, not where a symbolic link points
            "image_path": os.path.abspath(image.path), "dataset_path": os.path.dirname(os.path.abspath(image.path))}


def file_digest(path: Path) -> str | None:
    """sha256 (16 hex) of a file's bytes, or ``None`` when it cannot be read (the load says why)
    or is not a regular file: a FIFO would block the open and ``/dev/zero`` never ends, so the file
    is opened non-blocking and checked before a byte is read."""
    import hashlib
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return hashlib.file_digest(f, "sha256").hexdigest()[:16]
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


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
    from .provenance import metric_model_identity

    unavailable = cached.get("unavailable") or {}
    metrics = cached.get("metrics") or {}
    for m in wanted:
        if m not in metrics or unavailable.get(m) == "not requested":
            return True
        if metric_model_identity(cached, m) != metric_model_identity(placeholder, m):
            return True
    return False


@dataclass
class WorkUnit:
    """What one worker does at a time: one image through one codec configuration at every SNR
    still missing. The codec's SNR-independent transmitter work (HEVC sizes, segmentation,
    captions) is cached per image inside the codec, so it is done once per unit; heavy models
    load once per worker, never per unit.

    Picklable (it crosses to worker processes and Ray actors): ids, paths and the records'
    placeholders, no tensors."""

    uid: int
    image_id: str
    image_path: str
    codec_key: str
    snrs: list[float]
    placeholders: list[dict[str, Any]]
    #: indices into ``snrs`` still to do (a retried unit skips what a dead worker delivered)
    todo: list[int]
    #: the user's question, for a query-driven codec
    query: str | None = None


@dataclass
class WorkerContext:
    """A worker's codecs, channel and settings (built once per worker)."""

    dataset: str
    codecs: dict[str, "Codec"]
    channel: Any
    seed: int
    metrics: list[str] | None
    keep_images: Path | None


def context_of(plan: BenchPlan) -> WorkerContext:
    return WorkerContext(plan.dataset, plan.codecs, plan.channel, plan.seed, plan.metrics, plan.keep_images)


def run_unit(ctx: WorkerContext, unit: WorkUnit, emit: Callable[[int, dict[str, Any]], None]) -> None:
    """Every missing SNR of ``unit``; ``emit(index, record)`` as each record is made."""
    from .imageio import load_image_with_digest

    digest = None
    try:
        image, digest = load_image_with_digest(Path(unit.image_path))
        load_error = None
    except SemcodecError as exc:
        image, load_error = None, str(exc)
    codec = ctx.codecs[unit.codec_key]
    for i in unit.todo:
        placeholder = unit.placeholders[i]
        rec = _attempt(ctx, codec, unit.snrs[i], image, load_error, placeholder, Path(unit.image_path), unit.query)
        # the hash of the bytes decoded (a file replaced since the plan is recorded as what it is)
        rec["dataset"], rec["image"] = ctx.dataset, unit.image_id
        rec["image_sha256"] = digest if digest is not None else placeholder["image_sha256"]
        rec["image_path"], rec["dataset_path"] = placeholder["image_path"], placeholder["dataset_path"]
        emit(i, rec)


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
    run (:mod:`semcodec.executors`; default: this process, one after another). Whatever the
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
    done = {record_key(r): r for r in deduplicate(found.records)}
    check_ids_unchanged(plan, found.records)
    wanted = plan.metrics
    if wanted is None:
        from .registry import METRICS, names

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


def _attempt(plan: "BenchPlan | WorkerContext", codec: "Codec", snr: float, image: Any, load_error: str | None,
             placeholder: dict[str, Any], source: Path, query: str | None = None) -> dict[str, Any]:
    """One transmission's record, or a ``skipped`` record saying why it could not be made."""
    reason = load_error
    if reason is None:
        try:
            result = codec.run(image, snr_db=snr, channel=plan.channel, seed=plan.seed, metrics=plan.metrics,
                               query=query)
        except InvalidInput as exc:  # this image cannot go through this codec (e.g. too large)
            reason = str(exc)
        except MemoryError:
            reason = "out of memory"
        else:
            rec = dict(result.record)
            if plan.keep_images is not None:
                rec["files"] = keep(plan, placeholder, result.reconstruction, source)
            return rec
    p = placeholder
    return {**skipped_record(p["dataset"], p["image"], p["codec"], p["snr_db"], p["channel"], p["seed"],
                             p["config"], reason), "provenance": p["provenance"], "query": p.get("query")}


def kept_image_path(root: Path, rec: dict[str, Any]) -> Path:
    """``root/<dataset>/<image>/<codec>-<digest>_<channel>_<snr>dB_s<seed>.png``: one file per record key."""
    digest = str((rec.get("provenance") or {}).get("config_digest", "nocfg"))[:8]
    content = str(rec.get("image_sha256") or "")[:8]
    snr = repr(float(rec["snr_db"])).replace("-", "m")
    query = ""
    if isinstance(rec.get("query"), str):  # one file per question too
        import hashlib

        query = "_q" + hashlib.sha256(rec["query"].encode()).hexdigest()[:8]
    return (root / rec["dataset"] / f"{rec['image']}-{content}"
            / f"{rec['codec']}-{digest}_{rec['channel']}_{snr}dB_s{int(rec['seed'])}{query}.png")


def keep(plan: "BenchPlan | WorkerContext", placeholder: dict[str, Any], recon: Any, source: Path) -> dict[str, str]:
    """Save a reconstruction (and its texts) for grids and the HTML report; returns the paths."""
    from .imageio import save_image

    path = kept_image_path(plan.keep_images, placeholder)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(recon.image, path)
    files = {"reconstruction": str(path.resolve()), "source": str(Path(source).resolve())}
    if recon.texts:
        texts = path.with_suffix(".texts.json")
        texts.write_text(json.dumps(recon.texts, indent=1))
        files["texts"] = str(texts.resolve())
    return files
