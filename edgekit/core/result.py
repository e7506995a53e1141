"""What every command's result shares: a kind, one JSON form, and what its figures rest on.

Library functions return typed, frozen result objects; the commands only render
them (``render()`` for people, ``to_dict()`` for ``--json``). The JSON keys are a
public contract: later tools read them back (``edgekit report RESULT.json``,
results pulled from a board), so every result also has ``from_dict`` and
``from_dict(to_dict(r))`` renders and serialises exactly as ``r`` does
(:func:`edgekit.results.result_from_dict` picks the class by ``kind``).

Every top-level ``to_dict()`` starts with ``"kind": <the command's name>``.
Whether a figure is measured or estimated is part of each result (the
``measured``/``estimated`` flags and ``source`` fields of the JSON), see :class:`Basis`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable


class Basis(str, Enum):
    """Where a figure comes from."""

    MEASURED = "measured"  # timed, counted or read on this machine / from the file's bytes
    ESTIMATED = "estimated"  # computed from a model of the device or of the converter

    def __str__(self) -> str:
        return self.value


@runtime_checkable
class CommandResult(Protocol):
    """A command's result: ``kind`` names the command, ``to_dict()`` is its ``--json``."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...

    def render(self) -> str: ...


def float_or_nan(value: Any) -> float:
    """A float read back from JSON, where null stands for a non-finite value (NaN, inf)."""
    return math.nan if value is None else float(value)


def optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def strings(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def check_kind(data: Mapping[str, Any], kind: str) -> None:
    """Raise ValueError unless ``data`` is the JSON of a ``kind`` result (a missing kind is accepted)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a {kind} result is a JSON object, not {type(data).__name__}")
    found = data.get("kind", kind)
    if found != kind:
        raise ValueError(f"this is a '{found}' result, not '{kind}'")


__all__ = ["Basis", "CommandResult", "check_kind", "float_or_nan", "optional_float", "optional_int", "strings"]
