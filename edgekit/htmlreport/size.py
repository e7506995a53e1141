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


def _whatif_chart(src: Source) -> Chart:
    doc = src.doc
    rows = _rows(src)
    tflite = _tflite(src)
    kib = 1024.0
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 3.1)
        ax = fig.subplots()
        xs = [100 * r["weights_sparsity"] for r in rows]
        if tflite:
            x0 = 100 * doc["sparsity"]["weights"]["sparsity"]
            ax.plot([x0, *xs], [doc["file_bytes"] / kib] + [r["file_bytes"] / kib for r in rows], marker="s",
                    color=charts.GREY, label="file (dense storage: unchanged)")
            deflate = [doc["compressed"]["deflate9_bytes"]] + [r["deflate9_bytes"] for r in rows]
            ax.plot([x0, *xs], [v / kib for v in deflate], marker="o", color=charts.BLUE, label="deflate -9 (download)")
            zstd = [doc["compressed"].get("zstd_bytes")] + [r.get("zstd_bytes") for r in rows]
            if all(v is not None for v in zstd):
                ax.plot([x0, *xs], [v / kib for v in zstd], marker="^", color=charts.GREEN, label="zstd -19")
            labels = [src.fig(_compressed(src), "bytes")] + [src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes")
                                                             for j in range(len(rows))]
            points = list(zip([x0, *xs], deflate, labels, strict=True))
        else:
            ax.plot(xs, [r["file_bytes"] / kib for r in rows], marker="s", color=charts.GREY,
                    label="int8 .tflite file (estimated)")
            ax.plot(xs, [r["deflate9_bytes"] / kib for r in rows], marker="o", color=charts.BLUE,
                    label="int8 deflate -9 (estimated)")
            points = [(x, r["deflate9_bytes"], src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes"))
                      for j, (x, r) in enumerate(zip(xs, rows, strict=True))]
        for x, v, label in points:
            ax.annotate(label.text, (x, v / kib), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8.5,
                        color=charts.BLUE)
        ax.set_xlabel("zeros among the weights (%)")
        ax.set_ylabel("KiB")
        ax.set_ylim(0, None)
        ax.set_xlim(-3, 100)
        ax.legend(loc="lower left", fontsize=8.5)
        svg = charts.to_svg(fig, "size-what-if", "Size against the share of zero weights after magnitude pruning")
    basis = MEASURED if tflite else ESTIMATED
    caption = rich("The model as it is (left point) and pruned by magnitude to each target in memory, nothing written: ",
                   src.text("/what_if/policy" if tflite else "/what_if/method"), ". Pruning shrinks the compressed "
                   "download; the file, the RAM and the latency stay those of the dense model.")
    return Chart(svg, caption, basis)


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
                     if now is not None and devices else rich("–")])
    for j, r in enumerate(_rows(src)):
        p = f"/what_if/rows/{j}"
        row = [rich(src.fig(f"{p}/target_sparsity", "pct")), rich(src.fig(f"{p}/weights_sparsity", "pct")),
               rich(src.fig(f"{p}/file_bytes", "bytes")), rich(src.fig(f"{p}/deflate9_bytes", "bytes"))]
        if tflite:
            fits = r.get("fits_devices")
            row += [rich(src.fig(f"{p}/zstd_bytes", "bytes")),
                    rich(src.fig(f"count({p}/fits_devices/*)", "int"), " of ", devices) if fits is not None and devices
                    else rich("–")]
        rows.append(row)
    if tflite:
        return table(["pruned to", "zeros in the weights", "file", "deflate -9", "zstd -19", "devices it fits"], rows,
                     "lrrrrr", caption=rich("Sizes measured on the pruned bytes (", src.text("/what_if/scope"), ")."),
                     basis=MEASURED)
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
                           src.text("/sparsity/zero_definition") if _tflite(src) else "exact 0.0", ")."), MEASURED)


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
        cards.append(Card("download, pruned (largest what-if)",
                          src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes"),
                          rich(src.fig(f"ratio(/what_if/rows/{j}/deflate9_bytes, {_compressed(src)})", "pct"),
                               " of today's download at ", src.fig(f"/what_if/rows/{j}/target_sparsity", "pct"),
                               " zeros; accuracy not measured"), "warn", MEASURED))
    return tuple(cards)


def build(src: Source) -> Page:
    doc = src.doc
    tflite = _tflite(src)
    rows = _rows(src)
    verdict: list[Any] = [src.fig("/file_bytes", "bytes"), " on disk, ", src.fig(_compressed(src), "bytes"),
                          " to download (deflate -9)."]
    if rows:
        j = len(rows) - 1
        verdict += [" Pruned to ", src.fig(f"/what_if/rows/{j}/target_sparsity", "pct"), ", the download would be ",
                    src.fig(f"/what_if/rows/{j}/deflate9_bytes", "bytes"),
                    "" if tflite else " as int8 (estimated)", "; RAM and latency would not change."]
    sections = []
    if rows:
        blocks: list[Any] = [_whatif_chart(src), _whatif_table(src),
                             Para(rich(src.text("/what_if/ram_note")), "note"),
                             Para(rich("Accuracy at each sparsity is not part of this result: one-shot pruning without "
                                       "fine-tuning costs accuracy. Measure it with ", name("edgekit convert --prune S"),
                                       " and ", name("edgekit verify"), "."), "warn")]
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
        ("Runtime", rich("none was run: sizes are read from the file")),
        producer_row(src, "Measured with"),
    ]
    if tflite and doc.get("zstd_note"):
        provenance.insert(2, ("zstd", rich(src.text("/zstd_note"))))
    return Page(
        kind="size", subject=rich(name(basename(doc["model"]))), verdict=tuple(verdict), tone="",
        basis=MEASURED if tflite else "mixed",
        basis_note=rich("Sizes and zeros are measured on the file's bytes; what a device needs in RAM is estimated."
                        if tflite else "The file and its zeros are measured; the sizes of a converted .tflite are "
                        "estimated (marked on each)."),
        cards=_cards(src), provenance=tuple(provenance), sections=tuple(sections),
    )


__all__ = ["build"]
