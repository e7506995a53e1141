"""The core's .tflite builder: what it writes, edgekit's reader reads back, and ai-edge-litert runs."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import OPTIONS_TYPES, Quant, TFLiteBuilder, builtin_code, pack, unpack
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

W_SCALES = np.array([0.01, 0.02, 0.04], np.float32)
IN_SCALE, IN_ZP = 0.05, -3
OUT_SCALE, OUT_ZP = 0.1, 5


def _mixed_model() -> tuple[bytes, dict[str, int]]:
    """float -> QUANTIZE -> int8 CONV 1x1 (per-channel) -> DEPTHWISE 3x3 (per-channel, axis 3) -> DEQUANTIZE
    -> RESHAPE -> FULLY_CONNECTED without bias; a dynamic batch on the input."""
    rng = np.random.default_rng(0)
    b = TFLiteBuilder("builder test")
    t: dict[str, int] = {}
    t["x"] = b.tensor("x", (1, 4, 4, 2), shape_signature=(-1, 4, 4, 2))
    t["xq"] = b.tensor("xq", (1, 4, 4, 2), "int8", quant=Quant.per_tensor(IN_SCALE, IN_ZP))
    b.operator("QUANTIZE", [t["x"]], [t["xq"]])
    t["w"] = b.constant("conv/w", rng.integers(-127, 128, (3, 1, 1, 2)).astype(np.int8),
                        quant=Quant.per_channel(W_SCALES, axis=0))
    t["bias"] = b.constant("conv/b", np.array([10, -20, 30]), "int32",
                           quant=Quant.per_channel(IN_SCALE * W_SCALES, axis=0))
    t["c"] = b.tensor("c", (1, 4, 4, 3), "int8", quant=Quant.per_tensor(OUT_SCALE, OUT_ZP))
    b.operator("CONV_2D", [t["xq"], t["w"], t["bias"]], [t["c"]],
               {"padding": "VALID", "stride_w": 1, "stride_h": 1, "fused_activation_function": "RELU6"}, version=3)
    t["dw"] = b.constant("dw/w", rng.integers(-127, 128, (1, 3, 3, 3)).astype(np.int8),
                         quant=Quant.per_channel([0.01, 0.02, 0.03], axis=3))
    t["dwb"] = b.constant("dw/b", np.zeros(3, np.int32),
                          quant=Quant.per_channel(OUT_SCALE * np.array([0.01, 0.02, 0.03])))
    t["d"] = b.tensor("d", (1, 4, 4, 3), "int8", quant=Quant.per_tensor(0.2, 0))
    b.operator("DEPTHWISE_CONV_2D", [t["c"], t["dw"], t["dwb"]], [t["d"]],
               {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": 1}, version=3)
    t["df"] = b.tensor("df", (1, 4, 4, 3))
    b.operator("DEQUANTIZE", [t["d"]], [t["df"]])
    t["shape"] = b.constant("shape", [1, 48], "int32")
    t["flat"] = b.tensor("flat", (1, 48))
    b.operator("RESHAPE", [t["df"], t["shape"]], [t["flat"]], {"new_shape": [1, 48]})
    t["fw"] = b.constant("fc/w", rng.standard_normal((5, 48)).astype(np.float32))
    t["y"] = b.tensor("y", (1, 5))
    b.operator("FULLY_CONNECTED", [t["flat"], t["fw"], -1], [t["y"]])
    return b.build([t["x"]], [t["y"]]), t


def test_the_reader_reads_back_tensors_quantization_and_ops() -> None:
    data, t = _mixed_model()
    m = parse_model(data, "built")
    sg = m.main
    assert m.description == "builder test" and m.schema_version == 3 and len(m.subgraphs) == 1
    assert sg.name == "main" and sg.inputs == (t["x"],) and sg.outputs == (t["y"],)
    assert [x.name for x in sg.tensors] == ["x", "xq", "conv/w", "conv/b", "c", "dw/w", "dw/b", "d", "df", "shape",
                                            "flat", "fc/w", "y"]

    x = sg.tensor(t["x"])
    assert x.shape == (1, 4, 4, 2) and x.shape_signature == (-1, 4, 4, 2) and x.dtype == "float32"
    assert x.quant is None and not x.is_constant and x.buffer == 0

    xq = sg.tensor(t["xq"])
    assert xq.quant is not None and xq.quant.scale == pytest.approx(IN_SCALE) and xq.quant.zero_point == IN_ZP
    assert not xq.quant.per_channel and xq.shape_signature == xq.shape

    w = sg.tensor(t["w"])
    assert w.dtype == "int8" and w.is_constant and w.quant is not None and w.quant.per_channel
    np.testing.assert_allclose(w.quant.scales, W_SCALES)
    assert w.quant.zero_points.tolist() == [0, 0, 0] and w.quant.quantized_dimension == 0
    assert sg.tensor(t["dw"]).quant.quantized_dimension == 3  # type: ignore[union-attr]

    bias = sg.tensor(t["bias"])
    assert bias.dtype == "int32" and bias.data().tolist() == [10, -20, 30]  # type: ignore[union-attr]
    assert sg.tensor(t["shape"]).data().tolist() == [1, 48]  # type: ignore[union-attr]
    fw = sg.tensor(t["fw"])
    assert fw.shape == (5, 48) and fw.nbytes == 5 * 48 * 4
    # every constant has a buffer of its own; activations share the empty buffer 0
    constants = [x for x in sg.tensors if x.is_constant]
    assert len({c.buffer for c in constants}) == len(constants) == 6 and 0 not in {c.buffer for c in constants}

    ops = sg.operators
    assert [o.name for o in ops] == ["QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "RESHAPE",
                                     "FULLY_CONNECTED"]
    assert [o.version for o in ops] == [1, 3, 3, 1, 1, 1]
    conv, dw, reshape, fc = ops[1], ops[2], ops[4], ops[5]
    assert conv.inputs == (t["xq"], t["w"], t["bias"]) and conv.outputs == (t["c"],)
    assert conv.options["padding"] == "VALID" and conv.options["fused_activation_function"] == "RELU6"
    assert dw.options["padding"] == "SAME" and dw.options["depth_multiplier"] == 1
    assert reshape.options["new_shape"] == [1, 48]
    assert fc.inputs == (t["flat"], t["fw"], -1)
    assert fc.options["fused_activation_function"] == "NONE"  # the table's defaults, as the converter writes them
    assert ops[0].options == {}  # QUANTIZE has no options table here


def test_ai_edge_litert_runs_it_with_the_quantization_it_was_given() -> None:
    """The runtime honours the per-channel scales: the int8 CONV matches a numpy reference within one step."""
    from edgekit.tflite.runtime import load_interpreter

    data, t = _mixed_model()
    interp = load_interpreter(data, num_threads=1, preserve_all_tensors=True)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 4, 4, 2)).astype(np.float32)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    y = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert y.shape == (1, 5) and y.dtype == np.float32 and np.isfinite(y).all()

    sg = parse_model(data, "built").main
    xq = np.clip(np.floor(x / IN_SCALE + 0.5) + IN_ZP, -128, 127)
    w = sg.tensor(t["w"]).data().astype(np.float64)  # type: ignore[union-attr]
    acc = np.einsum("nhwc,oc->nhwo", xq - IN_ZP, w[:, 0, 0, :]) + np.array([10, -20, 30])
    real = acc * IN_SCALE * W_SCALES  # per output channel
    expect = np.clip(np.round(np.clip(real, 0, 6) / OUT_SCALE) + OUT_ZP, -128, 127)  # RELU6, requantized
    got = interp.get_tensor(t["c"]).astype(np.float64)
    assert np.abs(got - expect).max() <= 1
    assert len(np.unique(got)) > 3  # not a constant output that would pass by accident


def test_default_quant_only_for_integer_tensors_without_one() -> None:
    b = TFLiteBuilder(default_quant=Quant.per_tensor(0.1, 2))
    f = b.tensor("f", (1, 4))
    i = b.tensor("i", (1, 4), "int8")
    own = b.tensor("own", (1, 4), "int8", quant=Quant.per_tensor(0.5))
    c = b.constant("c", np.zeros(4, np.int32))
    b.operator("ADD", [f, f], [f])
    sg = parse_model(b.build([f], [f]), "q").main
    assert sg.tensor(f).quant is None and sg.tensor(c).quant is None
    assert (sg.tensor(i).quant.scale, sg.tensor(i).quant.zero_point) == (pytest.approx(0.1), 2)  # type: ignore[union-attr]
    assert sg.tensor(own).quant.scale == 0.5  # type: ignore[union-attr]
    assert (b.shape(i), b.dtype(i), b.tensor_count) == ((1, 4), "int8", 4)


def test_operator_codes_are_shared_per_op_and_version() -> None:
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 4))
    ys = [b.tensor(f"y{k}", (1, 4)) for k in range(4)]
    b.operator("RELU", [x], [ys[0]])
    b.operator("RELU", [ys[0]], [ys[1]])
    b.operator("RELU", [ys[1]], [ys[2]], version=2)
    b.operator("TANH", [ys[2]], [ys[3]])
    model = unpack(b.build([x], [ys[3]]))
    assert [(c.builtinCode, c.version) for c in model.operatorCodes] == [
        (builtin_code("RELU"), 1), (builtin_code("RELU"), 2), (builtin_code("TANH"), 1)]
    assert [o.opcodeIndex for o in model.subgraphs[0].operators] == [0, 0, 1, 2]


def test_an_operator_read_back_can_be_written_again() -> None:
    """Options travel in the reader's spelling, so a parsed operator rebuilds to the same operator."""
    data, _ = _mixed_model()
    first = parse_model(data, "a").main
    b = TFLiteBuilder()
    for tensor in first.tensors:
        q = tensor.quant
        quant = Quant.per_channel(q.scales, q.quantized_dimension, q.zero_points) if q is not None else None
        if tensor.is_constant:
            b.constant(tensor.name, tensor.data(), quant=quant)
        else:
            b.tensor(tensor.name, tensor.shape, tensor.dtype, quant=quant, shape_signature=tensor.shape_signature)
    for op in first.operators:
        b.operator(op.name, op.inputs, op.outputs, op.options, version=op.version)
    again = parse_model(b.build(first.inputs, first.outputs), "b").main
    assert [(o.name, o.version, o.inputs, o.outputs, o.options) for o in again.operators] == [
        (o.name, o.version, o.inputs, o.outputs, o.options) for o in first.operators]
    assert [(x.name, x.shape, x.shape_signature, x.dtype) for x in again.tensors] == [
        (x.name, x.shape, x.shape_signature, x.dtype) for x in first.tensors]


