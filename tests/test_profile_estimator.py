"""Estimator and XNNPACK delegate model: placements, thread scaling, memory accounting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from profile_helpers import conv_chain_model

from edgekit.profile.delegate import count_partitions, place_xnnpack, runtime_delegated_ops
from edgekit.profile.estimator import cpu_op_ms, estimate
from edgekit.profile.indirection import indirection_ms, op_indirection_bytes
from edgekit.profile.registry import get_profile, shipped_profiles
from edgekit.profile.schema import OpClass
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def test_every_shipped_device_estimates_the_chain() -> None:
    m = parse_model(conv_chain_model("int8"), "chain")
    for entry in shipped_profiles():
        est = estimate(m, entry)
        assert est.latency_ms > 0 and est.fits
        assert est.peak_memory_bytes == (est.weights_bytes + est.repacked_weights_bytes + est.arena_bytes
                                         + est.persistent_bytes + est.runtime_overhead_bytes)
        assert est.profile_source == "shipped" and est.fitted_on
        d = est.to_dict()
        assert d["estimated"] is True and len(d["ops"]) == 4


def test_formula_of_one_op() -> None:
    m = parse_model(conv_chain_model("float32"), "chain")
    entry = get_profile("rpi4b")
    p = entry.profile
    est = estimate(m, entry, threads=1)
    conv = est.ops[0]
    compute_s = conv.macs / (p.hardware.peak_fp32_gmacs_per_core * 1e9 * p.efficiency.float32.conv)
    memory_s = conv.bytes / (p.hardware.memory_bandwidth_gb_per_s * 1e9 * p.runtime.memory_efficiency)
    # XNNPACK's indirection pointers (one per output pixel and tap of the 3x3 kernel) are read on top
    pointers_ms = indirection_ms(p, op_indirection_bytes(m.main, m.main.operators[0]))
    assert pointers_ms > 0
    assert conv.latency_ms == pytest.approx(1000 * max(compute_s, memory_s) + pointers_ms
                                            + p.runtime.per_op_overhead_us / 1000)
    assert conv.runs_on == "cpu:xnnpack"


def test_threads_use_the_profile_curve_not_linear_scaling() -> None:
    m = parse_model(conv_chain_model("int8"), "chain")
    entry = get_profile("rpi4b")
    big = dataclasses.replace(
        entry.profile,
        hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4),
        runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0),
    )
    entry = dataclasses.replace(entry, profile=big)
    from edgekit.profile.costs import op_cost

    cost = op_cost(m.main, m.main.operators[0])
    one = cpu_op_ms(big, cost, True, 1)
    four = cpu_op_ms(big, cost, True, 4)
    assert one / four == pytest.approx(big.runtime.thread_speedup.at("int8", 4))
    assert estimate(m, entry, threads=64).threads == big.hardware.cores
    # an op XNNPACK refuses runs slower (builtin kernels), and single-threaded unless conv/fc
    assert cpu_op_ms(big, cost, False, 1) > one
    assert cost.op_class == OpClass.CONV


def test_unsupported_op_splits_the_delegate_and_costs_more() -> None:
    plain = parse_model(conv_chain_model("int8"), "plain")
    split = parse_model(conv_chain_model("int8", middle_op="EXP"), "split")
    placement = place_xnnpack(split.main)
    assert [p.delegated for p in placement] == [True, False, True, True, True]
    assert "EXP" in placement[1].reason
    assert count_partitions([p.delegated for p in placement]) == 2
    entry = get_profile("rpi4b")
    assert estimate(split, entry).delegate_partitions == 2
    assert estimate(plain, entry).delegate_partitions == 1


def test_float_weights_are_counted_again_when_xnnpack_repacks_them() -> None:
    m = parse_model(conv_chain_model("float32"), "f")
    est = estimate(m, get_profile("rpi4b"))
    # conv, depthwise and FC weights+biases (the reshape's shape is not repacked)
    assert est.repacked_weights_bytes == est.weights_bytes - 8


def test_placement_model_matches_litert_on_the_chain() -> None:
    from edgekit.tflite.runtime import load_interpreter

    data = conv_chain_model("float32")
    interp = load_interpreter(data, num_threads=1)
    taken, partitions = runtime_delegated_ops(interp)
    ours = [p.delegated for p in place_xnnpack(parse_model(data, "x").main)]
    assert taken == {i for i, d in enumerate(ours) if d}
    assert partitions == count_partitions(ours)


def _single_op_model(op: str, dtype: str, n_inputs: int = 1) -> bytes:
    from profile_helpers import profile_builder

    b = profile_builder()
    xs = [b.tensor(f"x{i}", (1, 4, 4, 2), dtype) for i in range(n_inputs)]
    if op == "CONCATENATION":
        y = b.tensor("y", (1, 4, 4, 2 * n_inputs), dtype)
        b.operator(op, xs, [y], {"axis": 3})
    elif op == "AVERAGE_POOL_2D":
        y = b.tensor("y", (1, 2, 2, 2), dtype)
        b.operator(op, xs, [y], {"filter_width": 2, "filter_height": 2, "stride_w": 2, "stride_h": 2,
                                 "padding": "VALID"})
    else:
        y = b.tensor("y", (1, 4, 4, 2), dtype)
        b.operator(op, xs, [y])
    return b.build(xs, [y])


@pytest.mark.parametrize(
    ("op", "dtype", "n_inputs", "delegated"),
    [
        ("HARD_SWISH", "float32", 1, True),
        ("HARD_SWISH", "int8", 1, False),  # why MobileNetV3 int8 splits into ~20 partitions
        ("AVERAGE_POOL_2D", "float32", 1, True),
        ("AVERAGE_POOL_2D", "int8", 1, False),
        ("CONCATENATION", "int8", 4, True),
        ("CONCATENATION", "int8", 6, False),  # NASNet's 6-way concats
        ("RELU", "int8", 1, False),
        ("TANH", "int8", 1, True),
    ],
)
def test_xnnpack_rules_agree_with_litert(op: str, dtype: str, n_inputs: int, delegated: bool) -> None:
    from edgekit.tflite.runtime import load_interpreter

    data = _single_op_model(op, dtype, n_inputs)
    ours = place_xnnpack(parse_model(data, op).main)[0]
    assert ours.delegated is delegated, ours.reason
    taken, _ = runtime_delegated_ops(load_interpreter(data, num_threads=1))
    assert (0 in taken) is delegated


def test_op_efficiency_overrides_the_class_figure() -> None:
    from edgekit.profile.costs import op_cost
    from edgekit.profile.schema import OpEfficiency

    m = parse_model(conv_chain_model("int8", middle_op="EXP"), "split")
    entry = get_profile("rpi4b")
    prof = dataclasses.replace(entry.profile, runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0,
                                                                          builtin_per_op_overhead_us=0.0))
    exp = op_cost(m.main, m.main.operators[1])
    conv = op_cost(m.main, m.main.operators[0])
    base_exp = cpu_op_ms(prof, exp, False, 1)
    tuned = dataclasses.replace(prof, op_efficiency=OpEfficiency(int8={"EXP": 0.001, "CONV_2D": 0.05}))
    slow = cpu_op_ms(tuned, exp, False, 1)
    # measured in place: the figure replaces class efficiency x builtin factor
    peak = prof.peak_gmacs_per_core("int8") * 1e9
    mem_s = exp.bytes / (prof.hardware.memory_bandwidth_gb_per_s * 1e9 * prof.runtime.memory_efficiency)
    assert slow == pytest.approx(1000 * max(exp.macs / (peak * 0.001), mem_s))
    assert slow != base_exp
    assert cpu_op_ms(tuned, conv, True, 1) > cpu_op_ms(prof, conv, True, 1)


def test_data_movement_is_work_only_with_a_calibrated_per_op_figure() -> None:
    """PAD has no MACs and costs its bytes; a calibrated profile's [op_efficiency] figure for PAD (calibrate
    measures it: XNNPACK's PAD runs far slower than its bytes) charges its output elements as work."""
    from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
    from edgekit.profile.costs import graph_costs
    from edgekit.profile.schema import OpEfficiency

    m = parse_model(build_model(MicroSpec(MicroOp.PAD, "float32", 28, 28, 16)), "pad")
    pad = next(c for c in graph_costs(m.main) if c.op == "PAD")
    assert pad.macs == 0 and pad.moved_elements == 30 * 30 * 16
    prof = get_profile("rpi4b").profile
    plain = cpu_op_ms(prof, pad, True, 1)
    other_op = dataclasses.replace(prof, op_efficiency=OpEfficiency(float32={"CONCATENATION": 0.001}))
    assert cpu_op_ms(other_op, pad, True, 1) == plain  # no figure for PAD: bytes only, as before
    tuned = dataclasses.replace(prof, op_efficiency=OpEfficiency(float32={"PAD": 0.001}))
    peak = prof.peak_gmacs_per_core("float32") * 1e9
    expected = 1000 * pad.moved_elements / (peak * 0.001) + prof.runtime.per_op_overhead_us / 1000
    assert cpu_op_ms(tuned, pad, True, 1) == pytest.approx(max(expected, plain))
    assert cpu_op_ms(tuned, pad, True, 1) > plain


