"""The `edgekit verify` report: does the converted model compute what the original did, and if not, where not.

Every figure on it is MEASURED on the verify samples (both models ran on the same inputs); the
values drawn come from each output's bounded ``distribution`` (:mod:`edgekit.verify.distribution`).
"""

from __future__ import annotations

import math
from typing import Any

from edgekit.htmlreport import charts
from edgekit.htmlreport.common import basename, listed, name, producer_row
from edgekit.htmlreport.figures import Rich, Source, rich
from edgekit.htmlreport.page import MEASURED, Card, Chart, Command, Page, Para, Section, table

METRICS = (  # (JSON key, label, format, threshold key, rule)
    ("cosine", "cosine (mean)", "cos", "min_cosine", ">="),
    ("min_cosine", "cosine (worst sample)", "cos", None, ""),
    ("sqnr_db", "SQNR", "db", "min_sqnr_db", ">="),
    ("top1_agreement", "top-1 agreement", "pct", "min_top1", ">="),
    ("top5_agreement", "top-5 agreement", "pct", None, ""),
    ("max_abs_error", "max |error|", "float", "max_abs", "<="),
    ("mean_abs_error", "mean |error|", "float", None, ""),
    ("rmse", "RMSE", "float", None, ""),
)
TOP_LAYERS = 15
LOW_RMSE_PER_SCALE = 0.3  # rounding alone (explain_report's wording)
HIGH_RMSE_PER_SCALE = 0.7  # suspicious


def _out(i: int) -> str:
    return f"/outputs/{i}"


def _verdict(src: Source) -> tuple[Rich, str]:
    doc = src.doc
    n = len(doc["outputs"])
    if doc["passed"]:
        parts: list[Any] = ["PASSED: ", "all " if n > 1 else "", src.fig("count(/outputs/*)", "int"),
                            " outputs" if n > 1 else " output", " within thresholds on ", src.fig("/samples", "int"),
                            " samples"]
        if doc.get("accuracy"):
            parts += ["; accuracy ", src.fig("/accuracy/converted", "pct"), " (original ",
                      src.fig("/accuracy/original", "pct"), ")"]
        return tuple(parts) + (".",), "good"
    parts = ["FAILED: ", src.fig("count(/outputs/*[passed=false])", "int"), " of ",
             src.fig("count(/outputs/*)", "int"), " outputs" if n > 1 else " output", " out of thresholds — "]
    first = True
    for i, o in enumerate(doc["outputs"]):
        for j in range(len(o["failures"])):
            parts += ([] if first else ["; "]) + [name(o["name"]), ": ", src.text(f"{_out(i)}/failures/{j}")]
            first = False
    return tuple(parts) + (".",), "bad"


def _cards(src: Source) -> tuple[Card, ...]:
    doc = src.doc
    cards = []
    for i, o in enumerate(doc["outputs"][:6]):
        detail: list[Any] = ["SQNR ", src.fig(f"{_out(i)}/sqnr_db", "db")]
        if o.get("top1_agreement") is not None:
            detail += [", top-1 agreement ", src.fig(f"{_out(i)}/top1_agreement", "pct")]
        detail.append(" · PASS" if o["passed"] else " · FAIL")
        cards.append(Card(rich(name(o["name"]), ": cosine"), src.fig(f"{_out(i)}/cosine", "cos"), tuple(detail),
                          "good" if o["passed"] else "bad", MEASURED))
    if doc.get("accuracy"):
        cards.append(Card("accuracy, converted", src.fig("/accuracy/converted", "pct"),
                          rich("original ", src.fig("/accuracy/original", "pct"), ", drop ",
                               src.fig("/accuracy/drop", "pts"), " on ", src.fig("/accuracy/samples", "int"),
                               " labelled samples"), "warn" if doc["accuracy"]["drop"] > 0.01 else "good", MEASURED))
    explain = doc.get("explain") or {}
    if explain.get("with_keep_float") and explain.get("all_int8"):
        cards.append(Card("keep in float", src.fig("count(/explain/keep_float/*)", "int"),
                          rich("layer(s): output SQNR ", src.fig("/explain/all_int8/sqnr_db", "db"), " → ",
                               src.fig("/explain/with_keep_float/sqnr_db", "db")), "warn", MEASURED))
    return tuple(cards)


