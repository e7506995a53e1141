"""The published-latency dataset (``device_profiles/published/*.csv``): reading, checking, and which rows
a shipped device profile can be fitted on.

One row per published figure: where it comes from (``source_url``, ``source_date``), what ran (``model``,
``variant``, ``input_size``, ``depth_multiplier``, ``dtype``), how (``threads``, ``delegate``, ``runtime``,
``runtime_version``), where (``device``, ``clock_ghz``) and the figure (``latency_ms``), with a free
``note``. The files are data, kept as the sources printed them; ``device_profiles/published/SOURCES.md``
says where each block comes from and what is known to be wrong with it.

:func:`select` decides, per row, whether it can fit (or test) a shipped profile and under which
conditions the estimator must be run to reproduce it (the profile, host CPU or accelerator, threads,
XNNPACK on or off, clock, GPU precision) -- or, when it cannot, why not. The rules are here, as code
next to the data, so that the fit (``scripts/fit_profiles.py``), the leave-one-out report
(``scripts/bench_profile_published.py --loo``) and the test that checks the dataset agree.

Standard library only (device-safe); the dataset folder is in the repository, not in the wheel.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import DataError

COLUMNS = ("source_url", "source_date", "model", "variant", "input_size", "depth_multiplier", "dtype",
           "threads", "delegate", "runtime", "runtime_version", "device", "clock_ghz", "latency_ms", "note")
DTYPES = frozenset({"float32", "float16", "int8", "uint8"})
DELEGATES = frozenset({"none", "xnnpack", "edgetpu", "gpu", "nnapi", "hexagon", "armnn", "unstated"})
RUNTIMES = frozenset({"tflite", "tensorflow", "ncnn", "onnxruntime", "pytorch", "xnnpack-end2end-bench",
                      "edgetpu-python-api", "edgetpu-cpp-api", "armnn"})
DEVICES = frozenset({
    # Coral
    "desktop-cpu-xeon", "coral-usb-desktop", "embedded-a53", "coral-devboard", "coral-pcie",
    "coral-usb-imac2015", "coral-usb-macbookpro2018", "coral-usb-rpi3b", "coral-usb-rpi3b-plus",
    "coral-usb-rpi4", "coral-usb2-host-unstated", "coral-usb3-host-unstated", "coral-unstated",
    # Android / iOS
    "pixel1-cpu", "pixel2-cpu", "pixel3-cpu", "pixel3-gpu", "pixel3-nnapi", "pixel3a-cpu",
    "pixel4-cpu", "pixel4-gpu", "pixel4-nnapi", "pixel4-edgetpu", "pixel4-dsp", "pixelxl-cpu",
    "iphonexs-cpu", "iphonexs-gpu", "iphone8-cpu",
    # Raspberry Pi and other hosts
    "rpi-zero-w", "rpi-zero-2w", "rpi2b", "rpi3b", "rpi3b-plus", "rpi4b", "rpi5", "intel-n100",
})
_SIZE = re.compile(r"^\d+x\d+$")
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class PublishedRow:
    """One published figure, typed (empty fields are None)."""

    file: str  # the CSV it is in (name only)
    line: int  # its line in that file (the header is line 1)
    source_url: str
    source_date: str
    model: str
    variant: str
    input_size: tuple[int, int] | None  # (height, width)
    depth_multiplier: float | None
    dtype: str
    threads: int | None
    delegate: str
    runtime: str
    runtime_version: str
    device: str
    clock_ghz: float | None
    latency_ms: float
    note: str

    @property
    def flagged(self) -> bool:
        """The dataset marks the figure as inconsistent inside its own table (``FLAG:`` in the note)."""
        return "FLAG:" in self.note

    @property
    def source(self) -> str:
        """A short name of the source, e.g. 'coral.ai benchmarks' or 'NobuoTsukamoto efficientdet.md'."""
        return source_tag(self.source_url)

    @property
    def label(self) -> str:
        """A readable name of the figure (unique in the dataset together with :attr:`source`)."""
        size = f" {self.input_size[0]}x{self.input_size[1]}" if self.input_size else ""
        dm = f" dm{self.depth_multiplier:g}" if self.depth_multiplier is not None else ""
        threads = f" {self.threads}t" if self.threads is not None else ""
        version = f" {self.runtime_version}" if self.runtime_version else ""
        return (f"{self.device}: {self.model} {self.variant}{size}{dm} {self.dtype}{threads} "
                f"{self.delegate} {self.runtime}{version}")

    @property
    def row_id(self) -> str:
        """Stable id: ``file:line`` of the row (what a profile's ``[fit]`` names its rows by, with the label)."""
        return f"{self.file}:{self.line}"


def source_tag(url: str) -> str:
    """A short, stable name of a source URL."""
    if "coral.ai/docs/edgetpu/benchmarks" in url:
        return "coral.ai benchmarks"
    if "coral.ai/models" in url:
        return "coral.ai models"
    m = re.match(r"https?://github\.com/([^/]+)/([^/]+)/(?:blob|tree)/[0-9a-f]+/(.*)$", url)
    if m:
        return f"{m.group(1)} {m.group(3).rsplit('/', 1)[-1]}"
    return url.split("//", 1)[-1].split("/", 1)[0]


def _parse(cells: dict[str, str], file: str, line: int, errors: list[str]) -> PublishedRow | None:
    where = f"{file}:{line}"
    bad = len(errors)
    for c in ("source_url", "model", "dtype", "delegate", "runtime", "device", "latency_ms"):
        if not cells[c].strip():
            errors.append(f"{where}: empty required column {c}")
    if cells["source_url"] and not _URL.match(cells["source_url"]):
        errors.append(f"{where}: source_url is not a URL: {cells['source_url']!r}")
    if cells["source_date"] and not _DATE.match(cells["source_date"]):
        errors.append(f"{where}: source_date is not YYYY or YYYY-MM: {cells['source_date']!r}")
    if cells["input_size"] and not _SIZE.match(cells["input_size"]):
        errors.append(f"{where}: input_size is not HxW: {cells['input_size']!r}")
    for col, allowed in (("dtype", DTYPES), ("delegate", DELEGATES), ("runtime", RUNTIMES), ("device", DEVICES)):
        if cells[col] and cells[col] not in allowed:
            errors.append(f"{where}: {col} {cells[col]!r} is not one of {sorted(allowed)}")
    numbers: dict[str, float | int | None] = {}
    for col, kind in (("depth_multiplier", float), ("clock_ghz", float), ("threads", int), ("latency_ms", float)):
        text = cells[col].strip()
        if not text:
            numbers[col] = None
            continue
        try:
            value = kind(text)
        except ValueError:
            errors.append(f"{where}: {col} is not a{'n integer' if kind is int else ' number'}: {text!r}")
            continue
        if not value > 0 or value != value:
            errors.append(f"{where}: {col} must be > 0: {text!r}")
            continue
        numbers[col] = value
    if cells["delegate"] == "edgetpu" and not (cells["device"].startswith("coral") or cells["device"] == "pixel4-edgetpu"):
        errors.append(f"{where}: the edgetpu delegate on a device without an Edge TPU: {cells['device']!r}")
    if len(errors) > bad or numbers.get("latency_ms") is None:
        return None
    size = None
    if cells["input_size"]:
        h, w = cells["input_size"].split("x")
        size = (int(h), int(w))
    dm, clock, threads = numbers["depth_multiplier"], numbers["clock_ghz"], numbers["threads"]
    return PublishedRow(
        file=file, line=line, source_url=cells["source_url"], source_date=cells["source_date"],
        model=cells["model"], variant=cells["variant"], input_size=size,
        depth_multiplier=float(dm) if dm is not None else None, dtype=cells["dtype"],
        threads=int(threads) if threads is not None else None, delegate=cells["delegate"],
        runtime=cells["runtime"], runtime_version=cells["runtime_version"], device=cells["device"],
        clock_ghz=float(clock) if clock is not None else None, latency_ms=float(numbers["latency_ms"] or 0.0),
        note=cells["note"],
    )


def read_dataset(folder: str | Path) -> tuple[list[PublishedRow], list[str]]:
    """Every row of every ``*.csv`` in ``folder`` and the problems found (empty when the dataset is clean).

    Checks: the exact header, one value per column, allowed values (dtype, delegate, runtime, device),
    numbers where numbers belong (positive), URLs, dates, sizes, and no figure twice (every column but
    the note equal)."""
    root = Path(folder)
    files = sorted(root.glob("*.csv"))
    if not files:
        raise DataError(f"no *.csv files in {root}.", hint="Pass the published-dataset folder.")
    rows: list[PublishedRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, ...], str] = {}
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or tuple(header) != COLUMNS:
                errors.append(f"{path.name}: header {header!r} is not {list(COLUMNS)}")
                continue
            for line, cells in enumerate(reader, start=2):
                if len(cells) != len(COLUMNS):
                    errors.append(f"{path.name}:{line}: {len(cells)} cells, expected {len(COLUMNS)}")
                    continue
                named = dict(zip(COLUMNS, cells, strict=True))
                key = tuple(named[c] for c in COLUMNS if c != "note")
                if key in seen:
                    errors.append(f"{path.name}:{line}: the same figure as {seen[key]}")
                else:
                    seen[key] = f"{path.name}:{line}"
                row = _parse(named, path.name, line, errors)
                if row is not None:
                    rows.append(row)
    return rows, errors


