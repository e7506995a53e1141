"""edgekit size on float sources (.keras, SavedModel, .onnx) and zeros through int8 conversion (needs TF/onnx)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.cli import main
from edgekit.sizing.tflite_weights import tensor_sparsity
from edgekit.tflite.model import load_model

sys.path.insert(0, str(Path(__file__).parent))
import size_helpers  # noqa: E402

pytestmark = pytest.mark.convert


@pytest.fixture(scope="session")
def size_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("size_src")
    keras_info = size_helpers.build_keras(out)
    return {
        "keras": keras_info,
        "int8": size_helpers.build_int8(keras_info["model"], out),
        "saved_model": size_helpers.build_saved_model(out),
        "onnx": size_helpers.build_onnx(out),
    }


def _size_json(runner: Any, path: Path) -> dict[str, Any]:
    res = runner.invoke(main, ["size", str(path), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_size_keras(runner: Any, size_models: dict[str, Any]) -> None:
    info = size_models["keras"]
    out = _size_json(runner, info["path"])
    assert out["format"] == "keras"
    assert out["parameters"] == info["params"]
    pw = next(t for t in out["tensors"] if t["name"].startswith("pw/kernel"))
    assert pw["zeros"] == info["pw_zeros"] and pw["sparsity"] == 0.5
    modes = {m["mode"]: m for m in out["quantize_estimates"]["modes"]}
    assert set(modes) == {"int8", "int16x8", "dynamic", "float16", "none"}
    assert all(m["source"] == "estimated" for m in modes.values())
    assert modes["int8"]["file_bytes"] < modes["float16"]["file_bytes"] < modes["none"]["file_bytes"]
    rows = out["what_if"]["rows"]
    assert rows[0]["deflate9_bytes"] > rows[2]["deflate9_bytes"]


def test_size_saved_model(runner: Any, size_models: dict[str, Any]) -> None:
    info = size_models["saved_model"]
    out = _size_json(runner, info["path"])
    assert out["format"] == "saved_model" and out["is_dir"]
    assert out["parameters"] == info["params"]
    assert out["sparsity"]["all"]["zeros"] == info["zeros"]


def test_size_onnx(runner: Any, size_models: dict[str, Any]) -> None:
    info = size_models["onnx"]
    out = _size_json(runner, info["path"])
    assert out["format"] == "onnx"
    assert out["parameters"] == info["params"]
    w = next(t for t in out["tensors"] if t["name"] == "W")
    assert w["role"] == "weights" and w["zeros"] == info["conv_zeros"]
    assert next(t for t in out["tensors"] if t["name"] == "B")["role"] == "bias"


def test_size_human_says_estimated(runner: Any, size_models: dict[str, Any]) -> None:
    res = runner.invoke(main, ["size", str(size_models["onnx"]["path"])])
    assert res.exit_code == 0, res.output
    assert "estimated" in res.stdout and "measured" in res.stdout


def test_size_converted_tflite(runner: Any, size_models: dict[str, Any]) -> None:
    out = _size_json(runner, size_models["int8"])
    assert out["quantization"] == "int8"
    assert out["sparsity"]["weights"]["zeros"] >= size_models["keras"]["pw_zeros"]


def test_zeros_survive_int8(size_models: dict[str, Any]) -> None:
    """Every zero of the float kernel is the zero point (0) of the int8 tensor, at the same position."""
    kernel = size_models["keras"]["model"].get_layer("pw").get_weights()[0]  # (1, 1, 8, 32)
    model = load_model(size_models["int8"])
    row = next(r for r in tensor_sparsity(model) if r.role == "weights" and r.shape == (32, 1, 1, 8))
    assert row.zeros >= 128
    t = next(t for t in model.main.tensors if t.name == row.name)
    q = t.data()
    assert q is not None and t.quant is not None
    zp = t.quant.zero_points.reshape(-1, 1, 1, 1)
    assert np.all(zp == 0)
    float_zero = (kernel == 0).transpose(3, 0, 1, 2)  # HWIO -> OHWI as stored in the .tflite
    assert np.all(q[float_zero] == zp.ravel()[np.nonzero(float_zero)[0]])
