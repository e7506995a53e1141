"""The bad-input matrix (docs/RELIABILITY.md): one table of cases, shared by

* tests/test_reliability_matrix.py (in-process, CliRunner), and
* scripts/reliability_matrix.py (the real `edgekit` CLI per case; writes docs/RELIABILITY.md).

A case builds its inputs in a fresh folder and returns the argv (without "edgekit"). The checks:
the exit code is one of ``expect``; a failure ends with exactly one `Error: ...` line and one
`Hint: ...` line on stderr, with no traceback and no "bug in edgekit"; and every file the case
made before the run (the user's files) is byte-for-byte unchanged afterwards.
Device-safe: numpy, Pillow and the flatbuffer schema only (no TensorFlow).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from reliability_helpers import make_fc_tflite, write_fc_bundle

REPO = Path(__file__).resolve().parent.parent
SAMPLE_KERAS = REPO / "sample_models" / "shapes_classifier.keras"
SAMPLE_INT8 = REPO / "sample_models" / "shapes_classifier_int8.tflite"
SHIPPED_PROFILES = Path(str(resources.files("edgekit.device_profiles")))  # the installed package's


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    what: str
    build: Callable[[Path], list[str]]
    expect: tuple[int, ...] = (2,)
    needs: str = ""  # "" | "unprivileged" (run as nobody: root ignores permissions) | "convert" (TensorFlow)
    outputs: tuple[str, ...] = ()  # paths (relative to the case folder) the command may create

    def __post_init__(self) -> None:
        if self.needs not in ("", "unprivileged", "convert"):
            raise ValueError(f"case {self.id}: needs must be '', 'unprivileged' or 'convert', not {self.needs!r}")


# ---------------------------------------------------------------- inputs


def fc_model(d: Path, name: str = "model.tflite") -> Path:
    path = d / name
    path.write_bytes(make_fc_tflite()[0])
    return path


def image_model(d: Path, name: str = "image.tflite") -> Path:
    """A float32 model with an image input [1, 8, 8, 3] (RESHAPE to [1, 192]): what --data DIR feeds."""
    from edgekit.core.tflite_builder import TFLiteBuilder

    b = TFLiteBuilder()
    image = b.tensor("image", (1, 8, 8, 3))
    new_shape = b.constant("new_shape", np.array([1, 192], np.int32))
    flat = b.tensor("flat", (1, 192))
    b.operator("RESHAPE", [image, new_shape], [flat], {"new_shape": [1, 192]})
    path = d / name
    path.write_bytes(b.build([image], [flat]))
    return path


def bundle(d: Path) -> Path:
    return write_fc_bundle(d / "bundle")


def npz(d: Path, name: str, **arrays: np.ndarray) -> Path:
    path = d / name
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def fc_data(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 1, 4)).astype(np.float32)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height (no pixel data): enough for Pillow's bomb guard."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def image_folder(d: Path, kind: str) -> Path:
    """A folder with one image of the given kind (for --data DIR)."""
    from PIL import Image

    folder = d / f"images-{kind}"
    folder.mkdir()
    rgb = Image.new("RGB", (8, 8), (120, 30, 200))
    if kind == "corrupt":
        (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    elif kind == "zero-bytes":
        (folder / "a.jpg").write_bytes(b"")
    elif kind == "16-bit":
        Image.new("I;16", (8, 8), 40000).save(folder / "a.png")
    elif kind == "cmyk":
        rgb.convert("CMYK").save(folder / "a.jpg")
    elif kind == "palette":
        rgb.convert("P").save(folder / "a.png")
    elif kind == "grayscale":
        rgb.convert("L").save(folder / "a.png")
    elif kind == "animated":
        frames = [rgb, Image.new("RGB", (8, 8), (0, 255, 0))]
        frames[0].save(folder / "a.png", save_all=True, append_images=frames[1:], duration=50, loop=0)  # APNG
    elif kind == "enormous":
        (folder / "a.png").write_bytes(png_header_only(30000, 30000))
    elif kind == "empty-folder":
        pass
    else:
        raise ValueError(kind)
    return folder


def profile_dir(d: Path, mutate: Callable[[str], str]) -> Path:
    """A --profiles folder holding a copy of the shipped rpi4b profile, changed by ``mutate`` (its id: 'mine')."""
    folder = d / "profiles"
    folder.mkdir()
    text = (SHIPPED_PROFILES / "rpi4b.toml").read_text(encoding="utf-8").replace('id = "rpi4b"', 'id = "mine"')
    (folder / "mine.toml").write_text(mutate(text), encoding="utf-8")
    return folder


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _manifest_edit(d: Path, edit: Callable[[dict], None]) -> Path:
    b = bundle(d)
    manifest = json.loads((b / "manifest.json").read_text())
    edit(manifest)
    (b / "manifest.json").write_text(json.dumps(manifest))
    return b


# ---------------------------------------------------------------- the model-file cases, for each command


def _bad_model_files() -> list[tuple[str, str, Callable[[Path], Path]]]:
    fc = make_fc_tflite()[0]
    return [
        ("missing", "model file does not exist", lambda d: d / "nope.tflite"),
        ("empty", "empty file (0 bytes)", lambda d: _write(d / "empty.tflite", b"")),
        ("truncated", "truncated .tflite (first half)", lambda d: _write(d / "half.tflite", fc[: len(fc) // 2])),
        ("random", "random bytes", lambda d: _write(d / "random.tflite", hashlib.sha512(b"x").digest() * 20)),
        ("wrong-format", "a .keras zip renamed .tflite", lambda d: _write(d / "k.tflite", b"PK\x03\x04" + b"\0" * 60)),
        ("directory", "a directory where a file is expected", lambda d: _mkdir(d / "adir.tflite")),
        ("unreadable", "file without read permission", lambda d: _chmod(fc_model(d, "locked.tflite"), 0o000)),
    ]


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _chmod(path: Path, mode: int) -> Path:
    path.chmod(mode)
    return path


MODEL_COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "inspect": lambda m: ["inspect", str(m)],
    "profile": lambda m: ["profile", str(m), "--device", "rpi4b"],
    "bench": lambda m: ["bench", str(m), "--runs", "1", "--warmup", "0"],
    "size": lambda m: ["size", str(m)],
    "verify": lambda m: ["verify", str(m)],
}


def _model_cases() -> list[Case]:
    cases = []
    for command, argv in MODEL_COMMANDS.items():
        for key, what, make in _bad_model_files():
            if command == "verify" and key == "directory":
                continue  # a directory is a bundle for verify: covered by the bundle cases

            def build(d: Path, make: Callable[[Path], Path] = make,
                      argv: Callable[[Path], list[str]] = argv) -> list[str]:
                return argv(make(d))

            cases.append(Case(f"{command}-{key}", command, what, build,
                              needs="unprivileged" if key == "unreadable" else ""))
    return cases


# ---------------------------------------------------------------- everything else


def _other_cases() -> list[Case]:
    c: list[Case] = []
    add = c.append
    # --- bundles (verify BUNDLE_DIR)
    add(Case("verify-bundle-ok", "verify", "a valid bundle (control: must pass)",
             lambda d: ["verify", str(bundle(d))], expect=(0,)))
    add(Case("verify-bundle-no-manifest", "verify", "bundle without manifest.json",
             lambda d: ["verify", str(_unlink(bundle(d), "manifest.json"))]))
    add(Case("verify-bundle-bad-json", "verify", "manifest.json is not JSON",
             lambda d: ["verify", str(_put(bundle(d), "manifest.json", b"{not json"))]))
    add(Case("verify-bundle-outside", "verify", "manifest points outside the bundle (../)",
             lambda d: ["verify", str(_manifest_edit(d, lambda m: m["model"].update(file="../model.tflite")))]))
    add(Case("verify-bundle-absolute", "verify", "manifest names an absolute path (/etc/passwd)",
             lambda d: ["verify", str(_manifest_edit(d, lambda m: m["golden"].update(file="/etc/passwd")))]))
    add(Case("verify-bundle-hash", "verify", "model changed after bundling (sha256 mismatch)",
             lambda d: ["verify", str(_flip_byte(bundle(d) / "model.tflite", -9).parent)]))
    add(Case("verify-bundle-no-golden", "verify", "golden.npz missing",
             lambda d: ["verify", str(_unlink(bundle(d), "golden.npz"))]))
    add(Case("verify-bundle-bad-golden", "verify", "golden.npz is not a zip",
             lambda d: ["verify", str(_put(bundle(d), "golden.npz", b"garbage"))]))
    add(Case("verify-bundle-shape", "verify", "manifest input shape disagrees with golden",
             lambda d: ["verify", str(_manifest_edit(d, lambda m: m["inputs"][0].update(shape=[1, 5])))]))
    add(Case("verify-bundle-is-file", "verify", "a file where the bundle folder is expected",
             lambda d: ["verify", str(_write(d / "bundle.zip", b"PK\x03\x04"))]))
    # --- data: NaN/Inf, shape and dtype mismatches (bench --data, device side)
    # bench times the model on whatever numbers it is given: NaN/Inf inputs are accepted (exit 0) or refused (2)
    add(Case("bench-data-nan", "bench", "NaN in the data arrays", expect=(0, 2), build=
             lambda d: ["bench", str(fc_model(d)), "--runs", "1", "--data", str(npz(d, "x.npz", input=_nan(fc_data()[:, 0])))]))
    add(Case("bench-data-inf", "bench", "Inf in the data arrays", expect=(0, 2), build=
             lambda d: ["bench", str(fc_model(d)), "--runs", "1",
                        "--data", str(npz(d, "x.npz", input=_inf(fc_data()[:, 0])))]))
    add(Case("bench-data-shape", "bench", "data shape (3,5) vs model input (1,4)",
             lambda d: ["bench", str(fc_model(d)), "--runs", "1",
                        "--data", str(npz(d, "x.npz", input=np.zeros((3, 5), np.float32)))]))
    add(Case("bench-data-dtype", "bench", "data of strings for a float32 input",
             lambda d: ["bench", str(fc_model(d)), "--runs", "1", "--data", str(npz(d, "x.npz", input=np.array([["a", "b", "c", "d"]])))]))
    add(Case("bench-data-key", "bench", ".npz keys do not name the model inputs",
             lambda d: ["bench", str(fc_model(d)), "--runs", "1",
                        "--data", str(npz(d, "x.npz", a=fc_data(), b=fc_data()))]))
    add(Case("bench-data-corrupt-npz", "bench", "truncated .npz",
             lambda d: ["bench", str(fc_model(d)), "--runs", "1",
                        "--data", str(_write(d / "x.npz", _npz_bytes(input=fc_data())[:100]))]))
    add(Case("bench-data-pickle", "bench", ".npy holding pickled objects",
             lambda d: ["bench", str(fc_model(d)), "--runs", "1",
                        "--data", str(_npy_objects(d / "x.npy"))]))
    # --- images (verify ORIGINAL CONVERTED --data DIR: the workstation path that reads image folders)
    for kind, expect, what in (
        ("corrupt", (2,), "a .png that is not a PNG"),
        ("zero-bytes", (2,), "a 0-byte .jpg"),
        ("16-bit", (0, 2), "16-bit grayscale PNG"),
        ("cmyk", (0, 2), "CMYK JPEG"),
        ("palette", (0, 2), "palette (P mode) PNG"),
        ("grayscale", (0, 2), "grayscale image for an RGB input"),
        ("animated", (0, 2), "animated PNG (2 frames)"),
        ("enormous", (2,), "30000x30000 PNG header (decompression-bomb guard)"),
        ("empty-folder", (2,), "an image folder with no images"),
    ):
        def build(d: Path, kind: str = kind) -> list[str]:
            return ["verify", str(SAMPLE_KERAS), str(SAMPLE_INT8), "--samples", "2", "--data", str(image_folder(d, kind))]

        # exit 1 is acceptable too: the images load, then the int8 model disagrees with the original on them
        add(Case(f"verify-image-{kind}", "verify", what, build,
                 expect=expect if expect == (2,) else (0, 1, 2), needs="convert"))
    # --- device profiles (--profiles DIR)
    for key, what, mutate in (
        ("unknown-key", "profile with an unknown key", lambda t: t.replace("[hardware]\n", "[hardware]\nturbo = 1\n")),
        ("wrong-type", "profile value of the wrong type (cores = \"four\")",
         lambda t: t.replace("cores = 4", 'cores = "four"')),
        ("absurd", "absurd value (clock_ghz = -3)", lambda t: t.replace("clock_ghz = 1.8", "clock_ghz = -3.0")),
        ("not-toml", "profile that is not TOML", lambda t: t + "\n[[[broken\n"),
        ("empty", "empty profile file", lambda t: ""),
    ):
        def build(d: Path, mutate: Callable[[str], str] = mutate) -> list[str]:
            return ["profile", str(fc_model(d)), "--device", "mine", "--profiles", str(profile_dir(d, mutate))]

        add(Case(f"profile-toml-{key}", "profile", what, build))
    add(Case("profile-unknown-device", "profile", "unknown --device id",
             lambda d: ["profile", str(fc_model(d)), "--device", "no-such-board"]))
    add(Case("devices-profile-unknown-key", "devices", "a --profiles folder with a broken profile",
             lambda d: ["devices", "--profiles", str(profile_dir(d, lambda t: t + "\nbogus_key = 1\n"))]))
    # --- outputs
    add(Case("calibrate-out-missing-dir", "calibrate", "-o into a folder that does not exist",
             lambda d: ["calibrate", "-o", str(d / "no" / "such" / "p.toml")]))
    add(Case("calibrate-out-readonly", "calibrate", "-o into a read-only folder",
             lambda d: ["calibrate", "-o", str(_chmod(_mkdir(d / "ro"), 0o555) / "p.toml")], needs="unprivileged"))
    add(Case("calibrate-out-exists", "calibrate", "-o onto an existing file without --force",
             lambda d: ["calibrate", "-o", str(_write(d / "p.toml", b"keep me"))]))
    add(Case("convert-out-missing-dir", "convert", "-o into a folder that does not exist",
             lambda d: ["convert", str(SAMPLE_KERAS), "-o", str(d / "no" / "such" / "m.tflite")], needs="convert"))
    add(Case("convert-out-readonly", "convert", "-o into a read-only folder",
             lambda d: ["convert", str(SAMPLE_KERAS), "-o", str(_chmod(_mkdir(d / "ro"), 0o555) / "m.tflite")],
             needs="unprivileged"))
    add(Case("convert-out-exists", "convert", "-o onto an existing file without --force",
             lambda d: ["convert", str(SAMPLE_KERAS), "-o", str(_write(d / "m.tflite", b"keep me"))], needs="convert"))
    add(Case("convert-bundle-is-file", "convert", "--bundle onto an existing file",
             lambda d: ["convert", str(SAMPLE_KERAS), "-o", str(d / "m.tflite"), "--bundle",
                        str(_write(d / "b", b"keep me"))], needs="convert", outputs=("m.tflite",)))
    add(Case("convert-model-random", "convert", "random bytes named .keras",
             lambda d: ["convert", str(_write(d / "m.keras", os.urandom(256))), "-o", str(d / "m.tflite")],
             needs="convert"))
    add(Case("convert-model-dir", "convert", "a folder that is not a SavedModel",
             lambda d: ["convert", str(_mkdir(d / "notsaved")), "-o", str(d / "m.tflite")], needs="convert"))
    add(Case("convert-calib-nan", "convert", "NaN in the calibration arrays",
             lambda d: ["convert", str(SAMPLE_KERAS), "-o", str(d / "m.tflite"), "--calibration",
                        str(npz(d, "c.npz", x=np.full((4, 1, 32, 32, 3), np.nan, np.float32)))], needs="convert"))
    return c


def _unlink(b: Path, name: str) -> Path:
    (b / name).unlink()
    return b


def _put(b: Path, name: str, data: bytes) -> Path:
    (b / name).write_bytes(data)
    return b


def _flip_byte(path: Path, index: int) -> Path:
    data = bytearray(path.read_bytes())
    data[index] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _nan(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flat[0] = np.nan
    return a


def _inf(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flat[-1] = np.inf
    return a


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _npy_objects(path: Path) -> Path:
    arr = np.empty(3, dtype=object)
    arr[:] = [{"a": 1}, [1, 2], "x"]
    np.save(path, arr, allow_pickle=True)  # a user's file edgekit must refuse to unpickle
    return path


CASES: list[Case] = _model_cases() + _other_cases()
CASES_BY_ID: dict[str, Case] = {c.id: c for c in CASES}
assert len(CASES_BY_ID) == len(CASES), "duplicate case ids"


# ---------------------------------------------------------------- judging a run


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under ``folder`` (permission-less files are skipped)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        try:
            if p.is_file():
                out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            continue
    return out


def judge(case: Case, exit_code: int, stdout: str, stderr: str, before: dict[str, str],
          after: dict[str, str]) -> list[str]:
    """Problems with one run (empty list = clean)."""
    problems = []
    if exit_code not in case.expect:
        problems.append(f"exit {exit_code}, expected {'/'.join(map(str, case.expect))}")
    if "Traceback" in stdout + stderr:
        problems.append("traceback")
    if "bug in edgekit" in stderr or "Error: unexpected" in stderr:
        problems.append("unexpected exception (edgekit bug)")
    if exit_code != 0:
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        if len(lines) < 2 or not lines[-2].startswith("Error: ") or not lines[-1].startswith("Hint: "):
            problems.append("stderr does not end with one Error: line and one Hint: line")
        elif sum(ln.startswith("Error: ") for ln in lines) != 1:
            problems.append("more than one Error: line")
    changed = [k for k, v in before.items() if after.get(k) != v and k not in case.outputs]
    if changed:
        problems.append(f"user files changed or removed: {changed}")
    return problems


def error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith(("Error: ", "Hint: "))]
    return " / ".join(lines[-2:]) if lines else ""
