"""The `edgekit size` report: what the model weighs, and what pruning would (and would not) buy.

For a .tflite every size is MEASURED on the file's bytes (the what-if rows on bytes pruned in
memory) and the RAM each device needs is ESTIMATED; for a float source model the file and its
zeros are measured and every .tflite size is ESTIMATED. Each chart and table says which.
"""

from __future__ import annotations

from typing import Any

from edgekit.htmlreport import charts
from edgekit.htmlreport.common import basename, name, producer_row
from edgekit.htmlreport.figures import Rich, Source, rich
from edgekit.htmlreport.page import ESTIMATED, MEASURED, Card, Chart, Page, Para, Section, table

TOP_TENSORS = 15
ROLE_COLORS = {"weights": charts.BLUE, "bias": charts.ORANGE, "constant": charts.GREY, "other": charts.GREY}


def _tflite(src: Source) -> bool:
    return src.doc.get("format") == "tflite"


def _rows(src: Source) -> list[dict[str, Any]]:
    return list(src.doc["what_if"]["rows"])


def _compressed(src: Source) -> str:
    """The pointer of the deflate-9 size of the model as it is."""
    return "/compressed/deflate9_bytes"


def _checked(src: Source) -> bool:
    return bool(src.doc.get("verify_on"))


def _worst(check: dict[str, Any]) -> int:
    """The output with the lowest cosine of a variant's check."""
    return min(range(len(check["outputs"])), key=lambda k: check["outputs"][k]["cosine"])


