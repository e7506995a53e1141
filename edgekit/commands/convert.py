"""`edgekit convert MODEL -o OUT.tflite`: Keras / SavedModel / ONNX / float .tflite to TFLite (full-integer int8
by default). A float .tflite is quantized with ai-edge-quantizer (no TensorFlow; works on a board with
``edgekit[quantize]``); ``--recipe`` replays what `edgekit tune` chose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgekit.commands.common import is_debug, json_option
from edgekit.commands.preprocess_options import choice, preprocess_options, recipe_from, recipe_given
from edgekit.commands.prune_options import prune_config_from, prune_options, render_prune
from edgekit.core.onnx_backend import BACKEND_HELP, OnnxBackend
from edgekit.core.quant import MODE_SPECS, IOType, QuantizeMode
from edgekit.core.shapes import ShapeRequest
from edgekit.data import Preprocessing
from edgekit.errors import CheckFailed, UsageError
from edgekit.report import emit_json, format_table, human_bytes, info, warn
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD


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
              help="Streaming models: output OUT is the next call's value of input IN (repeatable); default: "
                   "paired by name (state/stateN, h/hn, h0/hN) and shape. The check then runs a sequence of calls.")
@click.option("--bundle", type=click.Path(path_type=Path), default=None,
              help="Also write a deployment bundle folder (model, manifest, golden samples).")
@click.option("--golden-samples", type=int, default=16, show_default=True,
              help="How many real inputs (and the original model's outputs) the bundle keeps for verify.")
@click.option("--force", is_flag=True, help="Overwrite the output (and bundle) if they exist.")
@click.option("--recipe", "recipe_file", type=click.Path(path_type=Path), default=None,
              help="Replay a quantization recipe (the .recipe.json `edgekit tune` writes): same engine, mode, "
              "calibration statistics, per-op precision and calibration data.")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="Held-out inputs (images folder, .npy/.npz) for the check, whose activation ranges are also "
              "compared with the calibration data's.")
@click.option("--map-threshold", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MAP_THRESHOLD, show_default=True,
              help="The threshold the check binarizes dense [0,1] output maps at for their IoU, and the score a "
                   "TopK-ranked or YOLOv8-style [1, 4+classes, anchors] detector output is read at.")
@click.option("--allow-mismatch", is_flag=True,
              help="Exit 0 even when the check fails verify's default thresholds (the file is written either way).")
@prune_options
@json_option
def convert(model: Path, output: Path, quantize: str, io_type: str | None, per_tensor: bool, calibration: Path | None,
            calibration_samples: int, batch: int | None, input_shapes: tuple[str, ...], keep_float: tuple[str, ...],
            keep_nchw: tuple[str, ...], no_check: bool, onnx_backend: str, state_pairs: tuple[str, ...],
            bundle: Path | None, golden_samples: int, force: bool, recipe_file: Path | None, data: Path | None,
            map_threshold: float, allow_mismatch: bool, as_json: bool, **option_args: Any) -> None:
    """Convert MODEL (.keras, .h5, SavedModel folder, .onnx, or a float .tflite) to a .tflite file.

    Full-integer int8 by default, calibrated on --calibration data; say
    --bundle DIR to also get the folder `edgekit verify DIR` checks on a device.
    The conversion is checked against the original with verify's metrics and
    default thresholds; when that check fails, the file is still written, a
    Warning names the metric, and the exit code is 1 (--allow-mismatch: 0).
    """
    from edgekit.core.recipe import read_recipe
    from edgekit.core.source import SourceFormat, detect_format

    quant_recipe = read_recipe(recipe_file) if recipe_file is not None else None
    fmt = detect_format(model)
    names = tuple(n.strip() for item in keep_float for n in item.split(",") if n.strip())
    if quant_recipe is not None:
        given = [flag for flag, value in (("--quantize", quantize != "int8"), ("--io-type", io_type),
                                          ("--per-tensor", per_tensor), ("--keep-float", names)) if value]
        if given:
            raise UsageError(f"{', '.join(given)} does not go with --recipe: the recipe says how to quantize.",
                             hint="Drop those options, or drop --recipe.")
        ref = quant_recipe.calibration
        if calibration is None and ref.source is not None:
            calibration = Path(ref.source)
            if not calibration.exists():
                raise UsageError(f"the recipe's calibration data {calibration} does not exist here.",
                                 hint="Pass the same data with --calibration DIR|FILE.")
            if "calibration_samples" not in _given_params():
                calibration_samples = ref.count
        if not recipe_given(option_args) and ref.preprocessing:
            recipe = Preprocessing.from_dict(ref.preprocessing)
        else:
            recipe = recipe_from(option_args)
        if not (input_shapes or batch or keep_nchw):
            input_shapes, batch, keep_nchw = quant_recipe.load.input_shapes, quant_recipe.load.batch, \
                quant_recipe.load.keep_nchw
    else:
        recipe = recipe_from(option_args)
    if fmt is SourceFormat.TFLITE:
        result = _convert_tflite(model, output, quantize, io_type, per_tensor, calibration, calibration_samples,
                                 recipe, names, bundle, golden_samples, force, quant_recipe, data, map_threshold,
                                 bool(keep_nchw or no_check or option_args.get("prune")
                                      or onnx_backend.lower() != "auto"), state_pairs, input_shapes, batch)
    else:
        result = _convert_source(model, output, quantize, io_type, per_tensor, calibration, calibration_samples,
                                 batch, input_shapes, names, keep_nchw, no_check, onnx_backend, state_pairs, bundle,
                                 golden_samples, force, recipe, quant_recipe, data, map_threshold, option_args)
    _finish(result, as_json, allow_mismatch)


def _given_params() -> set[str]:
    """Parameters the user set on the command line (not defaults)."""
    ctx = click.get_current_context()
    return {name for name in ctx.params if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE}


def _convert_tflite(model: Path, output: Path, quantize: str, io_type: str | None, per_tensor: bool,
                    calibration: Path | None, calibration_samples: int, recipe: Preprocessing,
                    names: tuple[str, ...], bundle: Path | None, golden_samples: int, force: bool,
                    quant_recipe: Any, data: Path | None, map_threshold: float,
                    source_only_options: bool, state_pairs: tuple[str, ...], input_shapes: tuple[str, ...],
                    batch: int | None) -> dict[str, Any]:
    """A float .tflite: the device-safe ai-edge-quantizer pipeline (no TensorFlow)."""
    from edgekit.requant.pipeline import TFLiteConvertConfig, run_tflite_convert
    from edgekit.verify.stateful import parse_state_options

    if source_only_options:
        raise UsageError(f"{model} is a .tflite: --keep-nchw/--no-check/--backend/--prune apply to Keras, "
                         "SavedModel and ONNX sources.", hint="Drop those options.")
    config = TFLiteConvertConfig(
        model=model, output=output, quantize=quantize, io_type=io_type,  # type: ignore[arg-type]
        per_tensor=per_tensor, calibration=calibration, calibration_samples=calibration_samples,
        preprocessing=recipe, keep_float=names, bundle=bundle, golden_samples=golden_samples, force=force,
        recipe=quant_recipe, data=data, map_threshold=map_threshold, debug=is_debug(),
        state=parse_state_options(state_pairs), input_shapes=input_shapes, batch=batch,
    )
    return run_tflite_convert(config).to_dict()


def _convert_source(model: Path, output: Path, quantize: str, io_type: str | None, per_tensor: bool,
                    calibration: Path | None, calibration_samples: int, batch: int | None,
                    input_shapes: tuple[str, ...], names: tuple[str, ...], keep_nchw: tuple[str, ...],
                    no_check: bool, onnx_backend: str, state_pairs: tuple[str, ...], bundle: Path | None,
                    golden_samples: int, force: bool, recipe: Preprocessing,
                    quant_recipe: Any, data: Path | None, map_threshold: float,
                    option_args: dict[str, Any]) -> dict[str, Any]:
    """Keras, SavedModel or ONNX: the workstation pipeline (TF converter, or ai-edge-quantizer for a recipe)."""
    from edgekit.host.convert.config import ConvertConfig
    from edgekit.host.convert.pipeline import run_convert
    from edgekit.host.source_model import LoadOptions
    from edgekit.verify.stateful import parse_state_options

    config = ConvertConfig(
        model=model, output=output, quantize=quantize, io_type=io_type,  # type: ignore[arg-type]
        per_tensor=per_tensor, calibration=calibration, calibration_samples=calibration_samples,
        preprocessing=recipe,
        load=LoadOptions(shapes=ShapeRequest.from_texts(input_shapes, batch, calibration or data), keep_nchw=keep_nchw, check=not no_check,
                         check_data=calibration, check_recipe=recipe, debug=is_debug(), backend=onnx_backend.lower(),
                         state_pairs=parse_state_options(state_pairs)),
        keep_float=names, bundle=bundle, golden_samples=golden_samples, force=force,
        prune=prune_config_from(option_args), recipe=quant_recipe, data=data, map_threshold=map_threshold,
    )
    return run_convert(config).to_dict()


def _finish(result: dict[str, Any], as_json: bool, allow_mismatch: bool) -> None:
    for note in result["notes"]:
        info(f"Note: {note}")
    for message in result["warnings"]:
        warn(message)
    if as_json:
        emit_json(result)
    else:
        click.echo(render(result))
    check = result.get("check")
    if check and not check["passed"] and not allow_mismatch:
        raise CheckFailed(
            f"convert's check failed verify's thresholds ({', '.join(check['decided_by'])}); {result['output']} "
            "was written.",
            hint="The Warning above says what to try (`edgekit tune` for a quantization that passes, or why a float "
                 "conversion cannot); --allow-mismatch accepts this one.")


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
        *([f"  recipe: {result['recipe']} (engine {result.get('engine')})"] if result.get("recipe") else []),
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
    check = result.get("check")
    if check:
        lines.append("")
        lines.append(f"Check against the original model (measured on {check['inputs']}; verify's thresholds for "
                     f"{check['quant_kind']}):")
        lines.append(format_table(
            ["output", "max abs error", "cosine", "SQNR dB", "top-1 agreement", "map IoU", "result"],
            [[g["name"], _fmt(g["max_abs_error"], 4), f"{g['cosine']:.4f}", f"{g['sqnr_db']:.1f}",
              "-" if g["top1_agreement"] is None else f"{100 * g['top1_agreement']:.0f}%"
              + (f" of {g['class_positions']} positions" if g.get("class_positions") else ""),
              "-" if g.get("map_iou") is None else f"{g['map_iou']:.3f}",
              "PASS" if g["passed"] else "FAIL"] for g in check["outputs"]],
            align="lrrrrrl",
        ))
        lines.extend(f"Note: {n}" for n in check.get("notes", []))
        if not check["passed"]:
            lines.append(f"FAILED, decided by {', '.join(check['decided_by'])}: {check['failures']}")
    elif golden:
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
