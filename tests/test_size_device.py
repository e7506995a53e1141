"""edgekit size on .tflite, the pruning core and the sparse-encoding decision: device side, no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.cli import main
from edgekit.core.tflite_builder import Quant
from edgekit.errors import BackendError, UsageError
from edgekit.sizing.buffers import buffer_ranges
from edgekit.sizing.fit import peak_activation_bytes, storage_bytes
from edgekit.sizing.magnitude import PrunePolicy, PruneScope, PruneTarget, parse_sparsity, plan_pruning
from edgekit.sizing.tflite_weights import prune_tflite_bytes, tensor_sparsity
from edgekit.tflite.model import parse_model

sys.path.insert(0, str(Path(__file__).parent))
from size_helpers import fc_model, known_weights  # noqa: E402

pytestmark = pytest.mark.device


@pytest.fixture(scope="session")
def fc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Float FC model: dense/weights 64x128 with exactly 25% zeros, zero bias, head 8x64 dense."""
    path = tmp_path_factory.mktemp("size") / "fc.tflite"
    path.write_bytes(fc_model(known_weights(), second=np.random.default_rng(3).normal(size=(8, 64))))
    return path


@pytest.fixture(scope="session")
def quant_model() -> tuple[bytes, int]:
    """int8 per-channel weights whose 'zero' is a non-zero zero point per output channel."""
    rng = np.random.default_rng(4)
    zps = np.array([5] * 32 + [-7] * 32, dtype=np.int64)
    q = rng.integers(20, 100, size=(64, 128)) * rng.choice([-1, 1], size=(64, 128))
    zero = rng.random((64, 128)) < 0.3
    q = np.where(zero, 0, q) + zps[:, None]
    quant = Quant.per_channel([0.02] * 64, axis=0, zero_points=zps)
    return fc_model(q.astype(np.int8), quant=quant), int(zero.sum())


def test_sparsity_counts_exact_zeros(fc_path: Path) -> None:
    rows = {r.name: r for r in tensor_sparsity(parse_model(fc_path.read_bytes()))}
    assert rows["dense/weights"].role == "weights"
    assert rows["dense/weights"].zeros == 64 * 128 // 4
    assert rows["dense/weights"].sparsity == pytest.approx(0.25)
    assert rows["dense/bias"].role == "bias" and rows["dense/bias"].sparsity == 1.0
    assert rows["head/weights"].zeros == 0


def test_quantized_zero_is_the_zero_point(quant_model: tuple[bytes, int]) -> None:
    data, n_zero = quant_model
    row = next(r for r in tensor_sparsity(parse_model(data)) if r.name == "dense/weights")
    assert row.zero_is_zero_point
    assert row.zeros == n_zero  # values equal to their channel's zero point, not raw 0


def test_buffer_ranges_point_at_the_tensor_bytes(fc_path: Path) -> None:
    data = fc_path.read_bytes()
    model = parse_model(data)
    ranges = buffer_ranges(data)
    for t in model.main.tensors:
        if t.is_constant:
            start, length = ranges[t.buffer]
            assert data[start : start + length] == t.data().tobytes()  # type: ignore[union-attr]


@pytest.mark.parametrize("scope", list(PruneScope))
@pytest.mark.parametrize("sparsity", [0.5, 0.75, 0.9])
def test_whatif_pruning_hits_target_and_keeps_size(fc_path: Path, scope: PruneScope, sparsity: float) -> None:
    data = fc_path.read_bytes()
    res = prune_tflite_bytes(data, PrunePolicy(sparsity, scope=scope))
    assert len(res.data) == len(data)
    assert abs(res.achieved_sparsity - sparsity) <= 0.01
    pruned = {r.name: r for r in tensor_sparsity(parse_model(res.data))}
    zeros = pruned["dense/weights"].zeros + pruned["head/weights"].zeros
    assert abs(zeros / (64 * 128 + 8 * 64) - sparsity) <= 0.01
    assert pruned["dense/bias"].num_elements == 64  # biases are never pruned
    if scope is PruneScope.PER_LAYER:
        assert abs(pruned["head/weights"].sparsity - sparsity) <= 0.01
    assert zlib.compress(res.data, 9).__len__() < len(zlib.compress(data, 9))


