"""`edgekit size MODEL`: what a model weighs on disk, over the air and in RAM, before and after pruning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from edgekit.commands.common import json_option
from edgekit.core.source import SourceFormat, detect_format
from edgekit.report import emit_json, info
from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES, PruneScope, parse_sparsity

if TYPE_CHECKING:
    from edgekit.sizing.report import SourceSizeReport, TFLiteSizeReport


def _parse_what_if(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    return tuple(parse_sparsity(p, option="--what-if") for p in parts)


@click.command()
@click.argument("model", type=click.Path(exists=False, path_type=Path))
@click.option("--what-if", "what_if", default=",".join(str(s) for s in WHAT_IF_SPARSITIES), show_default=True,
              metavar="S1,S2,...", help="Sparsities (fractions below 1) for the what-if pruning rows.")
@click.option("--what-if-scope", type=click.Choice([s.value for s in PruneScope]), default=PruneScope.PER_LAYER.value,
              show_default=True, help="Magnitude threshold per layer, or one global threshold.")
@click.option("--profiles", "profiles_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Extra folder of device profiles (*.toml) for the fit columns.")
@json_option
def size(model: Path, what_if: str, what_if_scope: str, profiles_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Pruning-aware sizing of MODEL (.tflite on the device; .keras/.h5/SavedModel/.onnx on the workstation).

    Measures file size, deflate-9 (and zstd if installed) compressed size, exact zeros per tensor
    (for quantized tensors: values equal to the zero point), and what magnitude pruning to 50/75/90%
    would give - computed in memory, nothing is written. Pruning shrinks the COMPRESSED size
    (the download); file size, RAM and latency stay the same because LiteRT runs dense kernels.
    """
    sparsities = _parse_what_if(what_if)
    scope = PruneScope(what_if_scope)
    fmt = detect_format(model)
    result: TFLiteSizeReport | SourceSizeReport
    if fmt is SourceFormat.TFLITE:
        from edgekit.sizing.tflite_size import size_tflite

        result = size_tflite(model, sparsities, scope, profiles_dirs)
    else:
        from edgekit.host.source_size import size_source

        info(f"Reading {model} ({fmt.value}) ...")
        result = size_source(model, fmt, sparsities, scope)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render())
