"""What each backend did with a model, and the error when none of them could convert it.

Every backend that fails leaves an :class:`Attempt`: where it failed
(``convert``: the backend stopped; ``check``: it converted but the float
``.tflite`` differs from onnxruntime), the op and node it stopped at when it
says, and its reason. When every backend fails, :func:`all_failed_error`
makes the one-line error: the op and node, what was tried, and the export-side
fix (:mod:`.hints`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgekit.errors import BackendError
from edgekit.host.onnx.check import INVALID_RANDOM_INPUTS, REAL_INPUTS_HINT
from edgekit.host.onnx.graph import one_line
from edgekit.host.onnx.hints import export_hint
from edgekit.host.onnx.repair.base import all_graphs


@dataclass(frozen=True)
class Attempt:
    backend: str
    stage: str  # "convert" | "check"
    reason: str
    op: str | None
    node: str | None
    domain: str = ""

    def where(self) -> str:
        if self.op and self.node:
            return f"at {self.op} node '{self.node}'"
        if self.op:
            return f"at {self.op}"
        return ""

    def describe(self) -> str:
        if self.stage == "check":
            return f"converted, but its float result differs from onnxruntime ({one_line(self.reason, 200)})"
        where = self.where()
        return f"failed {where}: {one_line(self.reason, 240)}" if where else f"failed: {one_line(self.reason, 240)}"

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "stage": self.stage, "op": self.op, "node": self.node,
                "reason": one_line(self.reason, 400)}


class ConversionFailed(BackendError):
    """One backend could not convert the model (exit 3 when it was the last to try)."""

    def __init__(self, message: str, hint: str | None = None, attempt: Attempt | None = None) -> None:
        super().__init__(message, hint)
        self.attempt = attempt or Attempt("?", "convert", message, None, None)


def node_origins(model: Any) -> dict[str, str]:
    """How each node will be called after the names repair -> how to name it to the user (its original name)."""
    from edgekit.host.onnx.repair.names import clean

    taken: set[str] = set()
    origins: dict[str, str] = {}
    index = 0
    for graph in all_graphs(model.graph):
        for node in graph.node:
            base = clean(node.name, node.op_type or "node") if node.name else clean(node.op_type, "node")
            new, k = base, 1
            while new in taken:
                new = f"{base}_{k}"
                k += 1
            taken.add(new)
            origins[new] = node.name if node.name else f"#{index} (unnamed {node.op_type})"
            index += 1
    return origins


def foreign_ops_error(model: Any, model_name: str, lowerable: bool = True) -> BackendError | None:
    """A clean refusal for ops outside the standard domain, which no backend converts (None if there are none).

    With ``lowerable`` the ops a repair pass rewrites into standard ops (repair.qlstm, repair.fused) are let through: the
    check runs again after the repairs, without them, for the nodes a pass could not rewrite."""
    from edgekit.host.onnx.repair import fused, qlstm

    foreign = [(n.domain, n.op_type, n.name) for g in all_graphs(model.graph) for n in g.node
               if n.domain not in ("", "ai.onnx")
               and not (lowerable and (qlstm.handles(n.domain, n.op_type) or fused.handles(n.domain, n.op_type)))]
    if not foreign:
        return None
    domain, op, node = foreign[0]
    ops = sorted({f"{d}.{o}" for d, o, _ in foreign})
    more = f" ({len(foreign)} such nodes: {', '.join(ops[:5])}{'…' if len(ops) > 5 else ''})" if len(foreign) > 1 else ""
    return BackendError(
        f"{model_name} uses {op} (node '{node or '?'}', domain {domain}), which is not a standard ONNX op: no "
        f"backend converts it{more}. Tried: none (refused before converting).",
        hint=f"Export-side fix: {export_hint(op, domain)}.")


RUNTIME_QUANTIZED = ("the model quantizes its activations at run time (onnxruntime's quantize_dynamic): a float "
                     ".tflite rounds a few of them to the other side of a step (its float kernels differ from "
                     "onnxruntime's in the last bits), and the error grows through the later layers (onnxruntime's "
                     "own arm64 and x86 builds differ from each other the same way: docs/ONNX.md). Convert the "
                     "float model from before quantize_dynamic and let edgekit quantize it, or measure this one "
                     "with `edgekit convert --no-check` then `edgekit verify`")


def all_failed_error(model_name: str, attempts: list[Attempt], runtime_quantized: bool = False) -> BackendError:
    """The error when no backend made a .tflite that matches onnxruntime (``runtime_quantized``: the graph
    quantizes activations per call, repair.qlstm/integer, which a float .tflite cannot round bit for bit)."""
    located = [a for a in attempts if a.op]
    tried = "; ".join(f"{a.backend} {a.describe()}" for a in attempts)
    if located:
        ops = {(a.op, a.node) for a in located}
        if len({op for op, _ in ops}) == 1:
            shown = next((a.node for a in reversed(located) if a.node and not a.node.startswith("sng_")), None)
            head = f"Could not convert {model_name}: no backend converts its {located[0].op} node " \
                   f"'{shown or located[-1].node or '?'}'."
        else:
            head = f"Could not convert {model_name}: " + ", ".join(
                f"{a.backend} stops at {a.op} node '{a.node or '?'}'" for a in located) + "."
        last = located[-1]  # the most capable backend's blocker is the one to fix at export
        hint = f"Export-side fix for {last.op}: {export_hint(last.op)}."
    elif attempts and all(a.stage == "check" for a in attempts):
        head = f"Could not convert {model_name}: every backend's float result differs from onnxruntime."
        hint = ("Try --keep-nchw INPUT, or re-export with opset 17; --debug shows each backend's log; "
                "--no-check converts anyway (not recommended).")
        if any(INVALID_RANDOM_INPUTS in a.reason for a in attempts):
            head = (f"Could not check the conversion of {model_name}: {INVALID_RANDOM_INPUTS}, so no backend's "
                    "result could be compared.")
            hint = REAL_INPUTS_HINT

    else:
        head = f"Could not convert {model_name}."
        hint = f"Export-side fix: {export_hint(None)}; --debug shows each backend's log."
    if runtime_quantized and any(a.stage == "check" for a in attempts):  # a backend converted: rounding is why
        hint = RUNTIME_QUANTIZED[0].upper() + RUNTIME_QUANTIZED[1:] + "."
    return BackendError(one_line(f"{head} Tried: {tried}.", 900), hint=hint)
