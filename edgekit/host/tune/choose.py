"""`edgekit tune`'s choice among the measured candidates: the Pareto front, the chosen one, and why.

The chosen candidate passes, fits the device's constraints (Edge TPU: integer only) and ``--budget-ms``,
and has the lowest estimated latency (then the smallest file, then the widest margin); when none
qualifies, the best by accuracy margin is reported instead.
"""

from __future__ import annotations

import math

from edgekit.host.tune.search import Baseline, Candidate
from edgekit.requant.check import CheckResult


def mark_pareto(candidates: list[Candidate]) -> None:
    """Pareto-optimal on (margin up, estimated latency down, size down) among measured candidates."""
    pool = [c for c in candidates if c.check is not None and c.latency_ms is not None]
    for c in pool:
        c.pareto = not any(
            o is not c and o.margin >= c.margin and (o.latency_ms or 0) <= (c.latency_ms or 0)
            and o.size_bytes <= c.size_bytes
            and (o.margin > c.margin or (o.latency_ms or 0) < (c.latency_ms or 0) or o.size_bytes < c.size_bytes)
            for o in pool)


def choose(candidates: list[Candidate]) -> tuple[Candidate | None, Candidate | None]:
    """(the chosen candidate or None, the best one by accuracy margin when none qualifies)."""
    ok = [c for c in candidates if c.passed and c.allowed and c.latency_ms is not None]
    if ok:
        chosen = min(ok, key=lambda c: (c.slower_than_float, round(c.latency_ms or 0.0, 3), c.size_bytes, -c.margin))
        chosen.chosen = True
        return chosen, None
    measured = [c for c in candidates if c.check is not None and not c.error]
    allowed = [c for c in measured if c.allowed] or measured
    return None, max(allowed, key=lambda c: c.margin, default=None)


def why_chosen(chosen: Candidate, candidates: list[Candidate], baseline: Baseline) -> str:
    """One sentence: which metric and which figure decided."""
    faster = [c for c in candidates if c is not chosen and c.latency_ms is not None and chosen.latency_ms is not None
              and c.latency_ms < chosen.latency_ms and c.check is not None]
    check = chosen.check
    assert check is not None
    tightest = _tightest_metric(check)
    parts = [f"passes every threshold (tightest: {tightest})"]
    if faster:
        fails = [c for c in faster if not c.passed]
        blocked = [c for c in faster if c.passed and not c.allowed]
        if fails:
            decided = sorted({m for c in fails for m in (c.check.decided_by if c.check else [])})
            parts.append(f"the {len(fails)} faster candidate(s) fail on {', '.join(decided)}")
        if blocked:
            parts.append(f"{len(blocked)} faster one(s) do not fit the device ({blocked[0].constraint})")
    else:
        parts.append("and has the lowest estimated latency of the passing candidates")
    if baseline.latency_ms is not None and chosen.latency_ms is not None:
        parts.append(f"est. {chosen.latency_ms:.2f} ms vs {baseline.latency_ms:.2f} ms for float32")
    return "; ".join(parts)


def _tightest_metric(check: CheckResult) -> str:
    t = check.thresholds
    best: tuple[float, str] = (math.inf, "-")
    for o in check.outputs:
        m = o.metrics
        items = []
        if t.min_sqnr_db is not None:
            items.append(((m.sqnr_db - t.min_sqnr_db) / max(abs(t.min_sqnr_db), 1.0),
                          f"{o.name} sqnr_db {m.sqnr_db:.1f} >= {t.min_sqnr_db:g}"))
        if t.min_cosine is not None:
            items.append(((m.cosine - t.min_cosine) / max(1 - t.min_cosine, 1e-3),
                          f"{o.name} cosine {m.cosine:.4f} >= {t.min_cosine:g}"))
        if t.min_top1 is not None and m.top1_agreement is not None:
            items.append(((m.top1_agreement - t.min_top1) / max(1 - t.min_top1, 1e-3),
                          f"{o.name} top1 {m.top1_agreement:.3f} >= {t.min_top1:g}"))
        if t.min_iou is not None and m.map_iou is not None:
            items.append(((m.map_iou - t.min_iou) / max(1 - t.min_iou, 1e-3),
                          f"{o.name} map_iou {m.map_iou:.3f} >= {t.min_iou:g}"))
        for item in items:
            best = min(best, item)
    return best[1]