def test_pack_and_unpack_round_trip() -> None:
    data, _ = _mixed_model()
    model = unpack(data)
    model.description = "edited"
    edited = parse_model(pack(model), "edited")
    assert edited.description == "edited"
    assert [x.name for x in edited.main.tensors] == [x.name for x in parse_model(data, "x").main.tensors]


def test_mistakes_are_refused_with_the_reason() -> None:
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 8, 8, 3))
    with pytest.raises(ValueError, match="no field 'stride'"):
        b.operator("CONV_2D", [x], [x], {"stride": 2})
    with pytest.raises(ValueError, match="'SAMEISH' is not a member of Padding"):
        b.operator("CONV_2D", [x], [x], {"padding": "SAMEISH"})
    with pytest.raises(ValueError, match="not a TFLite builtin operator"):
        b.operator("CONV_2E", [x], [x])
    with pytest.raises(ValueError, match="no options table known"):
        b.operator("TANH", [x], [x], {"beta": 1.0})
    with pytest.raises(ValueError, match="tensor index 7 does not exist"):
        b.operator("RELU", [x], [7])
    with pytest.raises(ValueError, match="no TFLite tensor type"):
        b.tensor("y", (1,), "float128")
    with pytest.raises(ValueError, match="3 scales do not match dimension 0"):
        b.constant("w", np.zeros((4, 3), np.int8), quant=Quant.per_channel([0.1, 0.2, 0.3], axis=0))
    with pytest.raises(ValueError, match="shape signature"):
        b.tensor("y", (1, 4), shape_signature=(-1,))
    with pytest.raises(ValueError, match="finite and positive"):
        Quant.per_tensor(0.0)
    with pytest.raises(ValueError, match="2 scales but 1 zero points"):
        Quant((0.1, 0.2), (0,))
    with pytest.raises(ValueError, match="is not a tensor"):
        b.build([x], [9])
    # an explicit options table for an op without a row in OPTIONS_TYPES
    assert "GELU" not in OPTIONS_TYPES
    b.operator("GELU", [x], [x], {"approximate": True}, options_type="GeluOptions")
    assert parse_model(b.build([x], [x]), "g").main.operators[0].options == {"approximate": True}
