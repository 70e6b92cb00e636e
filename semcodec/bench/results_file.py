"""The results JSONL: whole records or nothing, one writer at a time, nothing trusted on read.

A bench appends one JSON object per line. What can go wrong, and what this module does:

- killed mid-write (``kill -9``, power loss): the file ends in a torn line without a newline.
  On the next open for writing the torn tail is *moved aside* to ``<file>.torn`` (never silently
  dropped) and the file is cut back to its last whole line, so the next record starts clean.
- disk full mid-write: the partial line is cut off again at once and a one-line error says how
  many records are safe; the same command resumes when space is back.
- two benches on one file: the writer holds an exclusive ``flock`` on the file for the whole
  run (released by the kernel even on ``kill -9``); a second writer is refused.
- a path that is not a regular file (``/dev/full``, a FIFO, a folder) is refused before any
  read, so nothing reads an endless stream.
- foreign or malformed lines (another tool's JSON, hand edits, strings where numbers belong)
  are counted and skipped, never fatal.

Every append is ``write`` of the whole line, ``flush`` and ``fsync``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..channel import SNR_RANGE_DB, label_problem, snr_value
from ..errors import CONTROL_CHARS, InvalidInput
from ..metrics import metric_bounds
from ..signal import RECORD_VERSION

STATUSES = ("ok", "decode_failed", "skipped")


def check_results_path(path: Path) -> None:
    """``path`` must be a regular file or not exist yet, in a folder that exists."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise InvalidInput(f"cannot write {path}: no folder {parent}") from None
        return
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot use as results file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{path}: not a regular file; results must go to a .jsonl file")


#: No number a bench writes is larger in size (bits, channel uses, seconds, dB): a hand-made
#: 1e308 or 10**400 would overflow the report's arithmetic, so such a record is not used.
MAX_MAGNITUDE = 1e15
#: The largest ``--seed`` the CLI takes.
MAX_SEED = 2**63 - 1


def _is_number(value: Any) -> bool:
    """A finite number of plausible size (ints compare exactly: ``10**400`` never becomes a float)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE)  # NaN fails both comparisons


#: Float rounding a metric's value may carry past its bounds (a cosine of 1.0000001).
BOUNDS_SLACK = 1e-6
#: A name (codec, dataset, image, channel) longer than this is not one a bench writes.
MAX_NAME_CHARS = 4096
#: k/n beyond this is no bandwidth ratio (a budget of 1,000 channel uses a pixel value).
MAX_RATIO = 1000.0
#: ... and below this (but above 0) none either: 1e-9 of a 64 MP picture is under one channel use.
MIN_RATIO = 1e-9


def record_problem(rec: Any) -> str | None:
    """Why ``rec`` is not a semcodec record a report can use (``None`` if it is one)."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    for key in ("codec", "dataset", "image", "channel"):
        if not isinstance(rec.get(key), str):
            return f"{key} missing or not a string"
        if len(rec[key]) > MAX_NAME_CHARS:
            return f"{key} longer than {MAX_NAME_CHARS} characters"
        if key != "image" and CONTROL_CHARS.search(rec[key]):  # a terminal escape is no codec's name
            return f"{key} holds control characters"
        if not rec[key].strip():
            return f"{key} is empty"
    channel = label_problem(rec["channel"])
    if channel:
        return f"channel {rec['channel'][:40]!r}: {channel}"
    if not _is_number(rec.get("snr_db")):
        return "snr_db missing or not a number"
    if not SNR_RANGE_DB[0] <= rec["snr_db"] <= SNR_RANGE_DB[1]:
        return f"snr_db outside the supported range [{SNR_RANGE_DB[0]:g}, {SNR_RANGE_DB[1]:g}] dB"
    if not isinstance(rec.get("seed"), int) or isinstance(rec.get("seed"), bool) or not 0 <= rec["seed"] <= MAX_SEED:
        return f"seed missing or not an integer in [0, {MAX_SEED}]"
    if rec.get("status") not in STATUSES:
        return "status missing or unknown"
    wrong = _field_type_problem(rec)
    if wrong:
        return wrong
    if rec["status"] == "skipped":
        return None
    if not isinstance(rec.get("metrics"), dict) or not all(
            v is None or _is_number(v) for v in rec["metrics"].values()):
        return f"metrics missing or not numbers (finite, at most {MAX_MAGNITUDE:g} in size)"
    for name, value in rec["metrics"].items():
        lo, hi = metric_bounds().get(name, (-math.inf, math.inf))
        if value is not None and not lo - BOUNDS_SLACK <= value <= hi + BOUNDS_SLACK:
            return f"metrics.{name} outside the values it can take [{lo:g}, {hi:g}]"
    if (not _is_number(rec.get("bandwidth_ratio")) or not 0 <= rec["bandwidth_ratio"] <= MAX_RATIO
            or 0 < rec["bandwidth_ratio"] < MIN_RATIO):
        return f"bandwidth_ratio missing or not 0 or a number in [{MIN_RATIO:g}, {MAX_RATIO:g}]"
    cfg = rec.get("config", {})
    if not isinstance(cfg, dict):
        return "config is not an object"
    for key in ("bandwidth", "design_snr_db"):
        if cfg.get(key) is not None and not _is_number(cfg[key]):
            return f"config.{key} is not a number"
    if cfg.get("bandwidth") is not None and not MIN_RATIO <= cfg["bandwidth"] <= MAX_RATIO:
        return f"config.bandwidth is not a budget k/n in [{MIN_RATIO:g}, {MAX_RATIO:g}]"
    if not isinstance(cfg.get("options", {}), dict):
        return "config.options is not an object"
    return None


