"""The typed result of one command's own ``--json`` (every kind but ``remote``; device-safe).

:mod:`edgekit.results` reads any result back; a ``remote`` result holds the boards' own results and
rebuilds them here (so the two modules need no import of each other in a cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgekit.core.result import CommandResult

LEAF_KINDS = ("bench", "calibrate", "devices", "inspect", "profile", "size", "tune", "verify")


def build_leaf(kind: str, data: Mapping[str, Any]) -> CommandResult:
    """The result object of ``kind`` from its JSON (KeyError/TypeError/ValueError when it is incomplete)."""
    if kind not in LEAF_KINDS:
        raise ValueError(f"kind {kind!r} is not one command's own result")
    if kind == "bench":
        from edgekit.bench import BenchReport

        return BenchReport.from_dict(data)
    if kind == "calibrate":
        from edgekit.calibrate.report import CalibrateReport

        return CalibrateReport.from_dict(data)
    if kind == "devices":
        from edgekit.profile.devices import DeviceList

        return DeviceList.from_dict(data)
    if kind == "inspect":
        from edgekit.tflite.inspect import InspectReport

        return InspectReport.from_dict(data)
    if kind == "profile":
        from edgekit.profile.report import ProfileReport

        return ProfileReport.from_dict(data)
    if kind == "size":
        from edgekit.sizing.report import SourceSizeReport, TFLiteSizeReport

        return TFLiteSizeReport.from_dict(data) if data.get("format") == "tflite" else SourceSizeReport.from_dict(data)
    if kind == "tune":
        from edgekit.tune_report import TuneReport

        return TuneReport.from_dict(data)
    from edgekit.verify.compare import VerifyReport

    return VerifyReport.from_dict(data)



__all__ = ["LEAF_KINDS", "build_leaf"]
