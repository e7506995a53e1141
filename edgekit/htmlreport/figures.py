"""Every figure on a report page comes out of the result's JSON, through one expression, and says so.

A report is a rendering of a command's ``--json``; nothing on the page is measured or estimated
by the renderer. A figure is written as an expression over that JSON and kept with it:

    /devices/0/latency_ms                                a value (a JSON pointer, RFC 6901 style)
    sum(/devices/0/ops/*[op_class=conv]/latency_ms)      sum, count, min, max, mean of a list
    ratio(/devices/0/ops/0/latency_ms, /devices/0/latency_ms)   a / b
    diff(/devices/0/latency_ms, sum(/devices/0/ops/*/latency_ms))   a - b

``*`` walks every element of a list (or value of an object); ``*[key=value]`` only those whose
``key`` is ``value`` (compared as text; ``null`` for a JSON null), ``*[a=x][b=y]`` those with both. The page writes each figure as
``<data value="the exact number" data-json="the expression">what people read</data>``, so a
reader can hover a number to see where it comes from, and the tests evaluate every expression
on the ``--json`` of the same run and compare it with what the page shows.

Device-safe and free of the report extra: plain Python.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgekit.report import human_bytes

# ---------------------------------------------------------------- the expressions


class ExpressionError(ValueError):
    """An expression that does not parse or does not resolve in the document."""


_FUNCTIONS = ("sum", "count", "min", "max", "mean", "ratio", "diff")
_FILTERS = re.compile(r"^\*((?:\[[^=\]]+=[^\]]*\])+)$")
_FILTER = re.compile(r"\[([^=\]]+)=([^\]]*)\]")


def _split_args(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _walk(node: Any, segments: Sequence[str], expr: str) -> list[Any]:
    """Every value ``segments`` reaches from ``node`` (one for a plain pointer, many through ``*``)."""
    if not segments:
        return [node]
    head, rest = segments[0], segments[1:]
    if head == "*" or head.startswith("*["):
        items = list(node.values()) if isinstance(node, Mapping) else list(node) if isinstance(node, list) else None
        if items is None:
            raise ExpressionError(f"{expr}: '*' needs a list or an object")
        if head != "*":
            match = _FILTERS.match(head)
            if match is None:
                raise ExpressionError(f"{expr}: {head!r} is not '*' or '*[key=value]...'")
            for key, want in _FILTER.findall(match.group(1)):
                items = [it for it in items if isinstance(it, Mapping) and _as_text(it.get(key)) == want]
        out: list[Any] = []
        for it in items:
            out.extend(_walk(it, rest, expr))
        return out
    key = head.replace("~1", "/").replace("~0", "~")
    if isinstance(node, list):
        if not key.isdigit() or int(key) >= len(node):
            raise ExpressionError(f"{expr}: no element {key!r} in a list of {len(node)}")
        return _walk(node[int(key)], rest, expr)
    if isinstance(node, Mapping):
        if key not in node:
            raise ExpressionError(f"{expr}: no key {key!r}")
        return _walk(node[key], rest, expr)
    raise ExpressionError(f"{expr}: {key!r} under a value that is neither a list nor an object")


def _as_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _numbers(values: list[Any], expr: str) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ExpressionError(f"{expr}: {v!r} is not a number")
        out.append(float(v))
    return out


def evaluate(doc: Any, expr: str) -> Any:
    """The value of ``expr`` in ``doc`` (see the module docstring); ExpressionError if it does not resolve."""
    expr = expr.strip()
    name, paren, body = expr.partition("(")
    if paren and name in _FUNCTIONS and body.endswith(")"):
        args = _split_args(body[:-1])
        if name in ("ratio", "diff"):
            if len(args) != 2:
                raise ExpressionError(f"{expr}: {name} takes two arguments")
            a, b = (evaluate(doc, x) for x in args)
            if a is None or b is None:
                return None
            if name == "diff":
                return a - b
            return a / b if b else None
        if len(args) != 1 or not args[0].startswith("/"):
            raise ExpressionError(f"{expr}: {name} takes one pointer")
        values = _walk(doc, args[0].split("/")[1:], expr)
        if name == "count":
            return len(values)
        numbers = _numbers([v for v in values if v is not None], expr)
        if name == "sum":
            return math.fsum(numbers)
        if not numbers:
            return None
        if name == "mean":
            return math.fsum(numbers) / len(numbers)
        return min(numbers) if name == "min" else max(numbers)
    if not expr.startswith("/"):
        raise ExpressionError(f"{expr!r} is neither a pointer (/a/0/b) nor one of {', '.join(_FUNCTIONS)}(...)")
    if "*" in expr:
        raise ExpressionError(f"{expr}: a figure is one value; wrap a '*' pointer in sum/count/min/max/mean")
    return _walk(doc, expr.split("/")[1:], expr)[0]


# ---------------------------------------------------------------- how figures read


def fmt_ms(v: float) -> str:
    return f"{v:.3f} ms" if abs(v) < 1 else f"{v:.2f} ms" if abs(v) < 100 else f"{v:.1f} ms"


def fmt_float(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 1e-3:
        return f"{v:.3e}"
    return f"{v:.4f}"


FORMATS: dict[str, Callable[[Any], str]] = {
    "ms": fmt_ms,
    "bytes": human_bytes,
    "pct": lambda v: f"{100 * v:.1f}%",  # a fraction 0..1
    "pts": lambda v: f"{100 * v:.2f} points",  # a difference of two fractions, in percentage points
    "int": lambda v: f"{int(v):,}",
    "db": lambda v: f"{v:.1f} dB",
    "float": fmt_float,
    "cos": lambda v: f"{v:.5f}",
    "x": lambda v: f"{v:.2f}x",
    "per_s": lambda v: f"{v:.1f}/s",
    "s": lambda v: f"{v:.1f} s",
}

MISSING = "–"  # what a null figure reads as


def format_value(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return FORMATS[fmt](value)


# ---------------------------------------------------------------- page parts built from the JSON


@dataclass(frozen=True)
class Fig:
    """A figure on the page: its exact value, the expression it came from, and how it reads."""

    value: Any
    expr: str
    text: str
    fmt: str

    @property
    def raw(self) -> str:
        return "" if self.value is None else repr(self.value)


@dataclass(frozen=True)
class Lit:
    """A name shown as it is (a model file, an op, a device id): digits in it are not figures."""

    text: str


@dataclass(frozen=True)
class JText:
    """A sentence taken from the JSON as it is (a warning, a note, the suggested command)."""

    text: str
    pointer: str


Part = str | Fig | Lit | JText
Rich = tuple[Part, ...]


class Source:
    """The JSON of one result, handing out figures and texts that remember where they came from."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc

    def get(self, expr: str) -> Any:
        return evaluate(self.doc, expr)

    def fig(self, expr: str, fmt: str) -> Fig:
        value = evaluate(self.doc, expr)
        return Fig(value, expr, format_value(value, fmt), fmt)

    def text(self, pointer: str) -> JText:
        value = evaluate(self.doc, pointer)
        return JText("" if value is None else str(value), pointer)


def rich(*parts: Part | None) -> Rich:
    """A run of prose and figures (None parts are dropped)."""
    return tuple(p for p in parts if p is not None and p != "")


__all__ = ["ExpressionError", "FORMATS", "Fig", "JText", "Lit", "MISSING", "Part", "Rich", "Source", "evaluate",
           "fmt_ms", "format_value", "rich"]
