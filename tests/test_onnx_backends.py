"""The ONNX backends: the registry, forcing one with --backend, falling back to edgekit's lowering, streaming
models with explicit state (convert's sequence check, verify --stateful), and errors that name the op."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.core.onnx_backend import AUTO_ORDER, BACKEND_HELP, OnnxBackend
from edgekit.deps import available
from edgekit.errors import UsageError

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")

from onnx_helpers import contrib_op_model, lppool_model, lstm_state_model  # noqa: E402

from edgekit.host.onnx.attempts import Attempt, all_failed_error, foreign_ops_error  # noqa: E402
from edgekit.host.onnx.backends import REGISTRY, backend_order, function_ops  # noqa: E402


def _json(output: str) -> dict[str, Any]:
    """The JSON object in a CliRunner output (stderr lines may come before and after it)."""
    value, _ = json.JSONDecoder().raw_decode(output[output.index("{"):])
    return dict(value)


needs_tf = pytest.mark.skipif(not available("tensorflow"), reason="TensorFlow is not installed")


def test_every_backend_name_is_registered_and_documented() -> None:
    assert set(REGISTRY) == set(OnnxBackend) - {OnnxBackend.AUTO}
    assert set(BACKEND_HELP) == set(OnnxBackend)
    assert list(AUTO_ORDER) == [OnnxBackend.ONNX2TF, OnnxBackend.LOWER]


def test_backend_order_forces_one_and_refuses_unknown_names() -> None:
    assert [b.name for b in backend_order("lower")] == [OnnxBackend.LOWER]
    with pytest.raises(UsageError) as exc:
        backend_order("tflite-magic")
    assert "auto, onnx2tf, lower" in exc.value.hint


def test_lower_backend_expands_only_function_ops_it_does_not_lower() -> None:
    lower = REGISTRY[OnnxBackend.LOWER].expand_ops()
    assert "Attention" in lower and "LayerNormalization" not in lower  # lowered natively
    assert lower <= function_ops()
    assert "LayerNormalization" in REGISTRY[OnnxBackend.ONNX2TF].expand_ops()  # onnx2tf gets it wrong


def test_cli_lists_the_backends_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", "--help"])
    assert "--backend [auto|onnx2tf|lower]" in result.output and "--state IN=OUT" in result.output
    bad = CliRunner().invoke(main, ["convert", "m.onnx", "-o", str(tmp_path / "o.tflite"), "--backend", "tvm"])
    assert bad.exit_code == 2 and "'tvm' is not one of 'auto', 'onnx2tf', 'lower'" in bad.output


def test_error_when_every_backend_fails_names_op_node_attempts_and_fix() -> None:
    attempts = [Attempt("onnx2tf", "convert", "ValueError: initial_state is not compatible", "LSTM", "lstm_1"),
                Attempt("lower", "convert", "sequence_lens that differ from the sequence length", "LSTM", "lstm_1")]
    error = all_failed_error("vad.onnx", attempts)
    assert error.exit_code == 3
    assert error.message.startswith("Could not convert vad.onnx: no backend converts its LSTM node 'lstm_1'.")
    assert "Tried: onnx2tf failed at LSTM node 'lstm_1'" in error.message and "lower failed at LSTM" in error.message
    assert "pack_padded_sequence" in error.hint
    mismatch = all_failed_error("m.onnx", [Attempt("onnx2tf", "check", "output 'y' differs by up to 3", None, None)])
    assert "differs from onnxruntime" in mismatch.message and "--keep-nchw" in mismatch.hint


def test_contrib_ops_are_refused_before_converting(tmp_path: Path) -> None:
    path = contrib_op_model(tmp_path / "contrib.onnx")
    error = foreign_ops_error(onnx.load(str(path)), "contrib.onnx")
    assert error is not None and error.exit_code == 3
    assert "FastGelu (node 'gelu_1', domain com.microsoft)" in error.message
    assert "quantize_dynamic" in error.hint


@pytest.mark.slow
@needs_tf
def test_contrib_op_cli_is_exit_3_naming_the_op(tmp_path: Path) -> None:
    path = contrib_op_model(tmp_path / "contrib.onnx")
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "c.tflite"), "--quantize", "none"])
    assert result.exit_code == 3, result.output
    assert "FastGelu" in result.output and "Hint: Export-side fix" in result.output


@pytest.mark.slow
@needs_tf
@pytest.mark.skipif(not available("onnx2tf"), reason="onnx2tf is not installed")
def test_auto_falls_back_to_the_lowering_and_says_so(tmp_path: Path) -> None:
    """LpPool: onnx2tf 1.28.8 has no converter for it; edgekit's lowering does; --backend onnx2tf forces the failure."""
    path = lppool_model(tmp_path / "lppool.onnx")
    forced = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "f.tflite"), "--quantize", "none",
                                       "--backend", "onnx2tf"])
    assert forced.exit_code == 3, forced.output
    error_line = next(line for line in forced.output.splitlines() if line.startswith("Error:"))
    assert "LpPool" in error_line and "Tried: onnx2tf failed" in error_line and len(error_line) < 1000
    bundle = tmp_path / "bundle"
    auto = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "a.tflite"), "--quantize", "none",
                                     "--bundle", str(bundle), "--json"])
    assert auto.exit_code == 0, auto.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["conversion"]["backend"] == "lower"
    assert manifest["conversion"]["attempts"][0]["backend"] == "onnx2tf"
    assert "onnx2tf was tried first" in auto.output
    assert manifest["inputs"][0]["to_tflite_perm"] is None  # the lowering keeps the ONNX layout


