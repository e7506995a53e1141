"""The quantize/convert stage: a SavedModel + calibration samples -> .tflite bytes (workstation only).

One function per concern: converter settings per mode, the representative
dataset, selective float fallback (``--keep-float``) through the MLIR
quantizer with ``denylisted_nodes`` (what TF's QuantizationDebugger does), and
turning converter failures into one readable BackendError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.progress import progress
from edgekit.core.quant import IOType, QuantizeMode
from edgekit.errors import BackendError, UsageError
from edgekit.host.convert.tf_util import tensorflow

SIGNATURE_KEY = "serving_default"


def signature_input_names(saved_model_dir: Path, key: str = SIGNATURE_KEY) -> list[str]:
    """The argument names of a SavedModel signature, read from saved_model.pb (no graph loading)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    for meta in proto.meta_graphs:
        if key in meta.signature_def:
            return list(meta.signature_def[key].inputs.keys())
    return []


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def map_to_signature(spec_names: Sequence[str], sig_names: Sequence[str],
                     notes: list[str] | None = None) -> dict[str, str]:
    """spec (source) input name -> signature argument name: exact, then normalised, then by order (noted)."""
    if not sig_names or set(spec_names) == set(sig_names):
        return {n: n for n in spec_names}
    by_norm = {_norm(s): s for s in sig_names}
    mapping = {n: by_norm[_norm(n)] for n in spec_names if _norm(n) in by_norm}
    if len(mapping) == len(spec_names) and len(set(mapping.values())) == len(sig_names):
        return mapping
    if len(spec_names) == len(sig_names):
        if notes is not None:
            notes.append(f"inputs {list(spec_names)} matched to the converter's {list(sig_names)} by order")
        return dict(zip(spec_names, sig_names, strict=True))
    raise BackendError(f"The SavedModel for conversion has inputs {list(sig_names)}, the source model "
                       f"{list(spec_names)}.", hint="This is a loader bug; run again with --debug and report it.")


def representative_dataset(samples: dict[str, np.ndarray],
                           label: str | None) -> Callable[[], Iterator[dict[str, np.ndarray]]]:
    """The converter's representative dataset: one sample (keyed by signature name) per call; progress when labelled."""
    count = int(next(iter(samples.values())).shape[0])

    def gen() -> Iterator[dict[str, np.ndarray]]:
        indices: Iterable[int] = progress(range(count), label) if label else range(count)
        for i in indices:
            yield {name: arr[i] for name, arr in samples.items()}

    return gen


def _tf_dtype(tf: Any, io_type: IOType) -> Any:
    return {IOType.INT8: tf.int8, IOType.UINT8: tf.uint8, IOType.INT16: tf.int16, IOType.FLOAT32: tf.float32}[io_type]


def make_converter(
    tf: Any,
    saved_model_dir: Path,
    mode: QuantizeMode,
    io_type: IOType,
    per_tensor: bool,
    dataset: Callable[[], Iterator[dict[str, np.ndarray]]] | None,
) -> Any:
    """A TFLiteConverter set up for ``mode`` from its row in :data:`edgekit.core.quant.MODE_SPECS`
    (the same settings a plain script would use)."""
    settings = mode.spec.converter
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[SIGNATURE_KEY])
    if settings.optimize:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings.supported_types:
        conv.target_spec.supported_types = [getattr(tf, name) for name in settings.supported_types]
    if per_tensor and mode.spec.weight_quantized:
        conv._experimental_disable_per_channel = True
    if settings.representative_dataset:
        if dataset is None:
            raise ValueError(f"{mode.value} needs a representative dataset")
        conv.representative_dataset = dataset
    if settings.ops_set is not None:
        conv.target_spec.supported_ops = [getattr(tf.lite.OpsSet, settings.ops_set)]
    if settings.set_io_types:
        conv.inference_input_type = _tf_dtype(tf, io_type)
        conv.inference_output_type = _tf_dtype(tf, io_type)
    return conv


def convert(
    saved_model_dir: Path,
    mode: QuantizeMode,
    io_type: IOType,
    per_tensor: bool = False,
    samples: dict[str, np.ndarray] | None = None,
    keep_float: Sequence[str] = (),
    debug: bool = False,
) -> tuple[bytes, list[str]]:
    """Convert; returns (tflite bytes, names of the nodes kept in float). Samples are keyed by signature name."""
    tf = tensorflow("Converting to TFLite", debug)
    dataset = representative_dataset(samples, "Calibrating") if samples and mode.needs_calibration else None
    conv = make_converter(tf, saved_model_dir, mode, io_type, per_tensor, dataset)
    try:
        if keep_float:
            return _convert_keep_float(tf, conv, io_type, per_tensor, keep_float)
        return bytes(conv.convert()), []
    except (UsageError, BackendError):
        raise
    except Exception as exc:
        raise converter_error(exc, mode) from None


