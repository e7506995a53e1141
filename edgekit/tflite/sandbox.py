"""Run untrusted-model work in a child process, so a native crash is a clean error.

A malformed ``.tflite`` can make the native interpreter segfault; in-process
that kills the user's shell command (and the report with it). The reader
(:mod:`edgekit.tflite.model`) validates a file first, but it cannot prove that
every kernel survives every tensor, so commands that hand a file from a user
to the runtime run that step through this module:

``probe_model(path)``
    reads the file with the reader (``ModelFormatError``, exit 2, for a bad
    file), then in a child process loads it with the runtime, allocates the
    tensors and invokes it once on zeros. A crash, a hang or an abort of the
    child becomes a :class:`~edgekit.errors.BackendError` (exit 3) naming the
    file and the signal.

``run_isolated(target, kwargs, subject=path)``
    the general form: calls ``module:function(**kwargs)`` in a child
    (``sys.executable -m edgekit.tflite.sandbox``) and returns its JSON-able
    result. Requests and results travel as JSON files (no pickles); an
    :class:`~edgekit.errors.EdgekitError` raised in the child is raised again
    in the parent with the same class, message and hint.

This module imports no runtime itself; the child's work imports
:mod:`edgekit.tflite.runtime`, the one module that does.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgekit import errors
from edgekit.errors import BackendError, EdgekitError

DEFAULT_TIMEOUT_S = 600.0

log = logging.getLogger("edgekit.sandbox")  # `edgekit --debug` shows it

# Error classes a child may send back, by name. Anything else arrives as a BackendError.
_ERROR_CLASSES: dict[str, type[EdgekitError]] = {
    cls.__name__: cls
    for cls in (
        errors.EdgekitError,
        errors.UsageError,
        errors.InputError,
        errors.ModelFormatError,
        errors.DataError,
        errors.ProfileError,
        errors.BundleError,
        errors.OutputExistsError,
        errors.MissingDependency,
        errors.BackendError,
        errors.CheckFailed,
    )
}

_CRASH_HINT = (
    "The file passed the format checks but the TFLite runtime could not run it; "
    "re-create it with `edgekit convert` (run with --debug to see the runtime's output)."
)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if name == "SIGKILL":
            return "was killed (SIGKILL; the system may have run out of memory)"
        return f"crashed ({name})"
    return f"exited with status {returncode} without a result"


# Lines of Python's faulthandler dump: they say where Python was, not what the runtime said.
_FAULTHANDLER_PREFIXES = (
    'File "', "Current thread", "Thread 0x", "Fatal Python error", "Extension modules", "Python runtime state",
    "<no Python frame>", "Stack (most recent call first)", "Garbage-collecting",
)


def _last_line(text: str) -> str:
    """The last line the runtime printed before dying (skipping the faulthandler dump)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_FAULTHANDLER_PREFIXES)]
    return lines[-1][:300] if lines else ""


