"""edgekit's own ONNX lowering, op by op, run eagerly in TensorFlow against onnxruntime (no .tflite: fast).

The conversion to .tflite is covered end to end in test_onnx_backends.py and, for every op of ONNX's node
test suite, by scripts/bench_onnx_matrix.py; here each tricky attribute combination is pinned down.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgekit.deps import available

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
if not available("tensorflow"):
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

from onnx import helper as h  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from edgekit.host.onnx.lower.base import Unsupported  # noqa: E402
from edgekit.host.onnx.lower.graph import run_graph  # noqa: E402

RNG = np.random.default_rng(0)


def _f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _case(op: str, inputs: dict[str, np.ndarray], consts: dict[str, np.ndarray] | None = None, opset: int = 17,
          n_out: int = 1, order: list[str] | None = None, extra: dict[str, np.ndarray] | None = None,
          **attrs: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """A one-node model: ``inputs`` (and ``extra``) are graph inputs, ``consts`` initializers; the node reads them
    in ``order`` (default: inputs, then consts)."""
    consts = consts or {}
    inputs = {**inputs, **(extra or {})}
    names = order or [*inputs, *consts]
    outs = [f"y{i}" for i in range(n_out)]
    node = h.make_node(op, names, outs, **attrs)
    graph = h.make_graph([node], "g", [h.make_tensor_value_info(k, h.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                                       for k, v in inputs.items()],
                         [onnx.ValueInfoProto(name=o) for o in outs],
                         [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 8
    return model, inputs


CASES = {
    "conv-groups-asymmetric-pads": lambda: _case("Conv", {"x": _f(1, 4, 7, 6)}, {"w": _f(6, 2, 3, 3), "b": _f(6)},
                                                 group=2, pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]),
    "conv-depthwise-same-lower": lambda: _case("Conv", {"x": _f(1, 3, 8, 8)}, {"w": _f(6, 1, 3, 3)}, group=3,
                                               auto_pad="SAME_LOWER", strides=[2, 2]),
    "conv-1d": lambda: _case("Conv", {"x": _f(1, 2, 9)}, {"w": _f(4, 2, 3)}, pads=[1, 1]),
    "conv-transpose-output-padding": lambda: _case("ConvTranspose", {"x": _f(1, 2, 4, 5)}, {"w": _f(2, 3, 3, 3)},
                                                   strides=[2, 2], output_padding=[1, 0], pads=[1, 0, 0, 1]),
    "maxpool-ceil-dilated": lambda: _case("MaxPool", {"x": _f(1, 2, 9, 9)}, kernel_shape=[3, 3], strides=[2, 2],
                                          dilations=[2, 1], ceil_mode=1),
    "maxpool-ceil-is-same": lambda: _case("MaxPool", {"x": _f(1, 2, 30, 80)}, kernel_shape=[3, 3], strides=[2, 2],
                                          ceil_mode=1),
    "maxpool-end-pads-are-same": lambda: _case("MaxPool", {"x": _f(1, 2, 7, 7)}, kernel_shape=[2, 2], strides=[2, 2],
                                               pads=[0, 0, 1, 1]),
    "maxpool-symmetric-pads-not-same": lambda: _case("MaxPool", {"x": _f(1, 2, 8, 8)}, kernel_shape=[3, 3],
                                                     strides=[2, 2], pads=[1, 1, 1, 1]),
    "avgpool-pads-exclude": lambda: _case("AveragePool", {"x": _f(1, 2, 5, 5)}, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                          count_include_pad=0),
    "lppool": lambda: _case("LpPool", {"x": _f(1, 2, 4, 4)}, kernel_shape=[2, 2], p=3),
    "resize-cubic-align-corners": lambda: _case("Resize", {"x": _f(1, 1, 4, 5)},
                                                {"roi": np.zeros(0, np.float32),
                                                 "scales": np.array([1, 1, 2, 0.6], np.float32)},
                                                mode="cubic", coordinate_transformation_mode="align_corners"),
    "resize-nearest-sizes": lambda: _case("Resize", {"x": _f(1, 2, 3, 3)},
                                          {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32),
                                           "sizes": np.array([1, 2, 7, 5], np.int64)},
                                          mode="nearest", nearest_mode="ceil"),
    "slice-negative-steps": lambda: _case("Slice", {"x": _f(5, 6)},
                                          {"s": np.array([-1, 4], np.int64), "e": np.array([-100, 0], np.int64),
                                           "a": np.array([0, 1], np.int64), "st": np.array([-2, -1], np.int64)}),
    "pad-reflect": lambda: _case("Pad", {"x": _f(1, 2, 4, 4)}, {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)},
                                 mode="reflect"),
    "pad-edge-negative": lambda: _case("Pad", {"x": _f(3, 4)}, {"p": np.array([1, -1, 2, 1], np.int64)}, mode="edge"),
    "pad-wrap": lambda: _case("Pad", {"x": _f(3, 4)}, {"p": np.array([2, 1, 1, 3], np.int64)}, mode="wrap", opset=19),
    "gather-elements-negative": lambda: _case("GatherElements", {"x": _f(3, 4)},
                                              {"i": np.array([[0, -1], [2, 1], [-3, 0]], np.int64)}, axis=1),
    "scatter-nd-add": lambda: _case("ScatterND", {"x": _f(4, 3)},
                                    {"i": np.array([[1], [1], [3]], np.int64), "u": _f(3, 3)}, reduction="add"),
    "topk-smallest-axis0": lambda: _case("TopK", {"x": _f(5, 3)}, {"k": np.array([2], np.int64)}, axis=0, largest=0,
                                     n_out=2),
    # C division (onnxruntime's) from FLOOR_DIV: TFLite has no truncating kernel, nor int64 ones
    "div-int32-truncates-toward-zero": lambda: _case("Div", {"a": np.array([-7, 7, -7, 7, -6, 0, -1], np.int32)},
                                                     {"b": np.array([2, -2, -2, 2, 4, -3, 5], np.int32)}),
    "div-int64-truncates-toward-zero": lambda: _case("Div", {"a": np.array([-7, 7, -7, 7, 299], np.int64)},
                                                     {"b": np.array([2, -2, -2, 2, 80], np.int64)}),
    "softmax-opset11-coerced": lambda: _case("Softmax", {"x": _f(2, 3, 4)}, axis=1, opset=11),
    "depth-to-space-crd": lambda: _case("DepthToSpace", {"x": _f(1, 8, 2, 3)}, blocksize=2, mode="CRD"),
    "erf": lambda: _case("Erf", {"x": _f(3, 7) * 2}),
    "acosh": lambda: _case("Acosh", {"x": np.abs(_f(4, 4)) + 1}),
    "cumsum-reverse-exclusive": lambda: _case("CumSum", {"x": _f(3, 5)}, {"a": np.array(1, np.int64)}, reverse=1,
                                              exclusive=1),
    "lstm-bidirectional-peephole": lambda: _case(
        "LSTM", {"x": _f(3, 2, 4)}, {"W": _f(2, 12, 4) * 0.5, "R": _f(2, 12, 3) * 0.5, "B": _f(2, 24) * 0.1,
                                     "seq": np.full(2, 3, np.int32), "h0": _f(2, 2, 3), "c0": _f(2, 2, 3),
                                     "P": _f(2, 9) * 0.1},
        hidden_size=3, direction="bidirectional", n_out=3),
    "gru-linear-before-reset": lambda: _case(
        "GRU", {"x": _f(3, 2, 4)}, {"W": _f(1, 9, 4) * 0.5, "R": _f(1, 9, 3) * 0.5, "B": _f(1, 18) * 0.1},
        hidden_size=3, linear_before_reset=1, n_out=2),
    "rnn-relu-clip": lambda: _case("RNN", {"x": _f(4, 1, 2)}, {"W": _f(1, 3, 2), "R": _f(1, 3, 3)}, hidden_size=3,
                                   activations=["Relu"], clip=0.5),
}


def _grid(*shape: int) -> np.ndarray:
    return RNG.uniform(-1.3, 1.3, shape).astype(np.float32)  # beyond [-1, 1]: the padding rules matter


# against the ONNX reference implementation (the standard's semantics; newer opsets than onnxruntime may run)
REFERENCE_CASES = {
    "dft-rfft-onesided": lambda: _case("DFT", {"x": _f(2, 6, 1)}, onesided=1, axis=1),
    "dft-inverse-complex-opset20-axis": lambda: _case("DFT", {"x": _f(2, 5, 3, 2)},
                                                      {"n": np.array(4, np.int64), "a": np.array(-3, np.int64)},
                                                      opset=20, inverse=1),
    "dft-irfft": lambda: _case("DFT", {"x": _f(1, 5, 2)}, {"n": np.array(8, np.int64)}, inverse=1, onesided=1),
    "stft-window": lambda: _case("STFT", {"x": _f(1, 32, 1)},
                                 {"step": np.array(4, np.int64), "w": np.hanning(8).astype(np.float32)}),
    "col2im-strided-padded": lambda: _case("Col2Im", {"x": _f(1, 2 * 4, 9)},
                                           {"img": np.array([5, 5], np.int64), "blk": np.array([2, 2], np.int64)},
                                           strides=[2, 2], pads=[1, 1, 1, 1], opset=18),
    "gridsample-bilinear-reflection": lambda: _case("GridSample", {"x": _f(1, 2, 4, 5), "g": _grid(1, 3, 6, 2)},
                                                    mode="linear", padding_mode="reflection", opset=20),
    "gridsample-bicubic-border-aligned": lambda: _case("GridSample", {"x": _f(2, 1, 5, 4), "g": _grid(2, 4, 3, 2)},
                                                       mode="cubic", padding_mode="border", align_corners=1,
                                                       opset=20),
    "gridsample-nearest-zeros-3d": lambda: _case("GridSample", {"x": _f(1, 2, 3, 4, 5), "g": _grid(1, 2, 3, 4, 3)},
                                                 mode="nearest", padding_mode="zeros", opset=20),
    "resize-sizes-not-larger": lambda: _case("Resize", {"x": _f(1, 1, 4, 6)},
                                             {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32),
                                              "sizes": np.array([7, 8], np.int64)},
                                             mode="linear", axes=[2, 3], keep_aspect_ratio_policy="not_larger",
                                             opset=18),
    "mod-fmod-mixed-signs": lambda: _case("Mod", {"a": _f(3, 4) * 5, "b": _f(3, 4) + 0.5}, fmod=1),
    "flatten-minus-rank": lambda: _case("Flatten", {"x": _f(2, 3, 4)}, axis=-3),
    "space-to-depth-crd": lambda: _case("SpaceToDepth", {"x": _f(1, 2, 4, 6)}, blocksize=2, mode="CRD", opset=25),
    "pad-value-from-an-input": lambda: _case("Pad", {"x": _f(2, 3)}, {"p": np.array([1, 0, 0, 2], np.int64)},
                                             order=["x", "p", "v"], extra={"v": np.array(-2.5, np.float32)}),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_lowering_matches_the_onnx_reference(name: str) -> None:
    import tensorflow as tf
    from onnx.reference import ReferenceEvaluator

    model, feeds = REFERENCE_CASES[name]()
    want = ReferenceEvaluator(model).run(None, feeds)
    env = run_graph(model, {k: tf.constant(v) for k, v in feeds.items()}, model.opset_import[0].version)
    for out, expected in zip(model.graph.output, want, strict=True):
        got = np.asarray(env[out.name])
        assert got.shape == expected.shape, out.name
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=5e-5, err_msg=f"{name}: {out.name}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_lowering_matches_onnxruntime(name: str) -> None:
    import tensorflow as tf

    model, feeds = CASES[name]()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, feeds)
    env = run_graph(model, {k: tf.constant(v) for k, v in feeds.items()}, model.opset_import[0].version)
    for out, expected in zip(model.graph.output, want, strict=True):
        got = np.asarray(env[out.name])
        assert got.shape == expected.shape, out.name
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-5, err_msg=f"{name}: {out.name}")


def test_unsupported_ops_name_the_op_node_and_reason() -> None:
    import tensorflow as tf

    model, feeds = _case("NonZero", {"x": _f(2, 3)})
    model.graph.node[0].name = "nz_1"
    with pytest.raises(Unsupported) as exc:
        run_graph(model, {"x": tf.constant(feeds["x"])}, 17)
    assert (exc.value.op, exc.value.node) == ("NonZero", "nz_1") and "no lowering" in exc.value.reason
    model, feeds = _case("Reshape", {"x": _f(2, 3), "shape": np.array([3, 2], np.int64)})
    with pytest.raises(Unsupported, match="must be a constant"):
        run_graph(model, {k: tf.constant(v) for k, v in feeds.items()}, 17)
