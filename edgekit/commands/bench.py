"""`edgekit bench MODEL.tflite`: measured latency, init time and peak RSS on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.bench import WARMUP_S, parse_thread_list
from edgekit.commands.common import html_option, html_target, json_option, write_html_report
from edgekit.commands.remote_options import remote_options
from edgekit.errors import UsageError
from edgekit.report import emit_json, warn


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--threads", type=int, default=None, help="Interpreter threads (default: the runtime's default).")
@click.option("--sweep-threads", "sweep", default=None, metavar="LIST",
              help="Measure several thread counts, e.g. 1,2,4 (one fresh process each).")
@click.option("--runs", type=int, default=50, show_default=True, help="Timed inferences.")
@click.option("--warmup", type=int, default=5, show_default=True, help="Untimed inferences after the first one.")
@click.option("--warmup-seconds", "warmup_s", type=float, default=WARMUP_S, show_default=True,
              help="Keep warming up until this long after the first inference (as TFLite's benchmark_model does): "
                   "a fresh process's first milliseconds can run slower than its steady state.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None,
              help="Inputs: .npy (one input), .npz (one array per input) or a folder of images (scaled to 0..1, "
                   "quantized for integer inputs). Default: random within each input's range.")
@click.option("--no-xnnpack", is_flag=True, help="Switch off the default XNNPACK delegate (builtin kernels only).")
@remote_options("bench")
@json_option
@html_option
def bench(model: Path, threads: int | None, sweep: str | None, runs: int, warmup: int, warmup_s: float,
          data_path: Path | None, no_xnnpack: bool, as_json: bool, html: Path | None, force: bool) -> None:
    """Measure MODEL.tflite on this machine: init time, first and warm latency, throughput, peak RSS.

    Every figure is measured here (no estimates). Each thread count runs in a fresh child process,
    so the peak RSS is the model's own: resident memory from before the runtime loads the model to
    the end of the last inference.
    """
    from edgekit.bench import run_bench
    from edgekit.calibrate.parallel import handover_at

    if threads is not None and sweep is not None:
        raise UsageError("--threads and --sweep-threads cannot be used together.", hint="Pass one of them.")
    thread_list: list[int | None] = list(parse_thread_list(sweep)) if sweep else [threads]
    html = html_target(html, force)
    result = run_bench(model, thread_list, runs=runs, warmup=warmup, use_xnnpack=not no_xnnpack, data_path=data_path,
                       handover=handover_at, warmup_s=warmup_s)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render())
    for message in result.warnings:
        warn(message)
    write_html_report(result, html, force)
