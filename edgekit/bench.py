"""Device-safe measurement of a .tflite model on this machine: latency, init time and resident memory.

Every figure here is *measured* (wall clock around ``Interpreter.invoke`` and the kernel's RSS
counters); nothing is estimated. Memory: Linux keeps the peak resident set of the process in
``/proc/self/status`` (``VmHWM``); writing ``5`` to ``/proc/self/clear_refs`` resets it, so each run
measures its own peak from "before the model is loaded" to "after the last inference". Where that
is not available the lifetime peak of ``resource.getrusage`` is used and said so.

No TensorFlow: the runtime comes from :mod:`edgekit.tflite.runtime`.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edgekit.benchhandover import HandoverCheck, describe
from edgekit.benchhandover import warnings as handover_warnings
from edgekit.benchinputs import fit_input, load_data, load_image_folder, random_input
from edgekit.benchthreads import crowding_warnings, new_threads, thread_ids, usable_cores
from edgekit.core.progress import status
from edgekit.core.result import Basis, check_kind, optional_int, strings
from edgekit.errors import BackendError, InputError, UsageError
from edgekit.provenance import Producer, producer_entry

if TYPE_CHECKING:
    from edgekit.tflite.runtime import RuntimeInfo

MAX_THREADS = 256
# untimed runs go on until this long after the first inference (TFLite's benchmark_model: warmup_min_secs = 0.5): on
# this project's 2-vCPU VM a fresh process's first 10-20 ms of 2-thread runs of a small model ran 1.5x its steady
# time (the sample classifier 23 us for its first 400-800 invokes, then 15; docs/BENCHMARKS.md, "estimator")
WARMUP_S = 0.5


@dataclass(frozen=True)
class BenchConfig:
    """What to run: thread count (None = runtime default), timed runs, warm-up runs and the least warm-up time,
    XNNPACK on/off."""

    threads: int | None = None
    runs: int = 50
    warmup: int = 5
    use_xnnpack: bool = True
    seed: int = 0
    warmup_s: float = WARMUP_S

    def __post_init__(self) -> None:
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise UsageError(f"--threads must be between 1 and {MAX_THREADS}, got {self.threads}.",
                             hint="Pass a positive thread count, e.g. --threads 2.")
        if self.runs < 1:
            raise UsageError(f"--runs must be at least 1, got {self.runs}.", hint="Pass e.g. --runs 50.")
        if self.warmup < 0:
            raise UsageError(f"--warmup must be 0 or more, got {self.warmup}.", hint="Pass e.g. --warmup 5.")
        if not 0.0 <= self.warmup_s <= 3600.0:
            raise UsageError(f"--warmup-seconds must be between 0 and 3600, got {self.warmup_s:g}.",
                             hint=f"Pass e.g. --warmup-seconds {WARMUP_S:g} (0: only the --warmup runs).")


@dataclass(frozen=True)
class LatencyStats:
    """Summary of warm latencies in milliseconds (measured)."""

    mean_ms: float
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    std_ms: float

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float]) -> LatencyStats:
        if not samples_ms:
            raise ValueError("no latency samples")
        arr = np.asarray(samples_ms, dtype=np.float64)
        return cls(
            mean_ms=float(arr.mean()),
            median_ms=float(np.median(arr)),
            p90_ms=float(np.percentile(arr, 90)),
            min_ms=float(arr.min()),
            max_ms=float(arr.max()),
            std_ms=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        )


@dataclass(frozen=True)
class BenchResult:
    """One measured configuration (one thread count)."""

    threads: int | None
    runs: int
    warmup: int
    use_xnnpack: bool
    init_ms: float
    first_inference_ms: float
    latency: LatencyStats
    throughput_per_s: float
    baseline_rss_bytes: int
    peak_rss_bytes: int
    rss_after_load_bytes: int
    rss_end_bytes: int
    peak_rss_source: str
    delegate_partitions: int
    ops_total: int
    samples_ms: tuple[float, ...] = field(repr=False, default=())
    # CPU time of the process per inference (all its threads). With one thread it is the latency the
    # model would have on an idle machine: preemption by other work does not count in it.
    cpu_ms: LatencyStats | None = None
    # each warm-up inference (after the first one, before the timed runs): the settling the report shows
    warmup_ms: tuple[float, ...] = field(repr=False, default=())
    handover: HandoverCheck | None = None  # more than one thread: the hand-over before and after (benchhandover)
    warmup_s: float = 0.0  # the least warm-up time asked for
    settle_runs: int = 0  # untimed runs after the counted warm-up ones, until warmup_s had passed
    # (IF op index, subgraph it ran) on the input bench fed: which branch a timed invoke paid for
    if_branches_taken: tuple[tuple[int, int], ...] = ()
    runtime_threads: int | None = None  # threads the runtime made (by its first invoke); None: the OS did not say

    @property
    def contention(self) -> float | None:
        """Wall median / CPU median at one thread (1.0 = the machine was idle for us); None otherwise."""
        if self.cpu_ms is None or self.threads != 1 or self.cpu_ms.median_ms <= 0:
            return None
        return self.latency.median_ms / self.cpu_ms.median_ms

    @property
    def model_peak_rss_bytes(self) -> int:
        """Peak resident memory attributable to the model: peak minus the RSS before it was loaded."""
        return max(0, self.peak_rss_bytes - self.baseline_rss_bytes)

    @property
    def rss_growth_bytes(self) -> int:
        """RSS growth from right after loading to the end of the timed runs (a leak shows here)."""
        return self.rss_end_bytes - self.rss_after_load_bytes

    def to_dict(self, with_samples: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "threads": self.threads,
            "runs": self.runs,
            "warmup": self.warmup,
            "warmup_s": self.warmup_s,
            "settle_runs": self.settle_runs,
            "xnnpack": self.use_xnnpack,
            "init_ms": self.init_ms,
            "first_inference_ms": self.first_inference_ms,
            "latency_ms": {
                "mean": self.latency.mean_ms,
                "median": self.latency.median_ms,
                "p90": self.latency.p90_ms,
                "min": self.latency.min_ms,
                "max": self.latency.max_ms,
                "std": self.latency.std_ms,
            },
            "throughput_per_s": self.throughput_per_s,
            "baseline_rss_bytes": self.baseline_rss_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "model_peak_rss_bytes": self.model_peak_rss_bytes,
            "rss_growth_bytes": self.rss_growth_bytes,
            "rss_end_bytes": self.rss_end_bytes,
            "peak_rss_source": self.peak_rss_source,
            "delegate_partitions": self.delegate_partitions,
            "ops_total": self.ops_total,
            "if_branches_taken": [{"op_index": i, "subgraph": b} for i, b in self.if_branches_taken],
            "runtime_threads": self.runtime_threads,
        }
        if self.cpu_ms is not None:
            out["cpu_ms"] = {"median": self.cpu_ms.median_ms, "min": self.cpu_ms.min_ms, "mean": self.cpu_ms.mean_ms}
            out["contention"] = self.contention
        if self.handover is not None:
            out["thread_handover_us"] = self.handover.to_dict()
        if with_samples:
            out["samples_ms"] = list(self.samples_ms)
            out["warmup_ms"] = list(self.warmup_ms)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchResult:
        """Back from :meth:`to_dict` (the child's answer, or a saved ``--json``)."""
        lat = d["latency_ms"]
        cpu = d.get("cpu_ms")
        return cls(
            threads=optional_int(d["threads"]), runs=int(d["runs"]), warmup=int(d["warmup"]),
            use_xnnpack=bool(d["xnnpack"]), init_ms=float(d["init_ms"]),
            first_inference_ms=float(d["first_inference_ms"]),
            latency=LatencyStats(mean_ms=lat["mean"], median_ms=lat["median"], p90_ms=lat["p90"], min_ms=lat["min"],
                                 max_ms=lat["max"], std_ms=lat["std"]),
            throughput_per_s=float(d["throughput_per_s"] or math.inf),
            baseline_rss_bytes=int(d["baseline_rss_bytes"]), peak_rss_bytes=int(d["peak_rss_bytes"]),
            rss_after_load_bytes=int(d["rss_end_bytes"]) - int(d["rss_growth_bytes"]),
            rss_end_bytes=int(d["rss_end_bytes"]), peak_rss_source=str(d["peak_rss_source"]),
            delegate_partitions=int(d["delegate_partitions"]), ops_total=int(d["ops_total"]),
            samples_ms=tuple(float(v) for v in d.get("samples_ms", ())),
            warmup_ms=tuple(float(v) for v in d.get("warmup_ms", ())),
            # the JSON keeps median, min and mean of the CPU time
            cpu_ms=(LatencyStats(mean_ms=cpu["mean"], median_ms=cpu["median"], p90_ms=math.nan, min_ms=cpu["min"],
                                 max_ms=math.nan, std_ms=math.nan) if cpu else None),
            handover=HandoverCheck.from_dict(d.get("thread_handover_us")),
            warmup_s=float(d.get("warmup_s", 0.0)), settle_runs=int(d.get("settle_runs", 0)),
            if_branches_taken=tuple((int(b["op_index"]), int(b["subgraph"])) for b in d.get("if_branches_taken", ())),
            runtime_threads=optional_int(d.get("runtime_threads")),
        )


# ---------------------------------------------------------------- memory counters


def _proc_status_bytes(key: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes (Linux), or None."""
    from edgekit.procfs import kb_field_bytes

    return kb_field_bytes("/proc/self/status", key)


def current_rss_bytes() -> int:
    """Resident set size now (bytes)."""
    value = _proc_status_bytes("VmRSS")
    if value is not None:
        return value
    return _getrusage_peak_bytes()


def _getrusage_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) for this process; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> tuple[int, str]:
    """Peak RSS in bytes and where it came from."""
    value = _proc_status_bytes("VmHWM")
    if value is not None:
        return value, "VmHWM"
    return _getrusage_peak_bytes(), "getrusage(process lifetime)"


# ---------------------------------------------------------------- the run


def bench_model(
    model_path: Path,
    config: BenchConfig,
    inputs: Sequence[np.ndarray] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """Load ``model_path`` with ``config`` and time it. All figures measured on this machine."""
    say = on_progress or (lambda _msg: None)
    reset_ok = reset_peak_rss()
    baseline = current_rss_bytes()
    from edgekit.tflite.runtime import delegation_summary, if_branches_taken, load_interpreter

    tasks_before = thread_ids()
    t0 = time.perf_counter()
    # the file's bytes are read after the baseline: holding the model is part of the model's memory
    content = Path(model_path).read_bytes()
    interp = load_interpreter(content, num_threads=config.threads, use_xnnpack=config.use_xnnpack)
    init_ms = (time.perf_counter() - t0) * 1e3
    rss_after_load = current_rss_bytes()

    details = interp.get_input_details()
    rng = np.random.default_rng(config.seed)
    if inputs is None:
        feed = [random_input(d["shape"], np.dtype(d["dtype"]).name, rng) for d in details]
    else:
        feed = [fit_input(a, d["shape"], np.dtype(d["dtype"]).name, d["name"]) for a, d in zip(inputs, details, strict=True)]
    try:
        for d, arr in zip(details, feed, strict=True):
            interp.set_tensor(d["index"], arr)
        t0 = time.perf_counter()
        interp.invoke()
        first_ms = (time.perf_counter() - t0) * 1e3
        made = new_threads(tasks_before)  # the pools a kernel makes on first use exist now
        say(f"first inference {first_ms:.2f} ms (threads={config.threads or 'default'}); warm-up {config.warmup} "
            f"runs and at least {config.warmup_s:g} s")
        warm_start = time.perf_counter()
        warmup: list[float] = []
        for _ in range(config.warmup):
            t0 = time.perf_counter()
            interp.invoke()
            warmup.append((time.perf_counter() - t0) * 1e3)
        settle_runs = 0
        while time.perf_counter() - warm_start < config.warmup_s:
            interp.invoke()
            settle_runs += 1
        samples: list[float] = []
        cpu_samples: list[float] = []
        step = max(1, config.runs // 5)
        invoke = interp.invoke
        clock = time.perf_counter
        cpu_clock = time.process_time
        for i in range(config.runs):
            c0 = cpu_clock()
            t0 = clock()
            invoke()
            t1 = clock()
            cpu_samples.append((cpu_clock() - c0) * 1e3)
            samples.append((t1 - t0) * 1e3)
            if (i + 1) % step == 0 or i + 1 == config.runs:
                say(f"  run {i + 1}/{config.runs}: median so far {float(np.median(samples)):.3f} ms")
    except (RuntimeError, ValueError) as exc:
        raise BackendError(f"the runtime failed to run {Path(model_path).name}: {exc}") from exc
    rss_end = current_rss_bytes()
    peak, source = peak_rss_bytes()
    if not reset_ok:
        source = "getrusage(process lifetime)" if source != "VmHWM" else "VmHWM(process lifetime)"
    partitions, ops_total = delegation_summary(interp)
    stats = LatencyStats.from_samples(samples)
    del interp
    taken = if_branches_taken(content, feed)  # after the memory figures: it loads the model again
    return BenchResult(
        threads=config.threads,
        runs=config.runs,
        warmup=config.warmup,
        warmup_s=config.warmup_s,
        settle_runs=settle_runs,
        use_xnnpack=config.use_xnnpack,
        init_ms=init_ms,
        first_inference_ms=first_ms,
        latency=stats,
        throughput_per_s=1e3 / stats.mean_ms if stats.mean_ms > 0 else math.inf,
        baseline_rss_bytes=baseline,
        peak_rss_bytes=max(peak, rss_end),
        rss_after_load_bytes=rss_after_load,
        rss_end_bytes=rss_end,
        peak_rss_source=source,
        delegate_partitions=partitions,
        ops_total=ops_total,
        samples_ms=tuple(samples),
        cpu_ms=LatencyStats.from_samples(cpu_samples),
        warmup_ms=tuple(warmup),
        if_branches_taken=tuple(sorted(taken.items())),
        runtime_threads=made,
    )


def parse_thread_list(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4] (validated, de-duplicated, in the given order)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise UsageError(f"thread list '{text}': '{part}' is not an integer.", hint="Pass e.g. 1,2,4.") from None
        if not 1 <= value <= MAX_THREADS:
            raise UsageError(f"thread list '{text}': {value} is out of range 1..{MAX_THREADS}.", hint="Pass e.g. 1,2,4.")
        if value not in out:
            out.append(value)
    if not out:
        raise UsageError(f"thread list '{text}' is empty.", hint="Pass e.g. 1,2,4.")
    return out


def check_model_path(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a file.", hint="Pass the path of a .tflite model.")
    return path



# ---------------------------------------------------------------- isolated runs (one child per configuration)


def bench_in_child(path: str, threads: int | None, runs: int, warmup: int, use_xnnpack: bool,
                   seed: int = 0, data_path: str | None = None, warmup_s: float = WARMUP_S) -> dict[str, Any]:
    """The child's side of :func:`bench_isolated`: a fresh process, so peak RSS is this model's alone."""
    config = BenchConfig(threads=threads, runs=runs, warmup=warmup, use_xnnpack=use_xnnpack, seed=seed,
                         warmup_s=warmup_s)
    inputs = None
    if data_path is not None:
        from edgekit.tflite.model import load_model

        model = load_model(path)
        if Path(data_path).is_dir():
            inputs = load_image_folder(Path(data_path), model.inputs)
        else:
            inputs = load_data(Path(data_path), [t.name for t in model.inputs])
    result = bench_model(Path(path), config, inputs=inputs)
    return result.to_dict(with_samples=True)


def bench_isolated(path: Path, config: BenchConfig, data_path: Path | None = None,
                   timeout_s: float = 1800.0) -> BenchResult:
    """Run :func:`bench_model` in a child process (crash-safe, clean RSS baseline)."""
    from edgekit.tflite.sandbox import run_isolated

    value = run_isolated(
        "edgekit.bench:bench_in_child",
        {"path": str(path), "threads": config.threads, "runs": config.runs, "warmup": config.warmup,
         "use_xnnpack": config.use_xnnpack, "seed": config.seed, "warmup_s": config.warmup_s,
         "data_path": None if data_path is None else str(data_path)},
        subject=path, timeout_s=timeout_s, action="benchmarking",
    )
    if not isinstance(value, dict):
        raise BackendError(f"the benchmark child for {path} returned no result.")
    return BenchResult.from_dict(value)


# ---------------------------------------------------------------- the command's result

BUSY_CONTENTION = 1.2  # wall-clock / CPU time at one thread above this: other processes took the CPU


@dataclass(frozen=True)
class MachineSummary:
    """The machine the figures were measured on (Python's ``platform`` module)."""

    platform: str
    machine: str
    processor: str

    @classmethod
    def this(cls) -> MachineSummary:
        return cls(platform.platform(), platform.machine(), platform.processor())

    def to_dict(self) -> dict[str, str]:
        return {"platform": self.platform, "machine": self.machine, "processor": self.processor}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MachineSummary:
        return cls(str(d["platform"]), str(d["machine"]), str(d["processor"]))


@dataclass(frozen=True)
class BenchReport:
    """`edgekit bench MODEL.tflite`: one :class:`BenchResult` per thread count, every figure MEASURED here."""

    kind: ClassVar[str] = "bench"
    basis: ClassVar[Basis] = Basis.MEASURED

    model: str
    model_size_bytes: int
    quant_kind: str
    machine: MachineSummary
    runtime: RuntimeInfo
    xnnpack: bool
    inputs: str  # "data:PATH" or "random within each input's range"
    results: tuple[BenchResult, ...]
    warnings: tuple[str, ...] = ()
    produced_by: Producer | None = field(default_factory=Producer.here)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "model_size_bytes": self.model_size_bytes,
            "quant_kind": self.quant_kind,
            "measured": True,
            "machine": self.machine.to_dict(),
            "runtime": self.runtime.to_dict(),
            "xnnpack": self.xnnpack,
            "inputs": self.inputs,
            # every timed run is kept (samples_ms): the distribution, not only its summary
            "results": [r.to_dict(with_samples=True) for r in self.results],
            "warnings": list(self.warnings),
            **producer_entry(self.produced_by),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchReport:
        from edgekit.tflite.runtime import RuntimeInfo

        check_kind(d, cls.kind)
        return cls(
            model=str(d["model"]), model_size_bytes=int(d["model_size_bytes"]), quant_kind=str(d["quant_kind"]),
            machine=MachineSummary.from_dict(d["machine"]), runtime=RuntimeInfo.from_dict(d["runtime"]),
            xnnpack=bool(d["xnnpack"]), inputs=str(d["inputs"]),
            results=tuple(BenchResult.from_dict(r) for r in d["results"]), warnings=strings(d.get("warnings")),
            produced_by=Producer.from_dict(d.get("produced_by")),
        )

    def render(self) -> str:
        from edgekit.report import format_table

        first = self.results[0]
        lines = [
            f"{Path(self.model).name}: measured on this machine ({self.machine.machine}), runtime {self.runtime}, "
            f"XNNPACK {'on' if self.xnnpack else 'off'}, {first.runs} runs after {first.warmup} warm-up"
            + (f" (and {first.settle_runs} more to fill {first.warmup_s:g} s)" if first.settle_runs else ""),
            format_table(["threads", "init ms", "first ms", "mean ms", "median ms", "p90 ms", "min ms", "std ms",
                          "inf/s", "peak RSS", "RSS growth", "partitions", "CPU ms"], [_row(r) for r in self.results]),
            "peak RSS: resident memory added by loading and running the model "
            f"({first.peak_rss_source}); partitions: delegate partitions after allocate_tensors(); "
            "CPU ms: process CPU time per inference (median).",
            *(describe(r.threads, r.handover) for r in self.results if r.handover is not None),
            *(f"IF (op #{i}) ran subgraph {b} on this input: the timed invokes paid for that branch"
              for i, b in first.if_branches_taken),
        ]
        return "\n".join(lines)


def _row(r: BenchResult) -> list[str]:
    from edgekit.report import human_bytes

    lat = r.latency
    return [
        str(r.threads or "default"),
        f"{r.init_ms:.1f}",
        f"{r.first_inference_ms:.2f}",
        f"{lat.mean_ms:.3f}",
        f"{lat.median_ms:.3f}",
        f"{lat.p90_ms:.3f}",
        f"{lat.min_ms:.3f}",
        f"{lat.std_ms:.3f}",
        f"{r.throughput_per_s:.1f}",
        human_bytes(r.model_peak_rss_bytes),
        human_bytes(r.rss_growth_bytes) if r.rss_growth_bytes >= 0 else "-" + human_bytes(-r.rss_growth_bytes),
        str(r.delegate_partitions),
        f"{r.cpu_ms.median_ms:.3f}" if r.cpu_ms is not None else "-",
    ]


def busy_warnings(results: Sequence[BenchResult]) -> list[str]:
    """A warning when the machine was busy during a one-thread run (its wall clock far above its CPU time)."""
    busy = [r for r in results if r.contention is not None and r.contention > BUSY_CONTENTION]
    if not busy:
        return []
    return [f"the machine was busy: at 1 thread the wall-clock median is {busy[0].contention:.1f}x the CPU time "
            "per inference; other processes took the CPU (the CPU-time column is the idle-machine latency)."]


def run_bench(model: Path, threads: Sequence[int | None] = (None,), runs: int = 50, warmup: int = 5,
              use_xnnpack: bool = True, data_path: Path | None = None,
              handover: Callable[[int | None], float | None] | None = None, warmup_s: float = WARMUP_S) -> BenchReport:
    """Measure ``model`` at each thread count (None: the runtime's default), each in a fresh child process.
    ``handover``: measures the thread hand-over at a thread count (None where it does not apply), called before
    and after each configuration (the command passes :func:`edgekit.calibrate.parallel.handover_at`)."""
    from edgekit.report import human_bytes
    from edgekit.tflite.model import load_model
    from edgekit.tflite.runtime import runtime_info

    if not threads:
        raise UsageError("nothing to measure: no thread count was given.", hint="Pass --threads or --sweep-threads.")
    path = check_model_path(model)
    parsed = load_model(path)
    if data_path is not None and not Path(data_path).exists():
        raise UsageError(f"--data {data_path} does not exist.", hint="Give a .npy/.npz file or a folder of images.")
    configs = [BenchConfig(threads=t, runs=runs, warmup=warmup, use_xnnpack=use_xnnpack, warmup_s=warmup_s)
               for t in threads]
    rt = runtime_info()
    results: list[BenchResult] = []
    for cfg in configs:
        status(f"bench {path.name}: threads={cfg.threads or 'default'}, {cfg.warmup} warm-up (at least "
               f"{cfg.warmup_s:g} s) + {cfg.runs} timed runs "
               f"({rt}, XNNPACK {'on' if cfg.use_xnnpack else 'off'})...")
        before = handover(cfg.threads) if handover else None
        res = bench_isolated(path, cfg, data_path=data_path)
        after = handover(cfg.threads) if handover else None
        if before is not None and after is not None:
            res = dataclasses.replace(res, handover=HandoverCheck(before, after))
        status(f"  median {res.latency.median_ms:.3f} ms, peak RSS {human_bytes(res.model_peak_rss_bytes)}")
        if res.handover is not None:
            status(f"  {describe(res.threads, res.handover)}")
        results.append(res)
    return BenchReport(
        model=str(path), model_size_bytes=parsed.size_bytes, quant_kind=str(parsed.quant_kind.value),
        machine=MachineSummary.this(), runtime=rt, xnnpack=use_xnnpack,
        inputs="data:" + str(data_path) if data_path else "random within each input's range",
        results=tuple(results),
        warnings=(*busy_warnings(results), *handover_warnings([(r.threads, r.handover) for r in results]),
                  *crowding_warnings([(r.threads, r.runtime_threads) for r in results], usable_cores())),
    )