def _float16_weights_model() -> bytes:
    """input 1x16x16x32 -> CONV 1x1 (32) whose weights are float16 constants brought to float32 by DEQUANTIZE."""
    from profile_helpers import profile_builder

    b = profile_builder()
    x = b.tensor("input", (1, 16, 16, 32), "float32")
    w16 = b.constant("w16", np.full((32, 1, 1, 32), 0.01, np.float16))
    w = b.tensor("w", (32, 1, 1, 32), "float32")
    b.operator("DEQUANTIZE", [w16], [w])
    bias = b.constant("b", np.zeros((32,), np.float32))
    y = b.tensor("y", (1, 16, 16, 32), "float32")
    b.operator("CONV_2D", [x, w, bias], [y], {"padding": "VALID", "stride_w": 1, "stride_h": 1})
    return b.build([x], [y])


def test_static_float16_weights_are_unpacked_once_not_per_inference() -> None:
    """XNNPACK takes the DEQUANTIZE of static float16 weights and computes it when the delegate is prepared: the
    estimate charges it nothing per inference (MediaPipe's pose detector has 38 such DENSIFY and 144 DEQUANTIZE
    nodes, which had been charged 2.8 ms of its ~11 ms)."""
    from edgekit.tflite.runtime import load_interpreter

    data = _float16_weights_model()
    m = parse_model(data, "fp16")
    est = estimate(m, get_profile("rpi4b"), threads=1)
    dq = next(o for o in est.ops if o.op == "DEQUANTIZE")
    conv = next(o for o in est.ops if o.op == "CONV_2D")
    assert dq.latency_ms == 0.0 and dq.runs_on == "cpu:xnnpack" and "once" in dq.note
    assert conv.latency_ms > 0 and est.delegate_partitions == 1
    taken, partitions = runtime_delegated_ops(load_interpreter(data, num_threads=1))
    assert taken == {0, 1} and partitions == 1  # the runtime agrees: both in the one XNNPACK partition


