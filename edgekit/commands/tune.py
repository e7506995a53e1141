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

from edgekit.commands.common import is_debug, json_option
from edgekit.commands.preprocess_options import preprocess_options, recipe_from
from edgekit.errors import CheckFailed
from edgekit.report import emit_json, format_table, human_bytes, info, warn
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
              help="The threshold dense [0,1] maps are binarized at (e.g. 0.3 for DBNet text maps).")
@click.option("--budget-ms", type=float, default=None,
              help="Estimated latency the model must meet on --device (candidates slower than this are not chosen).")
@click.option("--max-candidates", type=click.IntRange(min=1), default=12, show_default=True,
              help="At most this many quantized candidates are made.")
@click.option("--time-budget", type=float, default=600.0, show_default=True,
              help="Seconds of search after which no new candidate is started.")
@click.option("--calibration-samples", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--data-samples", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many held-out samples each candidate is judged on.")
@preprocess_options
@click.option("--batch", type=int, default=None, help="Fix a dynamic batch dimension to N (default 1).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DIMS",
              help="Fix an input's shape, e.g. x=1,3,320,320 (repeatable).")
@click.option("--keep-nchw", "keep_nchw", multiple=True, metavar="INPUT",
              help="ONNX: keep this input channel-first in the .tflite (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads assumed for the estimate.")
@click.option("--force", is_flag=True, help="Overwrite the output, recipe and bundle if they exist.")
@json_option
def tune(model: Path, device: str, calibration: Path, data: Path, output: Path, bundle: Path | None,
         min_cosine: float | None, min_sqnr: float | None, max_top1_drop: float | None, min_iou: float | None,
         map_threshold: float, budget_ms: float | None, max_candidates: int, time_budget: float,
         calibration_samples: int, data_samples: int, batch: int | None, input_shapes: tuple[str, ...],
         keep_nchw: tuple[str, ...], threads: int | None, force: bool, as_json: bool, **preprocess_args: Any) -> None:
    """Search for the quantization of MODEL (anything `convert` takes) that passes verify's thresholds
    on held-out --data and runs fastest on --device.

    \b
      edgekit tune det.onnx --device rpi4b --calibration docs/calib --data docs/heldout \\
          --input-shape x=1,3,320,320 --preset imagenet --channel-order bgr -o det_int8.tflite
    """
    from edgekit.host.tune.pipeline import TuneConfig, run_tune
    from edgekit.verify.thresholds import Thresholds

    Thresholds(min_cosine=min_cosine, min_sqnr_db=min_sqnr, min_iou=min_iou)  # validate before any work
    config = TuneConfig(
        model=model, device=device, output=output, calibration=calibration, data=data, bundle=bundle,
        min_cosine=min_cosine, min_sqnr_db=min_sqnr, max_top1_drop=max_top1_drop, min_iou=min_iou,
        map_threshold=map_threshold, latency_budget_ms=budget_ms, max_candidates=max_candidates,
        time_budget_s=time_budget, calibration_samples=calibration_samples, data_samples=data_samples,
        preprocessing=recipe_from(preprocess_args), input_shapes=input_shapes, batch=batch, keep_nchw=keep_nchw,
        threads=threads, force=force, debug=is_debug(),
    )
    result = run_tune(config)
    out = result.to_dict()
    for note in out["notes"]:
        info(f"Note: {note}")
    for message in out["warnings"]:
        warn(message)
    if as_json:
        emit_json(out)
    else:
        click.echo(render(out))
    if not result.passed:
        raise CheckFailed(result.failure_line() + ".",
                          hint="Relax a threshold (--min-sqnr, --min-cosine, --max-top1-drop), allow more candidates, "
                          "or calibrate on data like the real inputs.")


def _metric(c: dict[str, Any], key: str, fmt: str, reduce: Any = min) -> str:
    values = [m[key] for m in c.get("metrics") or [] if m.get(key) is not None]
    return "-" if not values else format(reduce(values), fmt)


