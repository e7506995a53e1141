"""`edgekit tune`: search quantization recipes, score each on held-out data and on the target device.

Every candidate is a :class:`~edgekit.core.recipe.QuantRecipe` made into a .tflite by one of two
engines: the TF converter on the source's SavedModel (what `edgekit convert` does by default), or
ai-edge-quantizer on ONE float .tflite (seconds per candidate). Each is judged like `edgekit verify`
judges (same metrics, default thresholds of the file's quantization kind, the user's overrides) on
``--data``, a split that is not the calibration data, and estimated on ``--device`` by the profile
estimator (which counts the QUANTIZE/DEQUANTIZE ops and delegate partitions a float or int16 island
adds, and where the Edge TPU stops mapping).

The search, cheapest first, stopping when the budget (``max_candidates``, ``time_budget_s``) is spent:

1. ai-edge-quantizer int8 min-max, per channel, then percentile and MSE clipping (one pass of
   activation statistics serves the three);
2. the TF converter's int8 (TF sources; a whole conversion, so only while no candidate passes at
   plain-int8 speed), then equalization (cross-layer and into affine chains) and bias correction
   on the best int8 candidate;
3. a streaming model (judged over a sequence, its own state fed back): float for the recurrent state
   path (the ops between the state inputs and the state outputs), then int8 weights with float
   activations (dynamic range); then, if no candidate passes and the device can run float: int8 for
   the convolutions and matmuls only (where the time is; every other op float: magika's LayerNorms
   and tanh-GELUs), then the per-op sensitivity of the best int8 candidate
   (:mod:`edgekit.requant.sensitivity`), int16 activations for the k most sensitive ops and float for
   the k most sensitive ops, k x4 until one passes, then bisecting back to the fewest that still pass;
   when no op stands out, a float prefix of the network, its length by bisection (on devices whose
   int16 kernels are slower than float32 ones: float islands, then the float prefix, then int16
   islands only if nothing passed);
4. last resorts: int16x8 everywhere, dynamic range.

The chosen candidate (:mod:`edgekit.host.tune.choose`): passes, fits the device's constraints (Edge TPU:
integer only) and ``--budget-ms``, and has the lowest estimated latency (then the smallest file, then the
widest margin).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.progress import status
from edgekit.core.quant import CalibrationMethod, IOType, QuantizeMode, QuantKind
from edgekit.core.recipe import CalibrationRef, Engine, LoadRef, QuantRecipe
from edgekit.data import Preprocessing
from edgekit.errors import EdgekitError
from edgekit.profile.registry import ProfileEntry
from edgekit.profile.schema import Accelerator
from edgekit.requant.check import CheckResult, judge
from edgekit.requant.pipeline import float_ops
from edgekit.requant.sensitivity import OpSensitivity
from edgekit.requant.sequence import SequenceData, judge_sequence, state_path
from edgekit.tflite.model import parse_model

DEFAULT_MAX_CANDIDATES = 12
DEFAULT_TIME_BUDGET_S = 600.0
MIN_GAIN_DB = 0.5  # a bigger island that gains less than this (output SQNR) ends that line of search


@dataclass
class Candidate:
    """One quantized model the search made and measured."""

    index: int
    recipe: QuantRecipe
    data: bytes | None = None
    check: CheckResult | None = None
    kind: str = ""
    latency_ms: float | None = None
    partitions: int | None = None
    boundary_ops: int = 0  # QUANTIZE / DEQUANTIZE ops (not counting the model's own input/output conversions)
    float_ops: int = 0
    int16_ops: int = 0
    edgetpu: dict[str, Any] | None = None
    seconds: float = 0.0
    error: str = ""  # the engine failed: why
    allowed: bool = True  # fits the device's constraints
    constraint: str = ""  # why not
    pareto: bool = False
    chosen: bool = False
    slower_than_float: bool = False  # estimated no faster than the float32 model: chosen only when nothing else passes

    @property
    def size_bytes(self) -> int:
        return len(self.data) if self.data is not None else 0

    @property
    def passed(self) -> bool:
        return not self.error and self.check is not None and self.check.passed

    @property
    def margin(self) -> float:
        return self.check.margin() if self.check is not None else -math.inf

    @property
    def label(self) -> str:
        return self.recipe.label or self.recipe.describe()

    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.check is None:
            return "-"
        if not self.check.passed:
            return "FAIL " + ",".join(self.check.decided_by)
        if not self.allowed:
            return "PASS (not for device)"
        return "PASS"

    def to_dict(self) -> dict[str, Any]:
        check = self.check
        return {
            "index": self.index, "label": self.label, "recipe": self.recipe.describe(),
            "engine": self.recipe.engine.value, "mode": self.recipe.mode.value, "quant_kind": self.kind,
            "passed": self.passed, "allowed_on_device": self.allowed, "constraint": self.constraint,
            "decided_by": check.decided_by if check else [], "failures": check.summary() if check else "",
            "metrics": check.rows() if check else [], "mean_sqnr_db": check.mean_sqnr_db if check else None,
            "min_cosine": check.min_cosine if check else None, "margin": check.margin() if check else None,
            "estimated_latency_ms": self.latency_ms, "delegate_partitions": self.partitions,
            "quantize_dequantize_ops": self.boundary_ops, "float_ops": self.float_ops, "int16_ops": self.int16_ops,
            "edgetpu": self.edgetpu, "size_bytes": self.size_bytes, "seconds": round(self.seconds, 2),
            "error": self.error, "pareto": self.pareto, "chosen": self.chosen,
            "slower_than_float32": self.slower_than_float,
        }


@dataclass
class Baseline:
    """The float32 .tflite: what quantization is compared with (latency, size, its own agreement)."""

    latency_ms: float | None
    size_bytes: int
    check: CheckResult | None
    partitions: int | None = None


@dataclass
class SearchContext:
    """Everything a candidate needs: the float model, the samples (TFLite layout, model input order)
    and the reference outputs on the held-out data."""

    float_data: bytes
    calib_feeds: list[np.ndarray]
    data_feeds: list[np.ndarray]
    input_names: list[str]  # names bind_tensors matches the candidates' inputs with
    reference: dict[str, np.ndarray]  # output name -> (N, *shape), the ORIGINAL model's outputs
    output_names: dict[str, str]  # output name in reference -> the source model's output name
    entry: ProfileEntry
    overrides: dict[str, float | None]
    map_threshold: float
    base_recipe: QuantRecipe
    tf_convert: Callable[[QuantRecipe], bytes] | None  # the TF engine (None: a .tflite source)
    threads: int | None = None
    cache: dict[tuple[int, bool], Any] = field(default_factory=dict)
    latency_budget_ms: float | None = None
    float_latency_ms: float | None = None  # the float32 model's estimate: a candidate slower than it is no gain
    zero_input_ok: bool = False  # the float model runs an all-zero input to finite outputs: candidates must run it
    sequence: SequenceData | None = None  # a streaming model: judged over the held-out data as one sequence

    @property
    def integer_only_device(self) -> bool:
        return self.entry.profile.accelerator == Accelerator.EDGETPU


@dataclass
class SearchLimits:
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    time_budget_s: float = DEFAULT_TIME_BUDGET_S


def _count_ops(data: bytes) -> tuple[int, int, int]:
    """(QUANTIZE/DEQUANTIZE ops inside the graph, float ops, ops with int16 outputs)."""
    model = parse_model(data, "candidate")
    sg = model.main
    boundary = 0
    io = set(sg.inputs) | set(sg.outputs)
    int16 = 0
    for op in sg.operators:
        if op.name in ("QUANTIZE", "DEQUANTIZE"):
            if not (set(op.inputs) & io or set(op.outputs) & io):
                boundary += 1
        elif any(o >= 0 and sg.tensor(o).dtype == "int16" for o in op.outputs):
            int16 += 1
    return boundary, sum(float_ops(model).values()), int16


def evaluate(ctx: SearchContext, recipe: QuantRecipe, index: int) -> Candidate:
    """Make the candidate with its engine, judge it on the held-out data and estimate it on the device."""
    from edgekit.profile.estimator import estimate
    from edgekit.requant.pipeline import apply_recipe

    cand = Candidate(index=index, recipe=recipe)
    start = time.perf_counter()
    try:
        if recipe.engine is Engine.TF:
            if ctx.tf_convert is None:
                raise ValueError("the TF engine needs a Keras, SavedModel or ONNX source")
            cand.data = ctx.tf_convert(recipe)
        else:
            cand.data = apply_recipe(ctx.float_data, recipe, ctx.calib_feeds, ctx.cache)
        cand.check = judge_candidate(ctx, cand.data)
        _rename_outputs(cand.check, ctx.output_names)
        if ctx.zero_input_ok and cand.check.passed:  # a failing candidate is never chosen: no need to look
            from edgekit.tflite.runtime import zero_input_refusal

            refused = zero_input_refusal(cand.data)
            if refused:
                cand.error = (f"the TFLite runtime refuses an all-zero input, which the float model runs ({refused}): "
                              "silence or a black frame would stop it on the device")
                cand.seconds = time.perf_counter() - start
                return cand
        model = parse_model(cand.data, "candidate")
        cand.kind = model.quant_kind.value
        if model.quant_kind is QuantKind.FLOAT32 and recipe.mode is not QuantizeMode.NONE:
            cand.error = (f"{recipe.mode.value} quantized nothing (every weight tensor is below the engine's size "
                          "threshold): this is the float model")
            cand.seconds = time.perf_counter() - start
            return cand
        est = estimate(model, ctx.entry, ctx.threads)
        cand.latency_ms = est.latency_ms
        cand.partitions = est.delegate_partitions
        cand.edgetpu = est.edgetpu.to_dict() if est.edgetpu is not None else None
        cand.boundary_ops, cand.float_ops, cand.int16_ops = _count_ops(cand.data)
        _apply_constraints(ctx, cand)
    except EdgekitError as exc:
        cand.error = exc.message
    cand.seconds = time.perf_counter() - start
    return cand


def judge_candidate(ctx: SearchContext, data: bytes) -> CheckResult:
    """Verify's judgement on the held-out data: call by call, or over the sequence for a streaming model."""
    if ctx.sequence is not None:
        return judge_sequence(data, ctx.sequence, ctx.overrides, ctx.map_threshold)
    return judge(data, ctx.input_names, ctx.data_feeds, ctx.reference, ctx.overrides,
                 map_threshold=ctx.map_threshold, described="held-out data")


