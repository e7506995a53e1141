"""`edgekit verify ORIGINAL CONVERTED.tflite --stateful`: compare a streaming model over a sequence of calls.

A streaming model is run the way it is deployed: call after call, each
model feeding ITS OWN output state back as its next input state (the original
in onnxruntime, the converted one in LiteRT), from a zero state
(:mod:`edgekit.requant.sequence`, which tune and convert judge with too).
Every call's outputs, state outputs included, are compared: a state that
drifts a little per call shows up late in the sequence, which a one-call
check never sees. The pairs come from
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
from edgekit.requant.sequence import held_out_sequence, run_sequence
from edgekit.verify.compare import InputSource, VerifyReport, compare_outputs
from edgekit.verify.stateful import StatePairing, StateTensor, pair_states
from edgekit.verify.tflite_runner import TFLiteRunner
from edgekit.verify.thresholds import default_thresholds


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
    # the sequence starts from a zero state (the state inputs' rows after the first are never read)
    held = {s.name: arrays[s.name] if s.name in arrays else np.zeros((count, *s.shape), np.dtype(s.dtype))
            for s in source.inputs}
    names = {s.name: s.name for s in [*source.inputs, *source.outputs]}
    sequence = held_out_sequence(source.inputs, source.outputs, explicit, held, source.run, names, names,
                                 [s.name for s in source.inputs],
                                 [permute_samples(held[s.name], s.to_tflite_perm) for s in source.inputs])
    if sequence is None:  # state_pairing found the pairs, so this cannot happen
        raise RuntimeError("no state pairs for the sequence")
    runner = TFLiteRunner(tflite_path, num_threads=num_threads)
    converted = run_sequence(runner, sequence)
    reference = sequence.reference
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
