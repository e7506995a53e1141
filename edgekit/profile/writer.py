"""Write a DeviceProfile back to TOML (what `edgekit calibrate` uses to save a fitted profile).

``load_profile(path)`` of the written text gives an equal profile (round trip tested).
"""

from __future__ import annotations

import json
import math
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from edgekit.profile.schema import DeviceProfile, profile_from_dict


def _value(v: Any) -> str:
    if isinstance(v, Enum):
        return json.dumps(v.value)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write a non-finite number {v} to a profile")
        return repr(v)
    raise TypeError(f"cannot write {type(v).__name__} to a profile")


def _table(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        out[f.name] = _table(v) if is_dataclass(v) else v
    return out


def _emit(d: dict[str, Any], prefix: str, lines: list[str]) -> None:
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
    subtables = {k: v for k, v in d.items() if isinstance(v, dict)}
    if prefix:
        lines.append("")
        lines.append(f"[{prefix}]")
    for k, v in scalars.items():
        lines.append(f"{k} = {_value(v)}")
    for k, v in subtables.items():
        name = f"{prefix}.{k}" if prefix else k
        if all(not isinstance(x, dict) for x in v.values()) and k == "residuals":
            lines.append("")
            lines.append(f"[{name}]")
            lines.extend(f"{json.dumps(rk)} = {_value(rv)}" for rk, rv in v.items())
            continue
        _emit(v, name, lines)


def profile_to_toml(profile: DeviceProfile, header: str = "") -> str:
    """TOML text for ``profile`` (validated again before it is returned)."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    _emit(_table(profile), "", lines)
    text = "\n".join(lines) + "\n"
    import tomllib

    profile_from_dict(tomllib.loads(text), "<written profile>")
    return text


__all__ = ["profile_to_toml"]
