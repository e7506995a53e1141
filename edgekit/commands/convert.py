"""`edgekit convert MODEL -o OUT.tflite`: Keras / SavedModel / ONNX to TFLite (full-integer int8 by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgekit.commands.common import is_debug, json_option
from edgekit.commands.preprocess_options import choice, preprocess_options, recipe_from
from edgekit.commands.prune_options import prune_config_from, prune_options, render_prune
from edgekit.core.onnx_backend import BACKEND_HELP, OnnxBackend
from edgekit.core.quant import MODE_SPECS, IOType, QuantizeMode
from edgekit.core.shapes import ShapeRequest
from edgekit.data import Preprocessing
from edgekit.report import emit_json, format_table, human_bytes, info, warn


@click.command(name="convert")
@click.argument("model", type=click.Path(exists=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The .tflite file to write.")
@click.option("--quantize", type=choice(QuantizeMode), default="int8", show_default=True,
              help="; ".join(f"{m.value} = {spec.help}" for m, spec in MODE_SPECS.items()) + ".")
@click.option("--io-type", type=choice(IOType), default=None,
              help="Input/output tensor type. Default: " + ", ".join(f"{spec.default_io.value} for {m.value}"
                                                                     for m, spec in MODE_SPECS.items()) + ".")
@click.option("--per-tensor", is_flag=True, help="Per-tensor instead of per-channel weight quantization.")
@click.option("--calibration", type=click.Path(path_type=Path), default=None,
              help="A folder of images (recursive) or a .npy/.npz (one key per input). Default: synthetic (accuracy unknown).")
@click.option("--calibration-samples", type=int, default=200, show_default=True, help="How many samples to calibrate on.")
@preprocess_options
@click.option("--batch", type=int, default=None, help="Fix a dynamic batch dimension to N (default 1).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=DIMS",
              help="Fix an input's shape, e.g. input_1=1,224,224,3 (repeatable).")
@click.option("--keep-float", "keep_float", multiple=True, metavar="LAYER",
              help="Keep this layer (Keras layer or tensor name) in float; repeatable or comma-separated (int8 only).")
@click.option("--keep-nchw", "keep_nchw", multiple=True, metavar="INPUT",
              help="ONNX: keep this input channel-first (NCHW/NCW) in the .tflite instead of NHWC (repeatable).")
@click.option("--no-check", "no_check", is_flag=True,
              help="ONNX: skip comparing onnxruntime with the float .tflite (not recommended).")
@click.option("--backend", "onnx_backend", type=choice(OnnxBackend), default="auto", show_default=True,
              help="ONNX: " + "; ".join(f"{b.value} = {text}" for b, text in BACKEND_HELP.items()) + ".")
@click.option("--state", "state_pairs", multiple=True, metavar="IN=OUT",
              help="ONNX streaming models: output OUT is the next call's value of input IN (repeatable); default: "
                   "paired by name (state/stateN, h/hn, h0/hN) and shape. The check then runs a sequence of calls.")
@click.option("--bundle", type=click.Path(path_type=Path), default=None,
              help="Also write a deployment bundle folder (model, manifest, golden samples).")
@click.option("--golden-samples", type=int, default=16, show_default=True,
              help="How many real inputs (and the original model's outputs) the bundle keeps for verify.")
@click.option("--force", is_flag=True, help="Overwrite the output (and bundle) if they exist.")
@prune_options
@json_option
def convert(model: Path, output: Path, quantize: str, io_type: str | None, per_tensor: bool, calibration: Path | None,
            calibration_samples: int, batch: int | None, input_shapes: tuple[str, ...], keep_float: tuple[str, ...],
            keep_nchw: tuple[str, ...], no_check: bool, onnx_backend: str, state_pairs: tuple[str, ...],
            bundle: Path | None, golden_samples: int, force: bool, as_json: bool, **option_args: Any) -> None:
    """Convert MODEL (.keras, .h5, SavedModel folder or .onnx) to a .tflite file.

    Full-integer int8 by default, calibrated on --calibration data; say
    --bundle DIR to also get the folder `edgekit verify DIR` checks on a device.
    """
    from edgekit.host.convert.config import ConvertConfig
    from edgekit.host.convert.pipeline import run_convert
    from edgekit.host.source_model import LoadOptions
    from edgekit.verify.stateful import parse_state_options

    recipe = recipe_from(option_args)
    names = tuple(n.strip() for item in keep_float for n in item.split(",") if n.strip())
    config = ConvertConfig(
        model=model, output=output, quantize=quantize, io_type=io_type,  # type: ignore[arg-type]
        per_tensor=per_tensor, calibration=calibration, calibration_samples=calibration_samples,
        preprocessing=recipe,
        load=LoadOptions(shapes=ShapeRequest.from_texts(input_shapes, batch), keep_nchw=keep_nchw, check=not no_check,
                         check_data=calibration, check_recipe=recipe, debug=is_debug(), backend=onnx_backend.lower(),
                         state_pairs=parse_state_options(state_pairs)),
        keep_float=names, bundle=bundle, golden_samples=golden_samples, force=force,
        prune=prune_config_from(option_args),
    )
    result = run_convert(config)
    for note in result.notes:
        info(f"Note: {note}")
    for message in result.warnings:
        warn(message)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(render(result.to_dict()))


def _fmt(value: Any, digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render(result: dict[str, Any]) -> str:
    """The human summary of a conversion."""
    src = result["source"]
    ratio = src["size_bytes"] / result["size_bytes"] if result["size_bytes"] else 0.0
    conversion = result.get("conversion") or {}
    made_by = f" by {conversion['backend']}" if conversion.get("backend") else ""
    lines = [
        f"Converted {src['path']} ({src['format']}){made_by} -> {result['output']}",
        f"  mode: {result['quantization']} (io {result['io_type']}{', per-tensor' if result['per_tensor'] else ''}); "
        f"detected in the file: {result['quant_kind_detected']}",
        f"  size: {human_bytes(result['source_size_bytes'])} -> {human_bytes(result['size_bytes'])} "
        f"({f'{ratio:.1f}x smaller' if ratio >= 1 else f'{1 / ratio:.1f}x larger'}), measured; "
        f"conversion took {result['seconds']:.1f} s",
        "",
    ]
    rows = [[side, e["name"], e["source_name"], "x".join(map(str, e["shape"])), e["dtype"], _fmt(e["scale"]),
             _fmt(e["zero_point"])]
            for side, key in (("in", "inputs"), ("out", "outputs")) for e in result[key]]
    lines.append(format_table(["", "tflite name", "source name", "shape", "dtype", "scale", "zero_point"], rows,
                              align="lllllrr"))
    calib = result["calibration"]
    lines.append("")
    if QuantizeMode(result["quantization"]).needs_calibration:
        where = "synthetic random inputs (accuracy unknown)" if calib["kind"] == "synthetic" else calib["source"]
        lines.append(f"Calibration: {calib['count']} samples from {where}; {calib['skipped']} skipped")
        if result["preprocessing"]:
            lines.append(f"Preprocessing: {Preprocessing.from_dict(result['preprocessing']).describe()}")
        float_ops = result["float_ops"]
        if float_ops:
            ops = ", ".join(f"{name} x{n}" for name, n in float_ops.items())
            lines.append(f"Ops that stayed float: {ops}")
        else:
            lines.append("Ops that stayed float: none (integer only)")
        if result["kept_float"]:
            lines.append(f"Kept in float on request: {', '.join(result['kept_float'])}")
    golden = result["golden_check"]["outputs"]
    if golden:
        lines.append("")
        lines.append(f"Check against the original model (measured on {golden[0]['samples']} samples):")
        lines.append(format_table(
            ["output", "max abs error", "cosine", "top-1 agreement"],
            [[g["name"], _fmt(g["max_abs_error"], 4), f"{g['cosine']:.4f}",
              "-" if g["top1_agreement"] is None else f"{100 * g['top1_agreement']:.0f}%"] for g in golden],
        ))
    lines.extend(render_prune(result.get("prune"), result.get("golden_check")))
    if result["bundle"]:
        lines.append("")
        lines.append(f"Bundle: {result['bundle']} (model.tflite, manifest.json, golden.npz)")
    return "\n".join(lines)
