"""Convert options that only make sense for some sources are refused, not silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import main

SAMPLE_KERAS = Path(__file__).resolve().parent.parent / "sample_models" / "shapes_classifier.keras"


@pytest.mark.convert
def test_keep_nchw_on_keras_is_a_usage_error(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "x.tflite"
    result = runner.invoke(main, ["convert", str(SAMPLE_KERAS), "-o", str(out), "--keep-nchw", "input"])
    assert result.exit_code == 2, result.output
    assert "--keep-nchw applies to ONNX models only" in result.output
    assert not out.exists()


@pytest.mark.convert
@pytest.mark.parametrize("name,content", [("m.keras", b"PK\x03\x04garbage"), ("m.keras", b""),
                                          ("m.h5", bytes(range(256)))])
def test_file_that_is_not_a_keras_container_says_so(tmp_path: Path, runner: CliRunner, name: str,
                                                     content: bytes) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    result = runner.invoke(main, ["convert", str(bad), "-o", str(tmp_path / "x.tflite")])
    assert result.exit_code == 2, result.output
    assert "is not a Keras model" in result.output
    assert "File not found" not in result.output
