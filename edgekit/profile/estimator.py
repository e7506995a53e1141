"""Latency and memory estimates of one .tflite model on one device profile.

CPU op latency (every figure here is an ESTIMATE)::

    eff      = op_efficiency[compute dtype][op name]            (profile, optional, fitted)
               else efficiency[compute dtype][op class]         (profile, fitted)
    speedup  = thread_speedup[compute dtype][threads]           (profile, fitted)
    if the op runs outside the delegate (XNNPACK refused it):
        eff *= builtin_kernel_factor (not for an op_efficiency figure: that was measured in place);
        speedup = 1 unless conv/depthwise/fully-connected (multi-threaded builtins)
    with thread_scaling[compute dtype][op key] (profile, optional, measured; a builtin op's whatever its class):
        speedup = 1 + thread_scaling[...] * (thread_speedup[compute dtype][threads] - 1)
    compute_s = MACs / (peak MAC rate per core of the dtype * eff * speedup)
    memory_s  = bytes moved / (memory bandwidth * memory_efficiency)
    op_ms     = 1000 * max(compute_s, memory_s) + per_op_overhead_us / 1000

    total_ms = sum(op_ms) + (partitions - 1) * partition_overhead_us + invoke_overhead_us

(``partitions`` as LiteRT makes them, see :func:`edgekit.profile.delegate.graph_partitions`; the first
partition's invoke is part of the invoke overhead, every further one is a hand-over between delegate
and builtin kernels.)

Kernel-size variants: XNNPACK's depthwise kernels are unipass up to 5x5 and multipass beyond (7x7 ran
~8x slower per MAC than 3x3 here), so a depthwise op with a kernel larger than 3x3 first looks up
``op_efficiency[dtype]["DEPTHWISE_CONV_2D_K<k>"]`` (k = the larger kernel side; calibrate measures 5x5
and 7x7), then the op name, then its class.

Dynamic-range ("hybrid") variants: a weight op with float activations and int8/uint8 weights
(:func:`edgekit.profile.costs.hybrid_op`) runs other kernels than the int8 ones (its input quantized and its
output scaled back on every call; the depthwise one only as a builtin kernel, uint8 weights too), so it looks
up ``op_efficiency["int8"]["<OP>_HYBRID"]`` (XNNPACK) or ``["<OP>_HYBRID_BUILTIN"]`` (builtin kernel) first
(``CONV_2D_UINT8_HYBRID_BUILTIN`` for TF1's uint8 weights, which XNNPACK refuses: LiteRT's per-tensor kernel,
3-5x its per-channel one), and ``[gemm] hybrid_element_macs`` adds work per converted element (:func:`edgekit.profile.costs.hybrid_elements`); ``calibrate`` measures both, and ``[runtime]
hybrid_handover_factor``, the slow-down of a builtin hybrid depthwise right after XNNPACK's 1x1 hybrid conv
(:func:`edgekit.profile.costs.hybrid_handover`, :mod:`edgekit.calibrate.handover`). A profile without them (every shipped one)
estimates such ops at the int8 figures, and the estimate's notes say so.

One-row float GEMMs (optional ``[gemm] float32_gemv_tiles`` / ``float32_gemv_gb_per_s``, written by calibrate): a
float32 FULLY_CONNECTED on one row or 1x1 CONV_2D on one pixel that XNNPACK runs costs its weight bytes at the
stream rate of the output-channel tile that pads it least (:mod:`edgekit.calibrate.gemv`; 1.5x apart on the x86
host), divided by the thread speed-up, instead of its work at the efficiency figure.

Narrow rows: a depthwise, pool, resize, pad, concatenation or broadcast binary op whose innermost run is shorter
than ``[row_ns] channel_tile`` pays ``row_ns[dtype][op]`` nanoseconds per kernel row on top
(:mod:`edgekit.profile.rows`; calibrate measures them); the ops in ``[row_ns] every_width`` (XNNPACK's PAD and
broadcast binary ops, a fixed cost per kernel call) pay it on every row, whatever its width.

Data movement (PAD, CONCATENATION, ...) has no MACs and costs its bytes; with an ``[op_efficiency]`` figure for
the op (``calibrate`` measures PAD and CONCATENATION) its output elements are work at that efficiency too.

GEMM shape (optional ``[gemm]`` section, written by calibrate): a CONV_2D / FULLY_CONNECTED costs
``M * ceil(N/tile_n)*tile_n * (ceil(Cin/tile_k)*tile_k*kh*kw + output_overhead_macs)`` MAC-equivalents
instead of its MACs (SIMD tiles of output/input channels, fixed per-output cost), so one efficiency
follows both shallow (Cin = 3..32) and deep convolutions. A spatial CONV_2D that XNNPACK runs also reads its
indirection pointers on every call (one per output pixel and tap, :mod:`edgekit.profile.indirection`), at the
bandwidth of the level they fit in, divided by the thread speed-up like its work; the share of them the cold-weight
rule below puts out of cache, at the memory's bandwidth (:func:`edgekit.profile.indirection.pointer_ms`).

Cold weights (optional ``[memory] weight_cache_bytes`` / ``cold_weight_gb_per_s``, written by calibrate): a
whole model whose weights plus activation arena plus XNNPACK's indirection pointers pass what the cache keeps between
invokes meets a share ``1 - weight_cache_bytes / (weights + arena + pointers)`` of every op's weights out of cache, at ``cold_weight_gb_per_s``
on top of the op's time (:mod:`edgekit.profile.memory`; single-op benchmarks run hot); past one thread, a GEMM of
one row tile that XNNPACK splits by output channels reads only its share of them on each thread
(:func:`edgekit.profile.parallel.splits_channels`).

State ops (optional ``[runtime] state_op_us``, written by calibrate): VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE
and CALL_ONCE cost that each, wherever they run (:mod:`edgekit.calibrate.overheads`).

Threads (optional ``[parallel]``, written by calibrate): past one thread, an op XNNPACK splits over its threads
(more than one of its tiles, :func:`edgekit.profile.parallel.splits`) pays ``dispatch_us[threads]`` on top; a
single-threaded builtin op after it runs ``handoff_share[threads]`` slower, by at most ``handoff_cap_us[threads]``
over the builtin ops until the next split (XNNPACK's workers still spin; :mod:`edgekit.calibrate.handoff`), and
the ops XNNPACK runs inline after it ``inline_share[threads]`` slower, by at most ``inline_cap_us[threads]``.
``[thread_scaling]`` (also calibrate's) scales an op key's gain past one thread (builtin dynamic-range convs ~0.2).

Fused activations are free (they are part of their op), and so are the DENSIFY / float16 DEQUANTIZE nodes of
static weights that XNNPACK takes: the delegate unpacks them once when it is prepared
(:func:`edgekit.profile.delegate.unpacked_at_init`), and a zero PAD of height and width that only a VALID
convolution reads, which XNNPACK folds into it (:func:`edgekit.profile.delegate.fused_pad`), and a quantized
``x * sigmoid(x)`` MUL, which it runs inside the LOGISTIC (:func:`edgekit.profile.delegate.fused_swish`). Ops the cost model does
not know get ``8 * elements`` MACs at the ``other`` efficiency and are flagged
"roughly". The same formula is what ``edgekit calibrate`` fits: for a single-op
benchmark the unknowns are one efficiency, the per-op overhead and the memory
efficiency; thread sweeps give the speed-up curve.

Memory = weights (the mapped model file) + XNNPACK's repacked copy of the
weights of the conv/fully-connected ops it takes (float16/int8 weights that it
dequantizes are counted at float32 size) + the activation arena (best-fit plan,
see :mod:`edgekit.profile.arena`) + persistent (variable) tensors + the
runtime's overhead: the profile's fixed figure plus XNNPACK's indirection buffers (an 8-byte
pointer per output pixel and kernel tap of each conv/depthwise/pool op it takes with k > 1). ``fits`` = that total <= RAM - OS reserve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edgekit.core.result import Basis, strings
from edgekit.errors import ProfileError
from edgekit.profile.arena import Strategy, plan_arena
from edgekit.profile.branches import IfBranch, branch_costs
from edgekit.profile.costs import (
    STATE_OPS,
    TRANSPOSE_CONV_CUSTOM,
    OpCost,
    gemm_shape,
    graph_costs,
    hybrid_handover,
    hybrid_op,
)
from edgekit.profile.delegate import count_graph_partitions, folded_note, place_xnnpack, unpacked_at_init
from edgekit.profile.edgetpu import EdgeTPUSplit, TPUMapping, link_ms, map_edgetpu, tpu_op_ms, tpu_work
from edgekit.profile.gpu import gpu_boundary, gpu_kernel_ms, gpu_kernels, plan_gpu
from edgekit.profile.indirection import indirection_bytes, pointer_ms, timed_pointer_bytes
from edgekit.profile.legacyhybrid import uint8_hybrid_note
from edgekit.profile.memory import cold_fraction, cold_weight_ms, copy_ms, memory_ms
from edgekit.profile.opfigures import (
    POOL_INPUTS_KEY,
    builtin_efficiency,
    efficiency_key,
    gemm_work,
    gemv_gb_per_s,
    keyed_figure,
    op_efficiency_figure,
    op_thread_share,
    op_work,
)
from edgekit.profile.parallel import (
    MULTITHREADED_BUILTINS,
    builtin_pool_ms,
    dispatch_ms,
    handoff_figures,
    inline_figures,
    splits,
    splits_channels,
    two_pools_note,
    uses_builtin_pool,
)
from edgekit.profile.registry import ProfileEntry
from edgekit.profile.rows import charged_rows, narrow_note, one_channel_conv_note, row_ns
from edgekit.profile.schema import Accelerator, Accuracy, DelegateKind, DeviceProfile
from edgekit.profile.signs import SIGNS_KEY, sign_dependent, signs_note
from edgekit.report import ms_figure
from edgekit.tflite.model import Subgraph, TFLiteModel

REPACKED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", TRANSPOSE_CONV_CUSTOM})
UNPACKED_NOTE = "static weights: XNNPACK unpacks them once, when the model is loaded (no cost per inference)"


class Where:
    XNNPACK = "cpu:xnnpack"
    BUILTIN = "cpu:builtin"
    EDGETPU = "edgetpu"
    GPU = "gpu"


@dataclass(frozen=True)
class OpEstimate:
    """One op's estimated latency and where it runs."""

    index: int
    op: str
    dtype: str
    op_class: str
    macs: int
    bytes: int
    latency_ms: float
    runs_on: str
    roughly: bool  # the cost model does not know the op: 8 MACs per element at the "other" efficiency
    note: str = ""  # why the delegate refused it

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "dtype": self.dtype, "op_class": self.op_class,
                "macs": self.macs, "bytes": self.bytes, "latency_ms": ms_figure(self.latency_ms),
                "runs_on": self.runs_on, "estimated_roughly": self.roughly, "note": self.note}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpEstimate:
        return cls(int(d["index"]), str(d["op"]), str(d["dtype"]), str(d["op_class"]), int(d["macs"]),
                   int(d["bytes"]), float(d["latency_ms"]), str(d["runs_on"]), bool(d["estimated_roughly"]),
                   str(d.get("note", "")))


