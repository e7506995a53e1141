"""`edgekit size`: the typed results, for a .tflite (measured) and for a float source model.

Device-safe: these are data and their rendering only. The .tflite report is computed by
:func:`edgekit.sizing.tflite_size.size_tflite` (on the device); the source-model report by
:func:`edgekit.host.source_size.size_source` (workstation), but it reads back and renders anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edgekit.core.result import Basis, check_kind, float_or_nan, optional_float, optional_int
from edgekit.provenance import Producer, producer_entry
from edgekit.report import format_table, human_bytes
from edgekit.sizing.compress import CompressedSizes
from edgekit.sizing.fit import DeviceFits
from edgekit.sizing.tflite_weights import TensorSparsity

RAM_NOTE = ("RAM is unchanged by pruning: LiteRT keeps and multiplies dense tensors, zeros included "
            "(no sparse kernels in the default XNNPACK path). Latency is unchanged for the same reason.")
SPARSE_NOTE = " Sparse-encoded tensors are left as they are."
ZERO_DEFINITION = "exact 0.0 for float tensors; the zero point for quantized tensors"
TFLITE_POLICY = ("magnitude pruning of conv/depthwise/fully-connected weights; biases and tensors under "
                 "256 elements kept")
TFLITE_WHAT_IF_SOURCE = "measured in memory (weights pruned by magnitude, file not written)"
ZSTD_MISSING = "zstd not measured: the optional 'zstandard' package is not installed"
SOURCE_QUANTIZE_METHOD = ("estimated: parameters stored as each mode stores them, counted and deflated in numpy; "
                          "graph structure not included (it added ~12 KiB on the 31k-parameter sample CNN)")
SOURCE_WHAT_IF_METHOD = "weights pruned by magnitude in memory, then int8-quantized in numpy; graph structure not included"
VERIFY_ON_METHOD = ("each variant (the pruned bytes, written to a private temporary file) run on the bundle's golden "
                    "inputs and compared with the original model's stored outputs, as `edgekit verify BUNDLE` does")
SOURCE_FITS_REASON = ("device fits need the converted graph: run `edgekit size` on the .tflite that `edgekit convert` "
                      "makes")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _b(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B ({human_bytes(n)})" if n >= 1024 else f"{n:,} B"


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


@dataclass(frozen=True)
class ZeroCount:
    """Exact zeros among some elements (MEASURED)."""

    elements: int
    zeros: int

    @classmethod
    def total(cls, counts: Iterable[tuple[int, int]]) -> ZeroCount:
        pairs = list(counts)
        return cls(sum(n for n, _ in pairs), sum(z for _, z in pairs))

    @property
    def sparsity(self) -> float:
        return round(self.zeros / self.elements, 6) if self.elements else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"elements": self.elements, "zeros": self.zeros, "sparsity": self.sparsity}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ZeroCount:
        return cls(int(d["elements"]), int(d["zeros"]))


# ---------------------------------------------------------------- .tflite


@dataclass(frozen=True)
class OutputCheck:
    """One output of a variant against a bundle's golden outputs (MEASURED, as `edgekit verify BUNDLE`)."""

    name: str
    cosine: float
    sqnr_db: float
    top1_agreement: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "cosine": self.cosine, "sqnr_db": self.sqnr_db, "top1_agreement": self.top1_agreement}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputCheck:
        return cls(str(d["name"]), float_or_nan(d["cosine"]), float_or_nan(d["sqnr_db"]),
                   optional_float(d.get("top1_agreement")))


@dataclass(frozen=True)
class VariantCheck:
    """`edgekit verify BUNDLE` of one variant (the model as it is, or pruned in memory): MEASURED on the bundle's
    golden inputs against the original model's stored outputs, judged by verify's thresholds."""

    passed: bool
    samples: int
    outputs: tuple[OutputCheck, ...]
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "samples": self.samples, "outputs": [o.to_dict() for o in self.outputs],
                "failures": list(self.failures)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VariantCheck:
        return cls(bool(d["passed"]), int(d["samples"]), tuple(OutputCheck.from_dict(o) for o in d["outputs"]),
                   tuple(str(f) for f in d.get("failures", ())))

    def describe(self) -> str:
        worst = min(self.outputs, key=lambda o: o.cosine)
        top1 = "" if worst.top1_agreement is None else f", top-1 {100 * worst.top1_agreement:.0f}%"
        return f"{'PASS' if self.passed else 'FAIL'} (cosine {worst.cosine:.4f}{top1})"


