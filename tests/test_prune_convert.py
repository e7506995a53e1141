"""convert --prune: pruning the float SavedModel before quantization, zeros through int8, sparse encoding."""

from __future__ import annotations

import json
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.cli import main
from edgekit.core.source import SourceFormat
from edgekit.host.source_model import SourceModel
from edgekit.sizing.magnitude import PruneScope

sys.path.insert(0, str(Path(__file__).parent))
import size_helpers  # noqa: E402

pytestmark = pytest.mark.convert


@pytest.fixture(scope="session")
def prune_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("prune_src")
    return {"saved_model": size_helpers.build_saved_model(out), "keras": size_helpers.build_keras(out), "dir": out}


def _source(saved_dir: Path, tmp_path: Path) -> SourceModel:
    copy = tmp_path / "sm"
    shutil.copytree(saved_dir, copy)
    return SourceModel(path=copy, format=SourceFormat.SAVED_MODEL, inputs=[], outputs=[],
                       run=lambda arrays: arrays, saved_model_dir=copy)


def _int8(saved_dir: Path, shape: tuple[int, ...]) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_dir))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def rep() -> Any:
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.random(shape, dtype=np.float32)]

    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return bytes(conv.convert())


@pytest.mark.parametrize("scope", list(PruneScope))
def test_prune_saved_model_variables(prune_models: dict[str, Any], tmp_path: Path, scope: PruneScope) -> None:
    from edgekit.host.convert.config import PruneConfig
    from edgekit.host.convert.prune import after_conversion, prune_source
    from edgekit.host.convert.saved_model_weights import captured_parameters

    source = _source(prune_models["saved_model"]["path"], tmp_path)
    original = source.saved_model_dir
    before = (original / "variables" / "variables.data-00000-of-00001").read_bytes()  # type: ignore[operator]
    report = prune_source(source, PruneConfig(0.6, scope=scope, min_elements=100))
    assert source.saved_model_dir != original
    assert (original / "variables" / "variables.data-00000-of-00001").read_bytes() == before  # type: ignore[operator]
    assert abs(report.achieved_sparsity - 0.6) <= 0.01
    params = {n: v for n, v, w in captured_parameters(source.saved_model_dir) if w}  # type: ignore[arg-type]
    zeros = sum(int(np.count_nonzero(v == 0)) for v in params.values())
    assert abs(zeros / sum(v.size for v in params.values()) - 0.6) <= 0.01
    if scope is PruneScope.PER_LAYER:
        assert all(abs(np.count_nonzero(v == 0) / v.size - 0.6) <= 0.01 for v in params.values())
    # the pruned model converts to int8 and every zero stays the zero point
    data = _int8(source.saved_model_dir, (1, 32))  # type: ignore[arg-type]
    after_conversion(report, data)
    assert report.converted is not None and report.converted["zeros_survived"] is True
    assert abs(report.converted["weights_sparsity"] - 0.6) <= 0.02
    copy_dir = source.saved_model_dir
    assert source.cleanup is not None
    source.cleanup()
    assert not Path(copy_dir).exists()  # type: ignore[arg-type]


def test_sparse_encoding_decision_on_real_converter_output(prune_models: dict[str, Any], tmp_path: Path) -> None:
    from edgekit.core.quant import IOType, QuantizeMode
    from edgekit.host.convert.config import PruneConfig
    from edgekit.host.convert.prune import choose_encoding, convert_sparse_fn, prune_source

    source = _source(prune_models["saved_model"]["path"], tmp_path)
    report = prune_source(source, PruneConfig(0.9, min_elements=100))
    samples = {"x": np.random.default_rng(0).random((8, 1, 32), dtype=np.float32)}
    dense = _int8(source.saved_model_dir, (1, 32))  # type: ignore[arg-type]
    fn = convert_sparse_fn(source.saved_model_dir, QuantizeMode.INT8, IOType.FLOAT32, False, samples)  # type: ignore[arg-type]
    out = choose_encoding(report, dense, fn)
    enc = report.sparse_encoding
    assert enc is not None and enc["mode"] == "auto" and enc["reason"]
    should_use = enc["sparse_bytes"] < len(dense) and enc["runs_in_default_interpreter"]
    assert enc["used"] is should_use
    assert (out == dense) is (not should_use)
    source.cleanup()  # type: ignore[misc]


