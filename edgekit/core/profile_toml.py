"""The one writer of device-profile TOML: ``tomllib`` only reads, ``tomli-w`` writes.

``edgekit calibrate`` writes the profile it fitted with it, on the device itself (tomli-w is pure
Python and a base dependency); the tests write profile documents with it; ``scripts/fit_profiles.py``
writes the shipped profiles in ``device_profiles/`` with it (fitted on the published dataset).

- :func:`dumps`: a document (nested mappings of strings, numbers, booleans and arrays) -> TOML text.
  Keys keep their order; within a table the plain values come first, then the sub-tables (TOML's own
  rule). ``None`` means "absent" (TOML has no null) and is left out. NaN and infinities are refused:
  a profile must not hold them. ``comments`` puts ``# lines`` at the top of the file and above tables.
- :func:`as_document`: a dataclass tree (a ``DeviceProfile``) -> such a document.
- :func:`write`: render, optionally check (the caller's profile validation), then write atomically.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w

from edgekit.fsutil import write_text_atomic


def as_document(obj: Any) -> Any:
    """The plain tree of ``obj`` for :func:`dumps`: dataclasses become tables, their fields in declaration
    order (``None`` fields are then left out by :func:`dumps`, enums written as their values)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_document(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: as_document(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_document(v) for v in obj]
    return obj


def _checked(value: Any, where: str, allow_non_finite: bool) -> Any:
    """``value`` with ``None`` left out, enums and tuples made plain; a clear error for what TOML cannot hold."""
    if isinstance(value, Mapping):
        return {str(k): _checked(v, f"{where}.{k}" if where else str(k), allow_non_finite)
                for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_checked(v, f"{where}[{i}]", allow_non_finite) for i, v in enumerate(value) if v is not None]
    if isinstance(value, Enum):
        return _checked(value.value, where, allow_non_finite)
    if isinstance(value, float) and not math.isfinite(value) and not allow_non_finite:
        raise ValueError(f"a profile cannot hold the non-finite number {value} (at '{where}')")
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot write {type(value).__name__} at '{where}' to TOML")


def _table_path(header: str) -> str | None:
    """The dotted path of a ``[table]`` header line as tomli-w wrote it (None for any other line)."""
    if not header.startswith("[") or header.startswith("[["):
        return None
    node: Any = tomllib.loads(header)
    parts: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        key, node = next(iter(node.items()))
        parts.append(key)
    return ".".join(parts)


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()]


def dumps(doc: Mapping[str, Any], comments: Mapping[str, str] | None = None, *,
          allow_non_finite: bool = False) -> str:
    """TOML text of ``doc``. ``comments`` maps a table's dotted path (``"fit.residuals"``; ``""`` for the
    top of the file) to text written above it as ``#`` lines. ``allow_non_finite`` writes NaN and
    infinities instead of refusing them (for tests of the profile loader only)."""
    text = tomli_w.dumps(_checked(doc, "", allow_non_finite))
    comments = dict(comments or {})
    top = comments.pop("", "")
    lines: list[str] = _comment(top) if top else []
    for line in text.splitlines():
        path = _table_path(line)
        if path is not None:
            # above the table's header, or above the first sub-table's when it has no header of its own
            for key in [k for k in comments if path == k or path.startswith(k + ".")]:
                lines.extend(_comment(comments.pop(key)))
        lines.append(line)
    if comments:
        raise ValueError(f"comments for tables the document does not have: {sorted(comments)}")
    return "\n".join(lines) + "\n"


def write(path: Path, doc: Mapping[str, Any], comments: Mapping[str, str] | None = None, *,
          overwrite: bool = True, check: Callable[[dict[str, Any]], object] | None = None) -> str:
    """Write ``doc`` as TOML to ``path`` atomically and return the text.

    ``check`` gets the document as ``tomllib`` reads the text back, before anything is written; the
    profile loader (``edgekit.profile.schema.profile_from_dict``) raises on a profile it would refuse.
    ``overwrite=False`` never replaces an existing file (see :func:`edgekit.fsutil.atomic_path`).
    """
    text = dumps(doc, comments)
    if check is not None:
        check(tomllib.loads(text))
    write_text_atomic(Path(path), text, overwrite)
    return text


__all__ = ["as_document", "dumps", "write"]
