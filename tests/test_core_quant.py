"""The neutral core's quantization vocabulary: the mode table and the one quantize/dequantize."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.core.quant import (
    KIND_LIMITS,
    MODE_SPECS,
    IOType,
    QuantizeMode,
    QuantKind,
    dequantize,
    quantize,
)
from edgekit.errors import UsageError


@pytest.mark.device
def test_quantize_rounds_half_away_from_zero_like_tflite() -> None:
    """TFLite's QUANTIZE kernel rounds with std::round; numpy's np.round rounds half to even."""
    scale = 0.5
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, -1.25], np.float32)  # exactly k + 0.5 steps
    q = quantize(x, "int8", scale, 0)
    assert q.tolist() == [1, 2, 3, -1, -2, -3]
    assert np.round(x / scale).astype(int).tolist() == [0, 2, 2, 0, -2, -2]  # what the old check computed
    assert quantize(np.array([1000.0, -1000.0]), "int8", scale, 0).tolist() == [127, -128]
    assert quantize(np.array([0.0, 1.0]), "uint8", 1 / 255, 0).tolist() == [0, 255]
    assert quantize(np.array([0.25]), "int16", 0.5, 10).tolist() == [11]
    assert quantize(np.array([3, 4], np.int64), "int32", None).tolist() == [3, 4]  # ids stay ids
    assert quantize(np.array([1, 2]), "float32", 0.5).dtype == np.float32


@pytest.mark.device
def test_dequantize_inverts_and_passes_floats_through() -> None:
    q = np.array([-3, 0, 5], np.int8)
    assert dequantize(q, 0.5, -3).tolist() == [0.0, 1.5, 4.0]
    assert dequantize(np.array([1.5], np.float16), 0.5).dtype == np.float32
    assert dequantize(np.array([7], np.int32), None).dtype == np.int32


@pytest.mark.device
def test_every_mode_has_a_complete_row() -> None:
    assert set(MODE_SPECS) == set(QuantizeMode)
    for mode, spec in MODE_SPECS.items():
        assert spec.mode is mode and mode.spec is spec
        assert spec.default_io in spec.allowed_io
        assert spec.needs_calibration == spec.converter.representative_dataset
        assert spec.fallback is None or spec.fallback in MODE_SPECS
        assert spec.kind in KIND_LIMITS
    # each mode's fallback chain ends (no loop), and the kinds the modes make are distinct
    for mode in QuantizeMode:
        seen = set()
        while mode is not None:
            assert mode not in seen
            seen.add(mode)
            mode = MODE_SPECS[mode].fallback  # type: ignore[assignment]
    assert len({s.kind for s in MODE_SPECS.values()}) == len(MODE_SPECS)
    assert set(KIND_LIMITS) == set(QuantKind)
    assert QuantizeMode.INT8.needs_calibration and not QuantizeMode.DYNAMIC.needs_calibration
    assert MODE_SPECS[QuantizeMode.INT8].allowed_io == (IOType.INT8, IOType.UINT8, IOType.FLOAT32)


@pytest.mark.device
def test_config_reads_the_table() -> None:
    """ConvertConfig's checks come from the mode rows: --io-type, --keep-float and --per-tensor."""
    from edgekit.host.convert.config import ConvertConfig

    ok = ConvertConfig(model=Path("m.keras"), output=Path("m.tflite"), quantize="int16x8")  # type: ignore[arg-type]
    assert ok.resolved_io_type is IOType.INT16
    with pytest.raises(UsageError, match="does not go with --quantize dynamic"):
        ConvertConfig(model=Path("m.keras"), output=Path("m.tflite"), quantize="dynamic", io_type="int8")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--keep-float needs --quantize int8"):
        ConvertConfig(model=Path("m.keras"), output=Path("m.tflite"), quantize="float16", keep_float=("x",))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--per-tensor has no effect"):
        ConvertConfig(model=Path("m.keras"), output=Path("m.tflite"), quantize="none", per_tensor=True)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--quantize 'int4' is not known") as exc:
        ConvertConfig(model=Path("m.keras"), output=Path("m.tflite"), quantize="int4")  # type: ignore[arg-type]
    assert exc.value.hint == "Use one of: int8, int16x8, dynamic, float16, none."


@pytest.mark.convert
def test_convert_check_and_verify_quantize_the_same_way(sample_int8: Path) -> None:
    """Inputs on a .5 boundary: convert's golden check and verify's runner feed the same integers.

    Verify's outputs are given to convert's check as the reference; the check must then see no error at all.
    With the old half-to-even rounding in the check, boundary inputs moved by one step and it did.
    """
    from edgekit.core.source import TensorSpec
    from edgekit.host.convert.validate import IOEntry, _golden_check
    from edgekit.tflite.model import load_model
    from edgekit.verify.tflite_runner import TFLiteRunner

    model = load_model(sample_int8)
    tin, tout = model.inputs[0], model.outputs[0]
    assert tin.quant is not None
    rng = np.random.default_rng(0)
    steps = rng.integers(-60, 60, size=(4, *tin.shape)) + 0.5  # half-way between two integers
    x = steps * tin.quant.scale
    on_boundary = np.abs(x / tin.quant.scale) % 1 == 0.5
    even_below = np.floor(np.abs(x / tin.quant.scale)) % 2 == 0
    assert np.count_nonzero(on_boundary & even_below) > 100  # where half-to-even and half-away disagree
    runner = TFLiteRunner(sample_int8)
    verify_out = runner.run([tin], [x], [tout])[0]
    spec_in = TensorSpec(tin.name, tuple(tin.shape), "float32")
    spec_out = TensorSpec(tout.name, tuple(tout.shape), "float32")
    rows = _golden_check(sample_int8.read_bytes(), [IOEntry(spec_in, tin, None)], [IOEntry(spec_out, tout, None)],
                         {tin.name: x}, {tout.name: verify_out})
    assert rows[0]["max_abs_error"] == 0.0
