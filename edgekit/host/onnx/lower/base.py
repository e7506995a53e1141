"""What the op lowerings share: the node view, the error, the op registry, shape helpers.

(:mod:`.graph` walks the graph.) A value is either a numpy array (a constant known at conversion time: an
initializer, or anything computed only from constants and static shapes) or a
``tf.Tensor``. An op whose inputs are all constants is computed with the ONNX
reference implementation (the standard's own semantics), so shape arithmetic
never reaches the TensorFlow graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Value = Any  # np.ndarray | tf.Tensor

RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}


class Unsupported(Exception):
    """An op (or an attribute of it) this lowering cannot express; names the op and the node."""

    def __init__(self, op: str, node: str, reason: str) -> None:
        super().__init__(f"{op} (node '{node}'): {reason}")
        self.op = op
        self.node = node
        self.reason = reason


@dataclass
class Node:
    """One ONNX node as the op functions see it."""

    op: str
    name: str
    inputs: list[Value | None]
    attrs: dict[str, Any]
    opset: int
    n_outputs: int
    proto: Any = None
    graph_consts: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str) -> Unsupported:
        return Unsupported(self.op, self.name, reason)

    def has(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def const(self, i: int, what: str = "") -> np.ndarray:
        """Input ``i`` as a numpy constant (refused when it is computed from the model's inputs)."""
        value = self.inputs[i] if i < len(self.inputs) else None
        if value is None or not isinstance(value, np.ndarray):
            raise self.fail(f"input {i}{f' ({what})' if what else ''} must be a constant, and it is computed "
                            "from the model's inputs")
        return value

    def maybe_const(self, i: int) -> np.ndarray | None:
        value = self.inputs[i] if i < len(self.inputs) else None
        return value if isinstance(value, np.ndarray) else None

    def t(self, i: int) -> Any:
        """Input ``i`` as a TensorFlow tensor."""
        import tensorflow as tf

        value = self.inputs[i]
        if value is None:
            raise self.fail(f"input {i} is required")
        if isinstance(value, np.ndarray):
            return tf.constant(value)
        return value

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value


OpFn = Callable[[Node], list[Value]]
OPS: dict[str, OpFn] = {}


def op(*names: str) -> Callable[[OpFn], OpFn]:
    """Register a lowering for ONNX op types ``names``."""

    def register(fn: OpFn) -> OpFn:
        for name in names:
            OPS[name] = fn
        return fn

    return register


def shape_of(value: Value) -> tuple[int, ...]:
    if isinstance(value, np.ndarray):
        return tuple(int(d) for d in value.shape)
    dims = value.shape.as_list()
    if any(d is None for d in dims):
        raise Unsupported("?", "?", f"a tensor with a dynamic shape {dims} (edgekit needs static shapes)")
    return tuple(int(d) for d in dims)


def np_dtype(value: Value) -> np.dtype:
    if isinstance(value, np.ndarray):
        return value.dtype
    return np.dtype(value.dtype.as_numpy_dtype)
