"""Which edgekit, on which machine, made a result (device-safe; standard library only).

Every command result that a report renders carries it as ``"produced_by"`` in its ``--json``:
a JSON pulled back from a board still says it was measured on the board, with the edgekit that
measured it, when the workstation renders it (``edgekit report``).
"""

from __future__ import annotations

import os
import sys
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
    """What ``platform.platform()`` says on Linux ("Linux-6.1.0-rpi7-rpi-v8-aarch64-with-glibc2.36"), from
    ``os.uname()`` and ``confstr``: no ``uname -p`` subprocess and no scan of the Python binary for its libc,
    which cost a small board more than the rest of reading the result (docs/BENCHMARKS.md, verify start-up).
    Elsewhere, and when the libc is not glibc, the ``platform`` module's answer."""
    try:
        uname, libc = os.uname(), os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):  # not POSIX, or no such confstr name
        uname, libc = None, ""
    if uname is not None and uname.sysname == "Linux" and libc.startswith("glibc "):
        return f"{uname.sysname}-{uname.release}-{uname.machine}-with-{libc.replace(' ', '')}"
    import platform

    try:
        return platform.platform()
    except (TypeError, ValueError, OSError):  # a library left the module's caches unreadable (onnx2tf/TF)
        return "-".join(str(part) for part in (platform.system(), platform.release()) if part)


@dataclass(frozen=True)
class Producer:
    """Which edgekit, Python and machine made a result (the ``produced_by`` of its JSON)."""

    edgekit: str  # the version that made the result
    python: str
    platform: str  # platform.platform(): OS, kernel, libc
    machine: str  # x86_64, aarch64
    board: str = ""  # the device tree's model, when there is one

    @classmethod
    def here(cls) -> Producer:
        python = ".".join(str(part) for part in sys.version_info[:3])
        machine = os.uname().machine if hasattr(os, "uname") else ""
        return cls(__version__, python, _platform(), machine, _board())

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
