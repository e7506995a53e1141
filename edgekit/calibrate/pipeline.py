"""`edgekit calibrate` end to end: measure this machine, fit, write a validated device profile."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.calibrate.blocks import block_suite
from edgekit.calibrate.builtinfc import KEY as BUILTIN_FC_KEY
from edgekit.calibrate.builtinfc import builtin_fc_share
from edgekit.calibrate.builtinpool import measure_builtin_pool
from edgekit.calibrate.coldweights import ColdWeights, fit_cold_weights, least_disturbed, measure_chains
from edgekit.calibrate.fit import GEMM_TILES, FitResult, Peaks, apply_gemm, fit_gemm, fit_profile_figures
from edgekit.calibrate.gemv import GemvFigures, measure_gemv, measure_shared
from edgekit.calibrate.gemv import faster as faster_gemv
from edgekit.calibrate.handoff import measure_handoff
from edgekit.calibrate.handover import measure_hybrid_handover
from edgekit.calibrate.machine import MachineInfo, detect_machine, measure_bandwidth_gb_s
from edgekit.calibrate.microbench import builtin_op
from edgekit.calibrate.narrow import BUILTIN_EVERY_WIDTH_OPS, EVERY_WIDTH_OPS, narrow_specs, row_tile
from edgekit.calibrate.overheads import (
    MemoryLevels,
    Overheads,
    load_average,
    measure_memory_levels,
    measure_overheads,
    median_levels,
)
from edgekit.calibrate.parallel import ParallelFigures, calm_thresholds, calmest, measure_parallel, middle
from edgekit.calibrate.runner import (
    Measurement,
    block_residuals,
    measure_blocks,
    measure_memory,
    measure_suite,
    memory_specs,
    retime_lesser,
    retime_poor_scaling,
    suite,
)
from edgekit.core import profile_toml
from edgekit.core.progress import status
from edgekit.errors import UsageError

MIN_BUDGET_S = 5.0
# per thread count: the cold-weight chains and the hand-over chains (~3 s each per thread count on this
# project's x86 VM; a Pi runs the same chains slower, in the same budget)
WHOLE_MODEL_RESERVE_S = 6.0
ACTIVATION_BUFFER_BYTES = 4 * 2**20
# efficiencies must stay <= 1: the peak is the theoretical one or, when a kernel beats that (turbo
# clocks, a wrong guess of the FMA pipes), this much above the best rate measured
PEAK_HEADROOM = 1.25
ALL_CLASSES = ("conv", "depthwise_conv", "transpose_conv", "fully_connected", "batch_matmul", "pool",
               "elementwise", "softmax", "resize", "reduce", "data_movement", "other")
# classes the suite does not measure borrow the figure of a measured one
_BORROW: dict[str, tuple[str, ...]] = {
    "transpose_conv": ("conv",),
    "batch_matmul": ("fully_connected", "conv"),
    "data_movement": ("elementwise",),
    "other": ("elementwise",),
    "softmax": ("elementwise",),
    "resize": ("elementwise",),
    "reduce": ("pool", "elementwise"),
    "pool": ("elementwise",),
}


@dataclass(frozen=True)
class CalibrationResult:
    profile_doc: dict[str, Any]
    fit: FitResult
    machine: MachineInfo
    bandwidth_gb_s: float
    elapsed_s: float
    measurements: int
    delegate_disagreements: tuple[str, ...]
    load_average: float = 0.0  # the 1-minute load average when calibrate started (the minute before it)


def best_rate_gmacs(ms: Sequence[Measurement], dtype: str) -> float:
    """The highest one-thread MAC rate measured for ``dtype`` (10^9 MAC/s)."""
    # ops under 20 us are left out: their time is mostly fixed cost and timer granularity
    rates = [m.macs / (m.per_op_ms * 1e6) for m in ms
             if m.threads == 1 and m.dtype == dtype and m.macs and m.per_op_ms >= 0.02 and not m.hybrid]
    return max(rates, default=0.0)


def _complete(table: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    floor = min(table.values()) if table else 0.01
    for cls in ALL_CLASSES:
        if cls in table:
            out[cls] = table[cls]
            continue
        donor = next((table[d] for d in _BORROW.get(cls, ()) if d in table), floor)
        out[cls] = donor
    return {k: float(f"{max(v, 1e-5):.6g}") for k, v in out.items()}


def _delegate_disagreements(fit: FitResult) -> list[str]:
    """(op, dtype) pairs where the estimator's XNNPACK model disagrees with what this runtime did."""
    try:
        from edgekit.profile.delegate import XNNPACK_FLOAT_OPS, XNNPACK_QUANT_OPS
    except ImportError:  # pragma: no cover - the profile package ships with edgekit
        return []
    out = []
    for key, took in sorted(fit.delegated.items()):
        op, dtype = key.rsplit(".", 1)
        model_says = op in (XNNPACK_QUANT_OPS if dtype == "int8" else XNNPACK_FLOAT_OPS)
        if model_says != took:
            out.append(f"{op} {dtype}: the runtime {'took' if took else 'refused'} it, "
                       f"the delegate model says {'taken' if model_says else 'refused'}")
    return out