def _child_env() -> dict[str, str]:
    """The parent's environment, with the same edgekit importable and tracebacks on a fatal signal."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    old = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = package_parent + (os.pathsep + old if old else "")
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def run_isolated(
    target: str,
    kwargs: dict[str, Any],
    *,
    subject: str | os.PathLike[str],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    action: str = "running",
) -> Any:
    """Call ``target`` ("package.module:function") with ``kwargs`` in a child process.

    ``kwargs`` and the return value must be JSON-serialisable. ``subject`` is the
    user's file the work is about; it is named in the error if the child dies.
    Raises BackendError (exit 3) for a crash, a hang past ``timeout_s`` or a
    child that exits without a result; re-raises the child's EdgekitError as is.
    """
    if ":" not in target:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    subject_name = os.fspath(subject)
    with tempfile.TemporaryDirectory(prefix="edgekit-sandbox-") as tmp:
        request_path = Path(tmp) / "request.json"
        result_path = Path(tmp) / "result.json"
        request_path.write_text(json.dumps({"target": target, "kwargs": kwargs}), encoding="utf-8")
        # -P: never an edgekit/ folder of the current directory, the same edgekit as this process
        cmd = [sys.executable, "-P", "-m", "edgekit.tflite.sandbox", str(request_path), str(result_path)]
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                env=_child_env(),
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BackendError(
                f"The TFLite runtime did not finish {action} {subject_name} within {timeout_s:g} s; it was stopped.",
                hint="The model may be too large for this machine, or the file makes the runtime loop; "
                "re-create it with `edgekit convert`.",
            ) from exc
        except OSError as exc:
            raise BackendError(
                f"Could not start a child process to run {subject_name}: {exc.strerror or exc}.",
                hint="Check that the Python interpreter can start processes here (ulimit -u, memory).",
            ) from exc
        if proc.stderr:
            log.debug("the child's stderr:\n%s", proc.stderr)
        if result_path.is_file():
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                result = None
            if isinstance(result, dict):
                if result.get("ok"):
                    return result.get("value")
                error_cls = _ERROR_CLASSES.get(str(result.get("error")), BackendError)
                raise error_cls(str(result.get("message", "")), hint=result.get("hint") or None)
        said = _last_line(proc.stderr)
        raise BackendError(
            f"The TFLite runtime {_describe_exit(proc.returncode)} while {action} {subject_name}"
            + (f" (last output: {said})" if said else "")
            + "; edgekit stopped it in a child process.",
            hint=_CRASH_HINT,
        )


def probe_model(
    path: str | os.PathLike[str], *, num_threads: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """Check that the runtime can load, allocate and invoke ``path`` once, without risking this process.

    Reads the file with the reader first (ModelFormatError, exit 2, for a bad file),
    then loads + allocates + invokes it on zero inputs in a child process.
    Returns a small summary: {"inputs": n, "outputs": n, "invoked": True}.
    """
    from edgekit.tflite.model import load_model

    load_model(os.fspath(path))
    value = run_isolated(
        "edgekit.tflite.sandbox:probe_in_this_process",
        {"path": os.fspath(path), "num_threads": num_threads},
        subject=path,
        timeout_s=timeout_s,
        action="loading and invoking",
    )
    if not isinstance(value, dict):
        raise BackendError(f"The sandboxed probe of {os.fspath(path)} returned no summary.")
    return value


def probe_in_this_process(path: str, num_threads: int | None = None) -> dict[str, Any]:
    """The child's side of :func:`probe_model` (unsafe in-process: it may crash the process)."""
    import numpy as np

    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(path, num_threads=num_threads)
    input_details = interp.get_input_details()
    for detail in input_details:
        shape = tuple(int(d) for d in detail["shape"])
        interp.set_tensor(detail["index"], np.zeros(shape, dtype=detail["dtype"]))
    try:
        interp.invoke()
    except (RuntimeError, ValueError) as exc:
        raise BackendError(
            f"The TFLite runtime could not run {path}: {' '.join(str(exc).split())[:300]}",
            hint=_CRASH_HINT,
        ) from exc
    return {"inputs": len(input_details), "outputs": len(interp.get_output_details()), "invoked": True}


def _write_result(result_path: Path, payload: dict[str, Any]) -> None:
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, result_path)


def _child_main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m edgekit.tflite.sandbox REQUEST.json RESULT.json\n")
        return 2
    request_path, result_path = Path(argv[0]), Path(argv[1])
    request = json.loads(request_path.read_text(encoding="utf-8"))
    module_name, _, func_name = str(request["target"]).partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        value = func(**request.get("kwargs", {}))
        payload: dict[str, Any] = {"ok": True, "value": value}
        json.dumps(payload)  # fail here, clearly, if the result is not JSON-able
    except EdgekitError as exc:
        payload = {"ok": False, "error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    except MemoryError:
        payload = {"ok": False, "error": "BackendError", "message": "The TFLite runtime ran out of memory.",
                   "hint": "Use a smaller model or a machine with more memory."}
    except Exception as exc:  # report, do not crash: the parent turns it into a clean error
        payload = {"ok": False, "error": "BackendError",
                   "message": f"The TFLite runtime failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                   "hint": _CRASH_HINT}
    _write_result(result_path, payload)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
