"""`edgekit calibrate`: the typed result (the profile written, and how it was fitted).

Every figure of the profile is fitted to measurements made on this machine; op classes the
micro-benchmark suite did not measure borrow the efficiency of a measured one and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.core.result import Basis, check_kind, strings
from edgekit.profile.opfigures import POOL_INPUTS_KEY
from edgekit.report import format_table, human_bytes

if TYPE_CHECKING:
    from edgekit.calibrate.pipeline import CalibrationResult

DTYPES = ("float32", "int8")


# a 1-minute load average above this per core when calibrate starts: the machine is not quiet (on this project's
# 2-vCPU VM a calibration that started at 2.06, right after a test run, put 81 of 100 held-out rows within ±10%,
# one taken while another job ran on the other core 47, quiet ones 82-83 on the same measurements)
BUSY_LOAD_PER_CORE = 0.75


@dataclass(frozen=True)
class CalibrateReport:
    """`edgekit calibrate -o PROFILE.toml`: the profile written and what it rests on."""

    kind: ClassVar[str] = "calibrate"
    basis: ClassVar[Basis] = Basis.MEASURED  # fitted to measurements on this machine

    output: str  # the profile file written
    device_id: str
    elapsed_s: float
    measurements: int
    profile: Mapping[str, Any]  # the profile document as written (schema_version 1; validated by the profile loader)
    delegate_disagreements: tuple[str, ...] = ()
    # dtype -> op classes whose efficiency was fitted here; the profile's other classes borrow a measured one's
    fitted_classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    load_average: float = 0.0  # at the start (the minute before calibrate)
    cores: int = 0

    @classmethod
    def of(cls, output: str | Path, result: CalibrationResult) -> CalibrateReport:
        return cls(
            output=str(output), device_id=str(result.profile_doc["id"]), elapsed_s=result.elapsed_s,
            measurements=result.measurements, profile=result.profile_doc,
            delegate_disagreements=tuple(result.delegate_disagreements),
            fitted_classes={dt: tuple(sorted(result.fit.efficiency.get(dt, {}))) for dt in DTYPES},
            load_average=result.load_average, cores=result.machine.cores,
        )

    @property
    def warnings(self) -> list[str]:
        out = [f"delegate model vs this runtime: {line}" for line in self.delegate_disagreements]
        if self.cores and self.load_average > BUSY_LOAD_PER_CORE * self.cores:
            out.append(f"the machine was busy when calibrate started (load average {self.load_average:.2f} on "
                       f"{self.cores} core(s)): other work slows the multi-thread figures most; calibrate again "
                       "when nothing else runs")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "output": self.output, "id": self.device_id, "measured": True,
            "elapsed_s": self.elapsed_s, "measurements": self.measurements, "profile": self.profile,
            "delegate_disagreements": list(self.delegate_disagreements),
            "fitted_classes": {dt: list(classes) for dt, classes in self.fitted_classes.items()},
            "warnings": self.warnings, "load_average": self.load_average, "cores": self.cores,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibrateReport:
        """Back from the JSON; the profile document is checked by the profile loader (ProfileError if not valid)."""
        from edgekit.profile.schema import profile_from_dict

        check_kind(d, cls.kind)
        profile_from_dict(d["profile"], f"the profile in the calibrate result for {d['output']}")
        return cls(
            output=str(d["output"]), device_id=str(d["id"]), elapsed_s=float(d["elapsed_s"]),
            measurements=int(d["measurements"]), profile=d["profile"],
            delegate_disagreements=strings(d.get("delegate_disagreements")),
            fitted_classes={str(dt): strings(c) for dt, c in (d.get("fitted_classes") or {}).items()},
            load_average=float(d.get("load_average") or 0.0), cores=int(d.get("cores") or 0),
        )

    def render(self) -> str:
        doc = self.profile
        rt = doc["runtime"]
        fit = doc["fit"]
        par = doc.get("parallel") or {}
        output = Path(self.output)
        rows = []
        for dtype in DTYPES:
            fitted = self.fitted_classes.get(dtype, ())
            for cls, eff in doc["efficiency"][dtype].items():
                rows.append([dtype, cls, f"{eff:.4g}", "fitted" if cls in fitted else "borrowed"])
        for dtype, table in (doc.get("op_efficiency") or {}).items():
            for op, eff in table.items():
                rows.append([dtype, f"op {op}", f"{eff:.4g}", "fitted (per op, as placed)"])
        row_ns = doc.get("row_ns") or {}
        for dtype in DTYPES:
            for op, ns in (row_ns.get(dtype) or {}).items():
                every = op in (row_ns.get("every_width") or ())
                rows.append([dtype, f"rows {op}", f"{ns:.3g} ns/row",
                             "fitted (every row, with its per-element figure)" if every else
                             "fitted (per input pixel, with its per-element figure)" if op == POOL_INPUTS_KEY else
                             f"fitted (rows of C < {row_ns['channel_tile']})"])
        gemm = doc.get("gemm") or {}
        for tile, gb in zip(gemm.get("float32_gemv_tiles") or (), gemm.get("float32_gemv_gb_per_s") or (), strict=False):
            rows.append(["float32", f"one-row GEMM, {tile}-wide tile", f"{gb:.3g} GB/s", "measured (weight stream)"])
        top = len(rt["thread_speedup"]["float32"])
        for dtype, table in (doc.get("thread_scaling") or {}).items():
            for key, share in table.items():
                rows.append([dtype, f"threads {key}", f"{share:.2f} of the gain",
                             f"measured ({top} threads vs 1)"])
        return "\n".join([
            f"Wrote {output} (device id '{self.device_id}') in {self.elapsed_s:.0f} s from {self.measurements} "
            "measurements; figures below are fitted to measurements on this machine.",
            format_table(["dtype", "op class", "efficiency", "source"], rows),
            format_table(["figure", "value"], [
                ["per-op overhead", f"{rt['per_op_overhead_us']:.2f} us"],
                ["invoke overhead", f"{rt['invoke_overhead_us']:.2f} us"],
                ["builtin kernel factor", f"{rt['builtin_kernel_factor']:.3f}"],
                ["memory efficiency", f"{rt['memory_efficiency']:.3f}"],
                ["thread speed-up fp32", ", ".join(f"{v:.2f}" for v in rt["thread_speedup"]["float32"])],
                ["thread speed-up int8", ", ".join(f"{v:.2f}" for v in rt["thread_speedup"]["int8"])],
                ["runtime memory overhead", human_bytes(rt["runtime_overhead_bytes"])],
                ["partition overhead", f"{rt['partition_overhead_us']:.2f} us"],
                *([["builtin op after split work (2.. threads)", ", ".join(
                    f"+{s:.0%} up to {c:.1f} us" for s, c in zip(par["handoff_share"][1:], par["handoff_cap_us"][1:],
                                                                  strict=True))]]
                  if par.get("handoff_share") else []),
                *([["XNNPACK inline ops after split work (2.. threads)", ", ".join(
                    f"+{s:.0%} up to {c:.2f} us" for s, c in zip(par["inline_share"][1:], par["inline_cap_us"][1:],
                                                                   strict=True))]]
                  if par.get("inline_share") else []),
                *([["LiteRT's own convolutions in a graph (2.. threads)", ", ".join(
                    f"+{us:.0f} us each" for us in par["builtin_pool_us"][1:])]] if par.get("builtin_pool_us") else []),
                ["fit rms / max relative error", f"{fit['rms_relative_error']:.1%} / {fit['max_relative_error']:.1%}"],
            ]),
            f"Next: edgekit profile MODEL.tflite --profiles {output.parent} --device {self.device_id}",
        ])


__all__ = ["CalibrateReport"]