@dataclass(frozen=True)
class WhatIfRow:
    """The .tflite with its weights pruned to ``target_sparsity`` in memory: sizes MEASURED on those bytes."""

    target_sparsity: float
    achieved_sparsity_pruned_tensors: float
    weights_sparsity: float
    tensors_pruned: int
    tensors_skipped: int
    file_bytes: int
    deflate9_bytes: int
    zstd_bytes: int | None
    fits_devices: tuple[str, ...] | None  # None without device profiles
    source: str = TFLITE_WHAT_IF_SOURCE
    check: VariantCheck | None = None  # with --verify-on BUNDLE: the pruned bytes verified on the bundle

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_sparsity": self.target_sparsity,
            "achieved_sparsity_pruned_tensors": self.achieved_sparsity_pruned_tensors,
            "weights_sparsity": self.weights_sparsity,
            "tensors_pruned": self.tensors_pruned,
            "tensors_skipped": self.tensors_skipped,
            "file_bytes": self.file_bytes,
            "deflate9_bytes": self.deflate9_bytes,
            "zstd_bytes": self.zstd_bytes,
            "ram": "unchanged",
            "fits_devices": None if self.fits_devices is None else list(self.fits_devices),
            "source": self.source,
            **({} if self.check is None else {"verify": self.check.to_dict()}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WhatIfRow:
        fits = d.get("fits_devices")
        return cls(
            target_sparsity=float(d["target_sparsity"]),
            achieved_sparsity_pruned_tensors=float(d["achieved_sparsity_pruned_tensors"]),
            weights_sparsity=float(d["weights_sparsity"]), tensors_pruned=int(d["tensors_pruned"]),
            tensors_skipped=int(d["tensors_skipped"]), file_bytes=int(d["file_bytes"]),
            deflate9_bytes=int(d["deflate9_bytes"]), zstd_bytes=optional_int(d.get("zstd_bytes")),
            fits_devices=None if fits is None else tuple(str(x) for x in fits), source=str(d["source"]),
            check=VariantCheck.from_dict(d["verify"]) if d.get("verify") is not None else None,
        )


def render_fits(fits: DeviceFits) -> list[str]:
    if not fits.available:
        return [f"Device fits: not shown ({fits.reason})."]
    rows = []
    for d in fits.devices:
        st = "unknown (profile names no size)" if d.storage_fits is None else ("yes" if d.storage_fits else "NO")
        rows.append([d.device, human_bytes(d.ram_needed_bytes), human_bytes(d.usable_ram_bytes),
                     "yes" if d.ram_fits else "NO", st])
    return [f"Device fits (RAM {fits.ram_method}; the same for every pruned variant):",
            format_table(["device", "RAM needed", "usable RAM", "fits RAM", "fits storage"], rows, align="lrrll")]


@dataclass(frozen=True)
class TFLiteSizeReport:
    """`edgekit size MODEL.tflite`: sizes and zeros MEASURED on the file's bytes; RAM needed ESTIMATED per device."""

    kind: ClassVar[str] = "size"
    basis: ClassVar[Basis] = Basis.MEASURED

    model: str
    quantization: str
    parameters: int
    file_bytes: int
    compressed: CompressedSizes
    weights: ZeroCount
    all_constants: ZeroCount
    tensors: tuple[TensorSparsity, ...]
    what_if_scope: str
    what_if: tuple[WhatIfRow, ...]
    fits: DeviceFits
    zstd_note: str | None = None  # why zstd was not measured
    zero_definition: str = ZERO_DEFINITION
    what_if_policy: str = TFLITE_POLICY
    ram_note: str = RAM_NOTE
    produced_by: Producer | None = field(default_factory=Producer.here)
    verify_on: str | None = None  # --verify-on BUNDLE: the bundle every variant was verified on
    check: VariantCheck | None = None  # the model as it is, verified on that bundle
    thresholds: dict[str, float | None] | None = None  # verify's thresholds the checks were judged by
    verify_runtime: str | None = None  # the runtime the variants ran on ("ai-edge-litert 2.3.0")

    @property
    def sparse_encoded_tensors(self) -> int:
        return sum(1 for t in self.tensors if t.sparse)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "format": "tflite",
            "quantization": self.quantization,
            "parameters": self.parameters,
            "file_bytes": self.file_bytes,
            "compressed": self.compressed.to_dict(),
            "zstd_note": self.zstd_note,
            "sparsity": {"weights": self.weights.to_dict(), "all_constants": self.all_constants.to_dict(),
                         "zero_definition": self.zero_definition},
            "tensors": [t.to_dict() for t in self.tensors],
            "sparse_encoded_tensors": self.sparse_encoded_tensors,
            "what_if": {"scope": self.what_if_scope, "policy": self.what_if_policy,
                        "rows": [w.to_dict() for w in self.what_if], "ram_note": self.ram_note},
            "fits": self.fits.to_dict(),
            **producer_entry(self.produced_by),
            **({} if self.verify_on is None else {"verify_on": {
                "bundle": self.verify_on, "method": VERIFY_ON_METHOD, "runtime": self.verify_runtime,
                "thresholds": self.thresholds, "as_is": self.check.to_dict() if self.check else None}}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TFLiteSizeReport:
        check_kind(d, cls.kind)
        sp, wi = d["sparsity"], d["what_if"]
        return cls(
            model=str(d["model"]), quantization=str(d["quantization"]), parameters=int(d["parameters"]),
            file_bytes=int(d["file_bytes"]), compressed=CompressedSizes.from_dict(d["compressed"]),
            weights=ZeroCount.from_dict(sp["weights"]), all_constants=ZeroCount.from_dict(sp["all_constants"]),
            tensors=tuple(TensorSparsity.from_dict(t) for t in d["tensors"]), what_if_scope=str(wi["scope"]),
            what_if=tuple(WhatIfRow.from_dict(w) for w in wi["rows"]), fits=DeviceFits.from_dict(d["fits"]),
            zstd_note=d.get("zstd_note"), zero_definition=str(sp["zero_definition"]),
            what_if_policy=str(wi["policy"]), ram_note=str(wi["ram_note"]),
            produced_by=Producer.from_dict(d.get("produced_by")),
            verify_on=str(d["verify_on"]["bundle"]) if d.get("verify_on") else None,
            check=VariantCheck.from_dict(d["verify_on"]["as_is"]) if (d.get("verify_on") or {}).get("as_is") else None,
            thresholds=dict(d["verify_on"]["thresholds"]) if (d.get("verify_on") or {}).get("thresholds") else None,
            verify_runtime=(d.get("verify_on") or {}).get("runtime"),
        )

    def render(self) -> str:
        c = self.compressed
        lines = [
            f"{self.model}  (.tflite, {self.quantization}, {self.parameters:,} parameters)",
            f"  file size        {_b(self.file_bytes)}  measured",
            f"  deflate -9       {_b(c.deflate9_bytes)}  measured (over-the-air proxy)",
            f"  zstd -19         {_b(c.zstd_bytes)}  measured" if c.zstd_bytes is not None
            else f"  zstd             {self.zstd_note}",
            f"  sparsity         weights {_pct(self.weights.sparsity)} zeros, all constants "
            f"{_pct(self.all_constants.sparsity)}  measured ({self.zero_definition})",
            *([f"  sparse encoding  {self.sparse_encoded_tensors} tensor(s) stored sparse-encoded (zeros not stored; "
               "LiteRT's default XNNPACK path cannot run sparse int8/dynamic-range models)"]
              if self.sparse_encoded_tensors else []),
            "",
            "Per tensor (measured):",
            format_table(
                ["tensor", "role", "op", "dtype", "shape", "elements", "zeros", "sparsity", "bytes"],
                [[_short(t.name), t.role, t.op, t.dtype, _shape(t.shape), f"{t.num_elements:,}",
                  f"{t.zeros:,}" + ("+" if t.sparse else ""), _pct(round(t.sparsity, 6)), f"{t.nbytes:,}"]
                 for t in self.tensors],
                align="lllllrrrr",
            ),
            "",
            f"What if pruned by magnitude ({self.what_if_scope}; {self.what_if_policy}); "
            "measured in memory, nothing written:",
        ]
        n_dev = len(self.fits.devices) if self.fits.available else 0
        fit_text = f"{len(self.fits.fitting_ids() or [])}/{n_dev} devices" if n_dev else "-"
        checked = self.verify_on is not None
        rows = [["as is", _pct(self.weights.sparsity), f"{self.file_bytes:,}", f"{c.deflate9_bytes:,}",
                 "-" if c.zstd_bytes is None else f"{c.zstd_bytes:,}", "as is", fit_text,
                 *([self.check.describe() if self.check else "-"] if checked else [])]]
        for w in self.what_if:
            rows.append([_pct(w.target_sparsity), _pct(w.weights_sparsity), f"{w.file_bytes:,}",
                         f"{w.deflate9_bytes:,}", "-" if w.zstd_bytes is None else f"{w.zstd_bytes:,}",
                         "unchanged", "-" if w.fits_devices is None else f"{len(w.fits_devices)}/{n_dev} devices",
                         *([w.check.describe() if w.check else "-"] if checked else [])])
        lines.append(format_table(["pruned to", "weights sparsity", "file bytes", "deflate-9 bytes", "zstd bytes",
                                   "RAM", "fits", *(["verify on the bundle"] if checked else [])], rows,
                                  align="lrrrrll" + ("l" if checked else "")))
        if checked:
            lines.append(f"Verify: each variant run on the golden inputs of {self.verify_on} against the original's "
                         "stored outputs (measured; verify's thresholds).")
        lines.append(f"Note: {self.ram_note}")
        lines.append("")
        lines.extend(render_fits(self.fits))
        return "\n".join(lines)


# ---------------------------------------------------------------- float source models


@dataclass(frozen=True)
class SourceTensor:
    """One parameter tensor of a float source model, with its exact zeros (MEASURED)."""

    name: str
    role: str  # weights | bias | other
    shape: tuple[int, ...]
    elements: int
    zeros: int

    @property
    def sparsity(self) -> float:
        return round(self.zeros / max(self.elements, 1), 6)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "shape": list(self.shape), "elements": self.elements,
                "zeros": self.zeros, "sparsity": self.sparsity}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceTensor:
        return cls(str(d["name"]), str(d["role"]), tuple(int(x) for x in d["shape"]), int(d["elements"]),
                   int(d["zeros"]))


@dataclass(frozen=True)
class QuantizeEstimate:
    """What one ``convert --quantize`` mode would weigh: ESTIMATED (weights only, stored as the mode stores them)."""

    mode: str
    file_bytes: int
    deflate9_bytes: int | None
    weights_as: str

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "file_bytes": self.file_bytes, "deflate9_bytes": self.deflate9_bytes,
                "weights_as": self.weights_as, "source": Basis.ESTIMATED.value}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QuantizeEstimate:
        return cls(str(d["mode"]), int(d["file_bytes"]), optional_int(d.get("deflate9_bytes")), str(d["weights_as"]))


