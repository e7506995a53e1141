"""The matrix's markdown tables: totals per tool, the per-op matrix, the per-model table."""

from __future__ import annotations

from collections import Counter, defaultdict

from onnx_matrix.cases import Case, Outcome


def tables(cases: list[Case], results: dict[tuple[str, str], Outcome], skipped: list[str]) -> str:
    lines: list[str] = []
    for suite in ("node", "zoo"):
        chosen = [c for c in cases if c.suite == suite]
        if not chosen:
            continue
        totals = {t: Counter(results[(c.id, t)].outcome for c in chosen if (c.id, t) in results)
                  for t in ("edgekit", "onnx2tf")}
        named = sum(1 for c in chosen if (c.id, "edgekit") in results and results[(c.id, "edgekit")].named)
        lines.append(f"### {'ONNX node test suite' if suite == 'node' else 'Real pretrained models (zoo)'}: "
                     f"{len(chosen)} cases")
        lines.append("")
        lines.append("| tool | pass | refused (exit 2/3) | silent mismatch | crash | pass rate |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for tool, counts in totals.items():
            n = sum(counts.values())
            refused = f"{counts['refused']}" + (f" ({named} name the op)" if tool == "edgekit" else "")
            rate = f"{100 * counts['pass'] / n:.1f}%" if n else "-"
            lines.append(f"| {tool} | {counts['pass']} | {refused} | {counts['mismatch']} | {counts['crash']} | "
                         f"{rate} |")
        backends = Counter(results[(c.id, "edgekit")].backend for c in chosen
                           if (c.id, "edgekit") in results and results[(c.id, "edgekit")].outcome == "pass")
        lines.append("")
        lines.append("edgekit passes by backend: " + ", ".join(f"{b}: {n}" for b, n in backends.most_common()))
        lines.append("")
        if suite == "node":
            lines.extend(_per_op(chosen, results))
        else:
            lines.extend(_per_model(chosen, results))
            if skipped:
                lines.append("")
                lines.append("Not in the matrix (onnxruntime itself cannot run them): " + "; ".join(skipped))
        lines.append("")
    return "\n".join(lines)


SYMBOL = {"pass": "✅", "refused": "⛔", "mismatch": "❌", "crash": "💥"}


def _per_op(chosen: list[Case], results: dict[tuple[str, str], Outcome]) -> list[str]:
    by_op: dict[str, list[Case]] = defaultdict(list)
    for c in chosen:
        by_op[c.op].append(c)
    lines = ["| op | cases | edgekit pass | onnx2tf pass | edgekit not passing (outcome: case) |",
             "|---|---:|---:|---:|---|"]
    for op in sorted(by_op):
        group = by_op[op]
        ek = [results.get((c.id, "edgekit")) for c in group]
        o2 = [results.get((c.id, "onnx2tf")) for c in group]
        ek_pass = sum(1 for r in ek if r is not None and r.outcome == "pass")
        o2_pass = sum(1 for r in o2 if r is not None and r.outcome == "pass")
        bad = [f"{SYMBOL.get(r.outcome, '?')} {c.id}" for c, r in zip(group, ek, strict=True)
               if r is not None and r.outcome != "pass"]
        lines.append(f"| {op} | {len(group)} | {ek_pass} | {o2_pass} | {'; '.join(bad[:6])}"
                     f"{' …' if len(bad) > 6 else ''} |")
    return lines


def _per_model(chosen: list[Case], results: dict[tuple[str, str], Outcome]) -> list[str]:
    lines = ["| model | edgekit | backend | max abs error | s | onnx2tf (bare) | edgekit's message when it refuses |",
             "|---|---|---|---:|---:|---|---|"]
    for c in chosen:
        ek, o2 = results.get((c.id, "edgekit")), results.get((c.id, "onnx2tf"))
        if ek is None:
            continue
        err = "-" if ek.error is None else f"{ek.error:.2g}"
        o2_text = "-" if o2 is None else f"{SYMBOL.get(o2.outcome, '?')} {o2.outcome}"
        msg = ek.message.split(" | ")[0][:160] if ek.outcome != "pass" else ""
        lines.append(f"| {c.id} | {SYMBOL.get(ek.outcome, '?')} {ek.outcome} | {ek.backend or '-'} | {err} | "
                     f"{ek.seconds:.0f} | {o2_text} | {msg} |")
    return lines

