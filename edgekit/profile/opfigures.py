"""Per-op figures a CPU estimate looks up: the ``[op_efficiency]`` key of an op and its figure, its GEMM work under
the ``[gemm]`` tiles, a one-row float GEMM's weight stream rate, LiteRT's builtin kernels' efficiency.

See :mod:`edgekit.profile.estimator` for how they combine into an op's time.
"""

from __future__ import annotations

from collections.abc import Callable

from edgekit.profile.costs import (
    TRANSPOSE_CONV_CUSTOM,
    OpCost,
    gemm_shape,
    hybrid_elements,
    hybrid_input_elements,
    hybrid_op,
)
from edgekit.profile.schema import DeviceProfile, OpClass
from edgekit.tflite.model import Operator, Subgraph

TCONV_OPS = frozenset({"TRANSPOSE_CONV", TRANSPOSE_CONV_CUSTOM})

# a dynamic-range CONV_2D with uint8 weights on LiteRT's builtin kernel (per-tensor: another kernel than the
# per-channel int8 one, 3-5x slower on the same shape here); a profile without its figure takes the int8 one's
UINT8_HYBRID_CONV = "CONV_2D_UINT8_HYBRID_BUILTIN"
# LiteRT's builtin int8 AVERAGE_POOL_2D (XNNPACK refuses int8 average pools): its time follows the output elements
# (each a rounding integer division by the window's count), not the window's taps: 3.3-3.6 ns per output element
# on the x86 host at 1 and 4 taps, 4.2 at 9 (0.47 ns per tap there, 3.4 at 1 tap). Its figure is per output element
POOL_OUTPUTS_KEY = "AVERAGE_POOL_2D_OUTPUTS_BUILTIN"
# an elementwise op XNNPACK runs with a fused activation: its own key (``ADD_ACT``). Measured on the x86 host
# (docs/BENCHMARKS.md, "XNNPACK's kernels beyond their MACs"): a float32 ADD or MUL with a fused RELU / RELU6
# takes 0.20-0.22 ns per element against 0.12-0.13 without (1.7x), int8 +12%; ResNet's and MediaPipe's residual adds
FUSED_ACT_OPS = frozenset({"ADD", "SUB", "MUL"})
# LiteRT's builtin float AVERAGE_POOL_2D over a 1x1 window with a stride (XNNPACK refuses it: NASNet's reduction
# cells) loops over the input pixels: 8.0 ns per input pixel + 0.10 per input element fit seven shapes within 5% on
# the x86 host (112x112x8: 108 us, 14x14x528: 12 us). Its work is the input elements (op figure) and its input
# pixels are rows (``[row_ns]`` figure of the same key)
POOL_INPUTS_KEY = "AVERAGE_POOL_2D_INPUTS_BUILTIN"
KEY_FALLBACK: dict[str, str] = {UINT8_HYBRID_CONV: "CONV_2D_HYBRID_BUILTIN", POOL_OUTPUTS_KEY: "AVERAGE_POOL_2D_BUILTIN",
                                POOL_INPUTS_KEY: "AVERAGE_POOL_2D_BUILTIN", **{f"{op}_ACT": op for op in FUSED_ACT_OPS}}
# XNNPACK's pooling micro-kernels take the window in passes: the first reads 9 taps, each further pass 8 (a window
# of fewer taps points the unused ones at a real row and does the 9 loads anyway). Measured on the x86 host
# (docs/BENCHMARKS.md, "XNNPACK's kernels beyond their MACs"): max pool float32 0.48-0.52 ns per output element at 2x2 and 3x3 alike, 1.1 at
# 4x4, 1.3 at 5x5, 2.5-2.6 at 7x7; int8 and the float average pool alike. Work = outputs x these taps.
POOL_FIRST_PASS_TAPS = 9
POOL_PASS_TAPS = 8
XNNPACK_POOLS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D"})


