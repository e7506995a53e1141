"""`edgekit verify ORIGINAL CONVERTED.tflite` on the workstation.

The original model is loaded through the convert package's loaders (a
:class:`~edgekit.core.source.SourceModel` with a reference runner); the
inputs come from ``--data`` (prepared by :func:`edgekit.data.load_samples`),
labelled images (:mod:`edgekit.verify.labels`), the golden inputs of a bundle
the .tflite sits in, or synthetic data (said loudly).
Both models run on the same samples; outputs are compared in the TFLite
layout (ONNX outputs are permuted with ``TensorSpec.to_tflite_perm``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.shapes import ShapeRequest
from edgekit.core.source import SourceFormat, TensorSpec, detect_format
from edgekit.data import DataSummary, Preprocessing, load_samples, permute_samples
from edgekit.errors import DataError, UsageError
from edgekit.host.reference import run_reference
from edgekit.host.source_model import LoadOptions, SourceModel
from edgekit.verify.bounds import range_widths
from edgekit.verify.compare import InputSource, VerifyReport, compare_accuracy, compare_outputs, range_notes
from edgekit.verify.labels import LabelledData, load_labelled_files, load_labelled_folder, read_label_table
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD
from edgekit.verify.ranked import ranked_rows
from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors, canonical, zero_input_warning
from edgekit.verify.thresholds import default_thresholds


@dataclass
class PreparedData:
    arrays: dict[str, np.ndarray]  # source input name -> (N, *spec.shape), source layout
    source: InputSource
    description: str
    labels: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    class_order_guessed: bool = False  # labels from sorted folder names (may not be the model's class order)
    recipe: Preprocessing | None = None  # the preprocessing used for images (given, or from a manifest)
    warnings: list[str] = field(default_factory=list)


def _shifted(spec: TensorSpec) -> tuple[int, ...]:
    perm = spec.to_tflite_perm
    return spec.shape if perm is None else tuple(spec.shape[p] for p in perm)


def load_original(path: Path, shapes: ShapeRequest | None = None, keep_nchw: Sequence[str] = (), debug: bool = False,
                  converted: Path | None = None, data: Path | None = None) -> SourceModel:
    """The ORIGINAL model (format detected from the path), as verify's reference.

    The shape options must be the ones given to `edgekit convert`. With
    ``converted``, an ONNX model is read by :func:`edgekit.host.onnx.reference.load_onnx_reference`
    (onnxruntime + the layout of that .tflite; no second onnx2tf run); otherwise
    through the convert loaders (``--explain`` needs the SavedModel they make). ``data`` (verify's --data) gives
    the values of ONNX inputs convert fixed from its data (the .tflite has no such input), when no bundle
    manifest next to the .tflite records them.
    """
    from edgekit.host.convert.loaders import load_source
    from edgekit.host.convert.tf_util import native_quiet, quiet_tf

    fmt = detect_format(Path(path))
    if fmt is SourceFormat.TFLITE:
        return float_tflite_original(Path(path))
    options = LoadOptions(shapes=shapes or ShapeRequest(), keep_nchw=tuple(keep_nchw), check=False, debug=debug)
    if fmt is SourceFormat.ONNX and converted is not None:
        from edgekit.host.onnx.reference import load_onnx_reference

        return load_onnx_reference(Path(path), dataclasses.replace(options, check_data=data), Path(converted))
    quiet_tf(debug)
    with native_quiet(debug):  # TensorFlow's C++ start-up lines go to fd 2 directly
        return load_source(Path(path), options)


def float_tflite_original(path: Path) -> SourceModel:
    """A float (or float16-weight) .tflite as the ORIGINAL: what `convert MODEL.tflite` quantized.

    The reference outputs are the float model's own (LiteRT, float16 weights folded to float32 as
    the quantizer saw them). An already quantized ORIGINAL is refused: it is not a reference.
    """
    from edgekit.requant.pipeline import load_tflite_source

    try:
        tfl = load_tflite_source(path)
    except UsageError as exc:
        raise UsageError(f"ORIGINAL {path}: {exc.message}",
                         hint="verify compares a converted .tflite with the FLOAT model it came from (a .keras, "
                         "SavedModel, .onnx or float .tflite).") from None
    return SourceModel(path=path, format=SourceFormat.TFLITE, inputs=tfl.inputs, outputs=tfl.outputs, run=tfl.run,
                       notes=list(tfl.float_model.notes))


def manifest_next_to(tflite_path: Path, warnings: list[str]) -> dict[str, Any] | None:
    """The bundle manifest.json in the .tflite's folder, if there is one (unreadable: a warning, None)."""
    path = tflite_path.parent / "manifest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warnings.append(f"ignoring {path}: {exc}")
        return None
    return data if isinstance(data, dict) else None


