"""`edgekit convert` end to end on tiny models built in session fixtures (each conversion runs once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from convert_helpers import build_all, load_json

from edgekit.bundle import read_bundle
from edgekit.cli import main
from edgekit.tflite.model import load_model
from edgekit.tflite.runtime import load_interpreter

pytestmark = [pytest.mark.convert, pytest.mark.slow]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def json(self) -> dict[str, Any]:
        return load_json(self.stdout)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")
    return build_all(tmp_path_factory.mktemp("convert_models"))


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convert_out")


_CACHE: dict[str, Run] = {}


def convert(models: dict[str, Path], work: Path, key: str, model: str, *args: str, data: str | None = None) -> Run:
    """Run `edgekit convert --json` once per key for the whole session."""
    if key not in _CACHE:
        out = work / f"{key}.tflite"
        argv = ["convert", str(models[model]), "-o", str(out), "--json", *args]
        if data:
            argv += ["--calibration", str(models[model].parent / data)]
        result = CliRunner().invoke(main, argv)
        _CACHE[key] = Run(result.exit_code, result.stdout, result.stderr, out)
    return _CACHE[key]


def _ok(run: Run) -> dict[str, Any]:
    assert run.exit_code == 0, run.stderr + run.stdout
    return run.json


def _activation_dtypes(path: Path) -> set[str]:
    model = load_model(path)
    sg = model.main
    return {sg.tensor(o).dtype for op in sg.operators for o in op.outputs if op.name not in ("QUANTIZE", "DEQUANTIZE")}


def _run_tflite(path: Path, inputs: dict[str, np.ndarray], entries: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Run one sample through LiteRT, quantizing float inputs / dequantizing outputs like a user would."""
    interp = load_interpreter(path)
    by_name = {d["name"]: d for d in interp.get_input_details()}
    for name, x in inputs.items():
        d = by_name[name]
        scale, zp = d["quantization"]
        if scale:
            info = np.iinfo(d["dtype"])
            x = np.clip(np.round(x / scale + zp), info.min, info.max)
        interp.set_tensor(d["index"], x.astype(d["dtype"]))
    interp.invoke()
    result = {}
    for d in interp.get_output_details():
        y = interp.get_tensor(d["index"]).astype(np.float32)
        scale, zp = d["quantization"]
        result[d["name"]] = (y - zp) * scale if scale else y
    return result


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------- int8, the default


def test_int8_from_image_folder_with_bundle(models: dict[str, Path], work: Path) -> None:
    bundle = work / "cnn_bundle"
    run = convert(models, work, "cnn_int8", "cnn", "--bundle", str(bundle), data="images")
    result = _ok(run)
    assert result["quantization"] == "int8" and result["io_type"] == "int8"
    assert result["quant_kind_detected"] == "int8" and result["float_ops"] == {}
    # every activation is int8, and so are the I/O tensors
    assert _activation_dtypes(run.out) == {"int8"}
    assert [e["dtype"] for e in result["inputs"] + result["outputs"]] == ["int8", "int8"]
    assert result["inputs"][0]["scale"] > 0 and result["inputs"][0]["source_name"] == "image"
    # 60 images + a grayscale + an RGBA png are usable; the corrupt jpg is skipped and counted
    assert result["calibration"]["count"] == 62 and result["calibration"]["skipped"] == 1
    assert "skipped" in run.stderr and "Calibrating" in run.stderr
    assert result["size_bytes"] == run.out.stat().st_size and result["source_size_bytes"] > 0
    assert result["seconds"] > 0
    check = result["golden_check"]["outputs"][0]
    assert check["cosine"] > 0.99 and check["top1_agreement"] >= 0.85

    b = read_bundle(bundle)
    assert b.model_path.read_bytes() == run.out.read_bytes()
    m = b.manifest
    assert m["source"]["file"] == "cnn.keras" and len(m["source"]["sha256"]) == 64
    assert m["calibration"]["count"] == 62 and m["calibration"]["per_input"]["image"]["max"] <= 1.0
    assert m["preprocessing"]["preset"] == "unit" and m["preprocessing"]["layout"] == "nhwc"
    assert "tensorflow" in m["tools"] and m["golden"]["samples"] == 16
    name_in, name_out = m["inputs"][0]["name"], m["outputs"][0]["name"]
    gin, gout = b.golden_inputs[name_in], b.golden_outputs[name_out]
    assert gin.shape == (16, 1, 16, 16, 3) and gin.dtype == np.float32 and 0 <= gin.min() and gin.max() <= 1
    # the golden outputs are the ORIGINAL model's: softmax rows that sum to 1, close to the tflite's
    assert np.allclose(gout.sum(axis=-1), 1.0, atol=1e-4)
    got = _run_tflite(b.model_path, {name_in: gin[0]}, m["inputs"])[name_out]
    assert _cosine(got, gout[0]) > 0.99


