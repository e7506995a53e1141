"""What this machine is: cores, clock, SIMD, RAM (from the OS) and memory bandwidth (measured).

Peak MAC rates are the theoretical figures the efficiencies are fractions of: clock x SIMD lanes x 2
(two FMA pipes on current x86 and Arm big cores) for float32, four times that for int8 (8-bit
multiply-add instructions pack four products per 32-bit lane). They only need to be an upper bound:
calibrate fits the efficiencies against them.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

import numpy as np

# ARM "CPU part" ids -> core names (the common ones on boards edgekit targets)
_ARM_PARTS: dict[str, str] = {
    "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
    "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510",
    "0xd47": "Cortex-A710", "0xd4b": "Cortex-A78C",
}


@dataclass(frozen=True)
class MachineInfo:
    cores: int
    core_type: str
    clock_ghz: float
    simd: str
    simd_width_bits: int
    dot_product: bool
    ram_bytes: int
    arch: str

    def __post_init__(self) -> None:
        if self.cores < 1 or self.clock_ghz <= 0 or self.ram_bytes <= 0:
            raise ValueError(f"implausible machine figures: {self}")

    @property
    def peak_fp32_gmacs_per_core(self) -> float:
        lanes = max(self.simd_width_bits, 32) / 32
        return round(self.clock_ghz * lanes * 2.0, 3)

    @property
    def peak_int8_gmacs_per_core(self) -> float:
        return round(self.peak_fp32_gmacs_per_core * 4.0, 3)


def _cpuinfo() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if ":" in line:
                    k, v = line.split(":", 1)
                    out.setdefault(k.strip().lower(), v.strip())
    except OSError:
        pass
    return out


def _clock_ghz(info: dict[str, str]) -> float:
    for path in ("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
                 "/sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq"):
        try:
            with open(path, encoding="ascii") as fh:
                return int(fh.read().strip()) / 1e6
        except (OSError, ValueError):
            continue
    try:
        return float(info.get("cpu mhz", "")) / 1000.0
    except ValueError:
        pass
    try:
        return float(info.get("bogomips", "")) / 2000.0 if info.get("bogomips") else 1.5
    except ValueError:
        return 1.5


def _ram_bytes() -> int:
    from edgekit.procfs import kb_field_bytes

    total = kb_field_bytes("/proc/meminfo", "MemTotal")
    if total is not None:
        return total
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def detect_machine() -> MachineInfo:
    """This machine's figures from /proc (Linux) with portable fallbacks."""
    info = _cpuinfo()
    arch = platform.machine() or "unknown"
    flags = set((info.get("flags") or info.get("features") or "").split())
    if "avx512f" in flags:
        simd, width = "avx512", 512
    elif "avx2" in flags:
        simd, width = "avx2", 256
    elif "avx" in flags:
        simd, width = "avx", 256
    elif "sse2" in flags:
        simd, width = "sse2", 128
    elif "asimd" in flags or arch in ("aarch64", "arm64"):
        simd, width = "neon", 128
    elif "neon" in flags:
        simd, width = "neon", 128
    else:
        simd, width = "none", 0
    dot = bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"})
    core = info.get("model name") or _ARM_PARTS.get(info.get("cpu part", ""), "") or platform.processor() or arch
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return MachineInfo(cores=max(1, cores), core_type=core, clock_ghz=round(_clock_ghz(info), 3), simd=simd,
                       simd_width_bits=width, dot_product=dot, ram_bytes=_ram_bytes(), arch=arch)


def measure_bandwidth_gb_s(size_bytes: int = 64 * 2**20, repeats: int = 5) -> float:
    """Copy bandwidth (read + write bytes per second, best of ``repeats``) with numpy, in GB/s."""
    src = np.ones(size_bytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return round(2 * src.nbytes / best / 1e9, 2)
