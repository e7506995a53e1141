"""The checked conversion: onnxruntime vs the float TFLite model made from onnx2tf's SavedModel.

onnx2tf's most common failure is an output that silently differs from the
original (a transpose guessed wrong, an op lowered differently). Before any
quantization, :func:`check_conversion` runs the ONNX model (onnxruntime) and
the float ``.tflite`` (LiteRT, through :mod:`edgekit.tflite.runtime`) on a few
inputs and raises :class:`BackendError` (exit 3) naming the first output that
differs and by how much. It also settles the layout: among the permutations
that fit the converted shapes, it keeps the ones under which the outputs match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice, product
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import BackendError
from edgekit.host.source_model import LoadOptions
from edgekit.verify.ranked import align_ranked, ranked_rows

MAX_LAYOUT_COMBINATIONS = 16

# random check inputs the model itself cannot take (a frequency range, a sample rate drawn from [0, 1]):
# onnxruntime's own output is NaN/Inf there, so the comparison says nothing about the conversion
INVALID_RANDOM_INPUTS = "onnxruntime's own output holds NaN/Inf on these random check inputs"
REAL_INPUTS_HINT = ("Give real inputs: --calibration FILE.npz with one array per model input (N samples each, "
                    "named like the inputs); the check then runs on them instead of random values.")


# the cosine criterion (LoadOptions.check_min_cosine) needs enough values to mean anything: two scalars of
# the same sign have cosine 1 whatever they are
MIN_COSINE_ELEMENTS = 16


@dataclass(frozen=True)
class OutputError:
    """How far one output of the float .tflite is from onnxruntime's on one check sample (measured)."""

    name: str
    max_abs_error: float
    peak_abs: float
    tolerance: float
    sample: int
    perm: tuple[int, ...]
    cosine: float = 1.0
    min_cosine: float | None = None  # also ok at or above this cosine (LoadOptions.check_min_cosine)
    reference_nonfinite: bool = False  # onnxruntime's own output holds NaN/Inf on this sample

    @property
    def within_tolerance(self) -> bool:
        return bool(np.isfinite(self.max_abs_error)) and self.max_abs_error <= self.tolerance

    @property
    def ok(self) -> bool:
        return self.within_tolerance or (self.min_cosine is not None and self.cosine >= self.min_cosine)

    def describe(self) -> str:
        """The measured error and what it was held to, for the error message."""
        text = f"differs by up to {self.max_abs_error:.4g} (its values reach {self.peak_abs:.4g}; tolerance " \
               f"{self.tolerance:.3g})"
        if self.min_cosine is not None:
            text += f" with cosine {self.cosine:.7f} (needs >= {self.min_cosine:g})"
        return text


def make_check_inputs(shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str], count: int,
                      given: Mapping[str, np.ndarray] | None, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``count`` input dicts in the ONNX layout: the user's samples first, then seeded random values."""
    rng = np.random.default_rng(seed)
    samples: list[dict[str, np.ndarray]] = []
    if given and all(name in given for name in shapes):
        # real samples make the check meaningful (random inputs can saturate a softmax, or be invalid for the
        # model: indices, sizes, a sample rate): only the user's, up to 8
        count = min(8, min(len(given[name]) for name in shapes))
    for i in range(count):
        sample = {}
        for name, shape in shapes.items():
            dtype = np.dtype(dtypes[name])
            data = (given or {}).get(name)
            if data is not None and len(data) > i and tuple(np.shape(data[i])) == tuple(shape):
                sample[name] = np.asarray(data[i], dtype=dtype)
            elif np.issubdtype(dtype, np.floating):  # image-like 0..1, then wider ranges
                low, high = ((0.0, 1.0), (-1.0, 1.0), (-3.0, 3.0))[i % 3]
                sample[name] = rng.uniform(low, high, size=shape).astype(dtype)
            elif dtype == np.bool_:
                sample[name] = rng.random(shape) < 0.5
            else:  # token ids, indices, counts: small non-negative values are valid for most models
                sample[name] = rng.integers(0, 2, size=shape).astype(dtype)
        samples.append(sample)
    return samples


