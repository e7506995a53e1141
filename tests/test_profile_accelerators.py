"""The Edge TPU and GPU-delegate models, the run conditions and the expected-error band (no TensorFlow)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner
from profile_helpers import profile_builder

from edgekit.cli import main
from edgekit.profile.conditions import Conditions, at_clock, host_cpu_only, without_xnnpack
from edgekit.profile.costs import graph_costs
from edgekit.profile.edgetpu import TPUWork, array_work, lane_utilization, map_edgetpu, tpu_op_ms, tpu_work
from edgekit.profile.estimator import estimate
from edgekit.profile.gpu import FC_SPLIT, gpu_kernels, gpu_placement, plan_gpu
from edgekit.profile.registry import ProfileEntry, ProfileOrigin, get_profile
from edgekit.profile.schema import Accuracy, DeviceProfile
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

SAME = {"padding": "SAME", "stride_w": 1, "stride_h": 1}


def _conv(b, x, cin: int, cout: int, hw: int, dtype: str, k: int = 3, name: str = "c", act: str = "NONE"):  # type: ignore[no-untyped-def]
    w = b.constant(f"{name}_w", np.ones((cout, k, k, cin), dtype))
    bias = b.constant(f"{name}_b", np.zeros((cout,), "int32" if dtype == "int8" else "float32"))
    y = b.tensor(f"{name}_out", (1, hw, hw, cout), dtype)
    b.operator("CONV_2D", [x, w, bias], [y], {**SAME, "fused_activation_function": act})
    return y


def conv_model(cin: int, cout: int, hw: int = 16, dtype: str = "int8", repeat: int = 1) -> bytes:
    b = profile_builder()
    x = b.tensor("input", (1, hw, hw, cin), dtype)
    y = x
    for i in range(repeat):
        y = _conv(b, y, cin if i == 0 else cout, cout, hw, dtype, name=f"c{i}")
    return b.build([x], [y])


def entry(profile: DeviceProfile) -> ProfileEntry:
    return ProfileEntry(profile, ProfileOrigin.USER, "<test>")


def tpu_profile(**changes: object) -> DeviceProfile:
    p = get_profile("coral-usb-desktop").profile
    assert p.edgetpu is not None
    return dataclasses.replace(p, edgetpu=dataclasses.replace(p.edgetpu, **changes))


# ------------------------------------------------------------------------------------------ Edge TPU


def test_lane_utilization_is_the_padded_share_of_the_array() -> None:
    assert lane_utilization(64, 64, 64) == 1.0
    assert lane_utilization(128, 32, 64) == pytest.approx(0.5)  # DenseNet's growth-32 3x3: half the lanes idle
    assert lane_utilization(3 * 9, 64, 64) == pytest.approx(27 / 64)  # a 3-channel stem
    assert lane_utilization(65, 64, 64) == pytest.approx(65 / 128)
    assert lane_utilization(5, 7, 1) == 1.0


def test_a_narrow_conv_costs_more_per_mac_on_the_edge_tpu() -> None:
    prof = tpu_profile(array_lanes=64, per_op_overhead_us=0.0, data_gb_per_s=1e4)
    narrow = estimate(parse_model(conv_model(128, 32), "n"), entry(prof), 1)
    wide = estimate(parse_model(conv_model(128, 64), "w"), entry(prof), 1)
    n_ops = [o for o in narrow.ops if o.runs_on == "edgetpu"]
    w_ops = [o for o in wide.ops if o.runs_on == "edgetpu"]
    # half the MACs, the same time: the 32 output channels leave half of the 64 lanes idle
    assert n_ops[0].macs * 2 == w_ops[0].macs
    assert n_ops[0].latency_ms == pytest.approx(w_ops[0].latency_ms, rel=1e-6)


def test_each_weight_tile_is_loaded_before_the_pixels_stream_through() -> None:
    tpu = tpu_profile(array_lanes=64, efficiency=1.0, per_op_overhead_us=0.0, data_gb_per_s=None,
                      tile_fill_cycles=64.0).edgetpu
    assert tpu is not None
    peak = tpu.peak_int8_gmacs * 1e6  # MACs per ms

    def conv(pixels: int) -> TPUWork:
        return TPUWork(0, "conv", macs=pixels * 576 * 128, k=576, n=128, data_bytes=0, streamed_bytes=0)

    # 9 x 2 tiles of 64 x 64 weights: each loaded in 64 cycles, then the pixels stream through it
    assert tpu_op_ms(tpu, conv(3136)) == pytest.approx(18 * 4096 * (3136 + 64) / peak)
    assert tpu_op_ms(tpu, conv(49)) == pytest.approx(18 * 4096 * (49 + 64) / peak)
    # per MAC, a 7x7 layer costs (49 + 64) / 49 = 2.3x a full-array pass: loading the weights dominates
    assert tpu_op_ms(tpu, conv(49)) / (49 * 576 * 128) > 2 * tpu_op_ms(tpu, conv(3136)) / (3136 * 576 * 128)


def test_a_depthwise_conv_keeps_one_lane_per_tile_column_busy() -> None:
    dw = TPUWork(0, "depthwise", macs=196 * 9 * 128, k=9, n=128, data_bytes=0, streamed_bytes=0)
    rows, fill = array_work(dw, 64, 0.0)
    assert rows == 2 * 4096 * 196  # the taps x channels of a dense conv, 9 of 64 lanes doing work
    assert dw.macs / rows == pytest.approx(9 / 64)
    assert fill == 2 * 4096


def test_outputs_are_read_back_at_the_hosts_readback_rate() -> None:
    data = conv_model(8, 64, hw=32)
    model = parse_model(data, "m")
    slow = estimate(model, entry(tpu_profile(readback_gb_per_s=0.001, transfer_overhead_us=0.0)), 1)
    fast = estimate(model, entry(tpu_profile(readback_gb_per_s=1.0, transfer_overhead_us=0.0)), 1)
    assert slow.edgetpu is not None and fast.edgetpu is not None
    out_bytes = 32 * 32 * 64  # the int8 output
    assert slow.edgetpu.link_ms - fast.edgetpu.link_ms == pytest.approx(out_bytes / 1e3 - out_bytes / 1e6, rel=0.02)


def test_streamed_parameters_cost_link_time_and_overlap_with_compute() -> None:
    w = TPUWork(0, "conv", macs=10**9, k=1024, n=1024, data_bytes=0, streamed_bytes=50 * 10**6)
    base = tpu_profile(array_lanes=64, efficiency=0.5, link_bandwidth_gb_per_s=0.5, per_op_overhead_us=0.0,
                       data_gb_per_s=None, stream_overlap=0.0, tile_fill_cycles=0.0)
    compute = 1e9 / (base.edgetpu.peak_int8_gmacs * 1e6 * 0.5)  # type: ignore[union-attr]
    stream = 50e6 / 0.5e6
    assert tpu_op_ms(base.edgetpu, w) == pytest.approx(compute + stream)  # type: ignore[arg-type]
    full = dataclasses.replace(base.edgetpu, stream_overlap=1.0)  # type: ignore[type-var]
    assert tpu_op_ms(full, w) == pytest.approx(max(compute, stream))


def test_parameters_beyond_the_cache_stream_per_op() -> None:
    data = conv_model(256, 256, hw=4, repeat=3)  # 3 x 590 KB of int8 weights
    model = parse_model(data, "m")
    mapping = map_edgetpu(model, parameter_cache_bytes=700_000)
    assert mapping.cached_parameter_bytes < 700_000
    assert sum(mapping.streamed_by_op) == mapping.streamed_parameter_bytes > 0
    work = tpu_work(model.main, mapping, [c.macs for c in graph_costs(model.main)])
    assert [w.streamed_bytes > 0 for w in work] == [False, True, True]
    slow_link = estimate(model, entry(tpu_profile(parameter_cache_bytes=700_000, link_bandwidth_gb_per_s=0.04)), 1)
    fast_link = estimate(model, entry(tpu_profile(parameter_cache_bytes=700_000, link_bandwidth_gb_per_s=0.5)), 1)
    assert slow_link.latency_ms > 5 * fast_link.latency_ms  # USB 2 vs USB 3: the streamed bytes dominate
    assert slow_link.edgetpu is not None and slow_link.edgetpu.streamed_parameter_bytes == mapping.streamed_parameter_bytes


def test_a_large_bilinear_resize_and_what_follows_run_on_the_host_cpu() -> None:
    b = profile_builder()
    x = b.tensor("input", (1, 64, 64, 21), "int8")
    size = b.constant("size", np.array([513, 513]), "int32")
    y = b.tensor("up", (1, 513, 513, 21), "int8")
    b.operator("RESIZE_BILINEAR", [x, size], [y])
    model = parse_model(b.build([x], [y]), "resize")
    est = estimate(model, entry(tpu_profile()), 1)
    assert est.edgetpu is not None and est.edgetpu.first_unmapped_op is not None
    assert "left to the CPU" in est.edgetpu.first_unmapped_op.reason


# ------------------------------------------------------------------------------------------ GPU


def _gpu_chain(mid: str | None = None) -> bytes:
    """conv(relu) -> [mid] -> add(residual) -> conv, float32."""
    b = profile_builder()
    x = b.tensor("input", (1, 16, 16, 8), "float32")
    a = _conv(b, x, 8, 8, 16, "float32", name="a", act="RELU")
    cur = a
    if mid is not None:
        out = b.tensor("mid", (1, 16, 16, 8), "float32" if mid != "CAST" else "int32")
        b.operator(mid, [cur], [out])
        cur = out
    s = b.tensor("sum", (1, 16, 16, 8), "float32")
    b.operator("ADD", [cur, x], [s])
    y = _conv(b, s, 8, 8, 16, "float32", name="b")
    return b.build([x], [y])


def test_gpu_placement_follows_the_published_rules() -> None:
    model = parse_model(_gpu_chain(), "g")
    sg = model.main
    assert all(gpu_placement(sg, op) == "" for op in sg.operators)
    b = profile_builder()
    x = b.tensor("input", (1, 8, 8, 2), "float32")
    w = b.constant("w", np.ones((1, 3, 3, 4), "float32"))
    y = b.tensor("y", (1, 8, 8, 4), "float32")
    b.operator("DEPTHWISE_CONV_2D", [x, w], [y], {**SAME, "depth_multiplier": 2})
    shape_in = b.tensor("shape_in", (2,), "int32")
    z = b.tensor("z", (1, 256), "float32")
    b.operator("RESHAPE", [y, shape_in], [z])
    sg2 = parse_model(b.build([x, shape_in], [z]), "g2").main
    assert "depth_multiplier" in gpu_placement(sg2, sg2.operators[0])
    assert gpu_placement(sg2, sg2.operators[1])  # a computed shape (int32 runtime input) stays on the CPU


def test_the_gpu_delegate_links_elementwise_ops_and_keeps_one_partition() -> None:
    model = parse_model(_gpu_chain(), "g")
    plan = plan_gpu(model.main)
    assert plan.partitions == 1 and all(plan.on_gpu)
    # conv+relu, the residual ADD linked into it, then the second conv
    assert [len(k) for k in plan.kernels] == [2, 1]
    split = parse_model(_gpu_chain("FLOOR_MOD"), "split")  # one runtime input: refused -> two GPU partitions
    plan2 = plan_gpu(split.main)
    assert plan2.partitions == 1  # the delegate keeps only the largest (max_delegated_partitions = 1)
    assert not all(plan2.on_gpu)
    assert plan2.reasons[1]


def _residual(skip_first: bool, bias_shape: tuple[int, ...] | None = None) -> bytes:
    """conv(relu) then ADD(skip, conv) (or ADD(conv, skip)); with ``bias_shape`` the skip is a broadcast tensor."""
    b = profile_builder()
    x = b.tensor("input", (1, 16, 16, 8), "float32")
    skip = x
    ins = [x]
    if bias_shape is not None:
        skip = b.tensor("bias_in", bias_shape, "float32")
        ins.append(skip)
    a = _conv(b, x, 8, 8, 16, "float32", name="a", act="RELU")
    s = b.tensor("sum", (1, 16, 16, 8), "float32")
    b.operator("ADD", [skip, a] if skip_first else [a, skip], [s])
    y = _conv(b, s, 8, 8, 16, "float32", name="b")
    return b.build(ins, [y])


def test_a_residual_add_links_whichever_operand_comes_first() -> None:
    # the delegate moves the operand written last to the front of an ADD/MUL (IsAssociativeLinkableOp)
    for skip_first in (False, True):
        plan = plan_gpu(parse_model(_residual(skip_first), "r").main)
        assert [len(k) for k in plan.kernels] == [2, 1], skip_first
    # broadcasting a [1,1,1,8] operand: not associative, so only the first operand links
    linked = plan_gpu(parse_model(_residual(False, (1, 1, 1, 8)), "b1").main)
    assert [len(k) for k in linked.kernels] == [2, 1]
    alone = plan_gpu(parse_model(_residual(True, (1, 1, 1, 8)), "b2").main)
    assert [len(k) for k in alone.kernels] == [1, 1, 1]


def _weights_model(float16: bool) -> bytes:
    """conv (float32 weights) -> relu -> conv whose weights and bias are float16 constants dequantized to float32
    (``--quantize float16``'s layout) or, with ``float16=False``, the same conv with float32 constants."""
    b = profile_builder()
    x = b.tensor("input", (1, 16, 16, 8), "float32")
    a = _conv(b, x, 8, 8, 16, "float32", name="a", act="RELU")
    if float16:
        w16 = b.constant("w16", np.full((8, 3, 3, 8), 0.01, np.float16))
        b16 = b.constant("b16", np.zeros((8,), np.float16))
        w, bias = b.tensor("w", (8, 3, 3, 8), "float32"), b.tensor("bias", (8,), "float32")
        b.operator("DEQUANTIZE", [w16], [w])
        b.operator("DEQUANTIZE", [b16], [bias])
        y = b.tensor("y", (1, 16, 16, 8), "float32")
        b.operator("CONV_2D", [a, w, bias], [y], SAME)
    else:
        y = _conv(b, a, 8, 8, 16, "float32", name="b")
    return b.build([x], [y])


def test_the_gpu_delegate_reads_float16_weights_itself() -> None:
    # FP16GraphPartitionHelper: the DEQUANTIZEs of float16 constants are absorbed, their readers see constants
    half, full = parse_model(_weights_model(True), "h"), parse_model(_weights_model(False), "f")
    plan = plan_gpu(half.main)
    assert all(plan.on_gpu) and plan.partitions == 1
    assert [[half.main.operators[i].name for i in k] for k in plan.kernels] == [["CONV_2D"], ["CONV_2D"]]
    prof = get_profile("pixel3-gpu").profile
    est_half, est_full = estimate(half, entry(prof), 4), estimate(full, entry(prof), 4)
    assert est_half.latency_ms == pytest.approx(est_full.latency_ms)  # no hand-over, no kernel for the weights
    assert {o.op: o.runs_on for o in est_half.ops}["DEQUANTIZE"] == "gpu"
    assert "float16 weights" in gpu_placement(half.main, half.main.operators[1])
    # an ADD/MUL reading a float16 constant written after its other operand still links into that operand's conv
    b = profile_builder()
    x = b.tensor("input", (1, 16, 16, 8), "float32")
    a = _conv(b, x, 8, 8, 16, "float32", name="a")
    s16 = b.constant("s16", np.full((1, 16, 16, 8), 0.5, np.float16))
    scale = b.tensor("scale", (1, 16, 16, 8), "float32")
    b.operator("DEQUANTIZE", [s16], [scale])
    y = b.tensor("y", (1, 16, 16, 8), "float32")
    b.operator("MUL", [scale, a], [y])
    plan2 = plan_gpu(parse_model(b.build([x], [y]), "m").main)
    assert plan2.kernels == ((0, 2),) and all(plan2.on_gpu)


def _pool_fc_model(hw: int) -> bytes:
    """1xHWxHWx16 -> AVERAGE_POOL_2D (HW window, stride HW) -> reshape -> FULLY_CONNECTED 16*k -> 7."""
    b = profile_builder()
    x = b.tensor("input", (1, hw, hw, 16), "float32")
    out = hw // 4 if hw > 8 else 1
    win = hw // out
    p = b.tensor("pool", (1, out, out, 16), "float32")
    b.operator("AVERAGE_POOL_2D", [x], [p], {"padding": "VALID", "stride_w": win, "stride_h": win,
                                              "filter_width": win, "filter_height": win})
    flat = out * out * 16
    shape = b.constant("shape", np.array([1, flat], np.int32))
    r = b.tensor("flat", (1, flat), "float32")
    b.operator("RESHAPE", [p, shape], [r])
    w = b.constant("w", np.ones((7, flat), np.float32))
    bias = b.constant("b", np.zeros((7,), np.float32))
    y = b.tensor("y", (1, 7), "float32")
    b.operator("FULLY_CONNECTED", [r, w, bias], [y])
    return b.build([x], [y])


def test_gpu_per_thread_chains_follow_the_delegate_kernels() -> None:
    for hw, pool_chain in ((8, 1), (32, 16)):  # a global average pool is a MEAN (work-group reduce); else its window
        m = parse_model(_pool_fc_model(hw), "p")
        sg = m.main
        ks = {sg.operators[k.members[0]].name: k for k in gpu_kernels(sg, graph_costs(sg), plan_gpu(sg).kernels)}
        assert ks["AVERAGE_POOL_2D"].reduction == pool_chain
        flat = 16 if hw == 8 else 8 * 8 * 16
        assert ks["FULLY_CONNECTED"].reduction == flat // FC_SPLIT  # 4 threads share each dot product


def test_float32_on_the_gpu_is_slower_than_float16() -> None:
    prof = get_profile("pixel4-gpu").profile
    model = parse_model(conv_model(64, 64, hw=32, dtype="float32", repeat=4), "g")
    fp16 = estimate(model, entry(Conditions(gpu_fp16=True).apply(prof)), 4)
    fp32 = estimate(model, entry(Conditions(gpu_fp16=False).apply(prof)), 4)
    assert fp32.latency_ms > fp16.latency_ms
    assert all(o.runs_on == "gpu" for o in fp16.ops)


# ------------------------------------------------------------------------------------------ conditions


def test_conditions_change_only_what_they_name() -> None:
    prof = get_profile("rpi4b").profile
    slow = at_clock(prof, prof.hardware.clock_ghz / 2)
    assert slow.hardware.peak_fp32_gmacs_per_core == pytest.approx(prof.hardware.peak_fp32_gmacs_per_core / 2)
    assert slow.runtime.per_op_overhead_us == pytest.approx(prof.runtime.per_op_overhead_us * 2)
    assert slow.hardware.memory_bandwidth_gb_per_s == prof.hardware.memory_bandwidth_gb_per_s
    model = parse_model(conv_model(32, 32, dtype="float32"), "m")
    assert estimate(model, entry(slow), 1).latency_ms > estimate(model, entry(prof), 1).latency_ms
    builtin = estimate(model, entry(without_xnnpack(prof)), 1)
    assert {o.runs_on for o in builtin.ops} == {"cpu:builtin"}
    host = host_cpu_only(get_profile("coral-devboard").profile)
    assert host.edgetpu is None and estimate(model, entry(host), 1).edgetpu is None


# ------------------------------------------------------------------------------------------ band


def _with_band(pid: str) -> DeviceProfile:
    acc = Accuracy(method="leave-one-model-out on the published dataset", rows=23, median_abs_error=0.18,
                   p90_abs_error=0.4, within_20=0.6, within_35=0.8)
    return dataclasses.replace(get_profile(pid).profile, accuracy=acc)


def test_every_estimate_carries_its_band(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from edgekit.core.profile_toml import as_document, write
    from edgekit.profile.schema import profile_from_dict

    prof = _with_band("rpi4b")
    assert prof.accuracy is not None and prof.accuracy.band == "±18% (LOO, 23 rows)"
    write(tmp_path / "rpi4b.toml", as_document(prof), check=lambda d: profile_from_dict(d, "x"))
    model_path = tmp_path / "m.tflite"
    model_path.write_bytes(conv_model(16, 16, dtype="float32"))
    runner = CliRunner()
    res = runner.invoke(main, ["profile", str(model_path), "-d", "rpi4b", "--profiles", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    dev = json.loads(res.output)["devices"][0]
    band = dev["latency_ms_band"]
    assert band["text"] == "±18% (LOO, 23 rows)" and band["rows"] == 23
    assert band["low_ms"] == pytest.approx(dev["latency_ms"] * 0.82, abs=2e-3)
    table = runner.invoke(main, ["profile", str(model_path), "-d", "rpi4b", "--profiles", str(tmp_path)])
    assert "±18% (LOO, 23 rows)" in table.output
    from edgekit.profile.report import ProfileReport

    back = ProfileReport.from_dict(json.loads(res.output))
    assert back.devices[0].latency_band == "±18% (LOO, 23 rows)"


def test_every_shipped_profile_states_its_band() -> None:
    from edgekit.profile.registry import shipped_profiles

    for e in shipped_profiles():
        assert e.profile.accuracy is not None, e.profile.id
        assert e.profile.accuracy.rows > 0 and 0 < e.profile.accuracy.median_abs_error < 1, e.profile.id
