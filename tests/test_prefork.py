"""`edgekit verify BUNDLE` forks its runtime child first thing (edgekit.entry, edgekit.prefork).

The child imports numpy and the runtime while the parent imports click; then it serves the one request
the verify command sends. These tests run the console entry point the way a user does (a fresh process)
and check the same verdict as the CLI, the same crash isolation, that an unused child goes away, and
that the early child stays light (no click).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_helpers import write_fc_bundle

from edgekit import prefork
from edgekit.entry import _cpus, looks_like_bundle_verify
from edgekit.errors import EXIT_BACKEND, DataError
from edgekit.tflite.sandbox import run_isolated

pytestmark = pytest.mark.device

TESTS_DIR = Path(__file__).resolve().parent
ENTRY = "import sys; from edgekit.entry import main; main()"  # what the `edgekit` console script runs


def _run_entry(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, check=False,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fc_bundle(tmp_path_factory.mktemp("prefork") / "bundle")


def test_console_script_is_the_entry_module() -> None:
    import tomllib

    pyproject = tomllib.loads((TESTS_DIR.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["edgekit"] == "edgekit.entry:main"


def test_looks_like_bundle_verify(bundle: Path, tmp_path: Path) -> None:
    b = str(bundle)
    assert looks_like_bundle_verify(["verify", b])
    assert looks_like_bundle_verify(["--debug", "verify", "--samples", "3", b, "--json"])
    assert not looks_like_bundle_verify(["verify", b, "--help"])  # no runtime work
    assert not looks_like_bundle_verify(["verify", b, "--on", "ssh://pi@board"])  # the board does it
    assert not looks_like_bundle_verify(["verify", b, "--on=ssh://pi@board"])
    assert not looks_like_bundle_verify(["inspect", b])
    assert not looks_like_bundle_verify(["verify", str(tmp_path)])  # a folder without a manifest
    assert not looks_like_bundle_verify(["verify", str(bundle / "model.tflite")])
    assert not looks_like_bundle_verify([])


def _claim_script(marker: Path, cpus: int | None) -> str:
    """A `edgekit` console run that records whether the verify command found an early child."""
    return (
        "import sys, edgekit.prefork as pf, edgekit.entry as entry\n"
        "orig = pf.claim_warm\n"
        "def claim(target):\n"
        "    warm = orig(target)\n"
        f"    open({str(marker)!r}, 'w').write(f'{{warm is not None}} {{target}}')\n"
        "    return warm\n"
        "pf.claim_warm = claim\n"
        + (f"entry._cpus = lambda: {cpus}\n" if cpus is not None else "")
        + "entry.main()\n"
    )


@pytest.mark.skipif(_cpus() < 2, reason="the early child is forked only where two processes can run at once")
def test_entry_verify_gives_the_clis_result_from_the_early_child(bundle: Path, tmp_path: Path) -> None:
    """Same report as `edgekit verify` through click alone, and the early child did the work."""
    from click.testing import CliRunner

    from edgekit.cli import main

    marker = tmp_path / "claimed"
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _claim_script(marker, None), "verify", str(bundle), "--json"], capture_output=True,
        text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "True edgekit.verify.device:measure_bundle_in_this_process"
    direct = CliRunner().invoke(main, ["verify", str(bundle), "--json"])
    assert direct.exit_code == 0, direct.output
    early, plain = json.loads(proc.stdout), json.loads(direct.stdout)
    assert early["passed"] is True
    for key in ("passed", "samples", "quantization", "outputs", "thresholds", "runtime"):
        assert early[key] == plain[key], key


def test_one_cpu_forks_after_parsing(bundle: Path, tmp_path: Path) -> None:
    """On one CPU the two processes would only take turns: no early child, the verify forks as before."""
    marker = tmp_path / "claimed"
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _claim_script(marker, 1), "verify", str(bundle)], capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout
    assert marker.read_text() == "False edgekit.verify.device:measure_bundle_in_this_process"


def test_entry_verify_without_fork_still_works(bundle: Path) -> None:
    proc = _run_entry("verify", str(bundle), env={"EDGEKIT_SANDBOX": "spawn"})
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout


def test_early_child_crash_is_a_clean_error(bundle: Path, tmp_path: Path) -> None:
    """The runtime segfaults in the early child: exit 3 naming the file, no traceback, the bundle intact."""
    from test_reliability_device import SITECUSTOMIZE_CRASH

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE_CRASH, encoding="utf-8")
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    proc = _run_entry("verify", str(bundle), env={"PYTHONPATH": str(hook)})  # early child or not: both isolate
    assert proc.returncode == EXIT_BACKEND, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-2].startswith("Error: The TFLite runtime crashed (SIGSEGV)") and "model.tflite" in lines[-2]
    assert lines[-1].startswith("Hint: ") and "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


def _gone(pid: int, within_s: float) -> bool:
    """The process has exited (gone, or a zombie its new parent has not reaped yet)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or _cpus() < 2, reason="needs /proc and two CPUs")