def _metrics_table(src: Source) -> Any:
    doc = src.doc
    thresholds = doc["thresholds"]
    rows: list[list[Rich]] = []
    for key, label, fmt, limit, rule in METRICS:
        if all(o.get(key) is None for o in doc["outputs"]) and key in ("top1_agreement", "top5_agreement"):
            continue
        row: list[Rich] = [rich(label)]
        for i in range(len(doc["outputs"])):
            row.append(rich(src.fig(f"{_out(i)}/{key}", fmt)))
        if limit is not None and thresholds.get(limit) is not None:
            row.append(rich(rule, " ", src.fig(f"/thresholds/{limit}", fmt)))
        else:
            row.append(rich("–"))
        rows.append(row)
    rows.append([rich("result"), *[rich("PASS" if o["passed"] else "FAIL") for o in doc["outputs"]], rich("")])
    names = [o["name"] for o in doc["outputs"]]
    return table(["metric", *names, "threshold"], rows, "l" + "r" * len(names) + "l",
                 caption=rich("Agreement of each output with the original, on ", src.fig("/samples", "int"),
                              " samples."), basis=MEASURED, highlight=(len(rows) - 1,))


def _values_chart(src: Source, i: int) -> Chart | None:
    o = src.doc["outputs"][i]
    dist = o.get("distribution")
    if not dist:
        return None
    ref, conv = dist["pairs"]["reference"], dist["pairs"]["converted"]
    edges, counts = dist["error_histogram"]["edges"], dist["error_histogram"]["counts"]
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 3.3)
        ax, hx = fig.subplots(1, 2, width_ratios=[1, 1.25])
        if ref:
            lo = min(min(ref), min(conv))
            hi = max(max(ref), max(conv))
            pad = (hi - lo) * 0.04 or 0.5
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=charts.GREY, linewidth=1, linestyle="--")
            ax.scatter(ref, conv, s=9, alpha=0.55, color=charts.BLUE if o["passed"] else charts.VERMILLION,
                       edgecolors="none")
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("original (reference)")
        ax.set_ylabel("converted")
        ax.set_title("converted against original")
        fig.suptitle(f"output {o['name']}" + ("" if o["passed"] else " (FAIL)"), x=0.01, ha="left", fontsize=10.5,
                     fontweight="bold", color=charts.INK if o["passed"] else charts.VERMILLION)
        if counts:
            hx.stairs(counts, edges, fill=True, color=charts.SKY, alpha=0.9)
            hx.stairs(counts, edges, color=charts.BLUE, linewidth=1)
            hx.axvline(0.0, color=charts.INK, linewidth=1)
            nonzero = [c for c in counts if c > 0]
            if nonzero and min(nonzero) * 50 < max(nonzero):
                hx.set_yscale("log")
                charts.plain_log(hx.yaxis)
                hx.set_ylabel("values (log scale)")
            else:
                hx.set_ylabel("values")
        hx.set_xlabel("error = converted − original")
        hx.set_title("the error of every value")
        hx.grid(axis="x", visible=False)
        svg = charts.to_svg(fig, f"verify-values-{i}", f"Output {o['name']}: converted against original values, "
                            "and the histogram of the error")
    caption: list[Any] = ["Output ", name(o["name"]), ": left, converted against original value by value (",
                          src.text(f"{_out(i)}/distribution/pairs/selection"), "; on the dashed diagonal they are "
                          "equal); right, the error of all ", src.fig(f"{_out(i)}/distribution/values", "int"), " values"]
    if dist["non_finite"]:
        caption += [" (", src.fig(f"{_out(i)}/distribution/non_finite", "int"), " converted values are NaN or infinite "
                    "and not drawn)"]
    return Chart(svg, tuple(caption) + (".",), MEASURED)


