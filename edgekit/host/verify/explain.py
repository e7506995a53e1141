"""`verify --explain` (workstation only): which layers lose the most when quantized to int8.

Uses TensorFlow's QuantizationDebugger on the original model's SavedModel with
the converter settings `edgekit convert` uses (calibrated on the data given
with ``--calibration``, else on the verify samples). Layers are ranked by
RMSE / scale (the quantization error in units of the layer's quantization
step: ~0.29 is the rounding floor, > 0.7 is suspicious). A high rank does not
prove that float fallback helps, so the worst layers are then each tried in
float with the very quantizer call `convert --keep-float` makes, measured on
the verify samples, and a greedy set of those that raise the output SQNR
becomes the concrete ``edgekit convert ... --keep-float`` line.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.progress import status
from edgekit.core.quant import IOType, QuantizeMode, QuantKind
from edgekit.data import Preprocessing, load_samples, permute_samples
from edgekit.errors import BackendError, EdgekitError
from edgekit.host.reference import run_reference
from edgekit.host.source_model import SourceModel
from edgekit.host.verify.workstation import PreparedData
from edgekit.tflite.model import load_model
from edgekit.verify.explain_report import ExplainResult, LayerLoss, Trial
from edgekit.verify.metrics import compute_metrics
from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors, canonical

MAX_DEBUG_SAMPLES = 50
MAX_EVAL_SAMPLES = 100
SUGGEST_LAYERS = 3
TRIAL_CANDIDATES = 8
MIN_GAIN_DB = 0.1  # a kept-float layer must raise the output SQNR by at least this much


def parse_layer_stats(text: str) -> list[LayerLoss]:
    """The CSV of QuantizationDebugger.layer_statistics_dump -> layers, worst (rmse/scale) first."""
    layers = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            mse = float(row["mean_squared_error"])
            layers.append(LayerLoss(
                op_name=row.get("op_name", ""),
                tensor_name=row.get("tensor_name", ""),
                rmse=math.sqrt(mse) if mse >= 0 else math.nan,
                max_abs_error=float(row["max_abs_error"]),
                scale=float(row["scale"]),
            ))
        except (KeyError, ValueError):
            continue
    return sorted(layers, key=lambda lay: -lay.rmse_per_scale if math.isfinite(lay.rmse_per_scale) else -1e30)


def suggest(layers: list[LayerLoss], count: int = TRIAL_CANDIDATES) -> list[LayerLoss]:
    """Candidates for float fallback: the worst few, skipping ones that only reshape (no loss of their own)."""
    worth = [lay for lay in layers if lay.rmse_per_scale >= 0.05 and math.isfinite(lay.rmse_per_scale)]
    return worth[:count]


def flag_name(layer: LayerLoss, layers: list[LayerLoss]) -> str:
    """The layer name for --keep-float when it picks out exactly this tensor, else the full tensor name.

    `convert --keep-float` takes a tensor name or a layer name matched as a path component.
    """
    short = layer.layer
    pattern = re.compile(rf"(^|[/;]){re.escape(short)}([/;:]|$)")
    hits = [lay.tensor_name for lay in layers if pattern.search(lay.tensor_name)]
    return short if hits == [layer.tensor_name] and short != layer.tensor_name else layer.tensor_name


def keep_float_command(original: Path, converted: Path, tensor_names: list[str], calibration: Path | None = None) -> str:
    out = converted.with_name(converted.stem + "_keepfloat.tflite")
    parts = ["edgekit", "convert", str(original), "-o", str(out)]
    for name in tensor_names:
        parts += ["--keep-float", name]
    if calibration is not None:
        parts += ["--calibration", str(calibration)]
    return " ".join(shlex.quote(p) for p in parts) + " [your other convert options]"


@dataclass(frozen=True)
class ExplainOptions:
    """How the converted model was made, so the trial conversions match `edgekit convert`."""

    calibration: Path | None = None  # the --calibration data given to convert (None: the verify samples)
    recipe: Preprocessing | None = None
    calibration_samples: int = 200  # convert's default


def _detect_per_tensor(model: Any) -> bool:
    """True when the converted model's conv weights are quantized per tensor (convert --per-tensor)."""
    convs = [op for op in model.main.operators if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(op.inputs) > 1]
    weights = [model.main.tensor(op.inputs[1]) for op in convs if op.inputs[1] >= 0]
    quantized = [w for w in weights if w.quant is not None]
    return bool(quantized) and not any(w.quant.per_channel for w in quantized)


