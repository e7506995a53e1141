"""Tiny .tflite models for the profile tests, built directly as flatbuffers (no TensorFlow).

``ModelBuilder`` uses the LiteRT schema's object API (``ModelT`` and friends).
The models are valid flatbuffers that edgekit's reader parses; they are not
necessarily runnable (weights are zeros unless given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as S
from foundation_helpers import int8_tflite

_TYPES = {"float32": S.TensorType.FLOAT32, "int8": S.TensorType.INT8, "uint8": S.TensorType.UINT8,
          "int32": S.TensorType.INT32, "int16": S.TensorType.INT16, "float16": S.TensorType.FLOAT16,
          "int64": S.TensorType.INT64}
_ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}

# op name -> (options class name, BuiltinOptions member)
_OPTIONS = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions", "ADD": "AddOptions", "MUL": "MulOptions", "SOFTMAX": "SoftmaxOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions", "BATCH_MATMUL": "BatchMatMulOptions",
    "RESHAPE": "ReshapeOptions", "CONCATENATION": "ConcatenationOptions", "MEAN": "ReducerOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
}


@dataclass
class ModelBuilder:
    tensors: list[Any] = field(default_factory=list)
    buffers: list[Any] = field(default_factory=lambda: [S.BufferT()])
    ops: list[Any] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def tensor(self, name: str, shape: tuple[int, ...], dtype: str = "float32", data: np.ndarray | None = None,
               quant: tuple[float, int] | None = None, signature: tuple[int, ...] | None = None) -> int:
        t = S.TensorT()
        t.name = name
        t.shape = list(shape)
        t.shapeSignature = list(signature) if signature is not None else None
        t.type = _TYPES[dtype]
        if data is not None:
            buf = S.BufferT()
            arr = np.asarray(data if data is not None else np.zeros(shape), dtype=np.dtype(dtype))
            buf.data = list(arr.tobytes())
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if quant is None and dtype in ("int8", "uint8", "int16"):
            quant = (0.1, 0)
        if quant is not None:
            q = S.QuantizationParametersT()
            q.scale = [quant[0]]
            q.zeroPoint = [quant[1]]
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, name: str, shape: tuple[int, ...], dtype: str = "float32", fill: float = 0.0) -> int:
        return self.tensor(name, shape, dtype, data=np.full(shape, fill, dtype=np.dtype(dtype)))

    def op(self, name: str, inputs: list[int], outputs: list[int], **options: Any) -> int:
        if name not in self.codes:
            self.codes.append(name)
        o = S.OperatorT()
        o.opcodeIndex = self.codes.index(name)
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        opt_name = _OPTIONS.get(name)
        if opt_name is not None:
            opts = getattr(S, opt_name + "T")()
            for k, v in options.items():
                if k == "fusedActivationFunction" and isinstance(v, str):
                    v = _ACT[v]
                if k == "padding" and isinstance(v, str):
                    v = {"SAME": 0, "VALID": 1}[v]
                setattr(opts, k, v)
            o.builtinOptionsType = getattr(S.BuiltinOptions, opt_name)
            o.builtinOptions = opts
        self.ops.append(o)
        return len(self.ops) - 1

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        m = S.ModelT()
        m.version = 3
        codes = []
        for name in self.codes:
            c = S.OperatorCodeT()
            code = getattr(S.BuiltinOperator, name)
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, 127)
            c.version = 1
            codes.append(c)
        m.operatorCodes = codes
        sg = S.SubGraphT()
        sg.tensors = self.tensors
        sg.operators = self.ops
        sg.inputs = list(inputs)
        sg.outputs = list(outputs)
        sg.name = "main"
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.description = "edgekit profile test model"
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def conv_chain_model(dtype: str = "int8", middle_op: str | None = None) -> bytes:
    """input 1x8x8x3 -> CONV 3x3 (8) -> [middle op] -> DEPTHWISE 3x3 -> FC(4) ; int8 or float32."""
    b = ModelBuilder()
    wdt = dtype
    bdt = "int32" if dtype in ("int8", "uint8") else "float32"
    x = b.tensor("input", (1, 8, 8, 3), dtype)
    w1 = b.const("conv_w", (8, 3, 3, 3), wdt, 1)
    b1 = b.const("conv_b", (8,), bdt, 0)
    y1 = b.tensor("conv_out", (1, 8, 8, 8), dtype)
    b.op("CONV_2D", [x, w1, b1], [y1], padding="SAME", strideW=1, strideH=1, fusedActivationFunction="RELU6")
    cur = y1
    if middle_op is not None:
        y_mid = b.tensor("mid_out", (1, 8, 8, 8), dtype)
        b.op(middle_op, [cur], [y_mid])
        cur = y_mid
    w2 = b.const("dw_w", (1, 3, 3, 8), wdt, 1)
    b2 = b.const("dw_b", (8,), bdt, 0)
    y2 = b.tensor("dw_out", (1, 8, 8, 8), dtype)
    b.op("DEPTHWISE_CONV_2D", [cur, w2, b2], [y2], padding="SAME", strideW=1, strideH=1, depthMultiplier=1)
    shape = b.tensor("shape", (2,), "int32", data=np.array([1, 512]))
    y3 = b.tensor("flat", (1, 512), dtype)
    b.op("RESHAPE", [y2, shape], [y3])
    w4 = b.const("fc_w", (4, 512), wdt, 1)
    b4 = b.const("fc_b", (4,), bdt, 0)
    y4 = b.tensor("logits", (1, 4), dtype)
    b.op("FULLY_CONNECTED", [y3, w4, b4], [y4])
    return b.build([x], [y4])


def build_tf_int8_models(out_dir: Any) -> dict[str, Any]:
    """Small full-int8 models built with TensorFlow (convert tests only): a chain and a branching graph."""
    from pathlib import Path

    import tensorflow as tf

    out = Path(out_dir)
    tf.keras.utils.set_random_seed(0)
    layers = tf.keras.layers

    def chain() -> Any:
        inp = tf.keras.Input((16, 16, 3), batch_size=1)
        x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
        x = layers.DepthwiseConv2D(3, padding="same")(x)
        x = layers.Conv2D(16, 1, activation="relu6")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x)
        return tf.keras.Model(inp, layers.Dense(4)(x))

    def branches() -> Any:
        inp = tf.keras.Input((12, 12, 4), batch_size=1)
        a = layers.Conv2D(8, 1, activation="relu")(inp)
        b = layers.Conv2D(8, 3, padding="same", activation="relu")(a)
        c = layers.Add()([a, b])
        d = layers.Conv2D(16, 3, strides=2, padding="same")(c)
        e = layers.Conv2D(16, 1)(d)
        f = layers.Concatenate()([d, e])
        g = layers.AveragePooling2D(2)(f)
        return tf.keras.Model(inp, g)

    paths: dict[str, Any] = {}
    for name, make in (("chain", chain), ("branches", branches)):
        model = make()
        shape = tuple(model.inputs[0].shape)

        def rep(shape: tuple[int, ...] = shape) -> Any:
            rng = np.random.default_rng(0)
            for _ in range(4):
                yield [rng.uniform(-1, 1, shape).astype(np.float32)]

        path = out / f"{name}_int8.tflite"
        path.write_bytes(int8_tflite(model, rep))
        paths[name] = path
    return paths


def tflm_arena_head_bytes(model_bytes: bytes) -> int:
    """The non-persistent ("head") arena that TFLite Micro's RecordingMicroAllocator reports after invoke().

    print_allocations() writes to the C++ stderr, so capture file descriptor 2 around it.
    """
    import os
    import re
    import tempfile

    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=8 << 20)
    interp.invoke()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", "replace")
    match = re.search(r"Arena allocation head (\d+) bytes", text)
    if match is None:
        raise AssertionError(f"no arena head in TFLM output: {text!r}")
    return int(match.group(1))
