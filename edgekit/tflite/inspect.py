"""`edgekit inspect`: what a .tflite file holds, as a typed report (device-safe, no TensorFlow).

Everything here is read from the file's bytes by edgekit's own flatbuffer reader
(:mod:`edgekit.tflite.model`): nothing is measured or estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from edgekit.core.result import check_kind, optional_int, strings
from edgekit.report import format_table, human_bytes
from edgekit.tflite.model import Tensor, TFLiteModel, load_model


@dataclass(frozen=True)
class TensorSummary:
    """A model input or output: shape, dtype and quantization (per-channel: one scale per channel)."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]  # -1 for a dynamic dimension
    dtype: str
    scale: float | tuple[float, ...] | None = None
    zero_point: int | tuple[int, ...] | None = None
    quantized_dimension: int | None = None  # per-channel only

    @classmethod
    def of(cls, t: Tensor) -> TensorSummary:
        q = t.quant
        if q is None:
            return cls(t.index, t.name, tuple(t.shape), tuple(t.shape_signature), t.dtype)
        if q.per_channel:
            return cls(t.index, t.name, tuple(t.shape), tuple(t.shape_signature), t.dtype,
                       tuple(float(s) for s in q.scales), tuple(int(z) for z in q.zero_points), q.quantized_dimension)
        return cls(t.index, t.name, tuple(t.shape), tuple(t.shape_signature), t.dtype, q.scale, q.zero_point)

    @property
    def per_channel(self) -> bool:
        return isinstance(self.scale, tuple)

    def quantization_text(self) -> str:
        if self.scale is None:
            return "-"
        if isinstance(self.scale, tuple):
            return f"per-channel ({len(self.scale)} scales, axis {self.quantized_dimension})"
        return f"scale={self.scale:.6g} zero_point={self.zero_point}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "shape": list(self.shape),
            "shape_signature": list(self.shape_signature),
            "dtype": self.dtype,
            "scale": list(self.scale) if isinstance(self.scale, tuple) else self.scale,
            "zero_point": list(self.zero_point) if isinstance(self.zero_point, tuple) else self.zero_point,
            "quantized_dimension": self.quantized_dimension,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSummary:
        scale, zp = d.get("scale"), d.get("zero_point")
        return cls(
            index=int(d["index"]), name=str(d["name"]), shape=tuple(int(x) for x in d["shape"]),
            shape_signature=tuple(int(x) for x in d["shape_signature"]), dtype=str(d["dtype"]),
            scale=tuple(float(s) for s in scale) if isinstance(scale, list) else None if scale is None else float(scale),
            zero_point=tuple(int(z) for z in zp) if isinstance(zp, list) else optional_int(zp),
            quantized_dimension=optional_int(d.get("quantized_dimension")),
        )


@dataclass(frozen=True)
class OpTensor:
    """One input or output of an operator; ``constant`` is given for inputs only."""

    index: int
    shape: tuple[int, ...]
    dtype: str
    constant: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "shape": list(self.shape), "dtype": self.dtype}
        if self.constant is not None:
            out["constant"] = self.constant
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpTensor:
        constant = d.get("constant")
        return cls(int(d["index"]), tuple(int(x) for x in d["shape"]), str(d["dtype"]),
                   None if constant is None else bool(constant))


@dataclass(frozen=True)
class OpSummary:
    index: int
    op: str
    version: int
    inputs: tuple[OpTensor, ...]
    outputs: tuple[OpTensor, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # the op's builtin options, as stored

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "version": self.version,
                "inputs": [t.to_dict() for t in self.inputs], "outputs": [t.to_dict() for t in self.outputs],
                "options": dict(self.options)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpSummary:
        return cls(int(d["index"]), str(d["op"]), int(d["version"]),
                   tuple(OpTensor.from_dict(t) for t in d["inputs"]),
                   tuple(OpTensor.from_dict(t) for t in d["outputs"]), dict(d.get("options") or {}))


@dataclass(frozen=True)
class SignatureSummary:
    key: str
    inputs: Mapping[str, int]  # signature name -> tensor index
    outputs: Mapping[str, int]
    subgraph: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "inputs": dict(self.inputs), "outputs": dict(self.outputs), "subgraph": self.subgraph}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SignatureSummary:
        return cls(str(d["key"]), {str(k): int(v) for k, v in d["inputs"].items()},
                   {str(k): int(v) for k, v in d["outputs"].items()}, int(d["subgraph"]))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