def explain_quantization(
    source: SourceModel,
    original: Path,
    converted: Path,
    prepared: PreparedData,
    verify_passed: bool = True,
    options: ExplainOptions | None = None,
) -> ExplainResult:
    """Rank the layers with TF's QuantizationDebugger, then measure float fallback of the worst ones.

    Calibration uses the data convert used (``options.calibration``) when given,
    so the trial conversions are the ones `convert --keep-float` would make;
    layers are judged on the verify samples.
    """
    from edgekit.host.convert.quantize import make_converter, map_to_signature, signature_input_names
    from edgekit.host.convert.tf_util import tensorflow

    options = options or ExplainOptions()
    model = load_model(converted)
    if model.quant_kind not in (QuantKind.INT8, QuantKind.MIXED):
        return ExplainResult([], 0, message=f"--explain ranks int8 layers; {converted.name} is "
                             f"{model.quant_kind.value}, so there is nothing to rank.")
    if source.saved_model_dir is None:
        raise BackendError(f"The loader of {original} gave no SavedModel, which the QuantizationDebugger needs.",
                           hint="Export the model as a SavedModel directory and verify that.")
    tf = tensorflow("verify --explain")
    io_type = {"int8": IOType.INT8, "uint8": IOType.UINT8, "int16": IOType.INT16}.get(model.inputs[0].dtype,
                                                                                      IOType.FLOAT32)
    per_tensor = _detect_per_tensor(model)
    names = [s.name for s in source.inputs]
    count = min(MAX_DEBUG_SAMPLES, next(iter(prepared.arrays.values())).shape[0])
    samples = {s.name: permute_samples(prepared.arrays[s.name][:count], s.to_tflite_perm) for s in source.inputs}
    notes: list[str] = []
    if options.calibration is not None:
        calib_src, _ = load_samples(options.calibration, source.inputs, options.recipe, options.calibration_samples,
                                    progress_label=None)
    else:
        calib_src = prepared.arrays
        notes.append("calibrated on the verify samples (pass --calibration with the data given to convert to "
                     "reproduce its conversion exactly)")
    calib = {s.name: permute_samples(calib_src[s.name], s.to_tflite_perm) for s in source.inputs}
    calib_count = next(iter(calib.values())).shape[0]
    holder: dict[str, Any] = {}

    def ordered_names() -> list[str]:
        # The debug interpreter's inputs are named like "serving_default_<signature name>:0".
        debugger = holder.get("debugger")
        if debugger is None or len(names) == 1:
            return names
        details = debugger._quant_interpreter.get_input_details()
        chosen: list[str] = []
        for d in details:
            hits = [n for n in names if str(d["name"]).startswith(f"serving_default_{n}")]
            chosen.append(hits[0] if len(hits) == 1 else names[len(chosen)])
        return chosen

    def dataset() -> Iterator[list[np.ndarray]]:
        order = ordered_names()
        for i in range(count):
            yield [samples[n][i].astype(np.float32) for n in order]

    sig_names = map_to_signature(names, signature_input_names(source.saved_model_dir))

    def calibration() -> Iterator[dict[str, np.ndarray]]:
        for i in range(calib_count):
            yield {sig_names[n]: calib[n][i].astype(np.float32) for n in names}

    status(f"Explain: QuantizationDebugger (calibration {calib_count} samples, per-layer stats on {count}) ...")
    try:
        conv = make_converter(tf, source.saved_model_dir, QuantizeMode.INT8, io_type, per_tensor, calibration)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=dataset)
        holder["debugger"] = debugger
        debugger.run()
        buffer = io.StringIO()
        debugger.layer_statistics_dump(buffer)
        # the same calibration convert --keep-float makes (MLIR quantizer, calibrate only)
        trial_conv = make_converter(tf, source.saved_model_dir, QuantizeMode.INT8, io_type, per_tensor, calibration)
        trial_conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        trial_conv.experimental_mlir_quantizer = True
        trial_conv._experimental_calibrate_only = True
        calibrated = bytes(trial_conv.convert())
    except Exception as exc:  # the debugger raises assorted types; quote it
        raise BackendError(f"TF QuantizationDebugger failed: {' '.join(str(exc).split())[:400]}",
                           hint="Run again with --debug for the full log; verify without --explain still works.") from exc
    layers = parse_layer_stats(buffer.getvalue())
    result = ExplainResult(layers=layers, samples=count, calibration=(
        f"{calib_count} samples of {options.calibration}" if options.calibration else f"{calib_count} verify samples"))
    if not layers:
        result.message = "The debugger reported no quantized layers."
        return result
    trials = _Trials(source, prepared, calibrated, per_tensor, io_type is not IOType.FLOAT32, _tf_dtype(tf, io_type))
    result.eval_samples = trials.count
    status(f"Explain: measuring float fallback of the worst layers on {trials.count} samples ...")
    try:
        chosen, result.baseline, result.single, result.best = choose_keep_float(layers, trials.measure)
    except EdgekitError:
        raise
    except Exception as exc:  # the MLIR quantizer raises assorted types; quote it
        raise BackendError(f"Trial quantization failed: {' '.join(str(exc).split())[:400]}",
                           hint="Run again with --debug; verify without --explain still works.") from exc
    if chosen:
        result.suggested = [flag_name(lay, layers) for lay in chosen]
        result.command = keep_float_command(original, converted, result.suggested, options.calibration)
    else:
        result.best = None
        result.message = ("Keeping any single layer in float does not raise the output SQNR by "
                          f"{MIN_GAIN_DB} dB or more: the int8 error is spread out, not concentrated in a few layers.")
    if not verify_passed and result.baseline is not None:
        result.message += (f" An int8 conversion calibrated like this reaches {result.baseline.sqnr_db:.1f} dB: "
                           "if that is far better than the converted model's, its calibration (data or "
                           "preprocessing) is the likely cause; re-convert with --calibration on representative data.")
    result.message = " ".join([result.message, *notes]).strip()
    return result


