"""Device-side reliability: the base install has no TensorFlow, and untrusted models run in a sandbox.

All tests here are @pytest.mark.device: they run in the workstation venv, in the base-install
venv of scripts/test-device and on the emulated Pi of scripts/test-pi.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import fc_reference, make_fc_tflite, write_fc_bundle

from edgekit.errors import EXIT_BACKEND, BackendError, DataError, InputError, ModelFormatError
from edgekit.tflite.sandbox import probe_model, run_isolated

pytestmark = pytest.mark.device

TESTS_DIR = Path(__file__).resolve().parent
WORKSTATION_ONLY = ("tensorflow", "keras", "tf_keras", "onnx", "onnx2tf", "onnxruntime")

def test_device_venv_has_no_tensorflow() -> None:
    """In the base-install venv (EDGEKIT_DEVICE_ENV=1, set by scripts/test-device and test-pi)
    no workstation-only package may be importable, and edgekit must be the installed one."""
    if os.environ.get("EDGEKIT_DEVICE_ENV") != "1":
        pytest.skip("only meaningful in the base-install venv (scripts/test-device, scripts/test-pi)")
    present = [m for m in WORKSTATION_ONLY if importlib.util.find_spec(m) is not None]
    assert present == [], f"the base install must not contain {present}"
    import edgekit

    assert "site-packages" in str(edgekit.__file__), f"edgekit imported from the work tree: {edgekit.__file__}"


# --- the sandbox ------------------------------------------------------------------------------


@pytest.fixture
def child_can_import_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the sandbox's child import tests/reliability_helpers.py (as module 'reliability_helpers')."""
    old = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", str(TESTS_DIR) + (os.pathsep + old if old else ""))


@pytest.fixture(scope="module")
def fc_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    data, weights, bias = make_fc_tflite()
    path = tmp_path_factory.mktemp("fc") / "fc.tflite"
    path.write_bytes(data)
    return path, weights, bias


@pytest.mark.usefixtures("child_can_import_helpers")
@pytest.mark.parametrize(("target", "signal_name"), [("child_segfault", "SIGSEGV"), ("child_abort", "SIGABRT")])
def test_native_crash_in_child_is_a_clean_backend_error(target: str, signal_name: str) -> None:
    with pytest.raises(BackendError) as info:
        run_isolated(f"reliability_helpers:{target}", {}, subject="/data/user-model.tflite")
    err = info.value
    assert err.exit_code == EXIT_BACKEND
    assert "/data/user-model.tflite" in err.message and signal_name in err.message
    assert "\n" not in err.message and err.hint


@pytest.mark.usefixtures("child_can_import_helpers")
def test_hung_child_is_stopped() -> None:
    with pytest.raises(BackendError, match=r"did not finish .*m\.tflite within 1 s"):
        run_isolated("reliability_helpers:child_sleep", {"seconds": 60}, subject="m.tflite", timeout_s=1)


@pytest.mark.usefixtures("child_can_import_helpers")
def test_child_exit_without_result_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="exited with status 7 without a result"):
        run_isolated("reliability_helpers:child_exit", {"code": 7}, subject="m.tflite")


@pytest.mark.usefixtures("child_can_import_helpers")
def test_child_result_and_errors_cross_the_boundary() -> None:
    value = {"a": [1, 2.5, None], "b": "text"}
    assert run_isolated("reliability_helpers:child_echo", {"value": value}, subject="x") == value
    with pytest.raises(DataError) as info:
        run_isolated("reliability_helpers:child_raise_data_error", {"message": "bad data"}, subject="x")
    assert info.value.message == "bad data" and info.value.hint == "a hint from the child"


def test_run_isolated_rejects_bad_targets() -> None:
    with pytest.raises(ValueError, match="package.module:function"):
        run_isolated("no_colon", {}, subject="x")
    with pytest.raises(BackendError, match="ModuleNotFoundError"):
        run_isolated("edgekit_no_such_module:f", {}, subject="x")


