"""A quantization recipe: everything needed to make one quantized .tflite again from its source model.

Device-safe, neutral. ``edgekit tune`` writes the recipe of the model it chose next to
it (``OUT.recipe.json``); ``edgekit convert MODEL --recipe FILE`` replays it: the same engine, mode,
calibration statistics, per-op precision and calibration samples give the same model. The file is
JSON with a format tag and a version, read back strictly (an unknown key or value is a
:class:`~edgekit.errors.UsageError` naming it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from edgekit.core.quant import MODE_SPECS, CalibrationMethod, IOType, QuantizeMode, parse_choice
from edgekit.errors import InputError, UsageError

RECIPE_FORMAT = "edgekit-quant-recipe"
RECIPE_VERSION = 1
RECIPE_SUFFIX = ".recipe.json"


class Engine(str, Enum):
    """Which quantizer makes the model."""

    TF = "tf"  # the TFLite converter on the SavedModel (Keras, SavedModel and ONNX sources)
    AEQ = "aeq"  # ai-edge-quantizer on a float .tflite (any source; no TensorFlow needed)


@dataclass(frozen=True)
class CalibrationRef:
    """Where the calibration samples came from, so a replay reads the same ones in the same order."""

    source: str | None  # an absolute path (image folder, .npy/.npz), None = synthetic
    count: int = 200  # --calibration-samples
    seed: int = 0
    preprocessing: dict[str, Any] | None = None  # edgekit.data.Preprocessing.to_dict() for image folders

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "count": self.count, "seed": self.seed, "preprocessing": self.preprocessing}


@dataclass(frozen=True)
class LoadRef:
    """The shape options the source model was loaded with (convert's --input-shape/--batch/--keep-nchw)."""

    input_shapes: tuple[str, ...] = ()
    batch: int | None = None
    keep_nchw: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"input_shapes": list(self.input_shapes), "batch": self.batch, "keep_nchw": list(self.keep_nchw)}