def test_unused_early_child_exits_with_the_parent(bundle: Path) -> None:
    """A bundle verify that stops before the runtime (a usage error): the early child exits too."""
    script = (
        "import edgekit.prefork as pf\n"
        "orig = pf.prefork\n"
        "def spy(*a):\n"
        "    ok = orig(*a)\n"
        "    print(pf._warm.pid, flush=True)\n"
        "    return ok\n"
        "pf.prefork = spy\n"
        "from edgekit.entry import main\n"
        "main()\n"
    )
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, "verify", str(bundle), "--samples", "many"], capture_output=True,
        text=True, timeout=300, check=False,
    )
    assert proc.returncode == 2 and "Error:" in proc.stderr
    pid = int(proc.stdout.split()[0])
    assert _gone(pid, within_s=30), f"the early child {pid} outlived the command"


@pytest.fixture
def helpers_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    monkeypatch.delenv("EDGEKIT_SANDBOX", raising=False)


@pytest.mark.usefixtures("helpers_importable")
def test_run_isolated_uses_the_early_child_for_its_target() -> None:
    assert prefork.prefork("reliability_helpers:child_pid", "edgekit.prefork:can_fork")
    warm_pid = prefork._warm.pid if prefork._warm else None
    assert run_isolated("reliability_helpers:child_pid", {}, subject="x", fork=True) == warm_pid
    assert prefork._warm is None  # used once
    assert run_isolated("reliability_helpers:child_pid", {}, subject="x", fork=True) != warm_pid  # a new fork


@pytest.mark.usefixtures("helpers_importable")
def test_an_early_child_for_another_target_is_let_go() -> None:
    assert prefork.prefork("reliability_helpers:child_pid", "edgekit.prefork:can_fork")
    warm_pid = prefork._warm.pid if prefork._warm else -1
    assert run_isolated("reliability_helpers:child_echo", {"value": [1, "a"]}, subject="x", fork=True) == [1, "a"]
    with pytest.raises(ChildProcessError):  # reaped by claim_warm
        os.waitpid(warm_pid, os.WNOHANG)


@pytest.mark.usefixtures("helpers_importable")
def test_early_child_errors_cross_the_boundary() -> None:
    assert prefork.prefork("reliability_helpers:child_raise_data_error", "edgekit.prefork:can_fork")
    with pytest.raises(DataError) as info:
        run_isolated("reliability_helpers:child_raise_data_error", {"message": "bad data"}, subject="x", fork=True)
    assert info.value.message == "bad data" and info.value.hint == "a hint from the child"


def test_prefork_is_off_with_spawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_SANDBOX", "spawn")
    assert not prefork.prefork("reliability_helpers:child_pid", "edgekit.prefork:can_fork")
    assert prefork._warm is None


def test_early_child_warms_up_without_click(bundle: Path) -> None:
    """What makes the early start pay: the child imports numpy and the runtime, never click (the parent's)."""
    script = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "from edgekit.prefork import prefork\n"
        "prefork('reliability_helpers:child_modules', 'edgekit.verify.device:warm_up')\n"
        "import click\n"  # the parent's side, as the CLI does
        "from edgekit.tflite.sandbox import run_isolated\n"
        "print(json.dumps(run_isolated('reliability_helpers:child_modules', {}, subject='x', fork=True)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout))
    assert {"numpy", "edgekit.verify.metrics", "edgekit.bundle", "edgekit.tflite.runtime"} <= modules
    assert "click" not in modules
    assert "hashlib" not in modules  # the parent checks the model's sha256 (edgekit.bundle.check_bundle)
    assert "edgekit.verify.compare" not in modules  # the parent judges the child's figures


def test_child_imports_with_the_collector_paused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's imports run with the cyclic collector off (they free nothing), and it is back on after."""
    import gc

    from edgekit.tflite.child import import_target

    (tmp_path / "probe_gc_module.py").write_text(
        "import gc\nCOLLECTING_DURING_IMPORT = gc.isenabled()\n\ndef target():\n    return gc.isenabled()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert gc.isenabled()
    func = import_target("probe_gc_module:target")
    assert sys.modules["probe_gc_module"].COLLECTING_DURING_IMPORT is False
    assert func() is True and gc.isenabled()
    gc.unfreeze()  # what import_target froze: this test process runs on
