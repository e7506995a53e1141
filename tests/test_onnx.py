"""ONNX loader: validation, symbolic shapes, layout helpers, log condensing, network guard (no onnx2tf run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import BackendError, InputError, ModelFormatError, UsageError

pytestmark = pytest.mark.convert

onnx = pytest.importorskip("onnx")

from onnx_helpers import external_data_model, kitchen_sink_model, new_opset_model, two_input_model  # noqa: E402

from edgekit.core.shapes import InputDims, ShapeRequest, resolve_shapes  # noqa: E402
from edgekit.host.onnx import graph as og  # noqa: E402
from edgekit.host.onnx import load as ol  # noqa: E402
from edgekit.host.onnx import reference as oref  # noqa: E402
from edgekit.host.onnx.check import OutputError, make_check_inputs  # noqa: E402
from edgekit.host.onnx.worker import NETWORK_BLOCKED, signature_key  # noqa: E402
from edgekit.host.source_model import LoadOptions  # noqa: E402


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx_models")


@pytest.fixture(scope="session")
def two_input(onnx_dir: Path) -> Path:
    return two_input_model(onnx_dir / "two_input.onnx")


@pytest.fixture(scope="session")
def kitchen_sink(onnx_dir: Path) -> Path:
    return kitchen_sink_model(onnx_dir / "kitchen_sink.onnx")


def test_corrupt_file_is_a_model_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not protobuf" * 10)
    with pytest.raises(ModelFormatError) as exc:
        ol.load_onnx(bad)
    assert "bad.onnx" in exc.value.message
    assert exc.value.exit_code == 2


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        ol.load_onnx(tmp_path / "nope.onnx")


def test_missing_external_data_names_the_file(tmp_path: Path) -> None:
    path = external_data_model(tmp_path / "ext.onnx")
    assert og.read_onnx(path).graph.initializer[0].name == "w"  # loads fine while the data is there
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.raises(InputError) as exc:
        ol.load_onnx(path)
    assert "ext.onnx.data" in exc.value.message
    assert "ext.onnx.data" in exc.value.hint
    assert exc.value.exit_code == 2


def test_external_data_is_read_into_the_model(tmp_path: Path) -> None:
    path = external_data_model(tmp_path / "ext.onnx")
    model = og.read_onnx(path)
    weights = onnx.numpy_helper.to_array(model.graph.initializer[0])
    assert weights.shape == (64, 64) and float(weights[1, 0]) == pytest.approx(64 / 4096)


def test_unsupported_opset_is_rejected(tmp_path: Path) -> None:
    path = new_opset_model(tmp_path / "future.onnx")
    with pytest.raises(ModelFormatError) as exc:
        ol.load_onnx(path)
    assert "opset 99" in exc.value.message
    assert "opset_version" in exc.value.hint


def test_checker_error_is_condensed(tmp_path: Path) -> None:
    h, T = onnx.helper, onnx.TensorProto
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"]), h.make_node("Relu", ["nowhere"], ["z"])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("z", T.FLOAT, [1, 4])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    path = tmp_path / "broken.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelFormatError) as exc:
        ol.load_onnx(path)
    assert "not a valid ONNX model" in exc.value.message
    assert "\n" not in exc.value.message and len(exc.value.message) < 500


def test_symbolic_spatial_dim_without_input_shape_lists_the_inputs(two_input: Path) -> None:
    with pytest.raises(InputError) as exc:
        ol.load_onnx(two_input)
    msg = exc.value.message
    assert "frames [1, time, 20] float32" in msg
    assert "tokens [1, 4] int64" in msg
    assert "--input-shape frames=1,N,20" in exc.value.hint


def _shapes(inputs: list[InputDims], **request: object) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    resolved, notes = resolve_shapes(inputs, ShapeRequest(**request))  # type: ignore[arg-type]
    return {r.name: r.shape for r in resolved}, notes


def test_symbolic_batch_defaults_to_one_or_batch(kitchen_sink: Path) -> None:
    inputs = og.graph_inputs(og.read_onnx(kitchen_sink))
    shapes, notes = _shapes(inputs)
    assert shapes == {"image": (1, 3, 16, 16)}
    assert "fixed to 1" in notes[0]
    shapes, _ = _shapes(inputs, batch=4)
    assert shapes == {"image": (4, 3, 16, 16)}


def test_input_shape_errors(two_input: Path) -> None:
    inputs = og.graph_inputs(og.read_onnx(two_input))
    with pytest.raises(UsageError, match="does not have"):
        _shapes(inputs, input_shapes=(("audio", (1, 5, 20)),))
    with pytest.raises(UsageError, match="has 2 dims but the input has 3"):
        _shapes(inputs, input_shapes=(("frames", (1, 5)),))
    # an ONNX graph is rebuilt at another size when asked (CenterFace ships [10, 3, 32, 32]); a note says so
    resized, notes = _shapes(inputs, input_shapes=(("frames", (1, 5, 21)),))
    assert resized["frames"] == (1, 5, 21) and any("set to [1, 5, 21] as asked (axis 2" in n for n in notes)
    with pytest.raises(UsageError, match="ambiguous"):
        _shapes(inputs, input_shapes=(("", (1, 5, 20)),))
    shapes, _ = _shapes(inputs, input_shapes=(("frames", (1, 7, 20)),))
    assert shapes == {"frames": (1, 7, 20), "tokens": (1, 4)}


def test_batch_on_a_fixed_batch_onnx_input_is_an_error(two_input: Path) -> None:
    """--batch used to be silently ignored for ONNX inputs with a fixed batch (an error for Keras): now both refuse."""
    inputs = og.graph_inputs(og.read_onnx(two_input))  # tokens [1, 4] has a fixed batch of 1
    with pytest.raises(UsageError, match="fixed batch of 1"):
        _shapes(inputs, batch=2, input_shapes=(("frames", (1, 5, 20)),))
    shapes, _ = _shapes(inputs, batch=1, input_shapes=(("frames", (1, 5, 20)),))
    assert shapes["tokens"] == (1, 4)


def test_load_options_validate_themselves() -> None:
    with pytest.raises(UsageError, match="--batch must be at least 1"):
        ShapeRequest(batch=0)
    with pytest.raises(UsageError, match="names an input twice"):
        ShapeRequest(input_shapes=(("x", (1, 2)), ("x", (1, 3))))
    with pytest.raises(UsageError, match="at least 1 sample"):
        LoadOptions(check_samples=0)
    assert LoadOptions(keep_nchw=["x"]).keep_nchw == ("x",)  # type: ignore[arg-type]


def test_keep_nchw_unknown_input(kitchen_sink: Path) -> None:
    with pytest.raises(UsageError, match="--keep-nchw names input"):
        ol.load_onnx(kitchen_sink, LoadOptions(keep_nchw=("input",)))


def test_fix_input_shapes_makes_static_graph(two_input: Path) -> None:
    model = og.read_onnx(two_input)
    fixed = og.fix_input_shapes(model, {"frames": (1, 6, 20), "tokens": (1, 4)})
    dims = [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 6, 20]
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim][1] == "time"  # original untouched


def test_candidate_perms() -> None:
    assert og.candidate_perms((1, 3, 16, 20), (1, 16, 20, 3), False) == [(0, 2, 3, 1)]
    # square images: swapping H and W also fits the shapes; the numeric check settles it
    assert og.candidate_perms((1, 3, 16, 16), (1, 16, 16, 3), False) == [(0, 2, 3, 1), (0, 3, 2, 1)]
    assert og.candidate_perms((1, 10), (1, 10), False) == [(0, 1)]
    # ambiguous shapes: the onnx2tf rule (channels last) first, identity next
    cands = og.candidate_perms((1, 3, 3, 3), (1, 3, 3, 3), False)
    assert cands[:2] == [(0, 2, 3, 1), (0, 1, 2, 3)] and len(cands) == 6
    assert og.candidate_perms((1, 3, 3, 3), (1, 3, 3, 3), True)[0] == (0, 1, 2, 3)
    assert og.candidate_perms((1, 3, 16, 16), (1, 3, 256), False) == []


def test_calibration_sample_file_shape() -> None:
    inputs = [InputDims("image", (1, 3, 32, 40), "float32")]
    sample = ol._calibration_sample(inputs, LoadOptions())
    assert sample.shape == (20, 128, 128, 3) and sample.dtype == np.float32
    data = np.full((2, 1, 3, 32, 40), 0.25, np.float32)
    data[:, :, 0] = 0.75  # channel 0 of the NCHW data must end up in the last axis
    sample = ol._calibration_sample(inputs, LoadOptions(check_inputs={"image": data}))
    assert sample.shape == (20, 128, 128, 3)
    assert np.allclose(sample[..., 0], 0.75) and np.allclose(sample[..., 1:], 0.25)


def test_summarize_log_is_one_paragraph() -> None:
    noise = [f"INFO: onnx_op_type: Conv onnx_op_name: conv_{i}" for i in range(200)]
    log = "\n".join([
        *noise,
        "\x1b[31mERROR:\x1b[0m LpPool OP is not yet implemented.",
        "Traceback (most recent call last):",
        '  File "x.py", line 3, in <module>',
        "ModuleNotFoundError: No module named 'onnx2tf.ops.LpPool'",
    ])
    text = ol.summarize_log(log, "ModuleNotFoundError: No module named 'onnx2tf.ops.LpPool'")
    assert "LpPool OP is not yet implemented." in text
    assert "\n" not in text and len(text) <= 600 and "conv_199" not in text


def test_signature_keys() -> None:
    assert signature_key("images") == "images"
    assert signature_key("input.1") == "input.1"
    assert signature_key("/model/out:0") == "model_out_0"
    assert signature_key("onnx::Gemm_12") == "onnx__Gemm_12"
    assert signature_key("45") == "45"


def test_check_inputs_use_given_samples_then_random() -> None:
    given = {"x": np.ones((1, 1, 2), np.float32)}
    samples = make_check_inputs({"x": (1, 2), "ids": (1, 3)}, {"x": "float32", "ids": "int64"}, 2, given)
    assert np.array_equal(samples[0]["x"], np.ones((1, 2))) and not np.array_equal(samples[1]["x"], np.ones((1, 2)))
    assert samples[0]["ids"].dtype == np.int64 and samples[0]["ids"].max() <= 1
    assert not OutputError("y", 0.5, 1.0, 0.001, 0, (0, 1)).ok
    assert OutputError("y", 0.0005, 1.0, 0.001, 0, (0, 1)).ok


def test_network_guard_blocks_connections_in_the_worker() -> None:
    code = (
        "from edgekit.host.onnx.worker import install_network_guard\n"
        "install_network_guard()\n"
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('github.com', 443), timeout=1)\n"
        "except OSError as exc:\n"
        "    print(exc)\n"
        "s = socket.socket()\n"
        "try:\n"
        "    s.connect(('140.82.112.3', 443))\n"
        "except OSError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.count(NETWORK_BLOCKED) == 2


def test_backend_error_from_worker_failure_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies without a result becomes a BackendError quoting the reason, not a traceback."""
    (tmp_path / "model.onnx").write_bytes(b"")

    from edgekit.host.onnx import guard

    def fake_run(*args: object, **kwargs: object) -> guard.GuardedRun:
        return guard.GuardedRun(1, "INFO: start\n\x1b[31mERROR:\x1b[0m Foo OP is not yet implemented.\n")

    monkeypatch.setattr(guard, "run_guarded", fake_run)
    with pytest.raises(BackendError) as exc:
        ol.run_onnx2tf(tmp_path / "model.onnx", tmp_path, ["x"], ["y"], LoadOptions(), "m.onnx")
    assert exc.value.exit_code == 3
    assert "Foo OP is not yet implemented." in exc.value.message
    assert "--debug" in exc.value.hint


