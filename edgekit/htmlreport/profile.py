"""The `edgekit profile` report: where the milliseconds go, what runs where, and whether it fits.

Every figure on it is an ESTIMATE from the device profiles (nothing is run): the page says so
at the top, on every chart and table, and names the profiles and what they were fitted on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgekit.htmlreport import charts
from edgekit.htmlreport.common import basename, listed, name, producer_row
from edgekit.htmlreport.figures import Fig, Rich, Source, rich
from edgekit.htmlreport.page import ESTIMATED, Card, Chart, Grid, Page, Para, Section, table

CLASS_COLORS: dict[str, str] = {
    "conv": charts.BLUE, "depthwise_conv": charts.SKY, "fully_connected": charts.ORANGE,
    "transpose_conv": "#1b4f72", "batch_matmul": "#b35806", "pool": charts.GREEN, "elementwise": charts.YELLOW,
    "softmax": charts.PURPLE, "resize": "#8c564b", "reduce": charts.VERMILLION, "data_movement": charts.GREY,
    "other": "#bdbdbd",
}
PLACES: dict[str, tuple[str, str]] = {  # runs_on -> (label, colour)
    "cpu:xnnpack": ("CPU, XNNPACK delegate", charts.BLUE),
    "cpu:builtin": ("CPU, builtin kernels", charts.ORANGE),
    "edgetpu": ("Edge TPU", charts.GREEN),
    "gpu": ("GPU delegate", charts.PURPLE),
}
MEMORY_PARTS = (  # (JSON key, label, colour); runtime = runtime_overhead - indirection
    ("weights_bytes", "weights", charts.BLUE),
    ("repacked_weights_bytes", "XNNPACK repacked weights", charts.SKY),
    ("arena_bytes", "activation arena", charts.ORANGE),
    ("persistent_bytes", "persistent tensors", charts.YELLOW),
    ("indirection_bytes", "XNNPACK indirection buffers", charts.PURPLE),
    ("runtime", "runtime (fixed)", charts.GREY),
)
TOP_OPS = 10
FALLBACK_POSITIONS = 8  # op positions listed per row of the fallback table
SHORT_PLACES = {"cpu:xnnpack": "XNNPACK", "cpu:builtin": "builtin", "edgetpu": "Edge TPU", "gpu": "GPU"}


def _dev(i: int) -> str:
    return f"/devices/{i}"


def _classes(doc: Mapping[str, Any]) -> list[str]:
    """Op classes in the order of their total time over all devices (largest first)."""
    totals: dict[str, float] = {}
    for d in doc["devices"]:
        for o in d["ops"]:
            totals[o["op_class"]] = totals.get(o["op_class"], 0.0) + o["latency_ms"]
    return sorted(totals, key=lambda c: -totals[c])


def _class_ms(src: Source, i: int, op_class: str) -> Fig:
    return src.fig(f"sum({_dev(i)}/ops/*[op_class={op_class}]/latency_ms)", "ms")


def _link(src: Source, i: int) -> Fig | None:
    return src.fig(f"{_dev(i)}/edgetpu/link_ms", "ms") if src.doc["devices"][i].get("edgetpu") else None


def _overhead(src: Source, i: int) -> Fig:
    """Invoke, partition hand-over (and the Edge TPU's link): the total minus the ops and the link."""
    ops = f"sum({_dev(i)}/ops/*/latency_ms)"
    if src.doc["devices"][i].get("edgetpu"):
        return src.fig(f"diff(diff({_dev(i)}/latency_ms, {ops}), {_dev(i)}/edgetpu/link_ms)", "ms")
    return src.fig(f"diff({_dev(i)}/latency_ms, {ops})", "ms")


def _time_chart(src: Source, classes: Sequence[str]) -> Chart:
    devices = src.doc["devices"]
    n = len(devices)
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 1.3 + 0.62 * n)
        ax = fig.subplots()
        ys = list(range(n))[::-1]
        left = [0.0] * n
        for c in classes:
            widths = [max(0.0, _class_ms(src, i, c).value or 0.0) for i in range(n)]
            if any(widths):
                ax.barh(ys, widths, left=left, height=0.62, color=CLASS_COLORS.get(c, charts.GREY), label=c,
                        edgecolor="white", linewidth=0.6)
                left = [a + b for a, b in zip(left, widths, strict=True)]
        links = [(_link(src, i).value if _link(src, i) else 0.0) or 0.0 for i in range(n)]  # type: ignore[union-attr]
        if any(links):
            ax.barh(ys, links, left=left, height=0.62, color="#333333", label="Edge TPU link (USB/PCIe)",
                    edgecolor="white", linewidth=0.6)
            left = [a + b for a, b in zip(left, links, strict=True)]
        over = [max(0.0, _overhead(src, i).value or 0.0) for i in range(n)]
        ax.barh(ys, over, left=left, height=0.62, color="white", edgecolor="#555555", hatch="///", linewidth=0.6,
                label="invoke & hand-over overhead")
        totals = [src.fig(f"{_dev(i)}/latency_ms", "ms") for i in range(n)]
        right = max(t.value for t in totals) or 1.0
        for y, t in zip(ys, totals, strict=True):
            ax.text(t.value + right * 0.012, y, t.text, va="center", ha="left", fontsize=10, fontweight="bold")
        ax.set_yticks(ys, [d["device"] for d in devices])
        ax.set_xlim(0, right * 1.18)
        ax.set_xlabel("estimated latency per inference (ms)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28 if n < 3 else -0.18), ncol=4, fontsize=9)
        svg = charts.to_svg(fig, "profile-time", "Estimated latency per device, stacked by op class")
    return Chart(svg, rich("Estimated time per inference, by op class (bars), and the total (label). The hatched "
                           "part is the runtime's own cost: invoke, and hand-over between delegate partitions."),
                 ESTIMATED)


def _time_table(src: Source, classes: Sequence[str]) -> Any:
    devices = src.doc["devices"]
    rows: list[list[Rich]] = []
    for c in classes:
        rows.append([rich(name(c)), *[rich(_class_ms(src, i, c)) for i in range(len(devices))]])
    if any(d.get("edgetpu") for d in devices):
        rows.append([rich("Edge TPU link"), *[rich(_link(src, i) or "–") for i in range(len(devices))]])
    rows.append([rich("invoke & hand-over overhead"), *[rich(_overhead(src, i)) for i in range(len(devices))]])
    rows.append([rich("total"), *[rich(src.fig(f"{_dev(i)}/latency_ms", "ms")) for i in range(len(devices))]])
    return table(["op class", *[d["device"] for d in devices]], rows, "l" + "r" * len(devices),
                 caption=rich("Estimated milliseconds per inference by op class."), basis=ESTIMATED,
                 highlight=(len(rows) - 1,))


def _top_ops_chart(src: Source) -> Chart:
    devices = src.doc["devices"]
    n = len(devices)
    with charts.charting() as figure_cls:
        per = min(TOP_OPS, max(len(d["ops"]) for d in devices))
        fig = charts.figure(figure_cls, 0.6 + n * (0.42 + 0.2 * per))
        axes = fig.subplots(n, 1, squeeze=False)[:, 0]
        for ax, d in zip(axes, devices, strict=True):
            ops = d["ops"][:TOP_OPS]  # the JSON lists them slowest first
            ys = list(range(len(ops)))[::-1]
            ax.barh(ys, [o["latency_ms"] for o in ops], height=0.66,
                    color=[PLACES.get(o["runs_on"], ("", charts.GREY))[1] for o in ops])
            ax.set_yticks(ys, [f"#{o['index']} {o['op']}" for o in ops], fontsize=9)
            ax.set_title(f"{d['device']}: the {len(ops)} slowest ops", fontsize=10.5)
            ax.grid(axis="y", visible=False)
            ax.set_xlabel("estimated ms", fontsize=9)
        handles = _place_handles(devices)
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9)
        svg = charts.to_svg(fig, "profile-top-ops", "The slowest ops per device")
    return Chart(svg, rich("The slowest ops per device (estimated), coloured by where they run; #n is the op's "
                           "position in the graph."), ESTIMATED)


