"""`edgekit convert` as a pipeline of small stages.

load -> calibration data -> [prune hook] -> quantize/convert -> validate -> write.
Each stage is a function; :func:`run_convert` strings them together and
returns a :class:`ConvertResult` (``to_dict()`` for --json; the command renders
tables, notes and warnings for people).
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgekit import __version__
from edgekit.bundle import path_size_bytes, sha256_path, utc_now, write_bundle
from edgekit.core.quant import CalibrationMethod, IOType, QuantizeMode
from edgekit.core.recipe import Engine
from edgekit.data import DataSummary, Preprocessing, image_geometry, load_samples, permute_samples
from edgekit.errors import BundleError, OutputExistsError
from edgekit.fsutil import check_output_path, write_bytes_atomic
from edgekit.host.convert.config import ConvertConfig
from edgekit.host.convert.loaders import load_source
from edgekit.host.convert.prune import PruneReport, finish_conversion, prune_source
from edgekit.host.convert.quantize import convert, float_ops_error, map_to_signature, signature_input_names
from edgekit.host.convert.tf_util import native_quiet
from edgekit.host.convert.validate import Validation, validate
from edgekit.host.reference import run_reference
from edgekit.host.source_model import SourceModel
from edgekit.requant.check import CheckResult, check_warning, converted_zero_input_warning, judge
from edgekit.requant.int8graph import finish_int8
from edgekit.requant.sequence import held_out_sequence, judge_sequence
from edgekit.requant.stats import ActivationStats, RangeComparison

MIN_CALIBRATION_SAMPLES = 50


@dataclass
class ConvertResult:
    """`edgekit convert`: the .tflite bytes written and what went into them (``to_dict()`` is the --json)."""

    kind: ClassVar[str] = "convert"

    config: ConvertConfig
    source: SourceModel
    data: bytes
    validation: Validation
    calibration: DataSummary
    stage_seconds: dict[str, float]
    seconds: float
    kept_float: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    prune_report: PruneReport | None = None
    bundle_dir: Path | None = None
    check: CheckResult | None = None  # verify's judgement of the golden (or --data) samples
    ranges: RangeComparison | None = None  # --data: activation ranges vs the calibration data's

    @property
    def passed(self) -> bool:
        """convert's own check met verify's default thresholds (True when there was nothing to judge)."""
        return self.check is None or self.check.passed

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    @property
    def source_size_bytes(self) -> int:
        return path_size_bytes(self.config.model)

    def to_dict(self) -> dict[str, Any]:
        v = self.validation
        prune = self.prune_report.to_dict() if self.prune_report is not None else None
        return {
            "kind": self.kind,
            "output": str(self.config.output),
            "source": {"path": str(self.config.model), "format": self.source.format.value,
                       "size_bytes": self.source_size_bytes},
            "quantization": self.config.quantize.value,
            "io_type": self.config.resolved_io_type.value,
            "per_tensor": self.config.per_tensor,
            "quant_kind_detected": v.model.quant_kind.value,
            "inputs": [e.to_dict() for e in v.inputs],
            "outputs": [e.to_dict() for e in v.outputs],
            "size_bytes": self.size_bytes,
            "source_size_bytes": self.source_size_bytes,
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(s, 3) for k, s in self.stage_seconds.items()},
            "calibration": self.calibration.to_dict(),
            "preprocessing": self.calibration.preprocessing,
            "float_ops": v.float_ops if self.config.quantize.needs_calibration else {},
            "kept_float": self.kept_float,
            "golden_check": {"measured": True, "outputs": v.golden_check},
            "prune": prune,
            "bundle": str(self.bundle_dir) if self.bundle_dir else None,
            "engine": self.config.engine.value,
            "recipe": self.config.recipe.describe() if self.config.recipe is not None else None,
            "check": self.check.to_dict() if self.check is not None else None,
            "ranges": None if self.ranges is None else self.ranges.to_dict(),
            "conversion": self.source.conversion,
            "notes": self.notes,
            "warnings": self.warnings,
        }


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def _check_outputs(config: ConvertConfig) -> None:
    check_output_path(config.output, config.force)
    b = config.bundle
    if b is not None and Path(b).is_dir() and any(Path(b).iterdir()) and not config.force:
        raise OutputExistsError(f"Bundle folder {b} already exists and is not empty.")
    if b is not None and Path(b).exists() and not Path(b).is_dir():
        raise BundleError(f"Bundle path {b} exists and is not a folder.", hint="Choose a folder path for --bundle.")


def resolved_recipe(config: ConvertConfig, source: SourceModel) -> Preprocessing:
    """The recipe with the layout filled in from the (first) image input when the user left it to us."""
    recipe = config.preprocessing
    if recipe.layout is None:
        for spec in source.inputs:
            geo = image_geometry(spec)
            if geo is not None:
                return Preprocessing.from_dict({**recipe.to_dict(), "layout": geo.layout.value})
    return recipe


def load_data(config: ConvertConfig, source: SourceModel, warnings: list[str]) -> tuple[dict[str, np.ndarray], DataSummary]:
    """Calibration samples (source layout). Without calibration need, only the golden samples."""
    needs = config.quantize.needs_calibration
    count = config.calibration_samples if needs else config.golden_samples
    recipe = resolved_recipe(config, source)
    arrays, summary = load_samples(config.calibration, source.inputs, recipe, count, seed=config.seed,
                                   progress_label="Reading calibration data" if needs else "Reading samples")
    if summary.kind == "arrays":
        summary.preprocessing = None
    if summary.skipped:
        warnings.append(f"{summary.skipped} of {summary.files_seen} files could not be used and were skipped "
                        f"(e.g. {summary.skipped_examples[0]})")
    if needs and summary.kind == "synthetic":
        warnings.append("NO CALIBRATION DATA: calibrated on synthetic random inputs, so the int ranges are guesses "
                        "and the converted model's accuracy is UNKNOWN. Pass --calibration DIR|FILE.npz with real "
                        "inputs.")
    elif needs and summary.count < MIN_CALIBRATION_SAMPLES:
        warnings.append(f"only {summary.count} calibration samples (fewer than {MIN_CALIBRATION_SAMPLES}): the "
                        "activation ranges may miss real inputs and accuracy may drop; give more samples.")
    return arrays, summary


def tool_versions(source: SourceModel) -> dict[str, str]:
    packages = ["tensorflow", "keras", "numpy", "ai-edge-litert"]
    if source.format.value == "onnx":
        packages += ["onnx", "onnx2tf", "onnxruntime"]
    versions = {}
    for pkg in packages:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def run_convert(config: ConvertConfig) -> ConvertResult:
    """Run every stage; TensorFlow's native log output is silenced unless config.debug."""
    with native_quiet(config.debug):
        return _run(config)


