"""`edgekit bench MODEL.tflite`: measured latency, init time and peak RSS on this machine."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import click

from edgekit.bench import BenchConfig, BenchResult, bench_isolated, check_model_path, parse_thread_list
from edgekit.commands.common import json_option
from edgekit.errors import UsageError
from edgekit.report import emit_json, format_table, human_bytes, info, warn


def _row(r: BenchResult) -> list[str]:
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


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--threads", type=int, default=None, help="Interpreter threads (default: the runtime's default).")
@click.option("--sweep-threads", "sweep", default=None, metavar="LIST",
              help="Measure several thread counts, e.g. 1,2,4 (one fresh process each).")
@click.option("--runs", type=int, default=50, show_default=True, help="Timed inferences.")
@click.option("--warmup", type=int, default=5, show_default=True, help="Untimed inferences after the first one.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Inputs: .npy (one input), .npz (one array per input) or a folder of images (scaled to 0..1, "
                   "quantized for integer inputs). Default: random within each input's range.")
@click.option("--no-xnnpack", is_flag=True, help="Switch off the default XNNPACK delegate (builtin kernels only).")
@json_option
def bench(model: Path, threads: int | None, sweep: str | None, runs: int, warmup: int, data_path: Path | None,
          no_xnnpack: bool, as_json: bool) -> None:
    """Measure MODEL.tflite on this machine: init time, first and warm latency, throughput, peak RSS.

    Every figure is measured here (no estimates). Each thread count runs in a fresh child process,
    so the peak RSS is the model's own: resident memory from before the runtime loads the model to
    the end of the last inference.
    """
    from edgekit.tflite.model import load_model
    from edgekit.tflite.runtime import runtime_info

    if threads is not None and sweep is not None:
        raise UsageError("--threads and --sweep-threads cannot be used together.", hint="Pass one of them.")
    thread_list: list[int | None] = list(parse_thread_list(sweep)) if sweep else [threads]
    path = check_model_path(model)
    parsed = load_model(path)
    if data_path is not None and not Path(data_path).exists():
        raise UsageError(f"--data {data_path} does not exist.", hint="Give a .npy/.npz file or a folder of images.")
    configs = [BenchConfig(threads=t, runs=runs, warmup=warmup, use_xnnpack=not no_xnnpack) for t in thread_list]
    rt = runtime_info()
    results: list[BenchResult] = []
    for cfg in configs:
        info(f"bench {path.name}: threads={cfg.threads or 'default'}, {cfg.warmup} warm-up + {cfg.runs} timed runs "
             f"({rt}, XNNPACK {'on' if cfg.use_xnnpack else 'off'})...")
        res = bench_isolated(path, cfg, data_path=data_path)
        info(f"  median {res.latency.median_ms:.3f} ms, peak RSS {human_bytes(res.model_peak_rss_bytes)}")
        results.append(res)

    payload: dict[str, Any] = {
        "model": str(path),
        "model_size_bytes": parsed.size_bytes,
        "quant_kind": str(parsed.quant_kind.value),
        "measured": True,
        "machine": {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor()},
        "runtime": rt.to_dict(),
        "xnnpack": not no_xnnpack,
        "inputs": "data:" + str(data_path) if data_path else "random within each input's range",
        "results": [r.to_dict() for r in results],
    }
    if as_json:
        emit_json(payload)
        return
    click.echo(f"{path.name}: measured on this machine ({platform.machine()}), runtime {rt}, "
               f"XNNPACK {'on' if not no_xnnpack else 'off'}, {runs} runs after {warmup} warm-up")
    headers = ["threads", "init ms", "first ms", "mean ms", "median ms", "p90 ms", "min ms", "std ms",
               "inf/s", "peak RSS", "RSS growth", "partitions", "CPU ms"]
    click.echo(format_table(headers, [_row(r) for r in results]))
    click.echo("peak RSS: resident memory added by loading and running the model "
               f"({results[0].peak_rss_source}); partitions: delegate partitions after allocate_tensors(); "
               "CPU ms: process CPU time per inference (median).")
    busy = [r for r in results if r.contention is not None and r.contention > 1.2]
    if busy:
        warn(f"the machine was busy: at 1 thread the wall-clock median is {busy[0].contention:.1f}x the CPU time "
             "per inference; other processes took the CPU (the CPU-time column is the idle-machine latency).")
