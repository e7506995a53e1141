"""The ai-edge-quantizer engine: a float .tflite + a :class:`~edgekit.core.recipe.QuantRecipe` -> quantized bytes.

Device-safe (ai-edge-quantizer is TensorFlow-free; it comes with ``pip install 'edgekit[quantize]'``).
The recipe's mode row (``MODE_SPECS[mode].aeq``) gives the quantizer's op config; per-op entries
(matched on the op's output tensor name, exactly) give int16 activations or keep an op in float;
float I/O keeps the model's inputs/outputs float with QUANTIZE/DEQUANTIZE at the edges. Activation
ranges come from edgekit's own statistics (:mod:`edgekit.requant.stats`), so min-max, percentile
and MSE clipping all go through the same quantizer call.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from typing import Any

import numpy as np

from edgekit.core.quant import IOType
from edgekit.core.recipe import QuantRecipe
from edgekit.deps import require
from edgekit.errors import BackendError, UsageError
from edgekit.requant.stats import ActivationStats


def _weight_config(recipe: QuantRecipe) -> dict[str, Any]:
    s = recipe.mode.spec.aeq
    return {"num_bits": s.weight_bits, "symmetric": True,
            "granularity": "TENSORWISE" if recipe.per_tensor else "CHANNELWISE", "dtype": s.weight_dtype}


def _activation_config(bits: int) -> dict[str, Any]:
    return {"num_bits": bits, "symmetric": bits == 16, "granularity": "TENSORWISE", "dtype": "INT"}


def _exact(name: str) -> str:
    """A regex for one op: ai-edge-quantizer matches an op's "scope", its output names joined by ';' plus ';'."""
    return "^" + re.escape(name) + ";"


def aeq_recipe(recipe: QuantRecipe) -> list[dict[str, Any]]:
    """The ai-edge-quantizer recipe (a list of regex/op entries; later entries win) for ``recipe``."""
    s = recipe.mode.spec.aeq
    if s.algorithm == "no_quantize":
        return []
    op_config: dict[str, Any] = {"weight_tensor_config": _weight_config(recipe), "compute_precision": s.compute,
                                 "explicit_dequantize": s.explicit_dequantize, "skip_checks": False,
                                 "min_weight_elements": 1024 if s.dynamic else 0}
    if s.activation_bits is not None:
        op_config["activation_tensor_config"] = _activation_config(s.activation_bits)
    entries: list[dict[str, Any]] = [{"regex": ".*", "operation": "*", "algorithm_key": s.algorithm,
                                      "op_config": op_config}]
    if s.activation_bits is not None:
        for name in recipe.int16_ops:
            entries.append({"regex": _exact(name), "operation": "*", "algorithm_key": s.algorithm,
                            "op_config": {**op_config, "activation_tensor_config": _activation_config(16)}})
        if recipe.resolved_io_type is IOType.FLOAT32:
            entries += [{"regex": ".*", "operation": op, "algorithm_key": "no_quantize"} for op in ("INPUT", "OUTPUT")]
    for name in recipe.float_ops:
        entries.append({"regex": _exact(name), "operation": "*", "algorithm_key": "no_quantize"})
    return entries


def qsvs_from_stats(stats: ActivationStats, recipe: QuantRecipe, ranks: dict[str, int]) -> dict[str, Any]:
    """ai-edge-quantizer's calibration result ({tensor: {"min", "max"}}) from edgekit's statistics."""
    ranges = stats.ranges(recipe.calibration_method, recipe.percentile)
    out: dict[str, Any] = {}
    for name, (lo, hi) in ranges.items():
        shape = (1,) * max(1, ranks.get(name, 1))
        out[name] = {"min": np.full(shape, lo, np.float32), "max": np.full(shape, hi, np.float32)}
    return out


def check_io_type(recipe: QuantRecipe) -> None:
    io_type = recipe.resolved_io_type
    s = recipe.mode.spec.aeq
    if io_type is IOType.UINT8:
        raise UsageError("ai-edge-quantizer makes int8 (or float) inputs and outputs, not uint8.",
                         hint="Use --io-type int8 or float32 (or a Keras/SavedModel/ONNX source with the TF converter).")
    if s.activation_bits == 16 and io_type is IOType.INT8:
        raise UsageError("int16x8 has int16 or float32 inputs and outputs.", hint="Use --io-type int16 or float32.")


def quantize_float_model(float_data: bytes, recipe: QuantRecipe, stats: ActivationStats | None,
                         debug: bool = False, notes: list[str] | None = None) -> bytes:
    """Quantize ``float_data`` (a prepared float32 .tflite) as ``recipe`` says; ``stats`` for calibrated modes.
    An int8 result then goes through :func:`edgekit.requant.int8graph.finish_int8`, whose notes are appended to
    ``notes``."""
    entries = aeq_recipe(recipe)
    if not entries:
        return float_data
    check_io_type(recipe)
    require("ai_edge_quantizer", "Quantizing with ai-edge-quantizer")
    from ai_edge_quantizer import quantizer

    from edgekit.requant.floatmodel import split_read_outputs
    from edgekit.tflite.model import parse_model

    copies: dict[str, str] = {}
    if recipe.mode.spec.aeq.activation_bits is not None and recipe.resolved_io_type is IOType.FLOAT32:
        float_data, copies = split_read_outputs(float_data)  # see split_read_outputs: the quantizer's float outputs
        if copies:  # a copy keeps the precision of the op whose output it copies
            recipe = recipe.with_changes(
                float_ops=recipe.float_ops + tuple(c for c, o in copies.items() if o in recipe.float_ops),
                int16_ops=recipe.int16_ops + tuple(c for c, o in copies.items() if o in recipe.int16_ops))
            entries = aeq_recipe(recipe)
    calibration = None
    if recipe.mode.spec.aeq.calibrates:
        if stats is None:
            raise ValueError(f"{recipe.mode.value} needs activation statistics")
        model = parse_model(float_data, "float model")
        ranks = {t.name: len(t.shape) for t in model.main.tensors}
        calibration = qsvs_from_stats(stats, recipe, ranks)
        for copy, output in copies.items():  # a RESHAPE copy has its output's range
            if output in calibration:
                calibration[copy] = calibration[output]
    sink = io.StringIO()
    absl_level = logging.getLogger("absl").level
    try:
        if not debug:
            logging.getLogger("absl").setLevel(logging.ERROR)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quantizer.Quantizer(bytearray(float_data))
            q.load_quantization_recipe(entries)
            result = q.quantize(calibration, enable_progress_report=False, enable_progress_bar=False)
    except (UsageError, BackendError):
        raise
    except Exception as exc:  # the quantizer raises assorted types; quote it
        raise BackendError(f"ai-edge-quantizer failed for {recipe.describe()}: {' '.join(str(exc).split())[:400]}",
                           hint="Try another --quantize mode, or run with --debug for the details.") from exc
    finally:
        logging.getLogger("absl").setLevel(absl_level)
    data = bytes(result.quantized_model)
    if recipe.mode.spec.aeq.activation_bits == 8:
        from edgekit.requant.int8graph import finish_int8

        data, done = finish_int8(data, frozenset(recipe.float_ops))
        if notes is not None:
            notes.extend(done)
    return data
