"""The board a remote result was measured on: identity and state (device-safe, no SSH library).

A POSIX ``sh`` function (:data:`FINGERPRINT_SH`) runs on the board next to the command, with no Python
start of its own, and prints ``EDGEKIT-REMOTE key=value`` lines that :func:`parse_fingerprint` reads:

- CPU model (``model name``, or the ARM ``CPU part`` decoded: 0xd08 is the Pi 4's Cortex-A72), cores,
  the board model (device tree), the clock governor, the current and maximum clock, the temperature;
- the throttling flags where the board exposes them: ``vcgencmd get_throttled`` on a Raspberry Pi (what
  is happening now, and what has happened since boot), the kernel's thermal-throttle counter on x86;
- OS, kernel, and the Python, edgekit and runtime versions of the board's edgekit (read with
  ``importlib.metadata`` by edgekit's own interpreter, which imports nothing else).

It is taken before the command and again after it: :func:`throttled_during` says whether the board
throttled in between (``bench`` warns about it: the figures are then not the board's normal speed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from edgekit.core.result import optional_float, optional_int

PREFIX = "EDGEKIT-REMOTE "

# The ARM "CPU part" numbers of the cores found on single-board computers and phones (implementer 0x41).
ARM_PARTS = {
    "0xb76": "ARM1176", "0xc07": "Cortex-A7", "0xc08": "Cortex-A8", "0xc09": "Cortex-A9", "0xc0f": "Cortex-A15",
    "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77", "0xd40": "Neoverse-V1", "0xd41": "Cortex-A78",
    "0xd44": "Cortex-X1", "0xd46": "Cortex-A510", "0xd47": "Cortex-A710", "0xd48": "Cortex-X2",
    "0xd49": "Neoverse-N2", "0xd4d": "Cortex-A715", "0xd80": "Cortex-A520", "0xd81": "Cortex-A720",
}

# vcgencmd get_throttled: bit -> meaning. Bits 0-3 are now, bits 16-19 "has happened since boot".
THROTTLE_BITS = {
    0: "under-voltage now", 1: "ARM clock capped now", 2: "throttled now", 3: "soft temperature limit now",
    16: "under-voltage since boot", 17: "ARM clock capped since boot", 18: "throttled since boot",
    19: "soft temperature limit since boot",
}
NOW_MASK = 0xF
SINCE_BOOT_MASK = 0xF0000

# sh: prints the fingerprint as PREFIX key=value lines. $ek is the board's edgekit (a path).
FINGERPRINT_SH = r"""
fp_say() { printf 'EDGEKIT-REMOTE %s=%s\n' "$1" "$(printf '%s' "$2" | tr '\n\r' '  ')"; }
fp_first() { sed -n "s/^$1[[:space:]]*:[[:space:]]*//p" /proc/cpuinfo 2>/dev/null | head -n 1; }
fp_read() { [ -r "$1" ] && head -c 200 "$1" 2>/dev/null | tr -d '\000'; }
fp_state() {
  fp_say clock_khz "$(fp_read /sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq)"
  fp_say temp_millic "$(fp_read /sys/class/thermal/thermal_zone0/temp)"
  if command -v vcgencmd >/dev/null 2>&1; then fp_say throttled "$(vcgencmd get_throttled 2>/dev/null)"; fi
  fp_say throttle_count "$(fp_read /sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count)"
}
fp_all() {
  fp_say hostname "$(uname -n 2>/dev/null)"
  fp_say arch "$(uname -m 2>/dev/null)"
  fp_say kernel "$(uname -sr 2>/dev/null)"
  fp_say os "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
  board=$(fp_read /proc/device-tree/model); [ -n "$board" ] || board=$(fp_read /sys/firmware/devicetree/base/model)
  [ -n "$board" ] || board=$(fp_first Model)
  fp_say board "$board"
  fp_say cpu_model_name "$(fp_first 'model name')"
  fp_say cpu_part "$(fp_first 'CPU part')"
  fp_say cpu_implementer "$(fp_first 'CPU implementer')"
  fp_say cores "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
  fp_say governor "$(fp_read /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor)"
  fp_say max_clock_khz "$(fp_read /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq)"
  fp_state
  # the Python that runs the board's edgekit: its console script's #! line (no import of edgekit itself)
  fp_py=$(head -n 1 "$ek" 2>/dev/null | sed -n 's/^#![[:space:]]*//p')
  # pip's form for long paths: #!/bin/sh, then '''exec' "/path/to/python" "$0" "$@"
  case "$fp_py" in *python*) ;; *) fp_py=$(sed -n "2s/^'''exec' \"\([^\"]*\)\".*/\1/p" "$ek" 2>/dev/null) ;; esac
  case "$fp_py" in
    *python*) $fp_py -I -c 'import sys, importlib.metadata as m