def efficiency_key(sg: Subgraph, op: Operator, delegated: bool = True) -> str:
    """The ``[op_efficiency]`` key of an op: its name, a dynamic-range variant (:func:`edgekit.profile.costs.
    hybrid_op`: ``CONV_2D_HYBRID`` where XNNPACK runs it, ``CONV_2D_HYBRID_BUILTIN`` on LiteRT's builtin kernel,
    a different kernel: every hybrid depthwise; ``CONV_2D_UINT8_HYBRID_BUILTIN`` for uint8 weights), a kernel-size variant
    (``DEPTHWISE_CONV_2D_K5``) or an elementwise op with a fused activation where XNNPACK runs it (``ADD_ACT``,
    falling back to ``ADD``: :data:`KEY_FALLBACK`). ``delegated``: where the estimator places the op."""
    if hybrid_op(sg, op):
        if not delegated and op.name == "CONV_2D" and sg.tensor(op.inputs[1]).dtype == "uint8":
            return UINT8_HYBRID_CONV  # TF1's uint8 weights: another builtin kernel (calibrate times it)
        return f"{op.name}_HYBRID" if delegated else f"{op.name}_HYBRID_BUILTIN"
    if op.name == TRANSPOSE_CONV_CUSTOM:
        return "TRANSPOSE_CONV"  # XNNPACK's deconvolution runs both
    if not delegated and pool_outputs(sg, op):
        return POOL_OUTPUTS_KEY
    if not delegated and pool_inputs(sg, op)[0]:
        return POOL_INPUTS_KEY
    if delegated and op.name in FUSED_ACT_OPS and op.options.get("fused_activation_function", "NONE") not in (None, "NONE"):
        return f"{op.name}_ACT"
    if op.name == "DEPTHWISE_CONV_2D" and len(op.inputs) > 1 and op.inputs[1] >= 0:
        shape = sg.tensor(op.inputs[1]).shape
        if len(shape) == 4 and max(shape[1], shape[2]) > 3:
            return f"{op.name}_K{max(shape[1], shape[2])}"
    return op.name


def pool_outputs(sg: Subgraph, op: Operator) -> int:
    """Output elements of an int8 / uint8 AVERAGE_POOL_2D (the work of LiteRT's builtin kernel for it), else 0."""
    if op.name != "AVERAGE_POOL_2D" or not op.outputs or op.outputs[0] < 0:
        return 0
    out = sg.tensor(op.outputs[0])
    return out.num_elements if out.dtype in ("int8", "uint8") else 0


def pool_inputs(sg: Subgraph, op: Operator) -> tuple[int, int]:
    """(input pixels, input elements) of a float AVERAGE_POOL_2D over a 1x1 window with a stride (the work of
    LiteRT's builtin kernel for it: :data:`POOL_INPUTS_KEY`), else (0, 0)."""
    if op.name != "AVERAGE_POOL_2D" or not op.inputs or op.inputs[0] < 0:
        return 0, 0
    o = op.options
    if int(o.get("filter_width", 1) or 1) != 1 or int(o.get("filter_height", 1) or 1) != 1 \
            or max(int(o.get("stride_w", 1) or 1), int(o.get("stride_h", 1) or 1)) == 1:
        return 0, 0
    x = sg.tensor(op.inputs[0])
    if x.dtype not in ("float32", "float16") or len(x.shape) != 4:
        return 0, 0
    return int(x.shape[0]) * int(x.shape[1]) * int(x.shape[2]), x.num_elements


