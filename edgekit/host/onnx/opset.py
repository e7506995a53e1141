"""Models older than onnxruntime: opset < 7 upgraded with ONNX's version converter, the upgrade checked.

onnxruntime only supports the default domain from opset 7 and has dropped opset-6 kernels (``AveragePool(1)``,
``BatchNormalization(6)``, ``Add`` with the old ``broadcast`` attribute…), so it cannot be the reference for
such a model, and the conversion stopped there: 30 of the 117 PyTorch-exported cases that ship in the ``onnx``
wheel (``onnx/backend/test/data/pytorch-*``, opset 6). ONNX's own version converter brings them to
:data:`TARGET_OPSET`; whether it kept what the model computes is checked before anything else, by running the
ORIGINAL graph in ONNX's reference implementation (which still implements the old versions) and the upgraded one in
onnxruntime on :data:`CHECK_SAMPLES` random inputs of the fixed shapes. Only an upgrade that agrees is used
(it then is "the model as given" for the conversion and its check, said in a note); one that does not, or a
converter that fails, ends the command with onnxruntime's refusal and what was tried. A model of such an opset that
onnxruntime still loads (its legacy kernels) is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.deps import require
from edgekit.errors import ModelFormatError
from edgekit.host.onnx.graph import one_line
from edgekit.host.onnx.reference import make_reference_runner
from edgekit.host.onnx.repair.shapes import random_feeds

MIN_ORT_OPSET = 7  # onnxruntime's oldest supported default-domain opset (its model.cc warns below it)
TARGET_OPSET = 13
CHECK_SAMPLES = 3
RTOL, ATOL = 1e-4, 1e-5


def default_opset(model: Any) -> int:
    """The model's default-domain (``ai.onnx``) opset version (0 when it imports none)."""
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def upgrade_old_opset(model: Any, shapes: Mapping[str, tuple[int, ...]], name: str, notes: list[str]) -> Any:
    """``model`` upgraded to :data:`TARGET_OPSET` when its opset is below onnxruntime's, onnxruntime cannot load it,
    and the upgrade computes what the original does (module docstring); ``model`` itself when it needs none.
    Raises ModelFormatError when onnxruntime cannot load it and the upgrade fails or differs."""
    old = default_opset(model)
    if not 0 < old < MIN_ORT_OPSET:
        return model
    onnx = require("onnx", "Reading ONNX models")
    from onnx.reference import ReferenceEvaluator

    try:
        make_reference_runner(model.SerializeToString(), name)
        return model  # its legacy kernels still run it
    except ModelFormatError as exc:
        refusal = f"onnxruntime cannot load {name} (opset {old}): {one_line(exc.__cause__ or exc, 200)}"
    hint = f"Re-export the model with a current opset (e.g. torch.onnx.export(..., opset_version=17)); opset {old} is from 2017."
    try:
        upgraded = onnx.version_converter.convert_version(model, TARGET_OPSET)
        session, _ = make_reference_runner(upgraded.SerializeToString(), name)
        original = ReferenceEvaluator(model)
        samples = [random_feeds(model, seed, shapes) for seed in range(CHECK_SAMPLES)]
        runs = [(original.run(None, feeds), session.run(None, feeds)) for feeds in samples if feeds is not None]
        if not runs:
            raise ValueError("no input of a fixed shape and numeric type to check the upgrade on")
    except Exception as exc:  # the converter, onnxruntime or the reference implementation could not
        cause = exc.__cause__ if isinstance(exc, ModelFormatError) and exc.__cause__ else exc
        raise ModelFormatError(f"{refusal}; upgrading it with ONNX's version converter failed too "
                               f"({type(cause).__name__}: {one_line(cause, 160)}).", hint=hint) from None
    worst = 0.0
    for want, got in runs:
        for w, g in zip(want, got, strict=True):
            w, g = np.asarray(w, np.float64), np.asarray(g, np.float64)
            if w.shape != g.shape or not np.allclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True):
                raise ModelFormatError(
                    f"{refusal}; ONNX's version converter made an opset {TARGET_OPSET} graph of it that computes "
                    "something else than the original does in ONNX's reference implementation, so edgekit did not "
                    "use it.", hint=hint)
            finite = np.isfinite(w) & np.isfinite(g)
            worst = max(worst, float(np.max(np.abs(g - w)[finite], initial=0.0)))
    notes.append(f"opset {old} is older than onnxruntime runs: upgraded to opset {TARGET_OPSET} with ONNX's version "
                 f"converter, which computes what the original does in ONNX's reference implementation (max abs "
                 f"difference {worst:.1e} on {CHECK_SAMPLES} random inputs); that graph is the reference from here on")
    return upgraded


__all__ = ["MIN_ORT_OPSET", "TARGET_OPSET", "default_opset", "upgrade_old_opset"]