@dataclass(frozen=True)
class DeviceEstimate:
    """Estimated latency, peak memory and fit of one model on one device profile (every figure ESTIMATED)."""

    device: str
    name: str
    profile_source: str  # shipped | user | calibrated
    profile_file: str
    threads: int
    latency_ms: float
    peak_memory_bytes: int
    weights_bytes: int
    repacked_weights_bytes: int
    arena_bytes: int
    persistent_bytes: int
    runtime_overhead_bytes: int
    usable_ram_bytes: int
    fits: bool
    delegate_partitions: int
    # graph order from :func:`estimate`; read back with ``from_dict`` they keep the JSON's order (slowest first)
    ops: tuple[OpEstimate, ...]
    fitted_on: tuple[str, ...]
    edgetpu: EdgeTPUSplit | None = None
    notes: tuple[str, ...] = field(default=())
    indirection_bytes: int = 0  # XNNPACK's indirection buffers, included in runtime_overhead_bytes
    accuracy: Accuracy | None = None  # the profile's expected error band (None: the profile states none)
    if_branches: tuple[IfBranch, ...] = ()  # IFs costed at their cheaper branch, with what the other adds

    @property
    def latency_band(self) -> str:
        """e.g. '±18% (LOO, 23 rows)', or 'unknown' when the profile was never tested against measurements."""
        return self.accuracy.band if self.accuracy is not None else "unknown"

    basis: ClassVar[Basis] = Basis.ESTIMATED

    @property
    def roughly_ops(self) -> list[str]:
        return sorted({o.op for o in self.ops if o.roughly})

    @property
    def ram_headroom_bytes(self) -> int:
        return self.usable_ram_bytes - self.peak_memory_bytes

    def _band_dict(self) -> dict[str, Any] | None:
        a = self.accuracy
        if a is None:
            return None
        lat = ms_figure(self.latency_ms)  # the JSON's figure, so that a saved result reads back to the same band
        return {"relative": round(a.median_abs_error, 4), "low_ms": ms_figure(lat * (1 - a.median_abs_error)),
                "high_ms": ms_figure(lat * (1 + a.median_abs_error)), "text": a.band, "method": a.method,
                "rows": a.rows, "p90_relative": a.p90_abs_error, "within_20": a.within_20, "within_35": a.within_35,
                "note": a.note}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "device": self.device, "name": self.name, "profile_source": self.profile_source,
            "profile_file": self.profile_file, "estimated": True,
            "threads": self.threads, "latency_ms": ms_figure(self.latency_ms),
            "latency_ms_band": self._band_dict(),
            "peak_memory_bytes": self.peak_memory_bytes, "weights_bytes": self.weights_bytes,
            "repacked_weights_bytes": self.repacked_weights_bytes, "arena_bytes": self.arena_bytes,
            "persistent_bytes": self.persistent_bytes, "runtime_overhead_bytes": self.runtime_overhead_bytes,
            "indirection_bytes": self.indirection_bytes, "usable_ram_bytes": self.usable_ram_bytes,
            "ram_headroom_bytes": self.ram_headroom_bytes, "fits": self.fits,
            "delegate_partitions": self.delegate_partitions, "estimated_roughly_ops": self.roughly_ops,
            "fitted_on": list(self.fitted_on), "notes": list(self.notes),
            "if_branches": [b.to_dict() for b in self.if_branches],
            # slowest first, as people read it (a stable sort: ties keep graph order); "index" gives the graph order
            "ops": [o.to_dict() for o in sorted(self.ops, key=lambda o: -o.latency_ms)],
        }
        if self.edgetpu is not None:
            out["edgetpu"] = self.edgetpu.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeviceEstimate:
        tpu = d.get("edgetpu")
        return cls(
            device=str(d["device"]), name=str(d["name"]), profile_source=str(d["profile_source"]),
            profile_file=str(d["profile_file"]), threads=int(d["threads"]), latency_ms=float(d["latency_ms"]),
            peak_memory_bytes=int(d["peak_memory_bytes"]), weights_bytes=int(d["weights_bytes"]),
            repacked_weights_bytes=int(d["repacked_weights_bytes"]), arena_bytes=int(d["arena_bytes"]),
            persistent_bytes=int(d["persistent_bytes"]), runtime_overhead_bytes=int(d["runtime_overhead_bytes"]),
            usable_ram_bytes=int(d["usable_ram_bytes"]), fits=bool(d["fits"]),
            delegate_partitions=int(d["delegate_partitions"]),
            ops=tuple(OpEstimate.from_dict(o) for o in d["ops"]), fitted_on=strings(d["fitted_on"]),
            edgetpu=EdgeTPUSplit.from_dict(tpu) if tpu is not None else None, notes=strings(d["notes"]),
            indirection_bytes=int(d.get("indirection_bytes", 0)),
            accuracy=_accuracy_from_band(d.get("latency_ms_band")),
            if_branches=tuple(IfBranch.from_dict(b) for b in d.get("if_branches", [])),
        )