def _optional(rec: dict[str, Any], key: str, types: tuple[type, ...]) -> bool:
    return key not in rec or rec[key] is None or isinstance(rec[key], types)


def _field_type_problem(rec: dict[str, Any]) -> str | None:
    """Every optional field a report or a resume reads has its type, or the record is not used:
    a hand-edited ``"provenance": [1]`` is skipped with a note, never an internal error."""
    for key in ("image_sha256", "image_path", "dataset_path", "query", "reason", "rate", "semcodec_version"):
        if not _optional(rec, key, (str,)):
            return f"{key} is not a string"
    for key in ("provenance", "files", "unavailable", "streams", "texts", "config", "transmitter", "channel_params"):
        if not _optional(rec, key, (dict,)):
            return f"{key} is not an object"
    for name, value in (rec.get("channel_params") or {}).items():
        if not (value is None or isinstance(value, (str, bool)) or _is_number(value)):
            return f"channel_params.{str(name)[:40]} is not a finite number or a word"
    for key in ("elapsed_s", "effective_design_snr_db"):
        if rec.get(key) is not None and not _is_number(rec[key]):
            return f"{key} is not a number"
    uses = rec.get("channel_uses")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or not 0 <= uses <= MAX_MAGNITUDE):
        return "channel_uses is not a count (an integer >= 0)"
    if rec.get("record_version") is not None and (not isinstance(rec["record_version"], int)
                                                 or isinstance(rec["record_version"], bool)):
        return "record_version is not an integer"
    prov = rec.get("provenance") or {}
    for key in ("components", "metric_models", "checkpoints", "versions"):
        if not _optional(prov, key, (dict,)):
            return f"provenance.{key} is not an object"
    for key in ("config_digest", "device", "dtype"):
        if not _optional(prov, key, (str,)):
            return f"provenance.{key} is not a string"
    for name, value in (prov.get("metric_models") or {}).items():
        if value is not None and not isinstance(value, (str, dict)):
            return f"provenance.metric_models.{name} is not an id"
    for name, stream in (rec.get("streams") or {}).items():
        if not isinstance(stream, dict):
            return f"streams.{name} is not an object"
    return None


