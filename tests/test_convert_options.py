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
