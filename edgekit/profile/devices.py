"""`edgekit devices`: the known device profiles and their key figures, as a typed result.

The figures are the profiles' own (hardware data sheets, or fitted by ``edgekit calibrate``):
nothing is measured or estimated here; ``edgekit profile`` turns them into estimates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from edgekit.core.result import check_kind, optional_float, strings
from edgekit.profile.registry import ProfileEntry, all_profiles
from edgekit.report import format_table, human_bytes


@dataclass(frozen=True)
class EdgeTPUSummary:
    peak_int8_gmacs: float
    parameter_cache_bytes: int
    link: str
    link_bandwidth_gb_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"peak_int8_gmacs": self.peak_int8_gmacs, "parameter_cache_bytes": self.parameter_cache_bytes,
                "link": self.link, "link_bandwidth_gb_per_s": self.link_bandwidth_gb_per_s}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EdgeTPUSummary:
        return cls(float(d["peak_int8_gmacs"]), int(d["parameter_cache_bytes"]), str(d["link"]),
                   float(d["link_bandwidth_gb_per_s"]))


@dataclass(frozen=True)
class GPUSummary:
    name: str
    peak_fp16_gmacs: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "peak_fp16_gmacs": self.peak_fp16_gmacs}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GPUSummary:
        return cls(str(d["name"]), float(d["peak_fp16_gmacs"]))


@dataclass(frozen=True)
class FitSummary:
    """A calibrated profile's fit: how, when, and how well it explained its measurements."""

    method: str
    date: str
    rms_relative_error: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "date": self.date, "rms_relative_error": self.rms_relative_error}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitSummary:
        return cls(str(d["method"]), str(d["date"]), optional_float(d.get("rms_relative_error")))


@dataclass(frozen=True)
class DeviceSummary:
    """One device profile's key figures (peak rates for all cores)."""

    id: str
    name: str
    accelerator: str  # cpu | edgetpu | gpu
    profile_source: str  # shipped | user | calibrated
    profile_file: str
    cores: int
    core_type: str
    clock_ghz: float
    simd: str
    dot_product: bool
    peak_fp32_gmacs: float
    peak_int8_gmacs: float
    memory_bandwidth_gb_per_s: float
    ram_bytes: int
    usable_ram_bytes: int
    storage: str
    delegate: str
    default_threads: int
    fitted_on: tuple[str, ...]
    edgetpu: EdgeTPUSummary | None = None
    gpu: GPUSummary | None = None
    fit: FitSummary | None = None

    @classmethod
    def of(cls, entry: ProfileEntry) -> DeviceSummary:
        p = entry.profile
        hw = p.hardware
        t = p.edgetpu
        return cls(
            id=p.id, name=p.name, accelerator=p.accelerator.value, profile_source=entry.origin.value,
            profile_file=entry.file, cores=hw.cores, core_type=hw.core_type, clock_ghz=hw.clock_ghz, simd=hw.simd,
            dot_product=hw.dot_product, peak_fp32_gmacs=round(hw.peak_fp32_gmacs_per_core * hw.cores, 2),
            peak_int8_gmacs=round(hw.peak_int8_gmacs_per_core * hw.cores, 2),
            memory_bandwidth_gb_per_s=hw.memory_bandwidth_gb_per_s, ram_bytes=hw.ram_bytes,
            usable_ram_bytes=p.usable_ram_bytes, storage=hw.storage, delegate=p.runtime.delegate.value,
            default_threads=p.runtime.default_threads, fitted_on=tuple(p.fitted_on),
            edgetpu=None if t is None else EdgeTPUSummary(t.peak_int8_gmacs, t.parameter_cache_bytes, t.link,
                                                          t.link_bandwidth_gb_per_s),
            gpu=None if p.gpu is None else GPUSummary(p.gpu.name, p.gpu.peak_fp16_gmacs),
            fit=None if p.fit is None else FitSummary(p.fit.method, p.fit.date, p.fit.rms_relative_error),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "accelerator": self.accelerator,
            "profile_source": self.profile_source, "profile_file": self.profile_file,
            "cores": self.cores, "core_type": self.core_type, "clock_ghz": self.clock_ghz, "simd": self.simd,
            "dot_product": self.dot_product, "peak_fp32_gmacs": self.peak_fp32_gmacs,
            "peak_int8_gmacs": self.peak_int8_gmacs, "memory_bandwidth_gb_per_s": self.memory_bandwidth_gb_per_s,
            "ram_bytes": self.ram_bytes, "usable_ram_bytes": self.usable_ram_bytes, "storage": self.storage,
            "delegate": self.delegate, "default_threads": self.default_threads, "fitted_on": list(self.fitted_on),
        }
        if self.edgetpu is not None:
            out["edgetpu"] = self.edgetpu.to_dict()
        if self.gpu is not None:
            out["gpu"] = self.gpu.to_dict()
        if self.fit is not None:
            out["fit"] = self.fit.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeviceSummary:
        return cls(
            id=str(d["id"]), name=str(d["name"]), accelerator=str(d["accelerator"]),
            profile_source=str(d["profile_source"]), profile_file=str(d["profile_file"]), cores=int(d["cores"]),
            core_type=str(d["core_type"]), clock_ghz=float(d["clock_ghz"]), simd=str(d["simd"]),
            dot_product=bool(d["dot_product"]), peak_fp32_gmacs=float(d["peak_fp32_gmacs"]),
            peak_int8_gmacs=float(d["peak_int8_gmacs"]),
            memory_bandwidth_gb_per_s=float(d["memory_bandwidth_gb_per_s"]), ram_bytes=int(d["ram_bytes"]),
            usable_ram_bytes=int(d["usable_ram_bytes"]), storage=str(d["storage"]), delegate=str(d["delegate"]),
            default_threads=int(d["default_threads"]), fitted_on=strings(d["fitted_on"]),
            edgetpu=EdgeTPUSummary.from_dict(d["edgetpu"]) if d.get("edgetpu") is not None else None,
            gpu=GPUSummary.from_dict(d["gpu"]) if d.get("gpu") is not None else None,
            fit=FitSummary.from_dict(d["fit"]) if d.get("fit") is not None else None,
        )


