"""One-shot magnitude pruning, the numpy core shared by `edgekit size` (what-if) and `convert --prune`.

Device-safe (numpy only). Callers hand in the weight tensors as magnitudes (for quantized
tensors: |scale * (q - zero_point)|, so that a global threshold compares real values), this
module says which elements become zero. Exactly ``round(sparsity * n)`` elements are chosen
(``argpartition``, so ties cannot overshoot); weights that are already zero are the smallest
and count towards the target, so an already-pruned model is never pruned twice.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from edgekit.errors import UsageError

# Never prune tensors with fewer elements than this: their bytes do not matter and they are
# usually the most sensitive (a 3x3x3x8 stem conv has 216 weights).
MIN_ELEMENTS_DEFAULT = 256
WHAT_IF_SPARSITIES: tuple[float, ...] = (0.5, 0.75, 0.9)


class PruneScope(str, Enum):
    """How the magnitude threshold is chosen."""

    GLOBAL = "global"  # one threshold over every prunable weight: layers end up with different sparsities
    PER_LAYER = "per-layer"  # every prunable tensor gets exactly the requested sparsity

    def __str__(self) -> str:
        return self.value


def parse_sparsity(value: str | float, option: str = "--prune") -> float:
    """A sparsity fraction in [0, 1); anything else is a usage error that says what to pass."""
    hint = f"Give {option} a fraction from 0 up to (not including) 1, e.g. {option} 0.75 for 75% zeros."
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} '{value}' is not a number.", hint=hint) from None
    if not math.isfinite(number):
        raise UsageError(f"{option} '{value}' is not a finite number.", hint=hint)
    if number < 0:
        raise UsageError(f"{option} {value} is negative; sparsity is the fraction of weights set to zero.",
                         hint=hint)
    if number >= 1:
        raise UsageError(f"{option} {value} would zero every weight (sparsity must be below 1).", hint=hint)
    return number


@dataclass(frozen=True)
class PrunePolicy:
    """Which weight tensors are pruned and how hard. Validates itself."""

    sparsity: float
    scope: PruneScope = PruneScope.PER_LAYER
    skip: tuple[str, ...] = ()  # tensor/layer names: substring match, or a glob when it has * ? [
    skip_first_last: bool = False
    min_elements: int = MIN_ELEMENTS_DEFAULT

    def __post_init__(self) -> None:
        parse_sparsity(self.sparsity)
        if not isinstance(self.scope, PruneScope):
            object.__setattr__(self, "scope", PruneScope(self.scope))
        if self.min_elements < 0:
            raise UsageError("min_elements must be >= 0.", hint="Pass 0 to prune tensors of any size.")

    def skip_reason(self, name: str, num_elements: int, position: int, count: int) -> str | None:
        """Why the tensor at ``position`` of ``count`` prunable tensors is not pruned (None: prune it)."""
        for pattern in self.skip:
            if _matches(pattern, name):
                return f"skipped by --prune-skip {pattern}"
        if num_elements < self.min_elements:
            return f"tiny ({num_elements} < {self.min_elements} weights)"
        if self.skip_first_last and count > 1 and position == 0:
            return "first layer (kept dense)"
        if self.skip_first_last and count > 1 and position == count - 1:
            return "last layer (kept dense)"
        return None

    def unmatched_skips(self, names: Sequence[str]) -> list[str]:
        return [p for p in self.skip if not any(_matches(p, n) for n in names)]


def _matches(pattern: str, name: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


@dataclass
class PruneTarget:
    """One weight tensor offered for pruning."""

    name: str
    magnitudes: np.ndarray  # |real value| per element, any shape
    reason_skipped: str | None = None
    zero_mask: np.ndarray | None = field(default=None, repr=False)  # True where the weight becomes zero

    @property
    def num_elements(self) -> int:
        return int(self.magnitudes.size)

    @property
    def zeros_before(self) -> int:
        return int(np.count_nonzero(self.magnitudes == 0))

    @property
    def zeros_after(self) -> int:
        if self.zero_mask is None:
            return self.zeros_before
        return int(np.count_nonzero(self.zero_mask | (self.magnitudes == 0)))


def _k_smallest_mask(flat: np.ndarray, k: int) -> np.ndarray:
    mask = np.zeros(flat.shape, dtype=bool)
    if k <= 0:
        return mask
    if k >= flat.size:
        mask[:] = True
        return mask
    idx = np.argpartition(flat, k - 1)[:k]
    mask[idx] = True
    return mask


def plan_pruning(targets: list[PruneTarget], policy: PrunePolicy) -> list[PruneTarget]:
    """Fill each target's ``reason_skipped`` and ``zero_mask`` according to the policy (in place)."""
    count = len(targets)
    for pos, t in enumerate(targets):
        t.reason_skipped = policy.skip_reason(t.name, t.num_elements, pos, count)
    active = [t for t in targets if t.reason_skipped is None]
    if policy.sparsity <= 0 or not active:
        return targets
    if policy.scope is PruneScope.PER_LAYER:
        for t in active:
            flat = np.abs(t.magnitudes.astype(np.float64, copy=False)).ravel()
            k = int(round(policy.sparsity * flat.size))
            t.zero_mask = _k_smallest_mask(flat, k).reshape(t.magnitudes.shape)
    else:
        flats = [np.abs(t.magnitudes.astype(np.float64, copy=False)).ravel() for t in active]
        allv = np.concatenate(flats)
        k = int(round(policy.sparsity * allv.size))
        mask = _k_smallest_mask(allv, k)
        start = 0
        for t, f in zip(active, flats, strict=True):
            t.zero_mask = mask[start : start + f.size].reshape(t.magnitudes.shape)
            start += f.size
    return targets


def achieved_sparsity(targets: Sequence[PruneTarget], only_pruned: bool = True) -> float:
    """Zeros / elements over the pruned targets (or all targets)."""
    chosen = [t for t in targets if t.reason_skipped is None] if only_pruned else list(targets)
    total = sum(t.num_elements for t in chosen)
    return sum(t.zeros_after for t in chosen) / total if total else 0.0
