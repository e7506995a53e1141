"""The same command on many boards at once, a bounded number of SSH connections at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edgekit.errors import EXIT_BACKEND
from edgekit.remote.job import LineSink, Outcome, RemoteCommand, RunOptions, run_on
from edgekit.remote.report import RemoteReport, TargetResult, throttle_warnings
from edgekit.remote.ssh import Connection
from edgekit.remote.target import Target

DEFAULT_MAX_CONNECTIONS = 8


def run_fleet(
    command_name: str,
    jobs: Sequence[tuple[Target, RemoteCommand]],
    options: RunOptions,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    on_line: LineSink | None = None,
    render_options: Mapping[str, Any] | None = None,
) -> RemoteReport:
    """Run each (target, command) with at most ``max_connections`` boards at a time.

    One board's failure is recorded in its own entry; the others go on. Ctrl-C closes every open
    connection (each board then removes its temporary folder) and is raised again.
    """
    live: set[Connection] = set()
    lock = threading.Lock()

    def register(conn: Connection | None) -> None:
        if conn is not None:
            with lock:
                live.add(conn)

    def one(job: tuple[Target, RemoteCommand]) -> Outcome:
        target, command = job
        try:
            return run_on(target, command, options, on_line=on_line, register=register)
        except Exception as exc:  # an edgekit bug must not take the other boards down
            return Outcome(target, exit_code=EXIT_BACKEND, error=f"{target}: unexpected {type(exc).__name__}: {exc}",
                           hint="This is a bug in edgekit; run again with --debug and report it.")

    workers = max(1, min(max_connections, len(jobs)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edgekit-remote")
    try:
        outcomes = list(pool.map(one, jobs))
    except BaseException:
        with lock:
            for conn in live:
                conn.close()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return RemoteReport(command=command_name, targets=tuple(_entry(command_name, o) for o in outcomes),
                        render_options=dict(render_options or {}))


def _entry(command_name: str, o: Outcome) -> TargetResult:
    return TargetResult(
        target=o.target.label, exit_code=o.exit_code, result=o.result, error=o.error, hint=o.hint,
        fingerprint=o.fingerprint, fingerprint_after=o.fingerprint_after, elapsed_s=round(o.elapsed_s, 3),
        files=tuple(o.files), warnings=tuple(throttle_warnings(command_name, o.fingerprint, o.fingerprint_after)),
    )


def line_printer(echo: Callable[[str], None], prefix_targets: bool = True) -> LineSink:
    """A LineSink that prints each board's stderr line as ``[target] line``, one line at a time."""
    lock = threading.Lock()

    def sink(target: Target, line: str) -> None:
        with lock:
            echo(f"[{target.label}] {line}" if prefix_targets else line)

    return sink


__all__ = ["DEFAULT_MAX_CONNECTIONS", "line_printer", "run_fleet"]