def _positions_chart(src: Source) -> Chart | None:
    outs = [(i, o) for i, o in enumerate(src.doc["outputs"])
            if (o.get("distribution") or {}).get("argmax_per_position")]
    if not outs:
        return None
    limit = src.doc["thresholds"].get("min_top1")
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 2.9)
        ax = fig.subplots()
        for k, (_, o) in enumerate(outs):
            pos = o["distribution"]["argmax_per_position"]
            step = pos["positions_per_value"]
            xs = [j * step for j in range(len(pos["agreement"]))]
            ax.plot(xs, [100 * v for v in pos["agreement"]], color=charts.PALETTE[k % len(charts.PALETTE)],
                    label=o["name"], drawstyle="steps-post" if len(xs) < 80 else "default", marker="." if len(xs) < 80 else None)
        if limit is not None:
            ax.axhline(100 * limit, color=charts.VERMILLION, linestyle="--", linewidth=1.2, label="top-1 threshold")
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 102)
        ax.set_xlabel("position in the sequence")
        ax.set_ylabel("arg-max agreement (%)")
        ax.legend(loc="lower left", fontsize=8.5)
        svg = charts.to_svg(fig, "verify-positions", "Arg-max agreement per position of the sequence outputs")
    parts: list[Any] = ["The share of samples whose converted arg-max equals the original's, at each position"]
    for i, o in outs:
        pos = o["distribution"]["argmax_per_position"]
        parts += ["; ", name(o["name"]), ": ", src.fig(f"{_out(i)}/distribution/argmax_per_position/positions", "int"),
                  " positions × ", src.fig(f"{_out(i)}/distribution/argmax_per_position/classes", "int"), " classes",
                  ", worst position ", src.fig(f"min({_out(i)}/distribution/argmax_per_position/agreement/*)", "pct")]
        if pos["positions_per_value"] > 1:
            parts += [" (", src.fig(f"{_out(i)}/distribution/argmax_per_position/positions_per_value", "int"),
                      " positions averaged per point)"]
    return Chart(svg, tuple(parts) + (".",), MEASURED)


def _short_layer(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _explain_chart(src: Source) -> Chart:
    ex = src.doc["explain"]
    layers = ex["layers"][:TOP_LAYERS]
    keep = _kept(ex)
    singles = [lay.get("sqnr_db_if_float") for lay in layers]
    with_trials = any(v is not None for v in singles) and ex.get("all_int8")
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 0.9 + 0.27 * len(layers))
        if with_trials:
            ax, tx = fig.subplots(1, 2, sharey=True, width_ratios=[1.5, 1])
        else:
            ax, tx = fig.subplots(), None
        ys = list(range(len(layers)))[::-1]
        values = [lay["rmse_per_scale"] if lay["rmse_per_scale"] is not None else math.nan for lay in layers]
        colors = [charts.VERMILLION if lay["tensor_name"] in keep else charts.BLUE for lay in layers]
        ax.barh(ys, values, color=colors, height=0.66)
        ax.axvline(LOW_RMSE_PER_SCALE, color=charts.GREY, linestyle=":", linewidth=1.2)
        ax.axvline(HIGH_RMSE_PER_SCALE, color=charts.VERMILLION, linestyle="--", linewidth=1.2)
        top = ax.get_ylim()[1]
        ax.text(LOW_RMSE_PER_SCALE, top, " rounding", fontsize=8, color=charts.GREY, va="bottom", ha="left")
        ax.text(HIGH_RMSE_PER_SCALE, top, " suspicious", fontsize=8, color=charts.VERMILLION, va="bottom", ha="left")
        ax.set_yticks(ys, [f"{lay['rank']}. {_short_layer(lay['layer'])}" for lay in layers], fontsize=9)
        ax.set_xlabel("int8 error of the layer's output (RMSE / scale)")
        ax.grid(axis="y", visible=False)
        patches = charts.require_patches()
        handles = [patches.Patch(color=charts.BLUE, label="int8"),
                   patches.Patch(color=charts.VERMILLION, label="suggested: keep in float")]
        if tx is not None:
            base = ex["all_int8"]["sqnr_db"]
            sq = [v if v is not None else math.nan for v in singles]
            tx.barh(ys, [v - base for v in sq], left=base, color=[charts.GREEN if v > base else charts.GREY for v in sq],
                    height=0.66)
            tx.axvline(base, color=charts.INK, linewidth=1.2)
            tx.text(base, tx.get_ylim()[1], " all int8", fontsize=8, va="bottom", ha="left")
            best = (ex.get("with_keep_float") or {}).get("sqnr_db")
            if best is not None:
                tx.axvline(best, color=charts.VERMILLION, linestyle="--", linewidth=1.2)
                handles.append(_line(charts.VERMILLION, "SQNR with the suggested set in float"))
            tx.set_xlabel("output SQNR (dB), this layer in float")
            tx.grid(axis="y", visible=False)
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8.5)
        svg = charts.to_svg(fig, "verify-explain", "Per-layer int8 error and what keeping each layer in float buys")
    parts: list[Any] = ["Left: each layer's int8 error (TF QuantizationDebugger, measured on ",
                        src.fig("/explain/samples", "int"), " samples); about ", name(f"{LOW_RMSE_PER_SCALE}"),
                        " is rounding alone, above ", name(f"{HIGH_RMSE_PER_SCALE}"), " is suspicious."]
    if with_trials:
        parts += [" Right: the model's output SQNR when only that layer is kept in float (trial conversions measured on ",
                  src.fig("/explain/trials_measured_on_samples", "int"), " samples), from ",
                  src.fig("/explain/all_int8/sqnr_db", "db"), " with every layer in int8."]
    return Chart(svg, tuple(parts), MEASURED)


