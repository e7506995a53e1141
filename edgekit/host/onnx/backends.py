"""The registry of ONNX conversion backends: name -> what it needs, which repairs it gets, how it runs.

Both backends run in the worker process (:mod:`edgekit.host.onnx.worker`) and
make the same thing: a float SavedModel whose signature keys are the ONNX
names, and its float ``.tflite`` for the check. What differs is the graph they
are given: every backend gets the common repairs (:data:`COMMON_REPAIRS`),
then its own (:attr:`Backend.repairs`), with the ops it lowers badly replaced
by their ONNX function bodies (:attr:`Backend.expand_ops`).

Measured choice (docs/ONNX.md, "Choosing the second backend"): onnx2tf 2.x
needs Python >= 3.12 (not available from this machine's registries) and pins
ai-edge-litert 2.1.2; onnx2torch + litert-torch needs torch + torchvision and
has no LSTM/GRU converter. edgekit's own lowering needs only what the convert
extra already installs, so it is the second backend.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from edgekit.core.onnx_backend import AUTO_ORDER, OnnxBackend
from edgekit.errors import MissingDependency, UsageError

COMMON_REPAIRS = ("initializers", "names", "fused", "double", "half", "fold", "loop", "shapes", "fold", "allowzero", "split", "maxpool", "chanscale", "qlstm", "integer")  # fold first: it removes If nodes
# whose condition the data fixed, which onnxruntime 1.32 can crash on (Silero VAD v6 with `sr` fixed)

# ops onnx2tf 1.28.8 converts wrongly or not at all, measured with scripts/bench_onnx_matrix.py, that the ONNX
# standard defines as a function of simpler ops: replaced by that body before onnx2tf sees them.
ONNX2TF_EXPAND = frozenset({
    "LayerNormalization", "GroupNormalization", "MeanVarianceNormalization", "Attention", "RMSNormalization",
    "RotaryEmbedding", "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss", "CenterCropPad", "AffineGrid",
    "Celu", "Shrink",
})


@cache
def function_ops() -> frozenset[str]:
    """Every standard op the installed onnx defines (for some opset) as a function of other ops."""
    import onnx

    schemas: list[Any] = list(onnx.defs.get_all_schemas_with_history())
    return frozenset(s.name for s in schemas
                     if s.domain in ("", "ai.onnx") and (s.has_function or s.has_context_dependent_function))


@cache
def onnx2tf_ops() -> frozenset[str]:
    """The op types onnx2tf has a converter module for (read from its package, not imported)."""
    spec = importlib.util.find_spec("onnx2tf")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    ops_dir = Path(next(iter(spec.submodule_search_locations))) / "ops"
    return frozenset(p.stem for p in ops_dir.glob("*.py") if not p.stem.startswith("_"))


def _onnx2tf_expand() -> frozenset[str]:
    return ONNX2TF_EXPAND | (function_ops() - onnx2tf_ops())


def _lower_expand() -> frozenset[str]:
    from edgekit.host.onnx.lower.graph import load_ops

    return function_ops() - frozenset(load_ops())


@dataclass(frozen=True)
class Backend:
    name: OnnxBackend
    label: str  # how messages name it
    requires: str  # the module that must be importable
    expand_ops: Callable[[], frozenset[str]]
    # backend-specific passes after the common ones, one tuple per try: a later try runs only when the earlier
    # failed and its passes change the graph (onnx2tf: its native ops first, then with the rewrites)
    variants: tuple[tuple[str, ...], ...]


REGISTRY: dict[OnnxBackend, Backend] = {
    OnnxBackend.ONNX2TF: Backend(OnnxBackend.ONNX2TF, "onnx2tf", "onnx2tf", _onnx2tf_expand,
                                 (("shapes",), ("expand", "fold", "resize", "shapes"))),
    OnnxBackend.LOWER: Backend(OnnxBackend.LOWER, "edgekit's lowering", "tensorflow", _lower_expand,
                               (("expand", "fold", "shapes"),)),
}


def backend_order(choice: OnnxBackend | str) -> list[Backend]:
    """The backends to try, in order, for ``--backend choice`` (``auto``: every installed one)."""
    try:
        wanted = OnnxBackend(choice)
    except ValueError as exc:
        valid = ", ".join(b.value for b in OnnxBackend)
        raise UsageError(f"Unknown ONNX backend '{choice}'.", hint=f"Use one of: {valid}.") from exc
    names = list(AUTO_ORDER) if wanted is OnnxBackend.AUTO else [wanted]
    order = [REGISTRY[n] for n in names]
    installed = [b for b in order if importlib.util.find_spec(b.requires) is not None]
    if not installed:
        missing = order[0]
        raise MissingDependency(f"The ONNX backend '{missing.name.value}' needs {missing.requires}, which is not "
                                "installed.", hint="pip install 'edgekit[convert]'")
    return installed
