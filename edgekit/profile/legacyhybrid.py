"""Dynamic-range convolutions with uint8 weights (TF1's post-training format): a note, not a figure.

TensorFlow 1's ``post_training_quantize`` stored a float model's convolution weights as uint8 (zero point 128)
with float activations. XNNPACK refuses uint8 weights, so LiteRT runs them on its builtin kernel for them, another
path than the one for int8 weights that ``calibrate`` times (``CONV_2D_HYBRID_BUILTIN``): on this project's
AVX-512 host, one thread, the same 1x1 convolution 50x50x144 -> 24 ran in 1.44 ms with uint8 weights, 0.38 ms
with int8 ones on the builtin kernel and 0.21 ms on XNNPACK; facex's emotion model (33 such convolutions)
measured 12.2 ms against 7.3 estimated. Its time follows the input elements (~3.4 ns per pixel and input channel
here) more than the MACs, which no calibrated figure holds yet (docs/BENCHMARKS.md, "estimator"), so the estimate
says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.profile.costs import hybrid_op
from edgekit.tflite.model import Subgraph


def uint8_hybrid_convs(sg: Subgraph, include: Sequence[bool]) -> int:
    """How many of the included ops are dynamic-range CONV_2D with uint8 weights."""
    return sum(1 for op, inc in zip(sg.operators, include, strict=True)
               if inc and op.name == "CONV_2D" and hybrid_op(sg, op) and sg.tensor(op.inputs[1]).dtype == "uint8")


def uint8_hybrid_note(sg: Subgraph, include: Sequence[bool]) -> list[str]:
    count = uint8_hybrid_convs(sg, include)
    if not count:
        return []
    return [f"{count} convolution(s) have uint8 dynamic-range weights (TensorFlow 1's post-training format), which "
            "XNNPACK refuses: LiteRT's builtin kernel for them ran 3.7x its int8-weight kernel on an x86 host "
            "(docs/BENCHMARKS.md), and this estimate uses the int8-weight figure: expect them slower. Converting "
            "the float model again (`edgekit convert`, int8 or dynamic range) gives weights XNNPACK runs"]


__all__ = ["uint8_hybrid_convs", "uint8_hybrid_note"]
