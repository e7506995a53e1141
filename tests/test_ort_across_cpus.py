"""scripts/ort_across_cpus.py: the same inputs through two runs, and a comparison that sees a difference (issue 13:
onnxruntime against itself on another CPU). Host-only: it builds an ONNX model and runs onnxruntime."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from script_helpers import load_script

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")



def _script() -> ModuleType:
    return load_script("ort_across_cpus")


def _model(path: Path, factor: float) -> None:
    h, T = onnx.helper, onnx.TensorProto
    graph = h.make_graph([h.make_node("Mul", ["x", "k"], ["y"]), h.make_node("Tanh", ["y"], ["z"])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 4])],
                         [h.make_tensor_value_info("z", T.FLOAT, [1, 3, 4])],
                         [h.make_tensor("k", T.FLOAT, [], [factor])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_runs_share_inputs_and_compare_reports_the_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _script()
    _model(tmp_path / "a.onnx", 0.5)
    _model(tmp_path / "b.onnx", -0.5)  # the opposite output: cosine -1
    a, b, a2 = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "a2.npz"
    assert m.main(["run", str(tmp_path / "a.onnx"), "--out", str(a), "--samples", "3", "--normal", "x=-6,2.5"]) == 0
    assert m.main(["run", str(tmp_path / "b.onnx"), "--out", str(b), "--same-inputs-as", str(a)]) == 0
    assert m.main(["run", str(tmp_path / "a.onnx"), "--out", str(a2), "--same-inputs-as", str(a)]) == 0
    da, db = np.load(a), np.load(b)
    assert sorted(k for k in da.files if k.startswith("in")) == ["in000:x", "in001:x", "in002:x"]
    for k in ("in000:x", "in002:x"):
        np.testing.assert_array_equal(da[k], db[k])
    assert -8.0 < float(da["in000:x"].mean()) < -4.0  # --normal took effect
    np.testing.assert_allclose(da["out001:0"], np.tanh(0.5 * da["in001:x"]), rtol=1e-5)
    capsys.readouterr()
    assert m.main(["compare", str(a), str(a2), str(b)]) == 0
    lines = capsys.readouterr().out.splitlines()
    same = next(line for line in lines if "a2.npz" in line)
    other = next(line for line in lines if "b.npz" in line)
    assert "cosine worst 1.0000000" in same and "(3 samples)" in same
    assert "cosine worst -1.0000000" in other


def test_compare_refuses_files_run_on_other_inputs(tmp_path: Path) -> None:
    m = _script()
    _model(tmp_path / "a.onnx", 0.5)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    m.main(["run", str(tmp_path / "a.onnx"), "--out", str(a), "--samples", "3"])
    m.main(["run", str(tmp_path / "a.onnx"), "--out", str(b), "--samples", "2"])
    with pytest.raises(SystemExit, match="same-inputs-as"):
        m.main(["compare", str(a), str(b)])
