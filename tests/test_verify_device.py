"""`edgekit verify BUNDLE_DIR` with only the base install (device tests: no TensorFlow anywhere).

The bundle is made here from the committed sample int8 model with golden outputs
computed by the model itself (the workstation tests in test_verify_cli.py use
golden outputs of the original Keras model).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from bundle_helpers import self_bundle
from click.testing import CliRunner
from verify_helpers import BLOCK_HEAVY_IMPORTS

from edgekit.cli import main

pytestmark = pytest.mark.device


def _self_bundle(tflite: Path, out: Path, count: int = 6, golden_fn: Any = None) -> Path:
    return self_bundle(tflite, out, count, golden_fn=golden_fn)


def _run_without_tf(args: list[str]) -> dict:
    code = BLOCK_HEAVY_IMPORTS + textwrap.dedent(f"""
        import json
        from click.testing import CliRunner
        from edgekit.cli import main
        r = CliRunner().invoke(main, {args!r})
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "onnx", "onnxruntime"))
        print(json.dumps({{"exit": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "heavy": heavy}}))
    """)
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ), check=False)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_bundle_passes_without_tensorflow(sample_int8: Path, tmp_path: Path) -> None:
    bundle = _self_bundle(sample_int8, tmp_path / "bundle")
    result = _run_without_tf(["verify", "--json", str(bundle)])
    assert result["heavy"] == []
    assert result["exit"] == 0, result
    report = json.loads(result["stdout"])
    assert report["passed"] is True and report["input_source"] == "bundle" and report["samples"] == 6
    assert report["runtime"] and report["quantization"] == "int8"
    (out,) = report["outputs"]
    assert out["max_abs_error"] == 0.0 and out["cosine"] == pytest.approx(1.0)
    human = _run_without_tf(["verify", str(bundle)])
    assert human["exit"] == 0 and "Runtime:" in human["stdout"] and "PASSED" in human["stdout"]


def test_bundle_with_other_outputs_fails_with_exit_1(sample_int8: Path, tmp_path: Path) -> None:
    bundle = _self_bundle(sample_int8, tmp_path / "bundle", golden_fn=lambda v: v[::-1, ..., ::-1].copy())
    result = CliRunner().invoke(main, ["verify", "--json", str(bundle)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False and report["failures"]
    assert "Error: verify failed" in result.stderr


def test_bundle_errors(sample_int8: Path, tmp_path: Path) -> None:
    bundle = _self_bundle(sample_int8, tmp_path / "bundle")
    (bundle / "model.tflite").write_bytes((bundle / "model.tflite").read_bytes() + b"\0")
    result = CliRunner().invoke(main, ["verify", str(bundle)])
    assert result.exit_code == 2 and "sha256" in result.stderr and "Traceback" not in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["verify", str(empty)])
    assert result.exit_code == 2 and "not a bundle folder" in result.stderr
    result = CliRunner().invoke(main, ["verify", str(bundle), "--explain"])
    assert result.exit_code == 2 and "--explain does not apply to a bundle" in result.stderr
