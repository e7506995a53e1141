"""Run a backend worker with a time limit and a memory limit, so a conversion cannot take the machine down.

onnx2tf on a graph with long unrolled loops (a 3-layer LSTM over 150 steps, once the ``qlstm`` repair has
unrolled it) grew past 23 GB of resident memory on a 24 GB workstation: the kernel's OOM killer then picks a
victim, which may be another program of the user's. :func:`run_guarded` watches the worker's resident set
(``/proc/PID/status``, Linux) and stops it past a limit, so that the conversion fails cleanly (the next
backend is tried) and nothing else is touched.

The limit: ``EDGEKIT_WORKER_MAX_RSS_MB`` if set (0 turns the guard off), else 90% of the memory available
when the worker starts (``MemAvailable``), at least 1 GiB. Where ``/proc`` is missing the guard is off and
only the time limit applies.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import UsageError
from edgekit.procfs import kb_field_bytes

POLL_S = 0.2
MIN_LIMIT_BYTES = 1 << 30
AVAILABLE_SHARE = 0.9


@dataclass(frozen=True)
class GuardedRun:
    """How the worker ended: its exit code and log, and why it was stopped (None if it was not)."""

    returncode: int
    log: str
    stopped: str | None = None  # "timeout" or "memory"
    peak_rss_bytes: int = 0  # the largest resident set seen (0 where it cannot be read)
    limit_bytes: int | None = None  # the memory limit that applied (None: no guard)


def memory_limit_bytes(env: Mapping[str, str] | None = None) -> int | None:
    """The worker's resident-memory limit (see the module docstring); None when there is none."""
    text = (env if env is not None else os.environ).get("EDGEKIT_WORKER_MAX_RSS_MB", "").strip()
    if text:
        try:
            mb = float(text)
        except ValueError as exc:
            raise UsageError(f"EDGEKIT_WORKER_MAX_RSS_MB={text!r} is not a number of megabytes.",
                             hint="Set it to e.g. 8000, or 0 to turn the memory guard off.") from exc
        if mb < 0:
            raise UsageError(f"EDGEKIT_WORKER_MAX_RSS_MB={text!r} is negative.",
                             hint="Set it to e.g. 8000, or 0 to turn the memory guard off.")
        return None if mb == 0 else int(mb * 1024 * 1024)
    available = kb_field_bytes("/proc/meminfo", "MemAvailable")
    if available is None:
        return None
    return max(MIN_LIMIT_BYTES, int(available * AVAILABLE_SHARE))


def run_guarded(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path, timeout_s: float,
                limit_bytes: int | None) -> GuardedRun:
    """Run ``cmd`` with its output in ``log_path``; kill it past ``timeout_s`` or ``limit_bytes`` of resident memory."""
    deadline = time.monotonic() + timeout_s
    peak = 0
    stopped: str | None = None
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                stdin=subprocess.DEVNULL)
        try:
            while True:
                try:
                    proc.wait(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                rss = kb_field_bytes(f"/proc/{proc.pid}/status", "VmRSS") or 0
                peak = max(peak, rss)
                if limit_bytes is not None and rss > limit_bytes:
                    stopped = "memory"
                elif time.monotonic() > deadline:
                    stopped = "timeout"
                if stopped:
                    proc.kill()
                    proc.wait()
                    break
        finally:
            if proc.poll() is None:  # Ctrl-C while waiting: the worker must not outlive the command
                proc.kill()
                proc.wait()
    text = log_path.read_bytes().decode("utf-8", errors="replace")
    return GuardedRun(proc.returncode, text, stopped, peak, limit_bytes)


__all__ = ["GuardedRun", "memory_limit_bytes", "run_guarded"]