@pytest.mark.slow
@needs_tf
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_recurrent_model_with_explicit_state_converts_and_verifies_over_a_sequence(tmp_path: Path, cell: str) -> None:
    path = lstm_state_model(tmp_path / f"{cell.lower()}.onnx", cell)
    out = tmp_path / f"{cell.lower()}.tflite"
    result = CliRunner().invoke(main, ["--debug", "convert", str(path), "-o", str(out), "--quantize", "none",
                                       "--backend", "lower", "--json"])
    assert result.exit_code == 0, result.output[-3000:]
    converted = _json(result.output[result.output.index("{\n"):])
    assert converted["conversion"]["backend"] == "lower"
    notes = " ".join(converted["notes"])
    pairs = "h <- hn, c <- cn" if cell == "LSTM" else "h <- hn"
    assert f"state carried between calls: {pairs} (paired by name and shape)" in notes
    assert "stateful check: 8 calls in a row" in notes
    rng = np.random.default_rng(1)
    data = tmp_path / "frames.npz"
    np.savez(data, frames=rng.standard_normal((12, 1, 4, 6)).astype(np.float32))
    verified = CliRunner().invoke(main, ["verify", str(path), str(out), "--stateful", "--data", str(data), "--json"])
    assert verified.exit_code == 0, verified.output
    report = _json(verified.output)
    assert report["samples"] == 12 and report["passed"]
    assert any("stateful: 12 calls in a row" in n for n in report["notes"])
    if cell == "LSTM":  # an explicit pairing that does not fit is a usage error naming both shapes
        bad = CliRunner().invoke(main, ["verify", str(path), str(out), "--stateful", "--state", "frames=hn"])
        assert bad.exit_code == 2 and "differ in shape" in bad.output


@pytest.mark.slow
@needs_tf
def test_int8_of_a_streaming_model_is_checked_over_a_sequence(tmp_path: Path) -> None:
    """convert's check of a quantized streaming model runs the calls in order, each model feeding its own state
    back (as tune judges and `verify --stateful` does), not each call alone on the recorded states."""
    import onnxruntime as ort

    path = lstm_state_model(tmp_path / "lstm.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((40, 1, 4, 6)).astype(np.float32)
    h = np.zeros((40, 1, 1, 8), np.float32)
    c = np.zeros((40, 1, 1, 8), np.float32)
    for t in range(39):  # the states the original carries into each call, from zero
        _, h[t + 1], c[t + 1] = session.run(["scores", "hn", "cn"], {"frames": frames[t], "h": h[t], "c": c[t]})
    calib = tmp_path / "stream.npz"
    np.savez(calib, frames=frames, h=h, c=c)
    out = tmp_path / "lstm_int8.tflite"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(out), "--backend", "lower",
                                       "--calibration", str(calib), "--io-type", "float32", "--json"])
    assert result.exit_code in (0, 1), result.output[-3000:]  # 1: the check failed, the file is written
    converted = _json(result.output[result.output.index("{\n"):])
    assert converted["check"]["inputs"] == ("16 of the calibration samples, as one sequence of calls (each model "
                                            "carrying its own state)")
    assert converted["check"]["samples"] == 16
    assert {o["name"] for o in converted["check"]["outputs"]} == {"scores", "hn", "cn"}


