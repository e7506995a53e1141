"""`edgekit tune MODEL --device ID --calibration DATA --data DATA -o OUT.tflite`: find an int8 recipe that passes.

Searches quantization recipes (calibration statistics, per-channel/per-tensor weights, int16 or float
for the ops a measurement finds sensitive, the TF converter vs ai-edge-quantizer), judges each like
`edgekit verify` on the held-out --data and estimates it on --device; writes the chosen .tflite, its
recipe (OUT.recipe.json, replayed by `edgekit convert MODEL --recipe`) and optionally a bundle.
Exit 0 when a candidate passes, 1 when none does (the best is shown), 2/3 as every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgekit.commands.common import html_file_option, is_debug, json_option, write_html_report
from edgekit.commands.preprocess_options import preprocess_options, recipe_from
from edgekit.errors import CheckFailed
from edgekit.report import emit_json, info, warn
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD


@click.command(name="tune")
@click.argument("model", type=click.Path(exists=False, path_type=Path))
@click.option("--device", required=True, help="Device profile id the choice is made for (see `edgekit devices`).")
@click.option("--calibration", type=click.Path(exists=True, path_type=Path), required=True,
              help="Calibration inputs: a folder of images or a .npy/.npz (one key per input).")
@click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
              help="Held-out inputs (NOT the calibration data) every candidate is judged on.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The chosen .tflite; its recipe is written next to it as NAME.recipe.json.")
@click.option("--bundle", type=click.Path(path_type=Path), default=None, help="Also write a deployment bundle folder.")
@click.option("--min-cosine", type=float, default=None, help="Override verify's minimum cosine similarity.")
@click.option("--min-sqnr", type=float, default=None, help="Override verify's minimum SQNR (dB).")
@click.option("--max-top1-drop", type=float, default=None,
              help="Points of top-1 agreement (per position for sequences) that may be lost, e.g. 2.")
@click.option("--min-iou", type=float, default=None, help="Override verify's minimum IoU of thresholded dense maps.")
@click.option("--map-threshold", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MAP_THRESHOLD, show_default=True,
              help="The threshold dense [0,1] maps are binarized at (e.g. 0.3 for DBNet text maps), and the score a "
                   "TopK-ranked (YOLO26, YOLOv10, RT-DETR) or YOLOv8-style [1, 4+classes, anchors] detector output is read at "
                   "(e.g. 0.25).")
@click.option("--budget-ms", type=float, default=None,
              help="Estimated latency the model must meet on --device (candidates slower than this are not chosen).")
@click.option("--max-candidates", type=click.IntRange(min=1), default=12, show_default=True,
              help="At most this many quantized candidates are made.")
@click.option("--time-budget", type=float, default=600.0, show_default=True,
              help="Seconds of search after which no new candidate is started.")
@click.option("--calibration-samples", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--data-samples", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many held-out samples each candidate is judged on (streaming models: calls in a row).")
@preprocess_options
@click.option("--batch", type=int, default=None, help="Fix a dynamic batch dimension to N (default 1).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DIMS",
              help="Fix an input's shape, e.g. x=1,3,320,320 (repeatable).")
@click.option("--keep-nchw", "keep_nchw", multiple=True, metavar="INPUT",
              help="ONNX: keep this input channel-first in the .tflite (repeatable).")
@click.option("--state", "state_pairs", multiple=True, metavar="IN=OUT",
              help="Streaming models: output OUT is the next call's value of input IN (repeatable); default: paired "
                   "by name (state/stateN, h/hn, h0/hN) and shape. Candidates are then judged over the --data "
                   "samples as one sequence of calls, each carrying its own state.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads assumed for the estimate.")
@click.option("--force", is_flag=True, help="Overwrite the output, recipe, bundle and --html report if they exist.")
@json_option
@html_file_option
def tune(model: Path, device: str, calibration: Path, data: Path, output: Path, bundle: Path | None,
         min_cosine: float | None, min_sqnr: float | None, max_top1_drop: float | None, min_iou: float | None,
         map_threshold: float, budget_ms: float | None, max_candidates: int, time_budget: float,
         calibration_samples: int, data_samples: int, batch: int | None, input_shapes: tuple[str, ...],
         keep_nchw: tuple[str, ...], state_pairs: tuple[str, ...], threads: int | None, force: bool, as_json: bool,
         html: Path | None, **preprocess_args: Any) -> None:
    """Search for the quantization of MODEL (anything `convert` takes) that passes verify's thresholds
    on held-out --data and runs fastest on --device.

    \b
      edgekit tune det.onnx --device rpi4b --calibration docs/calib --data docs/heldout \\
          --input-shape x=1,3,320,320 --preset imagenet --channel-order bgr -o det_int8.tflite
    """
    from edgekit.host.tune.pipeline import TuneConfig, run_tune
    from edgekit.tune_report import TuneReport
    from edgekit.verify.stateful import parse_state_options
    from edgekit.verify.thresholds import Thresholds

    Thresholds(min_cosine=min_cosine, min_sqnr_db=min_sqnr, min_iou=min_iou)  # validate before any work
    if html is not None:  # the report's path and the report extra, before the search
        from edgekit.htmlreport import check_html_target

        html = check_html_target(html, force)
    config = TuneConfig(
        model=model, device=device, output=output, calibration=calibration, data=data, bundle=bundle,
        min_cosine=min_cosine, min_sqnr_db=min_sqnr, max_top1_drop=max_top1_drop, min_iou=min_iou,
        map_threshold=map_threshold, latency_budget_ms=budget_ms, max_candidates=max_candidates,
        time_budget_s=time_budget, calibration_samples=calibration_samples, data_samples=data_samples,
        preprocessing=recipe_from(preprocess_args), input_shapes=input_shapes, batch=batch, keep_nchw=keep_nchw,
        threads=threads, force=force, debug=is_debug(), state=parse_state_options(state_pairs),
    )
    result = run_tune(config)
    report = TuneReport.from_dict(result.to_dict())
    out = report.to_dict()
    for note in out["notes"]:
        info(f"Note: {note}")
    for message in out["warnings"]:
        warn(message)
    if as_json:
        emit_json(out)
    else:
        click.echo(report.render())
    write_html_report(report, html, force)  # a failed search gets its report too
    if not result.passed:
        raise CheckFailed(result.failure_line() + ".",
                          hint="Relax a threshold (--min-sqnr, --min-cosine, --max-top1-drop), allow more candidates, "
                          "or calibrate on data like the real inputs.")
