"""`edgekit size MODEL`: what a model weighs on disk, over the air and in RAM, before and after pruning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgekit.commands.common import json_option
from edgekit.core.source import SourceFormat, detect_format
from edgekit.report import emit_json, format_table, human_bytes, info
from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES, PruneScope, parse_sparsity


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _b(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B ({human_bytes(n)})" if n >= 1024 else f"{n:,} B"


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _parse_what_if(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    return tuple(parse_sparsity(p, option="--what-if") for p in parts)


def _fitting_ids(fits: dict[str, Any]) -> list[str]:
    return [d["device"] for d in fits.get("devices", []) if d["ram_fits"] and d["storage_fits"] is not False]


def _render_fits(fits: dict[str, Any]) -> list[str]:
    if not fits.get("available"):
        return [f"Device fits: not shown ({fits.get('reason')})."]
    rows = []
    for d in fits["devices"]:
        st = "unknown (profile names no size)" if d["storage_fits"] is None else ("yes" if d["storage_fits"] else "NO")
        rows.append([d["device"], human_bytes(d["ram_needed_bytes"]), human_bytes(d["usable_ram_bytes"]),
                     "yes" if d["ram_fits"] else "NO", st])
    return [f"Device fits (RAM {fits['ram_method']}; the same for every pruned variant):",
            format_table(["device", "RAM needed", "usable RAM", "fits RAM", "fits storage"], rows, align="lrrll")]


def _render_tflite(r: dict[str, Any]) -> str:
    c = r["compressed"]
    sp = r["sparsity"]
    lines = [
        f"{r['model']}  (.tflite, {r['quantization']}, {r['parameters']:,} parameters)",
        f"  file size        {_b(r['file_bytes'])}  measured",
        f"  deflate -9       {_b(c['deflate9_bytes'])}  measured (over-the-air proxy)",
        f"  zstd -19         {_b(c['zstd_bytes'])}  measured" if c["zstd_bytes"] is not None
        else f"  zstd             {r['zstd_note']}",
        f"  sparsity         weights {_pct(sp['weights']['sparsity'])} zeros, all constants "
        f"{_pct(sp['all_constants']['sparsity'])}  measured ({sp['zero_definition']})",
        *([f"  sparse encoding  {r['sparse_encoded_tensors']} tensor(s) stored sparse-encoded (zeros not stored; "
           "LiteRT's default XNNPACK path cannot run sparse int8/dynamic-range models)"]
          if r["sparse_encoded_tensors"] else []),
        "",
        "Per tensor (measured):",
        format_table(
            ["tensor", "role", "op", "dtype", "shape", "elements", "zeros", "sparsity", "bytes"],
            [[_short(t["name"]), t["role"], t["op"], t["dtype"], "x".join(map(str, t["shape"])) or "scalar",
              f"{t['elements']:,}", f"{t['zeros']:,}" + ("+" if t["sparse_encoded"] else ""), _pct(t["sparsity"]), f"{t['bytes']:,}"]
             for t in r["tensors"]],
            align="lllllrrrr",
        ),
        "",
        f"What if pruned by magnitude ({r['what_if']['scope']}; {r['what_if']['policy']}); "
        "measured in memory, nothing written:",
    ]
    fits = r["fits"]
    n_dev = len(fits["devices"]) if fits.get("available") else 0
    fit_text = f"{len(_fitting_ids(fits))}/{n_dev} devices" if n_dev else "-"
    rows = [["as is", _pct(sp["weights"]["sparsity"]), f"{r['file_bytes']:,}", f"{c['deflate9_bytes']:,}",
             "-" if c["zstd_bytes"] is None else f"{c['zstd_bytes']:,}", "as is", fit_text]]
    for w in r["what_if"]["rows"]:
        rows.append([_pct(w["target_sparsity"]), _pct(w["weights_sparsity"]), f"{w['file_bytes']:,}",
                     f"{w['deflate9_bytes']:,}", "-" if w["zstd_bytes"] is None else f"{w['zstd_bytes']:,}",
                     "unchanged", "-" if w["fits_devices"] is None else f"{len(w['fits_devices'])}/{n_dev} devices"])
    lines.append(format_table(["pruned to", "weights sparsity", "file bytes", "deflate-9 bytes", "zstd bytes", "RAM",
                               "fits"], rows, align="lrrrrll"))
    lines.append(f"Note: {r['what_if']['ram_note']}")
    lines.append("")
    lines.extend(_render_fits(r["fits"]))
    return "\n".join(lines)


def _render_source(r: dict[str, Any]) -> str:
    sp = r["sparsity"]
    lines = [
        f"{r['model']}  ({r['format']}, {r['parameters']:,} parameters in {r['weight_tensors']} tensors)",
        f"  file size        {_b(r['file_bytes'])}  measured" + (" (sum of the folder's files)" if r["is_dir"] else ""),
        f"  deflate -9       {_b(r['compressed']['deflate9_bytes'])}  measured",
        f"  sparsity         weights {_pct(sp['weights']['sparsity'])} zeros, all parameters "
        f"{_pct(sp['all']['sparsity'])}  measured (exact 0.0)",
        "",
        "Per tensor (measured):",
        format_table(["tensor", "role", "shape", "elements", "zeros", "sparsity"],
                     [[_short(t["name"]), t["role"], "x".join(map(str, t["shape"])) or "scalar", f"{t['elements']:,}",
                       f"{t['zeros']:,}", _pct(t["sparsity"])] for t in r["tensors"]], align="lllrrr"),
        "",
        f"What each `edgekit convert --quantize` mode would weigh ({r['quantize_estimates']['method']}):",
        format_table(["--quantize", "file bytes", "deflate-9 bytes", "weights stored as"],
                     [[q["mode"], f"~{q['file_bytes']:,}", "-" if q["deflate9_bytes"] is None else f"~{q['deflate9_bytes']:,}",
                       q["weights_as"]] for q in r["quantize_estimates"]["modes"]], align="lrrl"),
        "",
        f"What if pruned by magnitude ({r['what_if']['scope']}; int8 estimate, {r['what_if']['method']}):",
        format_table(["pruned to", "weights sparsity", "int8 file bytes", "int8 deflate-9 bytes", "RAM"],
                     [[_pct(w["target_sparsity"]), _pct(w["weights_sparsity"]), f"~{w['file_bytes']:,}",
                       f"~{w['deflate9_bytes']:,}", "unchanged"] for w in r["what_if"]["rows"]], align="lrrrl"),
        f"Note: {r['what_if']['ram_note']}",
        "Device fits: run `edgekit size` on the converted .tflite (RAM depends on the converted graph).",
    ]
    return "\n".join(lines)


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
    if fmt is SourceFormat.TFLITE:
        from edgekit.sizing.tflite_size import size_tflite

        result = size_tflite(model, sparsities, scope, profiles_dirs)
        render = _render_tflite
    else:
        from edgekit.host.source_size import size_source

        info(f"Reading {model} ({fmt.value}) ...")
        result = size_source(model, fmt, sparsities, scope)
        render = _render_source
    if as_json:
        emit_json(result)
    else:
        click.echo(render(result))
