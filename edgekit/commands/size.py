"""`edgekit size MODEL`: what a model weighs on disk, over the air and in RAM, before and after pruning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from edgekit.commands.common import html_option, html_target, json_option, write_html_report
from edgekit.core.source import SourceFormat, detect_format
from edgekit.errors import UsageError
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
@click.option("--verify-on", "verify_on", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              metavar="BUNDLE", help="A bundle of this .tflite (convert --bundle): verify the model and every pruned "
              "variant on its golden data, as `edgekit verify BUNDLE` does.")
@json_option
@html_option
def size(model: Path, what_if: str, what_if_scope: str, profiles_dirs: tuple[Path, ...], verify_on: Path | None,
         as_json: bool, html: Path | None, force: bool) -> None:
    """Pruning-aware sizing of MODEL (.tflite on the device; .keras/.h5/SavedModel/.onnx on the workstation).

    Measures file size, deflate-9 (and zstd if installed) compressed size, exact zeros per tensor
    (for quantized tensors: values equal to the zero point), and what magnitude pruning to 50/75/90%
    would give - computed in memory, nothing is written. Pruning shrinks the COMPRESSED size
    (the download); file size, RAM and latency stay the same because LiteRT runs dense kernels.
    """
    sparsities = _parse_what_if(what_if)
    scope = PruneScope(what_if_scope)
    html = html_target(html, force)
    fmt = detect_format(model)
    result: TFLiteSizeReport | SourceSizeReport
    if fmt is SourceFormat.TFLITE:
        from edgekit.sizing.tflite_size import size_tflite

        result = size_tflite(model, sparsities, scope, profiles_dirs, verify_on)
    else:
        if verify_on is not None:
            raise UsageError("--verify-on BUNDLE checks a .tflite and its pruned variants.",
                             hint="Run edgekit size on the converted .tflite (the bundle's model.tflite).")
        from edgekit.host.source_size import size_source

        info(f"Reading {model} ({fmt.value}) ...")
        result = size_source(model, fmt, sparsities, scope)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render())
    write_html_report(result, html, force)