def prepare_data(
    source: SourceModel,
    tflite_path: Path,
    data: Path | None,
    recipe: Preprocessing | None,
    samples: int,
    labels: Path | None,
) -> PreparedData:
    """Choose and load the inputs (see :func:`_prepare`); the result remembers the recipe used."""
    warnings: list[str] = []
    manifest = manifest_next_to(tflite_path, warnings)
    if recipe is None and manifest and isinstance(manifest.get("preprocessing"), dict):
        recipe = Preprocessing.from_dict(manifest["preprocessing"])
        note = f"preprocessing from {tflite_path.parent / 'manifest.json'}: {recipe.describe()}"
    else:
        note = ""
    prepared = _prepare(source, tflite_path, manifest, data, recipe, samples, labels, warnings)
    prepared.recipe = recipe
    prepared.warnings[:0] = warnings
    if note:
        prepared.notes.insert(0, note)
    return prepared


def _prepare(
    source: SourceModel,
    tflite_path: Path,
    manifest: dict[str, Any] | None,
    data: Path | None,
    recipe: Preprocessing | None,
    samples: int,
    labels: Path | None,
    warnings: list[str],
) -> PreparedData:
    """Choose and load the inputs.

    In order: labels that name images (--labels DIR or a CSV with a file
    column), --data, the golden inputs of the bundle the .tflite sits in, the
    calibration data its manifest names (absolute path that still exists), or
    synthetic inputs (with a loud warning). A manifest's preprocessing recipe
    is used unless preprocessing options were given.
    """
    specs = source.inputs
    notes: list[str] = []

    if data is None and labels is None and (tflite_path.parent / "golden.npz").is_file():
        golden = golden_inputs_next_to(source, tflite_path, samples, warnings)
        if golden is not None:
            golden.notes = notes + golden.notes
            return golden
    if data is None and labels is None and manifest:
        calib = manifest.get("calibration")
        calib_source = str(calib.get("source") or "") if isinstance(calib, dict) else ""
        # only an absolute path is unambiguous (a bare name would be looked up in the current folder)
        if calib_source and Path(calib_source).is_absolute() and Path(calib_source).exists():
            data = Path(calib_source)
            notes.append(f"inputs: the calibration data named in the manifest ({data})")

    if labels is not None and labels.is_dir():
        if data is not None and data.resolve() != labels.resolve():
            raise UsageError(
                f"--labels {labels} is a folder of labelled images but --data is {data}.",
                hint="With --labels DIR the images come from DIR; drop --data (or pass the same folder).",
            )
        prepared = _labelled(load_labelled_folder(labels, specs, recipe, samples), notes)
        prepared.class_order_guessed = True
        return prepared
    table = read_label_table(labels, data if data is not None and data.is_dir() else None) if labels else None
    if labels is not None and table is not None and table.files is not None:
        return _labelled(load_labelled_files(table, labels, specs, recipe, samples), notes)

    arrays, summary = load_samples(data, specs, recipe, samples)
    prepared = PreparedData(
        arrays=arrays,
        source=InputSource.SYNTHETIC if data is None else InputSource.DATA,
        description=_describe_summary(summary),
        notes=notes + list(summary.notes),
    )
    if data is None:
        prepared.warnings.append("no --data given: verifying on SYNTHETIC random inputs. This checks that the two "
                                 "models agree, not that the converted model is accurate; pass --data (and --labels) "
                                 "for that.")
    if labels is not None and table is not None:
        if data is None or data.is_dir():
            raise UsageError(
                f"--labels {labels} has one label per sample but no file names, so it needs --data FILE.npy/.npz "
                "with the samples in the same order" + (f" (images from the folder {data} are loaded in shuffled "
                                                        "order)" if data is not None else "") + ".",
                hint="For images use --labels DIR (class_name/image sub-folders) or a CSV with file and label columns.",
            )
        count = next(iter(arrays.values())).shape[0]
        if table.labels.shape[0] < count:
            raise DataError(f"{labels} has {table.labels.shape[0]} labels for {count} samples.",
                            hint="Give one label per sample, in the order of the data.")
        prepared.labels = table.labels[:count]
    return prepared


def _labelled(data: LabelledData, notes: list[str]) -> PreparedData:
    return PreparedData(arrays=data.arrays, source=InputSource.DATA, description=data.description,
                        labels=data.labels, notes=list(notes))


