"""`edgekit convert MODEL.tflite`: quantize a float .tflite with ai-edge-quantizer (device-safe, no TensorFlow).

load + check the float model (fold float16 weights) -> calibration samples -> activation statistics
-> quantize (a :class:`~edgekit.core.recipe.QuantRecipe`: from the command's options, or replayed from
``--recipe``) -> check against the float model with verify's metrics and thresholds (on the golden
samples, or on held-out ``--data``, whose activation ranges are also compared with the calibration
data's) -> write (+ bundle). The result's ``to_dict()`` has the keys of the TensorFlow pipeline's
:class:`~edgekit.host.convert.pipeline.ConvertResult`, so the command renders both the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit.bundle import sha256_path, utc_now, write_bundle
from edgekit.core.quant import CalibrationMethod, IOType, QuantizeMode, parse_choice
from edgekit.core.recipe import CalibrationRef, Engine, LoadRef, QuantRecipe
from edgekit.core.shapes import InputDims, ShapeRequest, resolve_shapes
from edgekit.core.source import TensorSpec
from edgekit.data import DataSummary, Preprocessing, image_geometry, load_samples
from edgekit.errors import OutputExistsError, UsageError
from edgekit.fsutil import check_output_path, write_bytes_atomic
from edgekit.requant.aeq import quantize_float_model
from edgekit.requant.check import CheckResult, check_warning, converted_zero_input_warning, judge
from edgekit.requant.floatmodel import FloatModel, prepare_float
from edgekit.requant.sequence import SequenceData, held_out_sequence, judge_sequence
from edgekit.requant.stats import ActivationStats, RangeComparison, collect_stats, compare_ranges
from edgekit.tflite.model import Tensor, TFLiteModel, parse_model
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD

MIN_CALIBRATION_SAMPLES = 50
_BOUNDARY = {"QUANTIZE", "DEQUANTIZE"}


def float_ops(model: TFLiteModel) -> dict[str, int]:
    """Operators (other than QUANTIZE/DEQUANTIZE) that compute in float."""
    sg = model.main
    counts: Counter[str] = Counter()
    for op in sg.operators:
        if op.name in _BOUNDARY:
            continue
        if any(o >= 0 and sg.tensor(o).dtype in ("float32", "float16") for o in op.outputs):
            counts[op.name] += 1
    return dict(counts.most_common())


@dataclass(frozen=True)
class TFLiteConvertConfig:
    """`edgekit convert MODEL.tflite` options (see :class:`~edgekit.host.convert.config.ConvertConfig`)."""

    model: Path
    output: Path
    quantize: QuantizeMode = QuantizeMode.INT8
    io_type: IOType | None = None
    per_tensor: bool = False
    calibration: Path | None = None
    calibration_samples: int = 200
    preprocessing: Preprocessing = field(default_factory=Preprocessing.from_options)
    keep_float: tuple[str, ...] = ()  # output tensor names of ops to keep in float
    bundle: Path | None = None
    golden_samples: int = 16
    force: bool = False
    seed: int = 0
    recipe: QuantRecipe | None = None  # --recipe: replay (its calibration unless --calibration is given)
    data: Path | None = None  # held-out inputs for the check and the range comparison
    data_samples: int = 50
    map_threshold: float = DEFAULT_MAP_THRESHOLD
    debug: bool = False
    state: tuple[tuple[str, str], ...] = ()  # --state IN=OUT: a streaming model (else paired by name and shape)
    input_shapes: tuple[str, ...] = ()  # --input-shape NAME=DIMS for dynamic inputs
    batch: int | None = None  # --batch N for a dynamic batch

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantize", parse_choice(QuantizeMode, self.quantize, "--quantize"))
        if self.io_type is not None:
            object.__setattr__(self, "io_type", parse_choice(IOType, self.io_type, "--io-type"))
        if self.calibration_samples < 1 or self.golden_samples < 1:
            raise UsageError("--calibration-samples and --golden-samples must be at least 1.", hint="e.g. 200 and 16.")
        if self.bundle is not None and Path(self.bundle).resolve() == Path(self.output).resolve():
            raise UsageError("--bundle must be a folder, not the output file.", hint="Pass e.g. --bundle out_bundle/.")

    def quant_recipe(self) -> QuantRecipe:
        """The recipe to apply: the replayed one, or the plain one the options describe."""
        if self.recipe is not None:
            if self.recipe.engine is not Engine.AEQ:
                raise UsageError(f"the recipe uses engine '{self.recipe.engine.value}' (the TF converter), which needs "
                                 "the original Keras/SavedModel/ONNX model, not a .tflite.",
                                 hint="Run `edgekit convert ORIGINAL --recipe FILE` with the model tune was given.")
            return self.recipe
        return QuantRecipe(mode=self.quantize, engine=Engine.AEQ, io_type=self.io_type, per_tensor=self.per_tensor,
                           float_ops=self.keep_float, load=LoadRef(input_shapes=self.input_shapes, batch=self.batch),
                           calibration=CalibrationRef(str(Path(self.calibration).resolve()) if self.calibration else None,
                                                      self.calibration_samples, self.seed,
                                                      self.preprocessing.to_dict()))


@dataclass
class TFLiteSource:
    """A float .tflite as a source: its prepared float model, and the inputs/outputs in edgekit's vocabulary."""

    path: Path
    float_model: FloatModel
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    input_tensors: list[Tensor]
    output_tensors: list[Tensor]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The float model's outputs on ``inputs`` (spec name -> (N, *shape)): the reference."""
        from edgekit.requant.check import run_model

        _, results = run_model(self.float_model.data, [s.name for s in self.inputs],
                               [inputs[s.name] for s in self.inputs], [s.name for s in self.outputs],
                               [s.shape for s in self.outputs])
        return {s.name: r for s, r in zip(self.outputs, results, strict=True)}

    def run_one(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call: {input: value of its shape} -> {output: value} (a streaming model's sequence, one call at a time)."""
        return {k: v[0] for k, v in self.run({k: np.asarray(v)[None] for k, v in sample.items()}).items()}

    def sequence(self, held: dict[str, np.ndarray], explicit: tuple[tuple[str, str], ...] = ()) -> SequenceData | None:
        """``held`` as one sequence of calls when the model carries a state (see :mod:`edgekit.requant.sequence`)."""
        names = [s.name for s in self.inputs]
        identity = {s.name: s.name for s in [*self.inputs, *self.outputs]}
        return held_out_sequence(self.inputs, self.outputs, explicit, held, self.run_one, identity, identity, names,
                                 [held[n] for n in names])


def _spec_names(model: TFLiteModel, side: str) -> list[str]:
    tensors = model.inputs if side == "input" else model.outputs
    sigs = [s for s in model.signatures if s.subgraph_index == 0]
    if sigs:
        names = sigs[0].inputs if side == "input" else sigs[0].outputs
        by_index = {i: n for n, i in names.items()}
        if all(t.index in by_index for t in tensors):
            return [by_index[t.index] for t in tensors]
    return [t.name for t in tensors]


def load_tflite_source(path: Path, shapes: ShapeRequest | None = None) -> TFLiteSource:
    """Read a float (or float16-weight) .tflite as a quantization source; dynamic inputs fixed as ``shapes``
    (``--input-shape``/``--batch``) says, a dynamic batch alone to 1 (a note)."""
    from edgekit.tflite.model import load_model

    original = load_model(path)  # the bounded reader first: a damaged file is a ModelFormatError naming it
    fixed: dict[str, tuple[int, ...]] = {}
    shape_notes: list[str] = []
    if shapes is not None and (shapes.input_shapes or shapes.batch is not None or shapes.data_shapes):
        dims = [InputDims(t.name, tuple(None if d < 0 else d for d in (t.shape_signature or t.shape)), t.dtype)
                for t in original.inputs]
        resolved, shape_notes = resolve_shapes(dims, shapes)
        fixed = {r.name: r.shape for r in resolved if r.dynamic_dims or dict(shapes.input_shapes).get(r.name)}
    fm = prepare_float(Path(path).read_bytes(), str(path), fixed or None)
    fm.notes[:0] = shape_notes + ([f"input shapes fixed: {', '.join(f'{n}={list(s)}' for n, s in fixed.items())}"]
                                  if fixed else [])
    model = fm.model
    for t in model.inputs + model.outputs:
        if t.is_dynamic:
            raise UsageError(f"{path}: tensor '{t.name}' has a dynamic shape {list(t.shape_signature or ())}.",
                             hint=f"Fix the inputs' shapes: --input-shape NAME=DIMS (inputs: "
                                  f"{', '.join(f'{i.name} {list(i.shape_signature)}' for i in model.inputs)}).")
    ins = [TensorSpec(n, tuple(t.shape), t.dtype) for n, t in zip(_spec_names(model, "input"), model.inputs, strict=True)]
    outs = [TensorSpec(n, tuple(t.shape), t.dtype) for n, t in zip(_spec_names(model, "output"), model.outputs,
                                                                   strict=True)]
    return TFLiteSource(Path(path), fm, ins, outs, list(model.inputs), list(model.outputs))


def stats_for(data: bytes, feeds: list[np.ndarray], method: CalibrationMethod,
              cache: dict[tuple[int, bool], ActivationStats] | None = None) -> ActivationStats:
    """Activation statistics of ``data`` on ``feeds`` (histograms only when the method needs them); cached."""
    needs_hist = method is not CalibrationMethod.MINMAX
    key = (hash(data), needs_hist)
    if cache is not None:
        for (h, hist), stats in cache.items():
            if h == key[0] and (hist or not needs_hist):
                return stats
    stats = collect_stats(data, feeds, histograms=needs_hist)
    if cache is not None:
        cache[key] = stats
    return stats


def apply_recipe(float_data: bytes, recipe: QuantRecipe, calib_feeds: list[np.ndarray],
                 cache: dict[tuple[int, bool], ActivationStats] | None = None, debug: bool = False,
                 notes: list[str] | None = None) -> bytes:
    """Quantize a prepared float model as ``recipe`` says (equalization/bias correction first when asked);
    what the int8 graph passes did is appended to ``notes``."""
    data = float_data
    if recipe.equalize or recipe.bias_correction:
        from edgekit.requant.equalize import bias_correct, equalize

        if recipe.equalize:
            data = equalize(data, calib_feeds)
        if recipe.bias_correction:
            data = bias_correct(data, recipe, calib_feeds)
    stats = stats_for(data, calib_feeds, recipe.calibration_method, cache) if recipe.mode.needs_calibration else None
    return quantize_float_model(data, recipe, stats, debug=debug, notes=notes)


def _resolved_preprocessing(recipe: Preprocessing, specs: list[TensorSpec]) -> Preprocessing:
    if recipe.layout is None:
        for spec in specs:
            geo = image_geometry(spec)
            if geo is not None:
                return Preprocessing.from_dict({**recipe.to_dict(), "layout": geo.layout.value})
    return recipe


@dataclass
class TFLiteConvertResult:
    config: TFLiteConvertConfig
    source: TFLiteSource
    recipe: QuantRecipe
    data: bytes
    model: TFLiteModel
    calibration: DataSummary
    check: CheckResult
    stage_seconds: dict[str, float]
    seconds: float = 0.0
    ranges: RangeComparison | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bundle_dir: Path | None = None

    @property
    def passed(self) -> bool:
        return self.check.passed

    def io_entries(self, side: str) -> list[dict[str, Any]]:
        specs = self.source.inputs if side == "input" else self.source.outputs
        tensors = self.model.inputs if side == "input" else self.model.outputs
        rows = []
        for spec, t in zip(specs, tensors, strict=True):
            q = t.quant
            quantized = q is not None and t.dtype not in ("float32", "float16") and q.scales.size > 0
            rows.append({"name": t.name, "source_name": spec.name, "signature_name": spec.name, "shape": list(t.shape),
                         "dtype": t.dtype, "scale": float(q.scale) if quantized and q is not None else None,
                         "zero_point": int(q.zero_point) if quantized and q is not None else None,
                         "to_tflite_perm": None})
        return rows

    def to_dict(self) -> dict[str, Any]:
        cfg = self.config
        recipe = self.recipe
        src_size = Path(cfg.model).stat().st_size
        return {
            "kind": "convert",
            "output": str(cfg.output),
            "source": {"path": str(cfg.model), "format": "tflite", "size_bytes": src_size},
            "engine": recipe.engine.value,
            "quantization": recipe.mode.value,
            "io_type": recipe.resolved_io_type.value,
            "per_tensor": recipe.per_tensor,
            "recipe": recipe.describe(),
            "quant_kind_detected": self.model.quant_kind.value,
            "inputs": self.io_entries("input"),
            "outputs": self.io_entries("output"),
            "size_bytes": len(self.data),
            "source_size_bytes": src_size,
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(s, 3) for k, s in self.stage_seconds.items()},
            "calibration": self.calibration.to_dict(),
            "preprocessing": self.calibration.preprocessing,
            "float_ops": float_ops(self.model) if recipe.mode.needs_calibration else {},
            "kept_float": list(recipe.float_ops),
            "golden_check": {"measured": True, "outputs": self.check.rows()},
            "check": self.check.to_dict(),
            "ranges": None if self.ranges is None else self.ranges.to_dict(),
            "prune": None,
            "bundle": str(self.bundle_dir) if self.bundle_dir else None,
            "notes": self.notes,
            "warnings": self.warnings,
        }


def _timed(seconds: dict[str, float], name: str, start: float) -> float:
    now = time.perf_counter()
    seconds[name] = seconds.get(name, 0.0) + now - start
    return now


def run_tflite_convert(config: TFLiteConvertConfig) -> TFLiteConvertResult:
    """Quantize a float .tflite (see the module docstring). The check's verdict is on the result
    (``passed``); the command decides the exit code."""
    start = t = time.perf_counter()
    seconds: dict[str, float] = {}
    warnings: list[str] = []
    check_output_path(config.output, config.force)
    b = config.bundle
    if b is not None and Path(b).is_dir() and any(Path(b).iterdir()) and not config.force:
        raise OutputExistsError(f"Bundle folder {b} already exists and is not empty.")
    source = load_tflite_source(Path(config.model), ShapeRequest.from_texts(config.input_shapes, config.batch,
                                                                           config.calibration or config.data))
    recipe = config.quant_recipe()
    notes = list(source.float_model.notes)
    t = _timed(seconds, "load", t)

    calib_path = config.calibration
    preprocessing = config.preprocessing
    count, seed = config.calibration_samples, config.seed
    if config.recipe is not None and calib_path is None:
        ref = config.recipe.calibration
        calib_path = Path(ref.source) if ref.source else None
        if calib_path is not None and not calib_path.exists():
            raise UsageError(f"the recipe's calibration data {calib_path} does not exist here.",
                             hint="Pass the same data with --calibration DIR|FILE.")
        count, seed = ref.count, ref.seed
        if ref.preprocessing:
            preprocessing = Preprocessing.from_dict(ref.preprocessing)
    needs = recipe.mode.needs_calibration
    pre = _resolved_preprocessing(preprocessing, source.inputs)
    arrays, summary = load_samples(calib_path, source.inputs, pre, count if needs else config.golden_samples,
                                   seed=seed, progress_label="Reading calibration data" if needs else "Reading samples")
    summary.preprocessing = None if summary.kind == "arrays" else pre.to_dict()
    if needs and summary.kind == "synthetic":
        warnings.append("NO CALIBRATION DATA: calibrated on synthetic random inputs, so the int ranges are guesses "
                        "and the converted model's accuracy is UNKNOWN. Pass --calibration DIR|FILE.npz with real "
                        "inputs.")
    elif needs and summary.count < MIN_CALIBRATION_SAMPLES:
        warnings.append(f"only {summary.count} calibration samples (fewer than {MIN_CALIBRATION_SAMPLES}): the "
                        "activation ranges may miss real inputs and accuracy may drop; give more samples.")
    feeds = [arrays[s.name] for s in source.inputs]
    t = _timed(seconds, "data", t)

    cache: dict[tuple[int, bool], ActivationStats] = {}
    data = apply_recipe(source.float_model.data, recipe, feeds, cache, config.debug, notes)
    model = parse_model(data, "quantized model")
    left = float_ops(model) if recipe.mode.spec.integer_only else {}
    if left and config.recipe is None and not recipe.float_ops:
        ops = ", ".join(f"{name} x{n}" for name, n in left.items())
        warnings.append(
            f"--quantize {recipe.mode.value}: ai-edge-quantizer has no integer rule for {sum(left.values())} op(s), "
            f"which stay float between QUANTIZE/DEQUANTIZE pairs: {ops}. The model is not integer-only (an Edge "
            "TPU or a microcontroller stops there); `edgekit tune --device ID` weighs that against the target.")
    t = _timed(seconds, "quantize", t)

    ranges: RangeComparison | None = None
    if config.data is not None:
        check_arrays, check_summary = load_samples(config.data, source.inputs, pre, config.data_samples, seed=seed,
                                                   progress_label="Reading check data")
        described = f"{check_summary.count} held-out samples of {config.data}"
        stats = stats_for(source.float_model.data, feeds, CalibrationMethod.PERCENTILE, cache)
        data_stats = collect_stats(source.float_model.data, [check_arrays[s.name] for s in source.inputs],
                                   histograms=True, label="Comparing activation ranges", reference=stats)
        ranges = compare_ranges(stats, data_stats)
        if ranges.mismatched:
            warnings.append(ranges.message(summary.source, str(config.data)))
        golden = check_arrays
        synthetic = False
    else:
        n = min(config.golden_samples, summary.count)
        golden = {k: v[:n] for k, v in arrays.items()}
        described = f"{n} of the calibration samples" if needs else f"{n} samples"
        synthetic = summary.kind == "synthetic"
    reference = source.run(golden)
    sequence = source.sequence(golden, config.state)
    if sequence is not None:  # a streaming model: judged as it runs, its own state fed back call after call
        check = judge_sequence(data, sequence, map_threshold=config.map_threshold, described=described,
                               synthetic=synthetic)
    else:
        check = judge(data, [s.name for s in source.inputs], [golden[s.name] for s in source.inputs], reference,
                      synthetic=synthetic, map_threshold=config.map_threshold, described=described)
    if not check.passed:
        warnings.append(check_warning(check, f"edgekit tune {config.model} --device ID --calibration DATA --data DATA "
                                             f"-o {config.output}"))
    zero_warning = converted_zero_input_warning(data, source.float_model.data, f"the check's {described}")
    if zero_warning:
        warnings.append(zero_warning)
    t = _timed(seconds, "check", t)

    write_bytes_atomic(config.output, data, overwrite=config.force)
    result = TFLiteConvertResult(config=config, source=source, recipe=recipe, data=data, model=model,
                                 calibration=summary, check=check, stage_seconds=seconds, ranges=ranges,
                                 notes=notes + list(summary.notes), warnings=warnings)
    if config.bundle is not None:
        manifest = {
            "edgekit_version": __version__,
            "source": {"file": Path(config.model).name, "sha256": sha256_path(config.model), "format": "tflite",
                       "size_bytes": Path(config.model).stat().st_size},
            "quantization": recipe.mode.value, "io_type": recipe.resolved_io_type.value,
            "per_tensor": recipe.per_tensor, "kept_float": list(recipe.float_ops), "engine": recipe.engine.value,
            "inputs": result.io_entries("input"), "outputs": result.io_entries("output"),
            "preprocessing": summary.preprocessing,
            "calibration": {"source": "synthetic" if summary.kind == "synthetic" else Path(summary.source).name,
                            "kind": summary.kind, "count": summary.count if needs else 0, "skipped": summary.skipped,
                            "per_input": summary.per_input},
            "tools": _tool_versions(), "created_utc": utc_now(),
        }
        gin = {e.name: golden[s.name] for s, e in zip(source.inputs, model.inputs, strict=True)}
        gout = {e.name: reference[s.name] for s, e in zip(source.outputs, model.outputs, strict=True)}
        result.bundle_dir = write_bundle(config.bundle, data, manifest, gin, gout, config.force)
    _timed(seconds, "write", t)
    result.seconds = time.perf_counter() - start
    return result


def _tool_versions() -> dict[str, str]:
    import importlib.metadata

    versions = {}
    for pkg in ("ai-edge-quantizer", "ai-edge-litert", "numpy"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
