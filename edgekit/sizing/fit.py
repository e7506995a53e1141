"""Does a .tflite fit a device's RAM and storage? Against the device profiles (edgekit.profile.registry).

RAM needed (estimated) = what edgekit.profile.estimator says (as `edgekit profile`); if it cannot
estimate this model: the file's bytes (LiteRT keeps the model buffer in memory) + the peak of
simultaneously live activation bytes (a lower bound of what the runtime's arena planner achieves)
+ the profile's runtime overhead. Storage needed = the file's bytes (measured). Profiles give
storage as text (e.g. "microSD"); when it names no size, the storage fit is unknown and says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.result import optional_int
from edgekit.errors import EdgekitError
from edgekit.tflite.model import TFLiteModel

_UNITS = {"b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30,
          "tb": 10**12, "tib": 2**40}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(tib|tb|gib|gb|mib|mb|kib|kb)\b", re.IGNORECASE)


def storage_bytes(storage: str) -> int | None:
    """'eMMC 8 GB' -> 8_000_000_000; None when the text names no size."""
    m = _SIZE_RE.search(storage or "")
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def peak_activation_bytes(model: TFLiteModel) -> int:
    """Peak bytes of activation tensors alive at the same time in the main subgraph (estimate)."""
    sg = model.main
    first: dict[int, int] = {i: 0 for i in sg.inputs}
    last: dict[int, int] = {}
    n_ops = len(sg.operators)
    for pos, op in enumerate(sg.operators):
        for i in op.inputs:
            if i >= 0:
                last[i] = pos
        for o in op.outputs:
            first.setdefault(o, pos)
    for o in sg.outputs:
        last[o] = n_ops
    live = np.zeros(n_ops + 1, dtype=np.int64)
    for idx, start in first.items():
        t = sg.tensors[idx]
        if t.is_constant or t.dtype in ("string", "resource", "variant"):
            continue
        try:
            itemsize = np.dtype(t.dtype).itemsize
        except TypeError:
            itemsize = 1
        nbytes = t.num_elements * itemsize
        live[start : last.get(idx, start) + 1] += nbytes
    return int(live.max()) if live.size else 0


ESTIMATOR_METHOD = ("estimated by the profile estimator, as `edgekit profile` reports it (weights + repacked "
                    "weights + planned activation arena + runtime overhead)")
FALLBACK_METHOD = "estimated: file bytes + peak live activation bytes + the profile's runtime overhead"


def _ram_needed(model: TFLiteModel, entry: Any, file_bytes: int, arena: int) -> tuple[int, str]:
    """Peak RAM from edgekit's estimator when it can do this model, else the simple sum (and which one)."""
    try:
        from edgekit.profile.estimator import estimate

        return int(estimate(model, entry).peak_memory_bytes), ESTIMATOR_METHOD
    except Exception:  # noqa: BLE001 - any estimator failure falls back to the simple, labelled sum
        return file_bytes + arena + int(entry.profile.runtime.runtime_overhead_bytes), FALLBACK_METHOD


@dataclass(frozen=True)
class DeviceFit:
    """Does the model fit one device? RAM needed is ESTIMATED (see ``DeviceFits.ram_method``), storage MEASURED."""

    device: str
    ram_needed_bytes: int
    usable_ram_bytes: int
    storage_needed_bytes: int  # the file's bytes
    storage_bytes: int | None  # None: the profile names no size
    profile_source: str

    @property
    def ram_fits(self) -> bool:
        return self.ram_needed_bytes <= self.usable_ram_bytes

    @property
    def storage_fits(self) -> bool | None:
        return None if self.storage_bytes is None else self.storage_needed_bytes <= self.storage_bytes

    @property
    def fits(self) -> bool:
        """RAM fits and storage fits or is unknown."""
        return self.ram_fits and self.storage_fits is not False

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "ram_needed_bytes": self.ram_needed_bytes,
            "usable_ram_bytes": self.usable_ram_bytes,
            "ram_fits": self.ram_fits,
            "storage_needed_bytes": self.storage_needed_bytes,
            "storage_bytes": self.storage_bytes,
            "storage_fits": self.storage_fits,
            "profile_source": self.profile_source,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeviceFit:
        return cls(str(d["device"]), int(d["ram_needed_bytes"]), int(d["usable_ram_bytes"]),
                   int(d["storage_needed_bytes"]), optional_int(d.get("storage_bytes")), str(d["profile_source"]))


@dataclass(frozen=True)
class DeviceFits:
    """One :class:`DeviceFit` per known device profile, or why there are none (``available`` False)."""

    available: bool
    devices: tuple[DeviceFit, ...] = ()
    reason: str = ""  # when not available
    ram_method: str = ""  # how RAM needed was estimated (when available)
    activation_peak_bytes: int = 0

    @classmethod
    def unavailable(cls, reason: str) -> DeviceFits:
        return cls(False, reason=reason)

    def fitting_ids(self) -> list[str] | None:
        """Ids of the devices the model fits (RAM fits, storage fits or unknown); None without profiles."""
        if not self.available:
            return None
        return [d.device for d in self.devices if d.fits]

    def to_dict(self) -> dict[str, Any]:
        if not self.available:
            return {"available": False, "reason": self.reason, "devices": []}
        return {"available": True, "ram_method": self.ram_method, "activation_peak_bytes": self.activation_peak_bytes,
                "devices": [d.to_dict() for d in self.devices]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeviceFits:
        if not d.get("available"):
            return cls.unavailable(str(d.get("reason") or ""))
        return cls(True, tuple(DeviceFit.from_dict(x) for x in d["devices"]), ram_method=str(d["ram_method"]),
                   activation_peak_bytes=int(d["activation_peak_bytes"]))


def device_fits(model: TFLiteModel, file_bytes: int, profiles_dirs: Sequence[str | Path] = ()) -> DeviceFits:
    """One row per known device profile; ``available`` False (with the reason) when there are none."""
    try:
        from edgekit.profile.registry import all_profiles
    except ImportError as exc:  # the profile package is optional for size
        return DeviceFits.unavailable(f"device profiles are not available in this install ({exc})")
    try:
        entries = all_profiles(profiles_dirs)
    except EdgekitError as exc:
        return DeviceFits.unavailable(f"device profiles could not be read: {exc.message}")
    if not entries:
        return DeviceFits.unavailable("no device profiles are installed")
    arena = peak_activation_bytes(model)
    rows: list[DeviceFit] = []
    methods: set[str] = set()
    for dev_id, entry in sorted(entries.items()):
        prof = entry.profile
        ram_needed, method = _ram_needed(model, entry, file_bytes, arena)
        methods.add(method)
        rows.append(DeviceFit(
            device=dev_id, ram_needed_bytes=ram_needed, usable_ram_bytes=prof.usable_ram_bytes,
            storage_needed_bytes=file_bytes, storage_bytes=storage_bytes(prof.hardware.storage),
            profile_source=entry.source,
        ))
    return DeviceFits(True, tuple(rows), ram_method="; ".join(sorted(methods)), activation_peak_bytes=arena)
