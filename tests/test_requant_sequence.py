"""Judging a streaming model over a sequence of calls (edgekit.requant.sequence): the float model against
itself, the state carried in the right layout, and the recurrent state path found in the graph.

Device tests: numpy and LiteRT only (the model is written with the flatbuffer schema).
"""

from __future__ import annotations

import numpy as np
import pytest
from tune_helpers import streaming_inputs, streaming_model

from edgekit.requant.check import run_model
from edgekit.requant.sequence import (
    SequenceData,
    StateLink,
    judge_sequence,
    reference_sequence,
    run_sequence,
    state_path,
)

pytestmark = [pytest.mark.device]

OUTPUTS = {"y4/out": (1, 4), "stateN": (1, 16)}


def _run_one(model: bytes):  # type: ignore[no-untyped-def]
    def run(sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        _, results = run_model(model, ["x", "state"], [sample["x"][None], sample["state"][None]], list(OUTPUTS),
                               list(OUTPUTS.values()))
        return {name: value[0] for name, value in zip(OUTPUTS, results, strict=True)}

    return run


def _sequence(model: bytes, calls: int = 30) -> SequenceData:
    data = streaming_inputs(model, calls, seed=7)
    reference = reference_sequence(_run_one(model), calls, {"x": data["x"]}, {"state": data["state"][0]},
                                   [("state", "stateN")], OUTPUTS)
    return SequenceData(["x", "state"], [data["x"], data["state"]], [StateLink("state", "stateN")], reference, "seq")


def test_the_float_model_matches_itself_over_the_sequence() -> None:
    model = streaming_model()
    seq = _sequence(model)
    # the reference carried its own state: the states it recorded are the float model's states call by call
    np.testing.assert_allclose(seq.reference["stateN"][:-1], seq.feeds[1][1:], rtol=1e-6, atol=1e-6)
    got = run_sequence(model, seq)
    np.testing.assert_allclose(got["y4/out"], seq.reference["y4/out"], rtol=1e-6, atol=1e-6)
    check = judge_sequence(model, seq)
    assert check.passed and check.samples == 30 and check.inputs_described == "seq"


def test_a_model_that_ignores_the_carried_state_fails() -> None:
    """Judged with the recorded states it would pass; the sequence feeds the state back, so a state that is
    not carried (here: every call restarted from the first state) shows up as a failure."""
    model = streaming_model()
    seq = _sequence(model)
    frozen = SequenceData(seq.input_names, [seq.feeds[0], np.repeat(seq.feeds[1][:1], seq.calls, axis=0)], [],
                          seq.reference, "seq")
    check = judge_sequence(model, frozen)
    assert not check.passed and "stateN" in check.summary()


def test_state_is_carried_between_layouts() -> None:
    # an output state in NHWC fed back to an NCHW-source input kept NHWC: out (1,H,W,C) -> source (1,C,H,W) -> in
    link = StateLink("s", "sN", output_to_source=(0, 3, 1, 2), source_to_input=(0, 2, 3, 1))
    value = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(link.carry(value), value)
    link = StateLink("s", "sN", output_to_source=(0, 3, 1, 2))  # the input keeps the source layout
    np.testing.assert_array_equal(link.carry(value), np.transpose(value, (0, 3, 1, 2)))


def test_links_must_name_the_sequence() -> None:
    model = streaming_model()
    seq = _sequence(model, calls=3)
    with pytest.raises(ValueError, match="names no input"):
        SequenceData(seq.input_names, seq.feeds, [StateLink("h0", "stateN")], seq.reference)


def test_state_path_is_the_recurrence() -> None:
    model = streaming_model()
    # state -> decay MUL -> cell ADD -> stateN; not the input's dense layer nor the readout
    assert state_path(model, _sequence(model, calls=3)) == ("decay1/out", "cell2/out", "stateN")


def test_outside_mac_ops_lists_every_op_but_the_matmuls() -> None:
    from edgekit.requant.sensitivity import outside_mac_ops

    # inject (FULLY_CONNECTED), decay MUL, cell ADD, copy MUL, readout (FULLY_CONNECTED)
    assert outside_mac_ops(streaming_model()) == (("decay1/out", "cell2/out", "stateN"), 2)
