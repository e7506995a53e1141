"""`edgekit bench` counts the threads the runtime made, and says when they and the calling thread outnumber the
cores (facex's emotion model at 2 threads on 2 vCPUs: 3 runtime threads, 11.3-13.0 ms or 20.1 ms or 120 ms by
where the OS put them; docs/BENCHMARKS.md, "thread placement")."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.bench import BenchConfig, BenchResult, bench_model
from edgekit.benchthreads import crowding_warnings, new_threads, thread_ids
from edgekit.calibrate.builtinpool import pool_chain

pytestmark = pytest.mark.device


def test_crowding_is_runtime_threads_and_the_caller_against_the_cores() -> None:
    assert crowding_warnings([(2, 1)], 2) == []  # XNNPACK's one worker and the caller: one each
    (w,) = crowding_warnings([(2, 3)], 2)
    assert "3 thread(s) of its own" in w and "2 core(s)" in w and "fewer threads" in w
    assert crowding_warnings([(2, 3)], 4) == []
    assert len(crowding_warnings([(2, 2)], 2)) == 1  # fer's: two runtime threads and the caller on two cores
    assert crowding_warnings([(2, 2)], 3) == []
    assert len(crowding_warnings([(1, 0), (4, 6), (None, None)], 4)) == 1  # the 4-thread run; unknown says nothing


def test_new_threads_sees_a_thread_made_after_the_listing() -> None:
    import threading

    before = thread_ids()
    if before is None:
        pytest.skip("the OS does not list a process's threads here")
    assert new_threads(before) == 0
    gate = threading.Event()
    t = threading.Thread(target=gate.wait)
    t.start()
    try:
        assert new_threads(before) == 1
    finally:
        gate.set()
        t.join()
    assert new_threads(None) is None


@pytest.mark.skipif(thread_ids() is None, reason="the OS does not list a process's threads here")
def test_bench_counts_the_pools_of_xnnpack_and_of_litert_kernels(tmp_path: Path) -> None:
    """A builtin dynamic-range depthwise among convs XNNPACK splits: at 2 threads XNNPACK's pool and LiteRT's own
    each have a worker; without the depthwise only XNNPACK's; at 1 thread none. The JSON carries the count."""
    mixed, pure = tmp_path / "mixed.tflite", tmp_path / "pure.tflite"
    mixed.write_bytes(pool_chain(4, depthwise=True))
    pure.write_bytes(pool_chain(4, depthwise=False))

    def made(path: Path, threads: int) -> int | None:
        res = bench_model(path, BenchConfig(threads=threads, runs=2, warmup=0, warmup_s=0.0))
        assert BenchResult.from_dict(res.to_dict()).runtime_threads == res.runtime_threads
        return res.runtime_threads

    assert made(pure, 1) == 0 and made(mixed, 1) == 0
    assert made(pure, 2) == 1
    assert made(mixed, 2) == 2