def _place_handles(devices: Sequence[dict[str, Any]]) -> list[Any]:
    patches = charts.require_patches()
    used = {o["runs_on"] for d in devices for o in d["ops"]}
    return [patches.Patch(color=color, label=label) for key, (label, color) in PLACES.items() if key in used]


def _top_ops_table(src: Source, i: int) -> Any:
    d = src.doc["devices"][i]
    rows: list[list[Rich]] = []
    for j, o in enumerate(d["ops"][:TOP_OPS]):
        p = f"{_dev(i)}/ops/{j}"
        rows.append([
            rich(src.fig(f"{p}/index", "int")), rich(name(o["op"]), " (roughly)" if o["estimated_roughly"] else ""),
            rich(SHORT_PLACES.get(o["runs_on"], o["runs_on"])), rich(src.fig(f"{p}/latency_ms", "ms")),
            rich(src.fig(f"ratio({p}/latency_ms, {_dev(i)}/latency_ms)", "pct")),
        ])
    return table(["#", "op", "where", "time", "share"], rows, "rllrr",
                 caption=rich(name(d["device"]), ": the slowest ops."), basis=ESTIMATED)


def _strip_chart(src: Source) -> Chart:
    devices = src.doc["devices"]
    n = len(devices)
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 1.25 + 0.75 * n)
        ax = fig.subplots()
        count = max(len(d["ops"]) for d in devices)
        for row, d in enumerate(devices):
            y = n - 1 - row
            ops = sorted(d["ops"], key=lambda o: o["index"])
            ax.bar([o["index"] for o in ops], 0.62, bottom=y - 0.31, width=0.94, align="center",
                   color=[PLACES.get(o["runs_on"], ("", charts.GREY))[1] for o in ops], linewidth=0)
            tpu = d.get("edgetpu") or {}
            first = tpu.get("first_unmapped_op")
            if first is not None:
                x = first["index"]
                ax.plot([x], [y + 0.42], marker="v", color=charts.VERMILLION, markersize=9, clip_on=False)
                ha = "right" if x > count * 0.6 else "left"
                ax.annotate(f"first unmapped: #{x} {first['op']}", (x, y + 0.42), xytext=(-6 if ha == "right" else 6, 2),
                            textcoords="offset points", ha=ha, va="bottom", fontsize=9, color=charts.VERMILLION,
                            fontweight="bold")
        ax.set_yticks(list(range(n))[::-1], [d["device"] for d in devices])
        ax.set_ylim(-0.6, n - 0.2)
        ax.set_xlim(-0.7, count - 0.3)
        ax.set_xlabel("op, in graph order (#)")
        ax.grid(False)
        ax.spines["left"].set_visible(False)
        handles = _place_handles(devices)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.3 if n < 3 else -0.2),
                  ncol=len(handles), fontsize=9)
        svg = charts.to_svg(fig, "profile-placement", "Where each op runs, per device, in graph order")
    return Chart(svg, rich("Each op of the graph, left to right, coloured by where it runs. On an Edge TPU the "
                           "first op that does not map sends it and every later op to the CPU (marked)."), ESTIMATED)


