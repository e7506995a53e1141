"""`edgekit verify ORIGINAL CONVERTED.tflite --stateful`: compare a streaming model over a sequence of calls.

A streaming model is run the way it is deployed: call after call, each
model feeding ITS OWN output state back as its next input state (the original
in onnxruntime, the converted one in LiteRT), from a zero state (or the first
sample's state when the data has one). Every call's outputs, state outputs
included, are compared: a state that drifts a little per call shows up late in
the sequence, which a one-call check never sees. The pairs come from
:func:`edgekit.verify.stateful.pair_states` (``--state IN=OUT``, else by name
and shape).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgekit.data import Preprocessing, load_samples, permute_samples
from edgekit.errors import UsageError
from edgekit.host.source_model import SourceModel
from edgekit.verify.compare import InputSource, VerifyReport, compare_outputs
from edgekit.verify.stateful import StatePairing, StateTensor, pair_states
from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors
from edgekit.verify.thresholds import default_thresholds


def _tflite_shape(shape: tuple[int, ...], perm: tuple[int, ...] | None) -> tuple[int, ...]:
    return shape if perm is None else tuple(shape[p] for p in perm)


def state_pairing(source: SourceModel, explicit: Sequence[tuple[str, str]]) -> StatePairing:
    pairing = pair_states([StateTensor(s.name, s.shape, s.dtype) for s in source.inputs],
                          [StateTensor(s.name, s.shape, s.dtype) for s in source.outputs], explicit)
    if not pairing.pairs:
        names_in = ", ".join(f"{s.name} {list(s.shape)}" for s in source.inputs)
        names_out = ", ".join(f"{s.name} {list(s.shape)}" for s in source.outputs)
        raise UsageError(
            f"--stateful: no state input/output pair found by name and shape (inputs: {names_in}; outputs: "
            f"{names_out}).", hint="Name the pairs with --state INPUT=OUTPUT (repeatable).")
    return pairing


def verify_stateful(source: SourceModel, tflite_path: Path, data: Path | None, recipe: Preprocessing | None,
                    steps: int, explicit: Sequence[tuple[str, str]] = (),
                    overrides: dict[str, float | None] | None = None, num_threads: int | None = None) -> VerifyReport:
    """Run both models over ``steps`` calls with their own state carried; compare every call's outputs."""
    pairing = state_pairing(source, explicit)
    state_of = dict(pairing.pairs)
    stream_specs = [s for s in source.inputs if s.name not in state_of]
    warnings: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    if stream_specs:
        arrays, summary = load_samples(data, stream_specs, recipe, steps, progress_label=None)
        if data is None:
            warnings.append("no --data given: the sequence is SYNTHETIC random input; this checks that the two "
                            "models agree call after call, not that the converted model is accurate.")
    count = min((a.shape[0] for a in arrays.values()), default=steps)
    specs = {s.name: s for s in [*source.inputs, *source.outputs]}
    runner = TFLiteRunner(tflite_path, num_threads=num_threads)
    in_specs, out_specs = source.inputs, source.outputs
    in_tensors = bind_tensors("input", [Wanted(s.name, _tflite_shape(s.shape, s.to_tflite_perm), s.dtype)
                                        for s in in_specs], runner.model)
    out_tensors = bind_tensors("output", [Wanted(s.name, _tflite_shape(s.shape, s.to_tflite_perm), "float32")
                                          for s in out_specs], runner.model)
    ref_state = {i: np.zeros(specs[i].shape, np.dtype(specs[i].dtype)) for i in state_of}
    conv_state = dict(ref_state)  # both in the ONNX layout between calls
    ref_steps: dict[str, list[np.ndarray]] = {s.name: [] for s in out_specs}
    conv_steps: dict[str, list[np.ndarray]] = {s.name: [] for s in out_specs}
    for step in range(count):
        sample = {name: value[step] for name, value in arrays.items()}
        ref = source.run({**sample, **ref_state})
        feeds = []
        for spec in in_specs:
            value = conv_state[spec.name] if spec.name in state_of else sample[spec.name]
            feeds.append(permute_samples(np.asarray(value)[None], spec.to_tflite_perm))
        got = runner.run(in_tensors, feeds, out_tensors)
        for spec, value in zip(out_specs, got, strict=True):
            perm = spec.to_tflite_perm
            onnx_value = value[0] if perm is None else np.transpose(value[0], np.argsort(perm))
            conv_steps[spec.name].append(np.asarray(onnx_value, np.float32).reshape(spec.shape))
            ref_steps[spec.name].append(np.asarray(ref[spec.name], np.float32).reshape(spec.shape))
        ref_state = {i: np.asarray(ref[o]).reshape(specs[i].shape) for i, o in state_of.items()}
        conv_state = {i: conv_steps[o][-1].astype(np.dtype(specs[i].dtype)) for i, o in state_of.items()}
    reference = {n: permute_samples(np.stack(v), specs[n].to_tflite_perm) for n, v in ref_steps.items()}
    converted = {n: permute_samples(np.stack(v), specs[n].to_tflite_perm) for n, v in conv_steps.items()}
    thresholds = default_thresholds(runner.model.quant_kind).with_overrides(**(overrides or {}))
    drift = {n: float(np.max(np.abs(reference[n][-1] - converted[n][-1]))) for n in reference}
    notes = [f"stateful: {count} calls in a row, each model carrying its own state; {pairing.describe()}",
             "max abs error at the last call: " + ", ".join(f"{n} {e:.3g}" for n, e in drift.items())]
    report = VerifyReport(
        samples=count, runtime=runner.runtime,
        input_source=InputSource.SYNTHETIC if data is None else InputSource.DATA,
        quantization=runner.model.quant_kind.value, thresholds=thresholds,
        outputs=compare_outputs(reference, converted, thresholds), model=str(tflite_path),
        reference=f"{source.path} ({source.format.value}), stateful", notes=list(source.notes) + notes,
        warnings=list(source.warnings) + warnings)
    return report
