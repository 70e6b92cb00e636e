"""Benches on worker processes (-j) and on a local Ray: the same records as one process, and a
worker killed mid-run costs nothing but time (the JSONL ends complete, without duplicates)."""

import os
import signal
from pathlib import Path

import pytest

from conftest import TINY_OPTS, assert_clean_error, call_cli

from semcodec.bench import BenchPlan, run_bench
from semcodec.channel import AWGNChannel
from semcodec.bench.executors import LocalExecutor, RayExecutor, SerialExecutor
from semcodec.codec import load_codec
from semcodec.bench.results_file import read_results, record_key

SNRS = [0.0, 12.0]
ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[test]')")


def _plan(folder: Path, out: Path, codecs=("bpg-ldpc", "deep-jscc")) -> BenchPlan:
    from semcodec.data import folder as dataset_folder

    instances = {}
    for name in codecs:
        cls = load_codec(name)
        instances[name] = cls(**{k: v for k, v in TINY_OPTS.items() if k in cls.option_specs()})
    return BenchPlan(dataset="tiny", images=dataset_folder(folder, "test"), codecs=instances, snrs=SNRS,
                     channel=AWGNChannel(), seed=3, metrics=["psnr", "ms_ssim", "bleu"], out=out)


def _essence(records: list[dict]) -> dict:
    """What must not depend on where a record was computed (timings and host do)."""
    return {(r["image"], r["codec"], r["snr_db"]): (r["status"], r["channel_uses"], r.get("texts"),
                                                   {k: v for k, v in r["metrics"].items()})
            for r in records}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        status, uses, texts, metrics = a[key]
        assert (status, uses, texts) == b[key][:3], key
        for name, value in metrics.items():  # threads per worker change float rounding, not values
            other = b[key][3][name]
            assert (value is None) == (other is None), (key, name)
            assert value is None or value == pytest.approx(other, rel=1e-5, abs=1e-6), (key, name)


@pytest.fixture(scope="module")
def reference(tiny_models, tiny_kodak, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "r.jsonl"
    plan = _plan(tiny_kodak, out, ("bpg-ldpc", "deep-jscc", "vlm-csc"))
    records = run_bench(plan, executor=SerialExecutor())
    assert len(records) == 3 * 3 * len(SNRS)
    return _essence(records)


def test_two_local_jobs_give_the_same_records(reference, tiny_models, tiny_kodak, tmp_path):
    plan = _plan(tiny_kodak, tmp_path / "r.jsonl", ("bpg-ldpc", "deep-jscc", "vlm-csc"))
    _same(reference, _essence(run_bench(plan, executor=LocalExecutor(2))))
    _same(reference, _essence(read_results(plan.out).records))


def test_ray_gives_the_same_records(reference, tiny_models, tiny_kodak, tmp_path):
    plan = _plan(tiny_kodak, tmp_path / "r.jsonl", ("bpg-ldpc", "deep-jscc", "vlm-csc"))
    _same(reference, _essence(run_bench(plan, executor=RayExecutor(workers=2))))


@pytest.mark.parametrize("make", [lambda: LocalExecutor(2), lambda: RayExecutor(workers=2)], ids=["local", "ray"])
def test_a_worker_killed_mid_run_ends_with_the_complete_jsonl(tiny_kodak, tmp_path, make):
    plan = _plan(tiny_kodak, tmp_path / "r.jsonl")
    executor = make()
    killed: list[int] = []

    def on_record(rec: dict, cached: bool) -> None:
        if not killed and executor.worker_pids():
            pid = executor.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    records = run_bench(plan, on_record=on_record, executor=executor)
    assert killed, "no worker was killed"
    assert not [r for r in records if r["status"] == "skipped"]  # the killed unit was retried, not given up
    lines = read_results(plan.out).records
    keys = [record_key(r) for r in lines]
    assert len(keys) == len(set(keys)) == plan.total  # complete, and nothing twice


def test_bench_cli_takes_jobs_and_refuses_bad_executor_flags(tiny_kodak, tmp_path):
    out = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", tiny_kodak, "--codecs", "bpg-ldpc", "--snr", "5", "-j", "2",
                            "--metrics", "psnr", "--out", out)
    assert code == 0, err
    assert len(read_results(out).records) == 3
    assert_clean_error(*call_cli("bench", tiny_kodak, "--executor", "spark", "--out", out), "local or ray")
    assert_clean_error(*call_cli("bench", tiny_kodak, "--ray-address", "auto", "--out", out), "--executor ray")
    assert_clean_error(*call_cli("bench", tiny_kodak, "-j", "0", "--out", out), "-j")
    # More local workers than cores: each would load its own models for nothing — refused up front.
    many = str(len(os.sched_getaffinity(0)) + 1)
    assert_clean_error(*call_cli("bench", tiny_kodak, "--codecs", "bpg-ldpc", "-j", many, "--out", out), "cores")
    assert_clean_error(*call_cli("bench", tiny_kodak, "--codecs", "bpg-ldpc", "--executor", "ray", "-j", many,
                                 "--out", out), "cores")
    assert len(read_results(out).records) == 3  # nothing was run or lost


def test_hevc_threads_do_not_change_the_bitstream(small_image):
    """Workers cap x265's thread pool (-j shares the cores); the packet must not depend on it."""
    from semcodec.source_coding import hevc

    packets = []
    for threads in (None, 1, 2):
        hevc.set_threads(threads)
        packets.append(hevc.HevcEncoder().encode(small_image, 40, key=f"t{threads}"))
    hevc.set_threads(None)
    assert packets[0] == packets[1] == packets[2]


def test_ray_workers_the_cluster_cannot_place_are_an_error_not_a_hang():
    from semcodec.errors import InvalidInput

    cluster = {"CPU": 8.0, "GPU": 1.0}
    assert RayExecutor(None, "auto", 1.0)._worker_count(cluster) == 1  # one GPU: one worker
    assert RayExecutor(None, "auto", 0.5)._worker_count(cluster) == 2
    assert RayExecutor(4, "auto", 0.0)._worker_count(cluster) == 4
    with pytest.raises(InvalidInput, match="1 GPUs"):
        RayExecutor(2, "auto", 1.0)._worker_count(cluster)
    with pytest.raises(InvalidInput, match="0 GPUs"):
        RayExecutor(None, "auto", 1.0)._worker_count({"CPU": 2.0})


def test_gpus_per_worker_on_a_local_ray_without_gpus_is_a_clean_error(tiny_kodak, tmp_path):
    out = tmp_path / "r.jsonl"
    assert_clean_error(*call_cli("bench", tiny_kodak, "--codecs", "bpg-ldpc", "--snr", "5", "--executor", "ray",
                                 "--gpus-per-worker", "1", "--out", out), "GPUs")
    assert not out.exists()  # a run that failed before its first record leaves no empty file


def test_a_ray_address_nothing_answers_on_is_an_error_at_once(tiny_kodak, tmp_path):
    import socket
    import time

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        assert_clean_error(*call_cli("bench", tiny_kodak, "--codecs", "bpg-ldpc", "--executor", "ray",
                                     "--ray-address", address, "--out", tmp_path / "r.jsonl"), "cannot reach Ray")
    assert time.monotonic() - t0 < 30
