"""The result of `verify --explain`: which layers lose the most in int8, and what float fallback buys.

Device-safe data and rendering: the ranking itself is computed on the workstation by
:mod:`edgekit.host.verify.explain` (TensorFlow's QuantizationDebugger plus trial
conversions); every figure in it is MEASURED on the verify samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgekit.core.result import float_or_nan, strings
from edgekit.report import format_table


@dataclass(frozen=True)
class LayerLoss:
    op_name: str
    tensor_name: str
    rmse: float
    max_abs_error: float
    scale: float

    @property
    def rmse_per_scale(self) -> float:
        return self.rmse / self.scale if self.scale > 0 else math.inf

    @property
    def layer(self) -> str:
        """A readable layer name: the component after the model scope (model_1/conv_1/Relu -> conv_1)."""
        first = self.tensor_name.split(";")[0]
        parts = [p for p in first.split("/") if p]
        if len(parts) >= 3:
            return parts[1]
        return parts[-2] if len(parts) == 2 else first


@dataclass(frozen=True)
class Trial:
    """One trial quantization of the calibrated model, measured against the original's outputs."""

    kept_float: tuple[str, ...]  # tensor names denylisted (kept in float)
    sqnr_db: float  # mean over outputs
    rmse: float  # mean over outputs

    def to_dict(self) -> dict[str, Any]:
        return {"kept_float": list(self.kept_float), "sqnr_db": self.sqnr_db, "rmse": self.rmse}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Trial:
        return cls(strings(d["kept_float"]), float_or_nan(d["sqnr_db"]), float_or_nan(d["rmse"]))


@dataclass
class ExplainResult:
    layers: list[LayerLoss]  # worst first
    samples: int
    suggested: list[str] = field(default_factory=list)  # names for --keep-float
    command: str = ""
    message: str = ""
    baseline: Trial | None = None  # every layer int8, same quantizer as convert --keep-float
    single: dict[str, Trial] = field(default_factory=dict)  # tensor name -> that layer alone in float
    best: Trial | None = None  # the suggested set in float
    eval_samples: int = 0
    calibration: str = ""  # what the trial conversions were calibrated on

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "ranking": "rmse / scale (measured per layer by TF QuantizationDebugger)",
            "layers": [
                {"rank": i + 1, "layer": lay.layer, "op": lay.op_name, "tensor_name": lay.tensor_name,
                 "rmse": lay.rmse, "rmse_per_scale": lay.rmse_per_scale, "max_abs_error": lay.max_abs_error,
                 "scale": lay.scale,
                 "sqnr_db_if_float": self.single[lay.tensor_name].sqnr_db if lay.tensor_name in self.single else None,
                 "rmse_if_float": self.single[lay.tensor_name].rmse if lay.tensor_name in self.single else None}
                for i, lay in enumerate(self.layers)
            ],
            "trials_measured_on_samples": self.eval_samples,
            "calibration": self.calibration,
            "all_int8": self.baseline.to_dict() if self.baseline else None,
            "with_keep_float": self.best.to_dict() if self.best else None,
            "keep_float": list(self.suggested),
            "command": self.command,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExplainResult:
        layers = [LayerLoss(str(e["op"]), str(e["tensor_name"]), float_or_nan(e["rmse"]),
                            float_or_nan(e["max_abs_error"]), float_or_nan(e["scale"])) for e in d["layers"]]
        single = {str(e["tensor_name"]): Trial((str(e["tensor_name"]),), float_or_nan(e["sqnr_db_if_float"]),
                                               float_or_nan(e.get("rmse_if_float")))
                  for e in d["layers"] if e.get("sqnr_db_if_float") is not None}
        baseline, best = d.get("all_int8"), d.get("with_keep_float")
        return cls(
            layers=layers, samples=int(d["samples"]), suggested=list(strings(d.get("keep_float"))),
            command=str(d.get("command", "")), message=str(d.get("message", "")),
            baseline=Trial.from_dict(baseline) if baseline is not None else None, single=single,
            best=Trial.from_dict(best) if best is not None else None,
            eval_samples=int(d.get("trials_measured_on_samples", 0)), calibration=str(d.get("calibration", "")),
        )

    def render(self, top: int = 10) -> str:
        if not self.layers:
            return f"Explain: {self.message}"
        rows = []
        for i, lay in enumerate(self.layers[:top]):
            trial = self.single.get(lay.tensor_name)
            rows.append([
                i + 1, lay.layer, lay.op_name, f"{lay.rmse_per_scale:.3f}", f"{lay.rmse:.4g}",
                "-" if trial is None else f"{trial.sqnr_db:.1f}",
                lay.tensor_name if len(lay.tensor_name) <= 50 else lay.tensor_name[:47] + "...",
            ])
        lines = [
            f"Layers that lose the most in int8 (TF QuantizationDebugger: an int8 conversion of the original "
            f"calibrated on {self.calibration}, per-layer error measured on {self.samples} verify samples; "
            "rmse/scale ~0.3 is rounding, > 0.7 is suspicious; sqnr_if_float = output SQNR with that layer alone "
            f"kept in float, measured on {self.eval_samples} samples):",
            format_table(["rank", "layer", "op", "rmse/scale", "rmse", "sqnr_if_float_dB", "tensor"], rows,
                         align="rllrrrl"),
        ]
        if self.baseline is not None:
            lines.append(f"All layers int8 (same quantizer as convert --keep-float): output SQNR "
                         f"{self.baseline.sqnr_db:.1f} dB, rmse {self.baseline.rmse:.4g} (measured).")
        if self.best is not None and self.command:
            lines += [
                f"Keeping {', '.join(self.suggested)} in float: output SQNR {self.best.sqnr_db:.1f} dB, rmse "
                f"{self.best.rmse:.4g} (measured). Convert with:",
                f"  {self.command}",
            ]
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


__all__ = ["ExplainResult", "LayerLoss", "Trial"]
