"""Shared pytest fixtures; each part of edgekit keeps its own test helpers in tests/<part>_helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent
SAMPLE_MODELS = REPO / "sample_models"


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def sample_int8() -> Path:
    """The committed full-int8 sample classifier (made by scripts/make_sample_models.py)."""
    path = SAMPLE_MODELS / "shapes_classifier_int8.tflite"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/make_sample_models.py and commit its output")
    return path


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same small model converted by the TF converter in every mode (tests/foundation_helpers.py)."""
    from foundation_helpers import build_variants

    return build_variants(tmp_path_factory.mktemp("variants"))
