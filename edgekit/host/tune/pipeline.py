"""`edgekit tune MODEL --device ID --calibration DATA --data DATA -o OUT.tflite`: set up, search, choose, write.

Loads the source once (any format `convert` takes), makes ONE float .tflite (the TF converter for
Keras/SavedModel/ONNX, the file itself for a .tflite), reads the calibration and the held-out
samples, runs the original model on the held-out samples (the reference), compares the activation
ranges of the two data sets, then runs :class:`~edgekit.host.tune.search.Search` and writes the
chosen model, its recipe (``OUT.recipe.json``, replayed by ``edgekit convert MODEL --recipe``) and,
when asked, a bundle. Returns a :class:`TuneResult`; the command renders it and sets the exit code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit.bundle import sha256_path, utc_now, write_bundle
from edgekit.core.progress import status
from edgekit.core.quant import CalibrationMethod, IOType, QuantizeMode
from edgekit.core.recipe import LoadRef, QuantRecipe, recipe_path_for
from edgekit.core.shapes import ShapeRequest
from edgekit.core.source import SourceFormat, detect_format
from edgekit.data import Preprocessing, image_geometry, load_samples, permute_samples
from edgekit.errors import OutputExistsError, UsageError
from edgekit.fsutil import check_output_path, write_bytes_atomic
from edgekit.host.tune.choose import choose, mark_pareto, why_chosen
from edgekit.host.tune.search import (
    Baseline,
    Candidate,
    Search,
    SearchContext,
    SearchLimits,
    base_recipe,
    judge_candidate,
)
from edgekit.profile.registry import get_profile
from edgekit.provenance import Producer, producer_entry
from edgekit.requant.sequence import held_out_sequence
from edgekit.requant.stats import RangeComparison
from edgekit.tflite.runtime import runs_zero_input
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD


@dataclass(frozen=True)
class TuneConfig:
    model: Path
    device: str
    output: Path
    calibration: Path
    data: Path
    bundle: Path | None = None
    min_cosine: float | None = None
    min_sqnr_db: float | None = None
    max_top1_drop: float | None = None  # percentage points of top-1 agreement that may be lost
    min_iou: float | None = None
    map_threshold: float = DEFAULT_MAP_THRESHOLD
    latency_budget_ms: float | None = None  # --budget-ms: the estimated latency the model must meet
    max_candidates: int = 12
    time_budget_s: float = 600.0
    calibration_samples: int = 200
    data_samples: int = 50
    preprocessing: Preprocessing = field(default_factory=Preprocessing.from_options)
    input_shapes: tuple[str, ...] = ()
    batch: int | None = None
    keep_nchw: tuple[str, ...] = ()
    threads: int | None = None
    seed: int = 0
    force: bool = False
    debug: bool = False
    profiles_dirs: tuple[str, ...] = ()
    state: tuple[tuple[str, str], ...] = ()  # --state IN=OUT: streaming models (else paired by name and shape)

    def __post_init__(self) -> None:
        if self.max_candidates < 1:
            raise UsageError(f"--max-candidates must be at least 1, got {self.max_candidates}.", hint="e.g. 12.")
        if self.time_budget_s <= 0:
            raise UsageError("--time-budget must be positive.", hint="e.g. --time-budget 600 (seconds).")
        if self.max_top1_drop is not None and not 0.0 <= self.max_top1_drop <= 100.0:
            raise UsageError(f"--max-top1-drop {self.max_top1_drop} is outside 0..100 points.", hint="e.g. 2.")
        if self.latency_budget_ms is not None and self.latency_budget_ms <= 0:
            raise UsageError("--budget-ms must be positive.", hint="e.g. --budget-ms 50.")
        if Path(self.calibration).resolve() == Path(self.data).resolve():
            raise UsageError("--data must be held-out samples, not the calibration data.",
                             hint="Split your data: calibrate on one part, judge on another.")
        if self.bundle is not None and Path(self.bundle).resolve() == Path(self.output).resolve():
            raise UsageError("--bundle must be a folder, not the output file.", hint="Pass e.g. --bundle out_bundle/.")

    @property
    def overrides(self) -> dict[str, float | None]:
        top1 = None if self.max_top1_drop is None else 1.0 - self.max_top1_drop / 100.0
        return {"min_cosine": self.min_cosine, "min_sqnr_db": self.min_sqnr_db, "min_top1": top1,
                "min_iou": self.min_iou}


@dataclass
class TuneResult:
    config: TuneConfig
    device: str
    candidates: list[Candidate]
    chosen: Candidate | None
    best: Candidate | None  # the best by accuracy when nothing qualifies
    baseline: Baseline
    seconds: float
    stopped: str = ""
    why: str = ""
    recipe_path: Path | None = None
    bundle_dir: Path | None = None
    ranges: RangeComparison | None = None
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    integer_only_device: bool = False

    @property
    def passed(self) -> bool:
        return self.chosen is not None

    def failure_line(self) -> str:
        best = self.best
        what = "full-integer " if self.integer_only_device else ""
        line = f"no {what}candidate passes the thresholds on {self.device}"
        if best is not None and best.check is not None:
            line += (f"; best: #{best.index} {best.label} ({best.check.summary() or best.constraint})")
        return line

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "kind": "tune",
            "model": str(c.model), "device": self.device, "output": str(c.output) if self.chosen else None,
            "recipe_file": str(self.recipe_path) if self.recipe_path else None,
            "bundle": str(self.bundle_dir) if self.bundle_dir else None,
            "passed": self.passed,
            "chosen": self.chosen.to_dict() if self.chosen else None,
            "why": self.why if self.chosen else self.failure_line(),
            "best_failing": self.best.to_dict() if self.best and not self.chosen else None,
            "float32": {"estimated_latency_ms": self.baseline.latency_ms, "size_bytes": self.baseline.size_bytes,
                        "delegate_partitions": self.baseline.partitions,
                        "check": self.baseline.check.to_dict() if self.baseline.check else None},
            "candidates": [cand.to_dict() for cand in self.candidates],
            "candidates_tried": len(self.candidates), "max_candidates": c.max_candidates,
            "stopped": self.stopped, "seconds": round(self.seconds, 1),
            "thresholds": self.candidates[0].check.thresholds.as_dict()
            if self.candidates and self.candidates[0].check else None,
            "calibration": str(c.calibration), "data": str(c.data),
            "ranges": None if self.ranges is None else self.ranges.to_dict(),
            "sensitivity": self.sensitivity[:20],
            "estimated": "latencies are the profile estimator's, not measurements",
            "budget_ms": c.latency_budget_ms,
            "notes": self.notes, "warnings": self.warnings,
            **producer_entry(Producer.here()),
        }


def _resolved(pre: Preprocessing, specs: list[Any]) -> Preprocessing:
    if pre.layout is None:
        for spec in specs:
            geo = image_geometry(spec)
            if geo is not None:
                return Preprocessing.from_dict({**pre.to_dict(), "layout": geo.layout.value})
    return pre


def run_tune(config: TuneConfig) -> TuneResult:
    from edgekit.host.convert.tf_util import native_quiet

    with native_quiet(config.debug):
        return _run(config)


def _check_outputs(config: TuneConfig) -> None:
    check_output_path(config.output, config.force)
    recipe_out = recipe_path_for(config.output)
    check_output_path(recipe_out, config.force)
    b = config.bundle
    if b is not None and Path(b).is_dir() and any(Path(b).iterdir()) and not config.force:
        raise OutputExistsError(f"Bundle folder {b} already exists and is not empty.")


def _run(config: TuneConfig) -> TuneResult:
    start = time.perf_counter()
    _check_outputs(config)
    entry = get_profile(config.device, config.profiles_dirs)
    fmt = detect_format(Path(config.model))
    notes: list[str] = []
    warnings: list[str] = []
    load = LoadRef(config.input_shapes, config.batch, config.keep_nchw)
    source_info = {"file": Path(config.model).name, "sha256": sha256_path(config.model), "format": fmt.value}
    closer = None
    try:
        if fmt is SourceFormat.TFLITE:
            if config.input_shapes or config.batch or config.keep_nchw:
                raise UsageError("--input-shape/--batch/--keep-nchw apply to Keras, SavedModel and ONNX sources.",
                                 hint="Drop them for a .tflite.")
            prepared = _prepare_tflite(config, notes, warnings)
        else:
            prepared = _prepare_source(config, notes, warnings)
            closer = prepared.pop("close")
        pre = prepared["preprocessing"]
        sequence = prepared["sequence"]
        if sequence is not None:
            notes.append(f"streaming model: every candidate is judged on {sequence.described}, like `edgekit verify "
                         "--stateful`; candidates keep float32 inputs and outputs, so the state is carried in float")
        ctx = SearchContext(
            float_data=prepared["float_data"], calib_feeds=prepared["calib_feeds"], data_feeds=prepared["data_feeds"],
            input_names=prepared["input_names"], reference=prepared["reference"],
            output_names=prepared["output_names"], entry=entry, overrides=config.overrides,
            map_threshold=config.map_threshold,
            base_recipe=base_recipe(QuantizeMode.INT8, config.calibration, config.calibration_samples, config.seed,
                                    pre, load, source_info, IOType.FLOAT32 if sequence is not None else None),
            tf_convert=prepared["tf_convert"], threads=config.threads, latency_budget_ms=config.latency_budget_ms,
            zero_input_ok=runs_zero_input(prepared["float_data"]), sequence=sequence,
        )
        ranges = _ranges(ctx, config, warnings)
        baseline = _baseline(ctx)
        ctx.float_latency_ms = baseline.latency_ms
        search = Search(ctx, SearchLimits(config.max_candidates, config.time_budget_s))
        candidates = search.run()
        mark_pareto(candidates)
        chosen, best = choose(candidates)
        result = TuneResult(config=config, device=entry.profile.id, candidates=candidates, chosen=chosen, best=best,
                            baseline=baseline, seconds=0.0, stopped=search.stopped, ranges=ranges,
                            sensitivity=[s.to_dict() for s in search.sensitivity], notes=notes, warnings=warnings,
                            integer_only_device=ctx.integer_only_device)
        if chosen is not None and chosen.data is not None:
            result.why = why_chosen(chosen, candidates, baseline)
            if chosen.slower_than_float and not ctx.integer_only_device:
                warnings.append(f"every passing candidate is estimated slower on {entry.profile.id} than the float32 "
                                f"model ({chosen.latency_ms:.2f} ms vs {baseline.latency_ms or 0:.2f} ms): the chosen "
                                "one is smaller, not faster; keep the float model if speed is what you need.")
            _write(config, result, chosen, ctx, prepared)
    finally:
        if closer is not None:
            closer()
    result.seconds = time.perf_counter() - start
    return result


def _prepare_tflite(config: TuneConfig, notes: list[str], warnings: list[str]) -> dict[str, Any]:
    from edgekit.requant.pipeline import load_tflite_source

    source = load_tflite_source(Path(config.model))
    notes.extend(source.float_model.notes)
    pre = _resolved(config.preprocessing, source.inputs)
    calib, _ = load_samples(config.calibration, source.inputs, pre, config.calibration_samples, seed=config.seed,
                            progress_label="Reading calibration data")
    held, held_summary = load_samples(config.data, source.inputs, pre, config.data_samples, seed=config.seed,
                                      progress_label="Reading held-out data")
    status("Running the float model on the held-out data (the reference) ...")
    reference = source.run(held)
    names = [s.name for s in source.inputs]
    sequence = source.sequence(held, config.state)
    return {
        "float_data": source.float_model.data, "preprocessing": pre,
        "calib_feeds": [calib[s.name] for s in source.inputs], "data_feeds": [held[s.name] for s in source.inputs],
        "input_names": names, "reference": reference, "sequence": sequence,
        "output_names": {s.name: s.name for s in source.outputs}, "tf_convert": None,
        "golden_in": {t.name: held[s.name] for s, t in zip(source.inputs, source.input_tensors, strict=True)},
        "golden_out": {t.name: reference[s.name] for s, t in zip(source.outputs, source.output_tensors, strict=True)},
        "io_specs": (source.inputs, source.outputs), "format": "tflite",
    }


def _prepare_source(config: TuneConfig, notes: list[str], warnings: list[str]) -> dict[str, Any]:
    from edgekit.host.convert.loaders import load_source
    from edgekit.host.convert.pipeline import feeds_in_model_order, float_model_bytes
    from edgekit.host.convert.quantize import convert, map_to_signature, signature_input_names
    from edgekit.host.convert.validate import validate
    from edgekit.host.reference import run_reference
    from edgekit.host.source_model import LoadOptions

    pre_given = config.preprocessing
    options = LoadOptions(shapes=ShapeRequest.from_texts(config.input_shapes, config.batch, config.calibration),
                          keep_nchw=config.keep_nchw, check=True, check_data=config.calibration,
                          check_recipe=pre_given, debug=config.debug)
    status(f"Loading {config.model} ...")
    source = load_source(Path(config.model), options)
    try:
        notes.extend(source.notes)
        warnings.extend(source.warnings)
        if source.saved_model_dir is None:
            raise RuntimeError(f"the {source.format.value} loader gave no SavedModel")
        pre = _resolved(pre_given, source.inputs)
        calib_src, _ = load_samples(config.calibration, source.inputs, pre, config.calibration_samples,
                                    seed=config.seed, progress_label="Reading calibration data")
        held_src, _ = load_samples(config.data, source.inputs, pre, config.data_samples, seed=config.seed,
                                   progress_label="Reading held-out data")
        status("Running the original model on the held-out data (the reference) ...")
        ref_src = run_reference(source, held_src)
        sig_names = signature_input_names(source.saved_model_dir)
        mapping = map_to_signature([s.name for s in source.inputs], sig_names, notes)
        samples = {mapping[s.name]: permute_samples(calib_src[s.name], s.to_tflite_perm) for s in source.inputs}
        held_sig = {mapping[s.name]: permute_samples(held_src[s.name], s.to_tflite_perm) for s in source.inputs}
        status("Converting to a float32 .tflite (every ai-edge-quantizer candidate starts from it) ...")
        float_data = float_model_bytes(source, config.debug)
        checked = validate(float_data, source)
        saved_model_dir = source.saved_model_dir

        def tf_convert(recipe: QuantRecipe) -> bytes:
            data, _ = convert(saved_model_dir, recipe.mode, recipe.resolved_io_type, recipe.per_tensor, samples,
                              recipe.float_ops, config.debug)
            return data

        out_key = {e.spec.name: e.signature_name or e.tensor.name for e in checked.outputs}
        in_key = {e.spec.name: e.signature_name or e.tensor.name for e in checked.inputs}
        reference = {out_key[s.name]: permute_samples(ref_src[s.name], s.to_tflite_perm) for s in source.outputs}
        held_tfl = {s.name: permute_samples(held_src[s.name], s.to_tflite_perm) for s in source.inputs}
        data_feeds = feeds_in_model_order(float_data, held_sig)
        input_names = _model_order_names(float_data, [in_key[s.name] for s in source.inputs])
        sequence = held_out_sequence(source.inputs, source.outputs, config.state, held_src, source.run, in_key,
                                     out_key, input_names, data_feeds)
        return {
            "float_data": float_data, "preprocessing": pre,
            "calib_feeds": feeds_in_model_order(float_data, samples),
            "data_feeds": data_feeds, "input_names": input_names, "sequence": sequence,
            "reference": reference, "output_names": {v: k for k, v in out_key.items()}, "tf_convert": tf_convert,
            "golden_in_src": held_tfl, "golden_out_src": {s.name: reference[out_key[s.name]] for s in source.outputs},
            "io_specs": (source.inputs, source.outputs), "format": source.format.value,
            "close": source.close,
        }
    except BaseException:
        source.close()
        raise


def _model_order_names(data: bytes, names: list[str]) -> list[str]:
    """``names`` (signature names of the source's inputs) in the .tflite's input order."""
    from edgekit.tflite.model import parse_model

    model = parse_model(data, "float model")
    sigs = [s for s in model.signatures if s.subgraph_index == 0]
    if not sigs:
        return names
    by_index = {i: n for n, i in sigs[0].inputs.items()}
    ordered = [by_index.get(t.index) for t in model.inputs]
    return [str(n) for n in ordered] if all(n in names for n in ordered) else names


def _ranges(ctx: SearchContext, config: TuneConfig, warnings: list[str]) -> RangeComparison | None:
    from edgekit.requant.pipeline import stats_for
    from edgekit.requant.stats import collect_stats, compare_ranges

    calib_stats = stats_for(ctx.float_data, ctx.calib_feeds, CalibrationMethod.PERCENTILE, ctx.cache)
    data_stats = collect_stats(ctx.float_data, ctx.data_feeds, histograms=True, label="Comparing activation ranges",
                               reference=calib_stats)
    ranges = compare_ranges(calib_stats, data_stats)
    if ranges.mismatched:
        warnings.append(ranges.message(str(config.calibration), str(config.data)))
    return ranges


def _baseline(ctx: SearchContext) -> Baseline:
    from edgekit.profile.estimator import estimate
    from edgekit.tflite.model import parse_model

    model = parse_model(ctx.float_data, "float model")
    est = estimate(model, ctx.entry, ctx.threads)
    check = judge_candidate(ctx, ctx.float_data)
    return Baseline(latency_ms=est.latency_ms, size_bytes=len(ctx.float_data), check=check,
                    partitions=est.delegate_partitions)


def _write(config: TuneConfig, result: TuneResult, chosen: Candidate, ctx: SearchContext,
           prepared: dict[str, Any]) -> None:
    from edgekit.tflite.model import parse_model

    assert chosen.data is not None and chosen.check is not None
    measured = {"device": result.device, "estimated_latency_ms": chosen.latency_ms, "size_bytes": chosen.size_bytes,
                "held_out": chosen.check.to_dict(), "float32_estimated_latency_ms": result.baseline.latency_ms}
    recipe = chosen.recipe.with_changes(measured=measured)
    write_bytes_atomic(config.output, chosen.data, overwrite=config.force)
    result.recipe_path = recipe_path_for(config.output)
    write_bytes_atomic(result.recipe_path, recipe.to_json().encode("utf-8"), overwrite=config.force)
    if config.bundle is None:
        return
    from edgekit.verify.tflite_runner import Wanted, bind_tensors

    model = parse_model(chosen.data, "chosen model")
    in_specs, out_specs = prepared["io_specs"]
    n = min(16, int(ctx.data_feeds[0].shape[0]))
    ins = bind_tensors("input", [Wanted(name, tuple(f.shape[1:]), str(f.dtype))
                                 for name, f in zip(ctx.input_names, ctx.data_feeds, strict=True)], model)
    outs = bind_tensors("output", [Wanted(name, tuple(r.shape[1:]), "float32") for name, r in ctx.reference.items()],
                        model)
    gin = {t.name: feed[:n] for t, feed in zip(ins, ctx.data_feeds, strict=True)}
    gout = {t.name: np.asarray(ref[:n], np.float32) for t, ref in zip(outs, ctx.reference.values(), strict=True)}
    by_name = {**{s.name: s for s in in_specs}, **{s.name: s for s in out_specs}}
    in_src = list(ctx.input_names)
    out_src = [ctx.output_names.get(name, name) for name in ctx.reference]
    io = []
    for names, tensors in ((in_src, ins), (out_src, outs)):
        rows = []
        for name, t in zip(names, tensors, strict=True):
            spec = by_name.get(name) or by_name.get(_source_name(name, in_specs))
            q = t.quant
            quantized = q is not None and t.dtype not in ("float32", "float16") and q.scales.size > 0
            perm = spec.to_tflite_perm if spec is not None else None
            rows.append({"name": t.name, "source_name": spec.name if spec is not None else name,
                         "signature_name": None, "shape": list(t.shape),
                         "dtype": t.dtype, "scale": float(q.scale) if quantized and q is not None else None,
                         "zero_point": int(q.zero_point) if quantized and q is not None else None,
                         "to_tflite_perm": list(perm) if perm else None})
        io.append(rows)
    pre = ctx.base_recipe.calibration.preprocessing
    manifest = {
        "edgekit_version": __version__,
        "source": {"file": Path(config.model).name, "sha256": sha256_path(config.model), "format": prepared["format"]},
        "quantization": recipe.mode.value, "io_type": recipe.resolved_io_type.value, "per_tensor": recipe.per_tensor,
        "kept_float": list(recipe.float_ops), "engine": recipe.engine.value, "recipe": recipe.describe(),
        "inputs": io[0], "outputs": io[1], "preprocessing": pre,
        "calibration": {"source": Path(config.calibration).name, "kind": "tune", "count": config.calibration_samples,
                        "skipped": 0, "per_input": {}},
        "created_utc": utc_now(),
    }
    result.bundle_dir = write_bundle(config.bundle, chosen.data, manifest, gin, gout, config.force)


def _source_name(signature_name: str, specs: list[Any]) -> str:
    """The source input a signature name stands for (normalised match), else the name itself."""
    import re

    def norm(text: str) -> str:
        return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")

    hits = [s.name for s in specs if norm(s.name) == norm(signature_name)]
    return hits[0] if len(hits) == 1 else signature_name
