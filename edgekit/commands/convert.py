"""`edgekit convert` (not implemented yet)."""

from __future__ import annotations

import click

from edgekit.errors import UsageError


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def convert(args: tuple[str, ...]) -> None:
    """Not available yet in this version of edgekit."""
    raise UsageError("`edgekit convert` is not available yet in this version.", hint="See README.md for the commands that work today.")