@dataclass
class ReadResult:
    """What a results file held: usable records, and what was skipped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    malformed: int = 0  # lines that are not JSON
    foreign: int = 0  # JSON that is not a semcodec record
    foreign_reason: str = ""  # why the first of them is not
    torn_bytes: int = 0  # a last line without its newline (a killed writer)
    #: records holding a key twice (JSON allows it; the last value is the one read): (count, e.g. key)
    duplicated: list[str] = field(default_factory=list)

    def problems(self) -> str:
        """One line naming what was skipped, or ``""``."""
        parts = []
        if self.malformed:
            parts.append(f"{self.malformed} line(s) that are not JSON")
        if self.foreign:
            parts.append(f"{self.foreign} JSON object(s) that are not semcodec records"
                         + (f" (e.g. {self.foreign_reason})" if self.foreign_reason else ""))
        if self.torn_bytes:
            parts.append(f"a torn last line ({self.torn_bytes} bytes)")
        return ", ".join(parts)

    def notes(self) -> str:
        """What was read but is doubtful (kept), or ``""``: a key given twice in one record."""
        if not self.duplicated:
            return ""
        return (f"{len(self.duplicated)} record(s) give a key twice (e.g. {self.duplicated[0]!r}); "
                "the last value of each was used")


def _pairs_noting_duplicates(seen: list[str]):
    """A ``json.loads`` hook building dicts as usual (last value wins) and noting repeated keys."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                seen.append(key)
            out[key] = value
        return out

    return hook


#: The longest line read as a record (a record with every text and metric is a few KB; a
#: semantic codec's captions some tens): a longer one is skipped, never read whole into memory.
MAX_LINE_BYTES = 16 << 20


def read_results(path: str | Path) -> ReadResult:
    """Every usable record of ``path`` (a missing file holds none); never fatal on bad lines."""
    path = Path(path)
    out = ReadResult()
    if not path.exists():
        return out
    check_results_path(path)
    try:
        with open(path, "rb") as f:
            while line := f.readline(MAX_LINE_BYTES + 1):
                if len(line) > MAX_LINE_BYTES:  # no record is this long: skip it without holding it
                    while line and not line.endswith(b"\n"):
                        line = f.readline(1 << 20)
                    out.malformed += 1
                    continue
                if not line.endswith(b"\n"):
                    out.torn_bytes = len(line)
                    break
                if not line.strip():
                    continue
                repeated: list[str] = []
                try:
                    rec = json.loads(line, object_pairs_hook=_pairs_noting_duplicates(repeated))
                except (ValueError, RecursionError):  # ValueError: malformed, or a >4,300-digit number
                    out.malformed += 1
                    continue
                problem = record_problem(rec)
                if problem is None:
                    if repeated:
                        out.duplicated.append(repeated[0])
                    out.records.append(migrate(rec))
                else:
                    out.foreign += 1
                    out.foreign_reason = out.foreign_reason or problem
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return out


def migrate(rec: dict[str, Any]) -> dict[str, Any]:
    """A record of an older layout in today's (:data:`semcodec.signal.RECORD_VERSION`): version 1
    called the design SNR the transmitter used ``design_snr_db``, beside the requested
    ``config.design_snr_db`` (null when matched); it is now ``effective_design_snr_db``. Its
    ``snr_db`` is resolved as ``--snr`` is (:func:`semcodec.channel.snr_value`): a hand-edited
    ``5e-324`` is the 0 dB column, not one of its own."""
    rec["snr_db"] = snr_value(rec["snr_db"])
    if "record_version" not in rec:
        if "design_snr_db" in rec:
            rec["effective_design_snr_db"] = rec.pop("design_snr_db")
        rec["record_version"] = RECORD_VERSION
    return rec


def _image_part(rec: dict[str, Any]) -> list[Any]:
    """The image's content digest, when the record has one: another folder with the same name,
    or an edited image, is other work; and the user's question, when there is one (a query-driven
    codec sends other things for other questions)."""
    digest = rec.get("image_sha256")
    query = rec.get("query")
    return ([digest] if isinstance(digest, str) else []) + ([["query", query]] if isinstance(query, str) else [])


def record_key(rec: dict[str, Any]) -> str:
    """What makes two records the same work item: dataset, image, codec, SNR, channel, seed and
    the provenance digest (configuration, models, checkpoints, device). Records written before
    provenance existed are keyed by their configuration."""
    prov = rec.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("config_digest"), str):
        return json.dumps([rec["dataset"], rec["image"], rec["codec"], float(rec["snr_db"]), rec["channel"],
                           int(rec["seed"]), prov["config_digest"], *_image_part(rec)])
    cfg = rec.get("config") if isinstance(rec.get("config"), dict) else {}
    return json.dumps([rec["dataset"], rec["image"], rec["codec"], float(rec["snr_db"]),
                       rec["channel"], int(rec["seed"]), cfg.get("bandwidth"),
                       cfg.get("design_snr_db"), cfg.get("options", {})], sort_keys=True)