@pytest.mark.slow
@pytest.mark.parametrize("scope", list(PruneScope))
def test_prune_keras_through_the_loader(prune_models: dict[str, Any], scope: PruneScope) -> None:
    from edgekit.host.convert.config import PruneConfig
    from edgekit.host.convert.keras_loader import load_keras
    from edgekit.host.convert.prune import prune_source
    from edgekit.host.source_model import LoadOptions

    source = load_keras(prune_models["keras"]["path"], LoadOptions())
    try:
        x = np.random.default_rng(0).random((1, 16, 16, 3), dtype=np.float32)
        ref_before = source.run({"image": x})
        report = prune_source(source, PruneConfig(0.75, scope=scope))
        assert abs(report.achieved_sparsity - 0.75) <= 0.01
        pruned = [t for t in report.tensors if t["skipped"] is None]
        assert {t["name"].split("/")[0] for t in pruned} == {"pw", "fc", "head"}  # stem/dw are tiny
        ref_after = source.run({"image": x})  # the reference is still the ORIGINAL model
        for k in ref_before:
            np.testing.assert_array_equal(ref_before[k], ref_after[k])
    finally:
        if source.cleanup is not None:
            source.cleanup()


@pytest.mark.slow
def test_prune_onnx_constants(prune_models: dict[str, Any]) -> None:
    from edgekit.host.convert.config import PruneConfig
    from edgekit.host.convert.prune import prune_source
    from edgekit.host.onnx.load import load_onnx

    onnx_info = size_helpers.build_onnx(prune_models["dir"])
    source = load_onnx(onnx_info["path"])
    try:
        report = prune_source(source, PruneConfig(0.8))
        assert abs(report.achieved_sparsity - 0.8) <= 0.01
        assert len([t for t in report.tensors if t["skipped"] is None]) == 2  # conv + gemm weights
    finally:
        if source.cleanup is not None:
            source.cleanup()


@pytest.mark.slow
def test_convert_prune_cli_end_to_end(runner: Any, prune_models: dict[str, Any], tmp_path: Path) -> None:
    path = prune_models["keras"]["path"]
    calib = tmp_path / "calib.npz"
    np.savez(calib, image=np.random.default_rng(0).random((16, 16, 16, 3), dtype=np.float32))
    pruned_out = tmp_path / "pruned.tflite"
    res = runner.invoke(main, ["convert", str(path), "-o", str(pruned_out), "--calibration", str(calib),
                               "--prune", "0.75", "--prune-skip", "head", "--json"])
    # 75% pruning without fine-tuning moves the outputs far from the unpruned original: convert's check says so
    # (exit 1, the file written); --allow-mismatch accepts it
    assert res.exit_code == 1 and pruned_out.is_file() and "conversion check FAILED" in res.stderr, res.output
    res = runner.invoke(main, ["convert", str(path), "-o", str(pruned_out), "--calibration", str(calib),
                               "--prune", "0.75", "--prune-skip", "head", "--json", "--force", "--allow-mismatch"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    prune = out["prune"]
    assert abs(prune["achieved_sparsity"] - 0.75) <= 0.01
    assert next(t for t in prune["tensors"] if t["name"].startswith("head"))["skipped"].startswith("skipped by")
    assert prune["converted"]["zeros_survived"] is True
    assert prune["sparse_encoding"]["reason"]
    assert out["golden_check"]["outputs"]  # the accuracy cost vs the unpruned original is shown
    written = pruned_out.read_bytes()
    assert prune["converted"]["deflate9_bytes"] == len(zlib.compress(written, 9)) or prune["sparse_encoding"]["used"]
    base = prune["unpruned"]
    assert base["measured"] is True and base["file_bytes"] == prune["converted"]["file_bytes"]  # dense storage
    assert prune["converted"]["deflate9_bytes"] < base["deflate9_bytes"]
