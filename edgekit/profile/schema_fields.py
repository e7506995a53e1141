"""Profile fields: the range each numeric key accepts and its check, shared by every section of the schema
(:mod:`edgekit.profile.schema`, :mod:`edgekit.profile.schema_cpu`); a value out of range is a ProfileError that
says what to use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from edgekit.errors import ProfileError


def at_threads(figures: Sequence[float], threads: int) -> float:
    """A per-thread-count figure list (from 1 thread) at ``threads``: its last figure beyond the list."""
    return float(figures[min(max(threads, 1), len(figures)) - 1])


def _rng(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, unit: str = "") -> dict[str, Any]:
    return {"lo": lo, "hi": hi, "lo_open": lo_open, "unit": unit}


def _check_ranges(obj: Any) -> None:
    """Validate every numeric field (and list element) of a profile dataclass against its metadata range."""
    for f in fields(obj):
        meta = f.metadata
        if "lo" not in meta and "hi" not in meta:
            continue
        value = getattr(obj, f.name)
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if v is None:
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise ProfileError(f"'{f.name}' must be a finite number, got {v}.", hint=_range_hint(meta))
            lo, hi = meta.get("lo"), meta.get("hi")
            bad = (lo is not None and (v <= lo if meta.get("lo_open") else v < lo)) or (hi is not None and v > hi)
            if bad:
                raise ProfileError(f"'{f.name}' = {v} is out of range.", hint=_range_hint(meta))


def _range_hint(meta: Any) -> str:
    lo, hi = meta.get("lo"), meta.get("hi")
    left = "" if lo is None else (f"> {lo}" if meta.get("lo_open") else f">= {lo}")
    right = "" if hi is None else f"<= {hi}"
    unit = f" ({meta['unit']})" if meta.get("unit") else ""
    return f"Use a value {' and '.join(p for p in (left, right) if p)}{unit}."


FRACTION = _rng(0.0, 1.0, lo_open=True)


def _check_op_table(table: dict[str, float], where: str, meta: Any = FRACTION) -> None:
    lo, hi = meta.get("lo", 0.0), meta.get("hi", math.inf)
    for op, value in table.items():
        if not op or not all(c.isupper() or c.isdigit() or c == "_" for c in op) or not op[0].isupper():
            raise ProfileError(
                f"'{where}.{op}' is not an op name.",
                hint="Use TFLite builtin op names in capitals, e.g. HARD_SWISH = 0.05.",
            )
        if not (math.isfinite(value) and (value > lo if meta.get("lo_open") else value >= lo) and value <= hi):
            raise ProfileError(f"'{where}.{op}' = {value} is out of range.", hint=_range_hint(meta))


__all__ = ["FRACTION", "_check_op_table", "_check_ranges", "_range_hint", "_rng"]