@dataclass(frozen=True)
class SourceWhatIfRow:
    """The source weights pruned in memory, then int8-quantized in numpy: sizes ESTIMATED."""

    target_sparsity: float
    achieved_sparsity_pruned_tensors: float
    weights_sparsity: float
    file_bytes: int
    deflate9_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"target_sparsity": self.target_sparsity,
                "achieved_sparsity_pruned_tensors": self.achieved_sparsity_pruned_tensors,
                "weights_sparsity": self.weights_sparsity, "file_bytes": self.file_bytes,
                "deflate9_bytes": self.deflate9_bytes, "ram": "unchanged", "source": Basis.ESTIMATED.value}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceWhatIfRow:
        return cls(float(d["target_sparsity"]), float(d["achieved_sparsity_pruned_tensors"]),
                   float(d["weights_sparsity"]), int(d["file_bytes"]), int(d["deflate9_bytes"]))


@dataclass(frozen=True)
class SourceSizeReport:
    """`edgekit size MODEL.keras|SavedModel|.onnx`: the file and its zeros MEASURED; every .tflite size ESTIMATED."""

    kind: ClassVar[str] = "size"

    model: str
    format: str  # keras | saved_model | onnx
    is_dir: bool  # a SavedModel folder: file_bytes sums its files
    parameters: int
    file_bytes: int
    deflate9_bytes: int  # of the file (or the folder's files, concatenated)
    weights: ZeroCount
    all_parameters: ZeroCount
    tensors: tuple[SourceTensor, ...]
    quantize_estimates: tuple[QuantizeEstimate, ...]
    what_if_scope: str
    what_if: tuple[SourceWhatIfRow, ...]
    quantize_method: str = SOURCE_QUANTIZE_METHOD
    what_if_method: str = SOURCE_WHAT_IF_METHOD
    ram_note: str = RAM_NOTE
    fits_reason: str = SOURCE_FITS_REASON
    produced_by: Producer | None = field(default_factory=Producer.here)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "format": self.format,
            "is_dir": self.is_dir,
            "parameters": self.parameters,
            "weight_tensors": len(self.tensors),
            "file_bytes": self.file_bytes,
            "compressed": {"deflate9_bytes": self.deflate9_bytes, "source": Basis.MEASURED.value},
            "sparsity": {"weights": self.weights.to_dict(), "all": self.all_parameters.to_dict()},
            "tensors": [t.to_dict() for t in self.tensors],
            "quantize_estimates": {"method": self.quantize_method,
                                   "modes": [q.to_dict() for q in self.quantize_estimates]},
            "fits": DeviceFits.unavailable(self.fits_reason).to_dict(),
            "what_if": {"scope": self.what_if_scope, "method": self.what_if_method,
                        "rows": [w.to_dict() for w in self.what_if], "ram_note": self.ram_note},
            **producer_entry(self.produced_by),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceSizeReport:
        check_kind(d, cls.kind)
        sp, qe, wi = d["sparsity"], d["quantize_estimates"], d["what_if"]
        return cls(
            model=str(d["model"]), format=str(d["format"]), is_dir=bool(d["is_dir"]), parameters=int(d["parameters"]),
            file_bytes=int(d["file_bytes"]), deflate9_bytes=int(d["compressed"]["deflate9_bytes"]),
            weights=ZeroCount.from_dict(sp["weights"]), all_parameters=ZeroCount.from_dict(sp["all"]),
            tensors=tuple(SourceTensor.from_dict(t) for t in d["tensors"]),
            quantize_estimates=tuple(QuantizeEstimate.from_dict(q) for q in qe["modes"]),
            what_if_scope=str(wi["scope"]), what_if=tuple(SourceWhatIfRow.from_dict(w) for w in wi["rows"]),
            quantize_method=str(qe["method"]), what_if_method=str(wi["method"]), ram_note=str(wi["ram_note"]),
            fits_reason=str(d["fits"].get("reason") or ""),
            produced_by=Producer.from_dict(d.get("produced_by")),
        )

    def render(self) -> str:
        lines = [
            f"{self.model}  ({self.format}, {self.parameters:,} parameters in {len(self.tensors)} tensors)",
            f"  file size        {_b(self.file_bytes)}  measured" + (" (sum of the folder's files)" if self.is_dir else ""),
            f"  deflate -9       {_b(self.deflate9_bytes)}  measured",
            f"  sparsity         weights {_pct(self.weights.sparsity)} zeros, all parameters "
            f"{_pct(self.all_parameters.sparsity)}  measured (exact 0.0)",
            "",
            "Per tensor (measured):",
            format_table(["tensor", "role", "shape", "elements", "zeros", "sparsity"],
                         [[_short(t.name), t.role, _shape(t.shape), f"{t.elements:,}", f"{t.zeros:,}",
                           _pct(t.sparsity)] for t in self.tensors], align="lllrrr"),
            "",
            f"What each `edgekit convert --quantize` mode would weigh ({self.quantize_method}):",
            format_table(["--quantize", "file bytes", "deflate-9 bytes", "weights stored as"],
                         [[q.mode, f"~{q.file_bytes:,}", "-" if q.deflate9_bytes is None else f"~{q.deflate9_bytes:,}",
                           q.weights_as] for q in self.quantize_estimates], align="lrrl"),
            "",
            f"What if pruned by magnitude ({self.what_if_scope}; int8 estimate, {self.what_if_method}):",
            format_table(["pruned to", "weights sparsity", "int8 file bytes", "int8 deflate-9 bytes", "RAM"],
                         [[_pct(w.target_sparsity), _pct(w.weights_sparsity), f"~{w.file_bytes:,}",
                           f"~{w.deflate9_bytes:,}", "unchanged"] for w in self.what_if], align="lrrrl"),
            f"Note: {self.ram_note}",
            "Device fits: run `edgekit size` on the converted .tflite (RAM depends on the converted graph).",
        ]
        return "\n".join(lines)


__all__ = ["OutputCheck", "QuantizeEstimate", "VariantCheck", "RAM_NOTE", "SourceSizeReport", "SourceTensor", "SourceWhatIfRow", "TFLiteSizeReport",
           "WhatIfRow", "ZeroCount", "render_fits"]