def test_human_summary(models: dict[str, Path], work: Path) -> None:
    out = work / "human.tflite"
    result = CliRunner().invoke(main, ["convert", str(models["mlp"]), "-o", str(out), "--quantize", "dynamic"])
    assert result.exit_code == 0, result.output
    for text in ("Converted", "mode: dynamic", "size:", "measured", "tflite name", "Check against the original"):
        assert text in result.stdout


@pytest.mark.parametrize(
    "mode, io_dtype, act_dtypes",
    [
        ("int16x8", "int16", {"int16"}),
        ("dynamic", "float32", {"float32"}),
        ("float16", "float32", {"float32"}),
        ("none", "float32", {"float32"}),
    ],
)
def test_every_mode(models: dict[str, Path], work: Path, mode: str, io_dtype: str, act_dtypes: set[str]) -> None:
    run = convert(models, work, f"cnn_{mode}", "cnn", "--quantize", mode, "--calibration-samples", "20",
                  data="images")
    result = _ok(run)
    assert result["quantization"] == mode
    assert [e["dtype"] for e in result["inputs"] + result["outputs"]] == [io_dtype, io_dtype]
    assert _activation_dtypes(run.out) == act_dtypes
    kind = load_model(run.out).quant_kind.value
    # this CNN's weights are all < 1024 elements, which the converter's dynamic range mode leaves in float
    assert kind == {"int16x8": "int16x8", "dynamic": "float32", "float16": "float16", "none": "float32"}[mode]
    if mode == "dynamic":
        assert "1024 elements" in run.stderr
    assert result["golden_check"]["outputs"][0]["cosine"] > 0.99
    if mode == "int16x8":
        assert "only 20 calibration samples" in run.stderr


def test_uint8_io_per_tensor(models: dict[str, Path], work: Path) -> None:
    result = _ok(convert(models, work, "cnn_uint8", "cnn", "--io-type", "uint8", "--per-tensor",
                         "--calibration-samples", "30", data="images"))
    assert [e["dtype"] for e in result["inputs"] + result["outputs"]] == ["uint8", "uint8"]
    model = load_model(Path(result["output"]))
    conv_weights = [model.main.tensor(op.inputs[1]) for op in model.main.operators if op.name == "CONV_2D"]
    assert conv_weights and all(t.quant is not None and not t.quant.per_channel for t in conv_weights)
    assert result["golden_check"]["outputs"][0]["cosine"] > 0.98


def test_float_io_keeps_int8_inside(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "cnn_f32io", "cnn", "--io-type", "float32", "--calibration-samples", "30",
                  data="images")
    result = _ok(run)
    assert [e["dtype"] for e in result["inputs"] + result["outputs"]] == ["float32", "float32"]
    assert result["inputs"][0]["scale"] is None
    assert "int8" in _activation_dtypes(run.out) and result["float_ops"] == {}


def test_keep_float_layer(models: dict[str, Path], work: Path) -> None:
    result = _ok(convert(models, work, "cnn_keep", "cnn", "--keep-float", "dw", "--calibration-samples", "30",
                         data="images"))
    assert result["kept_float"] and all("dw" in name for name in result["kept_float"])
    assert result["float_ops"] == {"DEPTHWISE_CONV_2D": 1}
    assert result["inputs"][0]["dtype"] == "int8"  # I/O stays as asked
    assert result["golden_check"]["outputs"][0]["cosine"] > 0.99