def _whatif_chart(src: Source) -> Chart:
    doc = src.doc
    rows = _rows(src)
    tflite = _tflite(src)
    checked = _checked(src)
    big = max([doc["file_bytes"], *[r["file_bytes"] for r in rows]]) >= 2**20
    unit, scale = ("MiB", 2.0**20) if big else ("KiB", 1024.0)
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 3.1)
        if checked:
            ax, vx = fig.subplots(1, 2, width_ratios=[1.35, 1])
        else:
            ax, vx = fig.subplots(), None
        xs = [100 * r["weights_sparsity"] for r in rows]
        if tflite:
            x0 = 100 * doc["sparsity"]["weights"]["sparsity"]
            xs_all = [x0, *xs]
            ax.plot(xs_all, [doc["file_bytes"] / scale] + [r["file_bytes"] / scale for r in rows], marker="s",
                    color=charts.GREY, label="file (dense storage: unchanged)")
            deflate = [doc["compressed"]["deflate9_bytes"]] + [r["deflate9_bytes"] for r in rows]
            ax.plot(xs_all, [v / scale for v in deflate], marker="o", color=charts.BLUE, label="deflate -9 (download)")
            zstd = [doc["compressed"].get("zstd_bytes")] + [r.get("zstd_bytes") for r in rows]
            if all(v is not None for v in zstd):
                ax.plot(xs_all, [v / scale for v in zstd], marker="^", color=charts.GREEN, label="zstd -19")
            labels = [src.fig(_compressed(src), "bytes")] + [src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes")
                                                             for j in range(len(rows))]
            points = list(zip(xs_all, deflate, labels, strict=True))
        else:
            # the int8 estimate of the model as it is (quantize_estimates), then the pruned rows
            k = _int8_estimate(src)
            base = [] if k is None else [(100 * doc["sparsity"]["weights"]["sparsity"],
                                          doc["quantize_estimates"]["modes"][k],
                                          f"/quantize_estimates/modes/{k}/deflate9_bytes")]
            pts = base + [(x, r, f"/what_if/rows/{j}/deflate9_bytes") for j, (x, r) in enumerate(zip(xs, rows,
                                                                                                    strict=True))]
            xs_all = [x for x, _, _ in pts]
            ax.plot(xs_all, [r["file_bytes"] / scale for _, r, _ in pts], marker="s", color=charts.GREY,
                    label="int8 .tflite file (estimated)")
            ax.plot(xs_all, [r["deflate9_bytes"] / scale for _, r, _ in pts], marker="o", color=charts.BLUE,
                    label="int8 deflate -9 (estimated)")
            points = [(x, r["deflate9_bytes"], src.fig(p, "bytes")) for x, r, p in pts]
        last = -100.0
        for x, v, label in points:
            if x - last < 9:  # too close to the previous label (every value is in the table below)
                continue
            ax.annotate(label.text, (x, v / scale), textcoords="offset points", xytext=(0, -14), ha="center",
                        fontsize=8.5, color=charts.BLUE)
            last = x
        ax.set_xlabel("zeros among the weights (%)")
        ax.set_ylabel(unit)
        ax.set_ylim(0, None)
        ax.set_xlim(-3, 100)
        ax.legend(loc="lower left", fontsize=8.5)
        ax.set_title("size")
        if vx is not None:
            checks = [doc["verify_on"]["as_is"], *[r.get("verify") for r in rows]]
            pts = [(x, c) for x, c in zip(xs_all, checks, strict=True) if c]
            cos = [c["outputs"][_worst(c)]["cosine"] for _, c in pts]
            vx.plot([x for x, _ in pts], cos, color=charts.INK, linewidth=1.2)
            for (x, c), v in zip(pts, cos, strict=True):
                vx.plot([x], [v], marker="o" if c["passed"] else "X", markersize=8, linestyle="none",
                        color=charts.GREEN if c["passed"] else charts.VERMILLION)
            limit = (doc["verify_on"].get("thresholds") or {}).get("min_cosine")
            if limit is not None:
                vx.axhline(limit, color=charts.VERMILLION, linestyle="--", linewidth=1.2)
                vx.text(100, limit, "verify's limit ", ha="right", va="bottom", fontsize=8.5, color=charts.VERMILLION)
            lines = charts.require_lines()
            vx.legend(handles=[lines.Line2D([0], [0], marker="o", color=charts.GREEN, linestyle="none", label="PASS"),
                               lines.Line2D([0], [0], marker="X", color=charts.VERMILLION, linestyle="none",
                                            label="FAIL")], loc="lower left", fontsize=8.5)
            vx.set_xlim(-3, 100)
            vx.set_xlabel("zeros among the weights (%)")
            vx.set_ylabel("cosine, worst output")
            vx.set_title("verify on the bundle")
        svg = charts.to_svg(fig, "size-what-if", "Size against the share of zero weights after magnitude pruning"
                            + (", and what verify says of each" if checked else ""))
    basis = MEASURED if tflite else ESTIMATED
    caption: list[Any] = ["The model as it is (left point" + ("" if tflite else ", as an int8 conversion") +
                          ") and pruned by magnitude to each target in memory, nothing written: ", src.text("/what_if/policy" if tflite else "/what_if/method"),
                          ". Pruning shrinks the compressed download; the file, the RAM and the latency stay those of "
                          "the dense model."]
    if checked:
        caption += [" Right: each variant verified on the golden data of ", src.text("/verify_on/bundle"),
                    " (PASS or FAIL by verify's thresholds)."]
    return Chart(svg, tuple(caption), basis)


def _int8_estimate(src: Source) -> int | None:
    modes = (src.doc.get("quantize_estimates") or {}).get("modes") or []
    return next((k for k, m in enumerate(modes) if m["mode"] == "int8" and m.get("deflate9_bytes") is not None), None)


def _check_cell(src: Source, pointer: str, check: dict[str, Any] | None) -> Rich:
    """'PASS · cosine 0.99871 · top-1 99.0%' of a variant's check (its worst output)."""
    if not check:
        return rich("–")
    k = _worst(check)
    parts: list[Any] = ["PASS" if check["passed"] else "FAIL", " · cosine ",
                        src.fig(f"{pointer}/outputs/{k}/cosine", "cos")]
    if check["outputs"][k].get("top1_agreement") is not None:
        parts += [" · top-1 ", src.fig(f"{pointer}/outputs/{k}/top1_agreement", "pct")]
    return tuple(parts)


