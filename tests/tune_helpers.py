"""Tiny float .tflite models built to collapse in int8, and their data: WITHOUT TensorFlow.

Device-safe (numpy + the LiteRT flatbuffer schema), so the same models serve the workstation suite
and the base + quantize venv (scripts/test-device). Each model has a known way to fail plain int8:

* :func:`outlier_channel_model`: one output channel of a dense layer has weights 300x the others, so
  PER-TENSOR int8 weights round every other channel to a few levels (per-channel is fine);
* :func:`wide_softmax_model`: logits feed a softmax, and one value of one calibration sample is a
  huge glitch (:func:`with_glitch`), so min-max ranges leave the normal inputs and activations a
  handful of int8 levels (a percentile clip of the range fixes it);
* :func:`sequence_model`: a per-timestep classifier [1, 20, 30] with one hidden unit that swings by
  hundreds and feeds every class logit alike: a large offset softmax ignores but int8 must spend
  its 256 levels on, so the class differences drown in rounding unless the hidden layer, the
  logits and the softmax get int16 (or float).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class GraphBuilder:
    """Append FULLY_CONNECTED / SOFTMAX ops to a float32 graph and serialise it."""

    def __init__(self, input_shape: list[int], name: str = "input") -> None:
        from edgekit.tflite import _schema as S

        self.S = S
        self.buffers: list[Any] = [self._buffer(None)]
        self.tensors: list[Any] = []
        self.ops: list[Any] = []
        self.codes: dict[int, int] = {}
        self.input = self._tensor(name, input_shape, None)
        self.inputs = [self.input]
        self.outputs: list[int] = []
        self.current = self.input
        self.shape = list(input_shape)

    def add_input(self, name: str, shape: list[int]) -> int:
        """A second (third...) graph input; returns its tensor index (the current tensor is unchanged)."""
        index = self._tensor(name, shape, None)
        self.inputs.append(index)
        return index

    def _buffer(self, data: bytes | None) -> Any:
        b = self.S.BufferT()
        b.data = list(data) if data else None
        return b

    def _tensor(self, name: str, shape: list[int], data: np.ndarray | None) -> int:
        t = self.S.TensorT()
        t.name = name
        t.shape = list(shape)
        t.shapeSignature = list(shape)
        t.type = self.S.TensorType.FLOAT32
        self.buffers.append(self._buffer(None if data is None else np.asarray(data, np.float32).tobytes()))
        t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def _code(self, builtin: int) -> int:
        if builtin not in self.codes:
            self.codes[builtin] = len(self.codes)
        return self.codes[builtin]

    def dense(self, weights: np.ndarray, bias: np.ndarray, relu: bool = False, name: str = "") -> GraphBuilder:
        S = self.S
        out_shape = self.shape[:-1] + [int(weights.shape[0])]
        n = len(self.ops)
        w = self._tensor(f"{name or 'dense'}{n}/weights", list(weights.shape), weights)
        b = self._tensor(f"{name or 'dense'}{n}/bias", list(bias.shape), bias)
        out = self._tensor(f"{name or 'dense'}{n}/out", out_shape, None)
        op = S.OperatorT()
        op.opcodeIndex = self._code(S.BuiltinOperator.FULLY_CONNECTED)
        op.inputs = [self.current, w, b]
        op.outputs = [out]
        op.builtinOptionsType = S.BuiltinOptions.FullyConnectedOptions
        opts = S.FullyConnectedOptionsT()
        opts.fusedActivationFunction = S.ActivationFunctionType.RELU if relu else S.ActivationFunctionType.NONE
        opts.keepNumDims = len(self.shape) > 2
        op.builtinOptions = opts
        self.ops.append(op)
        self.current, self.shape = out, out_shape
        return self

    def softmax(self, name: str = "probs") -> GraphBuilder:
        S = self.S
        out = self._tensor(name, list(self.shape), None)
        op = S.OperatorT()
        op.opcodeIndex = self._code(S.BuiltinOperator.SOFTMAX)
        op.inputs = [self.current]
        op.outputs = [out]
        op.builtinOptionsType = S.BuiltinOptions.SoftmaxOptions
        opts = S.SoftmaxOptionsT()
        opts.beta = 1.0
        op.builtinOptions = opts
        self.ops.append(op)
        self.current = out
        return self

    def binary(self, op_name: str, other: int | np.ndarray, lhs: int | None = None, name: str = "",
               out_name: str = "") -> GraphBuilder:
        """``lhs`` (default: the current tensor) OP ``other`` (a tensor index or a constant), element-wise."""
        S = self.S
        n = len(self.ops)
        if not isinstance(other, int):
            other = self._tensor(f"{name or op_name.lower()}{n}/const", list(np.shape(other)), np.asarray(other))
        out = self._tensor(out_name or f"{name or op_name.lower()}{n}/out", list(self.shape), None)
        op = S.OperatorT()
        op.opcodeIndex = self._code(getattr(S.BuiltinOperator, op_name))
        op.inputs = [self.current if lhs is None else lhs, other]
        op.outputs = [out]
        self.ops.append(op)
        self.current = out
        return self

    def unary(self, op_name: str, lhs: int | None = None, name: str = "") -> GraphBuilder:
        """``op_name`` (RELU, RELU6, TANH...) of ``lhs`` (default: the current tensor), no options."""
        S = self.S
        out = self._tensor(name or f"{op_name.lower()}{len(self.ops)}/out", list(self.shape), None)
        op = S.OperatorT()
        op.opcodeIndex = self._code(getattr(S.BuiltinOperator, op_name))
        op.inputs = [self.current if lhs is None else lhs]
        op.outputs = [out]
        self.ops.append(op)
        self.current = out
        return self

    def build(self) -> bytes:
        import flatbuffers

        S = self.S
        sg = S.SubGraphT()
        sg.name = "main"
        sg.tensors = self.tensors
        sg.inputs = self.inputs
        sg.outputs = self.outputs or [self.current]
        sg.operators = self.ops
        codes = []
        for builtin, _ in sorted(self.codes.items(), key=lambda kv: kv[1]):
            code = S.OperatorCodeT()
            code.builtinCode = builtin
            code.deprecatedBuiltinCode = builtin
            code.version = 1
            codes.append(code)
        model = S.ModelT()
        model.version = 3
        model.description = "edgekit tune test model"
        model.operatorCodes = codes
        model.subgraphs = [sg]
        model.buffers = self.buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def run_once(data: bytes, x: np.ndarray) -> np.ndarray:
    """The first output of one LiteRT invocation of ``data`` on ``x`` (its first input)."""
    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(data, num_threads=1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return np.asarray(interp.get_tensor(out["index"]))


def computed_reshape_model(width: int = 48) -> bytes:
    """x [1, 8, 6] -> RESHAPE(x, CONCATENATION(GATHER(SHAPE(x), [0]), [48])) -> MUL(self) -> FULLY_CONNECTED(4):
    a reshape target computed at run time, the tensors after it stored with a placeholder shape (1x1), as graphs
    exported with a dynamic batch write them (BirdNET's analyzer: ~90 such int32 ops). ``width`` other than 48
    makes a graph LiteRT cannot run (the reshape does not fit)."""
    from edgekit.core.tflite_builder import TFLiteBuilder

    g = TFLiteBuilder("computed reshape")
    x = g.tensor("x", (1, 8, 6))
    shape = g.tensor("shape", (3,), "int32")
    g.operator("SHAPE", [x], [shape], {"out_type": 2}, options_type="ShapeOptions")
    batch = g.tensor("batch", (1,), "int32")
    g.operator("GATHER", [shape, g.constant("first", np.array([0], np.int32))], [batch], {"axis": 0},
               options_type="GatherOptions")
    target = g.tensor("target", (2,), "int32")
    g.operator("CONCATENATION", [batch, g.constant("rest", np.array([width], np.int32))], [target], {"axis": 0})
    flat = g.tensor("flat", (1, 1))
    g.operator("RESHAPE", [x, target], [flat])
    squared = g.tensor("squared", (1, 1))  # a placeholder too: 1x48 at run time
    g.operator("MUL", [flat, flat], [squared])
    y = g.tensor("y", (1, 4))
    w = np.random.default_rng(3).standard_normal((4, 48)).astype(np.float32)
    g.operator("FULLY_CONNECTED", [squared, g.constant("w", w), g.constant("b", np.zeros(4, np.float32))], [y])
    return g.build([x], [y])


def zero_divisor_model(seed: int = 0) -> bytes:
    """``dense(x) / (mean(x)^2 + 1e-4)``: on inputs around 3 the divisor is ~9, but on an all-zero input it is
    1e-4, which int8 rounds to its zero point: the int8 DIV kernel refuses it (``data[i] != zero_point``)
    while the float model gives 0 (basic-pitch's int8 model refuses silence this way)."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder([1, 8])
    x = g.current
    numerator = g.dense(rng.standard_normal((8, 8)).astype(np.float32) * 0.5, np.zeros(8, np.float32), name="num").current
    g.current = x
    g.dense(np.full((8, 8), 1 / 8, np.float32), np.zeros(8, np.float32), name="mean")
    g.binary("MUL", g.current).binary("ADD", np.full(8, 1e-4, np.float32))
    return g.binary("DIV", g.current, lhs=numerator, name="out").build()


def outlier_channel_model(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((32, 16)).astype(np.float32) * 0.3
    w1[0] *= 300.0  # the outlier channel
    b1 = rng.standard_normal(32).astype(np.float32) * 0.1
    w2 = rng.standard_normal((8, 32)).astype(np.float32) * 0.3
    w2[:, 0] /= 300.0  # the next layer scales it back: the float function is ordinary
    return GraphBuilder([1, 16]).dense(w1, b1, relu=True).dense(w2, np.zeros(8, np.float32), name="out").build()


WIDE_FEATURES = 256


def wide_softmax_model(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((24, WIDE_FEATURES)).astype(np.float32) * 0.1
    w2 = rng.standard_normal((10, 24)).astype(np.float32) * 0.6
    return (GraphBuilder([1, WIDE_FEATURES]).dense(w1, np.zeros(24, np.float32), relu=True)
            .dense(w2, np.zeros(10, np.float32), name="logits").softmax().build())


def sequence_model(seed: int = 0, steps: int = 20, classes: int = 30) -> bytes:
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((32, 8)).astype(np.float32) * 0.5
    w1[1] = 0.0
    w1[1, 0] = 1.0  # hidden unit 1 passes feature 0 (a loudness-like input that swings by hundreds) ...
    w1[:, 0][np.arange(32) != 1] = 0.0
    w2 = np.clip(rng.standard_normal((classes, 32)) * 0.3, -0.9, 0.9).astype(np.float32)
    w2[:, 1] = 1.0  # ... into every class logit alike (an offset softmax ignores; exact in int8 weights)
    return (GraphBuilder([1, steps, 8]).dense(w1, np.zeros(32, np.float32), relu=True)
            .dense(w2, np.zeros(classes, np.float32), name="logits").softmax().build())


def streaming_model(seed: int = 0, decay: float = 0.99, drive: float = 1.0, head_reads_state: bool = False) -> bytes:
    """A streaming model with its state as an input and an output: ``stateN = decay * state + dense(x)`` (a
    leaky integrator, like an LSTM's cell), ``y = dense(stateN)``. Judged call by call on recorded states,
    int8 looks fine; run as deployed, its own int8 state fed back each call, the rounding piles up."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder([1, 8], "x")
    state = g.add_input("state", [1, 16])
    g.dense(rng.standard_normal((16, 8)).astype(np.float32) * 0.3, np.full(16, drive, np.float32), name="inject")
    update = g.current
    g.current = state
    g.binary("MUL", np.full(16, decay, np.float32), name="decay")
    if head_reads_state:  # the state output is also what the head reads (an LSTM's h feeding its classifier)
        cell = state_out = g.binary("ADD", update, name="cell", out_name="stateN").current
    else:
        cell = g.binary("ADD", update, name="cell").current
        state_out = g.binary("MUL", np.ones(16, np.float32), name="copy", out_name="stateN").current
    g.current = cell
    readout = rng.standard_normal((4, 16)).astype(np.float32) * 0.3
    readout -= readout.mean(axis=1, keepdims=True)  # y reads how the state channels differ, not their common level
    g.dense(readout, np.zeros(4, np.float32), name="y")
    g.outputs = [g.current, state_out]
    return g.build()


def streaming_inputs(model: bytes, count: int, seed: int) -> dict[str, np.ndarray]:
    """A stream of ``count`` calls: x, and the state the float model carries into each call (from zero)."""
    from edgekit.requant.check import run_model

    xs = normal_inputs((1, 8), count, seed)
    states = np.zeros((count, 1, 16), np.float32)
    for t in range(count - 1):
        _, (_, state) = run_model(model, ["x", "state"], [xs[t:t + 1], states[t:t + 1]], ["y", "stateN"],
                                  [(1, 4), (1, 16)])
        states[t + 1] = state[0]
    return {"x": xs, "state": states}


def sequence_inputs(count: int, seed: int, steps: int = 20) -> np.ndarray:
    """Per-timestep features; feature 0 is loud (hundreds), the others ordinary."""
    x = normal_inputs((1, steps, 8), count, seed)
    x[..., 0] = np.abs(x[..., 0]) * 150.0
    return x


def normal_inputs(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)


def with_glitch(x: np.ndarray, value: float = 400.0) -> np.ndarray:
    """A copy where ONE value of one sample is huge (a sensor glitch in the calibration set)."""
    y = x.copy()
    y[7, ..., 3] = value
    return y


def write_case(tmp: Path, name: str, model: bytes, shape: tuple[int, ...], calib: np.ndarray | None = None,
               seed: int = 0, held: np.ndarray | None = None) -> tuple[Path, Path, Path]:
    """model.tflite + calib.npy + heldout.npy in ``tmp``; returns their paths."""
    tmp.mkdir(parents=True, exist_ok=True)
    model_path = tmp / f"{name}.tflite"
    model_path.write_bytes(model)
    calib_path, held_path = tmp / f"{name}_calib.npy", tmp / f"{name}_heldout.npy"
    # data seeds apart from the models' weight seeds (the same seed would draw an input equal to a weight row)
    np.save(calib_path, normal_inputs(shape, 100, seed + 100) if calib is None else calib)
    np.save(held_path, normal_inputs(shape, 40, seed + 101) if held is None else held)
    return model_path, calib_path, held_path


def dynamic_mul_model() -> bytes:
    """x [-1, -1] -> MUL 2 -> y [-1, -1]: a .tflite whose input shape is dynamic (openWakeWord's melspectrogram)."""
    from edgekit.core.tflite_builder import TFLiteBuilder

    g = TFLiteBuilder("dynamic")
    x = g.tensor("x", (1, 1), shape_signature=(-1, -1))
    y = g.tensor("y", (1, 1), shape_signature=(-1, -1))
    g.operator("MUL", [x, g.constant("two", np.array(2.0, np.float32))], [y])
    return g.build([x], [y])
