"""The device side stays light: importing any device-safe module or running device commands must not import
TensorFlow (or keras, onnx, onnxruntime, torch).

Like click's own test_imports.py: import in a fresh interpreter and look at sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras", "tf_keras", "onnx", "onnx2tf", "onnxruntime", "torch")
# Every module that is not host-only (edgekit.host.*), found with pkgutil: a new module is checked without
# anyone adding it to a list. Run in the base-only venv too (scripts/test-device), where TF is absent.
WALK = """
import pkgutil, edgekit
names = {m.name for m in pkgutil.walk_packages(edgekit.__path__, "edgekit.")}
names.add("edgekit.device_profiles")  # mapped from the top-level folder (not under edgekit/ in an editable install)
print(json.dumps(sorted(n for n in names if not (n == "edgekit.host" or n.startswith("edgekit.host.")))))
"""


def _device_modules() -> list[str]:
    out = subprocess.run([sys.executable, "-P", "-c", "import json\n" + WALK], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))
"""


def _heavy_after(body: str) -> list[str]:
    code = PROBE.format(body=body, heavy=set(HEAVY))
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.device
def test_importing_device_modules_pulls_in_nothing_heavy() -> None:
    modules = _device_modules()
    # the walk sees the package (and the profiles installed with it), not an empty list
    assert {"edgekit.cli", "edgekit.core.quant", "edgekit.commands.convert", "edgekit.device_profiles"} <= set(modules)
    assert not any(m.startswith("edgekit.host") for m in modules)
    body = "\n".join(f"import {m}" for m in modules)
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


REPORT_EXTRA = ("jinja2", "markupsafe", "matplotlib")


@pytest.mark.device
def test_the_report_extra_is_imported_only_to_make_a_report() -> None:
    """Importing every device-safe module (the report package too) pulls in neither jinja2 nor matplotlib (the
    next test: making a report does, and nothing heavier)."""
    body = "\n".join(f"import {m}" for m in _device_modules())
    code = PROBE.format(body=body, heavy=set(REPORT_EXTRA))
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.device
@pytest.mark.report
def test_making_a_report_imports_the_report_extra_and_nothing_heavier(sample_int8: Path, tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    made = f"""
from click.testing import CliRunner
from edgekit.cli import main
r = CliRunner().invoke(main, ["profile", {str(sample_int8)!r}, "-d", "rpi4b", "--html", {str(page)!r}])
assert r.exit_code == 0, r.output
"""
    assert _heavy_after(made) == []
    assert page.stat().st_size > 10_000
