"""`edgekit devices`: the device profiles known, with their key figures."""

from __future__ import annotations

from typing import Any

import click

from edgekit.commands.common import json_option
from edgekit.report import emit_json, format_table, human_bytes


def device_summary(entry: Any) -> dict[str, Any]:
    p = entry.profile
    hw = p.hardware
    out: dict[str, Any] = {
        "id": p.id, "name": p.name, "accelerator": p.accelerator.value,
        "profile_source": entry.origin.value, "profile_file": entry.file,
        "cores": hw.cores, "core_type": hw.core_type, "clock_ghz": hw.clock_ghz, "simd": hw.simd,
        "dot_product": hw.dot_product,
        "peak_fp32_gmacs": round(hw.peak_fp32_gmacs_per_core * hw.cores, 2),
        "peak_int8_gmacs": round(hw.peak_int8_gmacs_per_core * hw.cores, 2),
        "memory_bandwidth_gb_per_s": hw.memory_bandwidth_gb_per_s, "ram_bytes": hw.ram_bytes,
        "usable_ram_bytes": p.usable_ram_bytes, "storage": hw.storage,
        "delegate": p.runtime.delegate.value, "default_threads": p.runtime.default_threads,
        "fitted_on": list(p.fitted_on),
    }
    if p.edgetpu is not None:
        t = p.edgetpu
        out["edgetpu"] = {"peak_int8_gmacs": t.peak_int8_gmacs, "parameter_cache_bytes": t.parameter_cache_bytes,
                          "link": t.link, "link_bandwidth_gb_per_s": t.link_bandwidth_gb_per_s}
    if p.gpu is not None:
        out["gpu"] = {"name": p.gpu.name, "peak_fp16_gmacs": p.gpu.peak_fp16_gmacs}
    if p.fit is not None:
        out["fit"] = {"method": p.fit.method, "date": p.fit.date, "rms_relative_error": p.fit.rms_relative_error}
    return out


@click.command()
@click.option("--profiles", "profiles_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Folder of your own *.toml device profiles (repeatable; also $EDGEKIT_PROFILES).")
@json_option
def devices(profiles_dirs: tuple[str, ...], as_json: bool) -> None:
    """List the known device profiles (shipped, your own and calibrated) with their key figures."""
    from edgekit.profile.registry import all_profiles

    table = all_profiles(profiles_dirs)
    rows = [device_summary(e) for _, e in sorted(table.items())]
    if as_json:
        emit_json({"devices": rows})
        return
    lines = []
    for r in rows:
        accel = r["accelerator"]
        if "edgetpu" in r:
            accel = f"edgetpu ({r['edgetpu']['link']}, {human_bytes(r['edgetpu']['parameter_cache_bytes'])} cache)"
        elif "gpu" in r:
            accel = f"gpu ({r['gpu']['name']})"
        lines.append([
            r["id"], f"{r['cores']}x {r['core_type']} @ {r['clock_ghz']:g} GHz", f"{r['peak_int8_gmacs']:g}",
            f"{r['peak_fp32_gmacs']:g}", f"{r['memory_bandwidth_gb_per_s']:g}", human_bytes(r["ram_bytes"]), accel,
            r["profile_source"],
        ])
    click.echo(format_table(
        ["device", "cpu", "peak int8 GMAC/s", "peak fp32 GMAC/s", "mem GB/s", "RAM", "accelerator", "profile"],
        lines, align="llrrrlll"))
    click.echo("Peak rates are the hardware figures of the profile; `edgekit profile` turns them into estimates.")