def test_profile_estimates_the_shapes_a_graph_computes_at_run_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The file stores 1x1 for the tensors after the RESHAPE (placeholders); LiteRT computes 1x48 at run time:
    profile estimates the MUL on 48 elements, and says where the shapes came from."""
    from tune_helpers import computed_reshape_model

    from edgekit.profile.report import profile_model

    path = tmp_path / "computed.tflite"
    path.write_bytes(computed_reshape_model())
    stored = estimate(parse_model(path.read_bytes(), "m"), get_profile("rpi4b"), 1)
    report = profile_model(path, ["rpi4b"], 1)
    mul = [o for o in report.devices[0].ops if o.op == "MUL"]
    assert [o.bytes for o in mul] == [3 * 48 * 4]  # two reads and a write of 48 floats
    assert [o.bytes for o in stored.ops if o.op == "MUL"] == [3 * 1 * 4]  # what the placeholders said
    assert any("shapes were taken from one LiteRT run" in n for n in report.notes), report.notes
    assert report.to_dict()["notes"] == list(report.notes)
    assert "Note: the graph computes its tensor shapes" in report.render()
    # the shape ops stay: the device runs them (4 builtin int32 ops before the delegated FULLY_CONNECTED)
    assert report.operators == 6
    # inspect says the stored shapes may be placeholders; a graph with static shapes says nothing
    from edgekit.tflite.inspect import InspectReport

    inspected = InspectReport.of(parse_model(path.read_bytes(), "m"), path)
    assert inspected.computes_shapes and "Shapes:        computed at run time" in inspected.render()
    assert InspectReport.from_dict(inspected.to_dict()).computes_shapes
    plain = InspectReport.of(parse_model(conv_chain_model(), "plain"), "plain.tflite")
    assert not plain.computes_shapes and "Shapes:" not in plain.render()
    # a graph LiteRT cannot run here: estimated on the stored shapes, and said so
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(computed_reshape_model(width=47))
    fallback = profile_model(broken, ["rpi4b"], 1)
    assert [o.bytes for o in fallback.devices[0].ops if o.op == "MUL"] == [3 * 1 * 4]
    assert any("LiteRT could not run it here" in n for n in fallback.notes), fallback.notes