def schema_has_op_efficiency() -> bool:
    """True when this edgekit's profile schema (and so its estimator) reads per-op efficiencies."""
    from dataclasses import fields

    from edgekit.profile.schema import DeviceProfile

    return any(f.name == "op_efficiency" for f in fields(DeviceProfile))


def schema_has_gemm() -> bool:
    """True when the profile schema (and so the estimator) reads the optional ``[gemm]`` section."""
    from dataclasses import fields

    from edgekit.profile.schema import DeviceProfile

    return any(f.name == "gemm" for f in fields(DeviceProfile))


def _gemm_section(fit: FitResult, gemv: GemvFigures | None = None) -> dict[str, Any]:
    if not fit.gemm:
        return {}
    out: dict[str, Any] = {}
    for dtype, (tile_n, tile_k, k0, igemm) in sorted(fit.gemm.items()):
        out[f"{dtype}_tile_n"] = int(tile_n)
        out[f"{dtype}_tile_k"] = int(tile_k)
        out[f"{dtype}_output_overhead_macs"] = float(k0)
        if igemm:
            out[f"{dtype}_igemm_tile_n"] = int(igemm)
        if dtype in fit.tconv_overhead:
            out[f"{dtype}_tconv_output_overhead_macs"] = float(fit.tconv_overhead[dtype])
    if fit.hybrid_element_macs:
        out["hybrid_element_macs"] = float(fit.hybrid_element_macs)
    if any(fit.uint8_hybrid_element_macs):
        out["uint8_hybrid_input_macs"], out["uint8_hybrid_output_macs"] = map(float, fit.uint8_hybrid_element_macs)
    if gemv is not None:
        out.update(gemv.to_doc())
    return {"gemm": out}