def _placement_lead(src: Source) -> Rich:
    parts: list[Any] = []
    for i, d in enumerate(src.doc["devices"]):
        if parts:
            parts.append("; ")
        tpu = d.get("edgetpu")
        if tpu and tpu.get("integer_model"):
            parts += [name(d["device"]), ": ", src.fig(f"{_dev(i)}/edgetpu/mapped_ops", "int"), " of ",
                      src.fig(f"count({_dev(i)}/ops/*)", "int"), " ops on the Edge TPU"]
            if tpu.get("first_unmapped_op"):
                parts += [", from op #", src.fig(f"{_dev(i)}/edgetpu/first_unmapped_op/index", "int"), " ",
                          name(tpu["first_unmapped_op"]["op"]), " on the CPU"]
        elif tpu:
            parts += [name(d["device"]), ": ", src.text(f"{_dev(i)}/edgetpu/note")]
        else:
            delegated = "gpu" if any(o["runs_on"] == "gpu" for o in d["ops"]) else "cpu:xnnpack"
            parts += [name(d["device"]), ": ", src.fig(f"count({_dev(i)}/ops/*[runs_on={delegated}])", "int"),
                      " of ", src.fig(f"count({_dev(i)}/ops/*)", "int"),
                      " ops in the " + ("GPU" if delegated == "gpu" else "XNNPACK") + " delegate, ",
                      src.fig(f"{_dev(i)}/delegate_partitions", "int"), " partition(s)"]
    return tuple(parts) + (".",)


