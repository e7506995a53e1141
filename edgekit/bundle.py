"""The deployment bundle: ``model.tflite`` + ``manifest.json`` + ``golden.npz`` in one folder.

Device-safe (numpy + stdlib only). ``edgekit convert --bundle DIR`` writes it
with :func:`write_bundle`; ``edgekit verify BUNDLE_DIR`` reads it on the board
with :func:`read_bundle`, which checks everything it can before anything runs.
:func:`check_bundle` is its first half without numpy (the manifest and the model's
sha256): `verify BUNDLE` runs it in the CLI's process while the runtime's child
imports numpy (:mod:`edgekit.verify.device`).

golden.npz holds ``input:<tflite input name>`` and ``output:<tflite output
name>`` arrays with a leading sample axis, in the FLOAT domain of the original
model (not quantized), already in the TFLite tensor layout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from edgekit import __version__
from edgekit.errors import BundleError, InputError, OutputExistsError
from edgekit.fsutil import normal_permissions

if TYPE_CHECKING:
    import numpy as np

BUNDLE_FORMAT = "edgekit-bundle"
BUNDLE_VERSION = 1
MODEL_FILE = "model.tflite"
MANIFEST_FILE = "manifest.json"
GOLDEN_FILE = "golden.npz"
REQUIRED_KEYS = ("format", "bundle_version", "model", "quantization", "io_type", "inputs", "outputs", "golden")
IO_KEYS = ("name", "shape", "dtype")


@dataclass(frozen=True)
class Bundle:
    """A bundle that passed every check in :func:`read_bundle`."""

    dir: Path
    model_path: Path
    manifest: dict[str, Any]
    golden_inputs: dict[str, np.ndarray]  # tflite input name -> (N, *shape) float
    golden_outputs: dict[str, np.ndarray]  # tflite output name -> (N, *shape) float

    @property
    def samples(self) -> int:
        return int(next(iter(self.golden_inputs.values())).shape[0]) if self.golden_inputs else 0

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """The recipe dict (see :meth:`edgekit.data.Preprocessing.from_dict`), or None for array data."""
        recipe = self.manifest.get("preprocessing")
        return recipe if isinstance(recipe, dict) else None


def sha256_file(path: Path) -> str:
    import hashlib  # OpenSSL's binding: milliseconds that verify's runtime child does without (check_bundle)

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative names + contents, sorted) for SavedModels."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    import hashlib

    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(sha256_file(item).encode())
    return digest.hexdigest()


def path_size_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def utc_now() -> str:
    from datetime import UTC, datetime  # writing only: `verify BUNDLE` on a board does not import it

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_bundle(
    dir: Path,
    tflite_bytes: bytes,
    manifest: Mapping[str, Any],
    golden_inputs: Mapping[str, np.ndarray],
    golden_outputs: Mapping[str, np.ndarray],
    force: bool,
) -> Path:
    """Write a bundle atomically (built in a temp dir next to ``dir``, then renamed into place).

    ``manifest`` needs at least quantization, io_type, inputs and outputs; the
    format/version, model file/sha256/size, golden entry, edgekit version and
    creation time are filled in here. Refuses an existing non-empty ``dir``
    unless ``force``.
    """
    target = Path(dir)
    if target.exists() and not target.is_dir():
        raise InputError(f"Bundle path {target} exists and is not a folder.", hint="Choose a folder path for --bundle.")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise OutputExistsError(f"Bundle folder {target} already exists and is not empty.")
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"Bundle parent folder {parent} does not exist.", hint=f"Create it first: mkdir -p {parent}")
    full = _complete_manifest(manifest, tflite_bytes, golden_inputs)
    _check_golden(full, dict(golden_inputs), dict(golden_outputs), GOLDEN_FILE)
    import shutil  # writing only: `verify BUNDLE` on a board never pays for them
    import tempfile

    import numpy as np

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        (tmp / MODEL_FILE).write_bytes(tflite_bytes)
        arrays = {f"input:{k}": np.asarray(v) for k, v in golden_inputs.items()}
        arrays.update({f"output:{k}": np.asarray(v) for k, v in golden_outputs.items()})
        with open(tmp / GOLDEN_FILE, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        (tmp / MANIFEST_FILE).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
        normal_permissions(tmp)  # not mkdtemp's 0700: the bundle is copied to the device
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.replace(target, trash / "old")
            os.replace(tmp, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _complete_manifest(
    manifest: Mapping[str, Any], tflite_bytes: bytes, golden_inputs: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    full: dict[str, Any] = {"format": BUNDLE_FORMAT, "bundle_version": BUNDLE_VERSION, "edgekit_version": __version__}
    full.update(manifest)
    full["format"], full["bundle_version"] = BUNDLE_FORMAT, BUNDLE_VERSION
    import hashlib

    full["model"] = {"file": MODEL_FILE, "sha256": hashlib.sha256(tflite_bytes).hexdigest(),
                     "size_bytes": len(tflite_bytes)}
    samples = int(next(iter(golden_inputs.values())).shape[0]) if golden_inputs else 0
    full["golden"] = {"file": GOLDEN_FILE, "samples": samples}
    full.setdefault("created_utc", utc_now())
    missing = [k for k in REQUIRED_KEYS if k not in full]
    if missing:
        raise ValueError(f"bundle manifest lacks {missing}")
    return full


def _safe_member(bundle_dir: Path, name: Any, what: str) -> Path:
    """A file name from the manifest that must stay inside the bundle."""
    if not isinstance(name, str) or not name:
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: {what} file name is missing or not a string.")
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: {what} file '{name}' points outside the bundle.",
                          hint="A bundle's files must sit inside its folder; re-create the bundle.")
    path = bundle_dir / pure
    if not path.is_file():
        raise BundleError(f"Bundle {bundle_dir} lacks its {what} file '{name}'.")
    return path


def read_bundle(dir: Path, check_model_hash: bool = True) -> Bundle:
    """Read and validate a bundle; every problem is a BundleError naming the file and what is wrong.

    ``check_model_hash=False`` only where :func:`check_bundle` has just checked it (verify's parent process).
    """
    bundle_dir = Path(dir)
    manifest, model_path, golden_path = check_bundle(bundle_dir, check_model_hash)
    inputs, outputs = _read_golden(golden_path)
    _check_golden(manifest, inputs, outputs, str(golden_path))
    return Bundle(bundle_dir, model_path, manifest, inputs, outputs)


def check_bundle(dir: Path, check_model_hash: bool = True) -> tuple[dict[str, Any], Path, Path]:
    """The checks of :func:`read_bundle` that need no numpy: (manifest, model path, golden path).

    The manifest's keys and the model's sha256; the golden arrays are :func:`read_bundle`'s.
    """
    bundle_dir = Path(dir)
    if not bundle_dir.is_dir():
        raise BundleError(f"Bundle {bundle_dir} is not a folder.", hint="Pass the folder that convert --bundle wrote.")
    manifest_path = bundle_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise BundleError(f"Bundle {bundle_dir} has no {MANIFEST_FILE}.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{manifest_path} must hold a JSON object.")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{manifest_path}: 'format' is {manifest.get('format')!r}, expected '{BUNDLE_FORMAT}'.")
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"{manifest_path} lacks required keys: {', '.join(missing)}.")
    if manifest["bundle_version"] != BUNDLE_VERSION:
        raise BundleError(f"{manifest_path}: bundle_version {manifest['bundle_version']!r} is not supported "
                          f"(this edgekit reads version {BUNDLE_VERSION}).", hint="Use the same edgekit version on both sides.")
    for side in ("inputs", "outputs"):
        entries = manifest[side]
        if not isinstance(entries, list) or not entries or not all(
            isinstance(e, dict) and all(k in e for k in IO_KEYS) for e in entries
        ):
            raise BundleError(f"{manifest_path}: '{side}' must be a non-empty list of objects with {', '.join(IO_KEYS)}.")
    model_info, golden_info = manifest["model"], manifest["golden"]
    if not isinstance(model_info, dict) or not isinstance(golden_info, dict):
        raise BundleError(f"{manifest_path}: 'model' and 'golden' must be JSON objects.")
    model_path = _safe_member(bundle_dir, model_info.get("file"), "model")
    if check_model_hash:
        actual = sha256_file(model_path)
        if actual != model_info.get("sha256"):
            raise BundleError(f"{model_path}: sha256 {actual[:12]}... does not match the manifest's "
                              f"{str(model_info.get('sha256'))[:12]}...; the model was changed or damaged in transit.")
    return manifest, model_path, _safe_member(bundle_dir, golden_info.get("file"), "golden")


def _read_golden(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    import zipfile
    import zlib

    import numpy as np

    inputs: dict[str, np.ndarray] = {}
    outputs: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                kind, _, name = key.partition(":")
                if kind not in ("input", "output") or not name:
                    raise BundleError(f"{path}: unexpected array '{key}' (keys are input:<name> / output:<name>).")
                (inputs if kind == "input" else outputs)[name] = data[key]
    except BundleError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error) as exc:
        # NotImplementedError/RuntimeError/zlib.error: damaged zip headers (found by tests/test_fuzz_inputs.py)
        raise BundleError(f"{path} cannot be read as .npz ({exc}).") from None
    return inputs, outputs


def _check_golden(
    manifest: Mapping[str, Any], inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray], where: str
) -> None:
    import numpy as np

    counts: set[int] = set()
    for side, arrays in (("inputs", inputs), ("outputs", outputs)):
        expected = {str(e["name"]): e for e in manifest[side]}
        if set(expected) != set(arrays):
            raise BundleError(f"{where}: golden {side} {sorted(arrays)} do not match the manifest's {sorted(expected)}.")
        for name, arr in arrays.items():
            try:
                shape = tuple(int(d) for d in expected[name]["shape"])
            except (TypeError, ValueError, OverflowError):  # found by tests/test_fuzz_inputs.py
                raise BundleError(f"{where}: the manifest's shape {expected[name]['shape']!r} of {side[:-1]} '{name}' "
                                  "is not a list of integers.") from None
            if arr.ndim < 1 or tuple(arr.shape[1:]) != shape:
                raise BundleError(f"{where}: golden {side[:-1]} '{name}' has shape {arr.shape}, expected (N, "
                                  f"{', '.join(map(str, shape))}).")
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
                raise BundleError(f"{where}: golden {side[:-1]} '{name}' has dtype {arr.dtype}, not numbers.")
            counts.add(int(arr.shape[0]))
    if len(counts) > 1:
        raise BundleError(f"{where}: golden arrays have different sample counts {sorted(counts)}.")
    samples = manifest.get("golden", {}).get("samples") if isinstance(manifest.get("golden"), dict) else None
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)):  # found by test_fuzz_inputs
        raise BundleError(f"{where}: the manifest's golden sample count {samples!r} is not an integer.")
    if counts and samples is not None and counts != {samples}:
        raise BundleError(f"{where}: golden arrays hold {counts.pop()} samples but the manifest says {samples}.")
    if counts == {0}:
        raise BundleError(f"{where}: golden arrays hold no samples.")


__all__ = ["Bundle", "write_bundle", "read_bundle", "check_bundle", "sha256_file", "sha256_path", "path_size_bytes",
           "BUNDLE_FORMAT", "BUNDLE_VERSION", "MODEL_FILE", "MANIFEST_FILE", "GOLDEN_FILE"]
