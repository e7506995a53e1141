"""LiteRT's GPU delegate (OpenCL/OpenGL on Android): which ops it takes, how it splits the graph, what it runs.

Placement follows the delegate's published compatibility rules (``CheckGpuDelegateCompatibility`` in
``tensorflow/lite/tools/versioning/gpu_compatibility.cc``, the checker behind the converter's
``gpu_compatibility`` analysis), re-stated here per op as a model of that runtime (enhanced broadcasting,
as the offline checker assumes): the op list, runtime-input counts, constant axes, depthwise multipliers,
pad shapes, strided-slice masks, broadcast shapes, and float tensors only (int32/bool tensors other than
constant axes/indices stay on the CPU). A quantized model runs with its weights dequantized.

Partitions are made the way LiteRT partitions a graph for any delegate (see
:func:`edgekit.profile.delegate.graph_partitions`), and the delegate keeps only its
``max_delegated_partitions`` largest ones (1 by default in ``TfLiteGpuDelegateOptionsV2Default``): every other
op runs on the CPU, with a hand-over (tensor copy between CPU and GPU memory) at each boundary.

Inside a partition the delegate fuses work into kernels: an elementwise op whose (first) input comes from a
GPU op that feeds nothing else is linked into that op's kernel (fused activations, bias adds, residual adds,
squeeze-excite multiplies), and a PAD feeding only a conv/depthwise/pool becomes that op's padding.
:func:`gpu_kernels` returns the kernels, each with the ops it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.profile.costs import OpCost
from edgekit.profile.delegate import graph_partitions
from edgekit.profile.schema import DeviceProfile, OpClass
from edgekit.tflite.model import Operator, Subgraph

_UNARY = frozenset({"ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "GELU", "LOG", "LOGISTIC", "NEG", "RSQRT", "SIGN",
                    "SIN", "SQRT", "SQUARE", "TANH"})
_BINARY = frozenset({"ATAN2", "DIV", "EQUAL", "FLOOR_DIV", "FLOOR_MOD", "GREATER", "GREATER_EQUAL", "LOGICAL_AND",
                     "LESS", "LESS_EQUAL", "MAXIMUM", "MINIMUM", "NOT_EQUAL", "POW", "SQUARED_DIFFERENCE", "SUB"})
_ALWAYS = frozenset({"RELU", "RELU6", "LEAKY_RELU", "RELU_N1_TO_1", "PRELU", "PACK", "SPLIT", "SPLIT_V",
                     "CONCATENATION", "BATCH_MATMUL", "HARD_SWISH", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
                     "QUANTIZE", "TILE", "TRANSPOSE", "TRANSPOSE_CONV", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
_CUSTOM = frozenset({"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D", "Resampler"})
_OK_ACTIVATIONS = {None, "NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGMOID"}
# ops that can be linked into the kernel of the op producing their input
_LINKABLE = frozenset({"ADD", "MUL", "SUB", "DIV", "MAXIMUM", "MINIMUM", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU",
                       "PRELU", "HARD_SWISH", "LOGISTIC", "TANH", "ELU", "ABS", "NEG", "SQRT", "RSQRT", "SQUARE", "EXP",
                       "QUANTIZE", "DEQUANTIZE"})
_PADDED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
_FLOATS = ("float32", "float16")
FC_SPLIT = 4  # threads sharing one FULLY_CONNECTED dot product (the delegate's work group y size)
_QUANT = ("int8", "uint8")


def float16_weights(sg: Subgraph) -> frozenset[int]:
    """Outputs of DEQUANTIZE nodes that turn a float16 constant into float32 (a float16-weight model). The
    delegate reads the float16 constant directly (``FP16GraphPartitionHelper`` remaps the consumers' inputs), so
    to it these are constants, and the DEQUANTIZE nodes run nowhere."""
    out = set()
    for op in sg.operators:
        if op.name == "DEQUANTIZE" and op.inputs and op.inputs[0] >= 0 and op.outputs and op.outputs[0] >= 0:
            src = sg.tensor(op.inputs[0])
            if src.is_constant and src.dtype == "float16":
                out.add(op.outputs[0])
    return frozenset(out)


def _constant(sg: Subgraph, i: int, weights16: frozenset[int]) -> bool:
    return sg.tensor(i).is_constant or i in weights16


def _runtime_inputs(sg: Subgraph, op: Operator, weights16: frozenset[int] = frozenset()) -> list[int]:
    return [i for i in op.inputs if i >= 0 and not _constant(sg, i, weights16)]


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y and x != 1 and y != 1:
            return False
    return True


def gpu_placement(sg: Subgraph, op: Operator, weights16: frozenset[int] | None = None) -> str:
    """'' when the GPU delegate takes ``op``, else why not (the published compatibility rules). ``weights16``:
    :func:`float16_weights` of ``sg`` (computed when not given)."""
    name = op.name
    custom = op.custom_code or ""
    if not op.builtin:
        return "" if custom in _CUSTOM else f"custom op {custom} is not supported by the GPU delegate"
    w16 = float16_weights(sg) if weights16 is None else weights16
    if name == "DEQUANTIZE" and op.outputs and op.outputs[0] in w16:
        return "float16 weights: the delegate reads them directly (no kernel)"
    runtime = _runtime_inputs(sg, op, w16)
    # tensors: float (or quantized, run dequantized); int32/bool only as constants (axes, shapes, indices)
    for i in (*op.inputs, *op.outputs):
        if i < 0:
            continue
        t = sg.tensor(i)
        if _constant(sg, i, w16):
            continue
        if t.dtype not in _FLOATS + _QUANT and not (name == "RESHAPE" and i in op.inputs[1:]):
            return f"{t.dtype} tensor '{t.name}' (the GPU delegate runs float tensors)"
    act = op.options.get("fused_activation_function")
    if act not in _OK_ACTIVATIONS:
        return f"fused activation {act} is not supported"
    if name in _ALWAYS:
        if name in ("TILE", "TRANSPOSE") and len(runtime) != 1:
            return f"{name} needs one runtime input"
        return ""
    if name in _UNARY:
        return "" if len(runtime) == 1 and len(op.inputs) == 1 else f"{name} needs one runtime input and no constant"
    if name in _BINARY:
        consts = [i for i in op.inputs if i >= 0 and _constant(sg, i, w16)]
        return "" if len(runtime) in (1, 2) and len(runtime) + len(consts) == 2 else f"{name} can only handle 1 or 2 operands"
    if name in ("ADD", "MUL"):
        ins = [i for i in op.inputs if i >= 0]
        if len(ins) != 2:
            return f"{name} requires two input tensors"
        a, b = sg.tensor(ins[0]).shape, sg.tensor(ins[1]).shape
        if name == "MUL" and len(a) == len(b):
            if any(x < y for x, y in zip(a, b, strict=True)) and any(y < x for x, y in zip(a, b, strict=True)):
                return "MUL of two tensors each smaller in some dimension"
        elif len(a) > 1 and len(b) > 1 and len(a) != len(b) and not _broadcastable(a, b):
            return f"{name} broadcasting {list(a)} with {list(b)}"
        return ""
    if name == "CONV_2D":
        return "" if len(runtime) <= 2 else "CONV_2D with more than 2 runtime inputs"
    if name == "DEPTHWISE_CONV_2D":
        w = sg.tensor(op.inputs[1]).shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
        x = sg.tensor(op.inputs[0]).shape
        mult = int(op.options.get("depth_multiplier", 1) or 1)
        if len(w) != 4 or len(x) != 4:
            return "DEPTHWISE_CONV_2D needs 4-D input and filter"
        if mult != 1 and x[3] != 1:
            return "DEPTHWISE_CONV_2D with depth_multiplier != 1 on more than one input channel"
        return ""
    if name == "FULLY_CONNECTED":
        if op.inputs and op.inputs[0] >= 0 and _constant(sg, op.inputs[0], w16):
            return "FULLY_CONNECTED with a constant input"
        if str(op.options.get("weights_format", "DEFAULT")) not in ("DEFAULT", "0", "None"):
            return "FULLY_CONNECTED with shuffled weights"
        return "" if len(runtime) <= 2 else "FULLY_CONNECTED with more than 2 runtime inputs"
    if name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        axes = sg.tensor(op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        if axes is None or not axes.is_constant or axes.dtype != "int32":
            return f"{name} needs constant int32 axes"
        return ""
    if name == "RESHAPE":
        return "" if len(runtime) == 1 else "RESHAPE with a computed shape"
    if name in ("PAD", "PADV2", "MIRROR_PAD"):
        pads = sg.tensor(op.inputs[1]).shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
        if len(pads) != 2 or pads[0] not in (3, 4) or pads[1] != 2:
            return f"{name} paddings of shape {list(pads)}"
        if name == "MIRROR_PAD" and str(op.options.get("mode", "REFLECT")) not in ("REFLECT", "0"):
            return "MIRROR_PAD other than reflect"
        return "" if len(runtime) == 1 else f"{name} needs one runtime input"
    if name == "SLICE":
        return "" if len(sg.tensor(op.inputs[0]).shape) in (3, 4) else "SLICE of other than 3-D/4-D tensors"
    if name == "STRIDED_SLICE":
        for mask in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
            if int(op.options.get(mask, 0) or 0):
                return f"STRIDED_SLICE with {mask}"
        return "" if len(sg.tensor(op.inputs[0]).shape) in (3, 4) else "STRIDED_SLICE of other than 3-D/4-D tensors"
    if name == "SOFTMAX":
        return "" if float(op.options.get("beta", 1.0) or 1.0) == 1.0 else "SOFTMAX with beta != 1"
    if name in ("SPACE_TO_DEPTH", "DEPTH_TO_SPACE"):
        return "" if int(op.options.get("block_size", 2) or 2) > 1 else f"{name} with block_size 1"
    if name == "DEQUANTIZE":
        return "" if sg.tensor(op.inputs[0]).dtype != "int16" else "DEQUANTIZE of int16"
    if name == "CAST":
        src, dst = sg.tensor(op.inputs[0]).dtype, sg.tensor(op.outputs[0]).dtype
        ok = (src == "bool" and dst in _FLOATS) or (src in _FLOATS and dst == "bool") or \
             (src in ("float32", "int32") and dst in ("float32", "int32"))
        return "" if ok else f"CAST {src} -> {dst}"
    if name == "GATHER":
        return "" if sg.tensor(op.inputs[0]).dtype != "int32" else "GATHER of int32"
    return f"{name} is not supported by the GPU delegate"


@dataclass(frozen=True)
class GPUPlan:
    """Where each op runs with the GPU delegate, and the kernels the delegate makes."""

    on_gpu: tuple[bool, ...]
    reasons: tuple[str, ...]  # per op: why it is not on the GPU ("" when it is)
    partitions: int  # GPU partitions delegated
    kernels: tuple[tuple[int, ...], ...]  # per kernel: the op indices it runs (first = the main op)


def plan_gpu(sg: Subgraph, max_partitions: int = 1) -> GPUPlan:
    """Placement (rules + partitions, the delegate keeping its ``max_partitions`` largest) and kernels."""
    n = len(sg.operators)
    w16 = float16_weights(sg)
    reasons = [gpu_placement(sg, op, w16) for op in sg.operators]
    # a float16-weight DEQUANTIZE depends on nothing: it never splits a partition (the delegate claims it)
    unpack = [op.name == "DEQUANTIZE" and bool(op.outputs) and op.outputs[0] in w16 for op in sg.operators]
    supported = [not r or u for r, u in zip(reasons, unpack, strict=True)]
    subsets = [[i for i in members if not unpack[i]] for kind, members in graph_partitions(sg, supported) if kind]
    keep = sorted((m for m in subsets if m), key=lambda m: (-len(m), m[0]))[:max(0, max_partitions)]
    on_gpu = [False] * n
    for members in keep:
        for i in members:
            on_gpu[i] = True
    users = tensor_consumers(sg)
    for op in sg.operators:  # delegated with its readers when they all run on the GPU (no kernel of its own)
        if unpack[op.index]:
            readers = users.get(op.outputs[0], [])
            on_gpu[op.index] = bool(readers) and all(on_gpu[j] for j in readers)
    final_reasons = [
        "" if on_gpu[i] else
        "float16 weights of a CPU op: dequantized once, at init" if unpack[i] else
        r or f"in a GPU partition the delegate did not keep (max_delegated_partitions = {max_partitions})"
        for i, r in enumerate(reasons)]
    return GPUPlan(tuple(on_gpu), tuple(final_reasons), len(keep), _kernels(sg, on_gpu, unpack, w16))


def _associative(sg: Subgraph, op: Operator, runtime: list[int]) -> bool:
    """ADD/MUL of two runtime tensors that need no broadcast of a size-1 dimension (the delegate's
    ``IsAssociativeLinkableOp``): their inputs may be swapped."""
    if op.name not in ("ADD", "MUL") or len(runtime) != 2 or not op.outputs or op.outputs[0] < 0:
        return False
    out = (1, 1, 1, 1, *sg.tensor(op.outputs[0]).shape)[-4:]
    for i in runtime:
        shape = (1, 1, 1, 1, *sg.tensor(i).shape)[-4:]
        if any(s == 1 and d != 1 for s, d in zip(shape, out, strict=True)):
            return False
    return True


def _link_input(sg: Subgraph, op: Operator, producers: dict[int, int], w16: frozenset[int]) -> int | None:
    """The input through which ``op`` can be linked into the kernel of its producer: the first runtime input; for
    an associative ADD/MUL the one written last (the delegate moves it first, ``ConvertOperations``), so a
    residual ADD links into the conv before it whichever operand order the converter wrote."""
    runtime = _runtime_inputs(sg, op, w16)
    if not runtime:
        return None
    if _associative(sg, op, runtime):
        return max(runtime, key=lambda t: producers.get(t, -1))
    return runtime[0]


def _kernels(sg: Subgraph, on_gpu: list[bool], unpack: list[bool], w16: frozenset[int]) -> tuple[tuple[int, ...], ...]:
    producers = {t: op.index for op in sg.operators for t in op.outputs if t >= 0}
    consumers = tensor_consumers(sg)
    owner: dict[int, int] = {}  # op index -> the kernel (index of its main op) that runs it
    kernels: dict[int, list[int]] = {}
    for op in sg.operators:
        i = op.index
        if not on_gpu[i] or unpack[i]:
            continue
        merged = False
        if op.name in _LINKABLE:
            first = _link_input(sg, op, producers, w16)
            p = producers.get(first) if first is not None else None
            if first is not None and p is not None and p in owner and len(consumers.get(first, [])) == 1 \
                    and sg.operators[p].name != "PAD":
                k = owner[p]
                kernels[k].append(i)
                owner[i] = k
                merged = True
        if not merged:
            kernels[i] = [i]
            owner[i] = i
    # a PAD feeding only a conv/depthwise/pool is that op's padding: no kernel of its own
    for i, members in list(kernels.items()):
        op = sg.operators[i]
        if op.name in ("PAD", "PADV2") and len(members) == 1:
            users = consumers.get(op.outputs[0], []) if op.outputs else []
            if len(users) == 1 and on_gpu[users[0]] and sg.operators[users[0]].name in _PADDED and users[0] in kernels:
                kernels[users[0]].append(i)
                del kernels[i]
    return tuple(tuple(kernels[k]) for k in sorted(kernels))


# the op names the delegate can take at all (for docs and quick checks)
GPU_OPS = frozenset(_UNARY | _BINARY | _ALWAYS | {"ADD", "MUL", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                                  "MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RESHAPE",
                                                  "PAD", "PADV2", "MIRROR_PAD", "SLICE", "STRIDED_SLICE", "SOFTMAX",
                                                  "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "DEQUANTIZE", "CAST", "GATHER"})


# ---------------------------------------------------------------- what the kernels cost (ESTIMATES)


def tensor_consumers(sg: Subgraph) -> dict[int, list[int]]:
    """tensor index -> the ops that read it."""
    out: dict[int, list[int]] = {}
    for op in sg.operators:
        for t in op.inputs:
            if t >= 0:
                out.setdefault(t, []).append(op.index)
    return out


@dataclass(frozen=True)
class GPUKernel:
    """One GPU kernel: its ops (the first is the main op), MACs, the main op's class, the elements it reads and
    writes (weights included; the intermediate results of linked ops stay in registers)."""

    members: tuple[int, ...]
    macs: int
    op_class: OpClass
    elements: int
    reduction: int = 1  # per-thread reduction: kh*kw*Cin of a conv, kh*kw depthwise, Cin / 4 of an FC


def gpu_kernels(sg: Subgraph, costs: list[OpCost], kernels: tuple[tuple[int, ...], ...]) -> list[GPUKernel]:
    users = tensor_consumers(sg)
    graph_out = set(sg.outputs)
    out = []
    for members in kernels:
        mine = set(members)
        inside = {t for i in members for t in sg.operators[i].outputs if t >= 0}
        read = {t for i in members for t in sg.operators[i].inputs if t >= 0 and t not in inside}
        written = {t for t in inside if t in graph_out or not users.get(t) or any(j not in mine for j in users[t])}
        elems = sum(max(1, sg.tensor(t).num_elements) for t in read | written)
        out.append(GPUKernel(members, sum(costs[i].macs for i in members), costs[members[0]].op_class, elems,
                             _reduction(sg, sg.operators[members[0]])))
    return out


def _reduction(sg: Subgraph, op: Operator) -> int:
    w = sg.tensor(op.inputs[1]).shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
    if op.name in ("CONV_2D", "TRANSPOSE_CONV") and len(w) == 4:
        return int(w[1] * w[2] * w[3])
    if op.name == "DEPTHWISE_CONV_2D" and len(w) == 4:
        return int(w[1] * w[2])
    if op.name == "FULLY_CONNECTED" and len(w) == 2:
        # the delegate's FullyConnected splits each dot product over the 4 rows of its work group (WG_Y = 4)
        return -(-int(w[1]) // FC_SPLIT)
    if op.name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        fw, fh = int(op.options.get("filter_width", 1) or 1), int(op.options.get("filter_height", 1) or 1)
        if op.name == "AVERAGE_POOL_2D" and _global_pool(sg, op, fw, fh):
            return 1  # the delegate makes a global average pool a MEAN (GlobalPoolingToReduceOp): a work-group reduce
        return fw * fh
    return 1


def _global_pool(sg: Subgraph, op: Operator, fw: int, fh: int) -> bool:
    """A pool whose one window covers the whole input to a 1x1 output, so no padding (``IsGlobalPooling``)."""
    x, y = sg.tensor(op.inputs[0]).shape, sg.tensor(op.outputs[0]).shape
    return len(x) == 4 and len(y) == 4 and tuple(y[1:3]) == (1, 1) and (fh, fw) == tuple(x[1:3])


def gpu_kernel_ms(profile: DeviceProfile, k: GPUKernel, precision: str) -> float:
    """One GPU kernel: max(arithmetic, memory, per-thread chain) + launch overhead. Arithmetic at the float16
    peak (float32: times ``fp32_rate``) and the class efficiency of the main op; memory at 2 bytes per element
    in float16 (4 in float32) and the GPU's memory bandwidth x ``memory_efficiency``; the chain: the reduction
    each thread walks x ``reduction_ns`` (what bounds a kernel with too few threads to fill the GPU)."""
    gpu = profile.gpu
    assert gpu is not None
    rate = gpu.peak_fp16_gmacs * 1e9 * (1.0 if precision == "float16" else gpu.fp32_rate)
    compute_s = k.macs / (rate * gpu.efficiency.of(k.op_class)) if k.macs else 0.0
    memory_s = k.elements * (2 if precision == "float16" else 4) / (gpu.memory_bandwidth_gb_per_s * 1e9 * gpu.memory_efficiency)
    chain_s = k.reduction * gpu.reduction_ns * 1e-9
    return 1000.0 * max(compute_s, memory_s, chain_s) + gpu.per_op_overhead_us / 1000.0


def gpu_boundary(sg: Subgraph, on_gpu: tuple[bool, ...]) -> tuple[int, int]:
    """(bytes, tensors) handed between the GPU and CPU parts (float32 in CPU memory); weights, float16 ones
    included, are uploaded once and hand nothing over."""
    producer = {t: op.index for op in sg.operators for t in op.outputs if t >= 0}
    w16 = float16_weights(sg)
    crossing: set[int] = set()
    for op in sg.operators:
        for t in op.inputs:
            if t < 0 or _constant(sg, t, w16):
                continue
            src = producer.get(t)
            src_gpu = on_gpu[src] if src is not None else False
            if src_gpu != on_gpu[op.index]:
                crossing.add(t)
    for t in sg.outputs:
        src = producer.get(t)
        if src is not None and on_gpu[src]:
            crossing.add(t)
    for t in sg.inputs:
        if any(on_gpu[op.index] and t in op.inputs for op in sg.operators):
            crossing.add(t)
    return sum(4 * max(1, sg.tensor(t).num_elements) for t in crossing), len(crossing)


__all__ = ["GPU_OPS", "GPUKernel", "GPUPlan", "float16_weights", "gpu_boundary", "gpu_kernel_ms", "gpu_kernels",
           "gpu_placement", "plan_gpu", "tensor_consumers"]