def load_dataset(folder: str | Path) -> list[PublishedRow]:
    """The rows of a clean dataset (DataError naming the first problems otherwise)."""
    rows, errors = read_dataset(folder)
    if errors:
        raise DataError(f"the published dataset in {folder} has {len(errors)} problem(s): {'; '.join(errors[:3])}",
                        hint="Fix the rows named (see edgekit/profile/published.py for the rules).")
    return rows


# ------------------------------------------------------------------------------------------ selection

class Mode:
    """Where the row's figure was measured, relative to the profile."""

    CPU = "cpu"  # the profile's CPU (XNNPACK or builtin kernels)
    HOST_CPU = "host-cpu"  # an accelerator profile's host CPU alone (Coral's CPU columns)
    ACCELERATOR = "accelerator"  # the profile's accelerator (Edge TPU, GPU) with its host CPU


# dataset device -> (shipped profile, mode, clock override GHz, why the mapping holds)
DEVICE_PROFILES: dict[str, tuple[str, str, float | None, str]] = {
    "coral-usb-desktop": ("coral-usb-desktop", Mode.ACCELERATOR, None, ""),
    "desktop-cpu-xeon": ("coral-usb-desktop", Mode.HOST_CPU, None,
                         "Coral's 'Desktop CPU' column: the host of the USB Accelerator rows"),
    "coral-devboard": ("coral-devboard", Mode.ACCELERATOR, None, ""),
    "embedded-a53": ("coral-devboard", Mode.HOST_CPU, None,
                     "Coral's 'Embedded CPU' column: quad Cortex-A53 @ 1.5 GHz, the Dev Board's own SoC"),
    "coral-usb-rpi4": ("coral-usb-rpi4", Mode.ACCELERATOR, None, ""),
    "pixel3-cpu": ("pixel3-cpu", Mode.CPU, None, ""),
    "pixel4-cpu": ("pixel4-cpu", Mode.CPU, None, ""),
    "pixel4-gpu": ("pixel4-gpu", Mode.ACCELERATOR, None, ""),
    "pixel3-gpu": ("pixel3-gpu", Mode.ACCELERATOR, None, ""),
    "coral-usb-rpi3b-plus": ("coral-usb-rpi3b-plus", Mode.ACCELERATOR, None, ""),
    "coral-usb-rpi3b": ("coral-usb-rpi3b-plus", Mode.ACCELERATOR, 1.2,
                        "USB Accelerator on a Pi 3 Model B: the Pi 3 B+'s USB 2.0 host and cores at 1.2 GHz"),
    "rpi3b-plus": ("rpi3b-plus", Mode.CPU, None, ""),
    "rpi3b": ("rpi3b-plus", Mode.CPU, 1.2,
              "Pi 3 Model B: the Pi 3 B+'s Cortex-A53 cores and LPDDR2 memory at 1.2 GHz instead of 1.4"),
    "rpi4b": ("rpi4b", Mode.CPU, None, ""),
    "rpi5": ("rpi5", Mode.CPU, None, ""),
}

