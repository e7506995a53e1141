"""A small TOML writer (the standard library only reads TOML): nested dicts of scalars and scalar lists.

Top-level scalars first, then one ``[table]`` per nested dict (depth-first, parents before children).
Keys that are not bare words are quoted; floats are written so that ``tomllib`` reads back the same
value; NaN/inf are refused (a profile must not contain them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else _string(k)


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML cannot hold the non-finite number at '{where}': {v}")
        text = repr(v)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, Sequence):
        return "[" + ", ".join(_value(x, f"{where}[{i}]") for i, x in enumerate(v)) + "]"
    raise TypeError(f"cannot write {type(v).__name__} at '{where}' as TOML")


def dumps(doc: Mapping[str, Any], comments: Mapping[str, str] | None = None) -> str:
    """TOML text for ``doc``. ``comments`` maps a table path ('' = top) to a comment written above it."""
    comments = comments or {}
    lines: list[str] = []

    def emit_table(path: list[str], table: Mapping[str, Any]) -> None:
        dotted = ".".join(path)
        scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
        subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
        if path:
            if lines:
                lines.append("")
            note = comments.get(dotted)
            if note:
                lines.extend(f"# {line}".rstrip() for line in note.splitlines())
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        elif comments.get(""):
            lines.extend(f"# {line}".rstrip() for line in comments[""].splitlines())
        for k, v in scalars:
            if v is None:
                continue
            lines.append(f"{_key(str(k))} = {_value(v, dotted + '.' + str(k) if dotted else str(k))}")
        for k, v in subtables:
            emit_table([*path, str(k)], v)

    emit_table([], doc)
    return "\n".join(lines) + "\n"