def test_legacy_h5_from_npy(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "mlp_int8", "mlp", data="mlp.npy")
    result = _ok(run)
    assert result["source"]["format"] == "keras" and result["calibration"]["kind"] == "arrays"
    assert result["calibration"]["count"] == 64 and result["preprocessing"] is None
    assert _activation_dtypes(run.out) == {"int8"}
    assert result["golden_check"]["outputs"][0]["cosine"] > 0.98


def test_keras_export_saved_model(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "mlp_export", "mlp_export", data="mlp.npy")
    result = _ok(run)
    assert result["source"]["format"] == "saved_model" and result["inputs"][0]["shape"] == [1, 10]
    assert result["inputs"][0]["source_name"] == "features"
    assert _activation_dtypes(run.out) == {"int8"}
    assert result["golden_check"]["outputs"][0]["cosine"] > 0.98


def test_two_inputs_two_outputs_from_npz(models: dict[str, Path], work: Path) -> None:
    bundle = work / "two_io_bundle"
    run = convert(models, work, "two_io", "two_io", "--bundle", str(bundle), data="two_io.npz")
    result = _ok(run)
    ins = {e["source_name"]: e for e in result["inputs"]}
    outs = {e["source_name"]: e for e in result["outputs"]}
    assert ins["img"]["shape"] == [1, 8, 8, 3] and ins["vec"]["shape"] == [1, 5]
    assert outs["cls"]["shape"] == [1, 3] and outs["reg"]["shape"] == [1, 2]
    checks = {c["name"]: c for c in result["golden_check"]["outputs"]}
    assert checks["cls"]["cosine"] > 0.98 and checks["reg"]["cosine"] > 0.98
    assert checks["cls"]["top1_agreement"] is not None
    b = read_bundle(bundle)
    assert set(b.golden_inputs) == {ins["img"]["name"], ins["vec"]["name"]}
    feed = {name: arr[0] for name, arr in b.golden_inputs.items()}
    got = _run_tflite(b.model_path, feed, b.manifest["inputs"])
    assert _cosine(got[outs["reg"]["name"]], b.golden_outputs[outs["reg"]["name"]][0]) > 0.98


def test_saved_model_dynamic_batch(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "dyn_default", "dyn_batch", "--calibration-samples", "60")
    result = _ok(run)
    assert result["inputs"][0]["shape"] == [1, 6] and result["source"]["format"] == "saved_model"
    assert "dynamic batch fixed to 1" in run.stderr
    assert "NO CALIBRATION DATA" in run.stderr and "UNKNOWN" in run.stderr
    assert result["calibration"]["kind"] == "synthetic"
    run2 = convert(models, work, "dyn_batch2", "dyn_batch", "--batch", "2", "--quantize", "dynamic")
    result2 = _ok(run2)
    assert result2["inputs"][0]["shape"] == [2, 6] and result2["outputs"][0]["shape"] == [2, 6]
    assert list(load_model(run2.out).inputs[0].shape_signature) == [2, 6]


def test_dynamic_spatial_needs_input_shape(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "spatial_missing", "dyn_spatial", "--quantize", "none")
    assert run.exit_code == 2
    assert "dynamic dimension" in run.stderr and "--input-shape x=" in run.stderr
    result = _ok(convert(models, work, "spatial_given", "dyn_spatial", "--quantize", "none",
                         "--input-shape", "x=1,4,6"))
    assert result["inputs"][0]["shape"] == [1, 4, 6]


# --------------------------------------------------------------------------- failures


def test_op_without_any_kernel_is_backend_error(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "erf", "erf", "--calibration-samples", "10")
    assert run.exit_code == 3
    assert "tf.Erf" in run.stderr and "Hint:" in run.stderr and "Traceback" not in run.stderr
    assert not run.out.exists()


