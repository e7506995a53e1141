"""The graph repair passes, one by one, on tiny graphs built here: each must change the graph as it says and
leave what onnxruntime computes unchanged (no TensorFlow, no onnx2tf: fast)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from edgekit.host.onnx.repair import (  # noqa: E402
    PASS_NAMES,
    RepairContext,
    allowzero,
    expand,
    fold,
    names,
    params,
    resize,
    run_repairs,
    shapes,
    split,
)


def _model(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: list[Any] = (),  # type: ignore[assignment]
           opset: int = 17) -> Any:
    graph = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _run(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, feeds)]


def _same(before: Any, after: Any, feeds: dict[str, np.ndarray], atol: float = 1e-5) -> None:
    for a, b in zip(_run(before, feeds), _run(after, feeds), strict=True):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)


def _copy(model: Any) -> Any:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def test_names_gives_every_node_a_valid_unique_name_and_keeps_the_interface() -> None:
    """The OCR direction classifier's failure: unnamed nodes (onnx2tf then says 'Softmax@0' is not a valid scope)."""
    model = _model(
        [h.make_node("Relu", ["x"], ["a/b:0"]), h.make_node("Relu", ["a/b:0"], ["c"], name="dup"),
         h.make_node("Softmax", ["c"], ["probs"], name="dup")],
        [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("probs", T.FLOAT, [1, 4])])
    fixed = _copy(model)
    repair = names.apply(fixed, RepairContext())
    assert repair is not None and repair.name == "names"
    node_names = [n.name for n in fixed.graph.node]
    assert all(names._VALID.match(n) for n in node_names) and len(set(node_names)) == 3
    assert node_names[0] == "Relu"
    assert "a/b:0" not in {o for n in fixed.graph.node for o in n.output}
    assert [v.name for v in fixed.graph.input] == ["x"] and [v.name for v in fixed.graph.output] == ["probs"]
    assert "1 unnamed" in repair.detail
    x = _x(1, 4)
    want = np.exp(np.maximum(x, 0)) / np.exp(np.maximum(x, 0)).sum()  # onnxruntime refuses the duplicate names
    np.testing.assert_allclose(_run(fixed, {"x": x})[0], want, rtol=1e-5)
    assert names.apply(fixed, RepairContext()) is None  # idempotent: nothing left to do


def test_shapes_measures_what_inference_cannot() -> None:
    """A Reshape whose target comes from data (Shape -> arithmetic) after --input-shape fixed the input."""
    model = _model(
        [h.make_node("Shape", ["x"], ["s"]), h.make_node("ReduceProd", ["s"], ["n"], keepdims=1),
         h.make_node("Cast", ["n"], ["nf"], to=T.FLOAT), h.make_node("Sqrt", ["nf"], ["r"]),
         h.make_node("Cast", ["r"], ["ri"], to=T.INT64), h.make_node("Concat", ["ri", "ri"], ["target"], axis=0),
         h.make_node("Reshape", ["x", "target"], ["y"])],
        [h.make_tensor_value_info("x", T.FLOAT, [1, 16])], [h.make_tensor_value_info("y", T.FLOAT, None)])
    fixed = _copy(model)
    repair = shapes.apply(fixed, RepairContext())
    assert repair is not None and "measured with onnxruntime" in repair.detail
    y_value = next(v for v in [*fixed.graph.value_info, *fixed.graph.output] if v.name == "y")
    y_shape = [d.dim_value for d in y_value.type.tensor_type.shape.dim]
    assert y_shape == [4, 4]
    _same(model, fixed, {"x": _x(1, 16)})


