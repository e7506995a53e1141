"""The `edgekit tune` report: which quantization candidate is the best trade on this device?

Every accuracy figure is MEASURED (each candidate run on the held-out data and compared with the
original model, as verify does); every latency is the profile estimator's ESTIMATE for the device.
The Pareto plot puts each candidate at (estimated latency, its worst output's SQNR), sized by its
file, with verify's threshold, the float32 model and the latency budget drawn, and the chosen one marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgekit.htmlreport import charts
from edgekit.htmlreport.common import basename, listed, name, producer_row
from edgekit.htmlreport.figures import Rich, Source, rich
from edgekit.htmlreport.page import ESTIMATED, MEASURED, Card, Chart, Page, Para, Section, table


def _plotted(doc: Mapping[str, Any]) -> list[int]:
    """The candidates that have both an accuracy and an estimate (an engine failure has neither)."""
    out = []
    for i, c in enumerate(doc["candidates"]):
        sqnr = [m["sqnr_db"] for m in c.get("metrics") or [] if m.get("sqnr_db") is not None]
        if not c.get("error") and sqnr and c.get("estimated_latency_ms") is not None:
            out.append(i)
    return out


def _worst_sqnr(c: Mapping[str, Any]) -> float:
    return min(m["sqnr_db"] for m in c["metrics"] if m.get("sqnr_db") is not None)


def _pareto_chart(src: Source) -> Chart:
    doc = src.doc
    cands = doc["candidates"]
    shown = _plotted(doc)
    sizes = [cands[i]["size_bytes"] for i in shown] or [1]
    biggest = max(max(sizes), 1)
    limits = doc.get("thresholds") or {}
    f32_ms = (doc.get("float32") or {}).get("estimated_latency_ms")
    budget = doc.get("budget_ms")  # --budget-ms
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 3.6)
        ax = fig.subplots()
        groups = (("passes, for the device", charts.BLUE, "o"), ("fails a threshold", charts.VERMILLION, "X"),
                  ("passes, not for the device", charts.GREY, "s"))
        for label, color, marker in groups:
            pts = []
            for i in shown:
                c = cands[i]
                group = (groups[0] if c["passed"] and c["allowed_on_device"] else
                         groups[2] if c["passed"] else groups[1])
                if group[0] == label:
                    pts.append((c["estimated_latency_ms"], _worst_sqnr(c), 60 + 540 * c["size_bytes"] / biggest, i))
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=[p[2] for p in pts], c=color, marker=marker,
                           alpha=0.75, edgecolors="white", linewidths=0.8, label=label)
            for x, y, _s, i in pts:
                ax.annotate(f"#{cands[i]['index']}", (x, y), textcoords="offset points", xytext=(7, 5), fontsize=8.5,
                            color=charts.INK)
        chosen = [i for i in shown if cands[i]["chosen"]]
        for i in chosen:
            c = cands[i]
            ax.scatter([c["estimated_latency_ms"]], [_worst_sqnr(c)], s=420, facecolors="none",
                       edgecolors=charts.GREEN, linewidths=2.4, label="chosen")
        frontier = sorted((cands[i]["estimated_latency_ms"], _worst_sqnr(cands[i])) for i in shown
                          if cands[i]["pareto"])
        if len(frontier) > 1:
            ax.plot([p[0] for p in frontier], [p[1] for p in frontier], color=charts.BLUE, linewidth=1, linestyle=":",
                    label="Pareto front")
        if limits.get("min_sqnr_db") is not None:
            ax.axhline(limits["min_sqnr_db"], color=charts.VERMILLION, linestyle="--", linewidth=1.2)
            ax.annotate("verify's SQNR limit", (0.995, limits["min_sqnr_db"]), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize=8.5, color=charts.VERMILLION)
        if f32_ms is not None:
            ax.axvline(f32_ms, color=charts.GREY, linestyle="--", linewidth=1.2)
            ax.annotate("float32 ", (f32_ms, 0.97), xycoords=("data", "axes fraction"), ha="right", va="top",
                        fontsize=8.5, color=charts.GREY)
        if budget is not None:
            ax.axvline(budget, color=charts.ORANGE, linestyle="-.", linewidth=1.2)
            ax.annotate(" budget", (budget, 0.97), xycoords=("data", "axes fraction"), ha="left", va="top",
                        fontsize=8.5, color=charts.ORANGE)
        ys = [_worst_sqnr(cands[i]) for i in shown] + ([limits["min_sqnr_db"]] if limits.get("min_sqnr_db") else [])
        if ys:
            ax.set_ylim(min(ys) - 3, max(ys) + 3)  # the marks and the limit line inside the frame
        xs = [cands[i]["estimated_latency_ms"] for i in shown] + [v for v in (f32_ms, budget) if v is not None]
        if xs:
            ax.set_xlim(0, max(xs) * 1.08)
        ax.set_xlabel(f"estimated latency on {doc['device']} (ms)")
        ax.set_ylabel("SQNR of the worst output (dB)")
        ax.set_title("accuracy against latency (point area: file size)")
        ax.legend(loc="best", fontsize=8.5, markerscale=0.6)
        svg = charts.to_svg(fig, "tune-pareto", "Each candidate's accuracy on the held-out data against its "
                            "estimated latency, sized by its file")
    caption: list[Any] = ["Accuracy measured on ", src.text("/data"), " (held out; calibrated on ",
                          src.text("/calibration"), "); latency estimated by the profile of ", name(doc["device"]),
                          ". Each point is labelled with its candidate number in the table below."]
    if len(shown) < len(cands):
        caption.append(" Candidates the engine could not make are listed in the table only.")
    return Chart(svg, tuple(caption), "mixed")


def _metric_fig(src: Source, i: int, key: str, fmt: str, reduce: str = "min") -> Rich:
    values = [m.get(key) for m in src.doc["candidates"][i].get("metrics") or []]
    if not any(v is not None for v in values):
        return rich("–")
    return rich(src.fig(f"{reduce}(/candidates/{i}/metrics/*/{key})", fmt))


def _result(c: Mapping[str, Any]) -> str:
    if c.get("error"):
        return "engine failed"
    if not c["passed"]:
        return "FAIL " + ", ".join(c.get("decided_by") or [])
    return "PASS" if c["allowed_on_device"] else "PASS, not for the device"


def _candidates_table(src: Source) -> Any:
    doc = src.doc
    rows: list[list[Rich]] = []
    f32 = doc["float32"]
    f32_check = f32.get("check") or {}
    f32_rows = f32_check.get("outputs") or []
    rows.append([rich("–"), rich("float32 .tflite (no quantization)"), rich("reference"),
                 rich(src.fig("min(/float32/check/outputs/*/sqnr_db)", "db")) if f32_rows else rich("–"),
                 rich(src.fig("min(/float32/check/outputs/*/cosine)", "cos")) if f32_rows else rich("–"),
                 rich(src.fig("/float32/estimated_latency_ms", "ms")), rich("0"), rich("all"),
                 rich(src.fig("/float32/size_bytes", "bytes"))])
    highlight = []
    for i, c in enumerate(doc["candidates"]):
        p = f"/candidates/{i}"
        mark = " (chosen)" if c["chosen"] else " ·Pareto" if c["pareto"] else ""
        rows.append([rich(src.fig(f"{p}/index", "int")), rich(src.text(f"{p}/label"), mark), rich(_result(c)),
                     _metric_fig(src, i, "sqnr_db", "db"), _metric_fig(src, i, "cosine", "cos"),
                     rich(src.fig(f"{p}/estimated_latency_ms", "ms")),
                     rich(src.fig(f"{p}/quantize_dequantize_ops", "int")), rich(src.fig(f"{p}/float_ops", "int")),
                     rich(src.fig(f"{p}/size_bytes", "bytes")) if c.get("size_bytes") else rich("–")])
        if c["chosen"]:
            highlight.append(i + 1)
    return table(["#", "candidate", "result", "SQNR, worst output", "cosine, worst output", "est. latency",
                  "Q/DQ ops", "float ops", "size"], rows, "lllrrrrrr",
                 caption=rich("Accuracy MEASURED on the held-out data (worst output); latency ESTIMATED for ",
                              name(doc["device"]), ", counting the QUANTIZE/DEQUANTIZE pairs and the delegate "
                              "partitions a float or int16 island adds (Q/DQ: QUANTIZE and DEQUANTIZE ops inside the graph)."),
                 basis="mixed", highlight=tuple(highlight))


def _cards(src: Source) -> tuple[Card, ...]:
    doc = src.doc
    chosen = doc.get("chosen")
    cards = [Card("candidates tried", src.fig("/candidates_tried", "int"),
                  rich("in ", src.fig("/seconds", "s"), " (at most ", src.fig("/max_candidates", "int"), ")"), "",
                  MEASURED)]
    k = next((i for i, c in enumerate(doc["candidates"]) if c["chosen"]), None)
    if chosen and k is not None:
        p = f"/candidates/{k}"
        cards += [
            Card(rich("estimated latency on ", name(doc["device"])), src.fig(f"{p}/estimated_latency_ms", "ms"),
                 rich(src.fig(f"ratio({p}/estimated_latency_ms, /float32/estimated_latency_ms)", "x"),
                      " the float32 model's ", src.fig("/float32/estimated_latency_ms", "ms")), "good", ESTIMATED),
            Card("SQNR, worst output", src.fig(f"min({p}/metrics/*/sqnr_db)", "db"),
                 rich("cosine ", src.fig(f"min({p}/metrics/*/cosine)", "cos")), "good", MEASURED),
            Card("file", src.fig(f"{p}/size_bytes", "bytes"),
                 rich(src.fig(f"ratio({p}/size_bytes, /float32/size_bytes)", "pct"), " of float32"), "", MEASURED),
        ]
    else:
        cards.append(Card("result", "no candidate passes", rich(src.text("/why")), "bad", MEASURED))
    return tuple(cards)


def _ranges(src: Source) -> list[Any]:
    ranges = src.doc.get("ranges")
    if not ranges or not ranges.get("mismatched"):
        return []
    return [Para(rich("The activation ranges on the held-out data differ from those on the calibration data (",
                      src.fig("/ranges/wider", "int"), " tensors wider, ", src.fig("/ranges/narrower", "int"),
                      " narrower, of ", src.fig("/ranges/tensors", "int"),
                      "): the calibration data may not look like the real inputs."), "warn")]


def build(src: Source) -> Page:
    doc = src.doc
    chosen = doc.get("chosen")
    if chosen:
        verdict: list[Any] = ["Chosen: #", src.fig("/chosen/index", "int"), " ", src.text("/chosen/label"), ": it ",
                              src.text("/why"), "."]
        tone = "good"
    else:
        verdict = ["No candidate passes: ", src.text("/why"), "."]
        tone = "bad"
    sections = [Section("pareto", "Which candidate is the best trade?", rich(
        "Up and to the left is better: accurate and fast. Only candidates above verify's limit that the device "
        "can run are chosen."), (_pareto_chart(src), _candidates_table(src), *_ranges(src)))]
    if chosen and doc.get("recipe_file"):
        sections.append(Section("replay", "How do I make this model again?", rich(
            "The recipe next to the model replays the choice: ", name(f"edgekit convert {doc['model']} --recipe "
                                                                      f"{doc['recipe_file']} -o OUT.tflite")), ()))
    provenance: list[tuple[str, Rich]] = [
        ("Model", rich(name(doc["model"]))),
        ("Device", rich(name(doc["device"]), " (the profile estimator; no board was used)")),
        ("Data", rich("calibration ", src.text("/calibration"), "; judged on ", src.text("/data"))),
        ("Figures", rich("MEASURED: accuracy of every candidate on the held-out data, file sizes, the search time. "
                         "ESTIMATED: every latency (", src.text("/estimated"), ").")),
        producer_row(src, "Made with"),
    ]
    return Page(
        kind="tune", subject=rich(name(basename(doc["model"]))), verdict=tuple(verdict), tone=tone, basis="mixed",
        basis_note=rich("Accuracy is measured on your held-out data; latency is the estimate for the device."),
        cards=_cards(src), provenance=tuple(provenance), sections=tuple(sections),
        warnings=tuple(listed(src, "/warnings")),
    )


__all__ = ["build"]
