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

MAX_LAYOUT_COMBINATIONS = 16


@dataclass(frozen=True)
class OutputError:
    name: str
    max_abs_error: float
    peak_abs: float
    tolerance: float
    sample: int
    perm: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_abs_error)) and self.max_abs_error <= self.tolerance


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
             rtol: float, atol: float) -> OutputError:
    expected = np.transpose(ref, perm).astype(np.float64)
    actual = np.asarray(got, dtype=np.float64)
    if expected.shape != actual.shape:
        return OutputError(name, float("inf"), 0.0, 0.0, sample, perm)
    # NaN/inf where onnxruntime has the same NaN/inf (log of a negative input, say) is agreement, not an error
    same = (np.isnan(expected) & np.isnan(actual)) | (np.isinf(expected) & (expected == actual))
    finite = np.abs(np.where(same | ~np.isfinite(expected), 0.0, expected))
    peak = float(np.max(finite)) if expected.size else 0.0
    diff = np.where(same, 0.0, np.abs(expected - actual))
    err = float(np.max(diff)) if expected.size else 0.0
    if not np.isfinite(err):
        err = float("inf")
    return OutputError(name, err, peak, atol + rtol * peak, sample, perm)


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
    from edgekit.tflite.runtime import load_interpreter

    interpreter = load_interpreter(float_tflite)
    try:
        runner = interpreter.get_signature_runner("serving_default")
        tfl_in = runner.get_input_details()
    except (ValueError, KeyError) as exc:
        raise BackendError(f"The float .tflite made from {model_name} has no serving_default signature ({exc}).",
                           hint="This is a bug in edgekit's ONNX path; run with --debug and report it.") from exc
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
                    (_compare(name, ref[name], out[keys[name]], perm, i, options.check_rtol, options.check_atol)
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
    if failed:
        e = failed[0]
        raise BackendError(
            f"The converted model does not match onnxruntime: output '{e.name}' differs by up to {e.max_abs_error:.4g} "
            f"(its values reach {e.peak_abs:.4g}; tolerance {e.tolerance:.3g}) on check sample {e.sample + 1} of "
            f"{len(samples)} (measured). {len(failed)} of {len(best)} outputs differ. No output was written.",
            hint="This is an onnx2tf conversion problem: try --keep-nchw INPUT, re-export with opset 17, or "
                 "convert anyway with --no-check (not recommended); --debug shows onnx2tf's log.",
        )
    worst_rel = max((e.max_abs_error / e.peak_abs if e.peak_abs else e.max_abs_error) for e in best)
    n_real = min(len(samples), min((len(v) for v in (options.check_inputs or {}).values()), default=0))
    origin = f"{n_real} from your data" if n_real else "random, no data given"
    note = (f"float conversion checked against onnxruntime on {len(samples)} inputs ({origin}): "
            f"all {len(best)} outputs match "
            f"(worst max abs error {max(e.max_abs_error for e in best):.3g}, {worst_rel:.2g} of peak; measured)")
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
            err = _compare(name, ref[name], got[keys[name]], perm, step, options.check_rtol, options.check_atol)
            if not err.ok:
                raise BackendError(
                    f"Over a sequence of calls with the state carried ({', '.join(f'{i} <- {o}' for i, o in pairs)}), "
                    f"output '{name}' of the converted model differs from onnxruntime by up to "
                    f"{err.max_abs_error:.4g} at call {step + 1} of {steps} (tolerance {err.tolerance:.3g}; measured).",
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
