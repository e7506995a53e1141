"""Tiny ONNX models for the ONNX tests, built with onnx.helper (no files from the network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _onnx() -> Any:
    import onnx

    return onnx


def _model(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: list[Any], opset: int = 17) -> Any:
    onnx = _onnx()
    h = onnx.helper
    graph = h.make_graph(nodes, "edgekit_test", inputs, outputs, inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="edgekit-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _init(name: str, array: np.ndarray) -> Any:
    return _onnx().numpy_helper.from_array(array, name)


def kitchen_sink_model(path: Path) -> Path:
    """NCHW image model with a symbolic batch: conv/relu/maxpool/resize/concat/transpose/layernorm/
    reducemean/gemm/softmax; two outputs: class scores 'probs' [N,10] and a 4-D feature map 'features' [N,8,16,16]."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    rng = np.random.default_rng(1)
    inits = [
        _init("w1", (rng.standard_normal((8, 3, 3, 3)) * 0.4).astype(np.float32)),
        _init("b1", (rng.standard_normal(8) * 0.1).astype(np.float32)),
        _init("scales", np.array([1, 1, 2, 2], np.float32)),
        _init("ln_scale", (1 + rng.standard_normal(16) * 0.1).astype(np.float32)),
        _init("ln_bias", (rng.standard_normal(16) * 0.1).astype(np.float32)),
        _init("wg", (rng.standard_normal((16, 10)) * 0.5).astype(np.float32)),
        _init("bg", (rng.standard_normal(10) * 0.1).astype(np.float32)),
    ]
    nodes = [
        h.make_node("Conv", ["image", "w1", "b1"], ["conv"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["conv"], ["features"]),
        h.make_node("MaxPool", ["features"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Resize", ["pool", "", "scales"], ["up"], mode="nearest"),
        h.make_node("Concat", ["features", "up"], ["cat"], axis=1),
        h.make_node("Transpose", ["cat"], ["nhwc"], perm=[0, 2, 3, 1]),
        h.make_node("LayerNormalization", ["nhwc", "ln_scale", "ln_bias"], ["ln"], axis=-1),
        h.make_node("ReduceMean", ["ln"], ["mean"], axes=[1, 2], keepdims=0),
        h.make_node("Gemm", ["mean", "wg", "bg"], ["logits"]),
        h.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    model = _model(
        nodes,
        [h.make_tensor_value_info("image", T.FLOAT, ["batch", 3, 16, 16])],
        [h.make_tensor_value_info("probs", T.FLOAT, ["batch", 10]),
         h.make_tensor_value_info("features", T.FLOAT, ["batch", 8, 16, 16])],
        inits,
    )
    onnx.save(model, str(path))
    return path


def two_input_model(path: Path) -> Path:
    """Audio frames with a symbolic time axis [1, T, 20] float + token ids [1, 4] int64 -> scores [1, 5]."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    rng = np.random.default_rng(2)
    inits = [
        _init("table", rng.standard_normal((10, 20)).astype(np.float32)),
        _init("proj", (rng.standard_normal((20, 5)) * 0.5).astype(np.float32)),
    ]
    nodes = [
        h.make_node("Gather", ["table", "tokens"], ["emb"], axis=0),
        h.make_node("ReduceMean", ["emb"], ["emb_mean"], axes=[1], keepdims=0),
        h.make_node("ReduceMean", ["frames"], ["frames_mean"], axes=[1], keepdims=0),
        h.make_node("Add", ["emb_mean", "frames_mean"], ["both"]),
        h.make_node("MatMul", ["both", "proj"], ["scores"]),
    ]
    model = _model(
        nodes,
        [h.make_tensor_value_info("frames", T.FLOAT, [1, "time", 20]),
         h.make_tensor_value_info("tokens", T.INT64, [1, 4])],
        [h.make_tensor_value_info("scores", T.FLOAT, [1, 5])],
        inits,
    )
    onnx.save(model, str(path))
    return path


def lppool_model(path: Path) -> Path:
    """LpPool: onnxruntime runs it, onnx2tf 1.28.8 has no converter for it."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    nodes = [h.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2], p=2)]
    model = _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [1, 2, 4, 4])],
                   [h.make_tensor_value_info("y", T.FLOAT, [1, 2, 3, 3])], [])
    onnx.save(model, str(path))
    return path


def external_data_model(path: Path) -> Path:
    """A small MatMul model whose weight lives in an external data file next to it."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    w = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096.0
    model = _model([h.make_node("MatMul", ["x", "w"], ["y"])],
                   [h.make_tensor_value_info("x", T.FLOAT, [1, 64])],
                   [h.make_tensor_value_info("y", T.FLOAT, [1, 64])], [_init("w", w)])
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=path.name + ".data", size_threshold=0)
    return path


def new_opset_model(path: Path) -> Path:
    """A model that claims an opset far newer than any onnx knows (written without the checker)."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [1, 4])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 4])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 99)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def lstm_state_model(path: Path, cell: str = "LSTM") -> Path:
    """A streaming recurrent model: frames [1, 4, 6] + explicit state in, scores [1, 3] + next state out.

    LSTM: state inputs ``h``/``c`` [1, 1, 8] -> outputs ``hn``/``cn``; GRU: ``h`` -> ``hn``. A Gemm head on the last
    step, as voice-activity and keyword models have.
    """
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    rng = np.random.default_rng(7)
    hidden, feat = 8, 6
    gates = 4 if cell == "LSTM" else 3
    inits = [
        _init("W", (rng.standard_normal((1, gates * hidden, feat)) * 0.4).astype(np.float32)),
        _init("R", (rng.standard_normal((1, gates * hidden, hidden)) * 0.4).astype(np.float32)),
        _init("B", (rng.standard_normal((1, 2 * gates * hidden)) * 0.1).astype(np.float32)),
        _init("head_w", (rng.standard_normal((hidden, 3)) * 0.5).astype(np.float32)),
        _init("head_b", np.zeros(3, np.float32)),
        _init("seq_first", np.array([1, 0, 2], np.int64)),
    ]
    states_in = ["h", "c"] if cell == "LSTM" else ["h"]
    states_out = ["hn", "cn"] if cell == "LSTM" else ["hn"]
    rnn_inputs = ["x_t", "W", "R", "B", "", *states_in]
    nodes = [
        h.make_node("Transpose", ["frames"], ["x_t"], perm=[1, 0, 2]),
        h.make_node(cell, rnn_inputs, ["y", *states_out], hidden_size=hidden),
        h.make_node("Squeeze", ["hn", "zero"], ["last"]),
        h.make_node("Gemm", ["last", "head_w", "head_b"], ["logits"]),
        h.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    inits.append(_init("zero", np.array([0], np.int64)))
    model = _model(
        nodes,
        [h.make_tensor_value_info("frames", T.FLOAT, [1, 4, feat]),
         *[h.make_tensor_value_info(s, T.FLOAT, [1, 1, hidden]) for s in states_in]],
        [h.make_tensor_value_info("scores", T.FLOAT, [1, 3]),
         *[h.make_tensor_value_info(s, T.FLOAT, [1, 1, hidden]) for s in states_out]],
        [i for i in inits if i.name != "seq_first"],
    )
    onnx.save(model, str(path))
    return path


def sample_rate_branch_model(path: Path) -> Path:
    """Silero VAD v6's shape: ``x`` [1, 4] and ``state`` [1, 3] in, ``y`` and ``stateN`` out, and a scalar int64
    ``sr`` that picks a branch (``If sr == 16000``): convert fixes ``sr`` from the data, so the .tflite has no such
    input."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    then_graph = h.make_graph([h.make_node("Relu", ["x"], ["t"])], "then", [],
                              [h.make_tensor_value_info("t", T.FLOAT, [1, 4])])
    else_graph = h.make_graph([h.make_node("Neg", ["x"], ["e"])], "else", [],
                              [h.make_tensor_value_info("e", T.FLOAT, [1, 4])])
    model = _model(
        [h.make_node("Equal", ["sr", "k16"], ["is16"]),
         h.make_node("If", ["is16"], ["y"], then_branch=then_graph, else_branch=else_graph),
         h.make_node("Add", ["state", "half"], ["s1"]), h.make_node("Tanh", ["s1"], ["stateN"])],
        [h.make_tensor_value_info("x", T.FLOAT, [1, 4]), h.make_tensor_value_info("state", T.FLOAT, [1, 3]),
         h.make_tensor_value_info("sr", T.INT64, [])],
        [h.make_tensor_value_info("y", T.FLOAT, [1, 4]), h.make_tensor_value_info("stateN", T.FLOAT, [1, 3])],
        [_init("k16", np.array(16000, np.int64)), _init("half", np.full((1, 3), 0.5, np.float32))],
    )
    onnx.save(model, str(path))
    return path


def contrib_op_model(path: Path) -> Path:
    """A model with an onnxruntime contrib op (com.microsoft), as onnxruntime's quantize_dynamic leaves them."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    graph = h.make_graph([h.make_node("FastGelu", ["x"], ["y"], domain="com.microsoft", name="gelu_1")], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [1, 8])], [h.make_tensor_value_info("y", T.FLOAT, [1, 8])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def end2end_head_model(path: Path, anchors: int = 64, classes: int = 5, k: int = 10) -> Path:
    """The NMS-free tail of a YOLOv10/YOLO26 export (Ultralytics ``end2end``): boxes [1,A,4] and logits [1,A,C] ->
    the K best anchors by max class score (TopK) -> the K best (anchor, class) pairs among them (TopK over the
    flattened scores; anchor = index // C and class = index % C, int64 Div and Mod) -> rows [1,K,6] of
    (x1, y1, x2, y2, score, class), sorted by score. The K constant is 1-D [K], as the exporter writes it."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    nodes = [
        h.make_node("Sigmoid", ["logits"], ["scores"]),
        h.make_node("ReduceMax", ["scores"], ["best"], axes=[-1], keepdims=0, name="best_class"),
        h.make_node("TopK", ["best", "k"], ["v1", "i1"], axis=-1, name="topk_anchors"),
        h.make_node("Unsqueeze", ["i1", "ax2"], ["i1u"]),
        h.make_node("Expand", ["i1u", "shape_box"], ["i1b"]),
        h.make_node("GatherElements", ["boxes", "i1b"], ["sel_boxes"], axis=1),
        h.make_node("Expand", ["i1u", "shape_cls"], ["i1c"]),
        h.make_node("GatherElements", ["scores", "i1c"], ["sel_scores"], axis=1),
        h.make_node("Flatten", ["sel_scores"], ["flat"], axis=1),
        h.make_node("TopK", ["flat", "k"], ["v2", "i2"], axis=-1, name="topk_pairs"),
        h.make_node("Mod", ["i2", "n_cls"], ["cls"]),
        h.make_node("Div", ["i2", "n_cls"], ["anchor"], name="anchor_of_pair"),
        h.make_node("Unsqueeze", ["anchor", "ax2"], ["anchor_u"]),
        h.make_node("Expand", ["anchor_u", "shape_box"], ["anchor_b"]),
        h.make_node("GatherElements", ["sel_boxes", "anchor_b"], ["out_boxes"], axis=1),
        h.make_node("Unsqueeze", ["v2", "ax2"], ["out_scores"]),
        h.make_node("Cast", ["cls"], ["cls_f"], to=T.FLOAT),
        h.make_node("Unsqueeze", ["cls_f", "ax2"], ["out_cls"]),
        h.make_node("Concat", ["out_boxes", "out_scores", "out_cls"], ["detections"], axis=-1),
    ]
    inits = [_init("k", np.array([k], np.int64)), _init("ax2", np.array([2], np.int64)),
             _init("shape_box", np.array([1, k, 4], np.int64)), _init("shape_cls", np.array([1, k, classes], np.int64)),
             _init("n_cls", np.array(classes, np.int64))]
    model = _model(nodes, [h.make_tensor_value_info("boxes", T.FLOAT, [1, anchors, 4]),
                           h.make_tensor_value_info("logits", T.FLOAT, [1, anchors, classes])],
                   [h.make_tensor_value_info("detections", T.FLOAT, [1, k, 6])], inits)
    path.write_bytes(model.SerializeToString())
    return path
