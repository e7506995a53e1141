"""Per-op figures a CPU estimate looks up: the ``[op_efficiency]`` key of an op and its figure, its GEMM work under
the ``[gemm]`` tiles, a one-row float GEMM's weight stream rate, LiteRT's builtin kernels' efficiency.

See :mod:`edgekit.profile.estimator` for how they combine into an op's time.
"""

from __future__ import annotations

from collections.abc import Callable

from edgekit.profile.costs import TRANSPOSE_CONV_CUSTOM, OpCost, gemm_shape, hybrid_elements, hybrid_op
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
KEY_FALLBACK: dict[str, str] = {UINT8_HYBRID_CONV: "CONV_2D_HYBRID_BUILTIN", POOL_OUTPUTS_KEY: "AVERAGE_POOL_2D_BUILTIN"}


def efficiency_key(sg: Subgraph, op: Operator, delegated: bool = True) -> str:
    """The ``[op_efficiency]`` key of an op: its name, a dynamic-range variant (:func:`edgekit.profile.costs.
    hybrid_op`: ``CONV_2D_HYBRID`` where XNNPACK runs it, ``CONV_2D_HYBRID_BUILTIN`` on LiteRT's builtin kernel,
    a different kernel: every hybrid depthwise; ``CONV_2D_UINT8_HYBRID_BUILTIN`` for uint8 weights) or a kernel-size variant (see the module
    docstring). ``delegated``: where the estimator places the op."""
    if hybrid_op(sg, op):
        if not delegated and op.name == "CONV_2D" and sg.tensor(op.inputs[1]).dtype == "uint8":
            return UINT8_HYBRID_CONV  # TF1's uint8 weights: another builtin kernel (calibrate times it)
        return f"{op.name}_HYBRID" if delegated else f"{op.name}_HYBRID_BUILTIN"
    if op.name == TRANSPOSE_CONV_CUSTOM:
        return "TRANSPOSE_CONV"  # XNNPACK's deconvolution runs both
    if not delegated and pool_outputs(sg, op):
        return POOL_OUTPUTS_KEY
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
    """The op's work under the profile's ``[gemm]`` figures, or a builtin int8 average pool's output elements where
    the profile has their per-output figure (None: use its MACs)."""
    if not delegated and profile.op_efficiency is not None and pool_outputs(sg, op) \
            and profile.op_efficiency.get(cost.compute_dtype, POOL_OUTPUTS_KEY) is not None:
        return float(pool_outputs(sg, op))
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


def op_thread_share(profile: DeviceProfile, dtype: str, key: str) -> float | None:
    """The ``[thread_scaling]`` share of an op key (or of the key it falls back to), None without one."""
    scaling = profile.thread_scaling
    return None if scaling is None else _key_or_fallback(key, lambda k: scaling.share(dtype, k))


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


__all__ = ["KEY_FALLBACK", "POOL_OUTPUTS_KEY", "TCONV_OPS", "UINT8_HYBRID_CONV", "builtin_efficiency", "efficiency_key", "gemm_work",
           "gemv_gb_per_s", "keyed_figure", "op_efficiency_figure", "op_thread_share", "op_work", "pool_outputs"]