def _whatif_table(src: Source) -> Any:
    doc = src.doc
    tflite = _tflite(src)
    rows: list[list[Rich]] = []
    n_dev = len(doc["fits"].get("devices") or []) if doc["fits"].get("available") else 0
    devices = src.fig("count(/fits/devices/*)", "int") if n_dev else None
    if tflite:
        # the fits are the same for every variant (pruning changes neither RAM nor the file size)
        now = _rows(src)[0].get("fits_devices") if _rows(src) else None
        rows.append([rich("as it is"), rich(src.fig("/sparsity/weights/sparsity", "pct")), rich(src.fig("/file_bytes", "bytes")),
                     rich(src.fig(_compressed(src), "bytes")), rich(src.fig("/compressed/zstd_bytes", "bytes")),
                     rich(src.fig("count(/what_if/rows/0/fits_devices/*)", "int"), " of ", devices)
                     if now is not None and devices else rich("–"),
                     *([_check_cell(src, "/verify_on/as_is", doc["verify_on"]["as_is"])] if _checked(src) else [])])
    for j, r in enumerate(_rows(src)):
        p = f"/what_if/rows/{j}"
        row = [rich(src.fig(f"{p}/target_sparsity", "pct")), rich(src.fig(f"{p}/weights_sparsity", "pct")),
               rich(src.fig(f"{p}/file_bytes", "bytes")), rich(src.fig(f"{p}/deflate9_bytes", "bytes"))]
        if tflite:
            fits = r.get("fits_devices")
            row += [rich(src.fig(f"{p}/zstd_bytes", "bytes")),
                    rich(src.fig(f"count({p}/fits_devices/*)", "int"), " of ", devices) if fits is not None and devices
                    else rich("–")]
            if _checked(src):
                row.append(_check_cell(src, f"{p}/verify", r.get("verify")))
        rows.append(row)
    if tflite:
        checked = _checked(src)
        return table(["pruned to", "zeros in the weights", "file", "deflate -9", "zstd -19", "devices it fits",
                      *(["verify on the bundle"] if checked else [])], rows, "lrrrrr" + ("l" if checked else ""),
                     caption=rich("Sizes measured on the pruned bytes (", src.text("/what_if/scope"), ")",
                                  *((", each variant verified on ", src.text("/verify_on/bundle")) if checked else ()),
                                  "."), basis=MEASURED)
    return table(["pruned to", "zeros in the weights", "int8 file", "int8 deflate -9"], rows, "lrrr",
                 caption=rich("Sizes of an int8 conversion, estimated (", src.text("/what_if/scope"), ")."),
                 basis=ESTIMATED)


def _tensor_chart(src: Source) -> Chart:
    tensors = sorted(enumerate(src.doc["tensors"]), key=lambda it: -_tensor_bytes(it[1]))[:TOP_TENSORS]
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 0.8 + 0.26 * len(tensors))
        ax = fig.subplots()
        ys = list(range(len(tensors)))[::-1]
        kib = 1024.0
        sizes = [_tensor_bytes(t) / kib for _, t in tensors]
        zeros = [_tensor_bytes(t) * t["sparsity"] / kib for _, t in tensors]
        ax.barh(ys, sizes, height=0.66, color=[ROLE_COLORS.get(t["role"], charts.GREY) for _, t in tensors])
        ax.barh(ys, zeros, height=0.66, color="white", alpha=0.55, hatch="////", edgecolor=charts.INK, linewidth=0)
        ax.set_yticks(ys, [_short(t["name"]) for _, t in tensors], fontsize=8.5)
        ax.set_xlabel("KiB (hatched: the share that is zeros)")
        ax.grid(axis="y", visible=False)
        patches = charts.require_patches()
        roles = sorted({t["role"] for _, t in tensors})
        ax.legend(handles=[patches.Patch(color=ROLE_COLORS.get(r, charts.GREY), label=r) for r in roles],
                  loc="lower right", fontsize=8.5)
        svg = charts.to_svg(fig, "size-tensors", "The largest tensors and their zeros")
    return Chart(svg, rich("The largest tensors by stored size; the hatched part is the share of zeros (",
                           src.text("/sparsity/zero_definition") if _tflite(src) else "exact zeros", ")."), MEASURED)


