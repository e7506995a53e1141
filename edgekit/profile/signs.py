"""Kernels whose time is the data's: LiteRT's builtin int8 RELU (device-safe).

XNNPACK has no standalone quantized RELU, so an int8 RELU the converter could not fuse (NASNet-Mobile has 48,
Xception 11) runs on LiteRT's builtin kernel, whose clamp is a branch: its time follows how predictable the
activations' signs are. Measured on the x86 host (docs/BENCHMARKS.md, "A RELU's time is its data's"): 6.8 ns per
element on uniform random input (half the values clamped, at random), 3.2 when every element's sign is its
channel's (a pattern the branch predictor learns). Inside real graphs, on `edgekit bench`'s random input,
NASNet-Mobile's RELUs took 3.1-4.2 ns per element (each channel's sign held for 93-99% of its elements) and
Xception's 5.3-6.3 (87%): the same kernel at both ends of the range, by the activations alone.

So ``calibrate`` times the RELU both ways: its ``RELU`` figure on random signs, :data:`SIGNS_KEY` on signs that
follow the channels. Where a profile has both, the estimate charges each such op halfway between them (the data
decides where in the range it lands) and a note says how much of the estimate that is and the range around it.
A profile without the second figure charges the random-sign one, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edgekit.profile.schema import DeviceProfile

# the [op_efficiency] key of a builtin int8 RELU timed on activations whose sign is their channel's
SIGNS_KEY = "RELU_CHANNEL_SIGNS"
SIGN_OPS = frozenset({"RELU"})
SIGN_DTYPES = frozenset({"int8"})


def sign_dependent(profile: DeviceProfile, op: str, dtype: str, delegated: bool, key: str | None) -> bool:
    """A builtin int8 RELU (as itself, not under another key) on a profile that has both of its figures."""
    if delegated or op not in SIGN_OPS or dtype not in SIGN_DTYPES or key not in (None, op):
        return False
    table = profile.op_efficiency
    return table is not None and table.get(dtype, op) is not None and table.get(dtype, SIGNS_KEY) is not None


class _Estimated(Protocol):  # an estimator.OpEstimate (read-only fields)
    @property
    def op(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def runs_on(self) -> str: ...


def signs_note(profile: DeviceProfile, ops: Sequence[_Estimated]) -> list[str]:
    """One note on the builtin int8 RELUs estimated halfway between their two figures, if any."""
    # the ops cpu_op_ms charged halfway: the same predicate
    picked = [o for o in ops if o.runs_on.endswith("builtin") and sign_dependent(profile, o.op, o.dtype, False, None)]
    table = profile.op_efficiency
    if not picked or table is None:
        return []
    dear, cheap = (table.get("int8", k) or 0.0 for k in ("RELU", SIGNS_KEY))
    if dear <= 0 or cheap <= 0:
        return []
    mid_ms = sum(o.latency_ms for o in picked)
    # per element the time is 1 / efficiency: the midpoint's share of each end
    low_ms, high_ms = mid_ms * 2 * dear / (dear + cheap), mid_ms * 2 * cheap / (dear + cheap)
    return [f"{len(picked)} builtin int8 RELU op(s), {mid_ms:.3g} ms of the estimate, are charged halfway between "
            f"activations whose signs follow their channels and random signs: their clamp is a branch, so the data "
            f"decides (about {low_ms:.3g} to {high_ms:.3g} ms)"]


__all__ = ["SIGNS_KEY", "SIGN_DTYPES", "SIGN_OPS", "sign_dependent", "signs_note"]
