"""`edgekit tune`, `convert MODEL.tflite` and `convert --recipe` on tiny models built to collapse in int8.

Device tests: no TensorFlow anywhere (the models are written with the flatbuffer schema, the engine is
ai-edge-quantizer from the quantize extra), so scripts/test-device runs them in the base + quantize venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from tune_helpers import (
    normal_inputs,
    outlier_channel_model,
    sequence_inputs,
    sequence_model,
    streaming_inputs,
    streaming_model,
    wide_softmax_model,
    with_glitch,
    write_case,
    zero_divisor_model,
)
from verify_helpers import BLOCK_HEAVY_IMPORTS

from edgekit.cli import main
from edgekit.core.recipe import read_recipe
from edgekit.tflite.model import load_model, parse_model
from edgekit.tune_report import TuneReport

pytestmark = [pytest.mark.device, pytest.mark.quantize, pytest.mark.slow]


def _tune(tmp: Path, model: Path, calib: Path, held: Path, device: str = "rpi4b", *extra: str) -> tuple[int, dict[str, Any],
                                                                                                     str]:
    out = tmp / f"{model.stem}_{device}.tflite"
    res = CliRunner().invoke(main, ["tune", str(model), "--device", device, "--calibration", str(calib), "--data",
                                    str(held), "-o", str(out), "--json", *extra])
    return res.exit_code, json.loads(res.stdout), res.stderr


def test_per_tensor_outlier_channel_fails_convert_check_and_tune_finds_the_fix(tmp_path: Path) -> None:
    model, calib, held = write_case(tmp_path, "outlier", outlier_channel_model(), (1, 16))
    out = tmp_path / "pt.tflite"
    res = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--per-tensor", "--calibration", str(calib),
                                    "--data", str(held)])
    # the check fails verify's thresholds: the file is still written, a Warning names the metric, exit 1
    assert res.exit_code == 1, res.output
    assert out.is_file()
    assert "Warning: the conversion check FAILED" in res.stderr and "cosine" in res.stderr
    assert "edgekit tune" in res.stderr
    res = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--per-tensor", "--calibration", str(calib),
                                    "--data", str(held), "--force", "--allow-mismatch"])
    assert res.exit_code == 0, res.output

    code, result, _ = _tune(tmp_path, model, calib, held)
    assert code == 0, result["why"]
    chosen = result["chosen"]
    assert chosen["passed"] and chosen["quant_kind"] == "int8"
    assert "cle" in chosen["recipe"]  # cross-layer equalization moved the outlier channel's range into the next layer
    first = result["candidates"][0]
    assert not first["passed"] and "cosine" in first["decided_by"]


def test_calibration_glitch_into_softmax_is_rescued(tmp_path: Path) -> None:
    calib_x = with_glitch(normal_inputs((1, 256), 100, 200))
    model, calib, held = write_case(tmp_path, "wide", wide_softmax_model(), (1, 256), calib_x)
    code, result, stderr = _tune(tmp_path, model, calib, held)
    assert code == 0, result["why"]
    cands = {c["label"]: c for c in result["candidates"]}
    plain, clipped = cands["ai-edge-quantizer int8 min-max"], cands["int8, percentile clipping"]
    assert not plain["passed"] and "top1_agreement" in plain["decided_by"]  # min-max int8 collapses
    assert clipped["mean_sqnr_db"] > plain["mean_sqnr_db"] + 3  # the percentile clip takes the glitch out of the input
    chosen = result["chosen"]
    assert chosen["passed"] and chosen["metrics"][0]["top1_agreement"] >= 0.85


def test_sequence_classifier_gets_int16_where_it_needs_it(tmp_path: Path) -> None:
    model, calib, held = write_case(tmp_path, "seq", sequence_model(), (1, 20, 8), sequence_inputs(100, 100),
                                    held=sequence_inputs(40, 101))
    code, result, _ = _tune(tmp_path, model, calib, held)
    assert code == 0, result["why"]
    plain = result["candidates"][0]
    metrics = plain["metrics"][0]
    assert metrics["class_positions"] == 20  # argmax agreement per timestep of [1, 20, 30]
    assert not plain["passed"] and "top1_agreement" in plain["decided_by"]
    chosen = result["chosen"]
    assert chosen["int16_ops"] > 0 or chosen["float_ops"] > 0
    # the fewest: not every op of the model
    assert chosen["passed"] and chosen["estimated_latency_ms"] is not None
    assert result["sensitivity"], "the per-op sensitivity that chose the ops is reported"


def test_edge_tpu_never_gets_float_or_int16_ops(tmp_path: Path) -> None:
    model, calib, held = write_case(tmp_path, "seq", sequence_model(), (1, 20, 8), sequence_inputs(100, 100),
                                    held=sequence_inputs(40, 101))
    code, result, stderr = _tune(tmp_path, model, calib, held, "coral-usb-rpi4")
    assert code == 1
    error_lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "no full-integer candidate passes" in error_lines[0]
    assert result["best_failing"] is not None and result["chosen"] is None
    for cand in result["candidates"]:
        assert cand["int16_ops"] == 0 and cand["float_ops"] == 0 and cand["mode"] == "int8"
    assert not (tmp_path / "seq_coral-usb-rpi4.tflite").exists()


def test_recipe_replay_reproduces_the_tuned_model(tmp_path: Path) -> None:
    model, calib, held = write_case(tmp_path, "seq", sequence_model(), (1, 20, 8), sequence_inputs(100, 100),
                                    held=sequence_inputs(40, 101))
    code, result, _ = _tune(tmp_path, model, calib, held)
    assert code == 0
    tuned = Path(result["output"])
    recipe_file = Path(result["recipe_file"])
    assert recipe_file == tuned.with_name(tuned.stem + ".recipe.json")
    recipe = read_recipe(recipe_file)
    assert recipe.measured["device"] == "rpi4b"
    replay = tmp_path / "replay.tflite"
    res = CliRunner().invoke(main, ["convert", str(model), "--recipe", str(recipe_file), "-o", str(replay)])
    assert res.exit_code == 0, res.output
    assert replay.read_bytes() == tuned.read_bytes()
    # options that contradict the recipe are refused
    res = CliRunner().invoke(main, ["convert", str(model), "--recipe", str(recipe_file), "-o", str(replay), "--force",
                                    "--per-tensor"])
    assert res.exit_code == 2 and "does not go with --recipe" in res.stderr


def test_calibration_that_does_not_look_like_the_inputs_is_named(tmp_path: Path) -> None:
    x = normal_inputs((1, 256), 60, 300)
    model, calib, held = write_case(tmp_path, "wide", wide_softmax_model(), (1, 256), x * 0.05,
                                    held=x * 3.0)
    res = CliRunner().invoke(main, ["convert", str(model), "-o", str(tmp_path / "o.tflite"), "--calibration", str(calib),
                                    "--data", str(held), "--allow-mismatch"])
    assert res.exit_code == 0, res.output
    assert "does not look like the inputs" in res.stderr
    # same distribution: no warning
    model, calib, held = write_case(tmp_path, "same", wide_softmax_model(), (1, 256), x,
                                    held=normal_inputs((1, 256), 40, 309))
    res = CliRunner().invoke(main, ["convert", str(model), "-o", str(tmp_path / "p.tflite"), "--calibration", str(calib),
                                    "--data", str(held), "--allow-mismatch"])
    assert "does not look like the inputs" not in res.stderr


def test_float_tflite_quantizes_without_tensorflow(tmp_path: Path) -> None:
    """The device path: `convert MODEL.tflite` with TensorFlow & co. blocked (and absent in scripts/test-device)."""
    model, calib, held = write_case(tmp_path, "wide", wide_softmax_model(), (1, 256))
    out = tmp_path / "q.tflite"
    args = ["convert", str(model), "-o", str(out), "--calibration", str(calib), "--json"]
    code = BLOCK_HEAVY_IMPORTS + textwrap.dedent(f"""
        import json
        from click.testing import CliRunner
        from edgekit.cli import main
        r = CliRunner().invoke(main, {args!r})
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "onnx", "onnxruntime"))
        print(json.dumps({{"exit": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "heavy": heavy}}))
    """)
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["exit"] == 0, result["stderr"]
    assert result["heavy"] == []
    data = json.loads(result["stdout"])
    assert data["engine"] == "aeq" and data["quant_kind_detected"] == "int8" and data["check"]["passed"]
    assert load_model(out).quant_kind.value == "int8"
    if os.environ.get("EDGEKIT_DEVICE_ENV") == "1":
        import importlib.util

        assert importlib.util.find_spec("tensorflow") is None


def test_float16_weights_are_folded_before_quantizing(tmp_path: Path) -> None:
    from edgekit.requant.floatmodel import fold_float16, prepare_float

    model, _, _ = write_case(tmp_path, "w", wide_softmax_model(), (1, 256))
    fm = prepare_float(model.read_bytes())
    assert fm.folded_float16 == 0  # already float32: unchanged
    data, folded = fold_float16(fm.data)
    assert folded == 0 and data == fm.data


def test_per_position_and_map_metrics() -> None:
    from edgekit.verify.metrics import compute_metrics

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 1, 40, 50))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    flipped = probs.copy()
    flipped[:, :, :10] = flipped[:, :, :10, ::-1]  # 10 of 40 timesteps get another argmax
    m = compute_metrics("seq", probs.astype(np.float32), flipped.astype(np.float32))
    assert m.positions == 40 and m.num_classes == 50
    assert m.top1_agreement == pytest.approx(0.75, abs=0.03)

    heat = rng.random((3, 1, 32, 32, 1)).astype(np.float32)
    m = compute_metrics("map", heat, heat, map_threshold=0.3)
    assert m.map_iou == 1.0 and m.map_threshold == 0.3
    shifted = np.roll(heat, 8, axis=2)
    assert compute_metrics("map", heat, shifted).map_iou < 0.6


def test_tune_bundle_verifies_on_its_golden_samples(tmp_path: Path) -> None:
    model, calib, held = write_case(tmp_path, "outlier", outlier_channel_model(), (1, 16))
    bundle = tmp_path / "bundle"
    code, result, _ = _tune(tmp_path, model, calib, held, "rpi4b", "--bundle", str(bundle))
    assert code == 0 and result["bundle"] == str(bundle)
    res = CliRunner().invoke(main, ["verify", str(bundle), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["passed"] is True
    # the tuned file and the bundle's model are the same bytes
    assert (bundle / "model.tflite").read_bytes() == Path(result["output"]).read_bytes()


def test_a_model_that_refuses_an_all_zero_input_is_named_and_never_tuned(tmp_path: Path) -> None:
    """basic-pitch's int8 model ran the held-out audio but refused silence (an int8 DIV whose divisor rounds to
    its zero point). convert and verify say so and still judge the data; tune never chooses such a candidate."""
    rng = np.random.default_rng(0)
    calib_x = (3 + 0.5 * rng.standard_normal((64, 1, 8))).astype(np.float32)
    held_x = (3 + 0.5 * rng.standard_normal((32, 1, 8))).astype(np.float32)
    model, calib, held = write_case(tmp_path, "zdiv", zero_divisor_model(), (1, 8), calib_x, held=held_x)
    out = tmp_path / "zdiv_int8.tflite"
    res = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib)])
    assert res.exit_code == 0, res.stderr
    assert "refuses an all-zero input" in res.stderr and "DIV" in res.stderr

    res = CliRunner().invoke(main, ["verify", str(model), str(out), "--data", str(held), "--json"])
    assert res.exit_code == 0, res.stderr  # judged on the data (it passes there), not refused with exit 3
    report = json.loads(res.stdout)
    assert report["passed"] and any("refuses an all-zero input" in w for w in report["warnings"])

    code, result, _ = _tune(tmp_path, model, calib, held)
    refused = [c for c in result["candidates"] if "refuses an all-zero input" in (c.get("error") or "")]
    assert refused, "the int8 candidates that refuse silence are rejected with the reason"
    chosen = result["chosen"]
    if chosen is not None:  # whatever tune settles on runs the all-zero input
        from edgekit.tflite.runtime import zero_input_refusal

        assert code == 0 and zero_input_refusal(tmp_path / "zdiv_rpi4b.tflite") is None


def test_streaming_model_is_judged_over_the_sequence_it_runs(tmp_path: Path) -> None:
    """A leaky integrator carried call after call: int8 passes judged call by call on recorded states, and
    drifts when fed its own state (the rounding of a slowly moving state piles up, as in an LSTM's cell).
    tune judges over the sequence, keeps the recurrent state path in float, and the file it writes holds."""
    from edgekit.core.quant import IOType
    from edgekit.core.recipe import QuantRecipe
    from edgekit.requant.check import judge, run_model
    from edgekit.requant.floatmodel import prepare_float
    from edgekit.requant.pipeline import apply_recipe
    from edgekit.requant.sequence import SequenceData, StateLink, judge_sequence

    model_bytes = streaming_model()
    model = tmp_path / "stream.tflite"
    model.write_bytes(model_bytes)
    calib_x, held_x = streaming_inputs(model_bytes, 200, 1), streaming_inputs(model_bytes, 100, 2)
    calib, held = tmp_path / "calib.npz", tmp_path / "held.npz"
    np.savez(calib, **calib_x)
    np.savez(held, **held_x)

    float_data = prepare_float(model_bytes).data
    plain = apply_recipe(float_data, QuantRecipe(io_type=IOType.FLOAT32), [calib_x["x"], calib_x["state"]], {})
    feeds = [held_x["x"], held_x["state"]]
    _, ref = run_model(float_data, ["x", "state"], feeds, ["y4/out", "stateN"], [(1, 4), (1, 16)])
    assert judge(plain, ["x", "state"], feeds, {"y4/out": ref[0], "stateN": ref[1]}).passed  # call by call: fine
    # over the sequence (the reference carries its own state from the first recorded one, which is zero)
    seq_ref = {"y4/out": ref[0], "stateN": ref[1]}  # the recorded states ARE the float model's own: same sequence
    seq = SequenceData(["x", "state"], feeds, [StateLink("state", "stateN")], seq_ref, "seq")
    drift = judge_sequence(plain, seq)
    assert not drift.passed and "cosine" in drift.decided_by

    code, result, _ = _tune(tmp_path, model, calib, held, "rpi4b", "--data-samples", "100")
    assert code == 0, result["why"]
    assert any("100 calls in a row" in note and "state <- stateN" in note for note in result["notes"])
    assert "calib.npz), as one sequence: 100 calls in a row" in \
        TuneReport.from_dict(result).render()
    first = result["candidates"][0]
    assert first["label"] == "ai-edge-quantizer int8 min-max" and not first["passed"]
    chosen = result["chosen"]
    assert chosen["label"].startswith("int8 + float for the recurrent state path")
    recipe = read_recipe(Path(result["recipe_file"]))
    assert recipe.resolved_io_type is IOType.FLOAT32  # the state crosses calls in float
    assert set(recipe.float_ops) == {"decay1/out", "cell2/out", "stateN"}
    assert judge_sequence(Path(result["output"]).read_bytes(), seq).passed


def test_tune_state_option_names_must_exist(tmp_path: Path) -> None:
    model_bytes = streaming_model()
    model = tmp_path / "stream.tflite"
    model.write_bytes(model_bytes)
    np.savez(tmp_path / "c.npz", **streaming_inputs(model_bytes, 20, 1))
    np.savez(tmp_path / "h.npz", **streaming_inputs(model_bytes, 10, 2))
    res = CliRunner().invoke(main, ["tune", str(model), "--device", "rpi4b", "--calibration", str(tmp_path / "c.npz"),
                                    "--data", str(tmp_path / "h.npz"), "-o", str(tmp_path / "o.tflite"),
                                    "--state", "h0=stateN"])
    assert res.exit_code == 2
    assert "Error: --state h0=stateN: the model has no input 'h0'." in res.stderr and "Hint: Inputs: x, state" in res.stderr
    assert not (tmp_path / "o.tflite").exists()


def test_a_graph_output_that_ops_also_read_gets_float_outputs(tmp_path: Path) -> None:
    """ai-edge-quantizer 0.10 asked for float32 outputs rewires the ops that read an output to its float copy,
    and the file does not load; a streaming model whose state output also feeds its head is such a graph
    (what tune's float-I/O candidates meet). edgekit gives those readers a RESHAPE copy of the output first."""
    from edgekit.core.quant import IOType
    from edgekit.core.recipe import QuantRecipe
    from edgekit.requant.check import judge, run_model
    from edgekit.requant.floatmodel import prepare_float, split_read_outputs
    from edgekit.requant.pipeline import apply_recipe

    float_data = prepare_float(streaming_model(head_reads_state=True)).data
    split, copies = split_read_outputs(float_data)
    assert copies == {"stateN/read": "stateN"}
    sg = parse_model(split, "split").main
    assert [sg.tensor(t).name for t in sg.outputs] == ["y3/out", "stateN"]
    head = next(op for op in sg.operators if sg.tensor(op.outputs[0]).name == "y3/out")
    assert sg.tensor(head.inputs[0]).name == "stateN/read"
    calib, held = streaming_inputs(float_data, 100, 1), streaming_inputs(float_data, 30, 2)
    feeds = [held["x"], held["state"]]
    _, ref = run_model(float_data, ["x", "state"], feeds, ["y3/out", "stateN"], [(1, 4), (1, 16)])
    _, same = run_model(split, ["x", "state"], feeds, ["y3/out", "stateN"], [(1, 4), (1, 16)])
    for a, b in zip(ref, same, strict=True):
        np.testing.assert_array_equal(a, b)  # the same function
    for extra in ({}, {"float_ops": ("stateN",)}):
        quantized = apply_recipe(float_data, QuantRecipe(io_type=IOType.FLOAT32, **extra),
                                 [calib["x"], calib["state"]], {})
        model = parse_model(quantized, "quantized")
        assert [t.dtype for t in model.outputs] == ["float32", "float32"]
        assert judge(quantized, ["x", "state"], feeds, {"y3/out": ref[0], "stateN": ref[1]}).passed


def test_convert_tflite_checks_a_streaming_model_over_a_sequence(tmp_path: Path) -> None:
    """`edgekit convert STREAM.tflite` (ai-edge-quantizer): the check runs the check samples as one sequence, the
    state fed back, so plain int8's drift is caught (call by call on the recorded states it looks fine)."""
    model_bytes = streaming_model()
    model = tmp_path / "stream.tflite"
    model.write_bytes(model_bytes)
    np.savez(tmp_path / "calib.npz", **streaming_inputs(model_bytes, 200, 1))
    np.savez(tmp_path / "held.npz", **streaming_inputs(model_bytes, 100, 2))
    out = tmp_path / "int8.tflite"
    res = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--io-type", "float32", "--calibration",
                                    str(tmp_path / "calib.npz"), "--data", str(tmp_path / "held.npz"), "--json"])
    assert res.exit_code == 1, res.output  # the check fails, the file is written
    result = json.loads(res.stdout)
    assert result["check"]["inputs"].endswith("held.npz, as one sequence of calls (each model carrying its own state)")
    assert not result["check"]["passed"] and "cosine" in result["check"]["decided_by"]
    assert out.is_file()
    bad = CliRunner().invoke(main, ["convert", str(model), "-o", str(tmp_path / "x.tflite"), "--calibration",
                                    str(tmp_path / "calib.npz"), "--state", "h0=stateN"])
    assert bad.exit_code == 2 and "the model has no input 'h0'" in bad.stderr