def _tensor_bytes(t: dict[str, Any]) -> int:
    return int(t.get("bytes", t.get("elements", 0) * 4))


def _short(text: str, width: int = 44) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _fits_table(src: Source) -> Any:
    fits = src.doc["fits"]
    rows: list[list[Rich]] = []
    for i, d in enumerate(fits["devices"]):
        p = f"/fits/devices/{i}"
        storage = d.get("storage_fits")
        rows.append([rich(name(d["device"])), rich(src.fig(f"{p}/ram_needed_bytes", "bytes")),
                     rich(src.fig(f"{p}/usable_ram_bytes", "bytes")), rich("yes" if d["ram_fits"] else "NO"),
                     rich("unknown" if storage is None else "yes" if storage else "NO")])
    return table(["device", "RAM needed", "usable RAM", "fits RAM", "fits storage"], rows, "lrrll",
                 caption=rich("RAM ", src.text("/fits/ram_method"), "; the same for every pruned variant."),
                 basis=ESTIMATED)


def _quantize_table(src: Source) -> Any:
    rows = []
    for j, _ in enumerate(src.doc["quantize_estimates"]["modes"]):
        p = f"/quantize_estimates/modes/{j}"
        rows.append([rich(src.text(f"{p}/mode")), rich(src.fig(f"{p}/file_bytes", "bytes")),
                     rich(src.fig(f"{p}/deflate9_bytes", "bytes")), rich(src.text(f"{p}/weights_as"))])
    return table(["convert --quantize", "file", "deflate -9", "weights stored as"], rows, "lrrl",
                 caption=rich("What each quantization mode would weigh: ", src.text("/quantize_estimates/method"), "."),
                 basis=ESTIMATED)


def _cards(src: Source) -> tuple[Card, ...]:
    rows = _rows(src)
    cards = [Card("file", src.fig("/file_bytes", "bytes"), rich(src.fig("/parameters", "int"), " parameters"), "",
                  MEASURED),
             Card("download (deflate -9)", src.fig(_compressed(src), "bytes"),
                  rich(src.fig(f"ratio({_compressed(src)}, /file_bytes)", "pct"), " of the file"), "", MEASURED),
             Card("zeros in the weights", src.fig("/sparsity/weights/sparsity", "pct"),
                  rich(src.fig("/sparsity/weights/zeros", "int"), " of ", src.fig("/sparsity/weights/elements", "int")),
                  "", MEASURED)]
    if rows and _tflite(src):
        j = len(rows) - 1
        passing = [k for k, r in enumerate(rows) if (r.get("verify") or {}).get("passed")]
        if _checked(src) and passing:
            j = max(passing, key=lambda k: rows[k]["target_sparsity"])
            label, tail, tone = "download, most pruned that passes verify", " zeros", "good"
        elif _checked(src):
            label, tail, tone = "download, pruned (largest what-if)", " zeros; fails verify", "bad"
        else:
            label, tail, tone = "download, pruned (largest what-if)", " zeros; accuracy not measured", "warn"
        cards.append(Card(label, src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes"),
                          rich(src.fig(f"ratio(/what_if/rows/{j}/deflate9_bytes, {_compressed(src)})", "pct"),
                               " of today's download at ", src.fig(f"/what_if/rows/{j}/target_sparsity", "pct"), tail),
                          tone, MEASURED))
    return tuple(cards)


