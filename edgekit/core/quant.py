"""Quantization vocabulary: the modes, one table that says everything about each, and the one quantize/dequantize.

Device-safe (numpy only). To add a quantization mode, add a :class:`QuantizeMode`
member and its :class:`ModeSpec` row in :data:`MODE_SPECS`; the CLI choices,
the converter settings, the I/O types, the fallback suggestion, the verify
thresholds and the size estimate all read the row (``docs/DESIGN.md`` lists the
files a new mode touches).

Two names for two questions:

* :class:`QuantizeMode` is what a user ASKS for (``convert --quantize``);
* :class:`QuantKind` is what a ``.tflite`` file IS, detected from its tensors by
  :func:`edgekit.tflite.model.detect_quant_kind` (it has ``mixed``, which no
  mode asks for). Each mode's row names the kind its files are detected as.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from edgekit.errors import UsageError

if TYPE_CHECKING:
    import numpy as np


class QuantizeMode(str, Enum):
    """What `edgekit convert --quantize` asks for."""

    INT8 = "int8"
    INT16X8 = "int16x8"
    DYNAMIC = "dynamic"
    FLOAT16 = "float16"
    NONE = "none"

    @property
    def spec(self) -> ModeSpec:
        return MODE_SPECS[self]

    @property
    def needs_calibration(self) -> bool:
        return self.spec.converter.representative_dataset


class IOType(str, Enum):
    """The dtype of a converted model's input and output tensors (`--io-type`)."""

    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"
    FLOAT32 = "float32"


class QuantKind(str, Enum):
    """How a ``.tflite`` file is quantized, detected from its tensors."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"  # float16 weights, float32 compute
    DYNAMIC_RANGE = "dynamic_range"  # int8 weights, float activations
    INT8 = "int8"  # full integer: every activation int8/uint8
    INT16X8 = "int16x8"  # int16 activations, int8 weights
    MIXED = "mixed"  # some activations integer, some float


class WeightStorage(str, Enum):
    """How the converter stores conv/dense weights in a mode (what `edgekit size` estimates)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    INT8 = "int8"  # symmetric per-channel int8 (per-tensor with --per-tensor), int32 biases
    INT8_LARGE_ONLY = "int8_large_only"  # int8 for tensors >= DYNAMIC_RANGE_MIN_ELEMENTS, float32 otherwise


# The TF converter stores dynamic-range int8 weights only for tensors this large; smaller ones stay float32.
DYNAMIC_RANGE_MIN_ELEMENTS = 1024


@dataclass(frozen=True)
class ConverterSettings:
    """TFLiteConverter settings as plain data (the host's converter turns them into TF objects).

    ``ops_set`` names a ``tf.lite.OpsSet`` member (None: the converter's default);
    ``supported_types`` names ``tf`` dtypes for ``target_spec.supported_types``.
    """

    optimize: bool = False  # optimizations = [tf.lite.Optimize.DEFAULT]
    supported_types: tuple[str, ...] = ()
    ops_set: str | None = None
    representative_dataset: bool = False  # calibrates on the user's data
    set_io_types: bool = False  # inference_input_type / inference_output_type = --io-type


@dataclass(frozen=True)
class AeqSettings:
    """ai-edge-quantizer settings of a mode as plain data (:mod:`edgekit.requant.aeq` turns them into its recipe).

    ``algorithm`` is an ai-edge-quantizer algorithm key; ``activation_bits`` None keeps activations in float
    (weight-only or dynamic-range modes); ``weight_dtype`` "FLOAT" with 16 bits is float16 casting;
    ``compute`` "INTEGER" runs integer kernels, "FLOAT" dequantizes the weights (``explicit_dequantize``).
    """

    algorithm: str = "min_max_uniform_quantize"
    activation_bits: int | None = None
    weight_bits: int | None = 8
    weight_dtype: str = "INT"
    compute: str = "INTEGER"
    explicit_dequantize: bool = False
    dynamic: bool = False  # ai-edge-quantizer's dynamic config (activations quantized on the fly by the kernel)

    @property
    def calibrates(self) -> bool:
        return self.activation_bits is not None


class CalibrationMethod(str, Enum):
    """How activation ranges are set from the calibration statistics (`edgekit tune` searches these)."""

    MINMAX = "minmax"  # the smallest range that holds every value seen (what both engines do by default)
    PERCENTILE = "percentile"  # clip at a percentile of |values| (outliers saturate, the rest gets resolution)
    MSE = "mse"  # the clipping range that minimises the expected squared quantization error (histogram search)