def deduplicate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per key, in first-seen order: the latest, but a ``skipped`` record never
    replaces a computed one (two benches, or a resume after a fix, may have written both)."""
    best: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = record_key(rec)
        old = best.get(key)
        if old is None or not (rec.get("status") == "skipped" and old.get("status") != "skipped"):
            best[key] = rec
    return list(best.values())


class ResultsWriter:
    """Exclusive, crash-safe appender of records to a JSONL file (a context manager)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.written = 0
        self.moved_torn: Path | None = None
        self._fd: int | None = None
        self._created = False

    def __enter__(self) -> "ResultsWriter":
        import fcntl

        check_results_path(self.path)
        self._created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise InvalidInput(f"cannot write {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InvalidInput(f"{self.path} is being written by another bench; wait for it to "
                               "finish or choose another --out") from None
        self._fd = fd
        try:
            self._check_head()
            self._repair_tail()
        except BaseException:
            self.close()
            raise
        return self

    def _check_head(self) -> None:
        """Refuse to append to a file that is not a results file (an image, notes, a binary):
        its first line must be a JSON object. Repairing a torn tail would otherwise cut it."""
        head = os.pread(self._fd, 1 << 20, 0)
        if not head:
            return
        first = head.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf \t\r")
        try:
            ok = isinstance(json.loads(first), dict) if first else True
        except (ValueError, RecursionError):  # ValueError: malformed, or a >4,300-digit number
            ok = False
        if not ok or b"\x00" in head:
            raise InvalidInput(f"{self.path} does not look like a results file (its first line is not a JSON "
                               "record); choose another --out")

    def _repair_tail(self) -> None:
        """Move a torn last line (no newline) aside to ``<file>.torn`` and cut it off."""
        fd = self._fd
        size = os.fstat(fd).st_size
        if size == 0:
            return
        chunk = 1 << 16
        pos = size
        tail = b""
        while pos > 0:  # find the last newline, reading backwards
            start = max(0, pos - chunk)
            block = os.pread(fd, pos - start, start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                tail = block[cut + 1:] + tail
                pos = start + cut + 1
                break
            tail = block + tail
            pos = start
        if not tail:
            return
        torn = self.path.with_name(self.path.name + ".torn")
        with open(torn, "ab") as f:
            f.write(tail + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.ftruncate(fd, pos)
        os.fsync(fd)
        self.moved_torn = torn

    def append(self, rec: dict[str, Any]) -> None:
        """Write ``rec`` as one whole line and make it durable; on failure, leave no partial line."""
        line = (json.dumps(rec, allow_nan=False) + "\n").encode()
        fd = self._fd
        assert fd is not None, "ResultsWriter used outside its with-block"
        before = os.fstat(fd).st_size
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, before)
            except OSError:
                pass
            reason = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
            raise InvalidInput(f"cannot write {self.path}: {reason}; the {self.written} record(s) of this run "
                               "before it are saved; run the same command again to resume") from None
        self.written += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None

    def __exit__(self, *exc: object) -> None:
        # A run that failed before its first record leaves no empty file of its own behind.
        if self._fd is not None and self._created and os.fstat(self._fd).st_size == 0:
            try:
                self.path.unlink()
            except OSError:
                pass
        self.close()


def skipped_record(dataset: str, image: str, codec: str, snr_db: float, channel: str, seed: int,
                   config: dict[str, Any], reason: str) -> dict[str, Any]:
    """The record of an item that could not be attempted (a bad image): says why, has no metrics."""
    from .. import __version__

    return {"codec": codec, "dataset": dataset, "image": image, "snr_db": float(snr_db),
            "channel": channel, "seed": int(seed), "status": "skipped", "reason": reason,
            "channel_uses": None, "bandwidth_ratio": None, "rate": None, "metrics": {}, "unavailable": {},
            "streams": {}, "texts": None, "elapsed_s": 0.0, "semcodec_version": __version__,
            "config": config, "record_version": RECORD_VERSION, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
