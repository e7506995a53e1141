"""Configuration of one conversion: frozen dataclasses that validate themselves (value types only).

The choices (quantization mode, I/O type) are the str Enums of :mod:`edgekit.core.quant`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from edgekit.core.quant import IOType, QuantizeMode, parse_choice
from edgekit.core.recipe import Engine, QuantRecipe
from edgekit.data import Preprocessing
from edgekit.errors import UsageError
from edgekit.host.source_model import LoadOptions
from edgekit.sizing.magnitude import MIN_ELEMENTS_DEFAULT, PrunePolicy, PruneScope, parse_sparsity


class SparseEncoding(str, Enum):
    AUTO = "auto"  # encode only when smaller AND runs in LiteRT's default interpreter
    ON = "on"
    OFF = "off"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PruneConfig:
    """What --prune asked for. Validates itself (bad sparsity is a usage error, exit 2)."""

    sparsity: float
    scope: PruneScope = PruneScope.PER_LAYER
    skip: tuple[str, ...] = ()
    keep_ends: bool = False
    sparse_encoding: SparseEncoding = SparseEncoding.AUTO
    min_elements: int = MIN_ELEMENTS_DEFAULT

    def __post_init__(self) -> None:
        object.__setattr__(self, "sparsity", parse_sparsity(self.sparsity))
        try:
            object.__setattr__(self, "scope", PruneScope(self.scope))
            object.__setattr__(self, "sparse_encoding", SparseEncoding(self.sparse_encoding))
        except ValueError as exc:
            raise UsageError(f"bad pruning option: {exc}.",
                             hint="Use --prune-scope global|per-layer and --sparse-encoding auto|on|off.") from None
        object.__setattr__(self, "skip", tuple(self.skip))

    @property
    def policy(self) -> PrunePolicy:
        return PrunePolicy(self.sparsity, scope=self.scope, skip=self.skip, skip_first_last=self.keep_ends,
                           min_elements=self.min_elements)

    def to_dict(self) -> dict[str, Any]:
        return {"sparsity": self.sparsity, "scope": self.scope.value, "skip": list(self.skip),
                "keep_ends": self.keep_ends, "sparse_encoding": self.sparse_encoding.value,
                "min_elements": self.min_elements}


@dataclass(frozen=True)
class ConvertConfig:
    """Everything `edgekit convert` was asked to do.

    ``prune``: the pipeline prunes (:mod:`edgekit.host.convert.prune`) only when it is set.
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
    prune: PruneConfig | None = None  # --prune; None = no pruning
    recipe: QuantRecipe | None = None  # --recipe: replay a recipe `edgekit tune` wrote (mode, engine, per-op precision)
    data: Path | None = None  # --data: held-out inputs for the check and the activation-range comparison
    data_samples: int = 50
    map_threshold: float = 0.5  # the check's IoU threshold for dense [0,1] output maps (--map-threshold)

    def __post_init__(self) -> None:
        if self.recipe is not None:  # the recipe decides what to make; options that contradict it are refused
            r = self.recipe
            object.__setattr__(self, "quantize", r.mode)
            object.__setattr__(self, "io_type", r.resolved_io_type)
            object.__setattr__(self, "per_tensor", r.per_tensor)
            if r.engine is Engine.TF:
                object.__setattr__(self, "keep_float", tuple(r.float_ops))
            if self.prune is not None:
                raise UsageError("--prune does not go with --recipe.", hint="Prune first, then tune the pruned model.")
        object.__setattr__(self, "quantize", parse_choice(QuantizeMode, self.quantize, "--quantize"))
        if self.io_type is not None:
            object.__setattr__(self, "io_type", parse_choice(IOType, self.io_type, "--io-type"))
        spec = self.quantize.spec
        allowed = spec.allowed_io
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
        if self.data_samples < 1:
            raise UsageError(f"--data-samples must be at least 1, got {self.data_samples}.", hint="e.g. 50.")
        if self.keep_float and not spec.integer_only:
            raise UsageError(f"--keep-float needs --quantize int8, not {self.quantize.value}.",
                             hint="Drop --keep-float, or use --quantize int8.")
        if self.per_tensor and not spec.weight_quantized:
            raise UsageError(f"--per-tensor has no effect with --quantize {self.quantize.value}.",
                             hint="Use --per-tensor with int8, int16x8 or dynamic.")
        if self.bundle is not None and Path(self.bundle).resolve() == Path(self.output).resolve():
            raise UsageError("--bundle must be a folder, not the output file.", hint="Pass e.g. --bundle out_bundle/.")

    @property
    def debug(self) -> bool:
        return self.load.debug

    @property
    def engine(self) -> Engine:
        return self.recipe.engine if self.recipe is not None else Engine.TF

    @property
    def resolved_io_type(self) -> IOType:
        return self.io_type if self.io_type is not None else self.quantize.spec.default_io
