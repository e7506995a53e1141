"""A float .tflite prepared for the quantizer: lone activations fused into the op before them.

Runs where ai-edge-quantizer is installed (the quantize extra), like tests/test_tune.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tune_helpers import GraphBuilder, write_case

from edgekit.cli import main
from edgekit.profile.delegate import runtime_delegated_ops
from edgekit.requant.floatmodel import prepare_float
from edgekit.tflite.model import load_model, parse_model
from edgekit.tflite.runtime import load_interpreter

pytestmark = [pytest.mark.device, pytest.mark.quantize]


def _weights(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((n, m)) / np.sqrt(m)).astype(np.float32), rng.standard_normal(n).astype(np.float32) * 0.1


def _lone_activations_model(shared_branch: bool) -> bytes:
    """dense -> RELU -> dense -> ADD(const, no options) -> RELU6 [-> dense whose output feeds a RELU and an ADD]."""
    rng = np.random.default_rng(3)
    g = GraphBuilder([1, 16])
    g.dense(*_weights(rng, 24, 16)).unary("RELU")
    g.dense(*_weights(rng, 24, 24)).binary("ADD", rng.standard_normal((1, 24)).astype(np.float32)).unary("RELU6")
    if shared_branch:
        g.dense(*_weights(rng, 24, 24))
        d = g.current
        g.unary("RELU")  # its input has two readers: it stays
        g.binary("ADD", d)
    return g.build()


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    interp = load_interpreter(data, num_threads=1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return np.asarray(interp.get_tensor(out["index"]))


def test_lone_activations_are_fused_with_the_same_arithmetic() -> None:
    data = _lone_activations_model(shared_branch=True)
    fm = prepare_float(data, "m")
    ops = [(op.name, op.options.get("fused_activation_function")) for op in fm.model.main.operators]
    # the RELU whose input the last ADD also reads stays; the ADD written without options gets them
    assert ops == [("FULLY_CONNECTED", "RELU"), ("FULLY_CONNECTED", "NONE"), ("ADD", "RELU6"),
                   ("FULLY_CONNECTED", "NONE"), ("RELU", None), ("ADD", None)]
    assert any("2 activation op(s) fused" in n for n in fm.notes), fm.notes
    assert [t.name for t in (fm.model.main.tensor(i) for i in fm.model.main.outputs)] == \
        [t.name for t in (parse_model(data, "o").main.tensor(i) for i in parse_model(data, "o").main.outputs)]
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32) * 3
    np.testing.assert_allclose(_run(fm.data, x), _run(data, x), rtol=0, atol=1e-6)


def test_int8_of_a_graph_with_lone_activations_stays_in_one_xnnpack_partition(tmp_path: Path) -> None:
    model, calib, _ = write_case(tmp_path, "act", _lone_activations_model(shared_branch=False), (1, 16))
    out = tmp_path / "q.tflite"
    result = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib)])
    assert result.exit_code == 0, result.output
    assert "activation op(s) fused" in result.output
    ops = [op.name for op in load_model(out).main.operators]
    assert "RELU" not in ops and "RELU6" not in ops, ops  # an int8 RELU alone is an op XNNPACK refuses
    _, partitions = runtime_delegated_ops(load_interpreter(out.read_bytes(), num_threads=1))
    assert partitions == 1
