"""The result of `edgekit tune`, as its JSON: read back, rendered, drawn (device-safe).

The search itself (``edgekit.host.tune``) builds its JSON once; :class:`TuneReport` holds that JSON,
checks it when it is read back (``edgekit report tune.json``, :func:`edgekit.results.result_from_dict`)
and renders the Pareto table from it, so the table a person reads after a tune and the one
rebuilt from the saved JSON are the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from edgekit.core.result import check_kind
from edgekit.report import format_table, human_bytes

# what a tune JSON must hold to be rendered (the rest is optional)
_REQUIRED = {"model": str, "device": str, "passed": bool, "why": str, "candidates": list, "float32": dict,
             "candidates_tried": int, "seconds": (int, float), "data": str, "calibration": str}
_CANDIDATE = {"index": int, "label": str, "passed": bool, "chosen": bool, "pareto": bool, "allowed_on_device": bool,
              "metrics": list}


@dataclass(frozen=True)
class TuneReport:
    """``edgekit tune``'s ``--json`` (kind ``tune``), checked."""

    kind: ClassVar[str] = "tune"
    data: Mapping[str, Any]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneReport:
        check_kind(d, "tune")
        _check(d, _REQUIRED, "the tune result")
        for i, c in enumerate(d["candidates"]):
            if not isinstance(c, Mapping):
                raise TypeError(f"candidate {i} is not an object")
            _check(c, _CANDIDATE, f"candidate {i}")
        if d.get("chosen") is not None and not isinstance(d["chosen"], Mapping):
            raise TypeError("'chosen' is not an object")
        return cls(dict(d))

    @property
    def passed(self) -> bool:
        return bool(self.data["passed"])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    def render(self) -> str:
        return render(self.data)


def _check(d: Mapping[str, Any], fields: Mapping[str, Any], what: str) -> None:
    for key, types in fields.items():
        if key not in d:
            raise KeyError(f"{what} has no {key!r}")
        value = d[key]
        if not isinstance(value, types) or (types is int and isinstance(value, bool)):
            raise TypeError(f"{what}: {key!r} is {type(value).__name__}")


def _metric(c: Mapping[str, Any], key: str, fmt: str, reduce: Any = min) -> str:
    values = [m[key] for m in c.get("metrics") or [] if m.get(key) is not None]
    return "-" if not values else format(reduce(values), fmt)


def _row(mark: str, index: str, c: Mapping[str, Any], verdict: str) -> list[str]:
    sqnr = c.get("mean_sqnr_db")
    lat = c.get("estimated_latency_ms")
    return [mark, index, c["label"][:46], c.get("engine", "-"), c.get("quant_kind") or "-",
            "-" if sqnr is None else f"{sqnr:.1f}", _metric(c, "cosine", ".4f"), _metric(c, "top1_agreement", ".3f"),
            _metric(c, "map_iou", ".3f"), verdict, "-" if lat is None else f"{lat:.2f}",
            str(c.get("delegate_partitions") if c.get("delegate_partitions") is not None else "-"),
            str(c.get("quantize_dequantize_ops", "-")), str(c.get("float_ops", "-")),
            human_bytes(c.get("size_bytes")) if c.get("size_bytes") else "-"]


def render(out: Mapping[str, Any]) -> str:
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
        f"Judged on {out['data']} (held out; calibration: {out['calibration']}){_sequence(out)}, verify's "
        f"thresholds: {limits}.",
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


__all__ = ["TuneReport", "render"]


def _sequence(out: Mapping[str, Any]) -> str:
    """', as one sequence: N calls in a row, ...' when tune judged a streaming model over a sequence."""
    how = str(((out.get("float32") or {}).get("check") or {}).get("inputs") or "")
    prefix = "the held-out data as one sequence: "
    return f", as one sequence: {how[len(prefix):]}" if how.startswith(prefix) else ""
