"""Replay the regression corpus: inputs that once crashed a reader/loader (found by test_fuzz_inputs.py).

The file name's prefix says what reads it: ``*.tflite`` -> the reader and `edgekit inspect`;
``manifest-*.json`` / ``golden-*.npz`` -> the bundle reader (in a copy of the test bundle);
``data-*.npz`` -> the calibration/verify data loader; ``profile-*.toml`` -> the profile loader.
Each must now give a clean edgekit error (or a result), never another exception.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from reliability_helpers import write_fc_bundle

from edgekit.cli import main
from edgekit.errors import EdgekitError

pytestmark = pytest.mark.device

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_file() and not p.name.startswith(".")) if CORPUS.is_dir() else []


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 5, "tests/fuzz_corpus/ lost its regression inputs"
    unknown = [p.name for p in CASES if not p.name.endswith((".tflite", ".json", ".npz", ".toml"))]
    assert unknown == []


def _read_with_edgekit(case: Path, tmp_path: Path) -> None:
    name = case.name
    if name.endswith(".tflite"):
        from edgekit.tflite.model import parse_model

        model = parse_model(case.read_bytes(), name)
        for sg in model.subgraphs:
            for tensor in sg.tensors:
                tensor.data()
    elif name.startswith(("manifest-", "golden-")):
        from edgekit.bundle import read_bundle

        bundle = write_fc_bundle(tmp_path / "bundle")
        shutil.copyfile(case, bundle / ("manifest.json" if name.startswith("manifest-") else "golden.npz"))
        read_bundle(bundle)
    elif name.startswith("data-"):
        from edgekit.core.source import TensorSpec
        from edgekit.data import load_samples

        load_samples(case, [TensorSpec(name="input", shape=(1, 4), dtype="float32")], None, 8)
    elif name.startswith("profile-"):
        from edgekit.profile.schema import load_profile

        load_profile(case)
    else:
        pytest.fail(f"no reader known for corpus file {name}")


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_corpus_input_gives_a_clean_error(case: Path, tmp_path: Path) -> None:
    before = case.read_bytes()
    try:
        _read_with_edgekit(case, tmp_path)
    except EdgekitError as exc:
        assert exc.message and "\n" not in exc.message and exc.hint
    assert case.read_bytes() == before


@pytest.mark.parametrize("case", [p for p in CASES if p.suffix == ".tflite"],
                         ids=[p.name for p in CASES if p.suffix == ".tflite"])
def test_corpus_model_through_inspect_cli(case: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", str(case)])
    assert result.exit_code in (0, 2), result.output
    if result.exit_code:
        assert result.stderr.startswith("Error: ") and "Hint: " in result.stderr
        assert "Traceback" not in result.output and "bug in edgekit" not in result.output
