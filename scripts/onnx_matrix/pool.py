"""The worker pool (the parent side): cache keys, worker processes, timeouts."""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from onnx_matrix.cases import TIMEOUT_S, Case, Outcome

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_onnx_matrix.py"


def code_key() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "edgekit").rglob("*.py")):
        if "onnx" in path.parts or path.parent.name in ("convert", "core"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def tool_key(tool: str) -> str:
    if tool == "edgekit":
        return f"edgekit-{code_key()}"
    import importlib.metadata

    return f"onnx2tf-{importlib.metadata.version('onnx2tf')}"


class Pool:
    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.procs: list[subprocess.Popen[str] | None] = [None] * jobs

    def _start(self, k: int) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        proc = subprocess.Popen([sys.executable, "-P", str(SCRIPT), "--worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                                preexec_fn=lambda: os.nice(5))  # noqa: PLW1509 - a little below other jobs on a shared machine
        self.procs[k] = proc
        return proc

    def run(self, todo: list[tuple[Case, str]], done: Any) -> None:
        queue = list(todo)
        busy: dict[int, tuple[Case, str, float]] = {}
        while queue or busy:
            for k in range(self.jobs):
                if k not in busy and queue:
                    proc = self.procs[k]
                    if proc is None or proc.poll() is not None:
                        proc = self._start(k)
                    case, tool = queue.pop(0)
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps({"case": asdict(case), "tool": tool}) + "\n")
                    proc.stdin.flush()
                    busy[k] = (case, tool, time.monotonic())
            streams: dict[Any, int] = {}
            for k in busy:
                proc = self.procs[k]
                if proc is not None and proc.stdout is not None:
                    streams[proc.stdout] = k
            ready, _, _ = select.select(list(streams), [], [], 5.0)
            for stream in ready:
                k = streams[stream]
                line = stream.readline() if stream is not None else ""
                case, tool, _ = busy.pop(k)
                if line:
                    done(Outcome(**json.loads(line)))
                else:  # the worker died on this case
                    done(Outcome(case.id, tool, "crash", None, False, "the worker process died", None, 0.0))
                    self.procs[k] = None
            for k, (case, tool, started) in list(busy.items()):
                limit = TIMEOUT_S[case.suite]
                if time.monotonic() - started > limit:
                    proc = self.procs[k]
                    if proc is not None:
                        proc.kill()
                    self.procs[k] = None
                    busy.pop(k)
                    done(Outcome(case.id, tool, "crash", None, False, f"timed out after {limit:.0f} s", None, limit))

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=30)