def test_reference_runner_casts_and_names_missing_inputs(two_input: Path) -> None:
    model = og.fix_input_shapes(og.read_onnx(two_input), {"frames": (1, 3, 20), "tokens": (1, 4)})
    session, outputs = oref.make_reference_runner(model.SerializeToString(), "two_input.onnx")
    run = oref.OrtRunner(session, outputs)
    out = run({"frames": np.zeros((1, 3, 20)), "tokens": np.array([[0, 1, 2, 3]])})  # float64 / platform ints
    assert out["scores"].shape == (1, 5) and out["scores"].dtype == np.float32
    with pytest.raises(InputError, match="No data for ONNX input 'tokens'"):
        run({"frames": np.zeros((1, 3, 20), np.float32)})


def test_wrong_layout_calibration_arrays_fail_before_converting(kitchen_sink: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """NHWC arrays for an NCHW model: a clear DataError naming both shapes, never a silent transpose."""
    from edgekit.errors import DataError

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("onnx2tf must not run when the data is wrong")

    monkeypatch.setattr(ol, "run_onnx2tf", no_conversion)
    nhwc = tmp_path / "nhwc.npy"
    np.save(nhwc, np.zeros((10, 1, 16, 16, 3), np.float32))
    with pytest.raises(DataError) as exc:
        ol.load_onnx(kitchen_sink, LoadOptions(check_data=nhwc))
    assert "(10, 1, 16, 16, 3)" in exc.value.message and "(1, 3, 16, 16)" in exc.value.message
    nchw = tmp_path / "nchw.npy"
    np.save(nchw, np.full((10, 1, 3, 16, 16), 0.5, np.float32))
    inputs = og.graph_inputs(og.read_onnx(kitchen_sink))
    arrays = ol._read_check_data(inputs, {"image": (1, 3, 16, 16)}, LoadOptions(check_data=nchw))
    assert arrays["image"].shape == (10, 1, 3, 16, 16)