def test_probe_model_runs_a_valid_model(fc_model: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, _, _ = fc_model
    assert probe_model(path) == {"inputs": 1, "outputs": 1, "invoked": True, "refused": None}


def test_probe_model_rejects_bad_files_before_the_runtime(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFormatError, match="garbage.tflite"):
        probe_model(garbage)
    with pytest.raises(InputError, match="does not exist"):
        probe_model(tmp_path / "missing.tflite")


def test_probe_model_turns_a_runtime_refusal_into_backend_error(tmp_path: Path) -> None:
    """A file the reader accepts but the runtime refuses (a GATHER given FULLY_CONNECTED's three inputs)."""
    from edgekit.core.tflite_builder import builtin_code, pack, unpack

    data, _, _ = make_fc_tflite()
    model = unpack(data)
    model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = builtin_code("GATHER")
    model.subgraphs[0].operators[0].builtinOptionsType = 0
    model.subgraphs[0].operators[0].builtinOptions = None
    path = tmp_path / "wrong-arity.tflite"
    path.write_bytes(pack(model))
    before = path.read_bytes()
    with pytest.raises(BackendError) as info:
        probe_model(path)
    assert "wrong-arity.tflite" in info.value.message and info.value.exit_code == EXIT_BACKEND
    assert path.read_bytes() == before


def test_stopgap_bundle_golden_matches_the_runtime(tmp_path: Path) -> None:
    """The helper bundle is self-consistent: the runtime reproduces its golden outputs."""
    from edgekit.tflite.runtime import load_interpreter

    bundle = write_fc_bundle(tmp_path / "bundle")
    golden = np.load(bundle / "golden.npz")
    interp = load_interpreter(bundle / "model.tflite")
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    for x, y in zip(golden["input:input"], golden["output:output"], strict=True):
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        np.testing.assert_allclose(interp.get_tensor(out["index"]), y, rtol=1e-5, atol=1e-5)
    data, weights, bias = make_fc_tflite()
    assert (bundle / "model.tflite").read_bytes() == data
    np.testing.assert_allclose(fc_reference(golden["input:input"][0], weights, bias), golden["output:output"][0])


SITECUSTOMIZE_CRASH = '''
# Loaded only by child processes of one test (PYTHONPATH): the runtime "segfaults" on any model.
import faulthandler
import edgekit.tflite.runtime as _runtime

def _crash(*args, **kwargs):
    faulthandler._sigsegv()

_runtime.load_interpreter = _crash
'''


def _crash_now(*args: object, **kwargs: object) -> None:
    import faulthandler

    faulthandler._sigsegv()


@pytest.mark.parametrize("sandbox", ["fork", "spawn"])
def test_verify_bundle_survives_a_native_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str) -> None:
    """End to end: the runtime dies with SIGSEGV on the bundle's model -> exit 3 naming the file, no traceback.

    verify BUNDLE does its runtime work in a forked child (the default) or, with EDGEKIT_SANDBOX=spawn, in a
    fresh interpreter; the crash is injected into whichever child does the work."""
    from click.testing import CliRunner

    import edgekit.tflite.runtime
    from edgekit.cli import main

    bundle = write_fc_bundle(tmp_path / "bundle")
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    if sandbox == "spawn":
        hook = tmp_path / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE_CRASH, encoding="utf-8")
        monkeypatch.setenv("PYTHONPATH", str(hook))
        monkeypatch.setenv("EDGEKIT_SANDBOX", "spawn")
    else:
        monkeypatch.delenv("EDGEKIT_SANDBOX", raising=False)
        monkeypatch.setattr(edgekit.tflite.runtime, "load_interpreter", _crash_now)  # only the forked child calls it
    result = CliRunner().invoke(main, ["verify", str(bundle)])
    assert result.exit_code == EXIT_BACKEND, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-2].startswith("Error: The TFLite runtime crashed (SIGSEGV)") and "model.tflite" in lines[-2]
    assert lines[-1].startswith("Hint: ") and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before
