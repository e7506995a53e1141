"""LiteRT's graph partitioning for XNNPACK (parallel branches), kernel-size/GEMM cost keys and the [gemm] section."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.errors import ProfileError
from edgekit.profile.delegate import count_graph_partitions, count_partitions, graph_partitions, place_xnnpack
from edgekit.profile.estimator import efficiency_key, gemm_shape, gemm_work
from edgekit.profile.indirection import indirection_bytes
from edgekit.profile.schema import Gemm
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def _branching_model() -> bytes:
    """x -> ADD -> a; a -> SIGN (XNNPACK refuses it) -> b (output); a -> ADD -> c (output)."""
    g = TFLiteBuilder("branch")
    x, a, b, c = (g.tensor(n, (1, 8, 8, 4)) for n in ("x", "a", "b", "c"))
    g.operator("ADD", [x, x], [a])
    g.operator("SIGN", [a], [b])
    g.operator("ADD", [a, a], [c])
    return g.build([x], [b, c])


def test_a_refused_op_on_a_side_branch_does_not_split_the_partition() -> None:
    sg = parse_model(_branching_model(), "branch").main
    placed = [p.delegated for p in place_xnnpack(sg)]
    assert placed == [True, False, True]
    assert count_partitions(placed) == 2  # contiguity in execution order would say 2
    assert count_graph_partitions(sg, placed) == 1  # LiteRT groups both ADDs: one partition
    assert graph_partitions(sg, placed) == [(True, [0, 2]), (False, [1])]


def test_graph_partitions_match_the_runtime() -> None:
    from edgekit.profile.delegate import runtime_delegated_ops
    from edgekit.tflite.runtime import load_interpreter

    data = _branching_model()
    sg = parse_model(data, "branch").main
    taken, partitions = runtime_delegated_ops(load_interpreter(data, num_threads=1))
    assert taken == {0, 2}
    assert partitions == count_graph_partitions(sg, [p.delegated for p in place_xnnpack(sg)])


def _conv_model(kernel: int, depthwise: bool) -> bytes:
    from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model

    op = MicroOp.DEPTHWISE_CONV_2D if depthwise else MicroOp.CONV_2D
    return build_model(MicroSpec(op, "float32", 14, 14, 24, cout=40, kernel=kernel))


def test_cost_keys_and_gemm_shape() -> None:
    dw7 = parse_model(_conv_model(7, True), "dw7").main
    dw3 = parse_model(_conv_model(3, True), "dw3").main
    conv = parse_model(_conv_model(3, False), "conv").main
    assert efficiency_key(dw7, dw7.operators[0]) == "DEPTHWISE_CONV_2D_K7"
    assert efficiency_key(dw3, dw3.operators[0]) == "DEPTHWISE_CONV_2D"
    assert gemm_shape(dw3, dw3.operators[0]) is None
    assert gemm_shape(conv, conv.operators[0]) == (14 * 14, 40, 24, 9)
    # 40 output channels in 16-wide tiles cost 48; Cin 20 padded to 24 (8-wide K tiles); 4 MACs per output
    assert gemm_work((196, 40, 20, 9), 16, 8, 4.0) == 196 * 48 * (24 * 9 + 4)
    # XNNPACK's indirection buffer: one pointer per output pixel and tap (k > 1 only)
    assert indirection_bytes(dw7) == 14 * 14 * 49 * 8


def test_gemm_section_validates() -> None:
    assert Gemm().figures("float32") == (1, 1, 0.0, 0)
    assert Gemm(int8_tile_n=8, int8_tile_k=8, int8_output_overhead_macs=24.0).figures("int8") == (8, 8, 24.0, 0)
    assert Gemm().figures("int16") is None
    with pytest.raises(ProfileError, match="tile_n"):
        Gemm(float32_tile_n=0)
    with pytest.raises(ProfileError, match="output_overhead"):
        Gemm(int8_output_overhead_macs=-1.0)


def _assert_one_op_placed_as_the_runtime_does(data: bytes, delegated: bool) -> None:
    """A one-op model: the estimator's placement is ``delegated``, and LiteRT's XNNPACK delegate agrees."""
    from edgekit.profile.delegate import runtime_delegated_ops
    from edgekit.tflite.runtime import load_interpreter

    placed = place_xnnpack(parse_model(data, "m").main)
    assert [p.delegated for p in placed] == [delegated], placed
    taken, _ = runtime_delegated_ops(load_interpreter(data, num_threads=1))
    assert (taken == {0}) is delegated


def _requantize_model(ratio: float) -> bytes:
    """One int8 -> int8 QUANTIZE whose input scale is ``ratio`` times its output scale."""
    from edgekit.core.tflite_builder import Quant

    g = TFLiteBuilder("requantize")
    x = g.tensor("x", (1, 8), "int8", quant=Quant((ratio,), (0,)))
    y = g.tensor("y", (1, 8), "int8", quant=Quant((1.0,), (0,)))
    g.operator("QUANTIZE", [x], [y])
    return g.build([x], [y])


@pytest.mark.parametrize("ratio, delegated", [(1 / 255, True), (1 / 257, False), (127.0, True), (129.0, False)])
def test_xnnpack_requantizes_only_within_its_scale_range(ratio: float, delegated: bool) -> None:
    """MediaPipe's pose detector in int8 has a QUANTIZE rescaling by 1/458 before a CONCATENATION: XNNPACK
    leaves it to the builtin kernel, a second partition."""

    _assert_one_op_placed_as_the_runtime_does(_requantize_model(ratio), delegated)


def _binary_model(op: str, in_scales: tuple[float, float]) -> bytes:
    """One int8 ``op`` of two activations with ``in_scales``, output scale 1."""
    from edgekit.core.tflite_builder import Quant

    g = TFLiteBuilder(op.lower())
    x = g.tensor("x", (1, 8), "int8", quant=Quant((in_scales[0],), (0,)))
    y = g.tensor("y", (1, 8), "int8", quant=Quant((in_scales[1],), (0,)))
    z = g.tensor("z", (1, 8), "int8", quant=Quant((1.0,), (0,)))
    g.operator(op, [x, y], [z])
    return g.build([x, y], [z])


@pytest.mark.parametrize("op, scales, delegated", [
    ("ADD", (1.0, 2 ** -10 * 1.01), True), ("ADD", (1.0, 2 ** -10 * 0.99), False), ("ADD", (1.0, 255.0), True),
    ("SUB", (257.0, 1.0), False), ("MUL", (2 ** -8, 2 ** -8), True), ("MUL", (2 ** -9, 2 ** -9), False),
    ("MUL", (1.0, 255.0), True), ("MUL", (16.0, 16.0), False),
])
def test_xnnpack_takes_quantized_add_sub_mul_only_within_its_scale_ranges(
        op: str, scales: tuple[float, float], delegated: bool) -> None:
    """magika's int8 layer norm adds an epsilon whose scale is 1e-4 of the output's: XNNPACK refuses that ADD."""

    _assert_one_op_placed_as_the_runtime_does(_binary_model(op, scales), delegated)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("options, shape, delegated", [
    ({}, (1, 1, 8), True), ({"begin_mask": 5, "end_mask": 5}, (1, 1, 8), True), ({"shrink_axis_mask": 2}, (1, 8), False),
])
def test_xnnpack_refuses_a_strided_slice_that_shrinks_an_axis(dtype: str, options: dict[str, int],
                                                               shape: tuple[int, ...], delegated: bool) -> None:
    """silero-vad's int8 file has three (x[:, 0, :]): three partitions more than the estimate had."""
    import numpy as np

    from edgekit.core.tflite_builder import Quant

    g = TFLiteBuilder("slice")
    q = Quant((0.1,), (0,)) if dtype == "int8" else None
    x = g.tensor("x", (1, 4, 8), dtype, quant=q)
    y = g.tensor("y", shape, dtype, quant=q)
    g.operator("STRIDED_SLICE", [x, *(g.constant(n, np.array(v, np.int32)) for n, v in
                                       (("b", [0, 1, 0]), ("e", [1, 2, 8]), ("s", [1, 1, 1])))], [y], options,
               options_type="StridedSliceOptions")
    _assert_one_op_placed_as_the_runtime_does(g.build([x], [y]), delegated)