def _rename_outputs(check: CheckResult, names: dict[str, str]) -> None:
    import dataclasses

    check.outputs = [dataclasses.replace(o, name=names.get(o.name, o.name),
                                         failures=tuple(dataclasses.replace(f, output=names.get(f.output, f.output))
                                                        for f in o.failures)) for o in check.outputs]


def _apply_constraints(ctx: SearchContext, cand: Candidate) -> None:
    if ctx.integer_only_device:
        tpu = cand.edgetpu or {}
        if cand.kind != QuantKind.INT8.value or cand.float_ops or cand.int16_ops:
            cand.allowed = False
            cand.constraint = (f"{ctx.entry.profile.id} needs full-integer int8 (the Edge TPU stops at the first "
                               f"float or int16 op); this is {cand.kind}")
        elif tpu.get("first_unmapped_op"):
            first = tpu["first_unmapped_op"]
            cand.constraint = f"the Edge TPU maps {tpu.get('mapped_ops')} ops, then stops at {first.get('op')}"
    if ctx.float_latency_ms is not None and cand.latency_ms is not None and cand.latency_ms >= ctx.float_latency_ms:
        cand.slower_than_float = True
    if ctx.latency_budget_ms is not None and cand.latency_ms is not None and cand.latency_ms > ctx.latency_budget_ms:
        cand.allowed = False
        cand.constraint = f"estimated {cand.latency_ms:.2f} ms > --budget-ms {ctx.latency_budget_ms:g}"