@dataclass(frozen=True)
class DefaultLimits:
    """Verify's default pass/fail limits for files of a mode (users override each on the command line).

    Loose enough that a good conversion of a small CNN passes on real data, tight
    enough that a broken one (wrong weights, constant calibration inputs, float16
    overflow) fails. ``max_abs`` has no default: it depends on the output's scale.
    """

    min_cosine: float
    min_sqnr_db: float
    min_top1: float  # class outputs: top-1 agreement (per position for sequences and class maps)
    min_iou: float  # dense [0, 1] maps: IoU of the thresholded maps
    # outputs bounded by their last op (a sigmoid): max abs error within this fraction of the range passes
    # cosine/SQNR (None: not applied)
    max_abs_of_range: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"min_cosine": self.min_cosine, "min_sqnr_db": self.min_sqnr_db, "min_top1": self.min_top1,
                "min_iou": self.min_iou, "max_abs_of_range": self.max_abs_of_range}


@dataclass(frozen=True)
class ModeSpec:
    """Everything edgekit knows about one quantization mode."""

    mode: QuantizeMode
    help: str  # one line for --help and docs
    converter: ConverterSettings
    default_io: IOType
    allowed_io: tuple[IOType, ...]
    fallback: QuantizeMode | None  # the mode to suggest when this one fails in the converter
    kind: QuantKind  # what detect_quant_kind reports for a file made in this mode
    limits: DefaultLimits
    weights: WeightStorage
    weights_note: str  # how weights are stored, for people (`edgekit size`)
    bias_dtype: str = "float32"  # how conv/dense biases are stored
    integer_only: bool = False  # every op must compute in integer (float ops left by the converter are an error)
    weight_quantized: bool = False  # --per-tensor (per-tensor vs per-channel weights) applies
    aeq: AeqSettings = AeqSettings()  # the same mode with ai-edge-quantizer (float .tflite sources, `tune`)

    @property
    def needs_calibration(self) -> bool:
        return self.converter.representative_dataset


_INT8_LIMITS = DefaultLimits(min_cosine=0.98, min_sqnr_db=15.0, min_top1=0.85, min_iou=0.85)

MODE_SPECS: dict[QuantizeMode, ModeSpec] = {
    QuantizeMode.INT8: ModeSpec(
        mode=QuantizeMode.INT8,
        help="full integer: int8 weights and activations (TFLITE_BUILTINS_INT8 only)",
        converter=ConverterSettings(optimize=True, ops_set="TFLITE_BUILTINS_INT8", representative_dataset=True,
                                    set_io_types=True),
        default_io=IOType.INT8, allowed_io=(IOType.INT8, IOType.UINT8, IOType.FLOAT32),
        fallback=QuantizeMode.INT16X8, kind=QuantKind.INT8, limits=_INT8_LIMITS,
        weights=WeightStorage.INT8, bias_dtype="int32",
        weights_note="int8 weights, int32 biases (batch norm folded into convs in the real file)",
        integer_only=True, weight_quantized=True,
        aeq=AeqSettings(activation_bits=8),
    ),
    QuantizeMode.INT16X8: ModeSpec(
        mode=QuantizeMode.INT16X8,
        help="int16 activations, int8 weights",
        converter=ConverterSettings(optimize=True,
                                    ops_set="EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
                                    representative_dataset=True, set_io_types=True),
        default_io=IOType.INT16, allowed_io=(IOType.INT16, IOType.FLOAT32),
        fallback=QuantizeMode.DYNAMIC, kind=QuantKind.INT16X8,
        limits=DefaultLimits(min_cosine=0.995, min_sqnr_db=25.0, min_top1=0.93, min_iou=0.93),
        weights=WeightStorage.INT8, bias_dtype="int64", weights_note="int8 weights, int64 biases",
        weight_quantized=True,
        aeq=AeqSettings(activation_bits=16),
    ),
    QuantizeMode.DYNAMIC: ModeSpec(
        mode=QuantizeMode.DYNAMIC,
        help="dynamic range: int8 weights, float activations",
        converter=ConverterSettings(optimize=True),
        default_io=IOType.FLOAT32, allowed_io=(IOType.FLOAT32,),
        fallback=QuantizeMode.FLOAT16, kind=QuantKind.DYNAMIC_RANGE,
        limits=DefaultLimits(min_cosine=0.99, min_sqnr_db=20.0, min_top1=0.90, min_iou=0.90),
        weights=WeightStorage.INT8_LARGE_ONLY,
        weights_note=f"int8 for weight tensors >= {DYNAMIC_RANGE_MIN_ELEMENTS} elements, float32 otherwise",
        weight_quantized=True,
        aeq=AeqSettings(dynamic=True),
    ),
    QuantizeMode.FLOAT16: ModeSpec(
        mode=QuantizeMode.FLOAT16,
        help="float16 weights, float32 compute",
        converter=ConverterSettings(optimize=True, supported_types=("float16",)),
        default_io=IOType.FLOAT32, allowed_io=(IOType.FLOAT32,),
        fallback=QuantizeMode.NONE, kind=QuantKind.FLOAT16,
        limits=DefaultLimits(min_cosine=0.999, min_sqnr_db=35.0, min_top1=0.97, min_iou=0.97),
        weights=WeightStorage.FLOAT16, weights_note="float16",
        aeq=AeqSettings(algorithm="float_casting", weight_bits=16, weight_dtype="FLOAT", compute="FLOAT",
                        explicit_dequantize=True),
    ),
    QuantizeMode.NONE: ModeSpec(
        mode=QuantizeMode.NONE,
        help="plain float32",
        converter=ConverterSettings(),
        default_io=IOType.FLOAT32, allowed_io=(IOType.FLOAT32,),
        fallback=None, kind=QuantKind.FLOAT32,
        limits=DefaultLimits(min_cosine=0.9999, min_sqnr_db=50.0, min_top1=0.99, min_iou=0.99,
                             max_abs_of_range=1e-4),
        weights=WeightStorage.FLOAT32, weights_note="float32",
        aeq=AeqSettings(algorithm="no_quantize", weight_bits=None),
    ),
}