def _accuracy_from_band(band: Any) -> Accuracy | None:
    if not isinstance(band, Mapping):
        return None
    return Accuracy(method=str(band["method"]), rows=int(band["rows"]), median_abs_error=float(band["relative"]),
                    p90_abs_error=band.get("p90_relative"), within_20=band.get("within_20"),
                    within_35=band.get("within_35"), note=str(band.get("note", "")))


def cpu_op_ms(profile: DeviceProfile, cost: OpCost, delegated: bool, threads: int, key: str | None = None,
              work: float | None = None, model_weight_bytes: int = 0, rows: int = 0,
              stream_gb_per_s: float | None = None) -> float:
    """Estimated milliseconds of one op on the profile's CPU (see the module docstring).

    ``delegated``: XNNPACK runs it (False: LiteRT's builtin kernel, also for every op when the profile's
    delegate is "none"); ``key``: the op's efficiency key (:func:`efficiency_key`), when it can differ from
    the op name; ``work``: MAC-equivalents under the ``[gemm]`` figures (:func:`op_work`), instead of its MACs;
    ``rows``: its kernel rows charged at ``[row_ns]`` (:func:`edgekit.profile.rows.charged_rows`);
    ``stream_gb_per_s``: a one-row GEMM's weight stream rate (:func:`gemv_gb_per_s`), which then replaces its work."""
    if sign_dependent(profile, cost.op, cost.compute_dtype,
                      delegated and profile.runtime.delegate != DelegateKind.NONE, key):
        # a builtin int8 RELU: halfway between its random-sign and channel-sign figures (edgekit.profile.signs)
        return sum(_op_ms(profile, cost, delegated, threads, k, work, model_weight_bytes, rows, stream_gb_per_s)
                   for k in (key, SIGNS_KEY)) / 2
    return _op_ms(profile, cost, delegated, threads, key, work, model_weight_bytes, rows, stream_gb_per_s)


