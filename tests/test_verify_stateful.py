"""Pairing the state inputs and outputs of streaming models (device-safe: names and shapes only)."""

from __future__ import annotations

import pytest

from edgekit.errors import UsageError
from edgekit.verify.stateful import StateTensor, pair_states, parse_state_options

pytestmark = pytest.mark.device


def _t(name: str, *shape: int, dtype: str = "float32") -> StateTensor:
    return StateTensor(name, tuple(shape), dtype)


@pytest.mark.parametrize(("ins", "outs", "pairs"), [
    ([_t("input", 1, 576), _t("state", 2, 1, 128)], [_t("output", 1, 1), _t("stateN", 2, 1, 128)],
     [("state", "stateN")]),  # Silero VAD v6
    ([_t("input", 4, 576), _t("h", 1, 1, 128), _t("c", 1, 1, 128)], [_t("speech_probs", 4), _t("hn", 1, 1, 128),
                                                                      _t("cn", 1, 1, 128)],
     [("h", "hn"), ("c", "cn")]),  # faster-whisper's Silero with explicit h/c
    ([_t("x", 1, 50, 512), _t("h0", 3, 1, 512), _t("c0", 3, 1, 512)], [_t("mask", 1, 50, 128), _t("hN", 3, 1, 512),
                                                                        _t("cN", 3, 1, 512)],
     [("h0", "hN"), ("c0", "cN")]),
    ([_t("c_in", 1, 8)], [_t("c_out", 1, 8)], [("c_in", "c_out")]),
    ([_t("image", 1, 3, 8, 8)], [_t("output", 1, 3, 8, 8)], []),  # same shape but no state naming: not a pair
    ([_t("h", 1, 8)], [_t("hn", 1, 9)], []),  # names fit, shapes do not
])
def test_pairs_by_name_and_shape(ins: list[StateTensor], outs: list[StateTensor], pairs: list[tuple[str, str]]) -> None:
    pairing = pair_states(ins, outs)
    assert pairing.pairs == pairs
    if pairs:
        assert "paired by name and shape" in pairing.describe()


def test_ambiguous_names_are_left_unpaired_and_said() -> None:
    pairing = pair_states([_t("h", 1, 4)], [_t("hn", 1, 4), _t("h_out", 1, 4)])
    assert pairing.pairs == [] and pairing.ambiguous == ["h"]


def test_explicit_pairs_are_checked() -> None:
    ins, outs = [_t("a", 1, 4), _t("b", 1, 2)], [_t("y", 1, 4), _t("z", 1, 2)]
    assert pair_states(ins, outs, [("a", "y")]).pairs == [("a", "y")]
    with pytest.raises(UsageError, match="no input 'q'"):
        pair_states(ins, outs, [("q", "y")])
    with pytest.raises(UsageError, match="differ in shape"):
        pair_states(ins, outs, [("a", "z")])


def test_parse_state_options() -> None:
    assert parse_state_options(("h=hn,c=cn", "state = stateN")) == (("h", "hn"), ("c", "cn"), ("state", "stateN"))
    with pytest.raises(UsageError, match="INPUT=OUTPUT"):
        parse_state_options(("h",))
