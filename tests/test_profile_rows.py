"""Narrow rows (issue 14): a depthwise / pool / pad / concatenation / broadcast op whose innermost run is shorter
than the SIMD channel tile pays per kernel row, not per element (mp-hand-recrop's 8-channel stem, basic-pitch's
``[1, H, W, 1]`` pads and concatenations ran 2-40x their estimate). The row count per op, the estimator's
``[row_ns]`` charge, the schema's checks and calibrate's fit."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from edgekit.calibrate.fit import Peaks, fit_profile_figures
from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model, builtin_op
from edgekit.calibrate.narrow import NARROW_SPECS, fit_row_ns, is_narrow, narrow_specs
from edgekit.calibrate.runner import Measurement, _features
from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.errors import ProfileError
from edgekit.profile.costs import graph_costs
from edgekit.profile.estimator import estimate, memory_ms
from edgekit.profile.registry import get_profile
from edgekit.profile.rows import narrow_rows, row_ns
from edgekit.profile.schema import RowCost
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

PEAKS = Peaks(fp32_gmacs=50.0, int8_gmacs=200.0, bandwidth_gb_s=20.0)


def _one_op(op: str, inputs: list[tuple[int, ...]], out: tuple[int, ...], options: dict | None = None,
            const: np.ndarray | None = None) -> tuple[object, object]:
    b = TFLiteBuilder("rows")
    ins = [b.tensor(f"x{i}", s) for i, s in enumerate(inputs)]
    if const is not None:
        ins.append(b.constant("c", const))
    y = b.tensor("y", out)
    b.operator(op, ins, [y], options, options_type="PackOptions" if op == "PACK" else None)
    sg = parse_model(b.build([i for i in ins if i < len(inputs)], [y]), "<rows>").main
    return sg, sg.operators[0]


def _rows(op: str, inputs: list[tuple[int, ...]], out: tuple[int, ...], options: dict | None = None,
          const: np.ndarray | None = None, tile: int = 16) -> int:
    sg, node = _one_op(op, inputs, out, options, const)
    return narrow_rows(sg, node, tile)  # type: ignore[arg-type]


def test_depthwise_and_pools_count_one_row_per_output_pixel_when_narrow() -> None:
    for c, expect in ((8, 64 * 64), (1, 64 * 64), (16, 0), (32, 0)):
        sg = parse_model(build_model(MicroSpec(MicroOp.DEPTHWISE_CONV_2D, "float32", 64, 64, c, kernel=3)), "<dw>").main
        dw = next(o for o in sg.operators if o.name == "DEPTHWISE_CONV_2D")
        assert narrow_rows(sg, dw, 16) == expect
    sg = parse_model(build_model(MicroSpec(MicroOp.MAX_POOL_2D, "int8", 64, 64, 4, kernel=3, stride=2)), "<p>").main
    assert narrow_rows(sg, sg.operators[0], 16) == 32 * 32
    assert narrow_rows(sg, sg.operators[0], 4) == 0  # exactly one tile wide: not narrow


def test_binary_ops_have_rows_only_where_an_operand_is_broadcast() -> None:
    assert _rows("MUL", [(1, 32, 32, 8), (1, 1, 1, 8)], (1, 32, 32, 8)) == 32 * 32  # squeeze-excite scale
    assert _rows("PRELU", [(1, 32, 32, 8), (1, 1, 8)], (1, 32, 32, 8)) == 32 * 32  # slope of rank 3
    assert _rows("ADD", [(1, 32, 32, 8), (1, 32, 32, 8)], (1, 32, 32, 8)) == 0  # one flat array
    assert _rows("MUL", [(1, 32, 32, 8), (1, 1, 1, 1)], (1, 32, 32, 8)) == 0  # a scalar
    assert _rows("MUL", [(1, 32, 32, 64), (1, 1, 1, 64)], (1, 32, 32, 64)) == 0  # wide rows
    # broadcast over the row dimension: the run both span is W * C = 8 elements
    assert _rows("ADD", [(1, 32, 4, 2), (1, 1, 4, 2)], (1, 32, 4, 2)) == 32
    # one operand constant along the trailing run (XNNPACK's operand-and-constant kernel per row), measured here
    # with XNNPACK at 1 thread: [1, 128, 128, 2] x [1, 128, 128, 1] 52 us (16,384 rows of 2), x [1, 128, 1, 1]
    # 3 us (128 rows of 256); basic-pitch's [1, 309, 172, 2] x [309, 1, 1] 10 us (309 rows of 344)
    assert _rows("MUL", [(1, 128, 128, 2), (1, 128, 128, 1)], (1, 128, 128, 2)) == 128 * 128
    assert _rows("MUL", [(1, 128, 128, 2), (1, 128, 1, 1)], (1, 128, 128, 2)) == 0
    assert _rows("MUL", [(1, 309, 172, 2), (309, 1, 1)], (1, 309, 172, 2)) == 0
    assert _rows("MUL", [(1, 4, 2, 2), (4, 1, 1)], (1, 4, 2, 2), tile=16) == 4  # rows of 4: narrow


def test_pad_rows_follow_the_last_padded_dimension() -> None:
    spatial = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
    assert _rows("PAD", [(1, 10, 10, 1)], (1, 12, 12, 1), const=spatial) == 12 * 12
    assert _rows("PAD", [(1, 10, 10, 32)], (1, 12, 12, 32), const=spatial) == 0
    channels = np.array([[0, 0], [0, 0], [0, 0], [0, 8]], np.int32)  # MediaPipe's 8 -> 16 channel pad
    assert _rows("PAD", [(1, 4, 4, 8)], (1, 4, 4, 16), const=channels) == 16
    width_only = np.array([[0, 0], [0, 0], [18, 18], [0, 0]], np.int32)  # basic-pitch's [1, 172, 273, 1] pads
    assert _rows("PAD", [(1, 172, 273, 1)], (1, 172, 309, 1), const=width_only) == 172 * 309


def test_concatenation_and_pack_count_one_copy_per_narrow_input_slice() -> None:
    assert _rows("CONCATENATION", [(1, 5, 7, 1)] * 3, (1, 5, 7, 3), {"axis": -1}) == 3 * 35
    # only the narrow input's copies count (basic-pitch's [.., 1] + [.., 32] concatenation)
    assert _rows("CONCATENATION", [(1, 5, 7, 1), (1, 5, 7, 32)], (1, 5, 7, 33), {"axis": 3}) == 35
    assert _rows("CONCATENATION", [(1, 36, 172, 2), (1, 36, 172, 2)], (1, 72, 172, 2), {"axis": 1}) == 0
    assert _rows("PACK", [(1, 36, 172), (1, 36, 172)], (1, 36, 172, 2), {"axis": -1, "values_count": 2}) == 2 * 36 * 172


def test_row_figures_fall_back_to_the_family_and_keep_builtin_apart() -> None:
    table = {"MUL": 3.0, "CONCATENATION": 4.0, "CONCATENATION_BUILTIN": 6.0}
    assert row_ns(table, "PRELU", True) == 3.0
    assert row_ns(table, "PACK", False) == 6.0
    assert row_ns(table, "MUL", False) is None  # no builtin figure: nothing charged
    assert row_ns(table, "DEPTHWISE_CONV_2D", True) is None


def test_schema_checks_the_row_figures() -> None:
    assert RowCost(channel_tile=8, float32={"PAD": 9.5}).table("float16") == {"PAD": 9.5}
    with pytest.raises(ProfileError, match="'float32.PAD' = -1.0 is out of range") as exc:
        RowCost(float32={"PAD": -1.0})
    assert "ns" in (exc.value.hint or "")
    with pytest.raises(ProfileError, match="not an op name"):
        RowCost(int8={"pad": 1.0})
    with pytest.raises(ProfileError, match="channel_tile"):
        RowCost(channel_tile=1)


def _profile_with_rows(folder: Path, ns: float) -> str:
    text = (resources.files("edgekit.device_profiles") / "rpi4b.toml").read_text(encoding="utf-8")
    assert "[row_ns" not in text
    device = f"rows-test-{ns:g}"
    text = text.replace('id = "rpi4b"', f'id = "{device}"', 1)
    text += f"\n[row_ns]\nchannel_tile = 16\n[row_ns.float32]\nDEPTHWISE_CONV_2D = {ns}\n"
    (folder / f"{device}.toml").write_text(text, encoding="utf-8")
    return device


def test_estimator_charges_narrow_rows_at_the_profile_figure(tmp_path: Path) -> None:
    narrow = parse_model(build_model(MicroSpec(MicroOp.DEPTHWISE_CONV_2D, "float32", 64, 64, 8, kernel=3)), "<n>")
    wide = parse_model(build_model(MicroSpec(MicroOp.DEPTHWISE_CONV_2D, "float32", 16, 16, 128, kernel=3)), "<w>")
    plain = get_profile("rpi4b")
    # rows are compute: with figures this large the op is compute-bound, and the difference is the rows' time
    low, high = (get_profile(_profile_with_rows(tmp_path, ns), [tmp_path]) for ns in (1000.0, 2000.0))
    for threads in (1, 2):
        assert estimate(narrow, low, threads).latency_ms > estimate(narrow, plain, threads).latency_ms
        extra = estimate(narrow, high, threads).latency_ms - estimate(narrow, low, threads).latency_ms
        speedup = plain.profile.runtime.thread_speedup.at("float32", threads)
        assert extra == pytest.approx(64 * 64 * 1000.0 * 1e-6 / speedup, rel=1e-6)
        # the same kind of op in wide rows: nothing added
        assert estimate(wide, high, threads).latency_ms == pytest.approx(estimate(wide, plain, threads).latency_ms)


def _measurement(name: str, op: str, per_op_ms: float, rows: int, width: int, xnnpack: bool = True,
                 macs: int = 100_000) -> Measurement:
    return Measurement(name=name, op=op, op_class="depthwise_conv", dtype="float32", threads=1, xnnpack=xnnpack,
                       delegated=xnnpack, model_delegated=True, partitions=1 if xnnpack else 0, repeat=1,
                       median_ms=per_op_ms, min_ms=per_op_ms, per_op_ms=per_op_ms, macs=macs, bytes=1000,
                       weight_bytes=0, rows=rows, row_width=width)


def test_fit_recovers_the_row_cost_and_keys_it_by_placement() -> None:
    ms = [_measurement("a", "DEPTHWISE_CONV_2D", 0.1 + 5000 * 7e-6, 5000, 1),
          _measurement("b", "DEPTHWISE_CONV_2D", 0.1 + 2000 * 7e-6, 2000, 8),
          _measurement("c", "DEPTHWISE_CONV_2D", 0.1 + 2000 * 20e-6, 2000, 8, xnnpack=False),
          _measurement("wide", "DEPTHWISE_CONV_2D", 0.1, 100, 64)]
    fitted = fit_row_ns(ms, 16, lambda m: 0.1)
    assert fitted == {"float32": {"DEPTHWISE_CONV_2D": pytest.approx(7.0), "DEPTHWISE_CONV_2D_BUILTIN": pytest.approx(20.0)}}
    # never negative: an op faster than its wide prediction gets 0
    assert fit_row_ns(ms[:1], 16, lambda m: 1.0) == {"float32": {"DEPTHWISE_CONV_2D": 0.0}}


def test_narrow_measurements_leave_the_efficiency_figures_alone() -> None:
    wide = [_measurement(f"w{i}", "DEPTHWISE_CONV_2D", 0.1 * (i + 1), 10 * (i + 1), 64, macs=1_000_000 * (i + 1))
            for i in range(3)]
    narrow = [dataclasses.replace(_measurement("n", "DEPTHWISE_CONV_2D", 5.0, 50_000, 1), macs=1_000_000)]
    alone = fit_profile_figures(wide, [], PEAKS, [1], per_op=True, row_tile=16)
    both = fit_profile_figures(wide + narrow, [], PEAKS, [1], per_op=True, row_tile=16)
    assert both.efficiency == alone.efficiency and both.op_efficiency == alone.op_efficiency
    assert "n" not in both.residuals and both.row_tile == 16 and alone.row_tile == 0
    # the narrow op's row figure: what the wide efficiency leaves unexplained, per row
    wide_ms = 1_000_000 / (PEAKS.fp32_gmacs * 1e6 * both.op_efficiency["float32"]["DEPTHWISE_CONV_2D"])
    expect = (5.0 - wide_ms - both.per_op_overhead_us / 1e3) / 50_000 * 1e6
    assert both.row_ns["float32"]["DEPTHWISE_CONV_2D"] == pytest.approx(expect, rel=1e-3)


def test_every_narrow_spec_builds_and_measures_rows_below_the_tile() -> None:
    specs = narrow_specs()
    assert len(specs) == 2 * len(NARROW_SPECS)
    for spec in specs:
        data = build_model(spec)
        op = builtin_op(spec.op)
        summary = _features(data, op)[5]
        m = _measurement(spec.name, op, 1.0, summary["rows"], summary["row_width"])
        assert is_narrow(m, 16) and is_narrow(m, 8 if spec.c < 8 else 16), spec.name


def test_a_profile_without_row_figures_says_so_when_a_graph_has_many_narrow_rows(tmp_path: Path) -> None:
    narrow = parse_model(build_model(MicroSpec(MicroOp.PAD, "float32", 128, 128, 1)), "<n>")
    small = parse_model(build_model(MicroSpec(MicroOp.PAD, "float32", 16, 16, 1)), "<s>")  # 324 rows: no note
    wide = parse_model(build_model(MicroSpec(MicroOp.PAD, "float32", 128, 128, 32)), "<w>")
    plain = get_profile("rpi4b")

    def noted(model: object, entry: object) -> list[str]:
        return [n for n in estimate(model, entry, 1).notes if "rows narrower than" in n]  # type: ignore[arg-type]

    note = noted(narrow, plain)
    assert len(note) == 1 and "1 op(s) (PAD) run over 16,900 rows" in note[0] and "edgekit calibrate" in note[0]
    assert noted(small, plain) == [] and noted(wide, plain) == []
    assert noted(narrow, get_profile(_profile_with_rows(tmp_path, 5.0), [tmp_path])) == []


def test_measured_narrow_rows_reach_a_loadable_profile_and_its_estimates() -> None:
    """calibrate's path on this machine, cut short: the PAD specs (wide ones and the narrow ones) measured, fitted,
    written as a profile document, loaded, and charged by the estimator to a narrow PAD."""
    from edgekit.calibrate.machine import detect_machine
    from edgekit.calibrate.narrow import row_tile
    from edgekit.calibrate.pipeline import build_profile_doc
    from edgekit.calibrate.runner import measure_suite
    from edgekit.profile.registry import ProfileEntry, ProfileOrigin
    from edgekit.profile.schema import profile_from_dict

    machine = detect_machine()
    wide = [MicroSpec(MicroOp.PAD, dt, 28, 28, 64) for dt in ("float32", "int8")]
    narrow = [s for s in narrow_specs() if s.op is MicroOp.PAD]
    ms, _ = measure_suite([*wide, *narrow], [1], budget_s=20.0)
    tile = row_tile(machine.simd)
    fit = fit_profile_figures(ms, [], PEAKS, [1], per_op=True, row_tile=tile)
    assert set(fit.row_ns) == {"float32", "int8"} and all("PAD" in t for t in fit.row_ns.values())
    doc = build_profile_doc("rows-box", "rows box", fit, machine, PEAKS, 1.0, 0.0, "test", [1], len(ms))
    profile = profile_from_dict(doc, "<rows-box>")
    from edgekit.calibrate.report import CalibrateReport

    shown = CalibrateReport("rows-box.toml", "rows-box", 1.0, len(ms), doc, (), {}).render()
    line = next(row for row in shown.splitlines() if row.startswith("float32") and "rows PAD " in row)
    # PAD pays per row at every width: its figure is fitted over the wide and the narrow specs together
    assert line.split()[3:] == [f"{fit.row_ns['float32']['PAD']:.3g}", "ns/row", "fitted", "(every", "row,", "with",
                                "its", "per-element", "figure)"]
    assert profile.row_ns is not None and profile.row_ns.channel_tile == tile
    assert profile.row_ns.every_width == ("PAD",)
    assert profile.row_ns.float32 == fit.row_ns["float32"]
    entry = ProfileEntry(profile, ProfileOrigin.CALIBRATED, "<rows-box>")
    model = parse_model(build_model(MicroSpec(MicroOp.PAD, "float32", 160, 160, 1)), "<pad>")
    without = dataclasses.replace(profile, row_ns=None)
    gap = estimate(model, entry, 1).latency_ms - estimate(model, ProfileEntry(without, ProfileOrigin.CALIBRATED,
                                                                               "<x>"), 1).latency_ms
    rows_ms = 162 * 162 * profile.row_ns.float32["PAD"] * 1e-6
    # rows are compute: max(compute + rows, memory) - max(compute, memory), within the op's memory time of rows_ms
    mem = memory_ms(profile, next(c for c in graph_costs(model.main) if c.op == "PAD"), 1)
    assert rows_ms - mem - 1e-9 <= gap <= rows_ms + 1e-9 and gap > 0.5 * rows_ms


def _pad_then_conv(pads: list[list[int]], conv: str = "DEPTHWISE_CONV_2D", padding: str = "VALID",
                   also_output: bool = False) -> bytes:
    """input 1x96x96x1 -> PAD -> a 3x3 conv; ``also_output``: the padded tensor is a graph output too (a second
    reader)."""
    c = 1
    b = TFLiteBuilder("pad then conv")
    x = b.tensor("x", (1, 96, 96, c))
    p = np.array(pads, np.int32)
    padded_shape = tuple(int(d + p[i].sum()) for i, d in enumerate((1, 96, 96, c)))
    y = b.tensor("padded", padded_shape)
    b.operator("PAD", [x, b.constant("pads", p)], [y])
    cin = padded_shape[3]
    w = np.full((1, 3, 3, cin) if conv == "DEPTHWISE_CONV_2D" else (cin, 3, 3, cin), 0.1, np.float32)
    same = padding == "SAME"
    out_hw = (padded_shape[1] if same else padded_shape[1] - 2, padded_shape[2] if same else padded_shape[2] - 2)
    z = b.tensor("z", (1, *out_hw, cin))
    opts: dict = {"padding": padding, "stride_w": 1, "stride_h": 1}
    if conv == "DEPTHWISE_CONV_2D":
        opts["depth_multiplier"] = 1
    b.operator(conv, [y, b.constant("w", w), b.constant("b", np.zeros(cin, np.float32))], [z], opts)
    return b.build([x], [z, y] if also_output else [z])


def test_xnnpack_folds_a_spatial_zero_pad_into_the_valid_convolution_reading_it() -> None:
    from edgekit.profile.delegate import fused_pad, place_xnnpack

    spatial = [[0, 0], [1, 1], [1, 1], [0, 0]]
    cases = {
        "depthwise": (_pad_then_conv(spatial), True),
        "conv": (_pad_then_conv(spatial, conv="CONV_2D"), True),
        "second reader": (_pad_then_conv(spatial, also_output=True), False),
        "channels padded": (_pad_then_conv([[0, 0], [1, 1], [1, 1], [0, 3]], conv="CONV_2D"), False),
        "SAME convolution": (_pad_then_conv(spatial, padding="SAME"), False),
    }
    plain = get_profile("rpi4b")
    for name, (data, fused) in cases.items():
        model = parse_model(data, name)
        sg = model.main
        placement = [p.delegated for p in place_xnnpack(sg)]
        assert fused_pad(sg, sg.operators[0], placement) is fused, name
        pad = estimate(model, plain, 1).ops[0]
        assert (pad.latency_ms == 0.0) is fused and ("folds" in pad.note) is fused, name
        # the rows note counts no folded PAD (98 x 98 rows of 1 channel otherwise)
        note = " ".join(n for n in estimate(model, plain, 1).notes if "rows narrower than" in n)
        assert ("PAD" in note.split("run over")[0]) is (not fused), name


def test_one_channel_to_one_channel_convolutions_carry_a_note() -> None:
    plain = get_profile("rpi4b")

    def noted(c: int, hw: int, cout: int = 1, kernel: int = 3) -> list[str]:
        model = parse_model(build_model(MicroSpec(MicroOp.CONV_2D, "float32", hw, hw, c, cout=cout, kernel=kernel)),
                            "<c>")
        return [n for n in estimate(model, plain, 1).notes if "map 1 channel to 1 channel" in n]

    note = noted(1, 96)
    assert len(note) == 1 and note[0].startswith("1 convolution(s) map 1 channel to 1 channel with under 49 taps "
                                                 "over 9,216 output")
    # 3 input channels; 1,024 pixels; 16 output channels (their pointers are estimated: edgekit.profile.indirection)
    assert noted(3, 96) == [] and noted(1, 32) == [] and noted(1, 96, cout=16) == []
    assert noted(1, 96, kernel=7) == []  # 49 taps ran as estimated