def test_pruning_keeps_existing_zeros_and_the_largest_weights(fc_path: Path) -> None:
    data = fc_path.read_bytes()
    before = parse_model(data).main.tensors[1].data()
    after = parse_model(prune_tflite_bytes(data, PrunePolicy(0.5)).data).main.tensors[1].data()
    assert before is not None and after is not None
    assert np.all(after[before == 0] == 0)
    kept = np.abs(before[after != 0])
    dropped = np.abs(before[(after == 0) & (before != 0)])
    assert kept.min() >= dropped.max()


def test_pruning_quantized_writes_the_zero_point(quant_model: tuple[bytes, int]) -> None:
    data, _ = quant_model
    res = prune_tflite_bytes(data, PrunePolicy(0.75))
    row = next(r for r in tensor_sparsity(parse_model(res.data)) if r.name == "dense/weights")
    assert abs(row.sparsity - 0.75) <= 0.01
    t = parse_model(res.data).main.tensors[1]
    values = t.data()
    assert values is not None and int(values.min()) >= -128
    assert set(np.unique(values[:32][values[:32] == 5])) <= {5}


def test_policy_skips_names_tiny_and_ends() -> None:
    rng = np.random.default_rng(0)
    targets = [PruneTarget(n, rng.random(size)) for n, size in
               (("stem/kernel", 1000), ("tiny/kernel", 100), ("body/kernel", 1000), ("head/kernel", 1000))]
    plan_pruning(targets, PrunePolicy(0.5, skip=("body",), skip_first_last=True))
    reasons = [t.reason_skipped for t in targets]
    assert reasons[0] == "first layer (kept dense)" and reasons[3] == "last layer (kept dense)"
    assert reasons[1] is not None and "tiny" in reasons[1]
    assert reasons[2] is not None and "--prune-skip body" in reasons[2]
    assert all(t.zero_mask is None for t in targets)
    assert PrunePolicy(0.5, skip=("nothing*",)).unmatched_skips(["a", "b"]) == ["nothing*"]