def pool_pass_taps(taps: int) -> int:
    """The taps XNNPACK's pooling kernel reads for a window of ``taps``: 9, then 8 per further pass."""
    extra = max(0, taps - POOL_FIRST_PASS_TAPS)
    return POOL_FIRST_PASS_TAPS + POOL_PASS_TAPS * -(-extra // POOL_PASS_TAPS)


def pool_work(sg: Subgraph, op: Operator) -> int:
    """Work of a pool XNNPACK runs: output elements x :func:`pool_pass_taps` of its window (0: not a pool, or a
    1x1 window, which XNNPACK runs as a copy or clamp)."""
    if op.name not in XNNPACK_POOLS or not op.outputs or op.outputs[0] < 0:
        return 0
    taps = max(1, int(op.options.get("filter_width", 1) or 1)) * max(1, int(op.options.get("filter_height", 1) or 1))
    return 0 if taps == 1 else sg.tensor(op.outputs[0]).num_elements * pool_pass_taps(taps)


# XNNPACK's unipass depthwise kernels (up to 25 taps: 3x3, 5x5) compute the channels in SIMD tiles; measured on the
# x86 host (docs/BENCHMARKS.md, "XNNPACK's kernels beyond their MACs"), 3x3 at 64x64: 24 channels in the time of 32, 40 of 48,
# 72 of 80 (float32 and int8), 5x5 alike; its 7x7 kernel took time in proportion to the channels (24 to 48)
DEPTHWISE_PADDED_TAPS = 25


def depthwise_pad_factor(channels: int, taps: int, tile: int) -> float:
    """Work per MAC of an XNNPACK depthwise over ``channels`` with ``taps`` kernel taps, its channels padded to
    ``tile`` (1.0 past :data:`DEPTHWISE_PADDED_TAPS` taps, and under one tile: narrow rows, :mod:`edgekit.profile.
    rows`)."""
    if channels < tile or tile <= 1 or taps > DEPTHWISE_PADDED_TAPS:
        return 1.0  # narrower than one tile: the [row_ns] figure is what such rows cost beyond their MACs
    return -(-channels // tile) * tile / channels


def _depthwise_factor(sg: Subgraph, op: Operator, tile: int) -> float:
    if op.name != "DEPTHWISE_CONV_2D" or len(op.inputs) < 2 or op.inputs[1] < 0 or not op.outputs \
            or op.outputs[0] < 0:
        return 1.0
    w, out = sg.tensor(op.inputs[1]).shape, sg.tensor(op.outputs[0]).shape
    if len(w) != 4 or not out:
        return 1.0
    return depthwise_pad_factor(int(out[-1]), int(w[1]) * int(w[2]), tile)


def kernel_work(sg: Subgraph, op: Operator, delegated: bool) -> tuple[str | None, int]:
    """The work of a pooling kernel that does not follow the op's MACs, placed as ``delegated`` says: (the
    ``[op_efficiency]`` key whose figure it is counted for, None: any; the work), (None, 0) where the MACs are the
    work. LiteRT's builtin int8 average pool: its output elements (:data:`POOL_OUTPUTS_KEY`); its builtin float pool
    over a 1x1 window: its input elements (:data:`POOL_INPUTS_KEY`); a pool XNNPACK runs: its passes
    (:func:`pool_work`). The estimator (:func:`op_work`) and ``calibrate``'s fit count the same."""
    if delegated:
        return None, pool_work(sg, op)
    if pool_outputs(sg, op):
        return POOL_OUTPUTS_KEY, pool_outputs(sg, op)
    elements = pool_inputs(sg, op)[1]
    return (POOL_INPUTS_KEY, elements) if elements else (None, 0)


def gemm_work(shape: tuple[int, int, int, int], tile_n: int, tile_k: int, output_overhead_macs: float,
              igemm_tile_n: int = 0, per_tap: bool = False) -> float:
    """MAC-equivalents of a GEMM-shaped op with padded tiles and a fixed cost per output (see ``[gemm]``); an op
    of more than one tap and more than ``tile_n`` outputs pads to ``igemm_tile_n`` when given. ``per_tap``: the
    fixed cost is paid per tap of each row (a transposed convolution: every input pixel and tap writes its own
    output, ``[gemm] <dtype>_tconv_output_overhead_macs``)."""
    m, n, cin, taps = shape
    tile = igemm_tile_n if igemm_tile_n and taps > 1 and n > tile_n else tile_n
    n_pad = -(-n // tile) * tile
    k_pad = -(-cin // tile_k) * tile_k * taps
    return float(m * n_pad * (k_pad + output_overhead_macs * (taps if per_tap else 1)))


def op_work(profile: DeviceProfile, sg: Subgraph, op: Operator, cost: OpCost, delegated: bool = True) -> float | None:
    """The op's work under the profile's ``[gemm]`` figures, a pool's under XNNPACK's passes (:func:`pool_work`), an
    XNNPACK depthwise's MACs over its channels padded to ``[row_ns] channel_tile`` (:func:`depthwise_pad_factor`),
    a builtin int8 average pool's output elements or a builtin float 1x1-window pool's input elements where the
    profile has their figure (None: use its MACs)."""
    needs, kernel = kernel_work(sg, op, delegated)
    if kernel and (needs is None or (profile.op_efficiency is not None
                                     and profile.op_efficiency.get(cost.compute_dtype, needs) is not None)):
        return float(kernel)
    if delegated and profile.row_ns is not None and cost.macs > 0 and not hybrid_op(sg, op):
        factor = _depthwise_factor(sg, op, profile.row_ns.channel_tile)
        if factor != 1.0:
            return cost.macs * factor
    if profile.gemm is None:
        return None
    figures = profile.gemm.figures(cost.compute_dtype)
    shape = gemm_shape(sg, op)
    if figures is None or shape is None or cost.macs <= 0:
        return None
    tconv = profile.gemm.tconv_overhead(cost.compute_dtype) if op.name in TCONV_OPS else None
    work = gemm_work(shape, *figures) if tconv is None else gemm_work(shape, *figures[:2], tconv, figures[3], True)
    if profile.gemm.hybrid_element_macs and hybrid_op(sg, op):
        work += profile.gemm.hybrid_element_macs * hybrid_elements(sg, op)
    uint8 = profile.gemm.uint8_hybrid_input_macs or profile.gemm.uint8_hybrid_output_macs
    if uint8 and efficiency_key(sg, op, delegated) == UINT8_HYBRID_CONV:  # TF1's uint8 weights: their conversions
        inputs = hybrid_input_elements(sg, op)
        work += (profile.gemm.uint8_hybrid_input_macs * inputs
                 + profile.gemm.uint8_hybrid_output_macs * (hybrid_elements(sg, op) - inputs))
    return work


def _key_or_fallback(key: str, lookup: Callable[[str], float | None]) -> float | None:
    """``lookup(key)``, else ``lookup`` of the key it falls back to (:data:`KEY_FALLBACK`)."""
    for candidate in (key, KEY_FALLBACK.get(key, "")):
        value = lookup(candidate) if candidate else None
        if value is not None:
            return value
    return None


def keyed_figure(profile: DeviceProfile, dtype: str, key: str) -> float | None:
    """The ``[op_efficiency]`` figure of ``key``, else of the key it falls back to (:data:`KEY_FALLBACK`)."""
    table = profile.op_efficiency
    return None if table is None else _key_or_fallback(key, lambda k: table.get(dtype, k))


def op_efficiency_figure(profile: DeviceProfile, dtype: str, op: str, key: str | None, builtin: bool = False) -> float | None:
    """The op's ``[op_efficiency]`` figure: its key's, else its name's. ``builtin``: LiteRT's builtin kernel runs an
    op that XNNPACK could have run, whose plain figure ``calibrate`` measured under XNNPACK (a depthwise whose
    weights are computed at run time): ``<KEY>_BUILTIN`` / ``<OP>_BUILTIN`` first, the figure measured with the
    delegate off."""
    if profile.op_efficiency is None:
        return None
    if builtin and not (key or op).endswith("_BUILTIN"):
        for name in (f"{key}_BUILTIN" if key else "", f"{op}_BUILTIN"):
            value = profile.op_efficiency.get(dtype, name) if name else None
            if value is not None:
                return value
    value = keyed_figure(profile, dtype, key) if key and key != op else None
    return value if value is not None else profile.op_efficiency.get(dtype, op)


def op_thread_share(profile: DeviceProfile, dtype: str, key: str, builtin: bool = False) -> float | None:
    """The ``[thread_scaling]`` share of an op key (or of the key it falls back to), None without one. ``builtin``:
    the op runs on LiteRT's builtin kernel, whose own ``<KEY>_BUILTIN`` share comes first (calibrate measures the
    float FULLY_CONNECTED's: :mod:`edgekit.calibrate.builtinfc`)."""
    scaling = profile.thread_scaling
    if scaling is None:
        return None
    if builtin and not key.endswith("_BUILTIN"):
        own = scaling.share(dtype, f"{key}_BUILTIN")
        if own is not None:
            return own
    return _key_or_fallback(key, lambda k: scaling.share(dtype, k))


def builtin_efficiency(profile: DeviceProfile, dtype: str, op_class: OpClass) -> float:
    """Efficiency of LiteRT's builtin kernel for an op class: the ``[builtin_efficiency]`` figure, else the
    XNNPACK figure times ``builtin_kernel_factor``."""
    if profile.builtin_efficiency is not None:
        return profile.builtin_efficiency.table(dtype).of(op_class)
    return profile.efficiency.table(dtype).of(op_class) * profile.runtime.builtin_kernel_factor


def gemv_gb_per_s(profile: DeviceProfile, sg: Subgraph, op: Operator, cost: OpCost, delegated: bool) -> float | None:
    """The ``[gemm]`` weight stream rate of a one-row float32 GEMM XNNPACK runs (a FULLY_CONNECTED on one row, a
    1x1 conv on one pixel: :mod:`edgekit.calibrate.gemv`), else None."""
    if not delegated or profile.gemm is None or cost.compute_dtype != "float32" or hybrid_op(sg, op):
        return None
    shape = gemm_shape(sg, op)
    if shape is None or shape[0] != 1 or shape[3] != 1 or op.name not in ("FULLY_CONNECTED", "CONV_2D"):
        return None
    return profile.gemm.gemv_gb_per_s(shape[1])


__all__ = ["FUSED_ACT_OPS", "KEY_FALLBACK", "POOL_INPUTS_KEY", "POOL_OUTPUTS_KEY", "TCONV_OPS", "UINT8_HYBRID_CONV",
           "builtin_efficiency", "depthwise_pad_factor", "efficiency_key", "gemm_work", "gemv_gb_per_s", "kernel_work",
           "keyed_figure", "op_efficiency_figure", "op_thread_share", "op_work", "pool_inputs", "pool_outputs", "pool_pass_taps",
           "pool_work"]
