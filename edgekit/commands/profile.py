"""`edgekit profile MODEL.tflite --device ID ...`: estimated latency, memory and fit per device profile."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.commands.common import html_option, html_target, json_option, write_html_report
from edgekit.report import emit_json


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
@html_option
def profile(model: str, device_ids: tuple[str, ...], threads: int | None, show_ops: bool,
            profiles_dirs: tuple[str, ...], as_json: bool, html: Path | None, force: bool) -> None:
    """Estimate latency, peak memory and fit of MODEL.tflite on device profiles (no TensorFlow, no device).

    Every figure is an ESTIMATE from the named device profile. A profile that
    `edgekit calibrate` fitted on the board is preferred over a shipped one.
    """
    from edgekit.profile.report import profile_model

    html = html_target(html, force)
    result = profile_model(model, device_ids, threads, profiles_dirs)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render(show_ops))
    write_html_report(result, html, force)