def _op_ms(profile: DeviceProfile, cost: OpCost, delegated: bool, threads: int, key: str | None,
           work: float | None, model_weight_bytes: int, rows: int, stream_gb_per_s: float | None) -> float:
    rt = profile.runtime
    if rt.state_op_us is not None and cost.op in STATE_OPS:
        return rt.state_op_us / 1000.0  # a streaming model's state: dispatch and a few hundred bytes, measured
    dtype = cost.compute_dtype
    on_builtin = not delegated and rt.delegate != DelegateKind.NONE  # LiteRT's kernel where the delegate could run
    op_eff = op_efficiency_figure(profile, dtype, cost.op, key, builtin=on_builtin)
    overhead_us = rt.per_op_overhead_us
    if delegated and rt.delegate != DelegateKind.NONE:
        eff = op_eff if op_eff is not None else profile.efficiency.table(dtype).of(cost.op_class)
        speedup = full = rt.thread_speedup.at(dtype, threads)
    else:
        # a per-op figure was measured where the runtime placed the op: no builtin factor on top
        eff = op_eff if op_eff is not None else builtin_efficiency(profile, dtype, cost.op_class)
        full = (rt.thread_speedup_builtin or rt.thread_speedup).at(dtype, threads)
        speedup = full if cost.op_class in MULTITHREADED_BUILTINS else 1.0
        if rt.builtin_per_op_overhead_us is not None:
            overhead_us = rt.builtin_per_op_overhead_us
    share = op_thread_share(profile, dtype, key or cost.op, on_builtin) if threads > 1 else None
    if share is not None:  # measured for this kernel (a builtin one's: whatever its class)
        speedup = max(1.0, 1.0 + share * (full - 1.0))
    peak = profile.peak_gmacs_per_core(dtype) * 1e9
    if work is None and cost.macs == 0 and cost.moved_elements and op_eff is not None:
        work = float(cost.moved_elements)  # data movement with a calibrated per-op figure (see OpCost)
    compute_ms = 1000.0 * (cost.macs if work is None else work) / (peak * eff * speedup)
    if stream_gb_per_s:  # one multiply-add per weight: the weight stream is the time
        compute_ms = 1000.0 * cost.weight_bytes / (stream_gb_per_s * 1e9 * speedup)
    if rows and profile.row_ns is not None:
        table = profile.row_ns.table(dtype)
        ns = table.get(POOL_INPUTS_KEY) if key == POOL_INPUTS_KEY else \
            row_ns(table, cost.op, delegated and rt.delegate != DelegateKind.NONE)
        compute_ms += rows * (ns or 0.0) * 1e-6 / speedup
    return max(compute_ms, memory_ms(profile, cost, threads, model_weight_bytes)) + overhead_us / 1000.0