def test_op_without_int8_kernel_fails_loudly(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "sin", "sin", "--calibration-samples", "10")
    assert run.exit_code == 3
    assert "SIN" in run.stderr and "--quantize dynamic" in run.stderr and "--keep-float" in run.stderr
    assert not run.out.exists()


def test_a_clamp_the_int8_range_already_makes_is_dropped(models: dict[str, Path], work: Path) -> None:
    """max(leaky_relu(y), -0.4): the converter's int8 MAXIMUM is an op XNNPACK refuses (openWakeWord's
    embedding model ran in 20 partitions); the range of the LEAKY_RELU's output starts at -0.4 already."""
    run = convert(models, work, "leaky_clamp", "leaky_clamp", "--calibration-samples", "60")
    doc = _ok(run)
    assert any("1 MAXIMUM op(s) of a constant at the bottom" in n for n in doc["notes"]), doc["notes"]
    ops = [op.name for op in load_model(run.out).main.operators]
    assert "MAXIMUM" not in ops and "LEAKY_RELU" in ops, ops
    assert doc["check"]["passed"], doc["check"]


def test_existing_output_needs_force(tmp_path: Path, models: dict[str, Path]) -> None:
    out = tmp_path / "exists.tflite"
    out.write_bytes(b"keep me")
    result = CliRunner().invoke(main, ["convert", str(models["mlp"]), "-o", str(out)])
    assert result.exit_code == 2 and "already exists" in result.stderr and "--force" in result.stderr
    assert out.read_bytes() == b"keep me"
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "x").write_text("x")
    result = CliRunner().invoke(main, ["convert", str(models["mlp"]), "-o", str(tmp_path / "new.tflite"),
                                       "--bundle", str(bundle)])
    assert result.exit_code == 2 and "not empty" in result.stderr


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.keras", "does not exist"),
        (lambda p: (p / "model.txt").write_text("hi") and p / "model.txt", "does not read as a model"),
        (lambda p: (p / "bad.keras").write_bytes(b"not a zip") and p / "bad.keras", "is not a Keras model"),
        (lambda p: p, "not a TF SavedModel"),
    ],
)
def test_bad_model_paths(tmp_path: Path, make: Any, message: str) -> None:
    model = make(tmp_path)
    result = CliRunner().invoke(main, ["convert", str(model), "-o", str(tmp_path / "o.tflite")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_bad_flags(tmp_path: Path, models: dict[str, Path]) -> None:
    args = ["convert", str(models["mlp"]), "-o", str(tmp_path / "o.tflite")]
    result = CliRunner().invoke(main, [*args, "--quantize", "dynamic", "--io-type", "int8"])
    assert result.exit_code == 2 and "does not go with" in result.stderr
    result = CliRunner().invoke(main, [*args, "--quantize", "float16", "--keep-float", "x"])
    assert result.exit_code == 2 and "--keep-float" in result.stderr
    result = CliRunner().invoke(main, [*args, "--input-shape", "features=a,b"])
    assert result.exit_code == 2 and "--input-shape" in result.stderr
    result = CliRunner().invoke(main, [*args, "--mean", "x"])
    assert result.exit_code == 2 and "--mean" in result.stderr


def test_no_usable_images(tmp_path: Path, models: dict[str, Path]) -> None:
    bad = tmp_path / "bad_images"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"broken")
    (bad / "b.png").write_bytes(b"broken too")
    result = CliRunner().invoke(main, ["convert", str(models["cnn"]), "-o", str(tmp_path / "o.tflite"),
                                       "--calibration", str(bad)])
    assert result.exit_code == 2 and "No usable image" in result.stderr and "2 could not be read" in result.stderr
    assert not (tmp_path / "o.tflite").exists()


def test_unknown_keep_float_layer(models: dict[str, Path], work: Path) -> None:
    run = convert(models, work, "keep_bad", "mlp", "--keep-float", "no_such_layer", data="mlp.npy")
    assert run.exit_code == 2 and "matches no layer" in run.stderr