@dataclass(frozen=True)
class InspectReport:
    """`edgekit inspect MODEL.tflite`: read from the file (no figure here is measured or estimated)."""

    kind: ClassVar[str] = "inspect"

    model: str
    size_bytes: int
    weight_bytes: int
    parameter_count: int
    sha256: str
    quantization: str
    schema_version: int
    subgraphs: int
    tensors: int  # in the main subgraph
    inputs: tuple[TensorSummary, ...]
    outputs: tuple[TensorSummary, ...]
    signatures: tuple[SignatureSummary, ...]
    op_histogram: Mapping[str, int]  # most frequent first
    custom_ops: tuple[str, ...]
    dynamic_inputs: tuple[str, ...]
    ops: tuple[OpSummary, ...]  # the main subgraph's, in graph order
    computes_shapes: bool = False  # SHAPE ops / computed RESHAPE targets: stored shapes after them may be placeholders

    @classmethod
    def of(cls, model: TFLiteModel, path: str | Path) -> InspectReport:
        sg = model.main
        ops = []
        for op in sg.operators:
            ins = [sg.tensors[i] for i in op.inputs if i >= 0]
            outs = [sg.tensors[i] for i in op.outputs]
            ops.append(OpSummary(
                op.index, op.name, op.version,
                tuple(OpTensor(t.index, tuple(t.shape), t.dtype, t.is_constant) for t in ins),
                tuple(OpTensor(t.index, tuple(t.shape), t.dtype) for t in outs),
                op.options,
            ))
        return cls(
            model=str(path), size_bytes=model.size_bytes, weight_bytes=model.weight_bytes,
            parameter_count=model.parameter_count(), sha256=model.sha256, quantization=model.quant_kind.value,
            schema_version=model.schema_version, subgraphs=len(model.subgraphs), tensors=len(sg.tensors),
            inputs=tuple(TensorSummary.of(t) for t in model.inputs),
            outputs=tuple(TensorSummary.of(t) for t in model.outputs),
            signatures=tuple(SignatureSummary(s.key, s.inputs, s.outputs, s.subgraph_index) for s in model.signatures),
            op_histogram=model.op_histogram(), custom_ops=tuple(model.custom_ops),
            dynamic_inputs=tuple(t.name for t in model.inputs if t.is_dynamic), ops=tuple(ops),
            computes_shapes=model.computes_shapes,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "size_bytes": self.size_bytes,
            "weight_bytes": self.weight_bytes,
            "parameter_count": self.parameter_count,
            "sha256": self.sha256,
            "quantization": self.quantization,
            "schema_version": self.schema_version,
            "subgraphs": self.subgraphs,
            "tensors": self.tensors,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "signatures": [s.to_dict() for s in self.signatures],
            "op_histogram": dict(self.op_histogram),
            "custom_ops": list(self.custom_ops),
            "dynamic_inputs": list(self.dynamic_inputs),
            "ops": [op.to_dict() for op in self.ops],
            "computes_shapes": self.computes_shapes,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InspectReport:
        check_kind(d, cls.kind)
        return cls(
            model=str(d["model"]), size_bytes=int(d["size_bytes"]), weight_bytes=int(d["weight_bytes"]),
            parameter_count=int(d["parameter_count"]), sha256=str(d["sha256"]), quantization=str(d["quantization"]),
            schema_version=int(d["schema_version"]), subgraphs=int(d["subgraphs"]), tensors=int(d["tensors"]),
            inputs=tuple(TensorSummary.from_dict(t) for t in d["inputs"]),
            outputs=tuple(TensorSummary.from_dict(t) for t in d["outputs"]),
            signatures=tuple(SignatureSummary.from_dict(s) for s in d["signatures"]),
            op_histogram={str(k): int(v) for k, v in d["op_histogram"].items()},
            custom_ops=strings(d["custom_ops"]), dynamic_inputs=strings(d["dynamic_inputs"]),
            ops=tuple(OpSummary.from_dict(op) for op in d["ops"]),
            computes_shapes=bool(d.get("computes_shapes", False)),
        )

    def render(self, show_ops: bool = True) -> str:
        lines = [
            f"Model:         {self.model}",
            f"File size:     {human_bytes(self.size_bytes)} ({self.size_bytes:,} bytes)",
            f"Weights:       {human_bytes(self.weight_bytes)} ({self.parameter_count:,} parameters)",
            f"Quantization:  {self.quantization}",
            f"Ops:           {len(self.ops)} in the main subgraph ({self.subgraphs} subgraph(s)), "
            f"{self.tensors} tensors",
        ]
        if self.custom_ops:
            lines.append(f"Custom ops:    {', '.join(self.custom_ops)}")
        if self.dynamic_inputs:
            lines.append(
                f"Dynamic dims:  {', '.join(self.dynamic_inputs)} (-1 below; the runtime uses the stored "
                "default shape unless resized)"
            )
        if self.computes_shapes:
            lines.append("Shapes:        computed at run time (SHAPE ops or computed RESHAPE targets): the shapes stored "
                         "after them may be placeholders; `edgekit profile` estimates on the shapes LiteRT computes")
        for title, tensors in (("Inputs", self.inputs), ("Outputs", self.outputs)):
            lines += ["", f"{title}:"]
            rows = [[e.name, _shape_text(e.shape_signature), e.dtype, e.quantization_text()] for e in tensors]
            lines.append(format_table(["name", "shape", "dtype", "quantization"], rows, align="llll"))
        lines += ["", "Op histogram:"]
        lines.append(format_table(["op", "count"], list(self.op_histogram.items()), align="lr"))
        if show_ops:
            lines += ["", "Operators:"]
            op_rows: list[list[Any]] = []
            for op in self.ops:
                op_rows.append([
                    op.index,
                    op.op,
                    ", ".join(_shape_text(t.shape) + ("(c)" if t.constant else "") for t in op.inputs),
                    ", ".join(_shape_text(t.shape) for t in op.outputs),
                    "/".join(sorted({t.dtype for t in op.inputs} | {t.dtype for t in op.outputs})),
                ])
            lines.append(format_table(["#", "op", "inputs ((c) = constant)", "outputs", "dtypes"], op_rows,
                                      align="rllll"))
        return "\n".join(lines)


def inspect_model(path: str | Path) -> InspectReport:
    """Read a .tflite file and describe it (errors: :class:`~edgekit.errors.InputError` and subclasses)."""
    return InspectReport.of(load_model(path), path)


__all__ = ["InspectReport", "OpSummary", "OpTensor", "SignatureSummary", "TensorSummary", "inspect_model"]