def _run(config: ConvertConfig) -> ConvertResult:
    start = time.perf_counter()
    timer = _Timer()
    warnings: list[str] = []
    notes: list[str] = []
    _check_outputs(config)
    with timer.stage("load"):
        source = load_source(config.model, config.load)
    try:
        with timer.stage("data"):
            arrays, summary = load_data(config, source, warnings)
        with timer.stage("prune"):
            prune_report = prune_source(source, config.prune) if config.prune is not None else None
        with timer.stage("reference"):
            n_golden = min(config.golden_samples, summary.count)
            golden_src = {k: v[:n_golden] for k, v in arrays.items()}
            ref = run_reference(source, golden_src)
        # Everything from here on is in the TFLite tensor layout.
        golden_in = {s.name: permute_samples(golden_src[s.name], s.to_tflite_perm) for s in source.inputs}
        golden_out = {s.name: permute_samples(ref[s.name], s.to_tflite_perm) for s in source.outputs}
        with timer.stage("convert"):
            if source.saved_model_dir is None:
                raise RuntimeError(f"the {source.format.value} loader gave no SavedModel to convert")
            sig_names = signature_input_names(source.saved_model_dir)
            mapping = map_to_signature([s.name for s in source.inputs], sig_names, notes)
            samples = {mapping[s.name]: permute_samples(arrays[s.name], s.to_tflite_perm) for s in source.inputs}
            float_data: bytes | None = None
            tf_converted = False
            cache: dict[tuple[int, bool], ActivationStats] = {}
            if config.engine is Engine.AEQ or (config.data is not None and config.quantize.needs_calibration):
                float_data = float_model_bytes(source, config.debug, fresh=config.prune is not None)
            if config.engine is Engine.AEQ and config.recipe is not None and float_data is not None:
                from edgekit.requant.pipeline import apply_recipe

                data = apply_recipe(float_data, config.recipe, feeds_in_model_order(float_data, samples), cache,
                                    config.debug, notes)
                kept = list(config.recipe.float_ops)
            elif (config.quantize is QuantizeMode.NONE and prune_report is None and not config.keep_float
                    and source.float_tflite is not None and Path(source.float_tflite).is_file()):
                # the float .tflite the ONNX backend made from this SavedModel with the same (default) converter
                # settings, which convert's check ran on: shipped as it is instead of converting a second time
                data, kept = Path(source.float_tflite).read_bytes(), list[str]()
                notes.append("float32: the .tflite the ONNX backend made (and the onnxruntime check ran on), not "
                             "converted a second time")
            else:
                data, kept = convert(source.saved_model_dir, config.quantize, config.resolved_io_type,
                                     config.per_tensor, samples, config.keep_float, config.debug)
                tf_converted = True
        if prune_report is not None:
            with timer.stage("prune"):  # measure the pruned file; --sparse-encoding may re-convert
                data = finish_conversion(prune_report, data, source.saved_model_dir, config.quantize,
                                         config.resolved_io_type, config.per_tensor, samples, config.keep_float,
                                         config.debug)
        if tf_converted and config.quantize is not QuantizeMode.NONE:
            data, done = finish_int8(data, int8_leaky=False)  # ai-edge-quantizer's output had it in apply_recipe
            notes.extend(done)
        with timer.stage("validate"):
            checked = validate(data, source, golden_in, golden_out)
            if config.quantize.spec.integer_only and checked.float_ops and not config.keep_float \
                    and config.recipe is None:
                raise float_ops_error(checked.float_ops)
            ranges: RangeComparison | None = None
            check_in, check_out, check_src = golden_in, golden_out, golden_src
            described = f"{n_golden} of the calibration samples" if config.quantize.needs_calibration else \
                f"{n_golden} samples"
            if config.data is not None:
                data_src, data_summary = load_samples(config.data, source.inputs, resolved_recipe(config, source),
                                                      config.data_samples, seed=config.seed,
                                                      progress_label="Reading check data")
                check_src = data_src
                ref_data = run_reference(source, data_src)
                check_in = {s.name: permute_samples(data_src[s.name], s.to_tflite_perm) for s in source.inputs}
                check_out = {s.name: permute_samples(ref_data[s.name], s.to_tflite_perm) for s in source.outputs}
                described = f"{data_summary.count} held-out samples of {config.data}"
                if float_data is not None:
                    ranges = compare_calibration_ranges(float_data, samples, check_in, source, mapping, cache)
                    if ranges.mismatched:
                        warnings.append(ranges.message(summary.source, str(config.data)))
            in_key = {e.spec.name: e.signature_name or e.tensor.name for e in checked.inputs}
            out_key = {e.spec.name: e.signature_name or e.tensor.name for e in checked.outputs}
            feeds = [check_in[e.spec.name] for e in checked.inputs]
            sequence = None
            if config.quantize is not QuantizeMode.NONE:  # a streaming model: judged as it runs, its state fed back
                sequence = held_out_sequence(source.inputs, source.outputs, config.load.state_pairs, check_src,
                                             source.run, in_key, out_key, list(in_key.values()), feeds)
            if sequence is not None:
                check = judge_sequence(data, sequence, map_threshold=config.map_threshold, described=described,
                                       synthetic=summary.kind == "synthetic" and config.data is None)
            else:
                check = judge(data, list(in_key.values()), feeds,
                              {out_key[e.spec.name]: check_out[e.spec.name] for e in checked.outputs},
                              synthetic=summary.kind == "synthetic" and config.data is None,
                              map_threshold=config.map_threshold, described=described)
            check = _with_source_names(check, {e.signature_name or e.tensor.name: e.spec.name for e in checked.outputs})
            if not check.passed:
                from edgekit.host.onnx.repair.base import runtime_quantized

                warnings.append(check_warning(
                    check, f"edgekit tune {config.model} --device ID --calibration DATA --data DATA -o {config.output}",
                    runtime_quantized_float=config.quantize is QuantizeMode.NONE
                    and runtime_quantized(source.conversion)))
            zero_warning = None if float_data is None or config.quantize is QuantizeMode.NONE else \
                converted_zero_input_warning(data, float_data, f"the check's {described}")
            if zero_warning:
                warnings.append(zero_warning)
            if config.quantize is QuantizeMode.DYNAMIC and checked.model.quant_kind.value == "float32":
                warnings.append("--quantize dynamic left every weight in float32: the converter only quantizes "
                                "weight tensors with at least 1024 elements, and this model has none that big.")
        with timer.stage("write"):
            write_bytes_atomic(config.output, data, overwrite=config.force)
            result = ConvertResult(
                config=config, source=source, data=data, validation=checked, calibration=summary,
                stage_seconds=timer.seconds, seconds=0.0, kept_float=kept,
                notes=list(source.notes) + summary.notes + notes,
                warnings=list(source.warnings) + warnings + (prune_report.warnings if prune_report else []),
                prune_report=prune_report, check=check, ranges=ranges,
            )
            if config.bundle is not None:
                manifest = build_manifest(result)
                gin = {e.tensor.name: golden_in[e.spec.name] for e in checked.inputs}
                gout = {e.tensor.name: golden_out[e.spec.name] for e in checked.outputs}
                result.bundle_dir = write_bundle(config.bundle, data, manifest, gin, gout, config.force)
    finally:
        source.close()
    result.seconds = time.perf_counter() - start
    return result