def cpu_placement(profile: DeviceProfile, sg: Subgraph) -> tuple[list[bool], list[str]]:
    """Per op: does XNNPACK run it on this profile, and if not, why (all False with delegate = "none")."""
    if profile.runtime.delegate == DelegateKind.XNNPACK:
        placed = place_xnnpack(sg)
        return [p.delegated for p in placed], [p.reason for p in placed]
    return [False] * len(sg.operators), [""] * len(sg.operators)


def _cpu_ops(profile: DeviceProfile, sg: Subgraph, costs: list[OpCost], include: list[bool],
             threads: int, arena_bytes: int = 0) -> tuple[list[OpEstimate], float, int]:
    """Estimates of the ops in ``include`` on the CPU; (ops, total ms incl. partition/invoke overhead, partitions).
    ``arena_bytes``: the activations' arena, part of the working set that evicts weights between invokes."""
    placement, reasons = cpu_placement(profile, sg)
    model_weights = sum(c.weight_bytes for c in costs)  # what whole-model caching sees (see memory_ms)
    # XNNPACK's pointers are read on every call like the weights (edgekit.profile.indirection)
    cold = cold_fraction(profile.memory, model_weights + arena_bytes + _indirection_bytes(profile, sg, include))
    dispatch = dispatch_ms(profile.parallel, threads) if profile.runtime.delegate == DelegateKind.XNNPACK else 0.0
    handover = profile.runtime.hybrid_handover_factor or 1.0
    handoff = handoff_figures(profile.parallel, threads) if dispatch else None
    handoff_left = 0.0  # what the builtin ops after the last split op may still pay (the cap, used up)
    inline = inline_figures(profile.parallel, threads) if dispatch else None
    inline_left = 0.0  # and the ops XNNPACK runs inline after it
    pool = builtin_pool_ms(profile.parallel, threads) if profile.runtime.delegate != DelegateKind.NONE else 0.0
    ops: list[OpEstimate] = []
    total = 0.0
    for cost, inc, deleg, why in zip(costs, include, placement, reasons, strict=True):
        if not inc:
            continue
        node = sg.operators[cost.index]
        unpacked = deleg and unpacked_at_init(sg, node)
        folded = folded_note(sg, node, placement)
        rows = charged_rows(profile.row_ns, sg, node, deleg) if profile.row_ns is not None else 0
        ms = 0.0 if unpacked or folded else cpu_op_ms(profile, cost, deleg, threads, efficiency_key(sg, node, deleg),
                                            op_work(profile, sg, node, cost, deleg), model_weights, rows,
                                            gemv_gb_per_s(profile, sg, node, cost, deleg))
        if handover != 1.0 and cost.index > 0 and hybrid_handover(sg, node, placement):
            ms *= handover
        pointers = timed_pointer_bytes(profile, sg, node, deleg) if ms > 0 else 0
        if pointers:  # read on every call, split over the threads like the op's work
            ms += pointer_ms(profile, pointers, cold) / profile.runtime.thread_speedup.at(cost.compute_dtype, threads)
        parallel = profile.parallel if ms > 0 and deleg and dispatch else None
        split = parallel is not None and splits(parallel, sg, node, cost.compute_dtype)
        if ms > 0 and cold > 0:  # one row tile split by channels: each thread reads its share of the weights
            readers = threads if split and parallel is not None and splits_channels(parallel, sg, node) else 1
            ms += cold_weight_ms(profile.memory, cost.weight_bytes, cold, threads) / readers
        if pool and not deleg and ms > 0 and uses_builtin_pool(sg, node, cost.macs):
            ms += pool  # LiteRT's own pool in a graph, beyond the kernel's time alone (calibrate measured it)
        if split:
            ms += dispatch  # handed to the worker threads and waited for
            handoff_left = handoff[1] if handoff else 0.0
            inline_left = inline[1] if inline else 0.0
        elif handoff and handoff_left > 0 and ms > 0 and not deleg and cost.op_class not in MULTITHREADED_BUILTINS:
            extra = min(handoff[0] * ms, handoff_left)  # on the calling thread while the workers still spin
            ms += extra
            handoff_left -= extra
        elif inline and inline_left > 0 and ms > 0 and deleg:
            extra = min(inline[0] * ms, inline_left)  # XNNPACK's inline ops, likewise
            ms += extra
            inline_left -= extra
        total += ms
        where = Where.XNNPACK if deleg else Where.BUILTIN
        note = (UNPACKED_NOTE if unpacked else folded or
                "" if deleg or profile.runtime.delegate == DelegateKind.NONE else why)
        ops.append(OpEstimate(cost.index, cost.op, cost.dtype, cost.op_class.value, cost.macs, cost.bytes, ms,
                              where, not cost.known and not unpacked, note))  # unpacked: exactly 0 per inference
    deleg_mask = [d and i for d, i in zip(placement, include, strict=True)]
    partitions = count_graph_partitions(sg, deleg_mask)
    if any(include):
        total += max(0, partitions - 1) * profile.runtime.partition_overhead_us / 1000.0
        total += profile.runtime.invoke_overhead_us / 1000.0
    return ops, total, partitions


