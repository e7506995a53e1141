"""The TensorFlow-free .tflite reader and `edgekit inspect`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.core.quant import QuantKind
from edgekit.errors import InputError, ModelFormatError
from edgekit.tflite.model import load_model, parse_model


@pytest.mark.convert
@pytest.mark.parametrize(
    "name,kind",
    [("float32", QuantKind.FLOAT32), ("dynamic_range", QuantKind.DYNAMIC_RANGE), ("float16", QuantKind.FLOAT16),
     ("int8", QuantKind.INT8), ("int8_float_io", QuantKind.INT8), ("int16x8", QuantKind.INT16X8)],
)
def test_quant_kind_detected(variants: dict[str, Path], name: str, kind: QuantKind) -> None:
    assert load_model(variants[name]).quant_kind is kind


@pytest.mark.convert
def test_reader_matches_the_runtime(variants: dict[str, Path]) -> None:
    """Every tensor's name, shape, dtype and quantization agree with what LiteRT reports."""
    from ai_edge_litert.interpreter import Interpreter

    for path in variants.values():
        model = load_model(path)
        interp = Interpreter(model_path=str(path))
        details = {d["index"]: d for d in interp.get_tensor_details()}
        for t in model.main.tensors:
            d = details[t.index]
            assert d["name"] == t.name
            assert tuple(d["shape_signature"]) == t.shape_signature
            assert np.dtype(d["dtype"]).name == t.dtype
            qp = d["quantization_parameters"]
            if t.quant is None:
                assert len(qp["scales"]) == 0
            else:
                np.testing.assert_allclose(qp["scales"], t.quant.scales, rtol=1e-6)
                np.testing.assert_array_equal(qp["zero_points"], t.quant.zero_points)
                assert qp["quantized_dimension"] == t.quant.quantized_dimension
        assert [d["index"] for d in interp.get_input_details()] == list(model.main.inputs)
        assert [d["index"] for d in interp.get_output_details()] == list(model.main.outputs)


@pytest.mark.convert
def test_operators_and_options(variants: dict[str, Path]) -> None:
    model = load_model(variants["int8"])
    names = [op.name for op in model.main.operators]
    assert names[:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    conv = model.main.operators[0]
    assert conv.options["padding"] == "SAME"
    assert conv.options["stride_w"] == 1 and conv.options["stride_h"] == 1
    assert conv.options["fused_activation_function"] == "RELU6"
    assert model.op_histogram()["FULLY_CONNECTED"] == 2
    weights = model.main.tensors[conv.inputs[1]]
    assert weights.is_constant and weights.dtype == "int8" and weights.shape == (8, 3, 3, 3)
    assert weights.quant is not None and weights.quant.per_channel and weights.quant.scales.size == 8
    data = weights.data()
    assert data is not None and data.shape == (8, 3, 3, 3)
    # int8 weights are ~4x smaller than float weights
    assert load_model(variants["float32"]).weight_bytes > 3 * model.weight_bytes
    assert model.signatures and model.signatures[0].key == "serving_default"
    assert model.inputs[0].dtype == "int8" and model.inputs[0].quant is not None


@pytest.mark.convert
def test_inspect_cli_table_and_json(variants: dict[str, Path], runner: CliRunner) -> None:
    result = runner.invoke(main, ["inspect", str(variants["int8"])])
    assert result.exit_code == 0, result.output
    assert "Quantization:  int8" in result.output
    assert "scale=" in result.output and "zero_point=" in result.output
    result = runner.invoke(main, ["inspect", "--json", str(variants["int8"])])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["quantization"] == "int8"
    assert report["inputs"][0]["dtype"] == "int8" and isinstance(report["inputs"][0]["scale"], float)
    assert report["op_histogram"]["CONV_2D"] == 2
    assert len(report["ops"]) == sum(report["op_histogram"].values())


def _bad_inputs(tmp: Path, good: bytes) -> dict[str, Path]:
    cases = {
        "missing": tmp / "nope.tflite",
        "directory": tmp / "adir",
        "empty": tmp / "empty.tflite",
        "truncated": tmp / "truncated.tflite",
        "random": tmp / "random.tflite",
        "onnx": tmp / "model.onnx",
        "keras": tmp / "model.keras",
        "text": tmp / "notes.tflite",
    }
    cases["directory"].mkdir()
    cases["empty"].write_bytes(b"")
    cases["truncated"].write_bytes(good[: len(good) // 3])
    cases["random"].write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    cases["onnx"].write_bytes(b"\x08\x08\x12\x07pytorch\x1a\x032.1" + bytes(200))
    cases["keras"].write_bytes(b"PK\x03\x04" + bytes(200))
    cases["text"].write_text('{"not": "a model"}\n')
    return cases


@pytest.mark.device
def test_bad_inputs_are_clean_errors(tmp_path: Path, runner: CliRunner, sample_int8: Path) -> None:
    good = sample_int8.read_bytes()
    for case, path in _bad_inputs(tmp_path, good).items():
        with pytest.raises((InputError, ModelFormatError)) as info:
            load_model(path)
        assert str(path) in info.value.message or path.name in info.value.message, case
        result = runner.invoke(main, ["inspect", str(path)])
        assert result.exit_code == 2, (case, result.output)
        assert "Error:" in result.output and "Hint:" in result.output, case
        assert "Traceback" not in result.output, case
        assert result.output.count("\n") == 2, (case, result.output)


@pytest.mark.device
def test_truncation_anywhere_never_crashes(sample_int8: Path) -> None:
    data = sample_int8.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 200)):
        try:
            parse_model(data[:cut], "cut")
        except ModelFormatError:
            continue


@pytest.mark.device
def test_sample_int8_reads_without_tensorflow(sample_int8: Path) -> None:
    model = load_model(sample_int8)
    assert model.quant_kind is QuantKind.INT8
    assert model.inputs[0].dtype == "int8" and model.outputs[0].dtype == "int8"
    assert model.weight_bytes < model.size_bytes
