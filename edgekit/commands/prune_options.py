"""The `--prune ...` options of `edgekit convert` and the prune part of its summary.

Kept out of edgekit/commands/convert.py so that the convert command only needs a decorator,
one keyword in its config and one call in its renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from edgekit.report import format_table, human_bytes
from edgekit.sizing.magnitude import PruneScope

F = TypeVar("F", bound=Callable[..., Any])

def prune_options(func: F) -> F:
    """Add --prune, --prune-scope, --prune-skip, --prune-keep-ends, --sparse-encoding."""
    options = [
        click.option("--prune", "prune", default=None, metavar="SPARSITY",
                     help="Magnitude-prune conv/depthwise/dense weights to this fraction of zeros (e.g. 0.75) "
                          "before quantization. One-shot, NO fine-tuning: it costs accuracy (shown by the check "
                          "against the original). Shrinks the compressed download, not RAM or latency."),
        click.option("--prune-scope", type=click.Choice([s.value for s in PruneScope]), default=PruneScope.PER_LAYER.value,
                     show_default=True, help="One magnitude threshold per layer, or one for all layers."),
        click.option("--prune-skip", "prune_skip", multiple=True, metavar="NAME",
                     help="Do not prune weights whose name contains NAME (or matches a glob); repeatable."),
        click.option("--prune-keep-ends", "prune_keep_ends", is_flag=True,
                     help="Keep the first and the last prunable layer dense."),
        click.option("--sparse-encoding", "sparse_encoding", type=click.Choice(["auto", "on", "off"]),
                     default="auto", show_default=True,
                     help="Store pruned weights in TFLite's sparse format: auto = only if the file gets smaller "
                          "AND still runs in LiteRT's default interpreter (XNNPACK)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def prune_config_from(args: dict[str, Any]) -> Any:
    """A PruneConfig from the options (None without --prune); bad values are usage errors (exit 2)."""
    from edgekit.errors import UsageError

    if args.get("prune") is None:
        for flag, value in (("--prune-skip", args.get("prune_skip")), ("--prune-keep-ends", args.get("prune_keep_ends"))):
            if value:
                raise UsageError(f"{flag} needs --prune SPARSITY.", hint="Add e.g. --prune 0.5, or drop the flag.")
        return None
    from edgekit.host.convert.prune import PruneConfig

    return PruneConfig(sparsity=args["prune"], scope=args["prune_scope"], skip=tuple(args.get("prune_skip") or ()),
                       keep_ends=bool(args.get("prune_keep_ends")), sparse_encoding=args["sparse_encoding"])


def render_prune(prune: dict[str, Any] | None, golden: dict[str, Any] | None = None) -> list[str]:
    """Lines for the human summary of `edgekit convert --prune` (``golden``: the result's golden_check)."""
    if not prune:
        return []
    cfg = prune["config"]
    lines = ["", f"Pruning ({cfg['scope']}, target {100 * cfg['sparsity']:.0f}%; measured): achieved "
                 f"{100 * prune['achieved_sparsity']:.1f}% on the pruned tensors, {100 * prune['weights_sparsity']:.1f}% "
                 "over all weights"]
    lines.append(format_table(
        ["weight tensor", "elements", "sparsity before", "after", "note"],
        [[t["name"][:70], f"{t['elements']:,}", f"{100 * t['sparsity_before']:.1f}%", f"{100 * t['sparsity_after']:.1f}%",
          t["skipped"] or ""] for t in prune["tensors"]],
        align="lrrrl",
    ))
    conv = prune.get("converted")
    if conv:
        z = "-" if conv["zstd_bytes"] is None else human_bytes(conv["zstd_bytes"])
        lines.append(f"In the .tflite (measured): weights {100 * conv['weights_sparsity']:.1f}% zero; "
                     f"{conv['zero_check']}.")
        base = prune.get("unpruned") or {}
        if base.get("measured"):
            zb = "-" if base["zstd_bytes"] is None else human_bytes(base["zstd_bytes"])
            lines.append(f"Size effect (measured): file {human_bytes(conv['file_bytes'])} vs "
                         f"{human_bytes(base['file_bytes'])} unpruned (dense storage); deflate-9 "
                         f"{human_bytes(conv['deflate9_bytes'])} vs {human_bytes(base['deflate9_bytes'])} unpruned "
                         f"({100 * conv['deflate9_bytes'] / max(1, base['deflate9_bytes']):.0f}%); zstd {z} vs {zb}.")
        else:
            lines.append(f"Size effect (measured): file {human_bytes(conv['file_bytes'])} (dense storage), deflate-9 "
                         f"{human_bytes(conv['deflate9_bytes'])}, zstd {z}; unpruned not measured "
                         f"({base.get('reason', '-')}).")
    for g in (golden or {}).get("outputs") or []:
        agree = "-" if g.get("top1_agreement") is None else f"{100 * g['top1_agreement']:.0f}%"
        lines.append(f"Accuracy cost of pruning (measured on {g['samples']} samples against the UNPRUNED original): "
                     f"output {g['name']}: top-1 agreement {agree}, cosine {g['cosine']:.3f}. Check it on your test set "
                     "with `edgekit verify ORIGINAL OUT.tflite --data DIR`.")
    enc = prune.get("sparse_encoding")
    if enc:
        reason = str(enc["reason"]).rstrip(".")
        lines.append(f"Sparse encoding ({enc['mode']}): {'used' if enc.get('used') else 'not used'} - {reason}.")
    lines.append(f"Note: {prune['runtime_note']}")
    lines.append(f"Note: {prune['accuracy_note']}")
    return lines