def float_model_bytes(source: SourceModel, debug: bool = False, fresh: bool = False) -> bytes:
    """The float32 .tflite of the source (what ai-edge-quantizer and the range comparison start from): the one
    the loader already made and checked (ONNX), else (or ``fresh``: the SavedModel was pruned since) a float
    conversion of its SavedModel."""
    from edgekit.requant.floatmodel import prepare_float

    if not fresh and source.float_tflite is not None and Path(source.float_tflite).is_file():
        data = Path(source.float_tflite).read_bytes()
    else:
        if source.saved_model_dir is None:
            raise RuntimeError(f"the {source.format.value} loader gave no SavedModel")
        data, _ = convert(source.saved_model_dir, QuantizeMode.NONE, IOType.FLOAT32, debug=debug)
    return prepare_float(data, "float model").data


def feeds_in_model_order(data: bytes, samples: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Samples keyed by signature name -> one array per input of the .tflite ``data``, in its input order."""
    from edgekit.tflite.model import parse_model

    model = parse_model(data, "float model")
    sigs = [s for s in model.signatures if s.subgraph_index == 0]
    by_index = {i: n for n, i in sigs[0].inputs.items()} if sigs else {}
    names = [by_index.get(t.index) for t in model.inputs]
    if all(n in samples for n in names):
        return [samples[str(n)] for n in names]
    return list(samples.values())  # a single input, or the signature order


def compare_calibration_ranges(float_data: bytes, samples: dict[str, np.ndarray], check_in: dict[str, np.ndarray],
                               source: SourceModel, mapping: dict[str, str],
                               cache: dict[tuple[int, bool], ActivationStats]) -> RangeComparison:
    """Activation ranges of the float model on the calibration samples vs on the check data."""
    from edgekit.requant.pipeline import stats_for
    from edgekit.requant.stats import collect_stats, compare_ranges

    calib_stats = stats_for(float_data, feeds_in_model_order(float_data, samples), CalibrationMethod.PERCENTILE, cache)
    by_sig = {mapping[s.name]: check_in[s.name] for s in source.inputs}
    data_stats = collect_stats(float_data, feeds_in_model_order(float_data, by_sig), histograms=True,
                               label="Comparing activation ranges", reference=calib_stats)
    return compare_ranges(calib_stats, data_stats)


def _with_source_names(check: CheckResult, names: dict[str, str]) -> CheckResult:
    """The check's outputs named like the source model's outputs (what the user knows)."""
    import dataclasses

    check.outputs = [dataclasses.replace(o, name=names.get(o.name, o.name),
                                         failures=tuple(dataclasses.replace(f, output=names.get(f.output, f.output))
                                                        for f in o.failures))
                     for o in check.outputs]
    return check


def build_manifest(result: ConvertResult) -> dict[str, Any]:
    config, source, v = result.config, result.source, result.validation
    calib = result.calibration
    return {
        "edgekit_version": __version__,
        "source": {"file": Path(config.model).name, "sha256": sha256_path(config.model),
                   "format": source.format.value, "size_bytes": result.source_size_bytes},
        "quantization": config.quantize.value,
        "io_type": config.resolved_io_type.value,
        "per_tensor": config.per_tensor,
        "kept_float": result.kept_float,
        "inputs": [e.to_dict() for e in v.inputs],
        "outputs": [e.to_dict() for e in v.outputs],
        "preprocessing": calib.preprocessing,
        "calibration": {
            "source": "synthetic" if calib.kind == "synthetic" else Path(calib.source).name,
            "kind": calib.kind,
            "count": calib.count if config.quantize.needs_calibration else 0,
            "skipped": calib.skipped,
            "per_input": calib.per_input,
        },
        "tools": tool_versions(source),
        "conversion": source.conversion,
        "created_utc": utc_now(),
    }
