"""One-row float GEMMs (edgekit.calibrate.gemv): their weights stream at the rate of the output-channel tile that
pads them least; on the x86 host 128-wide layers ran ~1.5x the rate of 1000-wide heads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.calibrate.gemv import GemvFigures, faster, fit_gemv, measure_gemv
from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.errors import ProfileError
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.profile.schema_cpu import Gemm
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def test_two_rates_when_the_tiles_differ_one_when_they_agree() -> None:
    assert fit_gemv({16: 63.0, 32: 86.0}) == GemvFigures((16, 32), (63.0, 86.0))
    assert fit_gemv({16: 80.0, 32: 86.0}) == GemvFigures((32,), (83.0,))
    assert fit_gemv({16: 0.0, 32: 86.0}) is None
    with pytest.raises(ValueError, match="one GEMV rate per tile"):
        GemvFigures((16, 32), (60.0,))


def test_calibrate_keeps_the_faster_of_its_two_measurements() -> None:
    """measured at calibrate's start and end: a slow spell (one calibration of four ran both probes 15% slow here)
    or a burst that merged the two rates loses to the other measurement"""
    slow, fast = GemvFigures((16, 32), (57.0, 74.0)), GemvFigures((16, 32), (67.0, 72.0))
    assert faster(slow, fast) == GemvFigures((16, 32), (67.0, 74.0))  # per tile
    merged = GemvFigures((32,), (80.0,))
    assert faster(merged, slow) == slow and faster(slow, merged) == slow
    assert faster(None, slow) == slow and faster(slow, None) == slow and faster(None, None) is None


def test_the_tile_that_pads_least_sets_the_rate() -> None:
    gemm = Gemm(float32_gemv_tiles=(16, 32), float32_gemv_gb_per_s=(63.0, 86.0))
    # measured fast on the host: 64, 128, 160, 992, 1016, 1020, 1024; slow: 48, 72, 136, 144, 1000, 1008, 1100
    assert {n: gemm.gemv_gb_per_s(n) for n in (64, 128, 160, 992, 1016, 1020, 1024)} == dict.fromkeys(
        (64, 128, 160, 992, 1016, 1020, 1024), 86.0)
    assert {n: gemm.gemv_gb_per_s(n) for n in (48, 72, 136, 144, 1000, 1008, 1100)} == dict.fromkeys(
        (48, 72, 136, 144, 1000, 1008, 1100), 63.0)
    assert Gemm().gemv_gb_per_s(128) is None
    with pytest.raises(ProfileError, match="one rate per tile"):
        Gemm(float32_gemv_tiles=(16, 32), float32_gemv_gb_per_s=(63.0,))
    with pytest.raises(ProfileError, match="ascend"):
        Gemm(float32_gemv_tiles=(32, 16), float32_gemv_gb_per_s=(86.0, 63.0))


def _fc(cin: int, cout: int, rows: int = 1) -> bytes:
    b = TFLiteBuilder("fc")
    rng = np.random.default_rng(0)
    x = b.tensor("x", (rows, cin), "float32")
    w = b.constant("w", rng.normal(0, 0.05, (cout, cin)).astype(np.float32))
    bias = b.constant("b", np.zeros(cout, np.float32))
    y = b.tensor("y", (rows, cout), "float32")
    b.operator("FULLY_CONNECTED", [x, w, bias], [y])
    return b.build([x], [y])


def test_a_one_row_float_fc_costs_its_weights_at_its_tiles_rate() -> None:
    entry = get_profile("rpi4b")
    gemm = Gemm(float32_tile_n=16, float32_gemv_tiles=(16, 32), float32_gemv_gb_per_s=(50.0, 100.0))
    # memory far faster than the stream, so that the stream rate is what shows
    profile = dataclasses.replace(entry.profile, gemm=gemm, memory=None,
                                  hardware=dataclasses.replace(entry.profile.hardware, memory_bandwidth_gb_per_s=1e4),
                                  runtime=dataclasses.replace(entry.profile.runtime, per_op_overhead_us=0.0))
    with_rates = dataclasses.replace(entry, profile=profile)

    def fc_ms(cin: int, cout: int, rows: int = 1) -> float:
        est = estimate(parse_model(_fc(cin, cout, rows), "<fc>"), with_rates, threads=1)
        [op] = [o for o in est.ops if o.op == "FULLY_CONNECTED"]
        return op.latency_ms

    weights = 3264 * 128 * 4 + 128 * 4
    assert fc_ms(3264, 128) == pytest.approx(1000 * weights / 100e9, rel=1e-3)  # 32-wide tile
    assert fc_ms(3264, 144) == pytest.approx(1000 * (3264 * 144 * 4 + 144 * 4) / 50e9, rel=1e-3)  # 16-wide
    # two rows and more: the GEMM's work figures as before, not the stream rate
    no_rates = dataclasses.replace(entry, profile=dataclasses.replace(profile, gemm=Gemm(float32_tile_n=16)))
    two = estimate(parse_model(_fc(3264, 128, 2), "<fc2>"), with_rates)
    two_plain = estimate(parse_model(_fc(3264, 128, 2), "<fc2>"), no_rates)
    assert [o.latency_ms for o in two.ops] == [o.latency_ms for o in two_plain.ops]


def test_calibrate_measures_the_probes_here() -> None:
    """On whatever runs the tests (the x86 host: 16 and 32 apart; the emulated Pi: ~0.4 GB/s, one rate)."""
    from edgekit.calibrate.gemv import SAME_RATE

    figures = measure_gemv(rounds=2, target_s=0.01)
    assert figures is not None
    assert set(figures.tiles) <= {16, 32} and all(0.0 < g < 1e4 for g in figures.gb_per_s)
    if len(figures.tiles) == 2:  # two rates only when they are apart
        assert max(figures.gb_per_s) / min(figures.gb_per_s) >= SAME_RATE


def test_the_calibrate_table_shows_the_stream_rates() -> None:
    import tomllib
    from importlib import resources

    from edgekit.calibrate.report import CalibrateReport

    doc = tomllib.loads(resources.files("edgekit.device_profiles").joinpath("rpi4b.toml").read_text())
    doc["fit"] = {"method": "test", "date": "2026-01-01", "machine": "here", "samples": 4,
                  "rms_relative_error": 0.1, "max_relative_error": 0.2, "residuals": {}}
    doc["gemm"] = {**(doc.get("gemm") or {}), **GemvFigures((16, 32), (63.04, 86.0)).to_doc()}
    text = CalibrateReport("p.toml", "box", 1.0, 4, doc, (), {}).render()
    rows = [line.split()[:7] for line in text.splitlines() if "one-row GEMM" in line]
    assert rows == [["float32", "one-row", "GEMM,", "16-wide", "tile", "63", "GB/s"],
                    ["float32", "one-row", "GEMM,", "32-wide", "tile", "86", "GB/s"]]
