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

``run_isolated(target, kwargs, subject=path, fork=False)``
    the general form: calls ``module:function(**kwargs)`` in a child and
    returns its JSON-able result. Results travel as JSON (no pickles); an
    :class:`~edgekit.errors.EdgekitError` raised in the child is raised again
    in the parent with the same class, message and hint. Two kinds of child:

    * spawn (the default): a fresh interpreter (``sys.executable -m
      edgekit.tflite.sandbox``); requests and results are JSON files. A clean
      process: bench uses it so the peak RSS is the model's alone.
    * ``fork=True`` (POSIX): ``os.fork()`` of this process, which already has
      Python, numpy and the modules imported, so isolation costs about a
      millisecond instead of a second interpreter start (seconds on a Pi Zero).
      The result comes back through a pipe. Used for ``verify BUNDLE``, which
      does all of its runtime work in the child and only renders in the parent
      (docs/BENCHMARKS.md, "verify start-up"). When the ``edgekit`` command
      forked that child first thing (:mod:`edgekit.prefork`), it is handed the
      request instead of a new fork. ``EDGEKIT_SANDBOX=spawn`` turns forking off.

This is the parent's side; the child's is :mod:`edgekit.tflite.child`. Neither
imports a runtime itself; the child's work imports :mod:`edgekit.tflite.runtime`,
the one module that does.
"""

from __future__ import annotations

import json
import os
import selectors
import sys
import time
from pathlib import Path
from typing import Any

from edgekit import errors
from edgekit.errors import BackendError, EdgekitError
from edgekit.prefork import can_fork, claim_warm
from edgekit.tflite.child import CRASH_HINT, call_target_json, child_stdio, write_all

DEFAULT_TIMEOUT_S = 600.0


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

def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        import signal

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
    fork: bool = False,
) -> Any:
    """Call ``target`` ("package.module:function") with ``kwargs`` in a child process.

    ``kwargs`` and the return value must be JSON-serialisable. ``subject`` is the
    user's file the work is about; it is named in the error if the child dies.
    Raises BackendError (exit 3) for a crash, a hang past ``timeout_s`` or a
    child that exits without a result; re-raises the child's EdgekitError as is.
    ``fork=True`` forks this process instead of starting a new interpreter (where
    the platform can fork and ``EDGEKIT_SANDBOX`` is not ``spawn``); ``target``
    must then be importable by this process.
    """
    if ":" not in target:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    subject_name = os.fspath(subject)
    if fork and can_fork():
        returncode, result, stderr = _run_forked(target, kwargs, timeout_s, subject_name, action)
        return _outcome(result, returncode, stderr, subject_name, action)
    import subprocess  # the spawn path only: fork, the usual path, needs neither
    import tempfile

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
        result = None
        if result_path.is_file():
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                result = None
        return _outcome(result, proc.returncode, proc.stderr, subject_name, action)


def _outcome(result: Any, returncode: int, stderr: str, subject_name: str, action: str) -> Any:
    """The child's value, its EdgekitError raised again, or a BackendError saying how it died."""
    logging = sys.modules.get("logging")  # `edgekit --debug` imports and configures it; else no one would see this
    if stderr and logging is not None:
        logging.getLogger("edgekit.sandbox").debug("the child's stderr:\n%s", stderr)
    if isinstance(result, dict):
        if result.get("ok"):
            return result.get("value")
        error_cls = _ERROR_CLASSES.get(str(result.get("error")), BackendError)
        raise error_cls(str(result.get("message", "")), hint=result.get("hint") or None)
    said = _last_line(stderr)
    raise BackendError(
        f"The TFLite runtime {_describe_exit(returncode)} while {action} {subject_name}"
        + (f" (last output: {said})" if said else "")
        + "; edgekit stopped it in a child process.",
        hint=CRASH_HINT,
    )