def test_shapes_skips_sequence_values() -> None:
    """ONNX's simple/test_sequence_model1: a sequence value among the tensors to measure made the pass stop with
    "setting an array element with a sequence" (a bug report); it has no tensor shape, and the rest is measured."""
    model = _model(
        [h.make_node("SequenceConstruct", ["x", "x"], ["seq"]),
         h.make_node("Shape", ["x"], ["s"]), h.make_node("Reshape", ["x", "s"], ["r"]),
         h.make_node("ConcatFromSequence", ["seq"], ["c"], axis=0), h.make_node("Add", ["c", "c"], ["y"])],
        [h.make_tensor_value_info("x", T.FLOAT, [2, 3])], [h.make_tensor_value_info("y", T.FLOAT, None)])
    for v in model.graph.value_info:
        v.type.tensor_type.ClearField("shape")
    fixed = _copy(model)
    shapes.apply(fixed, RepairContext())
    y_value = next(v for v in [*fixed.graph.value_info, *fixed.graph.output] if v.name == "y")
    assert [d.dim_value for d in y_value.type.tensor_type.shape.dim] == [4, 3]
    _same(model, fixed, {"x": _x(2, 3)})


def test_fold_computes_constant_subgraphs_and_drops_dead_nodes() -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = _model(
        [h.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array(2.0, np.float32))),
         h.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]), h.make_node("Mul", ["wt", "k"], ["w2"]),
         h.make_node("Shape", ["x"], ["s"]), h.make_node("MatMul", ["x", "w2"], ["y"])],
        [h.make_tensor_value_info("x", T.FLOAT, [2, 4])], [h.make_tensor_value_info("y", T.FLOAT, [2, 3])],
        [numpy_helper.from_array(w, "w")])
    model = onnx.shape_inference.infer_shapes(model)
    fixed = _copy(model)
    repair = fold.apply(fixed, RepairContext())
    assert repair is not None and "1 Constant" in repair.detail
    assert [n.op_type for n in fixed.graph.node] == ["MatMul"]  # Transpose/Mul folded, the unused Shape dropped
    _same(model, fixed, {"x": _x(2, 4)})