@pytest.mark.slow
@needs_tf
@pytest.mark.parametrize("pool", [{"ceil_mode": 1}, {"pads": [1, 1, 1, 1]}], ids=["ceil-mode-same", "torch-pads"])
@pytest.mark.parametrize("backend", ["lower", "onnx2tf"])
def test_a_padded_maxpool_quantizes_to_int8_that_xnnpack_runs(tmp_path: Path, pool: dict[str, Any],
                                                              backend: str) -> None:
    """captcha-whisperer's CRNN: a ceil_mode MaxPool after the stem was lowered as PAD(-3.4e38) + VALID pool;
    int8 shared that range with the conv before it (scale 1.3e36) and XNNPACK refused to build the runtime
    ("failed to prepare"): the file could not be loaded. A SAME pool needs no pad value; other pads (PyTorch's
    k3 s2 p1) repeat the edge values, which every window reaching the padding holds anyway. onnx2tf wrote the
    same PAD: the `maxpool` repair gives both backends a pool without padding."""
    if backend == "onnx2tf" and not available("onnx2tf"):
        pytest.skip("onnx2tf is not installed")
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    from edgekit.tflite.model import load_model
    from edgekit.tflite.runtime import load_interpreter

    rng = np.random.default_rng(0)
    nodes = [h.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c"], ["r"]),
             h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], **pool),
             h.make_node("Conv", ["p", "W2"], ["y"])]
    inits = [nh.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "W"),
             nh.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "B"),
             nh.from_array(rng.normal(0, 0.3, (4, 8, 1, 1)).astype(np.float32), "W2")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 30, 80])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 4, 15, 40])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "pool.onnx"
    onnx.save(model, str(path))
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=rng.uniform(-1, 1, (24, 1, 3, 30, 80)).astype(np.float32))
    out = tmp_path / "pool_int8.tflite"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(out), "--backend", backend,
                                       "--calibration", str(calib)])
    assert result.exit_code == 0, result.output[-3000:]
    converted = load_model(out)
    assert not {"PAD", "PADV2"} & set(converted.op_histogram())
    scales = [float(np.max(t.quant.scale)) for t in converted.main.tensors if t.quant is not None and t.dtype == "int8"]
    assert scales and max(scales) < 1.0, max(scales)
    load_interpreter(out)  # XNNPACK builds its runtime (it raised "failed to prepare" before)


@needs_tf
@pytest.mark.parametrize("backend", ["auto", "lower"])
def test_an_end2end_detector_head_converts_and_verifies_on_both_backends(tmp_path: Path, backend: str) -> None:
    """YOLOv10/YOLO26's NMS-free tail: two TopKs with a 1-D k (onnx2tf 1.28.8 needs NumPy < 2.4 for it) and int64
    Div/Mod (the lowering's C division from TFLite's FLOOR_DIV: TFLite has no TruncateDiv). Its [1,K,6] rows are
    ranked by a TopK, which convert's check and verify know (edgekit.verify.ranked)."""
    from onnx_helpers import end2end_head_model

    path = end2end_head_model(tmp_path / "head.onnx")
    bundle = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "head.tflite"), "--quantize", "none",
                                       "--backend", backend, "--bundle", str(bundle), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["conversion"]["backend"] == "lower"
    if backend == "auto":  # onnx2tf converts the TopKs now, but gets these 3-D inputs wrong: the check catches it
        first = manifest["conversion"]["attempts"][0]
        assert first["backend"] == "onnx2tf" and first["stage"] == "check", first  # it converted
        assert "0-dimensional" not in json.dumps(first)
    checked = CliRunner().invoke(main, ["verify", str(bundle), "--json"])
    assert checked.exit_code == 0, checked.output
    [out] = _json(checked.output)["outputs"]
    assert out["ranked_rows"] == 10 and out["cosine"] > 0.9999


def test_the_onnxruntime_check_compares_ranked_rows_tie_aware() -> None:
    """convert's onnxruntime check (host/onnx/check.py) aligns a TopK-ranked output as verify does: both the
    reordered candidate and the reference rows compared by score only (once it passed a zeroed candidate against
    the unchanged reference: isbnx's YOLO26n 'differed by 889' on document pages)."""
    from edgekit.host.onnx.check import _compare

    rng = np.random.default_rng(3)
    ref = np.zeros((1, 8, 6))
    ref[..., :4] = rng.uniform(0, 640, (1, 8, 4))
    ref[0, :, 4] = [0.9, 0.5, 0.5, 0.2, 1e-7, 1e-7, 1e-7, 1e-7]
    got = ref.copy()
    got[0, [1, 2]] = got[0, [2, 1]]  # a tie ordered the other way
    got[0, 6, :4] = [1, 2, 3, 4]  # another candidate of the cut-off score
    assert _compare("det", ref, got, (0, 1, 2), 0, 1e-3, 1e-4, None, 8).ok
    assert not _compare("det", ref, got, (0, 1, 2), 0, 1e-3, 1e-4, None, None).ok
    got[0, 0, 0] += 5.0  # the best box moved: no tie excuses that
    assert not _compare("det", ref, got, (0, 1, 2), 0, 1e-3, 1e-4, None, 8).ok
