"""`edgekit devices`: the device profiles known, with their key figures."""

from __future__ import annotations

import click

from edgekit.commands.common import json_option
from edgekit.report import emit_json


@click.command()
@click.option("--profiles", "profiles_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Folder of your own *.toml device profiles (repeatable; also $EDGEKIT_PROFILES).")
@json_option
def devices(profiles_dirs: tuple[str, ...], as_json: bool) -> None:
    """List the known device profiles (shipped, your own and calibrated) with their key figures."""
    from edgekit.profile.devices import list_devices

    result = list_devices(profiles_dirs)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render())
