"""`edgekit calibrate -o PROFILE.toml`: fit a device profile for the machine it runs on."""

from __future__ import annotations

import os
from pathlib import Path

import click

from edgekit.bench import parse_thread_list
from edgekit.commands.common import json_option
from edgekit.commands.remote_options import remote_options
from edgekit.errors import UsageError
from edgekit.fsutil import check_output_path
from edgekit.report import emit_json, info, warn


@click.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Profile TOML to write (or --profiles DIR: DIR/<id>.toml).")
@click.option("--id", "device_id", default="this-machine", show_default=True,
              help="Device id the profile answers to (`edgekit profile --device ID`).")
@click.option("--name", default=None, help="Human name of the device (default: from the CPU).")
@click.option("--threads", "threads_text", default=None,
              help="Thread counts to measure, e.g. 1,2,4 (default: 1, 2, 4, 8 up to the number of cores).")
@click.option("--budget-s", type=float, default=120.0, show_default=True,
              help="Time budget in seconds (10 gives a rough profile; 120 measures the full suite).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--profiles", "profiles_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the profile as DIR/<id>.toml, where `edgekit profile --profiles DIR` (or EDGEKIT_PROFILES) "
              "finds it; with --on, the board's profile is brought here (default: the first EDGEKIT_PROFILES folder).")
@remote_options("calibrate")
@json_option
def calibrate(output: Path | None, device_id: str, name: str | None, threads_text: str | None, budget_s: float,
              force: bool, profiles_dir: Path | None, as_json: bool) -> None:
    """Run micro-benchmarks on this machine and fit a device profile for it.

    The micro-benchmark models are built in memory as .tflite flatbuffers (no TensorFlow). Each is
    timed with XNNPACK at every thread count and with the builtin kernels, plus a few network blocks
    (inverted residual, squeeze-excite, bottleneck, dense). Efficiencies per op class, per op name and
    dtype, per-op and partition overhead, thread speed-up and memory overhead are fitted by least
    squares and the residuals are written into the profile's [fit] section. Put the file in a folder and pass it
    with `edgekit profile --profiles DIR --device ID` (or EDGEKIT_PROFILES=DIR).

    \b
      edgekit calibrate -o my-pi.toml --id my-pi                       # on the board
      edgekit calibrate --on ssh://pi@kitchen-pi --profiles profiles/  # from here: profiles/kitchen-pi.toml
    """
    from edgekit.calibrate.pipeline import run_calibration, write_profile
    from edgekit.calibrate.report import CalibrateReport

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = parse_thread_list(threads_text) if threads_text else [t for t in (1, 2, 4, 8) if t <= max(1, cores)]
    if not device_id or not all(c.isalnum() or c in "-_." for c in device_id):
        raise UsageError(f"--id {device_id!r} is not a valid device id.", hint="Use letters, digits, '-', '_' or '.'.")
    if output is not None and profiles_dir is not None:
        raise UsageError("-o and --profiles both say where to write the profile.", hint="Pass one of them.")
    if output is None:
        if profiles_dir is None:
            raise UsageError("calibrate needs -o FILE.toml or --profiles DIR.",
                             hint="e.g. edgekit calibrate -o my-pi.toml --id my-pi")
        if not profiles_dir.is_dir():
            raise UsageError(f"profiles folder {profiles_dir} does not exist.", hint=f"Create it first: mkdir -p {profiles_dir}")
        output = profiles_dir / f"{device_id}.toml"
    if output.suffix.lower() != ".toml":
        raise UsageError(f"--output {output} should end in .toml.", hint="e.g. -o my-pi.toml")
    check_output_path(output, force)
    info(f"calibrate: budget {budget_s:g} s, threads {','.join(map(str, threads))}; measuring this machine...")
    result = run_calibration(device_id, threads, budget_s, name=name)
    write_profile(output, result, overwrite=force)
    report = CalibrateReport.of(output, result)
    for message in report.warnings:
        warn(message)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.render())
