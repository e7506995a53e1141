"""Helpers for the bench/calibrate tests: tiny models built as flatbuffers (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model

REPO = Path(__file__).resolve().parent.parent
SAMPLE_MODELS = REPO / "sample_models"


def write_micro(tmp: Path, spec: MicroSpec) -> Path:
    path = tmp / f"{spec.name}.tflite"
    path.write_bytes(build_model(spec))
    return path


def small_conv_int8(tmp: Path) -> Path:
    return write_micro(tmp, MicroSpec(MicroOp.CONV_2D, "int8", 16, 16, 8, cout=8, kernel=3, repeat=2))


def small_fc_float(tmp: Path) -> Path:
    return write_micro(tmp, MicroSpec(MicroOp.FULLY_CONNECTED, "float32", 1, 1, 64, cout=10))


def sample_models() -> list[Path]:
    return sorted(SAMPLE_MODELS.glob("*.tflite"))