class Search:
    """The candidate loop with its budget (see the module docstring)."""

    def __init__(self, ctx: SearchContext, limits: SearchLimits) -> None:
        self.ctx = ctx
        self.limits = limits
        self.candidates: list[Candidate] = []
        self.start = time.perf_counter()
        self.sensitivity: list[OpSensitivity] = []
        self.stopped = ""  # why the search stopped early ("" = it ran its course)
        self.seen: set[str] = set()

    # ---------------------------------------------------------------- budget
    def budget_left(self) -> bool:
        if len(self.candidates) >= self.limits.max_candidates:
            self.stopped = self.stopped or f"--max-candidates {self.limits.max_candidates} reached"
            return False
        if time.perf_counter() - self.start > self.limits.time_budget_s:
            self.stopped = self.stopped or f"time budget {self.limits.time_budget_s:.0f} s spent"
            return False
        return True

    def try_recipe(self, recipe: QuantRecipe) -> Candidate | None:
        key = str(sorted((k, v) for k, v in recipe.to_dict().items() if k not in ("label", "measured")))
        if key in self.seen or not self.budget_left():
            return None
        self.seen.add(key)
        n = len(self.candidates) + 1
        status(f"Candidate {n}/{self.limits.max_candidates}: {recipe.label or recipe.describe()} ...")
        cand = evaluate(self.ctx, recipe, n)
        self.candidates.append(cand)
        if cand.error:
            # a check that ran and an error after it: the file was made but is rejected (it refuses an all-zero input)
            status(f"  -> {'rejected' if cand.check is not None else 'engine failed'}: {cand.error[:160]}")
        elif cand.check is not None:
            lat = f"{cand.latency_ms:.2f} ms" if cand.latency_ms is not None else "-"
            status(f"  -> {cand.verdict()}, SQNR {cand.check.mean_sqnr_db:.1f} dB, cosine {cand.check.min_cosine:.4f}, "
                   f"est. {lat} on {self.ctx.entry.profile.id}, {cand.seconds:.1f} s")
        return cand

    # ---------------------------------------------------------------- helpers
    def passing(self, full_integer: bool = False) -> list[Candidate]:
        out = [c for c in self.candidates if c.passed and c.allowed]
        if full_integer:
            out = [c for c in out if _full_integer(c)]
        return out

    def tf_pending(self) -> bool:
        """The TF converter's int8 (TF sources) has not been tried yet."""
        return self.ctx.tf_convert is not None and not any(c.recipe.engine is Engine.TF for c in self.candidates)

    def done(self) -> bool:
        """A passing candidate as fast as any int8 one measured so far (within 2%): more search cannot gain.

        Not while every passing candidate keeps ops in float that ai-edge-quantizer has no integer rule for
        (PP-OCR's hard sigmoid, RELU_0_TO_1) and the TF converter, which may quantize them, is untried: its
        full-integer model is then the plain int8 to beat (what `edgekit convert` would have given)."""
        ok = [c for c in self.passing() if c.latency_ms is not None and not c.slower_than_float]
        if self.ctx.integer_only_device:
            ok = [c for c in ok if _full_integer(c)]
        if self.tf_pending() and not any(_full_integer(c) for c in ok):
            return False
        fastest = min((c.latency_ms for c in self.candidates if c.latency_ms is not None and c.check is not None),
                      default=None)
        if ok and fastest is not None and min(c.latency_ms or 0.0 for c in ok) <= 1.02 * fastest:
            self.stopped = self.stopped or "a passing candidate is as fast as the plain int8 ones"
            return True
        return False

    def best_aeq_int8(self) -> Candidate | None:
        pool = [c for c in self.candidates if c.recipe.engine is Engine.AEQ and c.recipe.mode is QuantizeMode.INT8
                and not c.recipe.int16_ops and not c.recipe.float_ops and c.check is not None]
        # the worst metric first; where it ties (a detector whose int8 head loses the same detections whatever the
        # clipping) the candidate with less noise overall is the better base for the float head and islands
        return max(pool, key=lambda c: (c.margin, c.check.mean_sqnr_db if c.check else -math.inf), default=None)

    def equalizable(self) -> bool:
        """Equalization has something to work on in this model (layer pairs, affine chains into convs)."""
        from edgekit.requant.equalize import pairs_in

        return pairs_in(self.ctx.float_data) > 0

    def recipe(self, label: str, **changes: Any) -> QuantRecipe:
        return self.ctx.base_recipe.with_changes(label=label, **changes)

    # ---------------------------------------------------------------- the search
    def run(self) -> list[Candidate]:
        ctx = self.ctx
        # 1. the default of the TF-free engine, then calibration statistics (one pass of statistics serves all)
        self.try_recipe(self.recipe("ai-edge-quantizer int8 min-max"))
        for label, method in (("int8, percentile clipping", CalibrationMethod.PERCENTILE),
                              ("int8, MSE clipping", CalibrationMethod.MSE)):
            # clipping changes accuracy, not which ops are integer nor the speed: once one passes, no more
            if not self.done() and not any(c.passed for c in self.candidates):
                self.try_recipe(self.recipe(label, calibration_method=method))
        # 2. the TF converter (convert's default for Keras/SavedModel/ONNX): a full conversion, so only while
        # no ai-edge-quantizer candidate is already as good as int8 gets
        if ctx.tf_convert is not None and not self.done():
            self.try_recipe(self.recipe("TF converter int8 (convert's default)", engine=Engine.TF))
        best = self.best_aeq_int8()
        if best is not None and not self.done() and self.equalizable():
            self.try_recipe(best.recipe.with_changes(label=_label(best) + " + equalization",
                                                     equalize=True))
        best = self.best_aeq_int8()
        if best is not None and not self.done():
            self.try_recipe(best.recipe.with_changes(label=_label(best) + " + bias correction", bias_correction=True))
        if ctx.integer_only_device and not self.done() and best is not None and self.equalizable():
            self.try_recipe(best.recipe.with_changes(label="int8 per-tensor + equalization + bias correction",
                                                     per_tensor=True, equalize=True, bias_correction=True))
        if self.done():
            return self.candidates
        if ctx.integer_only_device:
            self.stopped = f"{ctx.entry.profile.id} runs full-integer int8 only: no int16 or float candidates"
            return self.candidates
        best = self.best_aeq_int8()
        if ctx.sequence is not None and best is not None:
            # a streaming model: the state fed back call after call is where int8 rounding piles up
            ops = state_path(ctx.float_data, ctx.sequence)
            if ops:
                self.try_recipe(best.recipe.with_changes(
                    label=f"int8 + float for the recurrent state path ({len(ops)} ops)", float_ops=ops,
                    bias_correction=False))
            # activations rounded in int8 are carried from call to call; int8 weights with float activations
            # keep the size gain without that (Silero VAD: the only recipe that holds over the sequence)
            if not self.passing():
                self.try_recipe(self.dynamic_range())
            if self.done():
                return self.candidates
        # 3. a head joining very different ranges (boxes with scores) kept float, then int8 for the convolutions
        # and matmuls only (where the time is), then sensitivity-guided islands
        if best is not None and not self.passing():
            self._float_head(best)
        if best is not None and not self.passing():
            self._mac_only()
        if best is not None and best.data is not None:
            self._islands(best)
        # 4. last resorts
        if not self.passing():
            self.try_recipe(self.recipe("int16x8 everywhere", mode=QuantizeMode.INT16X8, io_type=IOType.FLOAT32,
                                        calibration_method=CalibrationMethod.MINMAX))
        if not self.passing():
            self.try_recipe(self.dynamic_range())
        return self.candidates

    def dynamic_range(self) -> QuantRecipe:
        return self.recipe("dynamic range (int8 weights, float activations)", mode=QuantizeMode.DYNAMIC,
                           io_type=None, calibration_method=CalibrationMethod.MINMAX)

    def _float_head(self, best: Candidate) -> None:
        """int8 up to the first join of very different ranges (a detector's boxes and scores in one tensor), float
        from there on, with float outputs: an int8 output would round the scores away again."""
        from edgekit.requant.pipeline import stats_for
        from edgekit.requant.sensitivity import mixed_range_joins

        stats = stats_for(self.ctx.float_data, self.ctx.calib_feeds, CalibrationMethod.MINMAX, self.ctx.cache)
        ops, joins = mixed_range_joins(self.ctx.float_data, {n: t.absmax for n, t in stats.tensors.items()})
        if not ops:
            return
        self.try_recipe(best.recipe.with_changes(
            label=f"int8 + float from {joins} join(s) of very different ranges on ({len(ops)} ops), float I/O",
            float_ops=ops, io_type=IOType.FLOAT32, bias_correction=False))

    def _mac_only(self) -> None:
        from edgekit.requant.sensitivity import outside_mac_ops

        ops, macs = outside_mac_ops(self.ctx.float_data)
        if not ops or not macs:
            return
        # min-max ranges, not the best all-int8 candidate's: the clipping that helped those can cut what feeds the
        # MAC ops (magika: 25.0 dB with min-max, 14.6 with the percentile clip that was its best int8)
        self.try_recipe(self.recipe(f"int8 for the {macs} conv/matmul ops only, float elsewhere ({len(ops)} ops)",
                                    float_ops=ops))

    def int16_pays(self) -> bool:
        """int16 kernels are estimated faster than float32 ones on the device (convolutions): else an int16
        island costs more than the same ops in float, and only float islands are worth trying."""
        from edgekit.profile.costs import OpClass

        p = self.ctx.entry.profile

        def rate(dtype: str) -> float:
            return p.peak_gmacs_per_core(dtype) * p.efficiency.table(dtype).of(OpClass.CONV)

        return rate("int16") > rate("float32")

    def _islands(self, best: Candidate) -> None:
        from edgekit.requant.sensitivity import measure_sensitivity

        status("Measuring per-op sensitivity (float vs int8, every tensor) ...")
        try:
            self.sensitivity = measure_sensitivity(self.ctx.float_data, best.data or b"", self.ctx.calib_feeds)
        except EdgekitError as exc:
            status(f"  sensitivity failed: {exc.message}")
            return
        ranked = [s.name for s in self.sensitivity]
        if not ranked:
            return
        # equalization keeps the float function: islands keep it when it was part of the best int8 recipe; bias
        # correction is computed for every weight op as int8 and would be wrong for the ops an island keeps
        base = best.recipe.with_changes(bias_correction=False)
        if self.int16_pays():
            for kind in ("int16", "float"):
                if not self.passing():
                    self._fewest(base, ranked, kind)
            if not self.passing():
                self._float_prefix(base)
            return
        # int16 kernels slower than float32 here: float islands and the float prefix first, int16 islands only
        # when no float candidate passes (they can still be smaller than the float model)
        status(f"  int16 kernels are estimated slower than float32 on {self.ctx.entry.profile.id}: float islands "
               "first")
        self._fewest(base, ranked, "float")
        if not self.passing():
            self._float_prefix(base)
        if not self.passing():
            self._fewest(base, ranked, "int16")

    def _grow(self, make: Callable[[int], QuantRecipe | None], start: int, limit: int, factor: int) -> None:
        """Try k = start, start*factor, ... (up to ``limit``) until a candidate passes, stopping early when one
        step gains less than MIN_GAIN_DB or is estimated slower than float32; then bisect back to the fewest k."""
        k, last_fail, first_pass = start, 0, 0
        previous: float | None = None
        while k <= limit and self.budget_left():
            recipe = make(k)
            cand = self.try_recipe(recipe) if recipe is not None else None
            if cand is None or cand.check is None:
                break
            if cand.passed and cand.allowed:
                first_pass = k
                break
            last_fail = k
            gain = None if previous is None else cand.check.mean_sqnr_db - previous
            previous = cand.check.mean_sqnr_db
            if gain is not None and gain < MIN_GAIN_DB:
                break
            k = min(limit, k * factor) if k < limit else limit + 1
        while first_pass and first_pass - last_fail > max(1, first_pass // 8) and self.budget_left():
            mid = (first_pass + last_fail) // 2
            recipe = make(mid)
            cand = self.try_recipe(recipe) if recipe is not None else None
            if cand is None:
                break
            if cand.passed and cand.allowed:
                first_pass = mid
            else:
                last_fail = mid

    def _fewest(self, base: QuantRecipe, ranked: list[str], kind: str) -> None:
        """The k = 1, 4, 16, ... most sensitive ops (with their neighbours, see
        :func:`~edgekit.requant.sensitivity.island`) in ``kind`` until one passes, then bisect back to the fewest."""
        from edgekit.requant.sensitivity import island

        def make(k: int) -> QuantRecipe:
            ops = island(self.ctx.float_data, ranked[:k])
            if kind == "int16":
                return base.with_changes(label=f"int8 + int16 around the {k} most sensitive op(s) ({len(ops)} ops)",
                                         int16_ops=ops)
            return base.with_changes(label=f"int8 + float around the {k} most sensitive op(s) ({len(ops)} ops)",
                                     float_ops=ops)

        self._grow(make, 1, len(ranked), 4)

    def _float_prefix(self, base: QuantRecipe) -> None:
        """Noise spread over the whole network (no op stands out): keep the first k ops in float, k by bisection
        (the start of a network is where noise has the longest way to grow)."""
        from edgekit.tflite.model import parse_model

        sg = parse_model(self.ctx.float_data, "float model").main
        names = [sg.tensor(op.outputs[0]).name for op in sg.operators if op.outputs and op.outputs[0] >= 0]
        n = len(names)
        if n < 4:
            return

        def make(k: int) -> QuantRecipe | None:
            if k >= n:
                return None
            return base.with_changes(label=f"int8 + float for the first {k} of {n} ops", float_ops=tuple(names[:k]))

        # bisection on the split point: a pass (or a candidate already slower than float32) -> fewer float ops,
        # a fail -> more
        lo, hi = 0, n
        while hi - lo > max(2, n // 16) and self.budget_left():
            mid = (lo + hi) // 2
            recipe = make(mid)
            cand = self.try_recipe(recipe) if recipe is not None else None
            if cand is None or cand.check is None:
                break
            if (cand.passed and cand.allowed) or cand.slower_than_float:
                hi = mid
            else:
                lo = mid


def _label(c: Candidate) -> str:
    return c.recipe.label.split(" + ")[0]


def base_recipe(mode: QuantizeMode, calibration: Path | None, count: int, seed: int, preprocessing: Preprocessing | None,
                load: LoadRef, source: dict[str, Any], io_type: IOType | None = None) -> QuantRecipe:
    return QuantRecipe(mode=mode, engine=Engine.AEQ, io_type=io_type,
                       calibration=CalibrationRef(str(Path(calibration).resolve()) if calibration else None, count,
                                                  seed, preprocessing.to_dict() if preprocessing else None),
                       load=load, source=source)


def _full_integer(c: Candidate) -> bool:
    """Every op of the candidate's file runs in int8 (no float or int16 op)."""
    return c.kind == QuantKind.INT8.value and not c.float_ops and not c.int16_ops