def _fallback_table(src: Source) -> Any | None:
    """The ops that leave the Edge TPU or the delegate, one row per device, op and reason (with their positions)."""
    rows: list[list[Rich]] = []
    for i, d in enumerate(src.doc["devices"]):
        tpu = d.get("edgetpu") or {}
        first = tpu.get("first_unmapped_op")
        if first is not None:
            rows.append([rich(name(d["device"])), rich(name(first["op"])), rich(src.fig(f"{_dev(i)}/edgetpu/cpu_ops", "int")),
                         rich("#", src.fig(f"{_dev(i)}/edgetpu/first_unmapped_op/index", "int"), " and every later op"),
                         rich("Edge TPU → CPU"), rich(src.text(f"{_dev(i)}/edgetpu/first_unmapped_op/reason"))])
        groups: dict[tuple[str, str], list[int]] = {}
        for j, o in enumerate(d["ops"]):
            if o["runs_on"] == "cpu:builtin" and o["note"]:
                groups.setdefault((o["op"], o["note"]), []).append(j)
        for (op, _), members in groups.items():
            members.sort(key=lambda j: d["ops"][j]["index"])
            where: list[Any] = []
            for k, j in enumerate(members[:FALLBACK_POSITIONS]):
                where += ([", "] if k else []) + ["#", src.fig(f"{_dev(i)}/ops/{j}/index", "int")]
            if len(members) > FALLBACK_POSITIONS:
                where.append(", …")
            rows.append([rich(name(d["device"])), rich(name(op)),
                         rich(src.fig(f"count({_dev(i)}/ops/*[op={op}][runs_on=cpu:builtin])", "int")), tuple(where),
                         rich("builtin kernel, outside XNNPACK"), rich(src.text(f"{_dev(i)}/ops/{members[0]}/note"))])
    if not rows:
        return None
    return table(["device", "op", "ops", "where in the graph", "what happens", "why"], rows, "llrlll",
                 caption=rich("Ops that leave the accelerator or the delegate, and why."), basis=ESTIMATED)


def _memory_parts(d: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """(JSON expression suffix, label, colour, bytes) of one device's memory."""
    out = []
    for key, label, color in MEMORY_PARTS:
        if key == "runtime":
            out.append(("diff(runtime_overhead_bytes, indirection_bytes)", label, color,
                        d["runtime_overhead_bytes"] - d.get("indirection_bytes", 0)))
        else:
            out.append((key, label, color, int(d.get(key, 0))))
    return out


def _mem_fig(src: Source, i: int, suffix: str) -> Fig:
    if suffix.startswith("diff("):
        a, b = suffix[5:-1].split(", ")
        return src.fig(f"diff({_dev(i)}/{a}, {_dev(i)}/{b})", "bytes")
    return src.fig(f"{_dev(i)}/{suffix}", "bytes")


def _memory_chart(src: Source) -> Chart:
    """Left: what holds the memory (MiB); right: the peak as a share of the device's usable RAM (100% = full)."""
    devices = src.doc["devices"]
    n = len(devices)
    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 1.5 + 0.62 * n)
        ax, gx = fig.subplots(1, 2, sharey=True, width_ratios=[2.0, 1.0])
        ys = list(range(n))[::-1]
        mib = 1024.0 * 1024.0
        left = [0.0] * n
        for j, (_, label, color) in enumerate(MEMORY_PARTS):
            widths = [_memory_parts(d)[j][3] / mib for d in devices]
            if any(widths):
                ax.barh(ys, widths, left=left, height=0.6, color=color, label=label, edgecolor="white", linewidth=0.6)
                left = [a + b for a, b in zip(left, widths, strict=True)]
        peak = max(d["peak_memory_bytes"] for d in devices) / mib
        shares = []
        for y, i in zip(ys, range(n), strict=True):
            d = devices[i]
            total = src.fig(f"{_dev(i)}/peak_memory_bytes", "bytes")
            ax.text(d["peak_memory_bytes"] / mib + peak * 0.015, y, total.text, va="center", ha="left", fontsize=9.5,
                    fontweight="bold")
            share = src.fig(f"ratio({_dev(i)}/peak_memory_bytes, {_dev(i)}/usable_ram_bytes)", "pct")
            shares.append(100 * (share.value or 0.0))
            usable = src.fig(f"{_dev(i)}/usable_ram_bytes", "bytes")
            gx.text(min(shares[-1], 100) + 3, y, f"{share.text} of {usable.text}" + ("" if d["fits"] else "  DOES NOT FIT"),
                    va="center", ha="left", fontsize=9, fontweight="bold",
                    color=charts.INK if d["fits"] else charts.VERMILLION)
        gx.barh(ys, [min(v, 100.0) for v in shares], height=0.6,
                color=[charts.GREEN if d["fits"] else charts.VERMILLION for d in devices])
        gx.barh(ys, [100.0] * n, height=0.6, color="none", edgecolor="#888888", linewidth=0.8)
        gx.set_xlim(0, 100)
        gx.set_xticks([0, 50, 100])
        gx.set_xlabel("share of the usable RAM (%)")
        gx.grid(False)
        gx.tick_params(axis="y", left=False)
        ax.set_xlim(0, peak * 1.3)
        ax.set_yticks(ys, [d["device"] for d in devices])
        ax.set_xlabel("estimated peak memory (MiB)")
        ax.grid(axis="y", visible=False)
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=9)
        svg = charts.to_svg(fig, "profile-memory", "Estimated peak memory per device, and its share of the usable RAM")
    return Chart(svg, rich("Left: estimated peak memory by what holds it. Right: that peak against the RAM the "
                           "device leaves to the model (its RAM minus the OS reserve); a full bar does not fit."),
                 ESTIMATED)