print("EDGEKIT-REMOTE python=%d.%d.%d" % sys.version_info[:3])
for name in ("edgekit", "ai-edge-litert", "tflite-runtime", "numpy"):
    try:
        print("EDGEKIT-REMOTE pkg_%s=%s" % (name, m.version(name)))
    except Exception:
        pass' 2>/dev/null ;;
  esac
}
"""


@dataclass(frozen=True)
class Fingerprint:
    """What the board is and how it was doing. Unknown fields are None (a board without cpufreq, vcgencmd...)."""

    hostname: str | None = None
    board: str | None = None
    cpu: str | None = None
    cores: int | None = None
    arch: str | None = None
    governor: str | None = None
    clock_mhz: float | None = None
    max_clock_mhz: float | None = None
    temperature_c: float | None = None
    throttled: int | None = None  # vcgencmd get_throttled, as a number
    throttle_count: int | None = None  # x86: thermal-throttle events of cpu0 since boot
    os: str | None = None
    kernel: str | None = None
    python: str | None = None
    edgekit: str | None = None
    runtime: str | None = None  # "ai-edge-litert 2.3.0"
    numpy: str | None = None

    @property
    def throttle_flags(self) -> list[str]:
        return [] if self.throttled is None else [text for bit, text in THROTTLE_BITS.items() if self.throttled >> bit & 1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname, "board": self.board, "cpu": self.cpu, "cores": self.cores, "arch": self.arch,
            "governor": self.governor, "clock_mhz": self.clock_mhz, "max_clock_mhz": self.max_clock_mhz,
            "temperature_c": self.temperature_c,
            "throttled": None if self.throttled is None else f"0x{self.throttled:x}",
            "throttle_flags": self.throttle_flags, "throttle_count": self.throttle_count,
            "os": self.os, "kernel": self.kernel, "python": self.python, "edgekit": self.edgekit,
            "runtime": self.runtime, "numpy": self.numpy,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fingerprint:
        def text(key: str) -> str | None:
            value = d.get(key)
            return None if value is None else str(value)

        throttled = d.get("throttled")
        return cls(
            hostname=text("hostname"), board=text("board"), cpu=text("cpu"), cores=optional_int(d.get("cores")),
            arch=text("arch"), governor=text("governor"), clock_mhz=optional_float(d.get("clock_mhz")),
            max_clock_mhz=optional_float(d.get("max_clock_mhz")), temperature_c=optional_float(d.get("temperature_c")),
            throttled=None if throttled is None else int(str(throttled), 0),
            throttle_count=optional_int(d.get("throttle_count")), os=text("os"), kernel=text("kernel"),
            python=text("python"), edgekit=text("edgekit"), runtime=text("runtime"), numpy=text("numpy"),
        )

    def summary(self) -> str:
        """One line for people: board, CPU, clock, temperature, throttling, OS and versions."""
        parts = [self.board or self.hostname or "unknown board"]
        cpu = " x ".join(p for p in (str(self.cores) if self.cores else "", self.cpu or "") if p)
        if cpu:
            parts.append(f"{cpu} ({self.arch})" if self.arch else cpu)
        if self.governor:
            parts.append(f"governor {self.governor}")
        if self.clock_mhz is not None:
            top = f"/{self.max_clock_mhz:.0f}" if self.max_clock_mhz else ""
            parts.append(f"{self.clock_mhz:.0f}{top} MHz")
        if self.temperature_c is not None:
            parts.append(f"{self.temperature_c:.1f} C")
        if self.throttled is not None:
            parts.append("throttled: " + (", ".join(self.throttle_flags) if self.throttled else "no"))
        parts.extend(p for p in (self.os, f"Python {self.python}" if self.python else None, self.runtime,
                                 f"edgekit {self.edgekit}" if self.edgekit else None) if p)
        return ", ".join(parts)


def parse_lines(lines: Iterable[str]) -> dict[str, str]:
    """The ``EDGEKIT-REMOTE key=value`` lines among ``lines`` (anything else a login script printed is ignored)."""
    out: dict[str, str] = {}
    for line in lines:
        line = line.rstrip("\r\n")
        if line.startswith(PREFIX) and "=" in line:
            key, _, value = line[len(PREFIX):].partition("=")
            out.setdefault(key.strip(), value.strip())
    return out


def _number(text: str | None, scale: float = 1.0) -> float | None:
    try:
        return float(str(text).split()[0]) / scale if text else None
    except (ValueError, IndexError):
        return None


def parse_fingerprint(facts: Mapping[str, str]) -> Fingerprint:
    """A Fingerprint from :func:`parse_lines` of :data:`FINGERPRINT_SH`'s output."""
    cpu = facts.get("cpu_model_name") or None
    part = (facts.get("cpu_part") or "").lower()
    if not cpu and part:
        cpu = ARM_PARTS.get(part, f"ARM CPU part {part}") if facts.get("cpu_implementer", "0x41").lower() == "0x41" \
            else f"CPU part {part}"
    throttled = None
    raw = facts.get("throttled") or ""
    if "=" in raw:
        try:
            throttled = int(raw.split("=", 1)[1].strip(), 16)
        except ValueError:
            throttled = None
    runtime = next((f"{name} {facts[f'pkg_{name}']}" for name in ("ai-edge-litert", "tflite-runtime")
                    if facts.get(f"pkg_{name}")), None)
    cores = _number(facts.get("cores"))
    count = _number(facts.get("throttle_count"))
    return Fingerprint(
        hostname=facts.get("hostname") or None, board=facts.get("board") or None, cpu=cpu,
        cores=int(cores) if cores else None, arch=facts.get("arch") or None,
        governor=facts.get("governor") or None, clock_mhz=_number(facts.get("clock_khz"), 1e3),
        max_clock_mhz=_number(facts.get("max_clock_khz"), 1e3), temperature_c=_number(facts.get("temp_millic"), 1e3),
        throttled=throttled, throttle_count=None if count is None else int(count),
        os=facts.get("os") or None, kernel=facts.get("kernel") or None, python=facts.get("python") or None,
        edgekit=facts.get("pkg_edgekit") or None, runtime=runtime, numpy=facts.get("pkg_numpy") or None,
    )


