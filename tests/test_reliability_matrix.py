"""The bad-input matrix, in-process: every case gives a clean `Error:` + `Hint:` and leaves the user's files alone.

The same table (tests/reliability_cases.py) is run through the real CLI by
scripts/reliability_matrix.py, which writes docs/RELIABILITY.md with the observed message per case.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from reliability_cases import CASES, SAMPLE_KERAS, Case, judge, snapshot

from edgekit.cli import main


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    if case.needs == "convert" or case.command == "convert":
        return [pytest.mark.convert, pytest.mark.slow]
    if case.command in ("bench", "calibrate"):
        return []  # device-safe, but too slow to repeat under emulation
    return [pytest.mark.device]


PARAMS = [pytest.param(c, id=c.id, marks=_marks(c)) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_gives_a_clean_error(case: Case, tmp_path: Path) -> None:
    if case.needs == "unprivileged" and os.geteuid() == 0:
        pytest.skip("root ignores file permissions: scripts/reliability_matrix.py runs this case without CAP_DAC_OVERRIDE")
    if (case.needs == "convert" or case.command == "convert") and (
        importlib.util.find_spec("tensorflow") is None or not SAMPLE_KERAS.is_file()
    ):
        pytest.skip("needs TensorFlow and sample_models/shapes_classifier.keras")
    argv = case.build(tmp_path)
    before = snapshot(tmp_path)
    try:
        result = CliRunner().invoke(main, argv, catch_exceptions=False)
    finally:
        for p in tmp_path.rglob("*"):  # let pytest clean up locked files/folders
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o644)
    problems = judge(case, result.exit_code, result.stdout, result.stderr, before, snapshot(tmp_path))
    assert problems == [], f"edgekit {' '.join(argv)}:\n{result.output}"


IMAGE_KINDS = {  # kind -> True when the loader must refuse it (False: it must convert it to RGB)
    "corrupt": True, "zero-bytes": True, "enormous": True, "empty-folder": True,
    "16-bit": False, "cmyk": False, "palette": False, "grayscale": False, "animated": False,
}


@pytest.mark.device
@pytest.mark.parametrize("kind", list(IMAGE_KINDS))
def test_image_folder_loader(kind: str, tmp_path: Path) -> None:
    """The device-safe image loader behind --calibration/--data DIR: odd images become RGB, bad ones DataError."""
    import numpy as np
    from reliability_cases import image_folder

    from edgekit.core.source import TensorSpec
    from edgekit.data import load_samples
    from edgekit.errors import DataError

    folder = image_folder(tmp_path, kind)
    before = snapshot(tmp_path)
    spec = TensorSpec(name="image", shape=(1, 8, 8, 3), dtype="float32")
    if IMAGE_KINDS[kind]:
        with pytest.raises(DataError) as info:
            load_samples(folder, [spec], None, 4, progress_label=None)
        assert info.value.hint and "\n" not in info.value.message
    else:
        arrays, summary = load_samples(folder, [spec], None, 4, progress_label=None)
        assert arrays["image"].shape == (1, 1, 8, 8, 3) and arrays["image"].dtype == np.float32
        assert np.isfinite(arrays["image"]).all() and summary.count == 1
    assert snapshot(tmp_path) == before