def golden_inputs_next_to(source: SourceModel, tflite_path: Path, samples: int,
                          warnings: list[str]) -> PreparedData | None:
    """The golden inputs of the bundle the .tflite sits in, in the ORIGINAL's layout (None if they do not fit)."""
    from edgekit.bundle import read_bundle
    from edgekit.errors import BundleError

    try:
        bundle = read_bundle(tflite_path.parent)
    except BundleError as exc:
        warnings.append(f"not using the bundle around {tflite_path.name}: {exc}")
        return None
    if bundle.model_path.resolve() != tflite_path.resolve():
        return None
    entries = {str(e.get("source_name") or e["name"]): e for e in bundle.manifest["inputs"] if isinstance(e, dict)}
    arrays: dict[str, np.ndarray] = {}
    for spec in source.inputs:
        entry = entries.get(spec.name)
        if entry is None or str(entry["name"]) not in bundle.golden_inputs:
            warnings.append(f"the bundle's golden inputs do not name the original's input '{spec.name}'; "
                            "not using them")
            return None
        arr = bundle.golden_inputs[str(entry["name"])][:samples]
        perm = spec.to_tflite_perm
        if perm is not None:
            arr = permute_samples(arr, [int(i) for i in np.argsort(perm)])
        if tuple(arr.shape[1:]) != spec.shape:
            warnings.append(f"golden input '{spec.name}' has shape {list(arr.shape[1:])}, the original wants "
                            f"{list(spec.shape)}")
            return None
        arrays[spec.name] = arr.astype(np.dtype(spec.dtype), copy=False)
    return PreparedData(arrays=arrays, source=InputSource.BUNDLE,
                        description=f"the golden inputs of the bundle {bundle.dir}")


def _describe_summary(summary: DataSummary) -> str:
    if summary.kind == "synthetic":
        return "random (synthetic) inputs, no --data"
    extra = f", {summary.skipped} skipped" if summary.skipped else ""
    return f"{summary.source} ({summary.kind}{extra})"


def verify_against_original(
    source: SourceModel,
    tflite_path: Path,
    prepared: PreparedData,
    overrides: dict[str, float | None] | None = None,
    num_threads: int | None = None,
    map_threshold: float = DEFAULT_MAP_THRESHOLD,
) -> VerifyReport:
    """Run both models on ``prepared`` inputs and judge the converted one."""
    runner = TFLiteRunner(tflite_path, num_threads=num_threads)
    model = runner.model
    in_specs, out_specs = source.inputs, source.outputs
    in_tensors = bind_tensors("input", [Wanted(s.name, _shifted(s), s.dtype) for s in in_specs], model)
    out_tensors = bind_tensors("output", [Wanted(s.name, _shifted(s), "float32") for s in out_specs], model)

    reference_src = run_reference(source, prepared.arrays)
    feeds = [
        canonical(permute_samples(prepared.arrays[s.name], s.to_tflite_perm), t, f"Input '{s.name}'")
        for s, t in zip(in_specs, in_tensors, strict=True)
    ]
    results = runner.run(in_tensors, feeds, out_tensors)
    converted = {s.name: r for s, r in zip(out_specs, results, strict=True)}
    reference = {
        s.name: canonical(permute_samples(reference_src[s.name], s.to_tflite_perm), t, f"Output '{s.name}'")
        for s, t in zip(out_specs, out_tensors, strict=True)
    }

    kind = model.quant_kind
    thresholds = default_thresholds(kind).with_overrides(**(overrides or {}))
    extra_notes = []
    if prepared.source is InputSource.SYNTHETIC and (overrides or {}).get("min_top1") is None \
            and thresholds.min_top1 is not None:
        # random inputs give near-tied class scores: top-1 flips say little; cosine/SQNR still judge
        thresholds = dataclasses.replace(thresholds, min_top1=None)
        extra_notes.append("top-1 agreement is shown but not enforced on synthetic inputs (class scores of random "
                           "inputs are near ties); pass --data, or --min-top1 to enforce it")
    if prepared.source is InputSource.SYNTHETIC and (overrides or {}).get("min_iou") is None \
            and thresholds.min_iou is not None:
        thresholds = dataclasses.replace(thresholds, min_iou=None)  # maps of random inputs mean nothing
    tensors = [t.index for t in out_tensors]
    outputs = compare_outputs(reference, converted, thresholds, map_threshold,
                              dict(zip(converted, range_widths(model, tensors), strict=True)),
                              dict(zip(converted, ranked_rows(model, tensors), strict=True)))
    report = VerifyReport(
        samples=int(feeds[0].shape[0]),
        runtime=runner.runtime,
        input_source=prepared.source,
        quantization=kind.value,
        thresholds=thresholds,
        outputs=outputs,
        model=str(tflite_path),
        reference=f"{source.path} ({source.format.value})",
        notes=list(source.notes) + list(prepared.notes) + extra_notes + range_notes(outputs, thresholds),
        warnings=list(source.warnings) + list(prepared.warnings),
    )
    report.notes.insert(0, f"inputs: {prepared.description}")
    if runner.zero_input_refused:
        report.warnings.append(zero_input_warning(runner.zero_input_refused, "these samples"))
    if prepared.labels is not None:
        report.accuracy = compare_accuracy(reference, converted, prepared.labels)
        if prepared.class_order_guessed and report.accuracy.original < 0.5:
            message = (f"the ORIGINAL model reaches only {report.accuracy.original:.0%} on these labels: check that "
                       "the sorted class folder names are the model's class order; otherwise give a CSV with "
                       "file and label columns (--labels FILE.csv)")
            report.warnings.append(message)
    return report