def _memory_table(src: Source) -> Any:
    devices = src.doc["devices"]
    rows: list[list[Rich]] = []
    for j, (_, label, _) in enumerate(MEMORY_PARTS):
        rows.append([rich(label), *[rich(_mem_fig(src, i, _memory_parts(d)[j][0])) for i, d in enumerate(devices)]])
    rows.append([rich("peak (sum)"), *[rich(src.fig(f"{_dev(i)}/peak_memory_bytes", "bytes")) for i in range(len(devices))]])
    rows.append([rich("usable RAM"), *[rich(src.fig(f"{_dev(i)}/usable_ram_bytes", "bytes")) for i in range(len(devices))]])
    rows.append([rich("share of usable RAM"), *[
        rich(src.fig(f"ratio({_dev(i)}/peak_memory_bytes, {_dev(i)}/usable_ram_bytes)", "pct"))
        for i in range(len(devices))]])
    rows.append([rich("fits"), *[rich("yes" if d["fits"] else "NO") for d in devices]])
    return table(["memory", *[d["device"] for d in devices]], rows, "l" + "r" * len(devices),
                 caption=rich("Estimated memory per device."), basis=ESTIMATED, highlight=(len(MEMORY_PARTS),))


def _cards(src: Source) -> tuple[Card, ...]:
    cards = []
    for i, d in enumerate(src.doc["devices"]):
        detail: list[Any] = [src.fig(f"{_dev(i)}/peak_memory_bytes", "bytes"), " peak memory, ",
                             "fits" if d["fits"] else "DOES NOT FIT", " in ",
                             src.fig(f"{_dev(i)}/usable_ram_bytes", "bytes"), "; ",
                             src.fig(f"{_dev(i)}/threads", "int"), " thread(s)"]
        tpu = d.get("edgetpu")
        tone = "good" if d["fits"] else "bad"
        if tpu and tpu.get("integer_model"):
            detail += ["; ", src.fig(f"{_dev(i)}/edgetpu/mapped_ops", "int"), " of ",
                       src.fig(f"count({_dev(i)}/ops/*)", "int"), " ops on the Edge TPU"]
            if tpu.get("first_unmapped_op"):
                detail += [", the rest on the CPU from #", src.fig(f"{_dev(i)}/edgetpu/first_unmapped_op/index", "int"),
                           " ", name(tpu["first_unmapped_op"]["op"])]
                tone = "warn" if d["fits"] else tone
        elif tpu:
            detail += ["; none of it on the Edge TPU"]
            tone = "warn" if d["fits"] else tone
        cards.append(Card(rich(name(d["device"])), src.fig(f"{_dev(i)}/latency_ms", "ms"), tuple(detail), tone,
                          ESTIMATED))
    return tuple(cards)


def _verdict(src: Source) -> tuple[Rich, str]:
    devices = src.doc["devices"]
    fast = min(range(len(devices)), key=lambda i: devices[i]["latency_ms"])
    misfits = [d["device"] for d in devices if not d["fits"]]
    parts: list[Any] = []
    if misfits:
        parts += ["Does not fit in the memory of ", name(", ".join(misfits)), ". "]
    else:
        parts += ["Fits in memory on every device. " if len(devices) > 1 else "Fits in memory. "]
    if len(devices) > 1:
        parts += ["Fastest: ", name(devices[fast]["device"]), " at ", src.fig(f"{_dev(fast)}/latency_ms", "ms"),
                  " per inference (estimated)."]
    else:
        parts += ["Estimated ", src.fig(f"{_dev(0)}/latency_ms", "ms"), " per inference on ",
                  name(devices[0]["device"]), "."]
    split = False
    for i, d in enumerate(devices):
        tpu = d.get("edgetpu") or {}
        if tpu.get("first_unmapped_op") is not None:
            split = True
            parts += [" On ", name(d["device"]), " only ", src.fig(f"{_dev(i)}/edgetpu/mapped_ops", "int"), " of ",
                      src.fig(f"count({_dev(i)}/ops/*)", "int"), " ops run on the Edge TPU: ",
                      name(tpu["first_unmapped_op"]["op"]), " (#", src.fig(f"{_dev(i)}/edgetpu/first_unmapped_op/index",
                                                                          "int"), ") sends the rest to the CPU."]
    return tuple(parts), "bad" if misfits else "warn" if split else "good"


