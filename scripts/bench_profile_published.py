"""Estimated vs published latency on the published dataset (device_profiles/published/), with leave-one-out.

For every row a shipped profile can use (``edgekit.profile.published.select``) whose model is built
(``scripts/published_models.py``, cached outside the repository), this prints the estimate of the shipped
profile and, with ``--loo``, the estimate of a profile refitted WITHOUT that row's model (leave-one-model-
out: every row of the same architecture, on every device, is left out of the fit; ``--group network``
leaves out only the same network, e.g. EfficientDet-Lite2 while Lite0/1/3/4 stay). Per device family and
overall: the median and 90th percentile of |error| (|estimated / published - 1|) and the share of rows within +-20%, +-30%, +-35%.

    .venv/bin/python scripts/bench_profile_published.py                 # shipped profiles vs published
    .venv/bin/python scripts/bench_profile_published.py --loo [--json]  # leave-one-model-out
    .venv/bin/python scripts/bench_profile_published.py --loo --markdown > table.md
    .venv/bin/python scripts/bench_profile_published.py --why           # every unused row and why
    .venv/bin/python scripts/bench_profile_published.py --from-json loo.json --markdown  # tables of a saved run

JSON (``--json``): ``{"rows": [{model, variant, device, profile, published_ms, loo_estimated_ms,
fitted_estimated_ms, shipped_estimated_ms, ...}], "families": {...}, "overall": {...}}``.
Every estimate is an ESTIMATE; every published figure is the source's measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import published_fit as pf  # noqa: E402

from edgekit.profile.estimator import estimate  # noqa: E402
from edgekit.profile.published import load_dataset, select  # noqa: E402
from edgekit.profile.registry import ProfileEntry, ProfileOrigin  # noqa: E402


def shipped_estimates(rows: list[pf.FitRow]) -> list[float]:
    profiles = pf.shipped()
    out = []
    for fr in rows:
        prof = fr.conditions.apply(profiles[fr.profile_id])
        est = estimate(pf.model_of(fr.path), ProfileEntry(prof, ProfileOrigin.SHIPPED, "<shipped>"), fr.sel.threads)
        out.append(est.latency_ms)
    return out


def family_table(results: list[dict[str, Any]], key: str) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    by: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if r.get(key) is not None:
            by[r["device"]].append(pf.abs_error(r[key], r["published_ms"]))
    fams = {d: pf.summary(v) for d, v in sorted(by.items())}
    overall = pf.summary([e for v in by.values() for e in v])
    return fams, overall


def fmt_pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.0f}%"


def _cell(s: dict[str, float]) -> str:
    return (f"{fmt_pct(s['median_abs_error'])} / {fmt_pct(s['p90_abs_error'])}, {fmt_pct(s['within_20'])} / "
            f"{fmt_pct(s['within_30'])} / {fmt_pct(s['within_35'])}")


def render(results: list[dict[str, Any]], keys: list[tuple[str, str]], markdown: bool, per_row: bool) -> str:
    lines: list[str] = []
    if per_row:
        headers = ["row", "device", "model", "variant", "dtype", "threads", "published ms"] + \
                  [f"{title} ms" for _, title in keys] + [f"{title} ratio" for _, title in keys]
        body = []
        for r in results:
            body.append([r["row_id"], r["device"], r["model"], r["variant"], r["dtype"], str(r["threads"]),
                         f"{r['published_ms']:g}"] + [f"{r[k]:.2f}" if r.get(k) is not None else "-" for k, _ in keys]
                        + [f"{r[k] / r['published_ms']:.2f}" if r.get(k) is not None else "-" for k, _ in keys])
        lines += _table(headers, body, markdown)
        lines.append("")
    headers = ["device family", "rows"] + [f"{title}: median / p90 |err|, within ±20/30/35%" for _, title in keys]
    body = []
    tables = [family_table(results, k) for k, _ in keys]
    fams = sorted({d for fam, _ in tables for d in fam})
    for d in fams:
        row = [d, str(tables[0][0].get(d, {}).get("rows", 0))]
        for fam, _ in tables:
            s = fam.get(d)
            row.append("-" if s is None else _cell(s))
        body.append(row)
    row = ["**all**" if markdown else "ALL", str(tables[0][1]["rows"])]
    for _, overall in tables:
        row.append(_cell(overall))
    body.append(row)
    lines += _table(headers, body, markdown)
    return "\n".join(lines)


def _table(headers: list[str], body: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        headers = [h.replace("|", "\\|") for h in headers]  # |err| inside a Markdown cell
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return out
    from edgekit.report import format_table

    return format_table(headers, body).splitlines()


def why(rows_missing: dict[str, list[Any]]) -> str:
    reasons: dict[str, int] = defaultdict(int)
    for r in load_dataset(pf.DATASET):
        s = select(r)
        if not s.usable:
            reasons[s.reason] += 1
    lines = ["Rows not used (edgekit.profile.published.select):"]
    lines += [f"  {n:4d}  {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    lines.append("Usable rows without a built model (scripts/published_models.py):")
    lines += [f"  {len(v):4d}  {reason}" for reason, v in sorted(rows_missing.items(), key=lambda kv: -len(kv[1]))]
    return "\n".join(lines)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def no_rows(what: str) -> int:
    """Nothing to estimate: say so (exit 2) rather than print a table of NaNs."""
    say(f"Error: {what}.\nHint: build the architectures first: .venv/bin/python scripts/published_models.py --build "
        "(TensorFlow, ~40 min on 2 cores; --list shows what is cached).")
    return 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loo", action="store_true", help="leave-one-model-out estimates (refits the profiles per model)")
    ap.add_argument("--group", choices=("model", "network"), default="model",
                    help="what --loo leaves out: the architecture (default) or only the network")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--markdown", action="store_true", help="Markdown tables (for docs/BENCHMARKS.md)")
    ap.add_argument("--rows", action="store_true", help="also print every row")
    ap.add_argument("--why", action="store_true", help="list the rows that are not used and why")
    ap.add_argument("--prior-weight", type=float, default=pf.PRIOR_WEIGHT, help="weight of the parameter priors")
    ap.add_argument("--from-json", type=Path, metavar="FILE",
                    help="print the tables of a saved --json run (no estimating, no refitting)")
    args = ap.parse_args(argv)
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        if not saved.get("rows"):
            return no_rows(f"{args.from_json} holds no estimated rows")
        have = [(k, t) for k, t in (("loo_estimated_ms", "leave-one-out"), ("fitted_estimated_ms", "fitted on all"),
                                    ("shipped_estimated_ms", "shipped")) if any(k in r for r in saved["rows"])]
        print(render(saved["rows"], have, args.markdown, args.rows))
        print(f"\n{len(saved['rows'])} rows estimated (ESTIMATES vs the sources' measurements); "
              f"{sum(saved.get('unused_usable_rows', {}).values())} usable rows have no built model (--why lists them).")
        return 0
    rows, missing = pf.fit_rows()
    if args.why:
        print(why(missing))
        return 0
    if not rows:
        return no_rows(f"no row of the dataset has a built model ({sum(len(v) for v in missing.values())} usable "
                       "rows wait for one)")
    shipped = shipped_estimates(rows)
    results: list[dict[str, Any]] = []
    for fr, sh in zip(rows, shipped, strict=True):
        results.append({"row_id": fr.row.row_id, "model": fr.row.model, "variant": fr.row.variant,
                        "network": fr.network, "device": fr.family, "profile": fr.profile_id, "kind": fr.kind,
                        "dtype": fr.row.dtype, "threads": fr.sel.threads, "xnnpack": fr.sel.xnnpack,
                        "source": fr.row.source, "source_url": fr.row.source_url, "fidelity": fr.build.fidelity,
                        "published_ms": fr.row.latency_ms, "shipped_estimated_ms": round(sh, 4)})
    keys = [("shipped_estimated_ms", "shipped")]
    if args.loo:
        fitter = pf.Fitter(pf.Model(pf.shipped()), rows, args.prior_weight)
        group = (lambda fr: fr.group) if args.group == "model" else (lambda fr: fr.network)
        loo, _, _ = pf.leave_one_out(fitter, group, say=say)
        for res, lr in zip(results, loo, strict=True):
            res["loo_estimated_ms"] = round(lr.loo_ms, 4)
            res["fitted_estimated_ms"] = round(lr.fitted_ms, 4)
        keys = [("loo_estimated_ms", "leave-one-out"), ("fitted_estimated_ms", "fitted on all"),
                ("shipped_estimated_ms", "shipped")]
    fams: dict[str, Any] = {}
    overall: dict[str, Any] = {}
    for key, _ in keys:
        fams[key], overall[key] = family_table(results, key)
    if args.json:
        print(json.dumps({"estimated": True, "group": args.group if args.loo else None, "rows": results,
                          "families": fams, "overall": overall,
                          "unused_usable_rows": {k: len(v) for k, v in missing.items()}}, indent=1))
        return 0
    print(render(results, keys, args.markdown, args.rows))
    n_missing = sum(len(v) for v in missing.values())
    print(f"\n{len(results)} rows estimated (ESTIMATES vs the sources' measurements); {n_missing} usable rows have no "
          f"built model (--why lists them).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
