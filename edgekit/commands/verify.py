"""`edgekit verify`: prove a converted model still computes what the original did.

``edgekit verify ORIGINAL CONVERTED.tflite`` (workstation) runs both on the same
inputs; ``edgekit verify BUNDLE_DIR`` (device, no TensorFlow) runs the bundle's
model on its golden inputs against the stored original outputs. Exit 0 when
every output is within the thresholds, 1 (after the full report) when not.

Only device-safe modules are imported at module level; the workstation path
imports its loaders inside the function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgekit.commands.common import html_option, html_target, is_debug, json_option, write_html_report
from edgekit.commands.preprocess_options import preprocess_options, recipe_from, recipe_given
from edgekit.commands.remote_options import remote_options
from edgekit.errors import CheckFailed, EdgekitError, UsageError
from edgekit.report import emit_json, info, warn
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("converted", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", type=click.Path(exists=True, path_type=Path),
              help="Inputs: a folder of images, or a .npy/.npz (one key per input). Default: synthetic.")
@click.option("--samples", type=click.IntRange(min=1), default=100, show_default=True, help="How many samples to run.")
@click.option("--labels", type=click.Path(exists=True, path_type=Path),
              help="Integer labels (one per sample, .txt/.csv/.npy, with --data FILE.npz) or a class_name/image "
              "folder: adds the task accuracy of both models.")
@preprocess_options
@click.option("--min-cosine", type=float, default=None, help="Override: minimum mean cosine similarity per output.")
@click.option("--min-sqnr", type=float, default=None, help="Override: minimum SQNR in dB per output.")
@click.option("--min-top1", type=float, default=None, help="Override: minimum top-1 agreement (0..1) of classifiers.")
@click.option("--max-abs", type=float, default=None, help="Set: maximum absolute error of any output value.")
@click.option("--min-iou", type=float, default=None,
              help="Override: minimum IoU of thresholded dense [0,1] maps (segmentation, heatmaps, text maps).")
@click.option("--map-threshold", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MAP_THRESHOLD, show_default=True,
              help="The threshold dense [0,1] maps are binarized at for --min-iou (e.g. 0.3 for DBNet text maps), and "
                   "the score a TopK-ranked or YOLOv8-style [1, 4+classes, anchors] detector output is read at (e.g. 0.25; its "
                   "detections are compared as sets).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Dynamic batch of the ORIGINAL, as for convert.")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DIMS",
              help="Fix a dynamic input dimension of the ORIGINAL model, as for convert (repeatable).")
@click.option("--keep-nchw", "keep_nchw", multiple=True, metavar="INPUT",
              help="ONNX: inputs that were kept channel-first by convert --keep-nchw.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Interpreter threads.")
@click.option("--stateful", is_flag=True,
              help="Streaming models: run a sequence of calls, each model feeding its own output state back as "
                   "its next input state, and compare every call (--samples calls; --data gives the other inputs).")
@click.option("--state", "state_pairs", multiple=True, metavar="IN=OUT",
              help="With --stateful: output OUT is the next call's value of input IN (repeatable); default: "
                   "paired by name (state/stateN, h/hn, h0/hN) and shape.")
@click.option("--explain", is_flag=True, help="Rank the layers that lose the most (int8 models, workstation).")
@click.option("--calibration", type=click.Path(exists=True, path_type=Path), default=None,
              help="With --explain: the --calibration data given to convert, so its trial conversions match.")
@click.option("--calibration-samples", type=click.IntRange(min=1), default=200, show_default=True,
              help="With --explain: as for convert.")
@remote_options("verify")
@json_option
@html_option
def verify(
    model: Path,
    converted: Path | None,
    data: Path | None,
    samples: int,
    labels: Path | None,
    min_cosine: float | None,
    min_sqnr: float | None,
    min_top1: float | None,
    max_abs: float | None,
    min_iou: float | None,
    map_threshold: float,
    batch: int | None,
    input_shapes: tuple[str, ...],
    keep_nchw: tuple[str, ...],
    threads: int | None,
    stateful: bool,
    state_pairs: tuple[str, ...],
    explain: bool,
    calibration: Path | None,
    calibration_samples: int,
    as_json: bool,
    html: Path | None,
    force: bool,
    **preprocess_args: Any,
) -> None:
    """Check a converted model against its ORIGINAL (.keras/.h5, SavedModel dir, .onnx), or a BUNDLE_DIR.

    \b
      edgekit verify model.keras model_int8.tflite --data images/ --labels test/
      edgekit verify bundle/            # on the device: golden inputs vs stored outputs
      edgekit verify bundle/ --on ssh://pi@raspberrypi.local   # the same, on the board, from here
    """
    from edgekit.verify.thresholds import Thresholds

    overrides = {"min_cosine": min_cosine, "min_sqnr_db": min_sqnr, "min_top1": min_top1, "max_abs": max_abs,
                 "min_iou": min_iou}
    Thresholds(**overrides)  # validate the user's values before any work
    html = html_target(html, force)
    custom_recipe = recipe_given(preprocess_args)
    if state_pairs and not stateful:
        raise UsageError("--state is used by --stateful only.", hint="Add --stateful, or drop --state.")
    if stateful and (explain or labels is not None or converted is None):
        raise UsageError("--stateful compares ORIGINAL and CONVERTED.tflite call by call; it does not combine with "
                         "a bundle, --explain or --labels.", hint="Run: edgekit verify ORIGINAL CONVERTED.tflite "
                         "--stateful [--data FILE.npz]")
    if calibration is not None and not explain:
        raise UsageError("--calibration is used by --explain only.",
                         hint="Add --explain, or use --data for the samples to verify on.")

    if converted is None:
        if not model.is_dir() or not (model / "manifest.json").is_file():
            raise UsageError(
                f"{model} is not a bundle folder (no manifest.json) and no converted .tflite was given.",
                hint="Run `edgekit verify ORIGINAL CONVERTED.tflite`, or `edgekit verify BUNDLE_DIR` "
                "for a folder made by `edgekit convert --bundle`.",
            )
        for flag, value in (("--data", data), ("--labels", labels), ("--explain", explain or None),
                            ("--batch/--input-shape/--keep-nchw", (batch or input_shapes or keep_nchw) or None),
                            ("preprocessing options", custom_recipe or None)):
            if value is not None:
                raise UsageError(f"{flag} does not apply to a bundle: it is verified on its stored golden inputs.",
                                 hint="Drop the option, or verify ORIGINAL CONVERTED.tflite on the workstation.")
        from edgekit.verify.device import verify_bundle

        report = verify_bundle(model, overrides, samples=samples, num_threads=threads, map_threshold=map_threshold)
    else:
        if converted.suffix.lower() != ".tflite":
            raise UsageError(f"{converted} is not a .tflite file.",
                             hint="The second argument is the converted model: edgekit verify ORIGINAL CONVERTED.tflite")
        from edgekit.core.shapes import ShapeRequest
        from edgekit.host.verify.workstation import load_original, prepare_data, verify_against_original

        recipe = recipe_from(preprocess_args) if custom_recipe else None
        source = load_original(model, ShapeRequest.from_texts(input_shapes, batch, data), keep_nchw, debug=is_debug(),
                               converted=None if explain else converted, data=data)
        try:
            if stateful:
                from edgekit.host.verify.stateful import verify_stateful
                from edgekit.verify.stateful import parse_state_options

                report = verify_stateful(source, converted, data, recipe, samples, parse_state_options(state_pairs),
                                         overrides, num_threads=threads)
                prepared = None
            else:
                prepared = prepare_data(source, converted, data, recipe, samples, labels)
            if prepared is not None:
                report = verify_against_original(source, converted, prepared, overrides, num_threads=threads,
                                                 map_threshold=map_threshold)
            if explain and prepared is not None:
                from edgekit.host.verify.explain import ExplainOptions, explain_quantization

                try:
                    options = ExplainOptions(calibration, prepared.recipe, calibration_samples)
                    report.explain = explain_quantization(source, model, converted, prepared, report.passed, options)
                except EdgekitError as exc:  # the verify report still stands; say why there is no ranking
                    from edgekit.verify.explain_report import ExplainResult

                    report.warnings.append(f"--explain failed: {exc.message} ({exc.hint})")
                    report.explain = ExplainResult([], 0, message=f"--explain failed: {exc.message}")
        finally:
            source.close()

    for message in report.warnings:
        warn(message)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.render())
    write_html_report(report, html, force)  # a failing verify gets its report too
    if not report.passed:
        failed = sorted({f.output for f in report.failures})
        raise CheckFailed(
            f"verify failed: {len(failed)} output(s) out of thresholds ({', '.join(failed)}), decided by "
            f"{', '.join(report.decided_by)}: {report.failure_summary()}.",
            hint="See the report above; `edgekit tune ORIGINAL --device ID --calibration DATA --data DATA -o OUT.tflite` "
            "searches for a quantization that passes; --explain ranks the layers that lose the most.",
        )
    info(f"verify passed on {report.samples} samples ({report.input_source.value} inputs, {report.runtime}).")