def _row(mark: str, index: str, c: dict[str, Any], verdict: str) -> list[str]:
    sqnr = c.get("mean_sqnr_db")
    lat = c.get("estimated_latency_ms")
    return [mark, index, c["label"][:46], c.get("engine", "-"), c.get("quant_kind") or "-",
            "-" if sqnr is None else f"{sqnr:.1f}", _metric(c, "cosine", ".4f"), _metric(c, "top1_agreement", ".3f"),
            _metric(c, "map_iou", ".3f"), verdict, "-" if lat is None else f"{lat:.2f}",
            str(c.get("delegate_partitions") if c.get("delegate_partitions") is not None else "-"),
            str(c.get("quantize_dequantize_ops", "-")), str(c.get("float_ops", "-")),
            human_bytes(c.get("size_bytes")) if c.get("size_bytes") else "-"]


def render(out: dict[str, Any]) -> str:
    """The Pareto table and the verdict, for people."""
    device = out["device"]
    t = out.get("thresholds") or {}
    limits = ", ".join(part for part in (
        f"cosine >= {t['min_cosine']}" if t.get("min_cosine") is not None else "",
        f"SQNR >= {t['min_sqnr_db']} dB" if t.get("min_sqnr_db") is not None else "",
        f"top1 >= {t['min_top1']:.2f}" if t.get("min_top1") is not None else "",
        f"map IoU >= {t['min_iou']}" if t.get("min_iou") is not None else "") if part)
    lines = [
        f"Tuned {out['model']} for {device}: {out['candidates_tried']} candidate(s) in {out['seconds']:.0f} s"
        + (f" (stopped: {out['stopped']})" if out.get("stopped") else ""),
        f"Judged on {out['data']} (held out; calibration: {out['calibration']}), verify's thresholds: {limits}.",
        f"Latency is the profile estimator's ESTIMATE for {device}; parts = delegate partitions, Q/DQ = "
        "QUANTIZE/DEQUANTIZE ops inside the graph.",
        "",
    ]
    rows = []
    f32 = out["float32"]
    f32_check = f32.get("check") or {}
    rows.append(_row("", "-", {"label": "float32 .tflite (no quantization)", "engine": "-", "quant_kind": "float32",
                               "metrics": f32_check.get("outputs"),
                               "mean_sqnr_db": _mean([m["sqnr_db"] for m in f32_check.get("outputs") or []]),
                               "estimated_latency_ms": f32["estimated_latency_ms"],
                               "delegate_partitions": f32["delegate_partitions"], "quantize_dequantize_ops": 0,
                               "float_ops": "all", "size_bytes": f32["size_bytes"]}, "reference"))
    for c in out["candidates"]:
        if c["error"]:
            verdict = "ERROR"
        elif not c["passed"]:
            verdict = "FAIL " + ",".join(c["decided_by"])
        elif not c["allowed_on_device"]:
            verdict = "PASS, not for device"
        else:
            verdict = "PASS"
        mark = "=>" if c["chosen"] else ("*" if c["pareto"] else "")
        rows.append(_row(mark, str(c["index"]), c, verdict))
    lines.append(format_table(["", "#", "candidate", "engine", "kind", "SQNR dB", "cosine", "top1", "map IoU", "result",
                               "est. ms", "parts", "Q/DQ", "float", "size"], rows, align="lrllllrrrlrrrrr"))
    lines.append("=> chosen; * Pareto-optimal (accuracy margin vs est. latency vs size). SQNR is the mean over "
                 "outputs; cosine, top1 (per position for sequences) and map IoU the worst output.")
    for c in out["candidates"]:
        if c["error"]:
            lines.append(f"  #{c['index']} failed: {c['error'][:200]}")
        elif c["constraint"]:
            lines.append(f"  #{c['index']}: {c['constraint']}")
    lines.append("")
    chosen = out.get("chosen")
    if chosen:
        lines.append(f"Chosen: #{chosen['index']} {chosen['label']} ({chosen['recipe']}): {out['why']}.")
        lines.append(f"Wrote {out['output']} ({human_bytes(chosen['size_bytes'])}) and its recipe {out['recipe_file']}"
                     + (f"; bundle {out['bundle']}" if out.get("bundle") else "") + ".")
        lines.append(f"Replay: edgekit convert {out['model']} --recipe {out['recipe_file']} -o OUT.tflite")
    else:
        lines.append(f"FAILED: {out['why']}.")
    return "\n".join(lines)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
