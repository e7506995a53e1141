"""The child's side of the sandbox (:mod:`edgekit.tflite.sandbox`): call the target, send its result.

Runs in a forked child (:func:`edgekit.tflite.sandbox.run_isolated` with ``fork=True``, or the child
:func:`edgekit.prefork.prefork` starts early, which calls :func:`serve_warm`) and in a spawned one
(``python -m edgekit.tflite.sandbox``). Results travel as JSON (no pickles); an
:class:`~edgekit.errors.EdgekitError` travels as its class name, message and hint. Imports nothing the
parent side needs, so that neither side imports the other's module.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
from collections.abc import Callable
from typing import Any

from edgekit.errors import EdgekitError

CRASH_HINT = (
    "The file passed the format checks but the TFLite runtime could not run it; "
    "re-create it with `edgekit convert` (run with --debug to see the runtime's output)."
)


def serve_warm(target: str, warm_up: str, request_r: int, result_w: int, err_w: int) -> None:
    """The body of a child forked by :func:`edgekit.prefork.prefork` (never returns).

    Imports what ``warm_up`` ("module:function") imports, then waits for the request; with one, calls
    ``target`` like any forked sandbox child; without (the request pipe closed unused), exits.
    """
    code = 1
    try:
        child_stdio(err_w)
        try:
            warm = import_target(warm_up)
            collector_paused(warm)
        except Exception:  # noqa: S110 - the target's own imports fail again in call_target, which reports it
            pass
        request = read_all(request_r)
        if request:
            kwargs = json.loads(request.decode("utf-8")).get("kwargs", {})
            write_all(result_w, call_target_json(target, kwargs))
        code = 0
    finally:
        os._exit(code)


def child_stdio(err_w: int) -> None:
    """In a forked child: stderr into the parent's pipe, stdin and stdout from/to /dev/null, faulthandler on."""
    os.dup2(err_w, 2)  # the runtime's own messages, and faulthandler's dump on a crash
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # nothing the child prints reaches the user's stdout
    import faulthandler

    faulthandler.enable(file=2, all_threads=False)


def import_target(target: str) -> Callable[..., Any]:
    """The function ``target`` ("module:function") names, its module imported with the cyclic collector paused.

    Importing numpy, the runtime and the verify modules allocates tens of thousands of objects that live as
    long as the child; the collections they trigger find nothing to free and cost about a tenth of the
    child's start-up (measured: docs/BENCHMARKS.md, "verify start-up"). Afterwards they are frozen (never
    walked again) and the collector runs as usual for the work itself.
    """
    module_name, _, func_name = target.partition(":")
    module = collector_paused(importlib.import_module, module_name)
    return getattr(module, func_name)  # type: ignore[no-any-return]


def collector_paused(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` with the cyclic collector off; what it created is frozen after (see :func:`import_target`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return func(*args)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_all(fd: int) -> bytes:
    chunks = []
    while block := os.read(fd, 65536):
        chunks.append(block)
    return b"".join(chunks)


def call_target_json(target: str, kwargs: dict[str, Any]) -> bytes:
    """:func:`call_target`'s payload encoded for the pipe (the C encoder: no indent)."""
    payload = call_target(target, kwargs)
    try:
        return json.dumps(payload).encode("utf-8")
    except (TypeError, ValueError) as exc:
        return json.dumps({"ok": False, "error": "BackendError", "hint": CRASH_HINT,
                           "message": f"The TFLite runtime's result could not be sent: {exc}"}).encode("utf-8")


def call_target(target: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The child's work: call ``target`` and say how it went as a JSON-able payload (never raises)."""
    try:
        value = import_target(target)(**kwargs)
        payload: dict[str, Any] = {"ok": True, "value": value}
    except EdgekitError as exc:
        payload = {"ok": False, "error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    except MemoryError:
        payload = {"ok": False, "error": "BackendError", "message": "The TFLite runtime ran out of memory.",
                   "hint": "Use a smaller model or a machine with more memory."}
    except Exception as exc:  # report, do not crash: the parent turns it into a clean error
        payload = {"ok": False, "error": "BackendError",
                   "message": f"The TFLite runtime failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                   "hint": CRASH_HINT}
    return payload
