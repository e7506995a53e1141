"""Configuration of one conversion: str Enums for the choices, frozen dataclasses that validate themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from edgekit.convert.prune import PruneConfig
from edgekit.data import Preprocessing
from edgekit.errors import UsageError


class QuantizeMode(str, Enum):
    INT8 = "int8"  # full integer, TFLITE_BUILTINS_INT8 only
    INT16X8 = "int16x8"  # int16 activations, int8 weights
    DYNAMIC = "dynamic"  # int8 weights, float activations (dynamic range)
    FLOAT16 = "float16"  # float16 weights
    NONE = "none"  # plain float32

    @property
    def needs_calibration(self) -> bool:
        return self in (QuantizeMode.INT8, QuantizeMode.INT16X8)


class IOType(str, Enum):
    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"
    FLOAT32 = "float32"


# mode -> (default io type, allowed io types)
IO_TYPES: dict[QuantizeMode, tuple[IOType, tuple[IOType, ...]]] = {
    QuantizeMode.INT8: (IOType.INT8, (IOType.INT8, IOType.UINT8, IOType.FLOAT32)),
    QuantizeMode.INT16X8: (IOType.INT16, (IOType.INT16, IOType.FLOAT32)),
    QuantizeMode.DYNAMIC: (IOType.FLOAT32, (IOType.FLOAT32,)),
    QuantizeMode.FLOAT16: (IOType.FLOAT32, (IOType.FLOAT32,)),
    QuantizeMode.NONE: (IOType.FLOAT32, (IOType.FLOAT32,)),
}

# The mode to suggest when a mode fails in the converter.
FALLBACK_MODE: dict[QuantizeMode, QuantizeMode | None] = {
    QuantizeMode.INT8: QuantizeMode.INT16X8,
    QuantizeMode.INT16X8: QuantizeMode.DYNAMIC,
    QuantizeMode.DYNAMIC: QuantizeMode.FLOAT16,
    QuantizeMode.FLOAT16: QuantizeMode.NONE,
    QuantizeMode.NONE: None,
}


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """'NAME=1,224,224,3' -> ('NAME', (1, 224, 224, 3)); a single unnamed '1,224,224,3' gets name ''."""
    name, sep, dims_text = text.rpartition("=")
    if not sep:
        name, dims_text = "", text
    try:
        dims = tuple(int(d) for d in dims_text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input-shape '{text}' is not NAME=dims with positive integers.",
                         hint="Write it like --input-shape input_1=1,224,224,3.")
    return name.strip(), dims


@dataclass(frozen=True)
class LoadOptions:
    """What a loader needs besides the path: how to make dynamic dimensions concrete.

    ``input_shapes`` maps an input name ('' = the only input) to a full shape;
    ``batch`` replaces a dynamic batch dimension (None = 1, said in the notes).
    """

    batch: int | None = None
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    keep_nchw: tuple[str, ...] = ()  # ONNX: inputs to keep channel-first in the .tflite (--keep-nchw)
    check: bool = True  # ONNX: compare onnxruntime with the float .tflite before quantizing (--no-check)
    reference_tflite: Path | None = None  # ONNX, verify: take the layout from this .tflite, skip onnx2tf
    check_data: Path | None = None  # ONNX: --calibration, also used for the conversion check (and read early)
    check_recipe: Preprocessing | None = None  # ONNX: the preprocessing for check_data images

    def __post_init__(self) -> None:
        if self.batch is not None and self.batch < 1:
            raise UsageError(f"--batch must be at least 1, got {self.batch}.", hint="Pass e.g. --batch 1.")
        names = [n for n, _ in self.input_shapes]
        if len(set(names)) != len(names):
            raise UsageError(f"--input-shape names an input twice: {names}.", hint="Give each input once.")

    def shape_for(self, name: str, n_inputs: int) -> tuple[int, ...] | None:
        shapes = dict(self.input_shapes)
        if name in shapes:
            return shapes[name]
        if "" in shapes and n_inputs == 1:
            return shapes[""]
        return None


@dataclass(frozen=True)
class ConvertConfig:
    """Everything `edgekit convert` was asked to do.

    ``prune``: the pipeline calls :func:`edgekit.convert.prune.prune_source`
    (and its ``finish_conversion``) only when it is set.
    """

    model: Path
    output: Path
    quantize: QuantizeMode = QuantizeMode.INT8
    io_type: IOType | None = None  # None = the mode's default
    per_tensor: bool = False
    calibration: Path | None = None
    calibration_samples: int = 200
    preprocessing: Preprocessing = field(default_factory=Preprocessing.from_options)
    load: LoadOptions = field(default_factory=LoadOptions)
    keep_float: tuple[str, ...] = ()
    bundle: Path | None = None
    golden_samples: int = 16
    force: bool = False
    seed: int = 0
    debug: bool = False
    prune: PruneConfig | None = None  # --prune (edgekit.convert.prune); None = no pruning

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantize", _choice(QuantizeMode, self.quantize, "--quantize"))
        if self.io_type is not None:
            object.__setattr__(self, "io_type", _choice(IOType, self.io_type, "--io-type"))
        _, allowed = IO_TYPES[self.quantize]
        if self.io_type is not None and self.io_type not in allowed:
            raise UsageError(
                f"--io-type {self.io_type.value} does not go with --quantize {self.quantize.value}.",
                hint=f"With --quantize {self.quantize.value} use --io-type {' or '.join(t.value for t in allowed)}.",
            )
        if self.calibration_samples < 1:
            raise UsageError(f"--calibration-samples must be at least 1, got {self.calibration_samples}.",
                             hint="Pass e.g. --calibration-samples 200.")
        if self.golden_samples < 1:
            raise UsageError(f"--golden-samples must be at least 1, got {self.golden_samples}.",
                             hint="Pass e.g. --golden-samples 16.")
        if self.keep_float and self.quantize is not QuantizeMode.INT8:
            raise UsageError(f"--keep-float needs --quantize int8, not {self.quantize.value}.",
                             hint="Drop --keep-float, or use --quantize int8.")
        if self.per_tensor and self.quantize in (QuantizeMode.FLOAT16, QuantizeMode.NONE):
            raise UsageError(f"--per-tensor has no effect with --quantize {self.quantize.value}.",
                             hint="Use --per-tensor with int8, int16x8 or dynamic.")
        if self.bundle is not None and Path(self.bundle).resolve() == Path(self.output).resolve():
            raise UsageError("--bundle must be a folder, not the output file.", hint="Pass e.g. --bundle out_bundle/.")

    @property
    def resolved_io_type(self) -> IOType:
        return self.io_type if self.io_type is not None else IO_TYPES[self.quantize][0]


def _choice(enum: type[Enum], value: Any, flag: str) -> Any:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)  # type: ignore[var-annotated]
        raise UsageError(f"{flag} '{value}' is not known.", hint=f"Use one of: {valid}.") from None
