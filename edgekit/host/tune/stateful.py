"""`edgekit tune` on a streaming model: the held-out data as one sequence of calls, the state carried.

When the source has state inputs and outputs (paired like ``verify --stateful`` pairs them:
``--state IN=OUT``, else by name and shape), every candidate is judged over the held-out inputs in
their order, feeding its own output state back (:func:`edgekit.requant.sequence.judge_sequence`),
against the original model run the same way. The held-out data's first state is where the sequence
starts (record the data from a stream; a zero state is the usual start).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from edgekit.data import permute_samples
from edgekit.requant.sequence import SequenceData, StateLink, reference_sequence
from edgekit.verify.stateful import StatePairing, StateTensor, pair_states


def _inverse(perm: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if perm is None else tuple(int(i) for i in np.argsort(perm))


def _tensors(specs: Sequence[Any]) -> list[StateTensor]:
    return [StateTensor(s.name, tuple(s.shape), str(s.dtype)) for s in specs]


def held_out_sequence(inputs: Sequence[Any], outputs: Sequence[Any], explicit: Sequence[tuple[str, str]],
                      held: Mapping[str, np.ndarray], run_one: Callable[[dict[str, np.ndarray]], Mapping[str, Any]],
                      in_key: Mapping[str, str], out_key: Mapping[str, str], input_names: list[str],
                      feeds: list[np.ndarray]) -> tuple[SequenceData | None, StatePairing]:
    """The sequence every candidate is judged on, or None when the model carries no state.

    ``inputs``/``outputs`` are the source's specs (name, shape, dtype, to_tflite_perm); ``held`` the held-out
    samples by source input name (source layout); ``in_key``/``out_key`` map source names to the names the
    candidates are bound by; ``input_names``/``feeds`` are the candidates' inputs in model order (TFLite layout).
    """
    pairing = pair_states(_tensors(inputs), _tensors(outputs), explicit)
    if not pairing.pairs:
        return None, pairing
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
    return SequenceData(input_names, feeds, links, reference, described), pairing
