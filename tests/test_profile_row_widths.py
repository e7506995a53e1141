"""Rows at every width (edgekit.calibrate.narrow, edgekit.profile.rows): XNNPACK's PAD and broadcast binary ops pay
a fixed cost per kernel call whatever the row's length (a 64x64x24 -> 28 channel pad: 49 us, 12 ns per pixel row;
PRELU 0.18 ns per element over 16 channels, 0.08 over 128), so calibrate splits their time into a per-element and a
per-row figure over all their widths, and the estimator charges those ops every row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.calibrate.fit import Peaks, fit_profile_figures
from edgekit.calibrate.narrow import fit_every_width_rows, strip_rows
from edgekit.calibrate.runner import Measurement
from edgekit.core.tflite_builder import Quant, TFLiteBuilder
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import ProfileEntry, get_profile
from edgekit.profile.rows import charged_rows
from edgekit.profile.schema import RowCost
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device

PEAKS = Peaks(fp32_gmacs=50.0, int8_gmacs=200.0, bandwidth_gb_s=1e4)
OVERHEAD_MS = 0.0003
PER_ELEMENT_MS, PER_ROW_MS = 3e-8, 1e-5  # 0.03 ns per element, 10 ns per row


def _pad(name: str, elements: int, rows: int, dtype: str = "float32", noise: float = 0.0) -> Measurement:
    ms = (OVERHEAD_MS + elements * PER_ELEMENT_MS + rows * PER_ROW_MS) * (1 + noise)
    return Measurement(name=name, op="PAD", op_class="data_movement", dtype=dtype, threads=1, xnnpack=True,
                       delegated=True, model_delegated=True, partitions=1, repeat=1, median_ms=ms, min_ms=ms,
                       per_op_ms=ms, macs=elements, bytes=8 * elements, weight_bytes=0, rows=rows,
                       row_width=elements // rows)


SHAPES = [(107_648, 3_364), (831_744, 12_996), (57_600, 900), (26_244, 26_244), (76_832, 9_604)]  # calibrate's PADs


def test_the_split_recovers_both_figures() -> None:
    ms = [_pad(f"p{i}", e, r, dt) for i, (e, r) in enumerate(SHAPES) for dt in ("float32", "int8")]
    figures = fit_every_width_rows(ms, OVERHEAD_MS)
    assert figures["float32"]["PAD"] == pytest.approx(10.0, rel=1e-3)
    assert figures["int8"]["PAD"] == pytest.approx(10.0, rel=1e-3)
    # what is left for the per-element figure is the elements' time (and the op's fixed cost)
    for m, left in zip(ms, strip_rows(ms, figures), strict=True):
        assert left.per_op_ms == pytest.approx(OVERHEAD_MS + m.macs * PER_ELEMENT_MS, rel=1e-3)


def test_one_width_or_no_row_term_leaves_the_narrow_rule() -> None:
    one_width = [_pad(f"p{i}", 64 * r, r) for i, r in enumerate((900, 3364, 12996))]
    assert fit_every_width_rows(one_width, OVERHEAD_MS) == {}
    # rows that cost nothing: no row term
    flat = [dataclasses.replace(m, per_op_ms=OVERHEAD_MS + m.macs * PER_ELEMENT_MS) for m in
            (_pad(f"p{i}", e, r) for i, (e, r) in enumerate(SHAPES))]
    assert fit_every_width_rows(flat, OVERHEAD_MS) == {}


def test_rows_alone_when_the_elements_come_out_negative() -> None:
    ms = [dataclasses.replace(m, per_op_ms=OVERHEAD_MS + m.rows * PER_ROW_MS * (0.9 if m.row_width > 16 else 1.0))
          for m in (_pad(f"p{i}", e, r) for i, (e, r) in enumerate(SHAPES))]
    figures = fit_every_width_rows(ms, OVERHEAD_MS)
    assert 8.0 < figures["float32"]["PAD"] < 10.0


def test_calibrate_writes_the_figure_and_its_width_rule() -> None:
    ms = [_pad(f"p{i}", e, r, dt) for i, (e, r) in enumerate(SHAPES) for dt in ("float32", "int8")]
    fit = fit_profile_figures(ms, [], PEAKS, [1], per_op=True, per_op_overhead_ms=OVERHEAD_MS, row_tile=16)
    assert fit.every_width == ("PAD",) and fit.row_tile == 16
    assert fit.row_ns["float32"]["PAD"] == pytest.approx(10.0, rel=1e-3)
    # the narrow PADs (1 and 8 channels) took part in the split, not in the narrow-row median; every benchmark is
    # then predicted from the two figures
    assert all(abs(r) < 0.02 for name, r in fit.residuals.items() if name.startswith("p"))


def _prelu_bytes(h: int, c: int) -> bytes:
    b = TFLiteBuilder("prelu")
    x = b.tensor("x", (1, h, h, c))
    y = b.tensor("y", (1, h, h, c))
    b.operator("PRELU", [x, b.constant("a", np.full((1, 1, c), 0.1, np.float32))], [y])
    return b.build([x], [y])


def test_the_estimator_charges_every_row_of_such_ops() -> None:
    sg = parse_model(_prelu_bytes(48, 32), "<prelu>").main  # rows of 32: wider than the tile
    op = sg.operators[0]
    narrow_only, every = RowCost(channel_tile=16), RowCost(channel_tile=16, every_width=("MUL",))
    assert charged_rows(narrow_only, sg, op, delegated=True) == 0
    assert charged_rows(every, sg, op, delegated=True) == 48 * 48  # PRELU: the MUL family's figure
    assert charged_rows(every, sg, op, delegated=False) == 0  # LiteRT's builtin kernel: narrow rows only
    entry = get_profile("rpi4b")
    base = dataclasses.replace(entry.profile, memory=None,  # compute-bound: the rows' time shows in full
                               hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4))

    def ms(cost: RowCost) -> float:
        model = parse_model(_prelu_bytes(48, 32), "<prelu>")
        profile = dataclasses.replace(base, row_ns=cost)
        return estimate(model, ProfileEntry(profile, entry.origin, entry.file), 1).latency_ms

    with_rows = dataclasses.replace(every, float32={"MUL": 2.0})
    assert ms(with_rows) - ms(every) == pytest.approx(48 * 48 * 2.0e-6, rel=1e-6)
    assert ms(dataclasses.replace(narrow_only, float32={"MUL": 2.0})) == pytest.approx(ms(narrow_only))



def _concat_builtin(name: str, elements: int, rows: int, dtype: str, xnnpack: bool) -> Measurement:
    """A CONCATENATION LiteRT's builtin kernel ran (the delegate off: ``xnnpack`` False; or carried as its
    ``CONCATENATION_BUILTIN`` key, as the fit does for the builtin per-op figures)."""
    return dataclasses.replace(_pad(name, elements, rows, dtype), op="CONCATENATION", xnnpack=xnnpack, delegated=xnnpack,
                               op_key="" if not xnnpack else "CONCATENATION_BUILTIN")


def test_builtin_concatenations_get_a_row_figure_at_every_width() -> None:
    """LiteRT's builtin concatenation copies each input row with its own memcpy at every width (int8 SPLIT_V of
    [1, R, 1, 64] into halves: 0.13 us at R = 1, 0.37 at 32, 5.7 at 784): its narrow and wide runs with the delegate
    off are split into a per-row and a per-element figure, the XNNPACK ones are not."""
    shapes = [(51_200, 51_200), (147_456, 18_432), (100_352, 1_568), (50_176, 392)]  # calibrate's, C = 1, 8, 64, 128
    ms = [_concat_builtin(f"c{i}", e, r, dt, False) for i, (e, r) in enumerate(shapes) for dt in ("float32", "int8")]
    figures = fit_every_width_rows(ms, OVERHEAD_MS)
    assert figures["float32"]["CONCATENATION_BUILTIN"] == pytest.approx(10.0, rel=1e-3)
    carried = [dataclasses.replace(m, xnnpack=True, delegated=True, op_key="CONCATENATION_BUILTIN") for m in ms]
    for m, left in zip(carried, strip_rows(carried, figures), strict=True):
        assert left.per_op_ms == pytest.approx(OVERHEAD_MS + m.macs * PER_ELEMENT_MS, rel=1e-3)
    on_xnnpack = [dataclasses.replace(m, xnnpack=True, delegated=True) for m in ms]
    assert fit_every_width_rows(on_xnnpack, OVERHEAD_MS) == {}
    fit = fit_profile_figures([*on_xnnpack, *ms], [], PEAKS, [1], per_op=True, per_op_overhead_ms=OVERHEAD_MS,
                              row_tile=16)
    assert fit.every_width == ("CONCATENATION_BUILTIN",)
    assert fit.row_ns["int8"]["CONCATENATION_BUILTIN"] == pytest.approx(10.0, rel=1e-3)


def _split_v(rows: int, width: int, pieces: int = 2) -> bytes:
    """An int8 SPLIT_V (XNNPACK refuses it: LiteRT's builtin kernel runs it)."""
    b = TFLiteBuilder("split_v", default_quant=Quant.per_tensor(0.05, 0))
    x = b.tensor("x", (1, rows, 1, width), "int8")
    outs = [b.tensor(f"y{j}", (1, rows, 1, width // pieces), "int8") for j in range(pieces)]
    b.operator("SPLIT_V", [x, b.constant("sizes", np.full(pieces, width // pieces, np.int32), quant=None),
                           b.constant("axis", np.array(-1, np.int32), quant=None)], outs, {"numSplits": pieces},
               options_type="SplitVOptions")
    return b.build([x], outs)


def test_a_builtin_split_is_charged_a_row_per_output_per_outer_position() -> None:
    """microWakeWord's int8 SPLIT_Vs (XNNPACK refuses them) of [1, 9..15, 1, 64] into two halves: 18-30 row copies,
    ~0.1 us beyond the per-element figure each; they take the concatenation's figure."""
    sg = parse_model(_split_v(13, 64), "<split_v>").main
    op = sg.operators[0]
    every = RowCost(channel_tile=16, every_width=("CONCATENATION_BUILTIN",))
    assert charged_rows(every, sg, op, delegated=False) == 26
    assert charged_rows(RowCost(channel_tile=16), sg, op, delegated=False) == 0  # 32 wide: not narrow
    assert charged_rows(RowCost(channel_tile=64), sg, op, delegated=False) == 26  # narrower than that tile
    four = parse_model(_split_v(13, 64, 4), "<4>").main
    assert charged_rows(every, four, four.operators[0], delegated=False) == 52
    entry = get_profile("rpi4b")
    base = dataclasses.replace(entry.profile, memory=None,  # compute-bound: the rows' time shows in full
                               hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4))

    def ms(cost: RowCost) -> float:
        profile = dataclasses.replace(base, row_ns=cost)
        return estimate(parse_model(_split_v(13, 64), "<s>"), ProfileEntry(profile, entry.origin, entry.file), 1).latency_ms

    assert ms(dataclasses.replace(every, int8={"CONCATENATION_BUILTIN": 8.0})) - ms(
        dataclasses.replace(every, int8={"CONCATENATION_BUILTIN": 4.0})) == pytest.approx(26 * 4.0e-6, rel=1e-6)
    assert ms(dataclasses.replace(every, int8={"CONCATENATION_BUILTIN": 4.0})) > ms(every)


def test_this_machines_builtin_concatenations_pay_per_row_at_every_width() -> None:
    """Measured here, as calibrate measures them: LiteRT's builtin int8 concatenation over rows of 1, 8 and 64
    channels splits into a per-row figure of a few ns (a memcpy call per row) on top of the per-element one."""
    from edgekit.calibrate.microbench import MicroOp, MicroSpec
    from edgekit.calibrate.runner import measure_suite

    specs = [MicroSpec(MicroOp.CONCATENATION, "int8", h=hw, w=hw, c=c) for c, hw in ((1, 160), (8, 96), (64, 28))]
    ms, overhead_us = measure_suite(specs, [1], budget_s=6.0)
    builtin = [m for m in ms if not m.xnnpack]
    assert len(builtin) == 3 and all(not m.delegated and m.rows for m in builtin)
    figures = fit_every_width_rows(ms, overhead_us["builtin"] / 1e3)
    assert set(figures["int8"]) == {"CONCATENATION_BUILTIN"}  # XNNPACK's concatenation: no such figure
    assert 0.5 < figures["int8"]["CONCATENATION_BUILTIN"] < 50.0
