"""Running benches: the plan (:mod:`.plan`), the runner that resumes a results file
(:mod:`.runner`), where work units run (:mod:`.executors`: this process, worker processes, Ray),
what a worker does with a unit (:mod:`.worker`), and the one results format, JSONL written
crash-safe, that bench writes and report reads (:mod:`.results_file`).

May import the contract (codec, channel, signal, metrics, provenance, data, models); never the
report, the trainers or the command line.
"""

from .plan import BenchPlan, WorkerContext, WorkUnit, context_of, file_digest
from .runner import read_records, run_bench
from .worker import run_unit

__all__ = ["BenchPlan", "WorkUnit", "WorkerContext", "context_of", "file_digest", "read_records", "run_bench", "run_unit"]