@dataclass(frozen=True)
class DeviceList:
    """`edgekit devices`: every known profile, sorted by id."""

    kind: ClassVar[str] = "devices"

    devices: tuple[DeviceSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "devices": [d.to_dict() for d in self.devices]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeviceList:
        check_kind(d, cls.kind)
        return cls(tuple(DeviceSummary.from_dict(x) for x in d["devices"]))

    def render(self) -> str:
        rows = []
        for r in self.devices:
            accel = r.accelerator
            if r.edgetpu is not None:
                accel = f"edgetpu ({r.edgetpu.link}, {human_bytes(r.edgetpu.parameter_cache_bytes)} cache)"
            elif r.gpu is not None:
                accel = f"gpu ({r.gpu.name})"
            rows.append([
                r.id, f"{r.cores}x {r.core_type} @ {r.clock_ghz:g} GHz", f"{r.peak_int8_gmacs:g}",
                f"{r.peak_fp32_gmacs:g}", f"{r.memory_bandwidth_gb_per_s:g}", human_bytes(r.ram_bytes), accel,
                r.profile_source,
            ])
        return "\n".join([
            format_table(["device", "cpu", "peak int8 GMAC/s", "peak fp32 GMAC/s", "mem GB/s", "RAM", "accelerator",
                          "profile"], rows, align="llrrrlll"),
            "Peak rates are the hardware figures of the profile; `edgekit profile` turns them into estimates.",
        ])


def list_devices(profiles_dirs: Sequence[str | Path] = ()) -> DeviceList:
    """Every profile edgekit knows (shipped, $EDGEKIT_PROFILES, ``profiles_dirs``), sorted by id."""
    table = all_profiles(profiles_dirs)
    return DeviceList(tuple(DeviceSummary.of(e) for _, e in sorted(table.items())))


__all__ = ["DeviceList", "DeviceSummary", "EdgeTPUSummary", "FitSummary", "GPUSummary", "list_devices"]
