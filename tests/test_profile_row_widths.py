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
from edgekit.core.tflite_builder import TFLiteBuilder
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