def test_fold_keeps_a_graph_output_that_became_constant() -> None:
    model = _model([h.make_node("Shape", ["x"], ["s"]), h.make_node("Relu", ["x"], ["y"])],
                   [h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
                   [h.make_tensor_value_info("y", T.FLOAT, [2, 3]), h.make_tensor_value_info("s", T.INT64, [2])])
    model = onnx.shape_inference.infer_shapes(model)
    fixed = _copy(model)
    assert fold.apply(fixed, RepairContext()) is not None
    _same(model, fixed, {"x": _x(2, 3)})


def test_expand_replaces_layer_norm_by_its_function_body() -> None:
    model = _model([h.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-3)],
                   [h.make_tensor_value_info("x", T.FLOAT, [2, 5, 8])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                   [numpy_helper.from_array(_x(8) + 1, "g"), numpy_helper.from_array(_x(8), "b")])
    fixed = _copy(model)
    repair = expand.apply(fixed, RepairContext(expand_ops=frozenset({"LayerNormalization"})))
    assert repair is not None and "LayerNormalization x1" in repair.detail
    assert "LayerNormalization" not in {n.op_type for n in fixed.graph.node}
    _same(model, fixed, {"x": _x(2, 5, 8)})
    untouched = _copy(model)
    assert expand.apply(untouched, RepairContext(expand_ops=frozenset({"Gelu"}))) is None


def test_allowzero_writes_reshape_targets_out() -> None:
    model = _model([h.make_node("Reshape", ["x", "shape"], ["y"])],
                   [h.make_tensor_value_info("x", T.FLOAT, [2, 3, 4])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                   [numpy_helper.from_array(np.array([0, -1], np.int64), "shape")])
    model = onnx.shape_inference.infer_shapes(model)
    fixed = _copy(model)
    repair = allowzero.apply(fixed, RepairContext())
    assert repair is not None
    target = numpy_helper.to_array(next(t for t in fixed.graph.initializer if t.name == fixed.graph.node[0].input[1]))
    assert target.tolist() == [2, 12]
    _same(model, fixed, {"x": _x(2, 3, 4)})
    assert allowzero.explicit_shape((0, 3, 4), np.array([3, 4, 0]), allowzero=True) == (3, 4, 0)
    assert allowzero.explicit_shape((2, 3), np.array([0, 0, 0]), allowzero=False) is None


def test_split_with_uneven_parts_becomes_slices() -> None:
    model = _model([h.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)],
                   [h.make_tensor_value_info("x", T.FLOAT, [2, 7])],
                   [h.make_tensor_value_info(n, T.FLOAT, None) for n in "abc"], opset=18)
    model = onnx.shape_inference.infer_shapes(model)
    fixed = _copy(model)
    repair = split.apply(fixed, RepairContext())
    assert repair is not None and {n.op_type for n in fixed.graph.node} == {"Slice"}
    _same(model, fixed, {"x": _x(2, 7)})


def test_resize_cubic_becomes_exact_matmuls() -> None:
    model = _model([h.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic",
                                coordinate_transformation_mode="pytorch_half_pixel", cubic_coeff_a=-0.5)],
                   [h.make_tensor_value_info("x", T.FLOAT, [1, 2, 5, 6])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                   [numpy_helper.from_array(np.array([1, 1, 2, 1.5], np.float32), "scales")])
    model = onnx.shape_inference.infer_shapes(model)
    fixed = _copy(model)
    repair = resize.apply(fixed, RepairContext())
    assert repair is not None and "Resize" not in {n.op_type for n in fixed.graph.node}
    _same(model, fixed, {"x": _x(1, 2, 5, 6)})
    plain = _model([h.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest",
                                coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
                   [h.make_tensor_value_info("x", T.FLOAT, [1, 2, 4, 4])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                   [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    assert resize.apply(onnx.shape_inference.infer_shapes(plain), RepairContext()) is None  # onnx2tf maps it right


def test_token_ids_through_an_embedding_are_data_not_a_shape() -> None:
    """magika: int32 byte values -> Gather (embedding) -> ... -> Shape -> Reshape; the input is data, never frozen."""
    model = _model([h.make_node("Gather", ["table", "bytes"], ["emb"]), h.make_node("Shape", ["emb"], ["s"]),
                    h.make_node("Reshape", ["emb", "s"], ["y"])],
                   [h.make_tensor_value_info("bytes", T.INT32, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, None)],
                   [numpy_helper.from_array(_x(10, 3), "table")])
    assert params.shape_inputs(onnx.shape_inference.infer_shapes(model)) == {}


def test_an_input_an_if_branch_reads_by_name_is_followed() -> None:
    """An expanded AffineGrid: the size input reaches ConstantOfShape through an If whose branches read it from
    the outer scope (not as a node input)."""
    then_graph = h.make_graph([h.make_node("Identity", ["size"], ["t"])], "then", [],
                              [h.make_tensor_value_info("t", T.INT64, [2])])
    else_graph = h.make_graph([h.make_node("Neg", ["size"], ["e"])], "else", [],
                              [h.make_tensor_value_info("e", T.INT64, [2])])
    model = _model([h.make_node("If", ["flag"], ["dims"], then_branch=then_graph, else_branch=else_graph),
                    h.make_node("ConstantOfShape", ["dims"], ["zeros"]),
                    h.make_node("Add", ["x", "zeros"], ["y"])],
                   [h.make_tensor_value_info("x", T.FLOAT, [2, 3]), h.make_tensor_value_info("size", T.INT64, [2])],
                   [h.make_tensor_value_info("y", T.FLOAT, None)],
                   [numpy_helper.from_array(np.array(True), "flag")])
    model = onnx.shape_inference.infer_shapes(model)
    assert params.shape_inputs(model) == {"size": "ConstantOfShape input 0"}


def test_inputs_with_a_zero_size_dimension_are_empty_constants() -> None:
    """ReduceSum with an empty `axes` input (shape [0]: reduce everything): the input holds no values."""
    from edgekit.host.onnx.graph import empty_inputs, graph_inputs

    model = _model([h.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)],
                   [h.make_tensor_value_info("x", T.FLOAT, [3, 2]), h.make_tensor_value_info("axes", T.INT64, [0])],
                   [h.make_tensor_value_info("y", T.FLOAT, None)])
    found = empty_inputs(model)
    assert list(found) == ["axes"] and found["axes"].shape == (0,) and found["axes"].dtype == np.int64
    frozen, notes = params.freeze_empty_inputs(model)
    assert [i.name for i in graph_inputs(frozen)] == ["x"] and "zero-size" in notes[0]
    x = _x(3, 2)
    np.testing.assert_allclose(_run(frozen, {"x": x})[0], x.sum(keepdims=True), rtol=1e-6)
    dynamic = _model([h.make_node("Relu", ["x"], ["y"])], [h.make_tensor_value_info("x", T.FLOAT, ["n", 0])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)])
    assert empty_inputs(dynamic) == {}  # a symbolic dim: its size is the user's to give


def test_shape_setting_inputs_are_frozen_from_constant_data() -> None:
    model = _model([h.make_node("Reshape", ["x", "shape"], ["y"])],
                   [h.make_tensor_value_info("x", T.FLOAT, [2, 6]), h.make_tensor_value_info("shape", T.INT64, [2])],
                   [h.make_tensor_value_info("y", T.FLOAT, None)])
    assert params.shape_inputs(model) == {"shape": "Reshape input 1"}
    same = {"shape": np.array([[3, 4], [3, 4]], np.int64)}
    values = params.constant_values(model, same)
    assert list(values) == ["shape"] and values["shape"][0].tolist() == [3, 4]
    assert params.constant_values(model, {"shape": np.array([[3, 4], [4, 3]], np.int64)}) == {}
    frozen = params.freeze(model, {"shape": values["shape"][0]})
    assert [v.name for v in frozen.graph.input] == ["x"]
    x = _x(2, 6)
    np.testing.assert_array_equal(_run(frozen, {"x": x})[0], x.reshape(3, 4))


def test_run_repairs_lists_only_what_changed_and_refuses_unknown_passes() -> None:
    model = _model([h.make_node("Relu", ["x"], ["y"])], [h.make_tensor_value_info("x", T.FLOAT, [1, 2])],
                   [h.make_tensor_value_info("y", T.FLOAT, [1, 2])])
    done = run_repairs(model, RepairContext(), PASS_NAMES)
    assert [r.name for r in done] == ["names"]  # the unnamed Relu got a name; nothing else to do
    assert done[0].to_dict()["pass"] == "names"
    with pytest.raises(ValueError, match="unknown repair pass"):
        run_repairs(model, RepairContext(), ("nope",))


def test_fold_keeps_only_the_branch_a_constant_condition_takes() -> None:
    """Silero VAD v6: `If sr == 16000` with sr fixed from the data becomes the 16 kHz branch alone."""
    then_graph = h.make_graph([h.make_node("Relu", ["x"], ["t"])], "then", [], [h.make_tensor_value_info("t", T.FLOAT, None)])
    else_graph = h.make_graph([h.make_node("Neg", ["x"], ["e"])], "else", [], [h.make_tensor_value_info("e", T.FLOAT, None)])
    model = _model(
        [h.make_node("Equal", ["sr", "k16"], ["is16"]),
         h.make_node("If", ["is16"], ["y"], then_branch=then_graph, else_branch=else_graph)],
        [h.make_tensor_value_info("x", T.FLOAT, [1, 4]), h.make_tensor_value_info("sr", T.INT64, [])],
        [h.make_tensor_value_info("y", T.FLOAT, [1, 4])], [numpy_helper.from_array(np.array(16000, np.int64), "k16")])
    model = onnx.shape_inference.infer_shapes(model)  # the loader's fix_input_shapes records the element types
    assert params.shape_inputs(model) == {"sr": "If input 0"}  # through Equal: it picks the branch
    frozen = params.freeze(model, {"sr": np.array(16000, np.int64)})
    fixed = _copy(frozen)
    repair = fold.apply(fixed, RepairContext())
    assert repair is not None and "If" not in {n.op_type for n in fixed.graph.node}
    x = _x(1, 4)
    np.testing.assert_array_equal(_run(fixed, {"x": x})[0], np.maximum(x, 0))
