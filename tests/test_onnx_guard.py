"""The backend worker's guard (edgekit.host.onnx.guard): a time limit and a resident-memory limit, for real."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgekit.errors import UsageError
from edgekit.host.onnx import guard

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the memory guard reads /proc")

GROW = (  # a worker that keeps allocating (touched pages: resident), as onnx2tf on a huge unrolled graph
    "import time\n"
    "blocks = []\n"
    "for _ in range(400):\n"
    "    blocks.append(bytearray(8 << 20))\n"
    "    time.sleep(0.02)\n"
    "print('done')\n"
)


def test_a_worker_that_ends_gives_its_code_and_log(tmp_path: Path) -> None:
    run = guard.run_guarded([sys.executable, "-c", "print('hello'); raise SystemExit(4)"], tmp_path, {},
                            tmp_path / "w.log", timeout_s=60, limit_bytes=1 << 30)
    assert (run.returncode, run.stopped) == (4, None)
    assert run.log.strip() == "hello"


def test_a_worker_past_the_memory_limit_is_stopped(tmp_path: Path) -> None:
    limit = 200 << 20
    run = guard.run_guarded([sys.executable, "-c", GROW], tmp_path, {}, tmp_path / "w.log", timeout_s=120,
                            limit_bytes=limit)
    assert run.stopped == "memory" and run.returncode < 0
    assert run.peak_rss_bytes > limit and "done" not in run.log


def test_a_worker_past_the_time_limit_is_stopped(tmp_path: Path) -> None:
    run = guard.run_guarded([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, {},
                            tmp_path / "w.log", timeout_s=0.5, limit_bytes=None)
    assert run.stopped == "timeout" and run.returncode < 0


def test_memory_limit_from_the_environment_or_what_is_free() -> None:
    assert guard.memory_limit_bytes({"EDGEKIT_WORKER_MAX_RSS_MB": "0"}) is None
    assert guard.memory_limit_bytes({"EDGEKIT_WORKER_MAX_RSS_MB": "512"}) == 512 << 20
    default = guard.memory_limit_bytes({})
    assert default is not None and default >= guard.MIN_LIMIT_BYTES
    for wrong in ("lots", "-5"):
        with pytest.raises(UsageError, match="EDGEKIT_WORKER_MAX_RSS_MB"):
            guard.memory_limit_bytes({"EDGEKIT_WORKER_MAX_RSS_MB": wrong})


def test_a_memory_stop_is_a_conversion_failure_that_names_the_limit(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend's attempt fails cleanly (the next backend is tried), with the way out in the hint."""
    pytest.importorskip("onnx")
    import edgekit.host.onnx.load as ol
    from edgekit.host.onnx.attempts import ConversionFailed
    from edgekit.host.source_model import LoadOptions

    def stopped(*args: object, **kwargs: object) -> guard.GuardedRun:
        return guard.GuardedRun(-9, "", "memory", 3 << 30, 2 << 30)

    monkeypatch.setattr(guard, "run_guarded", stopped)
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(ConversionFailed) as info:
        ol.run_onnx2tf(tmp_path / "model.onnx", tmp_path, ["x"], ["y"], LoadOptions(preload_tensorflow=False), "m.onnx")
    assert "2.0 GiB of memory" in info.value.message and "--backend lower" in info.value.hint
    assert info.value.attempt.reason == "stopped at 2.0 GiB of memory"


def test_sigterm_to_the_command_stops_its_worker(tmp_path: Path) -> None:
    """`kill` on a running `edgekit convert` left its onnx2tf worker running (seen restarting a sweep): the
    console script now turns SIGTERM into an exit that runs the guard's clean-up, which kills the worker."""
    import os
    import signal
    import subprocess
    import time

    pid_file = tmp_path / "worker.pid"
    worker = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    parent = ("import sys\n"
              "from edgekit.entry import exit_cleanly_on_sigterm\n"
              "from edgekit.host.onnx.guard import run_guarded\n"
              "from pathlib import Path\n"
              "exit_cleanly_on_sigterm()\n"
              f"run_guarded([sys.executable, '-c', {worker!r}], Path({str(tmp_path)!r}), {{}}, "
              f"Path({str(tmp_path / 'w.log')!r}), timeout_s=120, limit_bytes=None)\n")
    proc = subprocess.Popen([sys.executable, "-c", parent])
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
