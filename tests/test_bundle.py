"""edgekit.bundle: write and read a deployment bundle; every way a bundle can be broken (device-safe)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.bundle import MANIFEST_FILE, check_bundle, read_bundle, write_bundle
from edgekit.data import Preprocessing
from edgekit.errors import BundleError, OutputExistsError

pytestmark = pytest.mark.device

TFLITE = b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40  # content only; the bundle does not parse it


def _manifest() -> dict[str, Any]:
    return {
        "source": {"file": "m.keras", "sha256": "0" * 64, "format": "keras", "size_bytes": 10},
        "quantization": "int8",
        "io_type": "int8",
        "inputs": [{"name": "in:0", "source_name": "image", "shape": [1, 4, 4, 3], "dtype": "int8",
                    "scale": 0.01, "zero_point": -128, "to_tflite_perm": None}],
        "outputs": [{"name": "out:0", "source_name": "probs", "shape": [1, 2], "dtype": "int8",
                     "scale": 1 / 256, "zero_point": -128, "to_tflite_perm": None}],
        "preprocessing": Preprocessing.from_options("unit").to_dict(),
        "calibration": {"source": "images", "count": 5, "skipped": 0, "per_input": {}},
        "tools": {"tensorflow": "2.21.0"},
    }


def _golden(n: int = 3) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return ({"in:0": rng.random((n, 1, 4, 4, 3), dtype=np.float32)},
            {"out:0": rng.random((n, 1, 2), dtype=np.float32)})


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    gin, gout = _golden()
    return write_bundle(tmp_path / "b", TFLITE, _manifest(), gin, gout, force=False)


def test_round_trip(bundle: Path) -> None:
    b = read_bundle(bundle)
    assert b.model_path.read_bytes() == TFLITE
    assert b.manifest["format"] == "edgekit-bundle" and b.manifest["bundle_version"] == 1
    assert b.manifest["model"]["size_bytes"] == len(TFLITE) and b.manifest["golden"]["samples"] == 3
    assert b.samples == 3
    assert np.array_equal(b.golden_inputs["in:0"], _golden()[0]["in:0"])
    assert b.preprocessing is not None and Preprocessing.from_dict(b.preprocessing).preset == "unit"
    assert sorted(p.name for p in bundle.iterdir()) == ["golden.npz", "manifest.json", "model.tflite"]


def test_refuses_existing_without_force_and_replaces_with_force(bundle: Path) -> None:
    gin, gout = _golden(2)
    with pytest.raises(OutputExistsError):
        write_bundle(bundle, TFLITE, _manifest(), gin, gout, force=False)
    write_bundle(bundle, TFLITE + b"x", _manifest(), gin, gout, force=True)
    assert read_bundle(bundle).samples == 2
    assert [p.name for p in bundle.parent.iterdir()] == ["b"]  # no temp folders left behind


def test_writer_checks_golden_against_manifest(tmp_path: Path) -> None:
    gin, gout = _golden()
    with pytest.raises(BundleError, match="do not match"):
        write_bundle(tmp_path / "b", TFLITE, _manifest(), {"other:0": gin["in:0"]}, gout, force=False)
    assert not (tmp_path / "b").exists()


def _edit_manifest(bundle: Path, **changes: Any) -> None:
    path = bundle / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_tampered_model_is_caught(bundle: Path) -> None:
    (bundle / "model.tflite").write_bytes(TFLITE + b"evil")
    with pytest.raises(BundleError, match="sha256"):
        read_bundle(bundle)
    with pytest.raises(BundleError, match="sha256"):
        check_bundle(bundle)
    # verify's child: its parent has just run check_bundle, so the golden arrays are read without hashing again
    assert read_bundle(bundle, check_model_hash=False).samples == 3


def test_check_bundle_needs_no_numpy(bundle: Path) -> None:
    """verify's parent checks the manifest and the model's hash while the child imports numpy."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom edgekit.bundle import check_bundle\n"
        f"manifest, model, golden = check_bundle(Path({str(bundle)!r}))\n"
        "assert model.name == 'model.tflite' and golden.name == 'golden.npz', (model, golden)\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", ["../model.tflite", "/etc/passwd", "sub/../../x"])
def test_paths_must_stay_inside(bundle: Path, name: str) -> None:
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["model"]["file"] = name
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outside the bundle"):
        read_bundle(bundle)


def test_missing_pieces(bundle: Path, tmp_path: Path) -> None:
    (bundle / "golden.npz").unlink()
    with pytest.raises(BundleError, match="golden"):
        read_bundle(bundle)
    with pytest.raises(BundleError, match="not a folder"):
        read_bundle(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BundleError, match="no manifest.json"):
        read_bundle(empty)


def test_bad_manifest_json_and_keys(bundle: Path) -> None:
    (bundle / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_bundle(bundle)
    (bundle / MANIFEST_FILE).write_text(json.dumps({"format": "edgekit-bundle"}))
    with pytest.raises(BundleError, match="lacks required keys"):
        read_bundle(bundle)


def test_bad_version_and_io(bundle: Path) -> None:
    _edit_manifest(bundle, bundle_version=99)
    with pytest.raises(BundleError, match="bundle_version"):
        read_bundle(bundle)
    _edit_manifest(bundle, bundle_version=1, inputs=[{"name": "in:0"}])
    with pytest.raises(BundleError, match="'inputs'"):
        read_bundle(bundle)


def test_golden_shape_and_keys_checked(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["inputs"][0]["shape"] = [1, 5, 5, 3]
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="shape"):
        read_bundle(bundle)
    manifest["inputs"][0]["shape"] = [1, 4, 4, 3]
    manifest["outputs"][0]["name"] = "renamed:0"
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="golden outputs"):
        read_bundle(bundle)


def test_golden_npz_garbage(bundle: Path) -> None:
    (bundle / "golden.npz").write_bytes(b"garbage")
    with pytest.raises(BundleError, match="cannot be read"):
        read_bundle(bundle)


def test_device_modules_do_not_import_tensorflow() -> None:
    code = ("import sys, edgekit.bundle, edgekit.data; "
            "bad = [m for m in ('tensorflow', 'keras', 'onnx', 'onnx2tf') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