@dataclass(frozen=True)
class QuantRecipe:
    """One way to quantize a model.

    ``int16_ops`` and ``float_ops`` name ops by their output tensor in the FLOAT .tflite (the names
    both engines keep): those ops get int16 activations, or stay in float. ``calibration_method``
    and ``percentile`` set the activation ranges from the calibration statistics; ``equalize`` is
    cross-layer equalization and ``bias_correction`` the empirical correction of the mean error
    that weight quantization adds to conv/dense outputs, both applied to the float model first.
    """

    mode: QuantizeMode = QuantizeMode.INT8
    engine: Engine = Engine.AEQ
    io_type: IOType | None = None  # None: the mode's default
    per_tensor: bool = False
    calibration_method: CalibrationMethod = CalibrationMethod.MINMAX
    percentile: float = 99.99
    int16_ops: tuple[str, ...] = ()
    float_ops: tuple[str, ...] = ()
    equalize: bool = False
    bias_correction: bool = False
    calibration: CalibrationRef = field(default_factory=lambda: CalibrationRef(None))
    load: LoadRef = field(default_factory=LoadRef)
    source: dict[str, Any] = field(default_factory=dict)  # file, sha256, format of the model it was made for
    label: str = ""  # the candidate's name in `edgekit tune`
    measured: dict[str, Any] = field(default_factory=dict)  # what tune measured (informational, not replayed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", parse_choice(QuantizeMode, self.mode, "recipe mode"))
        object.__setattr__(self, "engine", parse_choice(Engine, self.engine, "recipe engine"))
        object.__setattr__(self, "calibration_method",
                           parse_choice(CalibrationMethod, self.calibration_method, "recipe calibration_method"))
        if self.io_type is not None:
            object.__setattr__(self, "io_type", parse_choice(IOType, self.io_type, "recipe io_type"))
            if self.io_type not in self.mode.spec.allowed_io:
                raise UsageError(f"recipe io_type {self.io_type.value} does not go with mode {self.mode.value}.",
                                 hint="Use one of: " + ", ".join(t.value for t in self.mode.spec.allowed_io) + ".")
        object.__setattr__(self, "int16_ops", tuple(self.int16_ops))
        object.__setattr__(self, "float_ops", tuple(self.float_ops))
        if not (math.isfinite(self.percentile) and 50.0 < self.percentile <= 100.0):
            raise UsageError(f"recipe percentile {self.percentile} is outside (50, 100].", hint="e.g. 99.99.")
        spec = self.mode.spec
        if self.per_tensor and not spec.weight_quantized:
            raise UsageError(f"per_tensor has no effect with mode {self.mode.value}.", hint="Drop it.")
        if (self.int16_ops or self.calibration_method is not CalibrationMethod.MINMAX) and not spec.needs_calibration:
            raise UsageError(f"int16_ops and calibration_method need a calibrated mode, not {self.mode.value}.",
                             hint="Use mode int8 or int16x8.")
        if self.engine is Engine.TF and (self.int16_ops or self.equalize or self.bias_correction
                                         or self.calibration_method is not CalibrationMethod.MINMAX):
            raise UsageError("int16_ops, equalize, bias_correction and calibration methods other than minmax need "
                             "engine aeq.", hint="Set \"engine\": \"aeq\" or drop those settings.")

    @property
    def resolved_io_type(self) -> IOType:
        return self.io_type if self.io_type is not None else MODE_SPECS[self.mode].default_io

    @property
    def integer_only(self) -> bool:
        """Every op computes in integer (no float island)."""
        return self.mode.spec.integer_only and not self.float_ops

    def describe(self) -> str:
        """One short line for tables: 'aeq int8 mse per-channel +int16 x3 +float x1 cle'."""
        parts = [self.engine.value, self.mode.value]
        if self.mode.needs_calibration:
            method = self.calibration_method.value
            if self.calibration_method is CalibrationMethod.PERCENTILE:
                method += f" {self.percentile:g}"
            parts.append(method)
        if self.mode.spec.weight_quantized:
            parts.append("per-tensor" if self.per_tensor else "per-channel")
        if self.int16_ops:
            parts.append(f"+int16 x{len(self.int16_ops)}")
        if self.float_ops:
            parts.append(f"+float x{len(self.float_ops)}")
        if self.equalize:
            parts.append("cle")
        if self.bias_correction:
            parts.append("bias-corr")
        return " ".join(parts)

    def with_changes(self, **changes: Any) -> QuantRecipe:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RECIPE_FORMAT,
            "version": RECIPE_VERSION,
            "label": self.label,
            "engine": self.engine.value,
            "mode": self.mode.value,
            "io_type": self.resolved_io_type.value,
            "per_tensor": self.per_tensor,
            "calibration_method": self.calibration_method.value,
            "percentile": self.percentile,
            "int16_ops": list(self.int16_ops),
            "float_ops": list(self.float_ops),
            "equalize": self.equalize,
            "bias_correction": self.bias_correction,
            "calibration": self.calibration.to_dict(),
            "load": self.load.to_dict(),
            "source": dict(self.source),
            "measured": dict(self.measured),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "recipe") -> QuantRecipe:
        if not isinstance(data, dict) or data.get("format") != RECIPE_FORMAT:
            raise UsageError(f"{where} is not an edgekit quantization recipe (no \"format\": \"{RECIPE_FORMAT}\").",
                             hint="Pass the .recipe.json file `edgekit tune` wrote next to its model.")
        if data.get("version") != RECIPE_VERSION:
            raise UsageError(f"{where} has recipe version {data.get('version')!r}; this edgekit reads version "
                             f"{RECIPE_VERSION}.", hint="Re-run `edgekit tune` with this edgekit.")
        known = {"format", "version", "label", "engine", "mode", "io_type", "per_tensor", "calibration_method",
                 "percentile", "int16_ops", "float_ops", "equalize", "bias_correction", "calibration", "load",
                 "source", "measured"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{where} has unknown key(s) {', '.join(unknown)}.",
                             hint="Known keys: " + ", ".join(sorted(known)) + ".")
        try:
            calib = dict(data.get("calibration") or {})
            load = dict(data.get("load") or {})
            return cls(
                mode=data.get("mode", "int8"), engine=data.get("engine", "aeq"), io_type=data.get("io_type"),
                per_tensor=bool(data.get("per_tensor", False)),
                calibration_method=data.get("calibration_method", "minmax"),
                percentile=float(data.get("percentile", 99.99)),
                int16_ops=tuple(str(n) for n in data.get("int16_ops") or ()),
                float_ops=tuple(str(n) for n in data.get("float_ops") or ()),
                equalize=bool(data.get("equalize", False)), bias_correction=bool(data.get("bias_correction", False)),
                calibration=CalibrationRef(source=calib.get("source"), count=int(calib.get("count", 200)),
                                           seed=int(calib.get("seed", 0)), preprocessing=calib.get("preprocessing")),
                load=LoadRef(input_shapes=tuple(load.get("input_shapes") or ()), batch=load.get("batch"),
                             keep_nchw=tuple(load.get("keep_nchw") or ())),
                source=dict(data.get("source") or {}), label=str(data.get("label", "")),
                measured=dict(data.get("measured") or {}),
            )
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{where} has a malformed value: {exc}.",
                             hint="Pass the .recipe.json file `edgekit tune` wrote, unedited.") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def read_recipe(path: Path) -> QuantRecipe:
    """Read and check a recipe file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Recipe {path} does not exist.", hint="Pass the .recipe.json file `edgekit tune` wrote.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"Recipe {path} is not readable JSON: {exc}.",
                         hint="Pass the .recipe.json file `edgekit tune` wrote, unedited.") from None
    return QuantRecipe.from_dict(data, where=f"Recipe {path}")


def recipe_path_for(model_path: Path) -> Path:
    """Where tune writes the recipe of ``model_path``: next to it, ``NAME.recipe.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + RECIPE_SUFFIX)
