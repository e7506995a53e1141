"""Run a device profile under other conditions than its defaults: another clock, without XNNPACK, its
accelerator's host CPU alone, the GPU in float32.

Published figures were measured under conditions of their own (an overclocked board, an old runtime
without XNNPACK, a column of the host CPU alone); the fit and the leave-one-out report estimate each one
under its conditions. Each function returns a new, validated profile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from edgekit.profile.schema import Accelerator, DelegateKind, DeviceProfile


def at_clock(profile: DeviceProfile, clock_ghz: float) -> DeviceProfile:
    """The profile's CPU at ``clock_ghz``: peak MAC rates scale with the clock, and so do the fixed costs
    (per op, per partition, per invoke: CPU work); memory bandwidth does not."""
    hw = profile.hardware
    if clock_ghz <= 0 or abs(clock_ghz - hw.clock_ghz) < 1e-9:
        return profile
    r = clock_ghz / hw.clock_ghz
    rt = profile.runtime
    hw2 = dataclasses.replace(hw, clock_ghz=clock_ghz, peak_fp32_gmacs_per_core=hw.peak_fp32_gmacs_per_core * r,
                              peak_int8_gmacs_per_core=hw.peak_int8_gmacs_per_core * r)
    rt2 = dataclasses.replace(
        rt, per_op_overhead_us=rt.per_op_overhead_us / r, partition_overhead_us=rt.partition_overhead_us / r,
        invoke_overhead_us=rt.invoke_overhead_us / r,
        builtin_per_op_overhead_us=None if rt.builtin_per_op_overhead_us is None else rt.builtin_per_op_overhead_us / r,
        state_op_us=None if rt.state_op_us is None else rt.state_op_us / r)
    return dataclasses.replace(profile, hardware=hw2, runtime=rt2)


def without_xnnpack(profile: DeviceProfile) -> DeviceProfile:
    """Every op on LiteRT's builtin kernels (an old runtime, or ``use_xnnpack=False``)."""
    return dataclasses.replace(profile, runtime=dataclasses.replace(profile.runtime, delegate=DelegateKind.NONE))


def host_cpu_only(profile: DeviceProfile) -> DeviceProfile:
    """An accelerator profile's host CPU alone (Coral's 'CPU' columns)."""
    return dataclasses.replace(profile, accelerator=Accelerator.CPU, edgetpu=None, gpu=None)


def gpu_precision(profile: DeviceProfile, precision: str) -> DeviceProfile:
    """The GPU delegate computing in ``precision`` (float16: LiteRT's default; float32: precision loss refused)."""
    if profile.gpu is None or profile.gpu.precision == precision:
        return profile
    return dataclasses.replace(profile, gpu=dataclasses.replace(profile.gpu, precision=precision))


@dataclass(frozen=True)
class Conditions:
    """How a figure was measured, relative to a profile's defaults."""

    threads: int | None = None
    xnnpack: bool = True
    clock_ghz: float | None = None
    host_only: bool = False
    gpu_fp16: bool = True

    def apply(self, profile: DeviceProfile) -> DeviceProfile:
        p = profile
        if self.host_only:
            p = host_cpu_only(p)
        if self.clock_ghz is not None:
            p = at_clock(p, self.clock_ghz)
        if not self.xnnpack:
            p = without_xnnpack(p)
        if p.gpu is not None:
            p = gpu_precision(p, "float16" if self.gpu_fp16 else "float32")
        return p


__all__ = ["at_clock", "without_xnnpack", "host_cpu_only", "gpu_precision", "Conditions"]
