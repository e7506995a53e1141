"""The IGEMM tile (issue 14): a float32 convolution of more than one tap runs kernels 32 output channels wide on
AVX-512 above 16 channels; openWakeWord's embedding (3x1 / 1x3 convolutions of 48 and 72 channels) was estimated
-15% until the profile said so (-3% with it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_helpers import rpi4b_variant

from edgekit.calibrate.microbench import MicroOp, MicroSpec, build_model
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

GEMM = "\n[gemm]\nfloat32_tile_n = 16\nfloat32_tile_k = 1\nfloat32_output_overhead_macs = 0.0\n"


@pytest.mark.device
def test_a_spatial_conv_pays_for_the_igemm_tile_and_a_1x1_does_not(tmp_path: Path) -> None:
    plain = get_profile(rpi4b_variant(tmp_path, "plain", GEMM), [tmp_path])
    wide = get_profile(rpi4b_variant(tmp_path, "wide", GEMM + "float32_igemm_tile_n = 32\n"), [tmp_path])

    def op_ms(entry: object, kernel: int, cout: int) -> float:
        data = build_model(MicroSpec(MicroOp.CONV_2D, "float32", 28, 28, 64, cout=cout, kernel=kernel))
        return estimate(parse_model(data, "<c>"), entry, 1).ops[0].latency_ms  # type: ignore[arg-type]

    assert op_ms(wide, 3, 48) / op_ms(plain, 3, 48) == pytest.approx(64 / 48, rel=0.02)
    assert op_ms(wide, 3, 64) == pytest.approx(op_ms(plain, 3, 64))
    assert op_ms(wide, 1, 48) == pytest.approx(op_ms(plain, 1, 48))
