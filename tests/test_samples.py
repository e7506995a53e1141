"""The committed sample models in sample_models/ (made by scripts/make_sample_models.py).

Device tests need only the base install (numpy, Pillow, ai-edge-litert): no TensorFlow, no torch.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image
from script_helpers import load_script

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
MAX_FILE_BYTES = 2 * 1024 * 1024
EXPECTED_FILES = (
    "README.md",
    "shapes_metadata.json",
    "test_labels.csv",
    "shapes_classifier.keras",
    "shapes_classifier.onnx",
    "shapes_classifier_int8.tflite",
)


def _metadata() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / "shapes_metadata.json").read_text())
    return data


def _labels() -> list[tuple[str, int, str]]:
    with (SAMPLES / "test_labels.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["file", "label_index", "class_name"]
        return [(row["file"], int(row["label_index"]), row["class_name"]) for row in reader]


def _load_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _test_set() -> tuple[np.ndarray, np.ndarray]:
    """Test PNGs with the "unit" preprocessing (float32 0..1, NHWC) and their labels."""
    rows = _labels()
    images = np.stack([_load_png(SAMPLES / rel) for rel, _, _ in rows]).astype(np.float32) / np.float32(255.0)
    return images, np.array([label for _, label, _ in rows])


def _script_module() -> ModuleType:
    return load_script("make_sample_models")


@pytest.mark.device
def test_committed_files_exist_and_are_small() -> None:
    for name in EXPECTED_FILES:
        path = SAMPLES / name
        assert path.is_file(), f"missing {path}: run scripts/make_sample_models.py"
    all_files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    too_big = [(str(p), p.stat().st_size) for p in all_files if p.stat().st_size >= MAX_FILE_BYTES]
    assert too_big == []
    assert sum(p.stat().st_size for p in all_files) < 5 * 1024 * 1024
    calibration = sorted((SAMPLES / "calibration").glob("*.png"))
    assert 1 <= len(calibration) <= 200
    assert _load_png(calibration[0]).shape == (32, 32, 3)


@pytest.mark.device
def test_labels_csv_matches_test_folder_and_metadata() -> None:
    meta = _metadata()
    classes = meta["classes"]
    rows = _labels()
    assert len(rows) == meta["splits"]["test_pngs"]
    assert {rel for rel, _, _ in rows} == {
        str(p.relative_to(SAMPLES)) for p in (SAMPLES / "test").rglob("*.png")
    }
    for rel, label, name in rows:
        assert classes[label] == name
        assert rel.startswith(f"test/{name}/")
    assert sorted({label for _, label, _ in rows}) == list(range(len(classes)))
    assert meta["preprocessing"]["name"] == "unit"
    assert meta["preprocessing"]["scale"] == pytest.approx(1 / 255)
    for key, value in meta["accuracy"].items():
        assert 0.8 <= value <= 1.0, key


@pytest.mark.device
def test_int8_tflite_classifies_test_pngs() -> None:
    from ai_edge_litert.interpreter import Interpreter

    meta = _metadata()
    desc = meta["models"]["int8_tflite"]
    interp = Interpreter(model_path=str(SAMPLES / desc["file"]), num_threads=1)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    (out,) = interp.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"]) == [1, 32, 32, 3] and list(out["shape"]) == [1, len(meta["classes"])]
    scale, zero_point = inp["quantization"]
    assert scale == pytest.approx(desc["input"]["scale"]) and zero_point == desc["input"]["zero_point"]

    images, labels = _test_set()
    correct = 0
    for image, label in zip(images, labels, strict=True):
        q = np.clip(np.rint(image / scale) + zero_point, -128, 127).astype(np.int8)[None]
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        correct += int(np.argmax(interp.get_tensor(out["index"])[0]) == label)
    accuracy = correct / len(labels)
    assert accuracy >= 0.85
    # int8 kernels may round differently on another CPU: allow two images of slack
    assert abs(accuracy - meta["accuracy"]["int8_tflite_test_pngs"]) <= 2 / len(labels) + 1e-9


@pytest.mark.device
def test_script_regenerates_the_committed_pngs() -> None:
    """The images are a pure function of their seed: the script renders the committed PNGs again
    (its module level needs only numpy and Pillow)."""
    script = _script_module()
    entries = script.test_png_entries()
    assert len(entries) == len(_labels())
    for rel, label, index in entries[:: script.TEST_PER_CLASS // 2]:
        image, rendered_label = script.render_image("holdout", index)
        assert rendered_label == label
        committed = _load_png(SAMPLES / rel).astype(np.int16)
        diff = np.abs(committed - image.astype(np.int16))
        # byte-identical on the machine that made them; a Pillow upgrade may move an edge pixel slightly
        assert diff.mean() < 0.5 and diff.max() <= 32, rel
    image, _ = script.render_image("calibration", 3)
    assert np.abs(_load_png(SAMPLES / "calibration" / "calib_003.png").astype(np.int16) - image).mean() < 0.5


@pytest.mark.convert
def test_onnx_accuracy_matches_metadata() -> None:
    import onnxruntime as ort

    meta = _metadata()
    desc = meta["models"]["onnx"]
    sess = ort.InferenceSession(str(SAMPLES / desc["file"]), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    (out,) = sess.get_outputs()
    assert (inp.name, list(inp.shape)) == ("input", [1, 3, 32, 32])
    assert (out.name, list(out.shape)) == ("probs", [1, len(meta["classes"])])
    images, labels = _test_set()
    nchw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    predictions = [int(np.argmax(sess.run(None, {"input": nchw[i : i + 1]})[0])) for i in range(len(nchw))]
    accuracy = float(np.mean(np.array(predictions) == labels))
    assert accuracy == pytest.approx(meta["accuracy"]["onnx_float_test_pngs"], abs=1 / len(labels) + 1e-9)


@pytest.mark.convert
@pytest.mark.slow
def test_keras_accuracy_matches_metadata() -> None:
    import keras

    meta = _metadata()
    model = keras.saving.load_model(SAMPLES / meta["models"]["keras"]["file"], compile=False)
    assert tuple(model.input_shape) == (None, 32, 32, 3)
    assert tuple(model.output_shape) == (None, len(meta["classes"]))
    images, labels = _test_set()
    probs = np.asarray(model.predict(images, batch_size=len(images), verbose=0))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == labels))
    assert accuracy == pytest.approx(meta["accuracy"]["keras_float_test_pngs"], abs=1 / len(labels) + 1e-9)
