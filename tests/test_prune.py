"""convert --prune options: validation (usage errors, exit 2) and the summary text. Fast, no TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgekit.cli import main
from edgekit.commands.prune_options import prune_config_from, render_prune
from edgekit.errors import UsageError
from edgekit.host.convert.config import PruneConfig, SparseEncoding
from edgekit.sizing.magnitude import PruneScope


@pytest.mark.parametrize("bad", ["-0.2", "1", "1.0", "2", "abc", "nan", "-inf"])
def test_convert_bad_prune_values_exit_2(runner: Any, tmp_path: Path, bad: str) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK")
    res = runner.invoke(main, ["convert", str(model), "-o", str(tmp_path / "o.tflite"), "--prune", bad])
    assert res.exit_code == 2
    assert "--prune" in res.output and "Hint:" in res.output
    assert not (tmp_path / "o.tflite").exists()


def test_prune_flags_without_prune_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--prune-skip needs --prune"):
        prune_config_from({"prune": None, "prune_skip": ("fc",)})
    assert prune_config_from({"prune": None, "prune_skip": (), "prune_keep_ends": False}) is None


def test_prune_config_from_options() -> None:
    cfg = prune_config_from({"prune": "0.75", "prune_scope": "global", "prune_skip": ("head",),
                             "prune_keep_ends": True, "sparse_encoding": "off"})
    assert cfg == PruneConfig(0.75, scope=PruneScope.GLOBAL, skip=("head",), keep_ends=True,
                              sparse_encoding=SparseEncoding.OFF)
    assert cfg.policy.skip_first_last is True and cfg.policy.sparsity == 0.75
    with pytest.raises(UsageError):
        PruneConfig(0.5, scope="sideways")  # type: ignore[arg-type]


def test_render_prune_says_what_it_measured() -> None:
    prune = {
        "config": {"scope": "per-layer", "sparsity": 0.75},
        "achieved_sparsity": 0.75, "weights_sparsity": 0.7,
        "tensors": [{"name": "fc/kernel (MatMul fc)", "elements": 2048, "sparsity_before": 0.0,
                     "sparsity_after": 0.75, "skipped": None}],
        "converted": {"weights_sparsity": 0.7, "zero_check": "every zero ... is still zero", "file_bytes": 43616,
                      "deflate9_bytes": 17378, "zstd_bytes": None},
        "unpruned": {"measured": True, "file_bytes": 43616, "deflate9_bytes": 34652, "zstd_bytes": None},
        "sparse_encoding": {"mode": "auto", "used": False, "reason": "encoding would make the file larger."},
        "runtime_note": "RAM and latency are those of the dense model", "accuracy_note": "no fine-tuning",
    }
    golden = {"outputs": [{"name": "probs", "samples": 16, "top1_agreement": 0.31, "cosine": 0.48}]}
    text = "\n".join(render_prune(prune, golden))
    assert "achieved 75.0%" in text and "vs 33.8 KiB unpruned (50%)" in text
    assert "top-1 agreement 31%" in text and "UNPRUNED original" in text
    assert "Sparse encoding (auto): not used - encoding would make the file larger." in text
    assert render_prune(None) == []
