"""`bench --data`: the (N, *shape) layout edgekit.data writes is accepted; NaN/Inf data is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main


@pytest.mark.device
def test_bench_refuses_non_finite_data(tmp_path: Path, runner: CliRunner, sample_int8: Path) -> None:
    data = tmp_path / "nan.npy"
    np.save(data, np.full((1, 32, 32, 3), np.inf, np.float32))
    result = runner.invoke(main, ["bench", str(sample_int8), "--data", str(data), "--runs", "2", "--warmup", "1"])
    assert result.exit_code == 2, result.output
    assert "NaN or Inf" in result.output


@pytest.mark.device
def test_bench_accepts_sample_axis_layout(tmp_path: Path, runner: CliRunner, sample_int8: Path) -> None:
    data = tmp_path / "samples.npy"
    np.save(data, np.zeros((3, 1, 32, 32, 3), np.int8))
    result = runner.invoke(main, ["bench", str(sample_int8), "--data", str(data), "--runs", "2", "--warmup", "1",
                                  "--json"])
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    assert report["results"][0]["latency_ms"]["median"] > 0