def _compare(name: str, ref: np.ndarray, got: np.ndarray, perm: tuple[int, ...], sample: int,
             rtol: float, atol: float, min_cosine: float | None = None, ranked: int | None = None) -> OutputError:
    expected = np.transpose(ref, perm).astype(np.float64)
    actual = np.asarray(got, dtype=np.float64)
    if expected.shape != actual.shape:
        return OutputError(name, float("inf"), 0.0, 0.0, sample, perm, cosine=0.0)
    # rows a TopK ranks: tied scores may come in either order (edgekit.verify.ranked; no-op when ranked is None)
    both = align_ranked(expected[None], actual[None], ranked)
    expected, actual = both[0][0], both[1][0]
    # NaN/inf where onnxruntime has the same NaN/inf (log of a negative input, say) is agreement, not an error
    same = (np.isnan(expected) & np.isnan(actual)) | (np.isinf(expected) & (expected == actual))
    finite = np.abs(np.where(same | ~np.isfinite(expected), 0.0, expected))
    peak = float(np.max(finite)) if expected.size else 0.0
    diff = np.where(same, 0.0, np.abs(expected - actual))
    err = float(np.max(diff)) if expected.size else 0.0
    if not np.isfinite(err):
        err = float("inf")
    cosine = _cosine(expected, actual) if min_cosine is not None else 1.0
    return OutputError(name, err, peak, atol + rtol * peak, sample, perm, cosine=cosine, min_cosine=min_cosine,
                       reference_nonfinite=not bool(np.all(np.isfinite(expected))))


def _cosine(expected: np.ndarray, actual: np.ndarray) -> float:
    """Cosine of the two outputs as vectors; 0 where it says nothing (too few values, non-finite, all zero)."""
    a, b = expected.reshape(-1), actual.reshape(-1)
    if a.size < MIN_COSINE_ELEMENTS or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return 0.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else 0.0


def check_conversion(
    float_tflite: Path,
    reference: Any,
    shapes: Mapping[str, tuple[int, ...]],
    dtypes: Mapping[str, str],
    in_perms: Mapping[str, list[tuple[int, ...]]],
    out_perms: Mapping[str, list[tuple[int, ...]]],
    keys: Mapping[str, str],
    options: LoadOptions,
    model_name: str,
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]], str]:
    """Compare onnxruntime with the float .tflite; return the verified input/output perms and a one-line note."""
    from edgekit.tflite.model import load_model
    from edgekit.tflite.runtime import load_interpreter

    interpreter = load_interpreter(float_tflite)
    try:
        runner = interpreter.get_signature_runner("serving_default")
        tfl_in = runner.get_input_details()
    except (ValueError, KeyError) as exc:
        raise BackendError(f"The float .tflite made from {model_name} has no serving_default signature ({exc}).",
                           hint="This is a bug in edgekit's ONNX path; run with --debug and report it.") from exc
    tfl_out = runner.get_output_details()
    ranks = dict(zip(tfl_out, ranked_rows(load_model(float_tflite), [int(d["index"]) for d in tfl_out.values()]),
                     strict=True))
    samples = make_check_inputs(shapes, dtypes, options.check_samples, options.check_inputs)
    references = [reference(s) for s in samples]
    names_in = list(shapes)
    best: list[OutputError] | None = None
    best_in: dict[str, tuple[int, ...]] = {}
    combos = product(*[in_perms[n] for n in names_in])
    for combo in islice(combos, MAX_LAYOUT_COMBINATIONS):
        chosen_in = dict(zip(names_in, combo, strict=True))
        outputs = []
        for sample in samples:
            feeds = {}
            for name in names_in:
                key = keys[name]
                want = np.dtype(tfl_in[key]["dtype"]) if key in tfl_in else sample[name].dtype
                feeds[key] = np.ascontiguousarray(np.transpose(sample[name], chosen_in[name]).astype(want))
            try:
                outputs.append(runner(**feeds))
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"The float .tflite made from {model_name} does not run: {' '.join(str(exc).split())[:300]}",
                                   hint="Run with --debug for onnx2tf's log.") from exc
        errors = []
        for name, perms in out_perms.items():
            per_perm = []
            for perm in perms:
                worst = max(
                    (_compare(name, ref[name], out[keys[name]], perm, i, options.check_rtol, options.check_atol,
                              options.check_min_cosine, ranks.get(keys[name]))
                     for i, (ref, out) in enumerate(zip(references, outputs, strict=True))),
                    key=lambda e: e.max_abs_error - e.tolerance,
                )
                per_perm.append(worst)
            errors.append(min(per_perm, key=lambda e: (not e.ok, e.max_abs_error - e.tolerance)))
        if best is None or sum(not e.ok for e in errors) < sum(not e.ok for e in best):
            best, best_in = errors, chosen_in
        if all(e.ok for e in errors):
            break
    if best is None:  # cannot happen: every input has at least one candidate layout
        raise BackendError(f"No layout of the inputs of {model_name} could be checked.", hint="Report this edgekit bug.")
    failed = [e for e in best if not e.ok]
    n_real = min(len(samples), min((len(v) for v in (options.check_inputs or {}).values()), default=0))
    if failed:
        invalid = [e for e in failed if e.reference_nonfinite] if not n_real else []
        e = (invalid or failed)[0]
        where = (f", where {INVALID_RANDOM_INPUTS} ({', '.join(f'{n} {list(s)}' for n, s in shapes.items())})"
                 if invalid else f". {len(failed)} of {len(best)} outputs differ")
        raise BackendError(
            f"The converted model does not match onnxruntime: output '{e.name}' {e.describe()} on check sample "
            f"{e.sample + 1} of {len(samples)} (measured){where}. No output was written.",
            hint=REAL_INPUTS_HINT if invalid else
            "This is an onnx2tf conversion problem: try --keep-nchw INPUT, re-export with opset 17, or "
            "convert anyway with --no-check (not recommended); --debug shows onnx2tf's log.",
        )
    worst_rel = max((e.max_abs_error / e.peak_abs if e.peak_abs else e.max_abs_error) for e in best)
    origin = f"{n_real} from your data" if n_real else "random, no data given"
    note = (f"float conversion checked against onnxruntime on {len(samples)} inputs ({origin}): "
            f"all {len(best)} outputs match "
            f"(worst max abs error {max(e.max_abs_error for e in best):.3g}, {worst_rel:.2g} of peak; measured)")
    by_cosine = sorted({e.name for e in best if not e.within_tolerance})
    if by_cosine:
        note += (f"; {', '.join(by_cosine)} above the max-error tolerance, matched by cosine "
                 f"(worst {min(e.cosine for e in best if e.name in by_cosine):.7f} >= {options.check_min_cosine:g}: "
                 "the model quantizes activations at run time)")
    return best_in, {e.name: e.perm for e in best}, note


