"""Streaming models: which output is the next call's value of which input (the recurrent state).

A streaming model (voice activity detection, keyword spotting, an LSTM
decoder) takes its state as inputs and returns the new state as outputs; the
caller feeds each output state back as the next input. :func:`pair_states`
finds those pairs:

1. pairs given explicitly (``--state IN=OUT``) are taken as they are (both
   names must exist, and their shapes must agree);
2. otherwise an input and an output pair up when their shapes and dtypes are
   equal and their names differ only by a state suffix: the input's ``0``,
   ``_0``, ``in``, ``_in``, ``_prev`` and the output's ``N``, ``n``, ``_n``,
   ``out``, ``_out``, ``_new``, ``_next`` (``state``/``stateN``, ``h``/``hn``,
   ``h0``/``hN``, ``c_in``/``c_out``);
3. a name that would pair with two candidates is left unpaired and said so.

Device-safe: names and shapes only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from edgekit.errors import UsageError

_IN_SUFFIX = re.compile(r"(_?0|_?in|_?input|_prev|_?old)$", re.IGNORECASE)
_OUT_SUFFIX = re.compile(r"(_?n|_?out|_?output|_new|_next|_?final)$", re.IGNORECASE)


@dataclass(frozen=True)
class StateTensor:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass
class StatePairing:
    pairs: list[tuple[str, str]]
    how: str  # "given" | "by name"
    ambiguous: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if not self.pairs:
            return "no state inputs/outputs found"
        shown = ", ".join(f"{i} <- {o}" for i, o in self.pairs)
        extra = f"; left unpaired (ambiguous): {', '.join(self.ambiguous)}" if self.ambiguous else ""
        return f"state carried between calls: {shown} (paired {self.how}{extra})"


def _stem(name: str, pattern: re.Pattern[str]) -> str | None:
    stripped = pattern.sub("", name)
    return stripped.lower() if stripped and stripped != name else None


def pair_states(inputs: Sequence[StateTensor], outputs: Sequence[StateTensor],
                explicit: Sequence[tuple[str, str]] = ()) -> StatePairing:
    """The (input, output) state pairs (see the module docstring)."""
    by_in = {t.name: t for t in inputs}
    by_out = {t.name: t for t in outputs}
    if explicit:
        for a, b in explicit:
            if a not in by_in:
                raise UsageError(f"--state {a}={b}: the model has no input '{a}'.",
                                 hint=f"Inputs: {', '.join(by_in)}.")
            if b not in by_out:
                raise UsageError(f"--state {a}={b}: the model has no output '{b}'.",
                                 hint=f"Outputs: {', '.join(by_out)}.")
            if by_in[a].shape != by_out[b].shape:
                raise UsageError(f"--state {a}={b}: input {list(by_in[a].shape)} and output {list(by_out[b].shape)} "
                                 "differ in shape, so one cannot be fed back as the other.",
                                 hint="Pair each state input with the output of the same shape.")
        return StatePairing([(str(a), str(b)) for a, b in explicit], "as given with --state")
    candidates: dict[str, list[str]] = {}
    for i in inputs:
        for o in outputs:
            if i.shape != o.shape or i.dtype != o.dtype or i.name == o.name:
                continue
            in_stem = _stem(i.name, _IN_SUFFIX) or i.name.lower()
            out_stem = _stem(o.name, _OUT_SUFFIX)
            if out_stem is not None and out_stem == in_stem:
                candidates.setdefault(i.name, []).append(o.name)
    pairs: list[tuple[str, str]] = []
    ambiguous: list[str] = []
    used: set[str] = set()
    out_count: dict[str, int] = {}
    for found in candidates.values():
        for out_name in found:
            out_count[out_name] = out_count.get(out_name, 0) + 1
    for name in [t.name for t in inputs]:
        outs = candidates.get(name, [])
        if len(outs) == 1 and out_count[outs[0]] == 1 and outs[0] not in used:
            pairs.append((name, outs[0]))
            used.add(outs[0])
        elif outs:
            ambiguous.append(name)
    return StatePairing(pairs, "by name and shape", ambiguous)


def parse_state_options(texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--state IN=OUT`` values (repeatable, or comma-separated)."""
    pairs = []
    for text in texts:
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            left, sep, right = item.partition("=")
            if not sep or not left.strip() or not right.strip():
                raise UsageError(f"--state {item!r} is not INPUT=OUTPUT.",
                                 hint="Name the state input and the output that is its next value, e.g. "
                                      "--state state=stateN.")
            pairs.append((left.strip(), right.strip()))
    return tuple(pairs)