def build_profile_doc(device_id: str, name: str, fit: FitResult, machine: MachineInfo, peaks: Peaks,
                      invoke_overhead_us: float, partition_overhead_us: float, runtime: str,
                      threads: Sequence[int], n_specs: int, overheads: Overheads | None = None,
                      levels: MemoryLevels | None = None, timing: str = "cpu",
                      handover: float | None = None, cold: ColdWeights | None = None,
                      parallel: ParallelFigures | None = None, gemv: GemvFigures | None = None,
                      shared: tuple[float, ...] | None = None) -> dict[str, Any]:
    """The profile as a TOML-ready dict (schema_version 1)."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = platform.node() or "this machine"
    peak_fp32 = round(peaks.fp32_gmacs, 3)
    peak_int8 = round(peaks.int8_gmacs, 3)
    residuals = {k: float(v) for k, v in fit.residuals.items()}
    # a fitted memory efficiency above 1 means bytes-bound ops beat the measured copy bandwidth (tensors
    # stay in cache): write the effective bandwidth and efficiency 1, as the schema wants efficiency <= 1
    bandwidth = round(peaks.bandwidth_gb_s * max(1.0, fit.memory_efficiency), 2)
    mem_eff = min(1.0, fit.memory_efficiency)
    memory: dict[str, Any] = {}
    if levels is not None:
        memory = {"memory": {"cache_bytes": list(levels.cache_bytes),
                             "bandwidth_gb_per_s": [round(b * max(1.0, fit.memory_efficiency), 2)
                                                    for b in levels.bandwidth_gb_per_s],
                             "private_levels": levels.private_levels}}
        if cold is not None:
            memory["memory"].update(weight_cache_bytes=cold.weight_cache_bytes,
                                    cold_weight_gb_per_s=list(cold.cold_weight_gb_per_s))
        if shared is not None:
            memory["memory"]["shared_speedup"] = list(shared)
    fixed: dict[str, Any] = {}
    if overheads is not None:
        fixed = {"builtin_per_op_overhead_us": round(overheads.builtin_op_us, 4),
                 "state_op_us": round(overheads.state_op_us, 4)}
    if handover is not None:
        fixed["hybrid_handover_factor"] = round(handover, 3)
    return {
        "schema_version": 1,
        "id": device_id,
        "name": name,
        "accelerator": "cpu",
        "fitted_on": [f"edgekit calibrate on {host} at {now}: {n_specs} micro-benchmarks x threads "
                      f"{','.join(str(t) for t in threads)} + builtin kernels, {runtime}"],
        "notes": (f"Fitted by `edgekit calibrate` on {machine.core_type} ({machine.arch}); latency figures are "
                  f"least-squares fits of micro-benchmark timings, memory figures of measured peak RSS. "
                  f"Weights cost {fit.weight_rss_factor:.2f} bytes of RSS per weight byte here. Peak MAC rates: "
                  f"the theoretical ones or {PEAK_HEADROOM}x the best measured rate, whichever is higher; "
                  f"memory bandwidth: measured copy bandwidth on 4 MiB buffers ({peaks.bandwidth_gb_s} GB/s) times "
                  f"the fitted memory efficiency where bytes-bound ops ran faster than that (cache)."),
        "hardware": {
            "cores": machine.cores,
            "core_type": machine.core_type,
            "clock_ghz": machine.clock_ghz,
            "simd": machine.simd,
            "simd_width_bits": machine.simd_width_bits,
            "dot_product": machine.dot_product,
            "peak_fp32_gmacs_per_core": peak_fp32,
            "peak_int8_gmacs_per_core": peak_int8,
            "memory_bandwidth_gb_per_s": bandwidth,
            "ram_bytes": machine.ram_bytes,
            "storage": "unknown",
        },
        "runtime": {
            "delegate": "xnnpack",
            "default_threads": 1,
            "per_op_overhead_us": round(fit.per_op_overhead_us, 3),
            "partition_overhead_us": round(partition_overhead_us, 3),
            "invoke_overhead_us": round(invoke_overhead_us, 3),
            "builtin_kernel_factor": round(fit.builtin_kernel_factor, 4),
            "memory_efficiency": round(mem_eff, 4),
            "runtime_overhead_bytes": int(fit.runtime_overhead_bytes),
            "os_reserved_bytes": int(min(machine.ram_bytes // 10, 1 << 30)),
            "repack_weights": fit.repack_weights,
            "thread_speedup": {"float32": fit.thread_speedup["float32"], "int8": fit.thread_speedup["int8"]},
            **fixed,
        },
        **memory,
        "efficiency": {
            "float32": _complete(fit.efficiency.get("float32", {})),
            "int8": _complete(fit.efficiency.get("int8", {})),
        },
        **({"op_efficiency": {dt: {op: float(f"{max(v, 1e-5):.6g}") for op, v in table.items()}
                              for dt, table in fit.op_efficiency.items() if table}}
           if fit.op_efficiency else {}),
        **_gemm_section(fit, gemv),
        **({"row_ns": {"channel_tile": fit.row_tile, **({"every_width": list(fit.every_width)} if fit.every_width
                                                         else {}), **fit.row_ns}} if fit.row_ns else {}),
        **({"parallel": parallel.to_doc()} if parallel else {}),
        **({"thread_scaling": {dt: dict(table) for dt, table in fit.thread_scaling.items() if table}}
           if any(fit.thread_scaling.values()) else {}),
        "fit": {
            "method": ("edgekit calibrate: time-weighted log-space least squares per op class, op name and dtype "
                       f"(numpy) on single-op micro-benchmarks ({timing} time); fixed costs from tiny-op chains; "
                       "memory levels from copy bandwidths"
                       + ("; cold weights from growing chains of 1x1 convolutions (wall-clock)" if cold else "")
                       + ("; thread hand-over from chains of tiny ops (wall-clock)" if parallel else "")),
            "date": now,
            "machine": f"{host} {machine.core_type} {machine.arch}",
            "samples": fit.samples,
            "rms_relative_error": round(fit.rms_relative_error, 4),
            "max_relative_error": round(fit.max_relative_error, 4),
            "residuals": residuals,
        },
    }


ROWS_RETIME_S = 6.0  # seconds for timing again the micro-benchmarks of the ops with a per-row figure
RETIME_MAX_S = 12.0  # seconds of the budget kept for timing again the micro-benchmarks that scaled poorly


def run_calibration(device_id: str, threads: Sequence[int], budget_s: float, name: str | None = None,
                    timing: str = "cpu") -> CalibrationResult:
    """Measure and fit; nothing is written (see :func:`write_profile`). ``timing``: "cpu" (process CPU time per
    invoke / threads: robust to other processes, and the wall time of one thread on an idle board) or "wall" (the
    wall-clock medians). CPU time whatever the load: on this project's 2-vCPU VM, against one set of whole-model
    measurements (2026-12-04, docs/BENCHMARKS.md), three CPU-time calibrations put 49, 54 and 55 of 100 held-out
    rows within ±10% and three wall-clock ones 39, 41 and 55, the worst of them timed at an idle moment."""
    from edgekit.tflite.runtime import runtime_info

    if budget_s < MIN_BUDGET_S:
        raise UsageError(f"--budget-s {budget_s:g} is too short.", hint=f"Give at least {MIN_BUDGET_S:g} seconds.")
    start = time.monotonic()
    machine = detect_machine()
    load = load_average()
    if timing not in ("cpu", "wall"):
        raise ValueError(f"timing must be 'cpu' or 'wall', not {timing!r}")
    wall = timing == "wall"
    timing_used = "wall-clock" if wall else "process CPU"
    # activations of edge CNNs are 0.1-4 MiB: the bandwidth that matters is that of buffers this size
    bandwidth = measure_bandwidth_gb_s(ACTIVATION_BUFFER_BYTES)
    dram_bandwidth = measure_bandwidth_gb_s(64 * 2**20, repeats=3)
    levels = measure_memory_levels()
    overheads = measure_overheads()
    status(f"calibrate: {machine.cores} x {machine.core_type} @ {machine.clock_ghz} GHz, {machine.simd}, "
           f"copy bandwidth {bandwidth} GB/s on 4 MiB buffers, {dram_bandwidth} GB/s on 64 MiB (measured); "
           f"load average {load:.2f}: timing by {timing_used}; fixed costs: invoke {overheads.invoke_us:.2f} us, "
           f"per op {overheads.xnnpack_op_us:.3f} us (XNNPACK) / {overheads.builtin_op_us:.3f} us (builtin), "
           f"partition {overheads.partition_us:.3f} us, state op {overheads.state_op_us:.3f} us")
    # the thread hand-over, now and again at the end (a VM's moves between moods of minutes; see parallel.py)
    first_parallel = measure_parallel(max(threads)) if budget_s >= 30 else None
    first_gemv = measure_gemv() if budget_s >= 30 else None  # and again at the end: the faster kept
    # the cold-weight chains too (a few seconds of a neighbour on the memory bus skew one run): the least of both
    first_chains = measure_chains(max(threads)) if budget_s >= 30 and levels is not None else []
    specs = suite(budget_s) + (narrow_specs() if budget_s >= 30 else [])
    block_specs = block_suite(budget_s)
    # memory probes run in fresh processes (their cost depends on how busy the machine is): first; the
    # single-op suite gets what is left after a reserve for the blocks and the fit
    probes = measure_memory(memory_specs(budget_s))
    # the blocks, the fit and (full budget) the whole-model terms run after the suite: their time is kept back
    retime_s = min(RETIME_MAX_S, 0.2 * budget_s) if budget_s >= 30 and max(threads) > 1 else 0.0
    rows_retime_s = ROWS_RETIME_S if budget_s >= 30 else 0.0
    reserve = (0.3 * len(block_specs) + 1.5 + retime_s + rows_retime_s
               + (WHOLE_MODEL_RESERVE_S * max(threads) if budget_s >= 30 else 0.0))
    timing_budget = max(2.0, budget_s - (time.monotonic() - start) - reserve)
    ms, overhead = measure_suite(specs, list(threads), timing_budget, wall=wall)
    # the copy rates of the cache levels again, now and after the hand-over below: their median (the fit's peaks)
    later_levels = [measure_memory_levels()] if levels is not None else []
    mid_parallel = measure_parallel(max(threads)) if budget_s >= 30 else None  # the hand-over's median of three
    if levels is not None:
        three = [levels, *later_levels, measure_memory_levels()]
        levels = median_levels(three)
        status("calibrate: cache-level copy rates " + "; ".join(
            f"{when} {' / '.join(f'{b:g}' for b in m.bandwidth_gb_per_s)} GB/s"
            for when, m in zip(("start", "after the suite", "after the hand-over"), three, strict=True) if m is not None)
            + ": the median per level kept")
    # the kernels that seemed not to scale, twice more (their [thread_scaling] shares): a float 5x5 depthwise that
    # scaled like the rest in every other calibration here came out at 0.62 of the speed-up after one retime, and
    # the MediaPipe detectors' 2-thread estimates 12% over with it
    for _ in range(2 if retime_s else 0):
        ms, retimed = retime_poor_scaling(ms, specs, list(threads), retime_s / 2, wall=wall)
        if retimed:
            status(f"calibrate: timed {retimed} micro-benchmarks again whose speed-up looked low")
    # the ops whose time splits into a per-row and a per-element figure (each fitted on a handful of benchmarks):
    # once more at one thread, the lesser kept. One calibration here fitted the float MUL's per-element figure 5x
    # off (its other MUL benchmarks predicted at 4.5-15x their time, EfficientNet's float estimates 24-26% over)
    # where nine others agreed; likely one disturbed run (its 160x160x2 broadcast predicted at 0.14 of its time,
    # 0.29-0.44 in the others)
    if rows_retime_s:
        again = [sp for sp in specs if builtin_op(sp.op) in (*EVERY_WIDTH_OPS, *BUILTIN_EVERY_WIDTH_OPS)]
        ms = retime_lesser(ms, again, [1], rows_retime_s, wall=wall)
        status(f"calibrate: timed the {len(again)} micro-benchmarks of the per-row ops again (the lesser kept)")
    tiles: dict[str, tuple[int, ...]] | None = (GEMM_TILES.get(machine.simd, {"float32": (1, 1), "int8": (1, 1)})
                                                if schema_has_gemm() else None)
    # peak rates in the units the estimator divides: GEMM work where the [gemm] figures apply
    rated = apply_gemm(ms, fit_gemm([m for m in ms if m.threads == 1 and m.xnnpack and not m.hybrid], tiles)) if tiles else ms
    peaks = Peaks(max(machine.peak_fp32_gmacs_per_core, PEAK_HEADROOM * best_rate_gmacs(rated, "float32")),
                  max(machine.peak_int8_gmacs_per_core, PEAK_HEADROOM * best_rate_gmacs(rated, "int8")),
                  levels.bandwidth_gb_per_s[-2] if levels else bandwidth,
                  levels.cache_bytes if levels else (), levels.bandwidth_gb_per_s if levels else ())
    fit = fit_profile_figures(ms, probes, peaks, list(threads), per_op=schema_has_op_efficiency(), tiles=tiles,
                              per_op_overhead_ms=overheads.xnnpack_op_us / 1e3, row_tile=row_tile(machine.simd))
    rt = runtime_info()
    measured_specs = len({m.name for m in ms})
    handover = None
    gemv = None
    cold = None
    parallel = None
    shared = None
    if budget_s >= 30:
        gemv = faster_gemv(first_gemv, measure_gemv())
        if levels is not None:
            shared = measure_shared([(size, i < levels.private_levels) for i, size in enumerate(levels.cache_bytes)],
                                    max(threads))
        handover = measure_hybrid_handover()
        status(f"calibrate: a builtin hybrid depthwise right after a 1x1 hybrid conv takes {handover:.2f}x its time "
               "alone")
        if levels is not None:
            cold = fit_cold_weights(least_disturbed(first_chains, measure_chains(max(threads))))
            status("calibrate: cold weights: " + (
                "no slow-down worth fitting (weights stay in cache)" if cold is None else
                f"weights and activations past {cold.weight_cache_bytes / 2**20:.1f} MiB meet weights out of cache, "
                f"at {', '.join(f'{g:g}' for g in cold.cold_weight_gb_per_s)} GB/s (1..{max(threads)} threads; "
                f"rms {cold.rms_error:.1%})"))
        last_parallel = measure_parallel(max(threads))
        measured = {"start": first_parallel, "middle": mid_parallel, "end": last_parallel}
        chosen = middle(list(measured.values()))
        parallel = calm_thresholds(chosen, list(measured.values()))
        if chosen is not None:
            calm = calmest(list(measured.values()))
            status("calibrate: thread hand-over " + ", ".join(f"{when} {f.dispatch_us[-1]:.2f} us"
                                                              for when, f in measured.items() if f is not None)
                   + f": the {next(w for w, f in measured.items() if f is chosen)}'s figures kept (the median), "
                   f"which ops split from the {next(w for w, f in measured.items() if f is calm)}'s (the calmest)")
        handoff = measure_handoff(threads) if parallel is not None else None
        if parallel is not None and handoff is not None:
            parallel = dataclasses.replace(parallel, handoff_share=handoff.share, handoff_cap_us=handoff.cap_us,
                                           inline_share=handoff.inline_share, inline_cap_us=handoff.inline_cap_us,
                                           builtin_pool_us=measure_builtin_pool(max(threads)))
        fc_share = builtin_fc_share(max(threads), fit.thread_speedup["float32"][-1] - 1.0)
        if fc_share is not None:  # LiteRT's own float FULLY_CONNECTED: the build's choice (edgekit.calibrate.builtinfc)
            scaling = {dt: dict(table) for dt, table in fit.thread_scaling.items()}
            scaling.setdefault("float32", {})[BUILTIN_FC_KEY] = fc_share
            fit = dataclasses.replace(fit, thread_scaling=scaling)
    doc = build_profile_doc(device_id, name or f"This machine ({machine.core_type}), calibrated", fit, machine,
                            peaks, overheads.invoke_us, overheads.partition_us, str(rt), threads, measured_specs,
                            overheads, levels, timing_used, handover, cold, parallel, gemv, shared)
    # blocks: how the estimator does on network blocks it was not fitted on (validation: the expected error)
    blocks = measure_blocks(block_specs, wall=wall)
    errors = block_residuals(doc, blocks)
    doc["fit"]["residuals"].update({name: round(err, 4) for name, err in errors.items()})
    if errors:
        abs_err = np.abs(np.array(list(errors.values())))
        rms = float(np.sqrt(np.mean(abs_err ** 2)))
        doc["notes"] += (f" Validation on {len(errors)} block models (not fitted on): rms relative error "
                         f"{rms:.1%} (the block_* residuals).")
        doc["accuracy"] = {
            "method": f"calibrate: {len(errors)} network blocks not fitted on ({timing_used} time, load average "
                      f"{load:.2f})",
            "rows": len(errors), "median_abs_error": round(float(np.median(abs_err)), 4),
            "p90_abs_error": round(float(np.percentile(abs_err, 90)), 4),
            "within_20": round(float(np.mean(abs_err <= 0.2)), 4), "within_35": round(float(np.mean(abs_err <= 0.35)), 4),
        }
    return CalibrationResult(doc, fit, machine, bandwidth, time.monotonic() - start, len(ms) + len(blocks),
                             tuple(_delegate_disagreements(fit)), load)


def _comments(doc: dict[str, Any], fit: FitResult) -> dict[str, str]:
    """The profile file's comments: how to use it and what the delegate took (top), what residuals are."""
    delegated = ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in sorted(fit.delegated.items()))
    header = (
        "Device profile written by `edgekit calibrate` (schema_version 1).\n"
        "Use it with: edgekit profile MODEL.tflite --device " + str(doc["id"]) + " --profiles <this folder>\n"
        "Delegate placement observed on the micro-benchmarks (op.dtype=taken by XNNPACK):\n"
        + "\n".join(_wrap(delegated, 100))
    )
    return {"": header, "fit.residuals": "measured vs fitted, per micro-benchmark: "
            "predicted/measured - 1 (one thread, XNNPACK on)"}


def _wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        out.append(line)
    return out


def write_profile(path: Path, result: CalibrationResult, overwrite: bool = True) -> str:
    """Validate the profile through the profile loader, then write it atomically. Returns the text."""
    from edgekit.profile.schema import profile_from_dict

    return profile_toml.write(path, result.profile_doc, _comments(result.profile_doc, result.fit), overwrite=overwrite,
                              check=lambda doc: profile_from_dict(doc, str(path)))
