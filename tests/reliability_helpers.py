"""Helpers for the reliability / fuzz / device tests: tiny models and bundles built WITHOUT TensorFlow.

Everything here is device-safe (numpy + edgekit's core .tflite builder + stdlib), so the same
fixtures serve the workstation suite, the base-install venv (scripts/test-device) and the
emulated Pi (scripts/test-pi).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def make_fc_tflite(in_features: int = 4, out_features: int = 3, seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A float32 FULLY_CONNECTED model y = x @ W.T + b, built with the core's .tflite builder.

    Returns (tflite bytes, W, b) so tests can compute the exact expected output with numpy.
    """
    from edgekit.core.tflite_builder import TFLiteBuilder

    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((out_features, in_features)).astype(np.float32)
    bias = rng.standard_normal(out_features).astype(np.float32)
    b = TFLiteBuilder("edgekit reliability test model")
    x = b.tensor("input", (1, in_features))
    w = b.constant("weights", weights)
    bt = b.constant("bias", bias)
    y = b.tensor("output", (1, out_features))
    b.operator("FULLY_CONNECTED", [x, w, bt], [y], {"fused_activation_function": "NONE"})
    return b.build([x], [y]), weights, bias


def fc_reference(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The exact float64 answer of the FC model, for golden outputs."""
    return (x.astype(np.float64) @ weights.T.astype(np.float64) + bias).astype(np.float32)


def write_fc_bundle(directory: Path, samples: int = 3, seed: int = 0) -> Path:
    """A deployment bundle of the tiny FC model, written by edgekit's own bundle writer (no TensorFlow)."""
    from edgekit.bundle import write_bundle

    tflite, weights, bias = make_fc_tflite(seed=seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((samples, 1, weights.shape[1])).astype(np.float32)
    y = np.stack([fc_reference(x[i], weights, bias) for i in range(samples)])
    io = {"dtype": "float32", "scale": None, "zero_point": None, "to_tflite_perm": None}
    manifest = {
        "source": {"file": "fc.keras", "sha256": "0" * 64, "format": "keras", "size_bytes": 0},
        "quantization": "none",
        "io_type": "float32",
        "inputs": [{"name": "input", "source_name": "input", "shape": [1, int(weights.shape[1])], **io}],
        "outputs": [{"name": "output", "source_name": "output", "shape": [1, int(weights.shape[0])], **io}],
        "preprocessing": None,
        "calibration": {"source": "synthetic", "count": 0, "skipped": 0, "per_input": {}},
        "tools": {},
    }
    return write_bundle(directory, tflite, manifest, {"input": x}, {"output": y}, force=True)


# --- child-process targets for the sandbox tests (imported by `python -m edgekit.tflite.sandbox`
# when tests/ is on PYTHONPATH) ------------------------------------------------------------------


def child_segfault() -> None:
    """Die the way a native kernel does: SIGSEGV."""
    import faulthandler

    faulthandler._sigsegv()


def child_abort() -> None:
    import os

    os.abort()


def child_sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def child_echo(value: Any) -> Any:
    return value


def child_raise_data_error(message: str) -> None:
    from edgekit.errors import DataError

    raise DataError(message, hint="a hint from the child")


def child_exit(code: int) -> None:
    import os

    os._exit(code)


def child_pid() -> int:
    """Which process did the work (a forked child, or the one edgekit.prefork started early)."""
    import os

    return os.getpid()


def child_modules() -> list[str]:
    """The modules the child has imported by the time its request arrives."""
    import sys

    return sorted(sys.modules)


# --- fuzzing: deterministic mutations driven by hypothesis-drawn operations ---------------------

INTERESTING_INT32 = (0, 1, 2, 3, 4, 7, 8, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE)
BYTE_OPS = ("set", "flip", "int32", "truncate", "insert", "delete", "duplicate")


def mutate_bytes(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    """Apply (kind, position, value) operations; positions wrap around the current length."""
    buf = bytearray(data)
    for kind, pos, value in ops:
        if not buf:
            buf = bytearray([value & 0xFF])
            continue
        i = pos % len(buf)
        if kind == "set":
            buf[i] = value & 0xFF
        elif kind == "flip":
            buf[i] ^= 1 << (value % 8)
        elif kind == "int32":
            word = INTERESTING_INT32[value % len(INTERESTING_INT32)] if value < 1000 else (len(buf) + value % 64 - 32)
            i -= i % 4  # flatbuffer fields are 4-byte aligned
            buf[i:i + 4] = (word & 0xFFFFFFFF).to_bytes(4, "little")
        elif kind == "truncate":
            del buf[i:]
        elif kind == "insert":
            buf[i:i] = bytes([value & 0xFF]) * (1 + value % 7)
        elif kind == "delete":
            del buf[i:i + 1 + value % 16]
        elif kind == "duplicate":
            buf[i:i] = buf[i:i + 1 + value % 32]
    return bytes(buf)


def jsonable_leaves(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every node (dict values / list items) of a JSON-like tree, parents before children."""
    out: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += jsonable_leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += jsonable_leaves(v, (*path, i))
    return out


WEIRD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2**31, 2**63 - 1, -(2**63), 1e308, -1e308, float("nan"), float("inf"), 0.5, "",
    "x", "../../etc/passwd", "/etc/passwd", "model.tflite", "golden.npz", "int8", "float32", [], [0], [-1, 3],
    [1, 2, 3, 4, 5, 6, 7, 8, 9], {}, {"a": 1}, "\x00", "é" * 3,
)


def mutate_tree(obj: Any, ops: list[tuple[str, int, int]]) -> Any:
    """Structured mutation of a JSON/TOML-like tree: replace / delete / add keys, retype values."""
    import copy

    tree = copy.deepcopy(obj)
    for kind, pos, value in ops:
        paths = jsonable_leaves(tree)
        if not paths:
            return WEIRD_VALUES[value % len(WEIRD_VALUES)]
        path = paths[pos % len(paths)]
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if kind == "replace":
            parent[last] = copy.deepcopy(WEIRD_VALUES[value % len(WEIRD_VALUES)])
        elif kind == "delete":
            del parent[last]
        elif kind == "add" and isinstance(parent, dict):
            parent[f"unknown_key_{value % 5}"] = copy.deepcopy(WEIRD_VALUES[value % len(WEIRD_VALUES)])
        elif kind == "add" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif kind == "scale" and isinstance(parent[last], int | float) and not isinstance(parent[last], bool):
            parent[last] = parent[last] * (-(10 ** (value % 12)) if value % 2 else 10 ** (value % 12))
    return tree


TREE_OPS = ("replace", "delete", "add", "scale")