# rows measured with 1 host thread where the source does not say (Coral's tables: a C++ benchmark of one
# interpreter; the Edge TPU part does not depend on it)
ASSUMED_ONE_THREAD = frozenset({"coral.ai benchmarks", "freedomtan README.md", "NobuoTsukamoto devboard.md"})


@dataclass(frozen=True)
class Selection:
    """How a row is used: the profile and conditions to estimate it under, or why it is not used."""

    usable: bool
    reason: str  # why not usable ("" when usable); or the assumptions made when it is
    profile: str = ""
    mode: str = Mode.CPU
    threads: int = 1
    xnnpack: bool = True
    clock_ghz: float | None = None
    gpu_fp16: bool = True
    assumptions: tuple[str, ...] = ()


def _no(reason: str) -> Selection:
    return Selection(False, reason)


def select(row: PublishedRow) -> Selection:
    """Whether ``row`` can fit a shipped profile, and the conditions to estimate it under (see the module doc)."""
    if row.flagged:
        return _no("flagged in the dataset as inconsistent inside its own table")
    if row.runtime == "ncnn":
        return _no("ncnn, not TFLite/LiteRT: other kernels, graph fusion and int8 scheme (kept as data)")
    if row.runtime == "tensorflow":
        return _no("full TensorFlow (frozen graph), not TFLite/LiteRT")
    if row.runtime == "xnnpack-end2end-bench":
        return _no("XNNPACK's own end-to-end benchmark, not TFLite/LiteRT, thread count not stated")
    if row.runtime in ("edgetpu-python-api", "edgetpu-cpp-api"):
        return _no("the 2019 edgetpu library (pre-libedgetpu), not the TFLite Edge TPU delegate; the Python "
                   "figures include the Python call overhead")
    if row.delegate in ("nnapi", "hexagon", "armnn", "unstated"):
        return _no(f"the {row.delegate} delegate (a vendor driver) is not modelled")
    if row.source.startswith("Qengineering"):
        return _no("a demo app's frame rate (camera loop, pre/post-processing included) on an overclocked Pi")
    if row.source == "aallan README.md":
        return _no("2019-2024 articles: TFLite version and (for the 2019 rows) thread count not established")
    if row.device == "coral-unstated":
        return _no("coral.ai model pages: the host of the 'Latency' column is in a footnote not read")
    if row.source == "coral.ai benchmarks" and row.model == "EfficientNet-EdgeTPU" and row.device == "desktop-cpu-xeon":
        return _no("starred on the page (footnote not read) and 100x slower than the same build's other models: "
                   "a reference-kernel path of that old x86 TFLite build")
    if row.device not in DEVICE_PROFILES:
        return _no(f"no shipped device profile for {row.device}")
    profile, mode, clock, why = DEVICE_PROFILES[row.device]
    assumptions: list[str] = [why] if why else []
    threads = row.threads
    if threads is None:
        if row.source in ASSUMED_ONE_THREAD or row.delegate == "edgetpu":
            threads = 1
            assumptions.append("1 host thread assumed (the source does not say)")
        elif row.delegate == "gpu":
            threads = 4
            assumptions.append("4 CPU threads for any CPU fallback (the benchmark's big cores; not stated)")
        else:
            return _no("thread count not stated")
    if row.clock_ghz is not None:
        clock = row.clock_ghz
    elif row.device == "rpi4b" and row.source.startswith("NobuoTsukamoto"):
        # "Raspberry Pi 4 Model B Rev 1.2 4GB" (2021): a BCM2711B0 board, 1.5 GHz (the 1.8 GHz default came with
        # the C0 stepping); the 2024 table names the same author's "Raspberry Pi 4 4GB" without a revision:
        # assumed the same board (its figures are within 10% of the 2021 ones)
        clock = 1.5
        assumptions.append("Pi 4 at 1.5 GHz (a Rev 1.2 board, BCM2711B0; the 2024 table assumed the same board)")
    xnnpack = row.delegate == "xnnpack"
    if row.delegate == "none":
        assumptions.append("TFLite's builtin kernels (no XNNPACK: the delegate column says none)")
    gpu_fp16 = True
    if row.delegate == "gpu":
        # the GPU delegate computes in float16 unless precision loss is refused (the fp32 rows of the
        # EfficientNet-Lite README: --gpu_precision_loss_allowed=false)
        gpu_fp16 = not (row.dtype == "float32" and "precision_loss_allowed=false" in row.note.replace(" ", ""))
    return Selection(True, "; ".join(assumptions), profile, mode, threads, xnnpack, clock, gpu_fp16, tuple(assumptions))


def usable_rows(rows: Iterable[PublishedRow]) -> list[tuple[PublishedRow, Selection]]:
    out = []
    for r in rows:
        s = select(r)
        if s.usable:
            out.append((r, s))
    return out


def summarize(rows: Sequence[PublishedRow]) -> dict[str, int]:
    """Counts for reports: rows, architectures, usable rows."""
    return {"rows": len(rows), "architectures": len({r.model for r in rows}),
            "usable": sum(1 for r in rows if select(r).usable)}


__all__ = ["COLUMNS", "DTYPES", "DELEGATES", "RUNTIMES", "DEVICES", "PublishedRow", "source_tag", "read_dataset",
           "load_dataset", "Mode", "DEVICE_PROFILES", "Selection", "select", "usable_rows", "summarize"]
