"""The device side stays light: importing the CLI and running device commands must not import TensorFlow.

Like click's own test_imports.py: import in a fresh interpreter and look at sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras", "tf_keras", "onnx", "onnx2tf", "onnxruntime", "torch")
DEVICE_MODULES = [
    "edgekit.cli",
    "edgekit.commands.inspect",
    "edgekit.commands.profile",
    "edgekit.commands.devices",
    "edgekit.commands.bench",
    "edgekit.commands.calibrate",
    "edgekit.commands.size",
    "edgekit.commands.verify",
    "edgekit.commands.convert",  # its module must stay light too: TF is imported when it runs
    "edgekit.tflite.model",
    "edgekit.tflite.runtime",
    "edgekit.sizing",
    "edgekit.profile",
    "edgekit.bundle",
    "edgekit.verify.device",
    "edgekit.bench",
    "edgekit.calibrate",
    "edgekit.data",
]

PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))
"""


def _heavy_after(body: str) -> list[str]:
    code = PROBE.format(body=body, heavy=set(HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.device
def test_importing_device_modules_pulls_in_nothing_heavy() -> None:
    body = "\n".join(f"import {m}" for m in DEVICE_MODULES)
    assert _heavy_after(body) == []


@pytest.mark.device
def test_help_and_inspect_run_without_heavy_imports(sample_int8: Path) -> None:
    body = f"""
from click.testing import CliRunner
from edgekit.cli import main
r = CliRunner().invoke(main, ["--help"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(main, ["inspect", "--json", {str(sample_int8)!r}])
assert r.exit_code == 0, r.output
assert json.loads(r.output)["quantization"] == "int8"
"""
    assert _heavy_after(body) == []


@pytest.mark.device
def test_runtime_loader_prefers_litert_and_runs(sample_int8: Path) -> None:
    body = f"""
import numpy as np
from edgekit.tflite.runtime import load_interpreter, runtime_info
info = runtime_info()
assert info.name == "ai-edge-litert", info
it = load_interpreter({str(sample_int8)!r}, num_threads=1)
d = it.get_input_details()[0]
it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()
"""
    assert _heavy_after(body) == []