SEQUENCE_STEPS = 8


def check_sequence(
    float_tflite: Path,
    reference: Any,
    shapes: Mapping[str, tuple[int, ...]],
    dtypes: Mapping[str, str],
    in_perms: Mapping[str, tuple[int, ...]],
    out_perms: Mapping[str, tuple[int, ...]],
    keys: Mapping[str, str],
    pairs: list[tuple[str, str]],
    options: LoadOptions,
    model_name: str,
    steps: int = SEQUENCE_STEPS,
) -> str:
    """Run both models over ``steps`` calls, each feeding its own output state back; raise if they drift apart."""
    from edgekit.tflite.runtime import load_interpreter

    runner = load_interpreter(float_tflite).get_signature_runner("serving_default")
    tfl_in = runner.get_input_details()
    state_of = dict(pairs)  # input -> output
    stream = {n: s for n, s in shapes.items() if n not in state_of}
    samples = make_check_inputs(stream, dtypes, steps, options.check_inputs, seed=7)
    ref_state = {i: np.zeros(shapes[i], np.dtype(dtypes[i])) for i in state_of}
    tfl_state = {i: np.transpose(v, in_perms[i]) for i, v in ref_state.items()}
    worst: OutputError | None = None
    for step, sample in enumerate(samples):
        ref = reference({**sample, **ref_state})
        feeds = {}
        for name in shapes:
            key = keys[name]
            want = np.dtype(tfl_in[key]["dtype"]) if key in tfl_in else np.dtype(dtypes[name])
            value = tfl_state[name] if name in state_of else np.transpose(sample[name], in_perms[name])
            feeds[key] = np.ascontiguousarray(value.astype(want))
        got = runner(**feeds)
        for name, perm in out_perms.items():
            err = _compare(name, ref[name], got[keys[name]], perm, step, options.check_rtol, options.check_atol,
                           options.check_min_cosine)
            if not err.ok:
                raise BackendError(
                    f"Over a sequence of calls with the state carried ({', '.join(f'{i} <- {o}' for i, o in pairs)}), "
                    f"output '{name}' of the converted model {err.describe()} against onnxruntime at call "
                    f"{step + 1} of {steps} (measured).",
                    hint="Each call alone may match while the state drifts; try --backend lower, or check the "
                         "pairing with --state IN=OUT.")
            if worst is None or err.max_abs_error > worst.max_abs_error:
                worst = err
        ref_state = {i: np.asarray(ref[o]) for i, o in state_of.items()}
        # the converted model's own state, moved from the output's layout to the input's (they may differ)
        tfl_state = {i: np.transpose(np.transpose(np.asarray(got[keys[o]]), np.argsort(out_perms[o])), in_perms[i])
                     for i, o in state_of.items()}
    shown = f"{worst.max_abs_error:.3g}" if worst is not None else "0"
    return (f"stateful check: {steps} calls in a row, each model feeding its own state back, match onnxruntime "
            f"(worst max abs error {shown}; measured)")