def _time_lead(src: Source, classes: Sequence[str]) -> Rich:
    parts: list[Any] = []
    for i, d in enumerate(src.doc["devices"]):
        shares = {c: _class_ms(src, i, c).value for c in classes}
        top = max(shares, key=lambda c: shares[c])
        if parts:
            parts.append("; ")
        parts += ["on ", name(d["device"]), " ", name(top), " takes ",
                  src.fig(f"ratio(sum({_dev(i)}/ops/*[op_class={top}]/latency_ms), {_dev(i)}/latency_ms)", "pct"),
                  " of ", src.fig(f"{_dev(i)}/latency_ms", "ms")]
    parts[0] = "On "
    return tuple(parts) + (".",)


def build(src: Source) -> Page:
    doc = src.doc
    devices = doc["devices"]
    if not devices:
        raise ValueError("a profile result with no device")
    classes = _classes(doc)
    verdict, tone = _verdict(src)
    sections = [
        Section("time", "Where do the milliseconds go?", _time_lead(src, classes),
                (_time_chart(src, classes), _time_table(src, classes))),
        Section("top-ops", "Which ops are the slowest?",
                rich("The ten slowest ops per device; ", src.fig("/operators", "int"), " ops in the graph."),
                (_top_ops_chart(src), Grid(tuple(_top_ops_table(src, i) for i in range(len(devices)))))),
    ]
    placement = [_strip_chart(src)]
    fallback = _fallback_table(src)
    if fallback is not None:
        placement.append(fallback)
    sections.append(Section("placement", "What runs where?", _placement_lead(src), tuple(placement)))
    sections.append(Section("memory", "Does it fit in memory?", rich(
        "Weights (the mapped file), the delegate's repacked copy and its indirection buffers, the activation "
        "arena planned from tensor lifetimes, and the runtime's own memory."), (_memory_chart(src), _memory_table(src))))
    notes = [n for i in range(len(devices)) for n in listed(src, f"{_dev(i)}/notes")]
    if notes:
        sections.append(Section("notes", "Notes from the estimator", (), tuple(Para(n, "note") for n in notes)))
    provenance: list[tuple[str, Rich]] = [
        ("Model", rich(name(doc["model"]), " (", name(doc["quant_kind"]), ", ", src.fig("/operators", "int"), " ops, ",
                       src.fig("/weight_bytes", "bytes"), " of weights)")),
        ("Figures", rich("ESTIMATED by edgekit's estimator from device profiles. Nothing was run: per-op costs from "
                         "the tensor shapes and each profile's fitted efficiencies, memory from the planned arena.")),
        ("Runtime", rich("none was run; the estimate models LiteRT with the delegate each device profile names")),
    ]
    for i, d in enumerate(devices):
        fitted = [src.text(f"{_dev(i)}/fitted_on/{j}") for j in range(len(d["fitted_on"]))]
        parts: list[Any] = [src.text(f"{_dev(i)}/name"), " — ", src.text(f"{_dev(i)}/profile_source"), " profile ",
                            name(d["profile_file"]), ", ", src.fig(f"{_dev(i)}/threads", "int"), " thread(s)"]
        if fitted:
            parts.append("; fitted on: ")
            for j, f in enumerate(fitted):
                parts += (["; "] if j else []) + [f]
        provenance.append((f"Device {d['device']}", tuple(parts)))
    provenance.append(producer_row(src, "Estimated by"))
    return Page(
        kind="profile", subject=rich(name(basename(doc["model"]))), verdict=verdict, tone=tone, basis=ESTIMATED,
        basis_note=rich("Every figure on this page is an estimate from a device profile, not a measurement; ",
                        name("edgekit bench"), " measures on the board."),
        cards=_cards(src), provenance=tuple(provenance), sections=tuple(sections),
    )


__all__ = ["build"]
