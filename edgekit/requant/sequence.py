"""Judge a streaming model over a sequence of calls, each model carrying its own state.

A streaming model (voice activity detection, keyword spotting, an LSTM decoder) takes its state as
inputs and returns the next state as outputs. Judging each call alone, on states recorded from the
original model, misses what the device sees: a quantized state is fed back call after call, and its
error adds up (Silero VAD's int8 state passes call by call and drifts to SQNR ~9 dB over 250 calls).
:func:`judge_sequence` runs the converted model the way it is deployed, its own output state fed back
as its next input state, over the held-out inputs in order, and compares every call's outputs (state
outputs included) with the original model's run of the same sequence (the original carrying ITS
own state), with verify's metrics and thresholds — what ``edgekit verify --stateful`` does.

:func:`held_out_sequence` makes that sequence from a source model and its held-out samples (``edgekit
tune`` judges every candidate on it, ``edgekit convert`` its quantized result): the state pairs as
``verify --stateful`` finds them (``--state IN=OUT``, else by name and shape), the samples in their order,
the first sample's state where the sequence starts.

Device-safe: numpy and the TFLite runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.data import permute_samples
from edgekit.requant.check import CheckResult, thresholds_for
from edgekit.verify.compare import compare_outputs
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD
from edgekit.verify.stateful import StateTensor, pair_states
from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors, canonical


@dataclass(frozen=True)
class StateLink:
    """Output ``output`` (TFLite layout) is the next call's value of input ``input`` (TFLite layout)."""

    input: str
    output: str
    output_to_source: tuple[int, ...] | None = None  # the output's TFLite layout -> the source layout
    source_to_input: tuple[int, ...] | None = None  # the source layout -> the input's TFLite layout

    def carry(self, value: np.ndarray) -> np.ndarray:
        """One call's output state (no batch axis) as the next call's input state."""
        if self.output_to_source is not None:
            value = np.transpose(value, self.output_to_source)
        if self.source_to_input is not None:
            value = np.transpose(value, self.source_to_input)
        return value


@dataclass
class SequenceData:
    """The held-out sequence: every input's values call by call (TFLite layout, model input order; a state
    input's row 0 is the state the sequence starts from), the links that carry the state, and the
    original model's outputs over the sequence (output name -> (calls, *shape))."""

    input_names: list[str]
    feeds: list[np.ndarray]
    links: list[StateLink]
    reference: dict[str, np.ndarray]
    described: str = ""

    def __post_init__(self) -> None:
        names = set(self.input_names)
        for link in self.links:
            if link.input not in names or link.output not in self.reference:
                raise ValueError(f"state link {link.input} <- {link.output} names no input/output of the sequence")

    @property
    def calls(self) -> int:
        return int(self.feeds[0].shape[0]) if self.feeds else 0


def run_sequence(model: bytes | TFLiteRunner, seq: SequenceData) -> dict[str, np.ndarray]:
    """Run ``model`` (bytes, or a loaded runner) over the sequence, feeding its own output states back;
    output name -> (calls, *shape)."""
    runner = model if isinstance(model, TFLiteRunner) else TFLiteRunner(model)
    ins = bind_tensors("input", [Wanted(n, tuple(f.shape[1:]), str(f.dtype))
                                 for n, f in zip(seq.input_names, seq.feeds, strict=True)], runner.model)
    out_names = list(seq.reference)
    outs = bind_tensors("output", [Wanted(n, tuple(seq.reference[n].shape[1:]), "float32") for n in out_names],
                        runner.model)
    position = {name: i for i, name in enumerate(seq.input_names)}
    state = {link.input: seq.feeds[position[link.input]][0] for link in seq.links}
    got: dict[str, list[np.ndarray]] = {n: [] for n in out_names}
    for step in range(seq.calls):
        feeds = []
        for name, feed, tensor in zip(seq.input_names, seq.feeds, ins, strict=True):
            value = state[name][None] if name in state else feed[step:step + 1]
            feeds.append(canonical(np.asarray(value, feed.dtype), tensor, f"input '{name}'"))
        results = runner.run(ins, feeds, outs)
        for name, value in zip(out_names, results, strict=True):
            got[name].append(np.asarray(value[0], np.float32))
        for link in seq.links:
            fed = position[link.input]
            state[link.input] = link.carry(got[link.output][-1]).reshape(seq.feeds[fed].shape[1:])
    return {n: np.stack(v) for n, v in got.items()}


def judge_sequence(data: bytes, seq: SequenceData, overrides: Mapping[str, float | None] | None = None,
                   map_threshold: float = DEFAULT_MAP_THRESHOLD, described: str = "",
                   synthetic: bool = False) -> CheckResult:
    """Verify's judgement of ``data`` over the whole sequence (every call's outputs, state outputs included).
    ``described`` names the samples (the check then says they ran as one sequence); ``synthetic``: random
    inputs, so top-1 and map IoU are not enforced (as :func:`~edgekit.requant.check.judge`)."""
    from edgekit.tflite.model import parse_model

    converted = run_sequence(data, seq)
    kind = parse_model(data, "candidate").quant_kind
    thresholds = thresholds_for(kind, overrides, synthetic)
    ref = {n: np.asarray(seq.reference[n], np.float32).reshape(converted[n].shape) for n in converted}
    outputs = compare_outputs(ref, converted, thresholds, map_threshold)
    how = f"{described}, as one sequence of calls (each model carrying its own state)" if described else seq.described
    return CheckResult(outputs=outputs, thresholds=thresholds, samples=seq.calls, kind=kind, inputs_described=how)


