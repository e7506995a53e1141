"""`edgekit inspect MODEL.tflite`: operators, tensors, dtypes and quantization (device-safe)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgekit.commands.common import json_option
from edgekit.report import emit_json, format_table, human_bytes


def tensor_dict(t: Any) -> dict[str, Any]:
    """A tensor as JSON-ready dict (used by inspect and other reports)."""
    q = t.quant
    return {
        "index": t.index,
        "name": t.name,
        "shape": list(t.shape),
        "shape_signature": list(t.shape_signature),
        "dtype": t.dtype,
        "scale": (q.scale if not q.per_channel else [float(s) for s in q.scales]) if q else None,
        "zero_point": (q.zero_point if not q.per_channel else [int(z) for z in q.zero_points]) if q else None,
        "quantized_dimension": q.quantized_dimension if q and q.per_channel else None,
    }


def inspect_model(path: Path) -> dict[str, Any]:
    """The inspect report for a .tflite file as a dict."""
    from edgekit.tflite.model import load_model

    model = load_model(path)
    sg = model.main
    ops = []
    for op in sg.operators:
        ins = [sg.tensors[i] for i in op.inputs if i >= 0]
        outs = [sg.tensors[i] for i in op.outputs]
        ops.append({
            "index": op.index,
            "op": op.name,
            "version": op.version,
            "inputs": [{"index": t.index, "shape": list(t.shape), "dtype": t.dtype, "constant": t.is_constant}
                       for t in ins],
            "outputs": [{"index": t.index, "shape": list(t.shape), "dtype": t.dtype} for t in outs],
            "options": op.options,
        })
    return {
        "model": str(path),
        "size_bytes": model.size_bytes,
        "weight_bytes": model.weight_bytes,
        "parameter_count": model.parameter_count(),
        "sha256": model.sha256,
        "quantization": model.quant_kind.value,
        "schema_version": model.schema_version,
        "subgraphs": len(model.subgraphs),
        "tensors": len(sg.tensors),
        "inputs": [tensor_dict(t) for t in model.inputs],
        "outputs": [tensor_dict(t) for t in model.outputs],
        "signatures": [{"key": s.key, "inputs": s.inputs, "outputs": s.outputs, "subgraph": s.subgraph_index}
                       for s in model.signatures],
        "op_histogram": model.op_histogram(),
        "custom_ops": model.custom_ops,
        "dynamic_inputs": [t.name for t in model.inputs if t.is_dynamic],
        "ops": ops,
    }


def _qtext(entry: dict[str, Any]) -> str:
    scale, zp = entry["scale"], entry["zero_point"]
    if scale is None:
        return "-"
    if isinstance(scale, list):
        return f"per-channel ({len(scale)} scales, axis {entry['quantized_dimension']})"
    return f"scale={scale:.6g} zero_point={zp}"


def _shape_text(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def render(report: dict[str, Any], show_ops: bool) -> str:
    lines = [
        f"Model:         {report['model']}",
        f"File size:     {human_bytes(report['size_bytes'])} ({report['size_bytes']:,} bytes)",
        f"Weights:       {human_bytes(report['weight_bytes'])} ({report['parameter_count']:,} parameters)",
        f"Quantization:  {report['quantization']}",
        f"Ops:           {len(report['ops'])} in the main subgraph ({report['subgraphs']} subgraph(s)), "
        f"{report['tensors']} tensors",
    ]
    if report["custom_ops"]:
        lines.append(f"Custom ops:    {', '.join(report['custom_ops'])}")
    if report["dynamic_inputs"]:
        lines.append(
            f"Dynamic dims:  {', '.join(report['dynamic_inputs'])} (-1 below; the runtime uses the stored "
            "default shape unless resized)"
        )
    for title, key in (("Inputs", "inputs"), ("Outputs", "outputs")):
        lines += ["", f"{title}:"]
        rows = [[e["name"], _shape_text(e["shape_signature"]), e["dtype"], _qtext(e)] for e in report[key]]
        lines.append(format_table(["name", "shape", "dtype", "quantization"], rows, align="llll"))
    lines += ["", "Op histogram:"]
    lines.append(format_table(["op", "count"], list(report["op_histogram"].items()), align="lr"))
    if show_ops:
        lines += ["", "Operators:"]
        rows = []
        for op in report["ops"]:
            rows.append([
                op["index"],
                op["op"],
                ", ".join(_shape_text(t["shape"]) + ("(c)" if t["constant"] else "") for t in op["inputs"]),
                ", ".join(_shape_text(t["shape"]) for t in op["outputs"]),
                "/".join(sorted({t["dtype"] for t in op["inputs"]} | {t["dtype"] for t in op["outputs"]})),
            ])
        lines.append(format_table(["#", "op", "inputs ((c) = constant)", "outputs", "dtypes"], rows, align="rllll"))
    return "\n".join(lines)


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--ops/--no-ops", "show_ops", default=True, help="Show the per-op table (default: on).")
@json_option
def inspect(model: Path, show_ops: bool, as_json: bool) -> None:
    """Show MODEL.tflite's inputs, outputs, quantization and operators.

    Reads the file with edgekit's own flatbuffer reader: no TensorFlow needed.
    """
    report = inspect_model(model)
    if as_json:
        emit_json(report)
    else:
        click.echo(render(report, show_ops))
