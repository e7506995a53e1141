"""A streaming model's state ops (issue 14): VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE and CALL_ONCE carry a keyword
spotter's ring buffers between calls. They only dispatch and copy a few hundred bytes (~0.01 us each on this
project's VM), where the per-op cost of where they run (a builtin float ADD's 0.07 us) charged microWakeWord's six
rings 0.6 us of its 2.2: calibrate measures them on a chain of variables, the estimator charges that figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from profile_helpers import rpi4b_variant

from edgekit.calibrate.overheads import state_chain
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model
from edgekit.tflite.runtime import load_interpreter


def _with_state_cost(folder: Path, pid: str, state_op_us: float) -> str:
    """rpi4b with ``[runtime] state_op_us`` (inserted into its [runtime] table)."""
    pid = rpi4b_variant(folder, pid)
    path = folder / f"{pid}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[runtime]\n", f"[runtime]\nstate_op_us = {state_op_us}\n", 1), encoding="utf-8")
    return pid


@pytest.mark.device
def test_the_estimator_charges_each_state_op_the_measured_figure(tmp_path: Path) -> None:
    short, long = (parse_model(state_chain(n), f"<{n}>") for n in (2, 12))
    plain = get_profile(rpi4b_variant(tmp_path, "plain"), [tmp_path])
    measured = get_profile(_with_state_cost(tmp_path, "stateful", 0.5), [tmp_path])
    assert measured.profile.runtime.state_op_us == 0.5 and plain.profile.runtime.state_op_us is None
    # ten more variables: thirty more state ops, 0.5 us each
    assert estimate(long, measured, 1).latency_ms - estimate(short, measured, 1).latency_ms == pytest.approx(30 * 0.0005)
    by_op = {o.op: o.latency_ms for o in estimate(long, measured, 1).ops}
    assert by_op["VAR_HANDLE"] == by_op["READ_VARIABLE"] == by_op["ASSIGN_VARIABLE"] == pytest.approx(0.0005)
    # without the figure: the per-op cost of where each runs (and the bytes the variable ops copy)
    assert estimate(long, plain, 1).latency_ms != pytest.approx(estimate(long, measured, 1).latency_ms)


@pytest.mark.device
def test_the_state_chain_calibrate_times_is_a_streaming_models_ring() -> None:
    """Each variable is looked up, read (the last read is the output) and set to the input, on every call."""
    model = parse_model(state_chain(3), "<chain>")
    assert model.op_histogram() == {"VAR_HANDLE": 3, "READ_VARIABLE": 3, "ASSIGN_VARIABLE": 3}
    interp = load_interpreter(state_chain(3), num_threads=1)
    detail = interp.get_input_details()[0]
    first = np.full(detail["shape"], 7, np.int8)
    interp.set_tensor(detail["index"], first)
    interp.invoke()
    interp.set_tensor(detail["index"], np.full(detail["shape"], 9, np.int8))
    interp.invoke()  # reads what the previous call assigned
    assert np.array_equal(interp.get_tensor(interp.get_output_details()[0]["index"]), first)


def test_the_fixed_costs_take_each_chains_least_disturbed_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """One median per chain swung the fitted invoke cost 0.34-0.81 us between calibrations minutes apart: each chain
    is timed in interleaved rounds and its least median kept."""
    import edgekit.calibrate.overheads as overheads

    seen: list[bytes] = []

    def median_us(data: bytes, use_xnnpack: bool, target_s: float) -> tuple[float, int]:
        seen.append(data)
        disturbed = seen.count(data) == 2  # every chain's second round ran during a neighbour's burst
        return (3.0 if disturbed else 1.0) * len(data) / 100.0, 1

    monkeypatch.setattr(overheads, "_median_us", median_us)
    models = [(b"x" * 100, True), (b"y" * 300, False)]
    assert overheads._least_us(models, 0.3, rounds=3) == [(1.0, 1), (3.0, 1)]
    assert seen == [m for _ in range(3) for m, _ in models]  # interleaved: each round times every chain


def _ring(n: int, rows: int) -> bytes:
    """``n`` rings as microWakeWord updates them: a variable looked up, the input less its first row sliced off and
    assigned to it (a RELU gives the graph an output)."""
    from edgekit.core.tflite_builder import Quant, TFLiteBuilder

    b = TFLiteBuilder("ring", default_quant=Quant.per_tensor(0.05, 0))
    x = b.tensor("x", (1, rows, 1, 64), "int8")
    for i in range(n):
        h = b.tensor(f"var{i}", (), "resource", quant=None)
        b.operator("VAR_HANDLE", [], [h], options_type="VarHandleOptions", options={"sharedName": f"ring{i}"})
        y = b.tensor(f"y{i}", (1, rows - 1, 1, 64), "int8")
        ends = [b.constant(f"{k}{i}", np.array(v, np.int32), quant=None)
                for k, v in (("b", [0, 1, 0, 0]), ("e", [1, rows, 1, 64]), ("s", [1, 1, 1, 1]))]
        b.operator("STRIDED_SLICE", [x, *ends], [y], {"beginMask": 0}, options_type="StridedSliceOptions", version=2)
        b.operator("ASSIGN_VARIABLE", [h, y], [])
    out = b.tensor("out", (1, rows, 1, 64), "int8")
    b.operator("RELU", [x], [out], version=2)
    return b.build([x], [out])


@pytest.mark.device
def test_xnnpack_slices_into_a_variable_and_assigns_it() -> None:
    """The placement had kept a slice that only feeds an ASSIGN_VARIABLE (and the assignment) on LiteRT's builtin
    kernels, from a walk back over the delegate's outputs that cannot reach ops whose results go into variables.
    Timed, the slice runs at XNNPACK's speed: ~2.4 us for 108 KB here, where the builtin kernel takes ~520 us."""
    import time

    from edgekit.profile.delegate import place_xnnpack

    sg = parse_model(_ring(2, 17), "<ring>").main
    assert [(p.delegated, sg.operators[p.index].name) for p in place_xnnpack(sg)] == [
        (True, "VAR_HANDLE"), (True, "STRIDED_SLICE"), (True, "ASSIGN_VARIABLE")] * 2 + [(False, "RELU")]

    def per_ring_us(use_xnnpack: bool) -> float:
        times = []
        for n in (1, 3):
            interp = load_interpreter(_ring(n, 1700), num_threads=1, use_xnnpack=use_xnnpack)
            interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((1, 1700, 1, 64), np.int8))
            samples = []
            for _ in range(30):
                t0 = time.perf_counter()
                interp.invoke()
                samples.append(time.perf_counter() - t0)
            times.append(float(np.median(samples)) * 1e6)
        return (times[1] - times[0]) / 2

    assert per_ring_us(True) < per_ring_us(False) / 10


def test_every_tensor_value_leaves_the_variable_handles_out() -> None:
    """Reading a VAR_HANDLE's resource tensor crashed the process one run in two (constant folding reads every tensor
    of a model; so does scripts/op_breakdown.py): ``tensor_values`` keeps the data tensors and leaves the handles."""
    from edgekit.tflite.runtime import tensor_values

    interp = load_interpreter(_ring(2, 5), num_threads=1, use_xnnpack=False, preserve_all_tensors=True)
    x = np.arange(5 * 64, dtype=np.int8).reshape(1, 5, 1, 64)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    values = tensor_values(interp, key="name")
    assert "var0" not in values and "var1" not in values
    np.testing.assert_array_equal(values["y1"], x[:, 1:])
    np.testing.assert_array_equal(values["out"], np.maximum(x, 0))