def with_state(base: Fingerprint, facts: Mapping[str, str]) -> Fingerprint:
    """``base`` with the state fields (clock, temperature, throttling) read again after the command."""
    now = parse_fingerprint(facts)
    return replace(base, clock_mhz=now.clock_mhz, temperature_c=now.temperature_c, throttled=now.throttled,
                   throttle_count=now.throttle_count)


def throttled_during(before: Fingerprint, after: Fingerprint) -> str | None:
    """Why the board's figures between ``before`` and ``after`` are not its normal speed, or None."""
    if after.throttled is not None:
        now = after.throttled & NOW_MASK
        new = after.throttled & SINCE_BOOT_MASK & ~((before.throttled or 0) & SINCE_BOOT_MASK)
        flags = [text for bit, text in THROTTLE_BITS.items() if (now | new) >> bit & 1]
        if flags:
            return f"vcgencmd get_throttled went from 0x{before.throttled or 0:x} to 0x{after.throttled:x} ({', '.join(flags)})"
    if before.throttle_count is not None and after.throttle_count is not None \
            and after.throttle_count > before.throttle_count:
        return f"the CPU's thermal-throttle count rose by {after.throttle_count - before.throttle_count}"
    return None


__all__ = ["ARM_PARTS", "FINGERPRINT_SH", "Fingerprint", "PREFIX", "THROTTLE_BITS", "parse_fingerprint", "parse_lines",
           "throttled_during", "with_state"]