# Verify's defaults per DETECTED kind: each mode's limits, and int8's for a mixed int8/float file.
KIND_LIMITS: dict[QuantKind, DefaultLimits] = {
    **{spec.kind: spec.limits for spec in MODE_SPECS.values()},
    QuantKind.MIXED: _INT8_LIMITS,
}


def parse_choice(enum: type[Enum], value: Any, flag: str) -> Any:
    """``value`` as a member of the str Enum ``enum``; an unknown value lists the valid ones."""
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)  # type: ignore[var-annotated]
        raise UsageError(f"{flag} '{value}' is not known.", hint=f"Use one of: {valid}.") from None


# --------------------------------------------------------------------------- quantize / dequantize

INT_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1),
}


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round half away from zero, as TFLite's QUANTIZE kernel does (``std::round``); numpy rounds half to even.

    ``trunc(x + copysign(0.5, x))``: the same values as ``sign(x) * floor(|x| + 0.5)`` in three passes, not five.
    """
    import numpy as np
    out = np.copysign(0.5, values)
    out += values
    return np.trunc(out, out=out)


def quantize(values: np.ndarray, dtype: str | np.dtype[Any], scale: float | None, zero_point: int = 0) -> np.ndarray:
    """Float values -> ``dtype``: ``round(x / scale) + zero_point``, clipped to the type's range.

    The one quantization of a float array edgekit does (convert's check, verify, bench,
    tune all call it), so a value on a .5 boundary lands on the same integer everywhere.
    Float and bool targets are a plain cast; an integer target without a scale
    (``scale`` None or <= 0) takes the values as they are, clipped.
    """
    import numpy as np
    target = np.dtype(dtype)
    if np.issubdtype(target, np.floating) or target == np.bool_:
        return np.asarray(values).astype(target)
    x = np.asarray(values)
    if np.issubdtype(x.dtype, np.floating) and scale is not None and scale > 0:
        q = round_half_away(x.astype(np.float64) / float(scale)) + int(zero_point)
    else:
        q = x.astype(np.float64)
    lo, hi = INT_RANGES.get(target.name, (int(np.iinfo(target).min), int(np.iinfo(target).max)))
    return np.clip(q, lo, hi).astype(target)


def dequantize(values: np.ndarray, scale: float | None, zero_point: int = 0) -> np.ndarray:
    """Integer values -> float32 ``(q - zero_point) * scale``; floats pass through as float32.

    Integer values without a scale (``scale`` None or <= 0) are returned unchanged.
    """
    import numpy as np
    v = np.asarray(values)
    if np.issubdtype(v.dtype, np.integer) and scale is not None and scale > 0:
        return ((v.astype(np.float64) - int(zero_point)) * float(scale)).astype(np.float32)
    if np.issubdtype(v.dtype, np.floating):
        return v.astype(np.float32)
    return v