def _repacked_bytes(profile: DeviceProfile, sg: Subgraph, include: list[bool]) -> int:
    if not profile.runtime.repack_weights or profile.runtime.delegate != DelegateKind.XNNPACK:
        return 0
    placement = place_xnnpack(sg)
    total = 0
    seen: set[int] = set()
    producers = {o: op for op in sg.operators for o in op.outputs}
    for op, p in zip(sg.operators, placement, strict=True):
        if not (p.delegated and include[op.index] and op.name in REPACKED_OPS):
            continue
        for pos in (1, 2):
            if pos >= len(op.inputs) or op.inputs[pos] < 0:
                continue
            t = sg.tensor(op.inputs[pos])
            if t.is_constant:
                if t.buffer not in seen:
                    seen.add(t.buffer)
                    total += t.nbytes
            elif t.index in producers and producers[t.index].name == "DEQUANTIZE":
                total += t.num_elements * 4  # float16/int8 weights dequantized to float32 at init
    return total


def _indirection_bytes(profile: DeviceProfile, sg: Subgraph, include: list[bool]) -> int:
    """XNNPACK's indirection buffers: one input-row pointer per output pixel and kernel tap, kept for the
    life of the interpreter, for every delegated conv/depthwise/pool with more than one tap (1x1 convs
    are plain GEMMs). NASNet-Mobile's 5x5/7x7 depthwise stacks make 16-17 MiB of them."""
    if profile.runtime.delegate != DelegateKind.XNNPACK:
        return 0
    return indirection_bytes(sg, include)


