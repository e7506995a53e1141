"""Edge TPU mapping: an unsupported op in the middle, a float model, a dynamic shape, cache vs streaming."""

from __future__ import annotations

import numpy as np
import pytest
from profile_helpers import conv_chain_model, profile_builder

from edgekit.profile.edgetpu import FIX_FLAGS, map_edgetpu
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

pytestmark = pytest.mark.device


def test_full_int8_chain_maps_entirely() -> None:
    m = parse_model(conv_chain_model("int8"), "chain")
    mapping = map_edgetpu(m, parameter_cache_bytes=8 << 20)
    assert mapping.mapped_ops == 4 and mapping.cpu_ops == 0 and mapping.first_unmapped is None
    # conv 8x3x3x3 + bias 8*4, dw 3x3x8 + 8*4, reshape shape 2*4, fc 4x512 + 4*4
    assert mapping.cached_parameter_bytes == (216 + 32) + (72 + 32) + 8 + (2048 + 16)
    assert mapping.streamed_parameter_bytes == 0


def test_unsupported_op_in_the_middle_sends_the_rest_to_the_cpu() -> None:
    m = parse_model(conv_chain_model("int8", middle_op="EXP"), "exp")
    mapping = map_edgetpu(m, parameter_cache_bytes=8 << 20)
    first = mapping.first_unmapped
    assert first is not None and first.index == 1 and first.op == "EXP"
    assert "not supported by the Edge TPU" in first.reason
    assert mapping.mapped == (True, False, False, False, False)
    assert mapping.cached_parameter_bytes == 216 + 32  # only the conv's parameters go to the TPU
    est = estimate(m, get_profile("coral-usb-rpi4"))
    assert est.edgetpu is not None
    assert est.edgetpu.to_dict()["first_unmapped_op"] == {"index": 1, "op": "EXP", "reason": first.reason}
    assert est.edgetpu.mapped_ops == 1 and est.edgetpu.cpu_ops == 4
    runs_on = {o.index: o.runs_on for o in est.ops}
    assert runs_on[0] == "edgetpu" and runs_on[1].startswith("cpu") and runs_on[4].startswith("cpu")
    total = est.edgetpu.tpu_ms + est.edgetpu.link_ms + est.edgetpu.cpu_ms
    assert est.latency_ms == pytest.approx(total, abs=0.01)


def test_float_model_runs_none_of_it_and_says_which_flags_fix_it() -> None:
    m = parse_model(conv_chain_model("float32"), "float")
    mapping = map_edgetpu(m, parameter_cache_bytes=8 << 20)
    assert mapping.mapped_ops == 0 and not mapping.integer_model
    assert "runs none of this float32 model" in mapping.note and FIX_FLAGS in mapping.note
    assert "--quantize int8 --io-type uint8" in mapping.note
    assert mapping.first_unmapped is not None and mapping.first_unmapped.index == 0
    assert "not full-integer" in mapping.first_unmapped.reason
    est = estimate(m, get_profile("coral-devboard"))
    assert est.edgetpu is not None and est.edgetpu.mapped_ops == 0 and est.edgetpu.tpu_ms == 0
    assert all(o.runs_on.startswith("cpu") for o in est.ops)
    assert est.latency_ms > 0


def _dynamic_model(signature: tuple[int, ...]) -> bytes:
    b = profile_builder()
    x = b.tensor("x", (1, 8, 8, 3), "int8", shape_signature=signature)
    w = b.constant("w", np.ones((4, 1, 1, 3), np.int8))
    bias = b.constant("bias", np.zeros((4,), np.int32))
    y = b.tensor("y", (1, 8, 8, 4), "int8", shape_signature=signature[:3] + (4,))
    b.operator("CONV_2D", [x, w, bias], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    return b.build([x], [y])


def test_dynamic_shape_does_not_map_but_a_dynamic_batch_does() -> None:
    m = parse_model(_dynamic_model((1, -1, -1, 3)), "dyn")
    mapping = map_edgetpu(m, parameter_cache_bytes=8 << 20)
    assert mapping.first_unmapped is not None and "dynamic shape" in mapping.first_unmapped.reason
    assert mapping.mapped_ops == 0
    batch = parse_model(_dynamic_model((-1, 8, 8, 3)), "batch")
    assert map_edgetpu(batch, parameter_cache_bytes=8 << 20).mapped_ops == 1


def test_parameters_beyond_the_cache_are_streamed() -> None:
    m = parse_model(conv_chain_model("int8"), "chain")
    mapping = map_edgetpu(m, parameter_cache_bytes=1000)
    # tensors fill the cache in op order; the FC weights (2048) do not fit, its bias (16) still does
    assert mapping.cached_parameter_bytes == 248 + 104 + 8 + 16
    assert mapping.streamed_parameter_bytes == 2048
