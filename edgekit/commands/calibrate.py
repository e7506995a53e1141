"""`edgekit calibrate -o PROFILE.toml`: fit a device profile for the machine it runs on."""

from __future__ import annotations

import os
from pathlib import Path

import click

from edgekit.bench import parse_thread_list
from edgekit.commands.common import json_option
from edgekit.errors import UsageError
from edgekit.fsutil import check_output_path
from edgekit.report import emit_json, format_table, human_bytes, info, warn


@click.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Profile TOML to write.")
@click.option("--id", "device_id", default="this-machine", show_default=True,
              help="Device id the profile answers to (`edgekit profile --device ID`).")
@click.option("--name", default=None, help="Human name of the device (default: from the CPU).")
@click.option("--threads", "threads_text", default=None,
              help="Thread counts to measure, e.g. 1,2,4 (default: 1, 2, 4, 8 up to the number of cores).")
@click.option("--budget-s", type=float, default=120.0, show_default=True,
              help="Time budget in seconds (10 gives a rough profile; 120 measures the full suite).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@json_option
def calibrate(output: Path, device_id: str, name: str | None, threads_text: str | None, budget_s: float, force: bool,
              as_json: bool) -> None:
    """Run micro-benchmarks on this machine and fit a device profile for it.

    The micro-benchmark models are built in memory as .tflite flatbuffers (no TensorFlow). Each is
    timed with XNNPACK at every thread count and with the builtin kernels, plus a few network blocks
    (inverted residual, squeeze-excite, bottleneck, dense). Efficiencies per op class, per op name and
    dtype, per-op and partition overhead, thread speed-up and memory overhead are fitted by least
    squares and the residuals are written into the profile's [fit] section. Put the file in a folder and pass it
    with `edgekit profile --profiles DIR --device ID` (or EDGEKIT_PROFILES=DIR).
    """
    from edgekit.calibrate.pipeline import run_calibration, write_profile
    from edgekit.profile.schema import profile_from_dict

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = parse_thread_list(threads_text) if threads_text else [t for t in (1, 2, 4, 8) if t <= max(1, cores)]
    if not device_id or not all(c.isalnum() or c in "-_." for c in device_id):
        raise UsageError(f"--id {device_id!r} is not a valid device id.", hint="Use letters, digits, '-', '_' or '.'.")
    if output.suffix.lower() != ".toml":
        raise UsageError(f"--output {output} should end in .toml.", hint="e.g. -o my-pi.toml")
    check_output_path(output, force)
    info(f"calibrate: budget {budget_s:g} s, threads {','.join(map(str, threads))}; measuring this machine...")
    result = run_calibration(device_id, threads, budget_s, say=info, name=name)
    write_profile(output, result, overwrite=force)
    for line in result.delegate_disagreements:
        warn(f"delegate model vs this runtime: {line}")
    doc = result.profile_doc
    fit = result.fit
    if as_json:
        emit_json({
            "output": str(output), "id": device_id, "measured": True, "elapsed_s": result.elapsed_s,
            "measurements": result.measurements, "profile": doc,
            "delegate_disagreements": list(result.delegate_disagreements),
        })
        return
    profile_from_dict(doc, str(output))
    rt = doc["runtime"]
    click.echo(f"Wrote {output} (device id '{device_id}') in {result.elapsed_s:.0f} s from {result.measurements} "
               f"measurements; figures below are fitted to measurements on this machine.")
    rows = []
    for dtype in ("float32", "int8"):
        for cls, eff in doc["efficiency"][dtype].items():
            measured = cls in fit.efficiency.get(dtype, {})
            rows.append([dtype, cls, f"{eff:.4g}", "fitted" if measured else "borrowed"])
    for dtype, table in (doc.get("op_efficiency") or {}).items():
        for op, eff in table.items():
            rows.append([dtype, f"op {op}", f"{eff:.4g}", "fitted (per op, as placed)"])
    click.echo(format_table(["dtype", "op class", "efficiency", "source"], rows))
    click.echo(format_table(["figure", "value"], [
        ["per-op overhead", f"{rt['per_op_overhead_us']:.2f} us"],
        ["invoke overhead", f"{rt['invoke_overhead_us']:.2f} us"],
        ["builtin kernel factor", f"{rt['builtin_kernel_factor']:.3f}"],
        ["memory efficiency", f"{rt['memory_efficiency']:.3f}"],
        ["thread speed-up fp32", ", ".join(f"{v:.2f}" for v in rt["thread_speedup"]["float32"])],
        ["thread speed-up int8", ", ".join(f"{v:.2f}" for v in rt["thread_speedup"]["int8"])],
        ["runtime memory overhead", human_bytes(rt["runtime_overhead_bytes"])],
        ["partition overhead", f"{rt['partition_overhead_us']:.2f} us"],
        ["fit rms / max relative error", f"{fit.rms_relative_error:.1%} / {fit.max_relative_error:.1%}"],
    ]))
    click.echo(f"Next: edgekit profile MODEL.tflite --profiles {output.parent} --device {device_id}")