def _gpu_estimate(profile: DeviceProfile, sg: Subgraph, costs: list[OpCost],
                  threads: int) -> tuple[list[OpEstimate], float, int, list[str]]:
    gpu = profile.gpu
    if gpu is None:
        raise ProfileError(f"device profile {profile.id} has no [gpu] section.", hint="Add the [gpu] figures.")
    plan = plan_gpu(sg)
    ops: list[OpEstimate] = []
    total = 0.0
    for k in gpu_kernels(sg, costs, plan.kernels):
        ms = gpu_kernel_ms(profile, k, gpu.precision)
        total += ms
        members = k.members
        for j, i in enumerate(members):
            c = costs[i]
            ops.append(OpEstimate(c.index, c.op, c.dtype, c.op_class.value, c.macs, c.bytes, ms if j == 0 else 0.0,
                                  Where.GPU, not c.known, "" if j == 0 else f"linked into the kernel of op #{members[0]}"))
    in_kernel = {i for k in plan.kernels for i in k}
    for c in costs:  # float16-weight DEQUANTIZEs the delegate absorbed: it reads their float16 weights itself
        if plan.on_gpu[c.index] and c.index not in in_kernel:
            ops.append(OpEstimate(c.index, c.op, c.dtype, c.op_class.value, c.macs, c.bytes, 0.0, Where.GPU, False,
                                  "float16 weights read directly by the GPU delegate (no kernel)"))
    cpu_include = [not g for g in plan.on_gpu]
    cpu_ops, cpu_ms, _ = _cpu_ops(profile, sg, costs, cpu_include, threads) if any(cpu_include) else ([], 0.0, 0)
    total += plan.partitions * gpu.invoke_overhead_us / 1000.0
    notes = []
    if any(cpu_include):
        boundary, crossings = gpu_boundary(sg, plan.on_gpu)
        total += 1000.0 * boundary / (gpu.transfer_gb_per_s * 1e9) + crossings * gpu.partition_overhead_us / 1000.0
        refused = sorted({costs[i].op for i, r in enumerate(plan.reasons) if r and not plan.on_gpu[i]})
        notes.append(f"GPU delegate leaves {sum(cpu_include)} op(s) on the CPU ({', '.join(refused)}): "
                     f"{plan.partitions} GPU partition(s), {crossings} CPU/GPU hand-over(s)")
    reasons = {i: r for i, r in enumerate(plan.reasons) if r}
    cpu_ops = [dataclasses.replace(o, note=reasons.get(o.index, o.note)) for o in cpu_ops]
    return ops + cpu_ops, total + cpu_ms, plan.partitions, notes


def _edgetpu_estimate(profile: DeviceProfile, model: TFLiteModel, costs: list[OpCost], threads: int,
                      ) -> tuple[list[OpEstimate], float, TPUMapping, EdgeTPUSplit, list[bool]]:
    tpu = profile.edgetpu
    if tpu is None:
        raise ProfileError(f"device profile {profile.id} has no [edgetpu] section.", hint="Add the [edgetpu] figures.")
    sg = model.main
    mapping = map_edgetpu(model, tpu.parameter_cache_bytes)
    ops: list[OpEstimate] = []
    tpu_ms = 0.0
    for w in tpu_work(sg, mapping, [c.macs for c in costs]):
        cost = costs[w.index]
        ms = tpu_op_ms(tpu, w)
        tpu_ms += ms
        note = f"{w.streamed_bytes:,} parameter bytes streamed" if w.streamed_bytes else ""
        ops.append(OpEstimate(cost.index, cost.op, cost.dtype, cost.op_class.value, cost.macs, cost.bytes, ms,
                              Where.EDGETPU, False, note))
    link = 0.0
    if mapping.mapped_ops:
        tpu_ms += tpu.invoke_overhead_us / 1000.0
        link = link_ms(tpu, sg, mapping.mapped)
    cpu_include = [not m for m in mapping.mapped]
    cpu_ops, cpu_ms, _ = _cpu_ops(profile, sg, costs, cpu_include, threads) if any(cpu_include) else ([], 0.0, 0)
    report = EdgeTPUSplit(
        mapped_ops=mapping.mapped_ops, cpu_ops=mapping.cpu_ops, first_unmapped_op=mapping.first_unmapped,
        cached_parameter_bytes=mapping.cached_parameter_bytes,
        streamed_parameter_bytes=mapping.streamed_parameter_bytes,
        tpu_ms=round(tpu_ms, 3), link_ms=round(link, 3), cpu_ms=round(cpu_ms, 3),
        integer_model=mapping.integer_model, note=mapping.note,
    )
    return ops + cpu_ops, tpu_ms + link + cpu_ms, mapping, report, cpu_include


def _hybrid_note(profile: DeviceProfile, sg: Subgraph, cpu_mask: list[bool], placement: list[bool]) -> list[str]:
    """Say so when dynamic-range ops are estimated at int8 rates because the profile has no figure for them."""
    hybrid = [op for op, on_cpu in zip(sg.operators, cpu_mask, strict=True) if on_cpu and hybrid_op(sg, op)]
    if not hybrid:
        return []
    keys = [efficiency_key(sg, op, placement[op.index]) for op in hybrid]
    # a uint8 conv priced at the per-channel builtin figure (its fallback) gets legacyhybrid's note instead
    missing = sorted({k for k in keys if keyed_figure(profile, "int8", k) is None})
    if missing:
        count = sum(1 for k in keys if k in missing)
        return [f"{count} dynamic-range op(s) ({', '.join(missing)}: float activations, int8 weights) estimated at "
                "the profile's int8 rates, for which it has no measured figure; their kernels can be several times "
                "slower (measured on an x86 host: docs/BENCHMARKS.md). `edgekit calibrate` on the device measures "
                "them"]
    if profile.runtime.hybrid_handover_factor is None and any(hybrid_handover(sg, op, placement) for op in hybrid):
        return ["builtin dynamic-range depthwise ops right after XNNPACK's 1x1 dynamic-range convs: on this "
                "project's x86 host each ran 1.6-2.9x its time alone, which this profile has no figure for "
                "(`edgekit calibrate` measures it: hybrid_handover_factor; docs/BENCHMARKS.md)"]
    return []


