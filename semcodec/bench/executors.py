"""Where a bench's work units run: this process, local worker processes (``-j N``), or Ray.

Every executor takes the same :class:`~semcodec.bench.plan.WorkUnit` list and streams records back to
the driver (:func:`semcodec.bench.runner.run_bench`), which alone writes the results file — so resume
and no-duplicate guarantees are the same whatever runs the work. A worker builds its codecs once
(heavy models load once per worker, never per record) from the codecs' own configurations
(:meth:`~semcodec.codec.Codec.from_config`), and the model ids and pixel limit this process was
given travel with them.

A worker that dies (killed, out of memory) loses at most its unit: the unit goes back in the
queue with only the SNRs not yet delivered, at most :data:`MAX_RETRIES` times; after that its
items become ``skipped`` records saying why. Ctrl-C stops the workers and keeps every record
already written.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InvalidInput, MissingExtra

if TYPE_CHECKING:
    from .plan import BenchPlan, WorkerContext, WorkUnit

#: How many times a unit whose worker died is given to another worker.
MAX_RETRIES = 2
#: Seconds of waiting for Ray to place the workers before the user is told.
RAY_NOTE_AFTER_S = 20.0

Receive = Callable[["WorkUnit", int, dict[str, Any]], None]


@dataclass
class WorkerSpec:
    """Everything a worker in another process needs to build its :class:`WorkerContext`
    (picklable; no model, no tensor)."""

    dataset: str
    codecs: dict[str, tuple[str, dict[str, Any], str | None]]  # key -> (registry name, config, device)
    channel: Any
    seed: int
    metrics: list[str] | None
    keep_images: Path | None
    model_overrides: dict[str, str] = field(default_factory=dict)
    max_pixels: int | None = None
    threads: int = 1

    @classmethod
    def of(cls, plan: "BenchPlan", threads: int) -> "WorkerSpec":
        from ..limits import max_pixels
        from ..models.source import _overrides

        codecs = {key: (c.name, c.config(), c.device) for key, c in plan.codecs.items()}
        return cls(plan.dataset, codecs, plan.channel, plan.seed, plan.metrics, plan.keep_images,
                   dict(_overrides), max_pixels(), threads)

    def build(self) -> "WorkerContext":
        """This worker's context: thread counts set, overrides applied, codecs built once."""
        limit_threads(self.threads)
        from .plan import WorkerContext
        from ..limits import set_max_pixels
        from ..models.source import set_override
        from ..codec import load_codec

        set_max_pixels(self.max_pixels)
        for key, value in self.model_overrides.items():
            set_override(key, value)
        codecs = {key: load_codec(name).from_config(config, device) for key, (name, config, device)
                  in self.codecs.items()}
        return WorkerContext(self.dataset, codecs, self.channel, self.seed, self.metrics, self.keep_images)


def limit_threads(threads: int) -> None:
    """Workers share the machine's cores: each computes with ``threads`` of them (torch, numba,
    x265 and libde265) — more threads than cores per worker only makes them wait on each other."""
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    from ..source_coding.hevc import set_threads

    torch.set_num_threads(threads)
    set_threads(threads)


def skipped_after_deaths(unit: "WorkUnit", i: int, why: str) -> dict[str, Any]:
    """The record of an item whose worker died too often: ``skipped`` with the reason."""
    from .results_file import skipped_record

    p = unit.placeholders[i]
    return {**skipped_record(p["dataset"], p["image"], p["codec"], p["snr_db"], p["channel"], p["seed"],
                             p["config"], why), "provenance": p["provenance"], "image_sha256": p["image_sha256"],
            "image_path": p["image_path"], "dataset_path": p["dataset_path"], "query": p.get("query")}


def retry_or_give_up(unit: "WorkUnit", deaths: dict[int, int], pending: list["WorkUnit"], receive: Receive,
                     what: str) -> None:
    """A unit whose worker died: back to the front of the queue, or — after :data:`MAX_RETRIES`
    retries — a ``skipped`` record for each item it still had, saying why (``what`` died how)."""
    deaths[unit.uid] = deaths.get(unit.uid, 0) + 1
    if deaths[unit.uid] <= MAX_RETRIES:
        pending.insert(0, unit)
        return
    why = f"its {what} {deaths[unit.uid]} times"
    for i in list(unit.todo):
        unit.todo.remove(i)
        receive(unit, i, skipped_after_deaths(unit, i, why))


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class SerialExecutor:
    """Every unit in this process, one after another, with the plan's own codec objects (the
    default: exactly the behaviour of a bench without ``-j``)."""

    def run(self, plan: "BenchPlan", units: list["WorkUnit"], receive: Receive) -> None:
        from .plan import context_of
        from .worker import run_unit

        ctx = context_of(plan)
        for unit in units:
            run_unit(ctx, unit, lambda i, rec, unit=unit: receive(unit, i, rec))

    def worker_pids(self) -> list[int]:
        return []


