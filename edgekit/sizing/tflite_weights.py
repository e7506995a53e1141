"""Weight tensors of a .tflite: sparsity per tensor, and magnitude pruning of a copy of the file's bytes.

Device-safe: numpy and the edgekit reader only. A quantized tensor's "zero" is its zero point
(per channel along ``quantized_dimension``): that is the value that dequantizes to 0.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.sizing.buffers import buffer_ranges
from edgekit.sizing.magnitude import PrunePolicy, PruneTarget, achieved_sparsity, plan_pruning
from edgekit.tflite.model import Operator, Subgraph, Tensor, TFLiteModel, parse_model

# op -> index of its weight input (the tensor pruning acts on)
WEIGHT_INPUT: dict[str, int] = {
    "CONV_2D": 1,
    "DEPTHWISE_CONV_2D": 1,
    "FULLY_CONNECTED": 1,
    "TRANSPOSE_CONV": 1,
    "CONV_3D": 1,
    "BATCH_MATMUL": 1,
}
# op -> index of its bias input (reported as "bias", never pruned)
BIAS_INPUT: dict[str, int] = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3,
                              "CONV_3D": 2}
_UNPACK_OPS = {"DEQUANTIZE", "DENSIFY"}  # ops that turn a stored weight into the op's weight input
_PRUNABLE_DTYPES = {"float32", "float16", "int8", "uint8", "int16"}


def _broadcast_per_channel(values: np.ndarray, per_channel: np.ndarray, axis: int) -> np.ndarray:
    if per_channel.size <= 1 or values.ndim == 0:
        return per_channel.reshape(()) if per_channel.size else np.zeros(())
    shape = [1] * values.ndim
    shape[axis] = per_channel.size
    return per_channel.reshape(shape)


def zero_value(t: Tensor, values: np.ndarray) -> np.ndarray:
    """The stored value that means 0.0 for each element of ``values`` (zero point, or 0)."""
    if t.quant is None or values.dtype.kind == "f":
        return np.zeros((), dtype=values.dtype)
    return _broadcast_per_channel(values, t.quant.zero_points, t.quant.quantized_dimension).astype(values.dtype)


def real_magnitudes(t: Tensor, values: np.ndarray) -> np.ndarray:
    """|dequantized value| per element (float64)."""
    v = values.astype(np.float64)
    if t.quant is None or values.dtype.kind == "f":
        return np.abs(v)
    axis = t.quant.quantized_dimension
    zp = _broadcast_per_channel(values, t.quant.zero_points.astype(np.float64), axis)
    sc = _broadcast_per_channel(values, t.quant.scales.astype(np.float64), axis)
    return np.abs((v - zp) * sc)


@dataclass(frozen=True)
class TensorSparsity:
    """Measured zeros of one constant tensor."""

    name: str
    role: str  # "weights" | "bias" | "constant"
    op: str
    dtype: str
    shape: tuple[int, ...]
    num_elements: int
    zeros: int
    nbytes: int
    zero_is_zero_point: bool
    sparse: bool = False  # stored sparse-encoded: ``zeros`` counts the values not stored (a lower bound)

    @property
    def sparsity(self) -> float:
        return self.zeros / self.num_elements if self.num_elements else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "role": self.role, "op": self.op, "dtype": self.dtype, "shape": list(self.shape),
            "elements": self.num_elements, "zeros": self.zeros, "sparsity": round(self.sparsity, 6),
            "bytes": self.nbytes,
            "zero_means": "not stored (sparse-encoded; at least this many zeros)" if self.sparse
            else "zero point" if self.zero_is_zero_point else "0",
            "sparse_encoded": self.sparse,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSparsity:
        return cls(
            name=str(d["name"]), role=str(d["role"]), op=str(d["op"]), dtype=str(d["dtype"]),
            shape=tuple(int(x) for x in d["shape"]), num_elements=int(d["elements"]), zeros=int(d["zeros"]),
            nbytes=int(d["bytes"]), zero_is_zero_point=d["zero_means"] == "zero point",
            sparse=bool(d["sparse_encoded"]),
        )


def _producers(sg: Subgraph) -> dict[int, Operator]:
    return {o: op for op in sg.operators for o in op.outputs}


def weight_tensors(sg: Subgraph, include_sparse: bool = False) -> list[tuple[Tensor, Operator]]:
    """Constant weight tensors of conv/depthwise/FC/... ops in operator order, each buffer once.

    A weight stored in float16/int8 (DEQUANTIZE) or sparse-encoded (DENSIFY) counts as the op's weight.
    """
    producers = _producers(sg)
    seen: set[int] = set()
    out: list[tuple[Tensor, Operator]] = []
    for op in sg.operators:
        idx = WEIGHT_INPUT.get(op.name)
        if idx is None or len(op.inputs) <= idx or op.inputs[idx] < 0:
            continue
        t = sg.tensors[op.inputs[idx]]
        for _ in range(3):  # constant -> [DENSIFY] -> [DEQUANTIZE] -> op
            prod = producers.get(t.index)
            if t.is_constant or prod is None or prod.name not in _UNPACK_OPS or not prod.inputs or prod.inputs[0] < 0:
                break
            t = sg.tensors[prod.inputs[0]]
        if not t.is_constant:
            continue
        if t.buffer in seen or (t.sparse and not include_sparse) or t.dtype not in _PRUNABLE_DTYPES:
            continue
        seen.add(t.buffer)
        out.append((t, op))
    return out


def tensor_sparsity(model: TFLiteModel) -> list[TensorSparsity]:
    """Every numeric constant tensor with its measured zeros (quantized: values equal to the zero point)."""
    rows: list[TensorSparsity] = []
    for sg in model.subgraphs:
        roles: dict[int, tuple[str, str]] = {}
        for t, op in weight_tensors(sg, include_sparse=True):
            roles[t.index] = ("weights", op.name)
        for op in sg.operators:
            b = BIAS_INPUT.get(op.name)
            if b is not None and len(op.inputs) > b and op.inputs[b] >= 0:
                roles.setdefault(op.inputs[b], ("bias", op.name))
        seen: set[int] = set()
        for t in sg.tensors:
            if not t.is_constant or t.buffer in seen:
                continue
            if t.sparse and t.dtype in _PRUNABLE_DTYPES:
                # sparse-encoded: the buffer holds only the stored values; the rest are zeros
                seen.add(t.buffer)
                stored = t.nbytes // np.dtype(t.dtype).itemsize
                role, op_name = roles.get(t.index, ("constant", ""))
                rows.append(TensorSparsity(
                    name=t.name, role=role, op=op_name, dtype=t.dtype, shape=t.shape, num_elements=t.num_elements,
                    zeros=max(0, t.num_elements - stored), nbytes=t.nbytes, zero_is_zero_point=False, sparse=True,
                ))
                continue
            values = t.data()
            if values is None or values.size == 0:
                continue
            seen.add(t.buffer)
            zeros = int(np.count_nonzero(values == zero_value(t, values)))
            role, op_name = roles.get(t.index, ("constant", ""))
            rows.append(TensorSparsity(
                name=t.name, role=role, op=op_name, dtype=t.dtype, shape=t.shape, num_elements=int(values.size),
                zeros=zeros, nbytes=t.nbytes, zero_is_zero_point=t.quant is not None and values.dtype.kind != "f",
            ))
    return rows


@dataclass(frozen=True)
class PrunedTensor:
    name: str
    op: str
    num_elements: int
    zeros_before: int
    zeros_after: int
    skipped: str | None

    def to_dict(self) -> dict[str, Any]:
        n = self.num_elements or 1
        return {"name": self.name, "op": self.op, "elements": self.num_elements,
                "sparsity_before": round(self.zeros_before / n, 6), "sparsity_after": round(self.zeros_after / n, 6),
                "skipped": self.skipped}


@dataclass(frozen=True)
class PruneResult:
    """A pruned copy of a .tflite (bytes) and what happened to each weight tensor."""

    data: bytes
    tensors: tuple[PrunedTensor, ...]
    achieved_sparsity: float  # over the pruned tensors
    weights_sparsity: float  # over every weight tensor (pruned or skipped)

    def to_dict(self) -> dict[str, Any]:
        return {"achieved_sparsity": round(self.achieved_sparsity, 6),
                "weights_sparsity": round(self.weights_sparsity, 6),
                "tensors": [t.to_dict() for t in self.tensors]}


def prune_tflite_bytes(data: bytes, policy: PrunePolicy, name: str = "<bytes>",
                       model: TFLiteModel | None = None) -> PruneResult:
    """Magnitude-prune the weight buffers of a .tflite in a copy of its bytes (sizes never change)."""
    model = model or parse_model(data, name)
    ranges = buffer_ranges(data, name)
    pairs = [(t, op) for t, op in weight_tensors(model.main) if t.buffer in ranges]
    targets: list[PruneTarget] = []
    values_by_name: list[np.ndarray] = []
    for t, _op in pairs:
        values = t.data()
        if values is None or values.size != t.num_elements:
            values = np.zeros((0,), dtype=np.float32)
        values_by_name.append(values)
        targets.append(PruneTarget(name=t.name, magnitudes=real_magnitudes(t, values)))
    plan_pruning(targets, policy)
    out = bytearray(data)
    for (t, _op), values, target in zip(pairs, values_by_name, targets, strict=True):
        if target.zero_mask is None or values.size == 0:
            continue
        start, length = ranges[t.buffer]
        if length != values.nbytes:
            target.zero_mask = None  # data not laid out densely: leave it alone
            continue
        new = np.where(target.zero_mask, zero_value(t, values), values).astype(values.dtype)
        out[start : start + length] = new.tobytes()
    pruned = tuple(
        PrunedTensor(name=t.name, op=op.name, num_elements=target.num_elements, zeros_before=target.zeros_before,
                     zeros_after=target.zeros_after, skipped=target.reason_skipped)
        for (t, op), target in zip(pairs, targets, strict=True)
    )
    return PruneResult(data=bytes(out), tensors=pruned, achieved_sparsity=achieved_sparsity(targets),
                       weights_sparsity=achieved_sparsity(targets, only_pruned=False))