@settings(max_examples=40, deadline=None)
@given(st.integers(300, 3000), st.floats(0.0, 0.99), st.sampled_from(list(PruneScope)))
def test_pruning_is_exact_for_any_size(n: int, sparsity: float, scope: PruneScope) -> None:
    rng = np.random.default_rng(n)
    targets = [PruneTarget("a", rng.normal(size=n)), PruneTarget("b", rng.normal(size=n // 2 + 300))]
    plan_pruning(targets, PrunePolicy(sparsity, scope=scope))
    total = sum(t.num_elements for t in targets)
    zeros = sum(t.zeros_after for t in targets)
    assert abs(zeros / total - sparsity) <= 1 / total + (0.0 if scope is PruneScope.GLOBAL else 2 / total)


@pytest.mark.parametrize("bad", ["-0.1", "1", "1.5", "abc", "nan", "inf", ""])
def test_bad_sparsity_values_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_sparsity(bad)


def test_size_cli_json(runner: object, fc_path: Path) -> None:
    res = runner.invoke(main, ["size", str(fc_path), "--json"])  # type: ignore[attr-defined]
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["file_bytes"] == fc_path.stat().st_size
    assert out["compressed"]["deflate9_bytes"] == len(zlib.compress(fc_path.read_bytes(), 9))
    assert out["compressed"]["source"] == "measured"
    assert out["sparsity"]["weights"]["zeros"] == 64 * 128 // 4
    rows = out["what_if"]["rows"]
    assert [r["target_sparsity"] for r in rows] == [0.5, 0.75, 0.9]
    assert all(r["file_bytes"] == out["file_bytes"] and r["ram"] == "unchanged" for r in rows)
    assert rows[0]["deflate9_bytes"] > rows[1]["deflate9_bytes"] > rows[2]["deflate9_bytes"]
    fits = out["fits"]
    assert fits["available"] is True  # the shipped device profiles
    assert fits["devices"] and all(isinstance(d["ram_fits"], bool) for d in fits["devices"])
    assert all(d["storage_needed_bytes"] == out["file_bytes"] for d in fits["devices"])
    assert rows[0]["fits_devices"] == [d["device"] for d in fits["devices"] if d["ram_fits"]
                                       and d["storage_fits"] is not False]


def test_size_cli_human(runner: object, fc_path: Path) -> None:
    res = runner.invoke(main, ["size", str(fc_path), "--what-if", "0.6", "--what-if-scope", "global"])  # type: ignore[attr-defined]
    assert res.exit_code == 0, res.output
    assert "measured" in res.stdout and "60.0%" in res.stdout and "unchanged" in res.stdout
    assert "RAM is unchanged by pruning" in res.stdout


@pytest.mark.parametrize("bad", ["-0.5", "1", "x", "nan", "0.5,2"])
def test_size_cli_bad_what_if_exits_2(runner: object, fc_path: Path, bad: str) -> None:
    res = runner.invoke(main, ["size", str(fc_path), "--what-if", bad])  # type: ignore[attr-defined]
    assert res.exit_code == 2
    assert "Error:" in res.output and "Hint:" in res.output


def test_size_cli_bad_file_exits_2(runner: object, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all, just text")
    res = runner.invoke(main, ["size", str(bad)])  # type: ignore[attr-defined]
    assert res.exit_code == 2 and "Error:" in res.output
    res = runner.invoke(main, ["size", str(tmp_path / "missing.tflite")])  # type: ignore[attr-defined]
    assert res.exit_code == 2


def test_size_tflite_imports_no_tensorflow(fc_path: Path) -> None:
    code = ("import sys; from edgekit.cli import main; "
            f"sys.argv=['edgekit','size',{str(fc_path)!r},'--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('tensorflow','keras','onnx','onnx2tf')]\n"
            "print('HEAVY', bad)")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert "HEAVY []" in out.stdout, out.stdout[-500:] + out.stderr[-500:]


def test_fit_helpers(fc_path: Path) -> None:
    assert storage_bytes("eMMC 8 GB") == 8 * 10**9
    assert storage_bytes("16 GiB microSD") == 16 * 2**30
    assert storage_bytes("microSD card") is None
    # input 128 floats + hidden 64 + output 8: peak live = max(input+hidden, hidden+output) bytes
    assert peak_activation_bytes(parse_model(fc_path.read_bytes())) == (128 + 64) * 4


def test_sparse_encoding_decision_both_directions(fc_path: Path) -> None:
    from edgekit.host.convert.config import PruneConfig
    from edgekit.host.convert.prune import PruneReport, choose_encoding

    def report(mode: str) -> PruneReport:
        return PruneReport(PruneConfig(0.5, sparse_encoding=mode), [], 0.5, 0.5)  # type: ignore[arg-type]

    dense = fc_path.read_bytes()
    smaller_runs = fc_model(known_weights(n=8, k=16))  # smaller and runs in the default interpreter
    rep = report("auto")
    assert choose_encoding(rep, dense, lambda: smaller_runs) == smaller_runs
    assert rep.sparse_encoding is not None and rep.sparse_encoding["used"] is True
    rep = report("auto")
    assert choose_encoding(rep, dense, lambda: dense + b"\0" * 64) == dense  # larger -> not used
    assert rep.sparse_encoding is not None and "larger" in rep.sparse_encoding["reason"]
    rep = report("auto")
    broken = fc_model(known_weights(n=8, k=16), input_k=12)  # smaller, parses, fails to prepare
    assert choose_encoding(rep, dense, lambda: broken) == dense
    assert rep.sparse_encoding is not None and rep.sparse_encoding["runs_in_default_interpreter"] is False
    assert "does not run" in rep.sparse_encoding["reason"]
    with pytest.raises(BackendError, match="default interpreter"):  # on: refuses a file that will not run
        choose_encoding(report("on"), dense, lambda: broken)
    rep = report("on")  # on: used even when larger (with a warning)
    assert choose_encoding(rep, dense, lambda: dense + b"\0" * 8) == dense + b"\0" * 8
    assert rep.sparse_encoding is not None and rep.sparse_encoding["used"] is True
    rep = report("off")
    assert choose_encoding(rep, dense, lambda: smaller_runs) == dense
    assert rep.sparse_encoding == {"mode": "off", "dense_bytes": len(dense), "used": False,
                                   "reason": "--sparse-encoding off"}
