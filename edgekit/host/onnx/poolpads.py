"""Window padding of ONNX convolutions and pools, TF-free: shared by the lowering and the ``maxpool`` repair."""

from __future__ import annotations

from collections.abc import Sequence


def window_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                auto_pad: str, pads: Sequence[int] | None, ceil_mode: bool = False
                ) -> tuple[list[int], list[int], list[int]]:
    """Per spatial axis: the padding before, after, and the extra a ``ceil_mode`` pool reads past the end."""
    nd = len(spatial)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, e, st in zip(spatial, eff, strides, strict=True):
            total = max(0, (-(-size // st) - 1) * st + e - size)
            begin.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
            end.append(total - begin[-1])
    elif auto_pad == "VALID":
        begin, end = [0] * nd, [0] * nd
    else:
        given = [int(p) for p in (pads or [0] * (2 * nd))]
        begin, end = given[:nd], given[nd:]
    extra = [0] * nd
    if ceil_mode:
        for i, (size, e, st) in enumerate(zip(spatial, eff, strides, strict=True)):
            out = -(-(size + begin[i] + end[i] - e) // st) + 1
            if (out - 1) * st >= size + begin[i]:  # the last window must start inside the input or its front pad
                out -= 1
            extra[i] = max(0, (out - 1) * st + e - (size + begin[i] + end[i]))
    return begin, end, extra


def tf_same(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], begin: Sequence[int],
            end: Sequence[int]) -> bool:
    """Whether the padding (dilation 1) is TF's SAME: ceil(in / stride) outputs, the odd one at the end, so a
    SAME pool that never reads a padded value computes it."""
    for size, k, st, before, after in zip(spatial, kernel, strides, begin, end, strict=True):
        out = -(-int(size) // st)
        total = max((out - 1) * st + k - int(size), 0)
        if (before, after) != (total // 2, total - total // 2) or (size + before + after - k) // st + 1 != out:
            return False
    return True
