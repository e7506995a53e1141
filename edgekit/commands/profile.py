"""`edgekit profile MODEL.tflite --device ID ...`: estimated latency, memory and fit per device profile."""

from __future__ import annotations

from typing import Any

import click

from edgekit.commands.common import json_option
from edgekit.errors import UsageError
from edgekit.report import emit_json, format_table, human_bytes


def _ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 1 else f"{value:.1f} ms"


def _device_lines(est: Any) -> list[str]:
    """Edge TPU split and notes of one device, for people."""
    lines: list[str] = []
    tpu = est.edgetpu
    if tpu is not None:
        if not tpu["integer_model"]:
            lines.append(f"{est.device}: {tpu['note']} (estimated all on the host CPU).")
        else:
            first = tpu["first_unmapped_op"]
            split = (f"first unmapped op #{first['index']} {first['op']}: {first['reason']}; it and every later op "
                     f"run on the CPU" if first else "the whole graph maps"
                     + (" (the CPU only converts the float inputs/outputs)" if tpu["cpu_ops"] else ""))
            lines.append(
                f"{est.device}: {tpu['mapped_ops']} ops on the Edge TPU, {tpu['cpu_ops']} on the CPU; {split}. "
                f"Parameters cached on chip {human_bytes(tpu['cached_parameter_bytes'])}, streamed per inference "
                f"{human_bytes(tpu['streamed_parameter_bytes'])}. Estimated TPU {_ms(tpu['tpu_ms'])} + link "
                f"{_ms(tpu['link_ms'])} + CPU {_ms(tpu['cpu_ms'])}."
            )
    for note in est.notes:
        if tpu is not None and note == tpu.get("note"):
            continue
        lines.append(f"{est.device}: {note}.")
    if est.delegate_partitions > 1:
        lines.append(f"{est.device}: XNNPACK splits the CPU part into {est.delegate_partitions} delegate partitions "
                     f"(ops it refuses run on slower builtin kernels; see --ops).")
    return lines


def _ops_table(est: Any, top: int | None) -> str:
    ops = sorted(est.ops, key=lambda o: -o.latency_ms)
    if top is not None:
        ops = ops[:top]
    total = est.latency_ms or 1.0
    rows = []
    for o in ops:
        rows.append([
            o.index, o.op + (" (roughly)" if o.roughly else ""), o.dtype, f"{o.macs:,}", human_bytes(o.bytes),
            f"{o.latency_ms:.3f}", f"{100 * o.latency_ms / total:.1f}%", o.runs_on, o.note,
        ])
    return format_table(["#", "op", "dtype", "MACs", "bytes", "est. ms", "share", "runs on", "why not delegated"],
                        rows, align="rllrrrrll")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--device", "-d", "device_ids", multiple=True, required=True,
              help="Device profile id (repeatable); `edgekit devices` lists them.")
@click.option("--threads", "-t", type=click.IntRange(min=1, max=1024), default=None,
              help="CPU threads (default: the profile's default_threads).")
@click.option("--ops", "show_ops", is_flag=True, help="Show the per-op table (slowest ops first) for each device.")
@click.option("--profiles", "profiles_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Folder of your own *.toml device profiles (repeatable; also $EDGEKIT_PROFILES).")
@json_option
def profile(model: str, device_ids: tuple[str, ...], threads: int | None, show_ops: bool,
            profiles_dirs: tuple[str, ...], as_json: bool) -> None:
    """Estimate latency, peak memory and fit of MODEL.tflite on device profiles (no TensorFlow, no device).

    Every figure is an ESTIMATE from the named device profile. A profile that
    `edgekit calibrate` fitted on the board is preferred over a shipped one.
    """
    from edgekit.profile.estimator import estimate
    from edgekit.profile.registry import all_profiles
    from edgekit.tflite.model import load_model

    table = all_profiles(profiles_dirs)
    unknown = [d for d in device_ids if d not in table]
    if unknown:
        from edgekit.errors import ProfileError

        raise ProfileError(
            f"unknown device '{unknown[0]}'.",
            hint=f"Known devices: {', '.join(sorted(table))} (see `edgekit devices`; add your own with --profiles DIR).",
        )
    if len(set(device_ids)) != len(device_ids):
        raise UsageError("the same --device is given twice.", hint="Give each device id once.")
    m = load_model(model)
    estimates = [estimate(m, table[d], threads) for d in device_ids]

    if as_json:
        emit_json({
            "model": str(model), "quant_kind": m.quant_kind.value, "estimated": True,
            "operators": len(m.main.operators), "devices": [e.as_dict() for e in estimates],
        })
        return

    click.echo(f"Model: {model} ({m.quant_kind.value}, {len(m.main.operators)} ops, "
               f"{human_bytes(m.weight_bytes)} of weights)")
    click.echo("All figures below are ESTIMATES from device profiles, not measurements.")
    rows = []
    for e in estimates:
        rows.append([
            e.device, e.threads, f"{e.latency_ms:.2f}", human_bytes(e.peak_memory_bytes),
            human_bytes(e.weights_bytes + e.repacked_weights_bytes), human_bytes(e.arena_bytes),
            human_bytes(e.runtime_overhead_bytes), ("yes" if e.fits else "NO") + f" ({human_bytes(e.usable_ram_bytes)})",
            e.profile_source,
        ])
    click.echo(format_table(
        ["device", "threads", "est. latency ms", "est. peak memory", "weights (+repack)", "arena", "runtime",
         "fits (usable RAM)", "profile"], rows, align="lrrrrrrll"))
    notes = [line for e in estimates for line in _device_lines(e)]
    if notes:
        click.echo("")
        for line in notes:
            click.echo(line)
    for e in estimates:
        if show_ops:
            click.echo(f"\nPer-op estimates on {e.device} (slowest first; fused activations are free):")
            click.echo(_ops_table(e, None))
    if not show_ops and estimates:
        click.echo("\nSlowest ops (estimated) on " + estimates[0].device + "; --ops for the full table per device:")
        click.echo(_ops_table(estimates[0], 5))
    sources = sorted({f"{e.device}: {e.profile_source} {e.profile_file}" for e in estimates})
    click.echo("\nProfiles: " + "; ".join(sources))