# -- local worker processes ------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its driver (``kill -9``, an OOM kill): on Linux the kernel sends
    it SIGKILL when the driver dies; elsewhere the inbox loop notices a new parent."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the driver died before the request took hold
        os._exit(1)


def _next_unit(inbox, parent: int):
    """The next unit (or ``None``: stop), giving up when the driver is gone."""
    import queue

    while True:
        try:
            return inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return None


def _local_worker(spec: WorkerSpec, inbox, outbox, parent: int) -> None:
    """A worker process: build the context once, then run the units it is given until ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    from .worker import run_unit

    try:
        ctx = spec.build()
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which says it in one line
        outbox.put(("failed", os.getpid(), f"{type(exc).__name__}: {exc}"))
        return
    outbox.put(("ready", os.getpid(), None))
    while True:
        unit = _next_unit(inbox, parent)
        if unit is None:
            return
        try:
            run_unit(ctx, unit, lambda i, rec: outbox.put(("record", unit.uid, (i, rec))))
            outbox.put(("done", unit.uid, None))
        except Exception as exc:  # noqa: BLE001 - a codec bug: the driver records it, goes on
            outbox.put(("error", unit.uid, f"{type(exc).__name__}: {exc}"))


class _Slot:
    """One local worker process and the unit it is working on."""

    def __init__(self, ctx, spec: WorkerSpec, outbox) -> None:
        self.inbox = ctx.Queue()
        self.process = ctx.Process(target=_local_worker, args=(spec, self.inbox, outbox, os.getpid()), daemon=True)
        self.process.start()
        self.unit: "WorkUnit | None" = None

    def give(self, unit: "WorkUnit") -> None:
        self.unit = unit
        self.inbox.put(unit)


class LocalExecutor:
    """``jobs`` worker processes on this machine (spawned: no state is shared by accident), each
    computing with ``cores // jobs`` threads."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise InvalidInput("--jobs must be at least 1")
        if jobs > cores():
            # Each worker loads its own models (a torch process is ~0.5 GB before any model): more
            # workers than cores cost memory and buy nothing.
            raise InvalidInput(f"-j {jobs}: this machine gives this process {cores()} cores, so at most "
                               f"-j {cores()} local workers (--executor ray spreads work over more machines)")
        self.jobs = jobs
        self._slots: list[_Slot] = []

    def worker_pids(self) -> list[int]:
        return [s.process.pid for s in self._slots if s.process.is_alive() and s.process.pid]

    def run(self, plan: "BenchPlan", units: list["WorkUnit"], receive: Receive) -> None:
        import multiprocessing as mp
        import queue

        if not units:
            return
        ctx = mp.get_context("spawn")
        spec = WorkerSpec.of(plan, max(1, cores() // self.jobs))
        outbox = ctx.Queue()
        pending = list(units)
        by_uid = {u.uid: u for u in units}
        deaths: dict[int, int] = {}
        self._slots = [_Slot(ctx, spec, outbox) for _ in range(min(self.jobs, len(units)))]
        try:
            while pending or any(s.unit is not None for s in self._slots):
                for slot in self._slots:
                    if slot.unit is None and pending and slot.process.is_alive():
                        slot.give(pending.pop(0))
                try:
                    kind, ref, payload = outbox.get(timeout=0.2)
                except queue.Empty:
                    self._replace_dead(ctx, spec, outbox, pending, deaths, receive)
                    continue
                if kind == "failed":
                    raise InvalidInput(f"a bench worker could not start: {payload}")
                if kind == "record":
                    unit = by_uid[ref]
                    i, rec = payload
                    if i in unit.todo:
                        unit.todo.remove(i)
                        receive(unit, i, rec)
                elif kind in ("done", "error"):
                    unit = by_uid[ref]
                    for i in list(unit.todo) if kind == "error" else ():
                        unit.todo.remove(i)
                        receive(unit, i, skipped_after_deaths(unit, i, f"codec error in a worker: {payload}"))
                    for slot in self._slots:
                        if slot.unit is unit:
                            slot.unit = None
        finally:
            self._stop()

    def _replace_dead(self, ctx, spec, outbox, pending, deaths, receive) -> None:
        """A worker that died gives its unit back (what it delivered stays delivered)."""
        for n, slot in enumerate(self._slots):
            if slot.process.is_alive():
                continue
            unit, code = slot.unit, slot.process.exitcode
            self._slots[n] = _Slot(ctx, spec, outbox)
            if unit is not None and unit.todo:
                retry_or_give_up(unit, deaths, pending, receive, f"worker (last exit code {code}) died")

    def _stop(self) -> None:
        for slot in self._slots:
            if slot.process.is_alive():
                try:
                    slot.inbox.put(None)
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 5
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1)
        self._slots = []


# -- Ray ----------------------------------------------------------------------------------------
class RayWorker:
    """A Ray actor: builds its context once, runs units; returns each unit's records."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.ctx = spec.build()

    def pid(self) -> int:
        return os.getpid()

    def run_unit(self, unit: "WorkUnit") -> list[tuple[int, dict[str, Any]]]:
        from .worker import run_unit

        out: list[tuple[int, dict[str, Any]]] = []
        run_unit(self.ctx, unit, lambda i, rec: out.append((i, rec)))
        return out


def ray_module():
    """``ray``, or a one-line error saying how to install it."""
    from ..extras import require

    require(("ray",), "--executor ray", extra="ray")
    import ray

    return ray


class RayExecutor:
    """Units on Ray actors (``workers`` of them, each with ``gpus_per_worker`` GPUs and one CPU).

    ``address``: ``None`` starts a local Ray for this run (stopped afterwards); ``"auto"`` or
    ``"ray://host:port"`` joins a running cluster. Records of a unit come back when the unit is
    done; a unit whose actor dies goes back in the queue on a fresh actor."""

    def __init__(self, workers: int | None = None, address: str | None = None, gpus_per_worker: float = 0.0,
                 cpus_per_worker: float | None = None) -> None:
        if address is None and workers is not None and workers > cores():
            raise InvalidInput(f"-j {workers}: a Ray started here shares this machine's {cores()} cores, so at most "
                               f"-j {cores()} workers (--ray-address joins a cluster with more)")
        self.workers = workers
        self.address = address
        self.gpus_per_worker = float(gpus_per_worker)
        # On a Ray started here, the workers share this machine's cores as -j does; on a cluster,
        # one CPU each unless told otherwise.
        if cpus_per_worker is None:
            cpus_per_worker = 1.0 if address else float(max(1, cores() // max(1, workers or cores())))
        self.cpus_per_worker = float(cpus_per_worker)
        #: Where the executor says what it is waiting for (the CLI prints it; default: nowhere).
        self.note: Callable[[str], None] = lambda line: None
        self._actors: list[Any] = []
        self._pids: dict[int, int] = {}

    def worker_pids(self) -> list[int]:
        return list(self._pids.values())

    def run(self, plan: "BenchPlan", units: list["WorkUnit"], receive: Receive) -> None:
        ray = ray_module()
        if not units:
            return
        started = False
        if not ray.is_initialized():
            import logging

            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": logging.ERROR}
            if self.address:
                _check_reachable(self.address)
                kwargs["address"] = self.address
            else:
                kwargs["num_cpus"] = max(cores(), int((self.workers or 1) * self.cpus_per_worker))
            own_sigterm = signal.getsignal(signal.SIGTERM)
            try:
                ray.init(**kwargs)
            except Exception as exc:  # noqa: BLE001 - connection errors come in many types
                raise InvalidInput(f"cannot start or reach Ray ({self.address or 'local'}): "
                                   f"{type(exc).__name__}: {exc}") from None
            finally:  # ray.init sets SIGTERM to sys.exit(15): keep the caller's (the CLI stops cleanly)
                if own_sigterm is not None and threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGTERM, own_sigterm)
            started = True
        try:
            self._run(ray, plan, units, receive)
        finally:
            for actor in self._actors:
                ray.kill(actor)
            self._actors, self._pids = [], {}
            if started:
                ray.shutdown()

    def _worker_count(self, resources: dict[str, float]) -> int:
        """How many actors to start: ``-j``, else as many as the cluster can place. An actor the
        cluster can never place would make Ray wait forever, so asking for one is an error."""
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        fits = int(cpus // self.cpus_per_worker) if self.cpus_per_worker else 1 << 30
        if self.gpus_per_worker:
            fits = min(fits, int(gpus // self.gpus_per_worker))
        if fits < (self.workers or 1):
            need = f"{self.workers or 1} worker(s) x {self.cpus_per_worker:g} CPU"
            need += f" + {self.gpus_per_worker:g} GPU" if self.gpus_per_worker else ""
            raise InvalidInput(f"the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs: not enough for {need}")
        return self.workers or fits

    def _new_actors(self, ray, spec: WorkerSpec, n: int) -> list[Any]:
        """``n`` actors, started together (each loads its codecs once, in parallel). A cluster
        that cannot place them (busy, or scaling up) is waited for — with a note after
        :data:`RAY_NOTE_AFTER_S` and an error after ``SEMCODEC_RAY_START_TIMEOUT`` seconds."""
        from ray.exceptions import GetTimeoutError, RayError

        remote = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker, max_restarts=0)(RayWorker)
        actors = [remote.remote(spec) for _ in range(n)]
        refs = [a.pid.remote() for a in actors]
        try:
            limit = float(os.environ.get("SEMCODEC_RAY_START_TIMEOUT", "600"))
        except ValueError:
            limit = float("nan")
        if not limit > 0:  # nan, zero or negative
            raise InvalidInput("SEMCODEC_RAY_START_TIMEOUT must be a number of seconds above 0")
        started = time.monotonic()
        noted = False
        while True:
            waited = time.monotonic() - started
            try:
                until = limit if noted else min(RAY_NOTE_AFTER_S, limit)
                pids = ray.get(refs, timeout=max(0.1, until - waited))
                break
            except GetTimeoutError:
                waited = time.monotonic() - started
                if waited >= limit:
                    for actor in actors:
                        ray.kill(actor)
                    raise InvalidInput(f"Ray could not start {n} worker(s) ({self._need()}) in {limit:g} s: the "
                                       "cluster is busy or too small (SEMCODEC_RAY_START_TIMEOUT sets the wait)") from None
                if not noted:
                    self.note(f"waiting for Ray to place {n} worker(s) ({self._need()}); Ctrl-C stops")
                    noted = True
            except RayError as exc:
                for actor in actors:
                    ray.kill(actor)
                raise InvalidInput(f"Ray workers could not start: {_one_line(exc)}") from None
        for actor, pid in zip(actors, pids):
            self._pids[id(actor)] = pid
        return actors

    def _need(self) -> str:
        return f"{self.cpus_per_worker:g} CPU" + (f" + {self.gpus_per_worker:g} GPU" if self.gpus_per_worker else "") + " each"

    def _run(self, ray, plan: "BenchPlan", units: list["WorkUnit"], receive: Receive) -> None:
        from ray.exceptions import RayError, RayTaskError

        n = self._worker_count(ray.cluster_resources())
        spec = WorkerSpec.of(plan, max(1, int(self.cpus_per_worker)))
        self._actors = self._new_actors(ray, spec, min(n, len(units)))
        idle = list(self._actors)
        pending = list(units)
        running: dict[Any, tuple[Any, "WorkUnit"]] = {}
        deaths: dict[int, int] = {}
        while pending or running:
            while idle and pending:
                actor, unit = idle.pop(), pending.pop(0)
                running[actor.run_unit.remote(unit)] = (actor, unit)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                actor, unit = running.pop(ref)
                try:
                    records = ray.get(ref)
                except RayTaskError as exc:  # the codec raised inside the actor: the actor lives on
                    why = f"codec error in a Ray worker: {_one_line(exc)}"
                    records = [(i, skipped_after_deaths(unit, i, why)) for i in unit.todo]
                except RayError as exc:  # the actor died (killed, out of memory, its node lost)
                    try:
                        ray.kill(actor)
                    except RayError:
                        pass
                    self._actors.remove(actor)
                    self._pids.pop(id(actor), None)
                    (replacement,) = self._new_actors(ray, spec, 1)
                    self._actors.append(replacement)
                    idle.append(replacement)
                    retry_or_give_up(unit, deaths, pending, receive, f"Ray worker ({type(exc).__name__}) died")
                    continue
                for i, rec in records:
                    if i in unit.todo:
                        unit.todo.remove(i)
                        receive(unit, i, rec)
                idle.append(actor)


def _check_reachable(address: str) -> None:
    """``host:port`` or ``ray://host:port`` that nothing answers on is an error now, not minutes
    of Ray retrying (``auto`` is Ray's to resolve: it fails fast when no cluster runs here)."""
    import socket

    rest = address.split("://", 1)[1] if "://" in address else address
    if address == "auto" or ":" not in rest:
        return
    host, _, port = rest.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot reach Ray at {address}: {getattr(exc, 'strerror', None) or exc}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def make_executor(kind: str, jobs: int | None, ray_address: str | None, gpus_per_worker: float):
    """The executor ``--executor``/``-j``/``--ray-address``/``--gpus-per-worker`` ask for."""
    if kind == "local":
        if ray_address or gpus_per_worker:
            raise InvalidInput("--ray-address and --gpus-per-worker are for --executor ray")
        return SerialExecutor() if (jobs or 1) == 1 else LocalExecutor(int(jobs))
    if kind == "ray":
        if gpus_per_worker < 0:
            raise InvalidInput("--gpus-per-worker must be >= 0")
        try:
            ray_module()
        except MissingExtra:
            raise
        return RayExecutor(jobs, ray_address, gpus_per_worker)
    raise InvalidInput(f"unknown executor {kind!r} (local or ray)")
