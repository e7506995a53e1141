"""The one module that chooses and imports a TFLite runtime.

Order (docs/DESIGN.md, "Two installs, one tool"): ``ai_edge_litert.interpreter`` (LiteRT, maintained),
``tflite_runtime.interpreter`` (older boards, Python <= 3.11), then
``tensorflow.lite`` (workstation). ``EDGEKIT_RUNTIME`` can pin one of them by
name (``ai-edge-litert``, ``tflite-runtime``, ``tensorflow``) — useful to compare
runtimes on the same machine. Nothing else in edgekit imports a runtime.

Every model is parsed by :mod:`edgekit.tflite.model` before the native
interpreter sees it, so a damaged file becomes a clean error instead of a crash.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

from edgekit.errors import BackendError, InputError, MissingDependency
from edgekit.tflite.model import IF_BRANCHES, TFLiteModel, load_model, parse_model


@dataclass(frozen=True)
class RuntimeInfo:
    """Which TFLite runtime runs models here (ai-edge-litert, tflite-runtime or TensorFlow) and its version."""

    name: str  # the pip package: ai-edge-litert | tflite-runtime | tensorflow
    version: str
    module: str  # the module the Interpreter comes from

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "module": self.module}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuntimeInfo:
        return cls(str(d["name"]), str(d["version"]), str(d["module"]))

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


# name -> (interpreter module, package module holding __version__)
RUNTIMES: dict[str, tuple[str, str]] = {
    "ai-edge-litert": ("ai_edge_litert.interpreter", "ai_edge_litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite_runtime"),
    "tensorflow": ("tensorflow.lite", "tensorflow"),
}

INSTALL_HINT = "pip install ai-edge-litert  (or, on older boards with Python <= 3.11: pip install tflite-runtime)"


class OpResolver(str, Enum):
    """Which kernels the interpreter uses."""

    DEFAULT = "default"  # builtin kernels + the default delegate (XNNPACK)
    NO_DELEGATE = "no-delegate"  # builtin kernels only (XNNPACK off)
    REFERENCE = "reference"  # reference kernels


_cache: tuple[ModuleType, RuntimeInfo] | None = None


def _find_runtime() -> tuple[ModuleType, RuntimeInfo]:
    global _cache
    if _cache is not None:
        return _cache
    wanted = os.environ.get("EDGEKIT_RUNTIME", "").strip()
    if wanted and wanted not in RUNTIMES:
        raise InputError(
            f"EDGEKIT_RUNTIME={wanted!r} is not a runtime edgekit knows.",
            hint=f"Use one of: {', '.join(RUNTIMES)} (or unset it).",
        )
    order = [wanted] if wanted else list(RUNTIMES)
    errors = []
    for name in order:
        module_name, package = RUNTIMES[name]
        try:
            module = importlib.import_module(module_name)
            version = str(getattr(importlib.import_module(package), "__version__", "unknown"))
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
            continue
        _cache = (module, RuntimeInfo(name=name, version=version, module=module_name))
        return _cache
    raise MissingDependency(
        "No TFLite runtime is installed (tried " + "; ".join(errors) + ").",
        hint=INSTALL_HINT,
    )


def runtime_info() -> RuntimeInfo:
    """Which runtime edgekit will use, and its version."""
    return _find_runtime()[1]


def _resolver_value(module: ModuleType, resolver: OpResolver) -> Any:
    enum = getattr(module, "OpResolverType", None)
    if enum is None:
        return None
    return {
        OpResolver.DEFAULT: enum.AUTO,
        OpResolver.NO_DELEGATE: enum.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        OpResolver.REFERENCE: enum.BUILTIN_REF,
    }[resolver]


def load_interpreter(
    model: str | Path | bytes | TFLiteModel,
    num_threads: int | None = None,
    use_xnnpack: bool = True,
    resolver: OpResolver | None = None,
    allocate: bool = True,
    preserve_all_tensors: bool = False,
) -> Any:
    """Validate a model with the reader, then build (and allocate) an Interpreter for it.

    ``model`` is a path, the file's bytes, or an already parsed model (its path is used).
    Returns the runtime's Interpreter; a failure in the runtime is a BackendError quoting it.
    """
    if isinstance(model, TFLiteModel):
        if model.path is None:
            raise ValueError("a TFLiteModel parsed from bytes must be passed as bytes")
        content = Path(model.path).read_bytes()
        name = str(model.path)
    elif isinstance(model, bytes | bytearray):
        content = bytes(model)
        name = "<model bytes>"
        parse_model(content, name)
    else:
        parsed = load_model(model)
        content = Path(model).read_bytes()
        name = str(parsed.path)
    if num_threads is not None and num_threads < 1:
        raise InputError(f"--threads must be at least 1, not {num_threads}.", hint="Use --threads 1 or more.")
    module, info = _find_runtime()
    kwargs: dict[str, Any] = {"model_content": content, "num_threads": num_threads}
    if resolver is None:
        resolver = OpResolver.DEFAULT if use_xnnpack else OpResolver.NO_DELEGATE
    resolver_value = _resolver_value(module, resolver)
    if resolver_value is not None:
        kwargs["experimental_op_resolver_type"] = resolver_value
    elif resolver is not OpResolver.DEFAULT:
        raise BackendError(
            f"{info} cannot switch off its default delegate.", hint="Install ai-edge-litert for this option."
        )
    if preserve_all_tensors:
        kwargs["experimental_preserve_all_tensors"] = True
    try:
        interpreter = module.Interpreter(**kwargs)
        if allocate:
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise BackendError(
            f"{info} could not load {name}: {' '.join(str(exc).split())[:400]}",
            hint="The model uses an op or feature this runtime lacks; try a newer runtime or another --quantize mode.",
        ) from exc
    return interpreter


def delegation_summary(interpreter: Any) -> tuple[int, int]:
    """(delegate partitions, original ops) after ``allocate_tensors()``.

    ``Interpreter._get_ops_details()`` lists the original nodes next to one DELEGATE node per
    partition; (0, 0) on runtimes without that private API.
    """
    try:
        details = interpreter._get_ops_details()
    except Exception:  # a private API; absent or different on some runtimes
        return 0, 0
    partitions = sum(1 for op in details if str(op.get("op_name", "")).upper() == "DELEGATE")
    return partitions, len(details) - partitions


def tensor_values(interpreter: Any, key: str = "index") -> dict[Any, Any]:
    """Every tensor's value after an invoke of ``interpreter`` (built with ``preserve_all_tensors``), by ``key`` of
    its details ("index" or "name"), copied. Resource and variant tensors (a variable's handle, dtype object) are
    left out: LiteRT's ``get_tensor`` reads their handles as data and crashes the process on some calls (a
    streaming keyword spotter's six VAR_HANDLEs, one run in two). Tensors the runtime holds no data for too."""
    import numpy as np

    values: dict[Any, Any] = {}
    for detail in interpreter.get_tensor_details():
        if np.dtype(detail["dtype"]).kind == "O":
            continue
        try:
            values[detail[key]] = np.array(interpreter.get_tensor(detail["index"]))
        except ValueError:  # optional, or freed
            continue
    return values


def if_branches_taken(model: bytes, feed: Sequence[Any]) -> dict[int, int]:
    """Which subgraph each IF of the main graph runs on ``feed`` (one array per input, in input order): op index
    -> subgraph index, from one invoke of a fresh interpreter that keeps every tensor (LiteRT's builtin kernels;
    the condition is the first element of the IF's first input, as LiteRT reads it). Empty for a graph without
    IFs. On a streaming model the first call's: a condition fed by variables may differ on later calls."""
    import numpy as np

    ifs = [op for op in parse_model(model).main.operators if op.name == "IF"]
    if not ifs:
        return {}
    interpreter = load_interpreter(model, num_threads=1, use_xnnpack=False, preserve_all_tensors=True)
    for detail, value in zip(interpreter.get_input_details(), feed, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    taken: dict[int, int] = {}
    for op in ifs:
        cond = bool(np.asarray(interpreter.get_tensor(op.inputs[0])).reshape(-1)[0])
        branch = op.options.get(IF_BRANCHES[0] if cond else IF_BRANCHES[1])
        if isinstance(branch, int):
            taken[op.index] = branch
    return taken


def invoke_on_zeros(interpreter: Any) -> tuple[str | None, bool]:
    """Invoke once with every input at zero (a quantized input at its zero point: the value 0.0).

    Returns (the runtime's refusal, or None; whether every float output is finite). All-zero is an input a
    model meets in the field (silence, a black frame): an int8 DIV whose divisor quantizes to zero there
    refuses it (``div.cc: data[i] != zero_point``) though the float model runs.
    """
    import numpy as np

    for detail in interpreter.get_input_details():
        shape = tuple(int(d) for d in detail["shape"])
        scale, zero_point = detail.get("quantization", (0.0, 0))
        interpreter.set_tensor(detail["index"], np.full(shape, zero_point if scale else 0, dtype=detail["dtype"]))
    try:
        interpreter.invoke()
    except (RuntimeError, ValueError) as exc:
        return " ".join(str(exc).split())[:300], False
    finite = all(
        bool(np.isfinite(interpreter.get_tensor(d["index"])).all())
        for d in interpreter.get_output_details() if np.issubdtype(d["dtype"], np.floating)
    )
    return None, finite


def zero_input_refusal(model: str | Path | bytes) -> str | None:
    """The runtime's error on an all-zero input to ``model`` (None: it runs); in this process."""
    refused, _ = invoke_on_zeros(load_interpreter(model))
    return refused


def runs_zero_input(model: str | Path | bytes) -> bool:
    """``model`` runs an all-zero input to finite outputs (a float model: then its quantized ones must too)."""
    refused, finite = invoke_on_zeros(load_interpreter(model))
    return refused is None and finite
