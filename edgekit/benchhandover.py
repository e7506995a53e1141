"""The thread hand-over around a multi-thread ``edgekit bench`` run (device-safe).

On a virtual machine the cost of handing work to another thread has moods: on this project's 2-vCPU VM a split
op paid 0.22-0.30 us for minutes, then 1.06-1.19 us for minutes (the host had moved the vCPUs apart), while each
vCPU alone computed as fast as ever. A small model's 2-thread latency then grows by half and a 40-op chain of
tiny convs runs at 0.3x its 1-thread speed, with nothing else running. Sustained 2-core work seemed to invite
the move. So bench measures the hand-over (:func:`edgekit.calibrate.parallel.handover_us`, ~0.3 s, handed to
:func:`edgekit.bench.run_bench` by the command) right before and right after each multi-thread configuration
and reports both; when they differ as the two moods do (2x and by more than 0.3 us) it warns that the run's
figures mix two states of the machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHANGE_RATIO = 2.0
CHANGE_US = 0.3


@dataclass(frozen=True)
class HandoverCheck:
    """What a split op paid (us) at the run's thread count, measured before and after its timed runs."""

    before_us: float
    after_us: float

    @property
    def changed(self) -> bool:
        low, high = sorted((self.before_us, self.after_us))
        return high > CHANGE_RATIO * low and high - low > CHANGE_US

    def to_dict(self) -> dict[str, float]:
        # full precision: rounded here and formatted again in the table, a value such as 1.05504 read back from the
        # JSON would print "1.05" where the measurement printed "1.06" (the saved result's table would differ)
        return {"before": self.before_us, "after": self.after_us}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> HandoverCheck | None:
        return None if not d else cls(before_us=float(d["before"]), after_us=float(d["after"]))


def describe(threads: int | None, check: HandoverCheck) -> str:
    return (f"threads={threads}: thread hand-over {check.before_us:.2f} us before the timed runs, "
            f"{check.after_us:.2f} us after (measured: a split op's cost beyond its share of the work)")


def warnings(results: Sequence[tuple[int | None, HandoverCheck | None]]) -> list[str]:
    """A warning per configuration whose hand-over changed during its run."""
    out = []
    for threads, check in results:
        if check is not None and check.changed:
            out.append(f"the thread hand-over changed during the threads={threads} run ({check.before_us:.2f} -> "
                       f"{check.after_us:.2f} us): its figures mix two states of the machine (on a virtual "
                       "machine, the host moving the vCPUs); run it again, after an idle pause")
    return out


__all__ = ["HandoverCheck", "describe", "warnings"]