def estimate(model: TFLiteModel, entry: ProfileEntry, threads: int | None = None) -> DeviceEstimate:
    """Estimate latency, memory and fit of ``model`` on the device of ``entry``."""
    profile = entry.profile
    sg = model.main
    n_threads = max(1, min(threads or profile.runtime.default_threads, profile.hardware.cores))
    costs = graph_costs(sg, model.subgraphs)
    all_ops = [True] * len(costs)
    plan = plan_arena(sg, Strategy.BEST_FIT, 64)
    notes: list[str] = []
    branches: list[IfBranch] = []
    edgetpu_report: EdgeTPUSplit | None = None
    cpu_mask = all_ops
    if profile.accelerator == Accelerator.EDGETPU:
        ops, latency, mapping, edgetpu_report, cpu_mask = _edgetpu_estimate(profile, model, costs, n_threads)
        if mapping.note:
            notes.append(mapping.note)
        partitions = count_graph_partitions(sg, [p.delegated and c for p, c in zip(place_xnnpack(sg), cpu_mask, strict=True)])
    elif profile.accelerator == Accelerator.GPU:
        ops, latency, partitions, gpu_notes = _gpu_estimate(profile, sg, costs, n_threads)
        notes.extend(gpu_notes)
        cpu_mask = [o.runs_on != Where.GPU for o in sorted(ops, key=lambda o: o.index)]
    else:
        ops, latency, partitions = _cpu_ops(profile, sg, costs, all_ops, n_threads, plan.arena_bytes)
        branches = branch_costs(sg, model.subgraphs, all_ops, lambda b: sum(o.latency_ms for o in _cpu_ops(
            profile, b, graph_costs(b, model.subgraphs), [True] * len(b.operators), n_threads)[0]),
            lambda nbytes: copy_ms(profile, nbytes))
        notes.extend(b.note for b in branches)
    if profile.accelerator != Accelerator.GPU:
        placement = cpu_placement(profile, sg)[0]
        notes.extend(_hybrid_note(profile, sg, cpu_mask, placement))
        notes.extend(uint8_hybrid_note(profile, sg, cpu_mask))
        notes.extend(narrow_note(profile.row_ns, sg, cpu_mask, placement))
        notes.extend(signs_note(profile, ops))
        notes.extend(one_channel_conv_note(sg, cpu_mask, placement))
        if profile.runtime.delegate == DelegateKind.XNNPACK:
            notes.extend(two_pools_note(sg, placement, cpu_mask, n_threads,
                                        1000.0 * builtin_pool_ms(profile.parallel, n_threads), profile.hardware.cores))
    if threads and threads > profile.hardware.cores:
        notes.append(f"{threads} threads requested; the device has {profile.hardware.cores} cores, "
                     f"estimated at {n_threads}")
    repacked = _repacked_bytes(profile, sg, cpu_mask)
    overhead = profile.runtime.runtime_overhead_bytes + (profile.gpu.runtime_overhead_bytes if profile.gpu else 0)
    weights = model.weight_bytes
    # the runtime's own memory: the profile's fixed overhead plus XNNPACK's model-dependent indirection buffers
    indirection = _indirection_bytes(profile, sg, cpu_mask)
    overhead += indirection
    peak = weights + repacked + plan.arena_bytes + plan.persistent_bytes + overhead
    rough = sorted({o.op for o in ops if o.roughly})
    if rough:
        notes.append(f"estimated roughly (ops the cost model does not know): {', '.join(rough)}")
    return DeviceEstimate(
        device=profile.id, name=profile.name, profile_source=entry.origin.value, profile_file=entry.file,
        threads=n_threads,
        latency_ms=latency, peak_memory_bytes=peak, weights_bytes=weights, repacked_weights_bytes=repacked,
        arena_bytes=plan.arena_bytes, persistent_bytes=plan.persistent_bytes, runtime_overhead_bytes=overhead,
        usable_ram_bytes=profile.usable_ram_bytes, fits=peak <= profile.usable_ram_bytes,
        delegate_partitions=partitions, ops=tuple(sorted(ops, key=lambda o: o.index)),
        fitted_on=profile.fitted_on, edgetpu=edgetpu_report, notes=tuple(notes), indirection_bytes=indirection,
        accuracy=profile.accuracy, if_branches=tuple(branches),
    )


__all__ = ["Where", "OpEstimate", "EdgeTPUSplit", "DeviceEstimate", "cpu_op_ms", "efficiency_key", "gemm_shape", "gemm_work", "op_work",
           "indirection_bytes", "estimate"]