def _convert_keep_float(
    tf: Any, conv: Any, io_type: IOType, per_tensor: bool, keep_float: Sequence[str]
) -> tuple[bytes, list[str]]:
    """Calibrate only, then quantize with the chosen nodes denylisted (they stay float)."""
    from tensorflow.lite.python import convert as tfl_convert

    from edgekit.tflite.model import parse_model

    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.experimental_mlir_quantizer = True
    conv._experimental_calibrate_only = True
    calibrated = bytes(conv.convert())
    model = parse_model(calibrated, "calibrated model")
    produced = [model.main.tensor(o).name for op in model.main.operators for o in op.outputs]
    nodes = match_nodes(keep_float, produced)
    dtype = _tf_dtype(tf, io_type)
    data = tfl_convert.mlir_quantize(
        calibrated,
        disable_per_channel=per_tensor,
        fully_quantize=io_type is not IOType.FLOAT32,
        input_data_type=dtype,
        output_data_type=dtype,
        denylisted_nodes=nodes,
    )
    return bytes(data), nodes


def match_nodes(wanted: Sequence[str], tensor_names: Sequence[str]) -> list[str]:
    """--keep-float names -> tensor names: exact tensor names, or a layer name as a path component."""
    chosen: list[str] = []
    for name in wanted:
        if name in tensor_names:
            hits = [name]
        else:
            pattern = re.compile(rf"(^|[/;]){re.escape(name)}([/;:]|$)")
            hits = [t for t in tensor_names if pattern.search(t)]
            if not hits:  # Keras 3 export re-traces the model: layer 'conv' becomes 'conv_1' in tensor names
                pattern = re.compile(rf"(^|[/;]){re.escape(name)}_\d+([/;:]|$)")
                hits = [t for t in tensor_names if pattern.search(t)]
        if not hits:
            sample = ", ".join(sorted(set(tensor_names))[:8])
            raise UsageError(f"--keep-float '{name}' matches no layer of the model.",
                             hint=f"Use a Keras layer name or a tensor name from `edgekit verify --explain`, e.g. {sample}.")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


_OP_PATTERNS = (
    re.compile(r"'(tfl?\.[A-Za-z0-9_]+)'"),
    re.compile(r"op:? '?([A-Z][A-Z0-9_]{2,})'?"),
    re.compile(r"\b(tfl?\.[A-Za-z0-9_]+)\b"),
)


def _strip_loc(line: str) -> str:
    """Drop MLIR's ``loc(...)`` prefix (nested parentheses) and the ``<unknown>:0: error:`` noise."""
    line = re.sub(r"^.*?error:\s*", "", line)
    if line.startswith("loc("):
        depth = 0
        for i, ch in enumerate(line):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and ch == ")":
                line = line[i + 1:]
                break
    return line.lstrip(":) ").strip()


def converter_error(exc: BaseException, mode: QuantizeMode) -> BackendError:
    """One readable paragraph from a converter failure, naming the op(s) and the nearest mode to try."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln] or lines
    reasons: list[str] = []
    for ln in errors:
        reason = _strip_loc(ln)
        if reason and reason not in reasons and not reason.startswith("failed while converting"):
            reasons.append(reason)
    ops: list[str] = []
    for pattern in _OP_PATTERNS:
        for match in pattern.findall(text):
            if match not in ops and match not in ("tf.function", "tfl.quantize", "tfl.dequantize"):
                ops.append(match)
        if ops:
            break
    paragraph = "; ".join(reasons[:2])[:500] or type(exc).__name__
    op_text = f" (op{'s' if len(ops) > 1 else ''}: {', '.join(ops[:4])})" if ops else ""
    fallback = mode.spec.fallback
    if "flex op" in text or "ERROR_NEEDS_FLEX_OPS" in text:
        hint = ("TFLite has no builtin kernel for this op in any --quantize mode (it would need TF Select, which edge "
                "runtimes lack); replace that layer in the model.")
    elif mode is QuantizeMode.INT8:
        hint = ("Try --quantize int16x8 or --quantize dynamic, or keep the failing layer in float with "
                "--keep-float LAYER.")
    elif fallback is not None:
        hint = f"Try --quantize {fallback.value}."
    else:
        hint = "The model uses an op TFLite has no kernel for; replace that layer in the model."
    return BackendError(f"The TFLite converter failed for --quantize {mode.value}{op_text}: {paragraph}", hint=hint)


def float_ops_error(float_ops: dict[str, int]) -> BackendError:
    """int8 asked for integer only, but the converter left ops in float.

    Not only ops without an int8 kernel: basic-pitch's ONNX model has CONV_2D and RESHAPE left in float
    among its NEG and MIRROR_PAD ops, so the message does not say why op by op."""
    ops = ", ".join(f"{name} x{n}" for name, n in float_ops.items())
    return BackendError(
        f"--quantize int8 asks for an integer-only model, but the TF converter left {sum(float_ops.values())} "
        f"op(s) in float (ops it could not quantize: without an int8 kernel, or fed by such ops): {ops}.",
        hint="For a CPU target, `edgekit tune MODEL --device ID` accepts a model with these ops in float when it "
        "passes verify (not integer-only, which Coral and microcontrollers need), as does --keep-float LAYER; or "
        "try --quantize dynamic (int8 weights, float math).",
    )
