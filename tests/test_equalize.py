"""Activation equalization through affine chains (edgekit.requant.equalize): the float function is kept, a shared
constant stops a chain instead of rejecting it, the per-channel constants are exact on their int8 grid."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.core.tflite_builder import TFLiteBuilder
from edgekit.requant.check import run_model
from edgekit.requant.equalize import _affine_chains, _int8_roundtrip, equalize_activations
from edgekit.tflite.model import parse_model

pytestmark = [pytest.mark.device]

C = 8


def _hardswish_lab_model(seed: int = 0) -> bytes:
    """conv -> x * (1/6) [shared by two MULs] -> * a -> + b -> PAD -> depthwise conv, and a second branch that
    reads the shared 1/6; channel ranges 1000x apart (a narrow channel with large weights downstream)."""
    rng = np.random.default_rng(seed)
    b = TFLiteBuilder("affine chain")
    x = b.tensor("input", (1, 6, 6, C))
    gain = np.geomspace(0.01, 10.0, C).astype(np.float32)
    w0 = (rng.normal(size=(C, 1, 1, C)) * 0.1).astype(np.float32) + np.diag(gain).reshape(C, 1, 1, C)
    h = b.tensor("h", (1, 6, 6, C))
    b.operator("CONV_2D", [x, b.constant("w0", w0), b.constant("b0", np.zeros(C, np.float32))], [h],
               {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    sixth = b.constant("sixth", np.full((1, 1, 1, 1), 1.0 / 6.0, np.float32))
    m1 = b.tensor("m1", (1, 6, 6, C))
    b.operator("MUL", [h, sixth], [m1])
    m2 = b.tensor("m2", (1, 6, 6, C))
    b.operator("MUL", [m1, b.constant("scale", np.array([1.3], np.float32))], [m2])
    a = b.tensor("a", (1, 6, 6, C))
    b.operator("ADD", [m2, b.constant("bias", np.full((1, 1, 1, 1), -0.2, np.float32))], [a])
    p = b.tensor("p", (1, 8, 8, C))
    b.operator("PAD", [a, b.constant("pads", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))], [p])
    wd = (rng.normal(size=(1, 3, 3, C)) / gain).astype(np.float32)
    y = b.tensor("output", (1, 6, 6, C))
    b.operator("DEPTHWISE_CONV_2D", [p, b.constant("wd", wd), b.constant("bd", np.full(C, 0.1, np.float32))], [y],
               {"padding": "VALID", "stride_w": 1, "stride_h": 1, "depth_multiplier": 1})
    z = b.tensor("other", (1, 6, 6, C))
    b.operator("MUL", [x, sixth], [z])  # the second reader of the shared constant
    return b.build(inputs=[x], outputs=[y, z])


def test_chain_starts_below_a_shared_constant_and_keeps_the_float_function() -> None:
    data = _hardswish_lab_model()
    sg = parse_model(data, "m").main
    chains = _affine_chains(sg)
    assert len(chains) == 1
    conv, chain, pad = chains[0]
    assert conv.name == "DEPTHWISE_CONV_2D" and pad is not None
    assert [op.name for op in chain] == ["MUL", "ADD"]  # the shared 1/6 MUL is above the chain
    feeds = [np.random.default_rng(1).normal(size=(12, 1, 6, 6, C)).astype(np.float32)]
    eq = equalize_activations(data, feeds)
    assert eq != data
    shapes = [(1, 6, 6, C), (1, 6, 6, C)]
    _, before = run_model(data, ["input"], feeds, ["output", "other"], shapes)
    _, after = run_model(eq, ["input"], feeds, ["output", "other"], shapes)
    for ref, got in zip(before, after, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
    new = parse_model(eq, "eq").main
    consts = {t.name: t for t in new.tensors if t.is_constant}
    scale = np.asarray(consts["scale"].data(), np.float64).reshape(-1)
    assert scale.size == C and float(scale.max() / scale.min()) > 4  # per channel now: the ranges were evened
    np.testing.assert_allclose(_int8_roundtrip(scale), scale, rtol=1e-6)  # exact on its own int8 grid
    assert float(np.asarray(consts["sixth"].data()).reshape(-1)[0]) == pytest.approx(1 / 6)  # shared: untouched
