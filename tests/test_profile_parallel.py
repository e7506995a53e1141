"""Thread hand-over (issue 14): past one thread XNNPACK hands every op of more than one tile to its workers and
waits, ~0.3-0.4 us an op on this project's VM; ops of one tile run inline. Which ops split, the estimator's term,
and calibrate's measurement of both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from profile_helpers import rpi4b_variant

from edgekit.calibrate.blocks import LayerNet, build_conv_chain
from edgekit.calibrate.parallel import add_chain, excess_us, last_inline, measure_parallel
from edgekit.profile.estimator import estimate
from edgekit.profile.parallel import dispatch_ms, splits
from edgekit.profile.registry import get_profile
from edgekit.profile.schema import Parallel
from edgekit.tflite.model import parse_model

PARALLEL = Parallel((0.0, 0.3, 0.5), 7, 16, 16, 16384)


def _op(data: bytes) -> tuple[object, object]:
    sg = parse_model(data, "<m>").main
    return sg, sg.operators[0]


def _dw(rows: int) -> bytes:
    net = LayerNet("int8", (1, rows, 8, 32), 0, "dw")
    return net.finish(net.conv(net.inp, 0, 3, depthwise=True, act="NONE"))


@pytest.mark.device
@pytest.mark.parametrize(("data", "dtype", "split"), [
    (build_conv_chain("float32", 1, 7, 8, 1), "float32", False),  # one tile of 7 rows
    (build_conv_chain("float32", 1, 8, 8, 1), "float32", True),
    (build_conv_chain("int8", 1, 1, 16, 1), "int8", False),
    (build_conv_chain("int8", 1, 1, 24, 1), "int8", True),  # more channels than one tile
    (_dw(1), "int8", False),  # a depthwise of one output row
    (_dw(2), "int8", True),
    (add_chain("float32", 4096, 1), "float32", False),  # 16 KiB
    (add_chain("float32", 8192, 1), "float32", True),
    (add_chain("int8", 16384, 1), "int8", False),
    (add_chain("int8", 32768, 1), "int8", True),
])
def test_which_ops_xnnpack_splits_over_its_threads(data: bytes, dtype: str, split: bool) -> None:
    sg, op = _op(data)
    assert splits(PARALLEL, sg, op, dtype) is split  # type: ignore[arg-type]


@pytest.mark.device
def test_the_hand_over_is_per_thread_count_and_nothing_at_one_thread() -> None:
    assert dispatch_ms(PARALLEL, 1) == 0.0
    assert dispatch_ms(PARALLEL, 2) == pytest.approx(0.0003)
    assert dispatch_ms(PARALLEL, 8) == pytest.approx(0.0005)  # past the last figure: the last
    assert dispatch_ms(None, 2) == 0.0


@pytest.mark.device
def test_the_estimator_charges_the_hand_over_of_split_ops_only(tmp_path: Path) -> None:
    section = ("\n[parallel]\ndispatch_us = [0.0, 0.3, 0.3, 0.3]\ngemm_rows = 7\nfloat32_gemm_channels = 16\n"
               "int8_gemm_channels = 16\nsplit_bytes = 16384\n")
    with_it = get_profile(rpi4b_variant(tmp_path, "par", section), [tmp_path])
    without = get_profile(rpi4b_variant(tmp_path, "plain"), [tmp_path])
    split, inline = parse_model(build_conv_chain("float32", 1, 16, 8, 10), "<s>"), parse_model(build_conv_chain("float32", 1, 4, 8, 10), "<i>")
    assert estimate(split, with_it, 2).latency_ms - estimate(split, without, 2).latency_ms == pytest.approx(10 * 0.0003)
    assert estimate(split, with_it, 1).latency_ms == pytest.approx(estimate(split, without, 1).latency_ms)
    assert estimate(inline, with_it, 2).latency_ms == pytest.approx(estimate(inline, without, 2).latency_ms)


@pytest.mark.device
def test_the_last_inline_size_is_the_one_before_the_first_split() -> None:
    assert last_inline((1, 2, 4, 8, 16), lambda s: s > 4) == 4
    assert last_inline((4, 8), lambda s: True) == 3
    assert last_inline((4, 8), lambda s: False) == 8
    assert measure_parallel(1) is None  # one thread: nothing to split


def test_a_split_op_pays_a_hand_over_an_inline_one_does_not() -> None:
    """The measured fact behind the term, on this runtime: at 2 threads a 64-row 1x1 conv pays ~0.3-0.4 us beyond
    half its one-thread time, a 4-row one (one tile) runs inline (~0.02 us): the bound is loose."""
    split = excess_us(lambda n: build_conv_chain("float32", 1, 64, 8, n), 2, 0.05)
    inline = excess_us(lambda n: build_conv_chain("float32", 1, 4, 8, n), 2, 0.05)
    assert split > 2 * max(inline, 0.0) + 0.05, (split, inline)
    assert np.isfinite(split)