@pytest.mark.parametrize("op", ["REDUCE_MIN", "REDUCE_MAX"])
def test_xnnpack_takes_int8_reduce_min_and_max(op: str) -> None:
    import numpy as np

    from edgekit.core.tflite_builder import Quant

    g = TFLiteBuilder("reduce")
    x = g.tensor("x", (1, 6, 5), "int8", quant=Quant((0.1,), (0,)))
    y = g.tensor("y", (1,), "int8", quant=Quant((0.1,), (0,)))
    g.operator(op, [x, g.constant("axes", np.array([1, 2], np.int32))], [y], {"keep_dims": False},
               options_type="ReducerOptions")
    _assert_one_op_placed_as_the_runtime_does(g.build([x], [y]), True)


def _int8_batch_matmul(zero_points: tuple[int, int, int], constant_b: bool) -> bytes:
    from edgekit.core.tflite_builder import Quant

    za, zb, zo = zero_points
    g = TFLiteBuilder("int8 batch matmul")
    a = g.tensor("a", (1, 4, 5, 8), "int8", quant=Quant((0.05,), (za,)))
    if constant_b:
        values = np.random.default_rng(0).integers(-100, 100, (1, 4, 8, 6)).astype(np.int8)
        b = g.constant("b", values, quant=Quant((0.05,), (zb,)))
    else:
        b = g.tensor("b", (1, 4, 8, 6), "int8", quant=Quant((0.05,), (zb,)))
    y = g.tensor("y", (1, 4, 5, 6), "int8", quant=Quant((0.5,), (zo,)))
    g.operator("BATCH_MATMUL", [a, b], [y], {"adj_x": False, "adj_y": False})
    return g.build([a] if constant_b else [a, b], [y])


@pytest.mark.parametrize("zero_points, constant_b, delegated", [
    ((0, 0, 0), False, True), ((-9, 0, -57), False, True), ((0, -9, 0), False, False), ((-9, -9, -57), False, False),
    ((3, 0, 0), True, True), ((3, 1, 0), True, False)])
def test_int8_batch_matmul_needs_a_symmetric_second_operand(zero_points: tuple[int, int, int], constant_b: bool,
                                                            delegated: bool) -> None:
    """captcha-recognizer's YOLOv8-seg in int8 (its attention block: q^T k, then v @ softmax^T with the softmax's
    zero point -128) ran in 6 partitions where `profile` said 5: XNNPACK refuses an int8 BATCH_MATMUL whose
    second operand has a non-zero zero point."""
    _assert_one_op_placed_as_the_runtime_does(_int8_batch_matmul(zero_points, constant_b), delegated)