def build(src: Source) -> Page:
    doc = src.doc
    tflite = _tflite(src)
    rows = _rows(src)
    verdict: list[Any] = [src.fig("/file_bytes", "bytes"), " on disk, ", src.fig(_compressed(src), "bytes"),
                          " to download (deflate -9)."]
    tone = ""
    if rows and _checked(src):
        passing = [j for j, r in enumerate(rows) if (r.get("verify") or {}).get("passed")]
        failing = [j for j, r in enumerate(rows) if r.get("verify") and not r["verify"]["passed"]]
        if passing:
            j = max(passing, key=lambda k: rows[k]["target_sparsity"])
            verdict += [" Pruned to ", src.fig(f"/what_if/rows/{j}/target_sparsity", "pct"), " it still passes verify, "
                        "with a download of ", src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes"), "."]
            tone = "good"
        if failing:
            j = min(failing, key=lambda k: rows[k]["target_sparsity"])
            verdict += [" From ", src.fig(f"/what_if/rows/{j}/target_sparsity", "pct"), " it fails verify (cosine ",
                        src.fig(f"/what_if/rows/{j}/verify/outputs/{_worst(rows[j]['verify'])}/cosine", "cos"), ")."]
            tone = "warn" if passing else "bad"
        verdict.append(" RAM and latency do not change.")
    elif rows:
        j = len(rows) - 1
        verdict += [" Pruned to ", src.fig(f"/what_if/rows/{j}/target_sparsity", "pct"), ", the download would be ",
                    src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes"),
                    "" if tflite else " as int8 (estimated)", "; RAM and latency would not change."]
    sections = []
    if rows:
        blocks: list[Any] = [_whatif_chart(src), _whatif_table(src), Para(rich(src.text("/what_if/ram_note")), "note")]
        if not _checked(src):
            blocks.append(Para(rich(
                "What each sparsity does to the outputs is not part of this result: one-shot pruning without "
                "fine-tuning costs accuracy. ", name("edgekit size MODEL.tflite --verify-on BUNDLE"),
                " verifies every variant on a bundle's golden data; ", name("edgekit convert --prune S"), " and ",
                name("edgekit verify"), " measure it on your test set."), "warn"))
        sections.append(Section("what-if", "What would pruning buy?", rich(
            "Zeros compress: the download shrinks as the weights get sparser. The file keeps every zero."),
            tuple(blocks)))
    if not tflite and doc.get("quantize_estimates", {}).get("modes"):
        sections.append(Section("quantize", "What would each quantization mode weigh?", (), (_quantize_table(src),)))
    if doc.get("tensors"):
        sections.append(Section("tensors", "Where are the bytes?", rich(
            src.fig("count(/tensors/*)", "int"), " tensors; ", src.fig("/sparsity/weights/sparsity", "pct"),
            " of the weights are zeros already."), (_tensor_chart(src),)))
    if doc["fits"].get("available"):
        sections.append(Section("fits", "Does it fit the devices?", (), (_fits_table(src),)))
    provenance: list[tuple[str, Rich]] = [
        ("Model", rich(name(doc["model"]), " (", src.text("/format"), ", ",
                       src.text("/quantization") if tflite else "float", ")")),
        ("Figures", rich("MEASURED on the file's bytes (sizes, zeros, the pruned variants); the RAM each device needs is "
                         "ESTIMATED by the profile estimator." if tflite else
                         "MEASURED: the file and its zeros. ESTIMATED: every size of a converted .tflite.")),
        ("Runtime", rich(src.text("/verify_on/runtime"), " (each variant verified on the bundle); the sizes are read "
                         "from the file") if _checked(src) and doc["verify_on"].get("runtime")
         else rich("none was run: sizes are read from the file")),
        producer_row(src, "Measured with"),
    ]
    if tflite and doc.get("zstd_note"):
        provenance.insert(2, ("zstd", rich(src.text("/zstd_note"))))
    return Page(
        kind="size", subject=rich(name(basename(doc["model"]))), verdict=tuple(verdict), tone=tone,
        basis=MEASURED if tflite else "mixed",
        basis_note=rich("Sizes and zeros are measured on the file's bytes; what a device needs in RAM is estimated."
                        if tflite else "The file and its zeros are measured; the sizes of a converted .tflite are "
                        "estimated (marked on each)."),
        cards=_cards(src), provenance=tuple(provenance), sections=tuple(sections),
    )


__all__ = ["build"]
