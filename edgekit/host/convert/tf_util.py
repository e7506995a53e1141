"""Small TensorFlow helpers shared by the loaders and the converter (workstation only)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from edgekit.deps import require

_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
    "ABSL_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
}


def quiet_tf(debug: bool = False) -> None:
    """Silence TensorFlow's log spam (before it is imported), unless --debug."""
    if debug:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("tensorflow", "absl", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _real_fd(stream: object, fd: int) -> bool:
    try:
        return stream.fileno() == fd  # type: ignore[attr-defined]
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False


@contextlib.contextmanager
def native_quiet(debug: bool = False) -> Iterator[None]:
    """Silence what TensorFlow's C++ side prints straight to fd 1/2 (and Python warnings), unless --debug.

    Python-level stderr (our progress bars and warnings) keeps going to the
    real stderr through a duplicate of the original descriptor.
    """
    if debug:
        yield
        return
    old_out, old_err = sys.stdout, sys.stderr
    swap_out, swap_err = _real_fd(old_out, 1), _real_fd(old_err, 2)
    for stream in (old_out, old_err):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    devnull = os.open(os.devnull, os.O_WRONLY)
    opened: list[io.TextIOWrapper] = []
    try:
        for fd in (1, 2):
            os.dup2(devnull, fd)
        if swap_out:
            sys.stdout = os.fdopen(os.dup(saved[1]), "w", buffering=1)
            opened.append(sys.stdout)
        if swap_err:
            sys.stderr = os.fdopen(os.dup(saved[2]), "w", buffering=1)
            opened.append(sys.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for stream in opened:
            with contextlib.suppress(Exception):
                stream.flush()
                stream.close()
        sys.stdout, sys.stderr = old_out, old_err
        for fd, dup in saved.items():
            os.dup2(dup, fd)
            os.close(dup)
        os.close(devnull)


def tensorflow(purpose: str, debug: bool = False) -> ModuleType:
    """Import TensorFlow quietly (through deps.require)."""
    quiet_tf(debug)
    tf = require("tensorflow", purpose)
    if not debug:
        tf.get_logger().setLevel(logging.ERROR)
        try:
            tf.autograph.set_verbosity(0)
        except AttributeError:
            pass
    return tf


def temp_dir(prefix: str) -> tuple[Path, Callable[[], None]]:
    path = Path(tempfile.mkdtemp(prefix=f"edgekit-{prefix}-"))
    return path, lambda: shutil.rmtree(path, ignore_errors=True)


def condense(text: str, limit: int = 400) -> str:
    """One readable line from a long TF error message."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    keep = [ln for ln in lines if "error" in ln.lower() or "Error" in ln] or lines[:3]
    out = " ".join(keep[:3])
    out = re.sub(r"\s+", " ", out)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def dtype_name(dtype: Any) -> str:
    """tf.DType / keras dtype string -> numpy dtype name."""
    name = getattr(dtype, "name", None) or str(dtype)
    return str(name).replace("tf.", "")