def _kept(ex: dict[str, Any]) -> set[str]:
    """Tensor names of the suggested float set (``keep_float`` holds the layer names given to convert)."""
    return set((ex.get("with_keep_float") or {}).get("kept_float") or [])


def _line(color: str, label: str) -> Any:
    lines = charts.require_lines()
    return lines.Line2D([0], [0], color=color, linestyle="--", label=label)


def _explain_table(src: Source) -> Any:
    ex = src.doc["explain"]
    keep = _kept(ex)
    rows: list[list[Rich]] = []
    marked = []
    for j, lay in enumerate(ex["layers"][:TOP_LAYERS]):
        p = f"/explain/layers/{j}"
        if lay["tensor_name"] in keep:
            marked.append(j)
        rows.append([rich(src.fig(f"{p}/rank", "int")), rich(src.text(f"{p}/layer")), rich(name(lay["op"])),
                     rich(src.fig(f"{p}/rmse_per_scale", "float")), rich(src.fig(f"{p}/rmse", "float")),
                     rich(src.fig(f"{p}/sqnr_db_if_float", "db"))])
    return table(["rank", "layer", "op", "RMSE / scale", "RMSE", "SQNR, this layer in float"], rows, "rllrrr",
                 caption=rich("The layers that lose the most in int8, worst first (marked: suggested to keep in "
                              "float)."), basis=MEASURED, highlight=tuple(marked))


def _explain_section(src: Source) -> Section | None:
    ex = src.doc.get("explain")
    if ex is None:
        return None
    blocks: list[Any] = []
    if not ex["layers"]:
        blocks.append(Para(rich(src.text("/explain/message")), "warn"))
        return Section("explain", "Which layers lose accuracy?", (), tuple(blocks))
    blocks += [_explain_chart(src), _explain_table(src)]
    lead: list[Any] = ["Worst: ", src.text("/explain/layers/0/layer"), " (", name(ex["layers"][0]["op"]), "), RMSE/scale ",
                       src.fig("/explain/layers/0/rmse_per_scale", "float"), "."]
    if ex.get("with_keep_float") and ex.get("command"):
        keep = ex.get("keep_float") or []
        label: list[Any] = ["Keeping "]
        for j in range(len(keep)):
            label += ([", "] if j else []) + [src.text(f"/explain/keep_float/{j}")]
        label += [" in float: output SQNR ", src.fig("/explain/with_keep_float/sqnr_db", "db"), " instead of ",
                  src.fig("/explain/all_int8/sqnr_db", "db"), " (measured). Convert with:"]
        blocks.append(Command(tuple(label), rich(src.text("/explain/command"))))
        lead += [" Suggested float fallback: ", src.fig("count(/explain/keep_float/*)", "int"), " layer(s), SQNR ",
                 src.fig("/explain/all_int8/sqnr_db", "db"), " → ", src.fig("/explain/with_keep_float/sqnr_db", "db"), "."]
    if ex.get("message"):
        blocks.append(Para(rich(src.text("/explain/message")), "note"))
    return Section("explain", "Which layers lose accuracy?", tuple(lead), tuple(blocks))


