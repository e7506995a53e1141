"""Read a saved ``--json`` back into its typed result (device-safe).

Every command's ``--json`` starts with ``"kind"``, the command's name. :func:`result_from_dict`
picks the result class by that kind and rebuilds it, so a result pulled back from a board,
or saved earlier, renders as the command would have (``render()``) and serialises to the same
JSON (``to_dict()``). A ``remote`` result (``--on``) holds each board's own result, rebuilt the same
way (:mod:`edgekit.result_kinds`). ``convert`` is the exception: its result holds the converter's own
objects and is rebuilt by nobody (its JSON is complete, for reading).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgekit.core.result import CommandResult
from edgekit.errors import InputError

KINDS = ("bench", "calibrate", "devices", "inspect", "profile", "remote", "size", "tune", "verify")


def result_from_dict(data: Mapping[str, Any], where: str = "the result") -> CommandResult:
    """The typed result of an edgekit ``--json`` object (InputError when it is not one)."""
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if kind not in KINDS:
        shown = "no kind" if kind is None else f"kind {kind!r}"
        raise InputError(f"{where} is not a result edgekit can read back ({shown}).",
                         hint=f"Pass the --json output of one of: {', '.join(KINDS)}.")
    try:
        return _build(str(kind), data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{where} is not a complete '{kind}' result ({type(exc).__name__}: {exc}).",
                         hint="Pass the unchanged --json output of the command, from the same edgekit version.") from None


def _build(kind: str, data: Mapping[str, Any]) -> CommandResult:
    if kind == "remote":
        from edgekit.remote.report import RemoteReport

        return RemoteReport.from_dict(data)
    from edgekit.result_kinds import build_leaf

    return build_leaf(kind, data)


__all__ = ["KINDS", "result_from_dict"]