def _run_forked(
    target: str, kwargs: dict[str, Any], timeout_s: float, subject_name: str, action: str
) -> tuple[int, Any, str]:
    """Fork, call ``target`` in the child, read its JSON result and stderr through pipes: (exit code, result, stderr).

    A child started early by :func:`edgekit.prefork.prefork` for this same ``target`` is used instead of a
    new fork.
    """
    warm = claim_warm(target)
    if warm is not None:
        try:
            write_all(warm.request_w, json.dumps({"kwargs": kwargs}).encode("utf-8"))
        except OSError:
            pass  # the child died while it warmed up: _collect says how
        finally:
            os.close(warm.request_w)
        return _collect(warm.pid, warm.result_r, warm.err_r, timeout_s, subject_name, action)
    _flush_stdio()
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    import gc

    # what Python's docs advise before a fork: the child's collector then never walks (and copies, page by
    # page) the parent's objects; the parent unfreezes after the fork
    gc.freeze()
    pid = os.fork()
    if pid != 0:
        gc.unfreeze()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(result_r)
            os.close(err_r)
            child_stdio(err_w)
            write_all(result_w, call_target_json(target, kwargs))
            code = 0
        finally:
            os._exit(code)
    os.close(result_w)
    os.close(err_w)
    return _collect(pid, result_r, err_r, timeout_s, subject_name, action)


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _collect(pid: int, result_r: int, err_r: int, timeout_s: float, subject_name: str, action: str,
             ) -> tuple[int, Any, str]:
    """Read a forked child's result and stderr until both pipes close, then reap it: (exit code, result, stderr).

    Past ``timeout_s``, or on Ctrl-C, the child is killed: it never outlives this process's wait.
    """
    chunks: dict[int, list[bytes]] = {result_r: [], err_r: []}
    deadline = time.monotonic() + timeout_s
    status = None
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(result_r, selectors.EVENT_READ)
            sel.register(err_r, selectors.EVENT_READ)
            open_fds = 2
            while open_fds:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BackendError(
                        f"The TFLite runtime did not finish {action} {subject_name} within {timeout_s:g} s; "
                        "it was stopped.",
                        hint="The model may be too large for this machine, or the file makes the runtime loop; "
                        "re-create it with `edgekit convert`.",
                    )
                for key, _ in sel.select(timeout=min(left, 1.0)):
                    block = os.read(key.fd, 65536)  # type: ignore[arg-type]
                    if block:
                        chunks[key.fd].append(block)  # type: ignore[index]
                    else:
                        sel.unregister(key.fd)
                        open_fds -= 1
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # timeout, Ctrl-C: the child must not outlive us
            import signal

            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        os.close(result_r)
        os.close(err_r)
    stderr = b"".join(chunks[err_r]).decode("utf-8", errors="replace")
    try:
        result = json.loads(b"".join(chunks[result_r]).decode("utf-8"))
    except ValueError:
        result = None
    return os.waitstatus_to_exitcode(status), result, stderr


def probe_model(
    path: str | os.PathLike[str], *, num_threads: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, Any]:
    """Check that the runtime can load, allocate and invoke ``path`` once, without risking this process.

    Reads the file with the reader first (ModelFormatError, exit 2, for a bad file),
    then loads + allocates + invokes it on zero inputs in a child process.
    Returns a small summary: {"inputs": n, "outputs": n, "invoked": bool, "refused": the runtime's
    error on the all-zero input, or None}.
    """
    from edgekit.tflite.model import load_model

    load_model(os.fspath(path))
    value = run_isolated(
        "edgekit.tflite.sandbox:probe_in_this_process",
        {"path": os.fspath(path), "num_threads": num_threads},
        subject=path,
        timeout_s=timeout_s,
        action="loading and invoking",
        fork=True,  # this process has the reader (and soon the runtime) imported: no second interpreter start
    )
    if not isinstance(value, dict):
        raise BackendError(f"The sandboxed probe of {os.fspath(path)} returned no summary.")
    return value


def probe_in_this_process(path: str, num_threads: int | None = None) -> dict[str, Any]:
    """The child's side of :func:`probe_model` (unsafe in-process: it may crash the process).

    A kernel that REFUSES the all-zero input (an error, not a crash) is reported in ``"refused"``: the
    caller still runs the user's data, which may well run (basic-pitch's tuned int8 model refuses only
    silence), and says what was refused."""
    from edgekit.tflite.runtime import invoke_on_zeros, load_interpreter

    interp = load_interpreter(path, num_threads=num_threads)
    refused, _ = invoke_on_zeros(interp)
    return {"inputs": len(interp.get_input_details()), "outputs": len(interp.get_output_details()),
            "invoked": refused is None, "refused": refused}


def _write_result(result_path: Path, payload: bytes) -> None:
    tmp = result_path.with_suffix(".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, result_path)


def _child_main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m edgekit.tflite.sandbox REQUEST.json RESULT.json\n")
        return 2
    request_path, result_path = Path(argv[0]), Path(argv[1])
    request = json.loads(request_path.read_text(encoding="utf-8"))
    _write_result(result_path, call_target_json(str(request["target"]), request.get("kwargs", {})))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