def _accuracy_table(src: Source) -> Any:
    return table(["model", "task accuracy"], [
        [rich("original"), rich(src.fig("/accuracy/original", "pct"))],
        [rich("converted"), rich(src.fig("/accuracy/converted", "pct"))],
        [rich("drop"), rich(src.fig("/accuracy/drop", "pts"))],
    ], "lr", caption=rich("Top-1 accuracy against the labels, on ", src.fig("/accuracy/samples", "int"),
                          " labelled samples."), basis=MEASURED)


def build(src: Source) -> Page:
    doc = src.doc
    verdict, tone = _verdict(src)
    values: list[Any] = [_metrics_table(src)]
    for i in range(len(doc["outputs"])):
        chart = _values_chart(src, i)
        if chart is not None:
            values.append(chart)
    lead: list[Any] = [src.fig("/samples", "int"), " samples (", src.text("/input_source"), " inputs) through both models; "]
    worst = min(range(len(doc["outputs"])), key=lambda i: doc["outputs"][i]["cosine"] or 0.0)
    lead += ["lowest mean cosine ", src.fig(f"{_out(worst)}/cosine", "cos"), " (", name(doc["outputs"][worst]["name"]),
             ")."]
    sections = [Section("values", "Does the converted model compute the same values?", tuple(lead), tuple(values))]
    positions = _positions_chart(src)
    if positions is not None:
        sections.append(Section("positions", "Where in the sequence does it disagree?", (), (positions,)))
    if doc.get("accuracy"):
        sections.append(Section("accuracy", "Does it still get the task right?", rich(
            "Converted ", src.fig("/accuracy/converted", "pct"), " against original ", src.fig("/accuracy/original", "pct"),
            "."), (_accuracy_table(src),)))
    explain = _explain_section(src)
    if explain is not None:
        sections.append(explain)
    notes = listed(src, "/notes")
    if notes:
        sections.append(Section("notes", "Notes", (), tuple(Para(n, "note") for n in notes)))
    t = doc["thresholds"]
    limits: list[Any] = []
    for _key, label, fmt, limit, rule in METRICS:
        if limit is not None and t.get(limit) is not None:
            limits += ([", "] if limits else []) + [label, " ", rule, " ", src.fig(f"/thresholds/{limit}", fmt)]
    synthetic = doc["input_source"] == "synthetic"
    provenance: list[tuple[str, Rich]] = [
        ("Converted model", rich(name(doc["model"]), " (", src.text("/quantization"), ")")),
        ("Reference", rich(src.text("/reference"))),
        ("Runtime", rich(src.text("/runtime"))),
        ("Inputs", rich(src.fig("/samples", "int"), " samples, ", src.text("/input_source"),
                        " (random: agreement only, nothing about accuracy)" if synthetic else "")),
        ("Thresholds", tuple(limits) or rich("none")),
        ("Figures", rich("MEASURED: both models ran on these samples; nothing on this page is estimated.")),
        producer_row(src, "Ran on"),
    ]
    warnings = listed(src, "/warnings")
    if synthetic:
        warnings.insert(0, rich("The inputs were random (no --data): this shows that the two models agree, not that "
                                "either is accurate."))
    return Page(
        kind="verify", subject=rich(name(basename(doc["model"]))), verdict=verdict, tone=tone, basis=MEASURED,
        basis_note=rich("Every figure is measured: the original (or the bundle's stored outputs) and the converted "
                        "model ran on the same ", src.fig("/samples", "int"), " samples, on ", src.text("/runtime"), "."),
        cards=_cards(src), provenance=tuple(provenance), sections=tuple(sections), warnings=tuple(warnings),
    )


__all__ = ["build"]
