"""int8 from a float .tflite: LEAKY_RELU in int8 and MAXIMUM-of-a-constant clamps folded into the int8 range.

openWakeWord's embedding model (LEAKY_RELU then ``max(x, -0.4)``, 19 times) came out of ai-edge-quantizer
with 19 float LEAKY_RELU islands and 19 int8 MAXIMUMs, which XNNPACK refuses: 20 partitions.
Runs where ai-edge-quantizer is installed (the quantize extra), like tests/test_tune.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tune_helpers import GraphBuilder, run_once, write_case

import edgekit.requant.int8graph as int8graph
from edgekit.cli import main
from edgekit.core.quant import QuantizeMode
from edgekit.core.recipe import QuantRecipe
from edgekit.profile.delegate import runtime_delegated_ops
from edgekit.requant.pipeline import apply_recipe
from edgekit.tflite.model import load_model, parse_model
from edgekit.tflite.runtime import load_interpreter

pytestmark = [pytest.mark.device, pytest.mark.quantize]


def _leaky_clamp_model(floor: float) -> bytes:
    """dense -> LEAKY_RELU(0.2) -> MAXIMUM(const ``floor``) -> dense -> LEAKY_RELU -> MAXIMUM(floor) -> dense."""
    rng = np.random.default_rng(5)
    g = GraphBuilder([1, 16])
    S = g.S
    for n_in, n_out in ((16, 32), (32, 32)):
        g.dense((rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32) * 2,
                rng.standard_normal(n_out).astype(np.float32) * 0.1)
        g.unary("LEAKY_RELU")
        opts = S.LeakyReluOptionsT()
        opts.alpha = 0.2
        g.ops[-1].builtinOptionsType, g.ops[-1].builtinOptions = S.BuiltinOptions.LeakyReluOptions, opts
        g.binary("MAXIMUM", np.asarray(floor, np.float32))
    g.dense((rng.standard_normal((8, 32)) / np.sqrt(32)).astype(np.float32), np.zeros(8, np.float32))
    return g.build()




def test_convert_runs_leaky_relu_in_int8_and_drops_clamps_the_range_makes(tmp_path: Path) -> None:
    model, calib, _ = write_case(tmp_path, "leaky", _leaky_clamp_model(-0.4), (1, 16))
    out = tmp_path / "q.tflite"
    result = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib),
                                       "--io-type", "float32"])
    assert result.exit_code == 0, result.output
    assert "2 LEAKY_RELU op(s) run in int8" in result.output, result.output
    assert "2 MAXIMUM op(s) of a constant at the bottom" in result.output, result.output
    main_sg = load_model(out).main
    ops = [op.name for op in main_sg.operators]
    assert ops == ["QUANTIZE", "FULLY_CONNECTED", "LEAKY_RELU", "FULLY_CONNECTED", "LEAKY_RELU", "FULLY_CONNECTED",
                   "DEQUANTIZE"], ops
    leaky = [op for op in main_sg.operators if op.name == "LEAKY_RELU"]
    assert all(main_sg.tensor(i).dtype == "int8" for op in leaky for i in (*op.inputs, *op.outputs))
    assert all(op.version == 2 for op in leaky)  # the int8 kernel's version
    _, partitions = runtime_delegated_ops(load_interpreter(out.read_bytes(), num_threads=1))
    assert partitions == 1
    # the int8 file still computes the float model: the clamps at -0.4 are what its ranges hold
    xs = np.load(tmp_path / "leaky_heldout.npy")[:10]
    ref = np.concatenate([run_once(model.read_bytes(), x).ravel() for x in xs])
    got = np.concatenate([run_once(out.read_bytes(), x).ravel() for x in xs])
    assert float(np.dot(ref, got) / np.linalg.norm(ref) / np.linalg.norm(got)) > 0.999


def _aeq_int8(data: bytes, calib: np.ndarray, monkeypatch: pytest.MonkeyPatch,
              keep_float: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """(ai-edge-quantizer's own int8 file, the same after finish_int8) for ``data``."""
    recipe = QuantRecipe(mode=QuantizeMode.INT8, float_ops=keep_float)
    with monkeypatch.context() as m:
        m.setattr(int8graph, "finish_int8", lambda d, keep=frozenset(): (d, []))
        raw = apply_recipe(data, recipe, [calib])
    return raw, apply_recipe(data, recipe, [calib])


def test_a_clamp_above_the_bottom_of_the_range_stays_and_kept_float_ops_stay_float(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calib = np.random.default_rng(1).standard_normal((100, 1, 16)).astype(np.float32) * 3
    raw, done = _aeq_int8(_leaky_clamp_model(0.5), calib, monkeypatch)
    raw_ops = [op.name for op in parse_model(raw, "raw").main.operators]
    assert raw_ops.count("DEQUANTIZE") >= 2 and raw_ops.count("MAXIMUM") == 2  # what the passes start from
    ops = [op.name for op in parse_model(done, "done").main.operators]
    # max(y, 0.5) clamps inside the range (which holds 0): kept; the LEAKY_RELUs still become int8
    assert ops.count("MAXIMUM") == 2 and "DEQUANTIZE" not in ops[1:-1], ops
    # one quantization step at most where the passes changed the arithmetic
    interp_raw, interp_done = load_interpreter(raw, num_threads=1), load_interpreter(done, num_threads=1)
    out_detail = interp_raw.get_output_details()[0]
    scale = float(out_detail["quantization"][0])
    for interp in (interp_raw, interp_done):
        inp = interp.get_input_details()[0]
        s, z = inp["quantization"]
        interp.set_tensor(inp["index"], np.clip(np.round(calib[0] / s + z), -128, 127).astype(np.int8))
        interp.invoke()
    a = interp_raw.get_tensor(out_detail["index"]).astype(np.int32)
    b = interp_done.get_tensor(interp_done.get_output_details()[0]["index"]).astype(np.int32)
    assert np.abs(a - b).max() <= 2, (a, b, scale)

    leaky_out = next(parse_model(_leaky_clamp_model(0.5), "f").main.tensor(op.outputs[0]).name
                     for op in parse_model(_leaky_clamp_model(0.5), "f").main.operators if op.name == "LEAKY_RELU")
    _, kept = _aeq_int8(_leaky_clamp_model(0.5), calib, monkeypatch, keep_float=(leaky_out,))
    kept_sg = parse_model(kept, "kept").main
    dtypes = [kept_sg.tensor(op.outputs[0]).dtype for op in kept_sg.operators if op.name == "LEAKY_RELU"]
    assert dtypes == ["float32", "int8"], dtypes  # the recipe's float LEAKY_RELU stays float, the other does not


def _bounded_activation_model(op_name: str, out_zero_point: int) -> bytes:
    """int8 x -> CONV_2D 1x1 -> ``op_name`` (output scale 1/255, given zero point) -> CONV_2D 1x1 -> y."""
    from edgekit.core.tflite_builder import Quant, TFLiteBuilder

    rng = np.random.default_rng(3)
    g = TFLiteBuilder("bounded")
    x = g.tensor("x", (1, 8, 8, 16), "int8", quant=Quant((0.05,), (0,)))
    conv = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
    w = rng.integers(-100, 100, (16, 1, 1, 16)).astype(np.int8)
    a = g.tensor("a", (1, 8, 8, 16), "int8", quant=Quant((0.04,), (-10,)))
    g.operator("CONV_2D", [x, g.constant("w1", w, quant=Quant((0.002,), (0,))),
                           g.constant("b1", np.zeros(16, np.int32), quant=Quant((0.0001,), (0,)))], [a], conv)
    r = g.tensor("r", (1, 8, 8, 16), "int8", quant=Quant((1 / 255,), (out_zero_point,)))
    g.operator(op_name, [a], [r])
    y = g.tensor("y", (1, 8, 8, 16), "int8", quant=Quant((0.05,), (0,)))
    g.operator("CONV_2D", [r, g.constant("w2", w, quant=Quant((0.01,), (0,))),
                           g.constant("b2", np.zeros(16, np.int32), quant=Quant((1 / 25500,), (0,)))], [y], conv)
    return g.build([x], [y])


@pytest.mark.parametrize("op_name, zero_point, folded", [("RELU_0_TO_1", -128, True), ("RELU", -128, True),
                                                         ("RELU_0_TO_1", -100, False)])
def test_an_int8_activation_its_output_range_already_clamps_is_removed(op_name: str, zero_point: int,
                                                                       folded: bool) -> None:
    """PP-OCRv5's HardSigmoids (ADD -> RELU_0_TO_1 in int8: XNNPACK has no int8 RELU family) split its int8 file:
    where the activation's output range is its own bounds (here [0, 1]), the producer writes that tensor."""
    data = _bounded_activation_model(op_name, zero_point)
    done, notes = int8graph.finish_int8(data)
    ops = [op.name for op in parse_model(done, "done").main.operators]
    assert (ops == ["CONV_2D", "CONV_2D"]) is folded, ops
    assert bool(notes) is folded
    if not folded:  # a range reaching below 0 (zero point -100: down to -0.11): the op clamps, it stays
        return
    _, partitions = runtime_delegated_ops(load_interpreter(done, num_threads=1))
    assert partitions == 1
    xs = np.random.default_rng(0).integers(-128, 128, (4, 1, 8, 8, 16)).astype(np.int8)
    before = np.stack([run_once(data, x) for x in xs]).astype(np.int32)
    after = np.stack([run_once(done, x) for x in xs]).astype(np.int32)
    assert np.abs(before - after).max() <= 2  # one rounding instead of two at the activation


def _small_constant_model() -> bytes:
    """int8 x -> ADD other, eps, other, tiny, other, tiny, other -> y: ``eps`` (scale 1e-8) and ``tiny`` (3e-8,
    two readers) are far under XNNPACK's 2^-10 input/output scale ratio; ``other`` holds the same bytes at a
    normal scale and, as converters do for equal constants, shares eps's buffer."""
    from edgekit.core.tflite_builder import Quant, TFLiteBuilder
    from edgekit.requant.objectapi import read_model, tensor_name, write_model

    g = TFLiteBuilder("small constants")
    x = g.tensor("x", (1, 4, 4, 8), "int8", quant=Quant((0.01,), (3,)))
    values = np.arange(-40, 40, 10, dtype=np.int8)
    eps = g.constant("eps", values, quant=Quant((1e-8,), (0,)))
    tiny = g.constant("tiny", values, quant=Quant((3e-8,), (0,)))
    other = g.constant("other", values, quant=Quant((0.004,), (0,)))
    prev = x
    for k, const in enumerate((other, eps, other, tiny, other, tiny, other)):  # the tiny ones refused
        out = g.tensor(f"t{k}", (1, 4, 4, 8), "int8", quant=Quant((0.012,), (3,)))
        g.operator("ADD", [prev, const], [out])
        prev = out
    y = prev
    model_t = read_model(g.build([x], [y]))
    sg = model_t.subgraphs[0]
    by_name = {tensor_name(t): t for t in sg.tensors}
    by_name["other"].buffer = by_name["eps"].buffer
    return write_model(model_t)


def test_a_constant_added_at_a_tiny_scale_is_written_at_xnnpacks_lowest_ratio() -> None:
    """PP-OCRv4/v5's batch-norm shifts and layer-norm epsilons (scales 1e-8..1e-6 against sums of 1e-3) kept
    their int8 ADDs out of XNNPACK: PP-OCRv4's recognizer ran in 22 partitions (9 after; 14.0 -> 8.0 ms here)."""
    data = _small_constant_model()
    done, notes = int8graph.finish_int8(data)
    assert any("3 int8 constant(s) added at under 2^-10" in n for n in notes), notes
    before = runtime_delegated_ops(load_interpreter(data, num_threads=1))[1]
    after = runtime_delegated_ops(load_interpreter(done, num_threads=1))[1]
    assert (before, after) == (4, 1)
    xs = np.random.default_rng(0).integers(-128, 128, (6, 1, 4, 4, 8)).astype(np.int8)
    run = {k: np.stack([run_once(d, x) for x in xs]).astype(np.int32) for k, d in (("before", data), ("after", done))}
    assert np.abs(run["before"] - run["after"]).max() <= 3  # a rounding flipped at most at each of the three
    # the constant that shared eps's buffer still holds its values: the last ADD adds them as before
    sg = parse_model(done, "done").main
    other = next(sg.tensor(i) for op in sg.operators for i in op.inputs if sg.tensor(i).name == "other")
    np.testing.assert_array_equal(other.data(), np.arange(-40, 40, 10, dtype=np.int8))