def _tf_dtype(tf: Any, io_type: Any) -> Any:
    return {"int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16}.get(io_type.value, tf.float32)


Measure = Callable[[tuple[str, ...]], Trial]


def choose_keep_float(
    layers: list[LayerLoss], measure: Measure
) -> tuple[list[LayerLoss], Trial, dict[str, Trial], Trial]:
    """Greedy float fallback: try the worst layers one by one, keep those that measurably help (up to 3)."""
    baseline = measure(())
    candidates = suggest(layers)
    single = {lay.tensor_name: measure((lay.tensor_name,)) for lay in candidates}
    ordered = sorted(candidates, key=lambda lay: -single[lay.tensor_name].sqnr_db)
    chosen: list[LayerLoss] = []
    best = baseline
    for lay in ordered:
        if single[lay.tensor_name].sqnr_db < baseline.sqnr_db + MIN_GAIN_DB or len(chosen) == SUGGEST_LAYERS:
            break
        trial = single[lay.tensor_name] if not chosen else measure(tuple(c.tensor_name for c in chosen) + (lay.tensor_name,))
        if trial.sqnr_db >= best.sqnr_db + MIN_GAIN_DB:
            chosen.append(lay)
            best = trial
    return chosen, baseline, single, best


class _Trials:
    """Quantize the calibrated model with some nodes kept in float and measure it on the verify samples."""

    def __init__(self, source: SourceModel, prepared: PreparedData, calibrated: bytes, per_tensor: bool,
                 fully_quantize: bool, io_dtype: Any) -> None:
        self.source = source
        self.calibrated = calibrated
        self.per_tensor = per_tensor
        self.fully_quantize = fully_quantize
        self.io_dtype = io_dtype
        self.count = min(MAX_EVAL_SAMPLES, next(iter(prepared.arrays.values())).shape[0])
        arrays = {name: arr[: self.count] for name, arr in prepared.arrays.items()}
        self.feeds_src = {s.name: permute_samples(arrays[s.name], s.to_tflite_perm) for s in source.inputs}
        reference = run_reference(source, arrays)
        self.reference = {s.name: permute_samples(reference[s.name], s.to_tflite_perm) for s in source.outputs}

    def measure(self, keep_float: tuple[str, ...]) -> Trial:
        from tensorflow.lite.python import convert as tfl_convert

        # the call convert --keep-float makes (edgekit.host.convert.quantize._convert_keep_float)
        data = bytes(tfl_convert.mlir_quantize(self.calibrated, disable_per_channel=self.per_tensor,
                                               fully_quantize=self.fully_quantize, input_data_type=self.io_dtype,
                                               output_data_type=self.io_dtype, denylisted_nodes=list(keep_float)))
        runner = TFLiteRunner(data)
        ins = bind_tensors("input", [Wanted(s.name, _tflite_shape(s), s.dtype) for s in self.source.inputs],
                           runner.model)
        outs = bind_tensors("output", [Wanted(s.name, _tflite_shape(s), "float32") for s in self.source.outputs],
                            runner.model)
        feeds = [canonical(self.feeds_src[s.name], t, s.name) for s, t in zip(self.source.inputs, ins, strict=True)]
        results = runner.run(ins, feeds, outs)
        metrics = [
            compute_metrics(s.name, canonical(self.reference[s.name], t, s.name), r)
            for s, t, r in zip(self.source.outputs, outs, results, strict=True)
        ]
        return Trial(keep_float, float(np.mean([m.sqnr_db for m in metrics])), float(np.mean([m.rmse for m in metrics])))


def _tflite_shape(spec: Any) -> tuple[int, ...]:
    perm = spec.to_tflite_perm
    return tuple(spec.shape) if perm is None else tuple(spec.shape[p] for p in perm)
