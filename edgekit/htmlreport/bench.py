"""The `edgekit bench` report: how fast on this machine, how stable, how it scales with threads, how much memory.

Every figure on it is MEASURED (wall clock around each inference, the kernel's RSS counters). The
charts draw every timed run (``samples_ms``) and every warm-up run (``warmup_ms``) of the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgekit.htmlreport import charts
from edgekit.htmlreport.common import basename, listed, name, producer_row
from edgekit.htmlreport.figures import Rich, Source, rich
from edgekit.htmlreport.page import MEASURED, Card, Chart, Page, Section, table

SPREAD_WARN = 1.5  # p90 / median above this: the latency is not one number


def _res(i: int) -> str:
    return f"/results/{i}"


def _threads(r: dict[str, Any]) -> str:
    return "default threads" if r["threads"] is None else f"{r['threads']} thread" + ("" if r["threads"] == 1 else "s")


def _threads_fig(src: Source, i: int) -> Rich:
    """'2 thread(s)' with the count from the JSON, or 'default threads'."""
    if src.doc["results"][i]["threads"] is None:
        return ("default threads",)
    return (src.fig(f"{_res(i)}/threads", "int"), " thread" if src.doc["results"][i]["threads"] == 1 else " threads")


def _best(doc: Mapping[str, Any]) -> int:
    return min(range(len(doc["results"])), key=lambda i: doc["results"][i]["latency_ms"]["median"])


def _spread(src: Source, i: int) -> Any:
    return src.fig(f"ratio({_res(i)}/latency_ms/p90, {_res(i)}/latency_ms/median)", "x")


def _verdict(src: Source) -> tuple[Rich, str]:
    doc = src.doc
    b = _best(doc)
    parts: list[Any] = ["Median ", src.fig(f"{_res(b)}/latency_ms/median", "ms"), " per inference"]
    if len(doc["results"]) > 1:
        parts += [" at its best (", *_threads_fig(src, b), ")"]
    parts += ["; p90 ", src.fig(f"{_res(b)}/latency_ms/p90", "ms"), ", throughput ",
              src.fig(f"{_res(b)}/throughput_per_s", "per_s"), "; peak memory ",
              src.fig(f"{_res(b)}/model_peak_rss_bytes", "bytes"), "."]
    spread = _spread(src, b)
    tone = "good"
    if spread.value is not None and spread.value > SPREAD_WARN:
        parts += [" Unstable: p90 is ", spread, " the median."]
        tone = "warn"
    if doc.get("warnings"):
        tone = "warn"
    return tuple(parts), tone


def _cards(src: Source) -> tuple[Card, ...]:
    cards = []
    for i in range(len(src.doc["results"])):
        spread = _spread(src, i)
        unstable = spread.value is not None and spread.value > SPREAD_WARN
        cards.append(Card(rich("median, ", *_threads_fig(src, i)), src.fig(f"{_res(i)}/latency_ms/median", "ms"), rich(
            "p90 ", src.fig(f"{_res(i)}/latency_ms/p90", "ms"), " (", spread, " the median), ",
            src.fig(f"{_res(i)}/throughput_per_s", "per_s"), "; peak RSS ",
            src.fig(f"{_res(i)}/model_peak_rss_bytes", "bytes")), "warn" if unstable else "good", MEASURED))
    return tuple(cards)


def _series_chart(src: Source) -> Chart:
    results = src.doc["results"]
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 3.2)
        ax = fig.subplots()
        firsts, medians = [], []
        warm_end = 0
        for k, r in enumerate(results):
            color = charts.PALETTE[k % len(charts.PALETTE)]
            warm = r.get("warmup_ms") or []
            timed = r.get("samples_ms") or []
            start = 1 + len(warm)
            warm_end = max(warm_end, start)
            ax.plot([0], [r["first_inference_ms"]], marker="D", color=color, markersize=6, linestyle="none")
            if warm:
                ax.plot(range(1, start), warm, color=color, linewidth=0.8, alpha=0.6, marker="o", markersize=3.5)
            ax.plot(range(start, start + len(timed)), timed, color=color, linewidth=0.6, alpha=0.35)
            ax.plot(range(start, start + len(timed)), timed, color=color, linestyle="none", marker="o",
                    markersize=3.2 if len(timed) <= 300 else 1.8, label=_threads(r))
            ax.axhline(r["latency_ms"]["median"], color=color, linewidth=0.9, linestyle="--", alpha=0.8)
            firsts.append(r["first_inference_ms"])
            medians.append(r["latency_ms"]["median"])
        ax.axvspan(-0.5, warm_end - 0.5, color="#eeeeee", zorder=0)
        top = ax.get_ylim()[1]
        ax.text(0, top, " first + warm-up (not in the statistics)", fontsize=8.5, color=charts.GREY, va="top")
        highest = max([*firsts, *[max(r.get("samples_ms") or [0.0]) for r in results]])
        if highest > 8 * min(medians):
            ax.set_yscale("log")
            charts.plain_log(ax.yaxis)
            ax.set_ylabel("ms per inference (log scale)")
        else:
            ax.set_ylabel("ms per inference")
        ax.set_xlabel("inference, in the order run (0 = the first one after loading)")
        ax.set_xlim(-0.5, None)
        ax.legend(loc="upper right", fontsize=8.5, ncol=min(4, len(results)))
        svg = charts.to_svg(fig, "bench-series", "Every inference in the order it ran, warm-up included")
    return Chart(svg, rich("Every inference in the order it ran: the first one after loading (diamond), the warm-up "
                           "runs (grey band) and every timed run; dashed: the median of the timed runs."), MEASURED)


def _histogram_chart(src: Source) -> Chart:
    results = src.doc["results"]
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 2.9)
        ax = fig.subplots()
        every = [v for r in results for v in r.get("samples_ms") or []]
        bins = min(60, max(10, len(every) // 4))
        lo, hi = min(every), max(every)
        wide = lo > 0 and hi > 4 * lo  # outliers far from the bulk: log-spaced bins keep both readable
        edges = np.geomspace(lo, hi * 1.0001, bins + 1) if wide else np.histogram_bin_edges(every, bins=bins)
        for k, r in enumerate(results):
            color = charts.PALETTE[k % len(charts.PALETTE)]
            counts, _ = np.histogram(r.get("samples_ms") or [], bins=edges)
            ax.stairs(counts, edges, color=color, linewidth=1.6, label=_threads(r), fill=len(results) == 1, alpha=0.85)
            ax.axvline(r["latency_ms"]["median"], color=color, linestyle="--", linewidth=1)
            ax.axvline(r["latency_ms"]["p90"], color=color, linestyle=":", linewidth=1)
        if wide:
            ax.set_xscale("log")
            charts.plain_log(ax.xaxis)
        ax.set_xlabel("ms per inference (timed runs)" + (", log scale" if wide else ""))
        ax.set_ylabel("runs")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper right", fontsize=8.5)
        svg = charts.to_svg(fig, "bench-histogram", "Histogram of the timed inferences")
    return Chart(svg, rich("How the timed runs spread: one peak is a stable latency, two peaks a bimodal one; "
                           "dashed: median, dotted: p90."), MEASURED)


def _sweep_chart(src: Source) -> Chart:
    order = sorted((i for i, r in enumerate(src.doc["results"]) if r["threads"] is not None),
                   key=lambda i: src.doc["results"][i]["threads"])
    results = [src.doc["results"][i] for i in order]
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 2.9)
        ax = fig.subplots()
        xs = [r["threads"] for r in results]
        med = [r["latency_ms"]["median"] for r in results]
        ax.fill_between(xs, [r["latency_ms"]["min"] for r in results], [r["latency_ms"]["p90"] for r in results],
                        color=charts.SKY, alpha=0.35, label="min – p90", linewidth=0)
        ax.plot(xs, med, marker="o", color=charts.BLUE, label="median")
        ideal = [med[0] * xs[0] / x for x in xs]
        ax.plot(xs, ideal, linestyle="--", color=charts.GREY, linewidth=1.2, label="perfect scaling")
        for x, m, i in zip(xs, med, order, strict=True):
            ax.annotate(src.fig(f"{_res(i)}/latency_ms/median", "ms").text, (x, m), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=8.5)
        ax.set_xticks(xs)
        ax.set_xlabel("threads")
        ax.set_ylabel("ms per inference")
        ax.set_ylim(0, None)
        ax.legend(loc="upper right", fontsize=8.5)
        svg = charts.to_svg(fig, "bench-threads", "Median latency against the thread count")
    return Chart(svg, rich("Median latency per thread count (each in a fresh process), the band from the fastest "
                           "run to p90, and what perfect scaling from the fewest threads would give."), MEASURED)


def _memory_chart(src: Source) -> Chart:
    results = src.doc["results"]
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 1.1 + 0.5 * len(results))
        ax = fig.subplots()
        mib = 1024.0 * 1024.0
        ys = list(range(len(results)))[::-1]
        loaded = [max(0, (r["rss_end_bytes"] - r["rss_growth_bytes"]) - r["baseline_rss_bytes"]) / mib for r in results]
        peak = [r["model_peak_rss_bytes"] / mib for r in results]
        ax.barh(ys, peak, height=0.6, color=charts.SKY, label="peak while running")
        ax.barh(ys, loaded, height=0.6, color=charts.BLUE, label="after loading")
        for y, i in zip(ys, range(len(results)), strict=True):
            text = src.fig(f"{_res(i)}/model_peak_rss_bytes", "bytes").text
            ax.text(peak[i], y, f" {text}", va="center", ha="left", fontsize=9, fontweight="bold")
        ax.set_yticks(ys, [_threads(r) for r in results])
        ax.set_xlim(0, max(peak) * 1.25 or 1)
        ax.set_xlabel("resident memory added by the model (MiB)")
        ax.grid(axis="y", visible=False)
        fig.legend(loc="outside lower center", fontsize=8.5, ncol=2)
        svg = charts.to_svg(fig, "bench-memory", "Resident memory added by the model, per thread count")
    return Chart(svg, rich("Resident memory the model adds to the process: once loaded, and at its peak while running "
                           "(from before the runtime loads the model to the end of the last inference)."), MEASURED)


TABLE_ROWS = (  # (label, JSON path under a result, format)
    ("load and init", "init_ms", "ms"),
    ("first inference", "first_inference_ms", "ms"),
    ("median", "latency_ms/median", "ms"),
    ("mean", "latency_ms/mean", "ms"),
    ("p90", "latency_ms/p90", "ms"),
    ("fastest", "latency_ms/min", "ms"),
    ("slowest", "latency_ms/max", "ms"),
    ("standard deviation", "latency_ms/std", "ms"),
    ("throughput", "throughput_per_s", "per_s"),
    ("CPU time per inference (median)", "cpu_ms/median", "ms"),
    ("peak RSS added by the model", "model_peak_rss_bytes", "bytes"),
    ("RSS growth over the timed runs", "rss_growth_bytes", "bytes"),
    ("delegate partitions", "delegate_partitions", "int"),
    ("ops", "ops_total", "int"),
)


def _table(src: Source) -> Any:
    results = src.doc["results"]
    rows: list[list[Rich]] = []
    for label, key, fmt in TABLE_ROWS:
        if key.startswith("cpu_ms/") and not any(r.get("cpu_ms") for r in results):
            continue
        rows.append([rich(label), *[rich(src.fig(f"{_res(i)}/{key}", fmt)) if (r.get("cpu_ms") or
                                    not key.startswith("cpu_ms/")) else rich("–") for i, r in enumerate(results)]])
    headers = ["default threads" if r["threads"] is None else _threads(r) for r in results]
    return table(["", *headers], rows, "l" + "r" * len(results),
                 caption=rich("Every figure, per thread count (the latencies are of the timed runs after the "
                              "warm-up)."), basis=MEASURED, highlight=(2,))


def build(src: Source) -> Page:
    doc = src.doc
    if not doc["results"]:
        raise ValueError("a bench result with no run")
    verdict, tone = _verdict(src)
    stable = [_series_chart(src), _histogram_chart(src)]
    b = _best(doc)
    lead = rich("Timed runs: ", src.fig(f"{_res(0)}/runs", "int"), " per thread count after ",
                src.fig(f"{_res(0)}/warmup", "int"), " warm-up runs; at ", *_threads_fig(src, b), " the spread "
                "p90 / median is ", _spread(src, b), " and the standard deviation ",
                src.fig(f"{_res(b)}/latency_ms/std", "ms"), ".")
    sections = [Section("stability", "Is the latency stable?", lead, tuple(stable))]
    swept = [r for r in doc["results"] if r["threads"] is not None]
    if len(swept) >= 2:
        sections.append(Section("threads", "How does it scale with threads?", rich(
            "Fastest at ", *_threads_fig(src, b), ": ", src.fig(f"{_res(b)}/latency_ms/median", "ms"), "."),
            (_sweep_chart(src),)))
    sections.append(Section("memory", "How much memory does it take?", rich(
        "Peak resident memory added by the model: ", src.fig(f"{_res(b)}/model_peak_rss_bytes", "bytes"), " at ",
        *_threads_fig(src, b), "; the model file is ", src.fig("/model_size_bytes", "bytes"), "."),
        (_memory_chart(src),)))
    sections.append(Section("figures", "All the figures", (), (_table(src),)))
    m = doc["machine"]
    provenance: list[tuple[str, Rich]] = [
        ("Model", rich(name(doc["model"]), " (", src.text("/quant_kind"), ", ", src.fig("/model_size_bytes", "bytes"), ")")),
        ("Runtime", rich(src.text("/runtime/name"), " ", src.text("/runtime/version"), " (", name(doc["runtime"]["module"]),
                         "), XNNPACK ", "on" if doc["xnnpack"] else "off")),
        ("Machine", rich(src.text("/machine/machine"), " · ", src.text("/machine/platform"),
                         *((" · ", src.text("/machine/processor")) if m.get("processor") else ()))),
        ("Inputs", rich(src.text("/inputs"))),
        ("Method", rich("each thread count in a fresh process: load, one first inference, ", src.fig(f"{_res(0)}/warmup", "int"),
                        " warm-up runs",
                        *((" and more until ", src.fig(f"{_res(0)}/warmup_s", "s"), " had passed")
                          if doc["results"][0].get("warmup_s") else ()),
                        ", ", src.fig(f"{_res(0)}/runs", "int"), " timed runs; peak RSS from ",
                        src.text(f"{_res(0)}/peak_rss_source"))),
        ("Figures", rich("MEASURED on this machine; nothing on this page is estimated.")),
        producer_row(src, "Measured with"),
    ]
    return Page(
        kind="bench", subject=rich(name(basename(doc["model"]))), verdict=verdict, tone=tone, basis=MEASURED,
        basis_note=rich("Every figure is measured on ", src.text("/machine/machine"), " with ", src.text("/runtime/name"),
                        " ", src.text("/runtime/version"), "."),
        cards=_cards(src), provenance=tuple(provenance), sections=tuple(sections), warnings=tuple(listed(src, "/warnings")),
    )


__all__ = ["build"]
