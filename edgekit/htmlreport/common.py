"""What every report page shares: the provenance rows, names, notes and warnings from the JSON."""

from __future__ import annotations

from typing import Any

from edgekit.htmlreport.figures import Lit, Rich, Source, rich

PRODUCER_FIELDS = (("edgekit", "edgekit"), ("machine", "machine"), ("board", "board"), ("platform", "platform"),
                   ("python", "Python"))


def producer_row(src: Source, label: str) -> tuple[str, Rich]:
    """'edgekit 0.1.0 · x86_64 · Linux-... · Python 3.11.7' from the result's ``produced_by`` (where it was made)."""
    producer = src.doc.get("produced_by")
    if not isinstance(producer, dict):
        return label, ("not recorded (a result saved by an edgekit that did not record it)",)
    parts: list[Any] = []
    for key, name in PRODUCER_FIELDS:
        if producer.get(key):
            if parts:
                parts.append(" · ")
            parts += [f"{name} ", src.text(f"/produced_by/{key}")]
    return label, tuple(parts)


def listed(src: Source, pointer: str, tone: str = "") -> list[Rich]:
    """Each string of a JSON list as its own line (warnings, notes)."""
    values = src.get(pointer) or []
    return [rich(src.text(f"{pointer}/{i}")) for i in range(len(values))]


def name(text: str) -> Lit:
    return Lit(text)


def basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


__all__ = ["basename", "listed", "name", "producer_row"]
