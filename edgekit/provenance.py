"""Which edgekit, on which machine, made a result (device-safe; standard library only).

Every command result that a report renders carries it as ``"produced_by"`` in its ``--json``:
a JSON pulled back from a board still says it was measured on the board, with the edgekit that
measured it, when the workstation renders it (``edgekit report``).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit import __version__

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")  # "Raspberry Pi 4 Model B Rev 1.4" on a Pi


def _board() -> str:
    """The board's own name from the device tree (Raspberry Pi, Coral Dev Board), "" elsewhere."""
    try:
        raw = DEVICE_TREE_MODEL.read_bytes()[:200]
    except OSError:
        return ""
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def _platform() -> str:
    """platform.platform(), or system-release when a library has left the platform module's caches unreadable
    (seen after onnx2tf/TensorFlow ran in the same process: a bytes libc version, and platform() raises)."""
    try:
        return platform.platform()
    except (TypeError, ValueError, OSError):
        return "-".join(str(part) for part in (platform.system(), platform.release()) if part)


@dataclass(frozen=True)
class Producer:
    edgekit: str  # the version that made the result
    python: str
    platform: str  # platform.platform(): OS, kernel, libc
    machine: str  # x86_64, aarch64
    board: str = ""  # the device tree's model, when there is one

    @classmethod
    def here(cls) -> Producer:
        return cls(__version__, platform.python_version(), _platform(), platform.machine(), _board())

    def to_dict(self) -> dict[str, str]:
        return {"edgekit": self.edgekit, "python": self.python, "platform": self.platform, "machine": self.machine,
                "board": self.board}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Producer | None:
        """Back from :meth:`to_dict`; None for a result saved before edgekit recorded it."""
        if d is None:
            return None
        return cls(str(d["edgekit"]), str(d["python"]), str(d["platform"]), str(d["machine"]), str(d.get("board", "")))

    def describe(self) -> str:
        where = f"{self.board} ({self.machine})" if self.board else self.machine
        return f"edgekit {self.edgekit} on {where}, {self.platform}, Python {self.python}"


def producer_entry(producer: Producer | None) -> dict[str, Any]:
    """The ``"produced_by"`` entry of a result's JSON (nothing for a result saved without one)."""
    return {} if producer is None else {"produced_by": producer.to_dict()}


__all__ = ["Producer", "producer_entry"]
