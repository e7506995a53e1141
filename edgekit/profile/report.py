"""`edgekit profile`: one model estimated on several device profiles, as a typed result.

Every figure is an ESTIMATE from the named device profiles (:mod:`edgekit.profile.estimator`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from edgekit.core.result import Basis, check_kind
from edgekit.errors import ProfileError, UsageError
from edgekit.profile.estimator import DeviceEstimate, estimate
from edgekit.profile.registry import all_profiles
from edgekit.provenance import Producer, producer_entry
from edgekit.report import format_ms, format_table, human_bytes
from edgekit.tflite.model import load_model, parse_model


def _ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 1 else f"{value:.1f} ms"


def device_lines(est: DeviceEstimate) -> list[str]:
    """Edge TPU split and notes of one device, for people."""
    lines: list[str] = []
    tpu = est.edgetpu
    if tpu is not None:
        if not tpu.integer_model:
            lines.append(f"{est.device}: {tpu.note} (estimated all on the host CPU).")
        else:
            first = tpu.first_unmapped_op
            split = (f"first unmapped op #{first.index} {first.op}: {first.reason}; it and every later op "
                     f"run on the CPU" if first else "the whole graph maps"
                     + (" (the CPU only converts the float inputs/outputs)" if tpu.cpu_ops else ""))
            lines.append(
                f"{est.device}: {tpu.mapped_ops} ops on the Edge TPU, {tpu.cpu_ops} on the CPU; {split}. "
                f"Parameters cached on chip {human_bytes(tpu.cached_parameter_bytes)}, streamed per inference "
                f"{human_bytes(tpu.streamed_parameter_bytes)}. Estimated TPU {_ms(tpu.tpu_ms)} + link "
                f"{_ms(tpu.link_ms)} + CPU {_ms(tpu.cpu_ms)}."
            )
    for note in est.notes:
        if tpu is not None and note == tpu.note:
            continue
        lines.append(f"{est.device}: {note}.")
    if est.delegate_partitions > 1:
        lines.append(f"{est.device}: XNNPACK splits the CPU part into {est.delegate_partitions} delegate partitions "
                     f"(ops it refuses run on slower builtin kernels; see --ops).")
    return lines


def ops_table(est: DeviceEstimate, top: int | None) -> str:
    """The per-op estimates of one device, slowest first (``top``: only that many)."""
    ops = sorted(est.ops, key=lambda o: -o.latency_ms)
    if top is not None:
        ops = ops[:top]
    total = est.latency_ms or 1.0
    rows = []
    for o in ops:
        rows.append([
            o.index, o.op + (" (roughly)" if o.roughly else ""), o.dtype, f"{o.macs:,}", human_bytes(o.bytes),
            format_ms(o.latency_ms, 3), f"{100 * o.latency_ms / total:.1f}%", o.runs_on, o.note,
        ])
    return format_table(["#", "op", "dtype", "MACs", "bytes", "est. ms", "share", "runs on", "why not delegated"],
                        rows, align="rllrrrrll")


@dataclass(frozen=True)
class ProfileReport:
    """`edgekit profile MODEL.tflite -d ...`: the model and one estimate per device, in the order asked."""

    kind: ClassVar[str] = "profile"
    basis: ClassVar[Basis] = Basis.ESTIMATED

    model: str
    quant_kind: str
    operators: int  # in the main subgraph
    weight_bytes: int  # constant tensor data in the file (read, not estimated)
    devices: tuple[DeviceEstimate, ...]
    produced_by: Producer | None = field(default_factory=Producer.here)  # where the estimate was computed
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "model": self.model, "quant_kind": self.quant_kind, "estimated": True,
            "operators": self.operators, "weight_bytes": self.weight_bytes,
            "devices": [e.to_dict() for e in self.devices], "notes": list(self.notes),
            **producer_entry(self.produced_by),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProfileReport:
        check_kind(d, cls.kind)
        devices = tuple(DeviceEstimate.from_dict(e) for e in d["devices"])
        weights = d.get("weight_bytes", devices[0].weights_bytes if devices else 0)
        return cls(str(d["model"]), str(d["quant_kind"]), int(d["operators"]), int(weights), devices,
                   Producer.from_dict(d.get("produced_by")), tuple(str(n) for n in d.get("notes", ())))

    def render(self, show_ops: bool = False) -> str:
        lines = [
            f"Model: {self.model} ({self.quant_kind}, {self.operators} ops, {human_bytes(self.weight_bytes)} of weights)",
            "All figures below are ESTIMATES from device profiles, not measurements.",
        ]
        rows = []
        for e in self.devices:
            rows.append([
                e.device, e.threads, format_ms(e.latency_ms), e.latency_band, human_bytes(e.peak_memory_bytes),
                human_bytes(e.weights_bytes + e.repacked_weights_bytes), human_bytes(e.arena_bytes),
                human_bytes(e.runtime_overhead_bytes),
                ("yes" if e.fits else "NO") + f" ({human_bytes(e.usable_ram_bytes)})", e.profile_source,
            ])
        lines.append(format_table(
            ["device", "threads", "est. latency ms", "expected error", "est. peak memory", "weights (+repack)",
             "arena", "runtime", "fits (usable RAM)", "profile"], rows, align="lrrlrrrrll"))
        notes = [f"Note: {n}" for n in self.notes] + [line for e in self.devices for line in device_lines(e)]
        bands = [e for e in self.devices if e.accuracy is not None]
        if bands:
            notes.append("Expected error: the median |estimated / measured - 1| of the profile's own test (LOO: each "
                         "published figure estimated by the profile refitted without its model; calibrate: its "
                         "held-out models); half of real models land within it.")
        unknown = [e.device for e in self.devices if e.accuracy is None]
        if unknown:
            notes.append(f"No expected error for {', '.join(unknown)}: the profile was never tested against "
                         f"measurements it was not fitted on.")
        if notes:
            lines.append("")
            lines.extend(notes)
        if show_ops:
            for e in self.devices:
                lines.append(f"\nPer-op estimates on {e.device} (slowest first; fused activations are free):")
                lines.append(ops_table(e, None))
        elif self.devices:
            lines.append("\nSlowest ops (estimated) on " + self.devices[0].device
                         + "; --ops for the full table per device:")
            lines.append(ops_table(self.devices[0], 5))
        sources = sorted({f"{e.device}: {e.profile_source} {e.profile_file}" for e in self.devices})
        lines.append("\nProfiles: " + "; ".join(sources))
        return "\n".join(lines)


def profile_model(model: str | Path, device_ids: Sequence[str], threads: int | None = None,
                  profiles_dirs: Sequence[str | Path] = ()) -> ProfileReport:
    """Estimate ``model`` on each device id (known ids: :func:`edgekit.profile.registry.all_profiles`)."""
    table = all_profiles(profiles_dirs)
    unknown = [d for d in device_ids if d not in table]
    if unknown:
        raise ProfileError(
            f"unknown device '{unknown[0]}'.",
            hint=f"Known devices: {', '.join(sorted(table))} (see `edgekit devices`; add your own with --profiles DIR).",
        )
    if len(set(device_ids)) != len(device_ids):
        raise UsageError("the same --device is given twice.", hint="Give each device id once.")
    m = load_model(model)
    notes: list[str] = []
    if m.computes_shapes:
        from edgekit.requant.constfold import runtime_shapes

        data, shaped = runtime_shapes(Path(model).read_bytes())
        if shaped:
            m = parse_model(data, str(model))
            notes.append(f"the graph computes its tensor shapes at run time and stores placeholders; {shaped} "
                         "shapes were taken from one LiteRT run here at the stored input shapes")
        elif shaped is None:
            notes.append("the graph computes its tensor shapes at run time; LiteRT could not run it here (or it has "
                         "control-flow subgraphs), so the stored shapes, which may be placeholders, were estimated")
    return ProfileReport(
        model=str(model), quant_kind=m.quant_kind.value, operators=len(m.main.operators), weight_bytes=m.weight_bytes,
        devices=tuple(estimate(m, table[d], threads) for d in device_ids), notes=tuple(notes),
    )


__all__ = ["ProfileReport", "device_lines", "ops_table", "profile_model"]
