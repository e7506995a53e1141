"""`edgekit inspect MODEL.tflite`: operators, tensors, dtypes and quantization (device-safe)."""

from __future__ import annotations

from pathlib import Path

import click

from edgekit.commands.common import json_option
from edgekit.commands.remote_options import remote_options
from edgekit.report import emit_json


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--ops/--no-ops", "show_ops", default=True, help="Show the per-op table (default: on).")
@remote_options("inspect")
@json_option
def inspect(model: Path, show_ops: bool, as_json: bool) -> None:
    """Show MODEL.tflite's inputs, outputs, quantization and operators.

    Reads the file with edgekit's own flatbuffer reader: no TensorFlow needed.
    """
    from edgekit.tflite.inspect import inspect_model

    report = inspect_model(model)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.render(show_ops))
