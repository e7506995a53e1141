"""Dynamic-range convolutions with uint8 weights (TF1's post-training format): a note where no figure holds them.

TensorFlow 1's ``post_training_quantize`` stored a float model's convolution weights as uint8 (one scale per
tensor) with float activations. XNNPACK refuses uint8 weights, so LiteRT runs them on its builtin per-tensor
kernel, another path than the per-channel one for int8 weights (``CONV_2D_HYBRID_BUILTIN``): on this project's
AVX-512 host, one thread, the same 1x1 convolution 50x50x144 -> 24 ran in 1.33 ms with uint8 (or per-tensor
int8) weights, 0.38 ms with per-channel int8 ones on the builtin kernel and 0.20 ms on XNNPACK. ``edgekit
calibrate`` times that kernel (``CONV_2D_UINT8_HYBRID_BUILTIN``, :mod:`edgekit.profile.opfigures`); facex's
emotion model (32 such convolutions, 8.9 ms of its 12.2 measured at one thread) was estimated 7.3 ms in all
without it. The kernel pays mostly per float input element, not per MAC: 50x50x144 -> 24 in 1.32 ms, 50x50x24 ->
144 (the same MACs) in 0.43 ms, ~3.3 ns per input element against ~0.8 per output element (19 shapes), so
calibrate also fits ``[gemm] uint8_hybrid_input_macs`` / ``uint8_hybrid_output_macs`` on its five uint8
benchmarks (one of them a projection, many channels to few); without them facex's projections were estimated at
half their time and its expansions 30% over. A profile without the figure (every shipped one) estimates them at
the int8-weight figure, and the estimate says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.profile.costs import hybrid_op
from edgekit.profile.opfigures import UINT8_HYBRID_CONV
from edgekit.profile.schema import DeviceProfile
from edgekit.tflite.model import Subgraph


def uint8_hybrid_convs(sg: Subgraph, include: Sequence[bool]) -> int:
    """How many of the included ops are dynamic-range CONV_2D with uint8 weights."""
    return sum(1 for op, inc in zip(sg.operators, include, strict=True)
               if inc and op.name == "CONV_2D" and hybrid_op(sg, op) and sg.tensor(op.inputs[1]).dtype == "uint8")


def uint8_hybrid_note(profile: DeviceProfile, sg: Subgraph, include: Sequence[bool]) -> list[str]:
    """Say so when the included ops have uint8 dynamic-range convolutions and the profile no figure for their kernel."""
    if profile.op_efficiency is not None and profile.op_efficiency.get("int8", UINT8_HYBRID_CONV) is not None:
        return []
    count = uint8_hybrid_convs(sg, include)
    if not count:
        return []
    return [f"{count} convolution(s) have uint8 dynamic-range weights (TensorFlow 1's post-training format), which "
            "XNNPACK refuses: LiteRT's per-tensor builtin kernel for them ran 3-5x its per-channel int8 kernel on an "
            "x86 host (docs/BENCHMARKS.md), and this profile has no figure for it (`edgekit calibrate` measures "
            "CONV_2D_UINT8_HYBRID_BUILTIN), so it uses the int8-weight one: expect them slower. Converting the float "
            "model again (`edgekit convert`, int8 or dynamic range) gives weights XNNPACK runs"]


__all__ = ["uint8_hybrid_convs", "uint8_hybrid_note"]