def reference_sequence(run_one: Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]],
                       calls: int, stream: Mapping[str, np.ndarray], initial: Mapping[str, np.ndarray],
                       pairs: Sequence[tuple[str, str]], output_shapes: Mapping[str, tuple[int, ...]]
                       ) -> dict[str, np.ndarray]:
    """The original model over the sequence, carrying its own state (source names and layout).

    ``run_one`` runs one call ({input: value of the spec's shape} -> {output: value}); ``stream`` holds the
    other inputs call by call (at least ``calls`` of them), ``initial`` the starting states, ``pairs`` the
    (state input, state output) names.
    """
    if calls < 1:
        raise ValueError("a sequence needs at least one call")
    state = {name: np.asarray(value) for name, value in initial.items()}
    collected: dict[str, list[np.ndarray]] = {name: [] for name in output_shapes}
    for step in range(calls):
        outs = run_one({**{name: value[step] for name, value in stream.items()}, **state})
        for name, shape in output_shapes.items():
            collected[name].append(np.asarray(outs[name], np.float32).reshape(shape))
        state = {i: np.asarray(outs[o]).reshape(state[i].shape).astype(state[i].dtype) for i, o in pairs}
    return {name: np.stack(values) for name, values in collected.items()}


def state_path(float_data: bytes, seq: SequenceData) -> tuple[str, ...]:
    """The ops of the recurrence: every op that depends on a state input and feeds a state output (the path
    the state takes from one call to the next), by output tensor name in graph order."""
    from edgekit.tflite.model import parse_model

    model = parse_model(float_data, "float model")
    sg = model.main
    ins = bind_tensors("input", [Wanted(n, tuple(f.shape[1:]), str(f.dtype))
                                 for n, f in zip(seq.input_names, seq.feeds, strict=True)], model)
    out_names = list(seq.reference)
    outs = bind_tensors("output", [Wanted(n, tuple(seq.reference[n].shape[1:]), "float32") for n in out_names],
                        model)
    state_in = {t.index for name, t in zip(seq.input_names, ins, strict=True)
                if name in {link.input for link in seq.links}}
    state_out = {t.index for name, t in zip(out_names, outs, strict=True)
                 if name in {link.output for link in seq.links}}
    reached = set(state_in)
    for op in sg.operators:  # graph order: producers come first
        if any(i in reached for i in op.inputs if i >= 0):
            reached.update(o for o in op.outputs if o >= 0)
    feeds = set(state_out)
    for op in reversed(sg.operators):
        if any(o in feeds for o in op.outputs if o >= 0):
            feeds.update(i for i in op.inputs if i >= 0)
    return tuple(sg.tensor(op.outputs[0]).name for op in sg.operators
                 if op.outputs and op.outputs[0] >= 0 and op.outputs[0] in reached and op.outputs[0] in feeds)


def _inverse(perm: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if perm is None else tuple(int(i) for i in np.argsort(perm))


def _tensors(specs: Sequence[Any]) -> list[StateTensor]:
    return [StateTensor(s.name, tuple(s.shape), str(s.dtype)) for s in specs]


def held_out_sequence(inputs: Sequence[Any], outputs: Sequence[Any], explicit: Sequence[tuple[str, str]],
                      held: Mapping[str, np.ndarray], run_one: Callable[[dict[str, np.ndarray]], Mapping[str, Any]],
                      in_key: Mapping[str, str], out_key: Mapping[str, str], input_names: list[str],
                      feeds: list[np.ndarray]) -> SequenceData | None:
    """The sequence every candidate is judged on, or None when the model carries no state.

    ``inputs``/``outputs`` are the source's specs (name, shape, dtype, to_tflite_perm); ``held`` the held-out
    samples by source input name (source layout); ``in_key``/``out_key`` map source names to the names the
    candidates are bound by; ``input_names``/``feeds`` are the candidates' inputs in model order (TFLite layout).
    """
    pairing = pair_states(_tensors(inputs), _tensors(outputs), explicit)
    if not pairing.pairs:
        return None
    state_of = dict(pairing.pairs)
    spec_in = {s.name: s for s in inputs}
    spec_out = {s.name: s for s in outputs}
    calls = int(next(iter(held.values())).shape[0])
    stream = {name: value for name, value in held.items() if name not in state_of}
    initial = {name: held[name][0] for name in state_of}
    ref_src = reference_sequence(run_one, calls, stream, initial, pairing.pairs,
                                 {s.name: tuple(s.shape) for s in outputs})
    reference = {out_key[s.name]: permute_samples(ref_src[s.name], s.to_tflite_perm) for s in outputs}
    links = [StateLink(in_key[i], out_key[o], _inverse(spec_out[o].to_tflite_perm), spec_in[i].to_tflite_perm)
             for i, o in pairing.pairs]
    described = (f"the held-out data as one sequence: {calls} calls in a row, each model carrying its own state "
                 f"({', '.join(f'{i} <- {o}' for i, o in pairing.pairs)})")
    return SequenceData(input_names, feeds, links, reference, described)
