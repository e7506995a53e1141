"""An IF's other branch (issue 14): the estimate takes an IF's cheaper branch (which runs is data) and says what the
other would add; openWakeWord's hey-jarvis took its 26-op branch on random input every call (bench 0.026 ms, the
estimate 0.0157 + 0.0071 for the other branch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from profile_helpers import rpi4b_variant

from edgekit.core.tflite_builder import S, TFLiteBuilder, builtin_code, pack, unpack
from edgekit.profile.branches import if_branches
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import get_profile
from edgekit.tflite.model import parse_model

WIDTH = 64


def _branch(layers: int) -> bytes:
    """x [1, 64] -> ``layers`` fully connected 64 -> 64 (none: the output is the input)."""
    b = TFLiteBuilder("branch")
    x = cur = b.tensor("x", (1, WIDTH), "float32")
    rng = np.random.default_rng(layers)
    for i in range(layers):
        y = b.tensor(f"y{i}", (1, WIDTH), "float32")
        b.operator("FULLY_CONNECTED", [cur, b.constant(f"w{i}", rng.standard_normal((WIDTH, WIDTH)).astype(np.float32)),
                                       b.constant(f"b{i}", np.zeros(WIDTH, np.float32))], [y])
        cur = y
    return b.build([x], [cur])


def if_model(then_layers: int, else_layers: int) -> bytes:
    """main: IF(cond, x) -> y, with a then-branch and an else-branch of fully connected layers (subgraphs 1 and 2)."""
    b = TFLiteBuilder("an IF around fully connected layers")
    cond = b.tensor("cond", (1,), "bool")
    x = b.tensor("x", (1, WIDTH), "float32")
    y = b.tensor("y", (1, WIDTH), "float32")
    b.operator("IF", [cond, x], [y], options_type="IfOptions", options={"then_subgraph_index": 1, "else_subgraph_index": 2})
    return with_branches(b.model([cond, x], [y]), _branch(then_layers), _branch(else_layers))


def with_branches(model: S.ModelT, *branches: bytes) -> bytes:
    """``model`` with the main graph of each of ``branches`` appended as subgraphs 1, 2, ..."""
    for data in branches:
        branch = unpack(data)
        offset = len(model.buffers)
        model.buffers.extend(branch.buffers)
        sub = branch.subgraphs[0]
        for t in sub.tensors:
            t.buffer += offset
        codes = [builtin_code_index(model, c.builtinCode) for c in branch.operatorCodes]
        for op in sub.operators:
            op.opcodeIndex = codes[op.opcodeIndex]
        model.subgraphs.append(sub)
    return pack(model)


def builtin_code_index(model: S.ModelT, code: int) -> int:
    """The index of ``code`` in the model's operator codes, added when missing."""
    for i, c in enumerate(model.operatorCodes):
        if c.builtinCode == code:
            return i
    new = S.OperatorCodeT()
    new.builtinCode = code
    new.deprecatedBuiltinCode = min(code, 127)
    new.version = 1
    model.operatorCodes.append(new)
    return len(model.operatorCodes) - 1


@pytest.mark.device
def test_the_estimate_takes_the_cheaper_branch_and_says_what_the_other_adds(tmp_path: Path) -> None:
    entry = get_profile(rpi4b_variant(tmp_path, "branches"), [tmp_path])
    model = parse_model(if_model(then_layers=6, else_layers=0), "<if>")
    assert [op.name for op in model.main.operators] == ["IF"] and builtin_code("IF") == S.BuiltinOperator.IF
    assert if_branches(model.main, model.subgraphs, [True]) == [(0, 2, 1)]  # the empty else-branch is cheaper
    est = estimate(model, entry, 1)
    note = [n for n in est.notes if n.startswith("IF (op #0)")]
    assert len(note) == 1 and "subgraph 2, 0 ops" in note[0] and "subgraph 1, 6 ops" in note[0]
    # what it adds is the six layers as the estimator costs them in a graph of their own
    six = estimate(parse_model(_branch(6), "<six>"), entry, 1)
    added = float(note[0].rsplit("about ", 1)[1].split(" ms")[0])
    assert added == pytest.approx(sum(o.latency_ms for o in six.ops), rel=0.01)
    # branches of equal cost: nothing to say
    assert not [n for n in estimate(parse_model(if_model(2, 2), "<eq>"), entry, 1).notes if n.startswith("IF (")]


@pytest.mark.device
def test_the_if_model_runs_the_branch_its_condition_picks() -> None:
    """The test model is a real one: LiteRT runs its then-branch (six layers) or its empty else-branch."""
    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(if_model(then_layers=6, else_layers=0), num_threads=1)
    cond, x = interp.get_input_details()
    ones = np.ones((1, WIDTH), np.float32)
    outputs = []
    for flag in (True, False):
        interp.set_tensor(cond["index"], np.array([flag]))
        interp.set_tensor(x["index"], ones)
        interp.invoke()
        outputs.append(interp.get_tensor(interp.get_output_details()[0]["index"]).copy())
    assert not np.array_equal(outputs[0], ones) and np.array_equal(outputs[1], ones)


def _fc_of_input(width: int) -> bytes:
    """x [1, width], w [width, width] (an input, as an IF hands its branch the weights) -> x @ w^T."""
    b = TFLiteBuilder("branch with its weights as inputs")
    x = b.tensor("x", (1, width), "float32")
    w = b.tensor("w", (width, width), "float32")
    y = b.tensor("y", (1, width), "float32")
    b.operator("FULLY_CONNECTED", [x, w, -1], [y])
    return b.build([x, w], [y])


def _pass_through(width: int) -> bytes:
    """x, w -> x: the empty branch (reads neither input but x, which it passes out)."""
    b = TFLiteBuilder("empty branch")
    x = b.tensor("x", (1, width), "float32")
    w = b.tensor("w", (width, width), "float32")
    return b.build([x, w], [x])


@pytest.mark.device
def test_the_other_branch_also_pays_for_the_inputs_handed_to_it(tmp_path: Path) -> None:
    """openWakeWord's hey-jarvis hands its scoring branch 400 KiB of inputs (its weights among them): the IF that
    takes it ran 13.0 us over the empty one's, the branch alone 7.2. The note adds the copy of what the branch reads."""
    from edgekit.profile.branches import handed_bytes
    from edgekit.profile.memory import copy_ms

    width = 256
    b = TFLiteBuilder("an IF handing its branch weights")
    cond = b.tensor("cond", (1,), "bool")
    x = b.tensor("x", (1, width), "float32")
    w = b.constant("w", np.random.default_rng(0).standard_normal((width, width)).astype(np.float32))
    y = b.tensor("y", (1, width), "float32")
    b.operator("IF", [cond, x, w], [y], options_type="IfOptions",
               options={"then_subgraph_index": 1, "else_subgraph_index": 2})
    model = parse_model(with_branches(b.model([cond, x], [y]), _fc_of_input(width), _pass_through(width)),
                        "<if handing weights>")
    sg, op = model.main, model.main.operators[0]
    assert handed_bytes(sg, op, model.subgraphs[1]) == 4 * width + 4 * width * width  # x and the weights
    assert handed_bytes(sg, op, model.subgraphs[2]) == 4 * width  # only x, passed out
    entry = get_profile(rpi4b_variant(tmp_path, "branches"), [tmp_path])
    [note] = [n for n in estimate(model, entry, 1).notes if n.startswith("IF (op #0)")]
    added = float(note.rsplit("about ", 1)[1].split(" ms")[0])
    fc_only = estimate(parse_model(_fc_of_input(width), "<fc>"), entry, 1)
    weights_copy = copy_ms(entry.profile, 4 * width * width + 4 * width) - copy_ms(entry.profile, 4 * width)
    assert weights_copy > 0
    assert added == pytest.approx(sum(o.latency_ms for o in fc_only.ops) + weights_copy, rel=0.01)


@pytest.mark.device
def test_the_json_gives_each_ifs_other_branch_and_bench_says_which_ran(tmp_path: Path) -> None:
    """profile's JSON holds, per IF, the branch the estimate took and what the other adds (``if_branches``); bench's
    says which subgraph each IF ran on its input (``if_branches_taken``): together, the estimate of the invoke bench
    timed (openWakeWord's hey-jarvis on random input runs its 26-op scoring branch)."""
    from edgekit.bench import BenchConfig, BenchResult, bench_model
    from edgekit.profile.branches import IfBranch, branch_taken_ms
    from edgekit.profile.estimator import DeviceEstimate

    entry = get_profile(rpi4b_variant(tmp_path, "branches"), [tmp_path])
    data = if_model(then_layers=6, else_layers=0)
    est = estimate(parse_model(data, "<if>"), entry, 1)
    [branch] = est.if_branches
    six = sum(o.latency_ms for o in estimate(parse_model(_branch(6), "<six>"), entry, 1).ops)
    assert (branch.op_index, branch.estimated_subgraph, branch.estimated_ops, branch.other_subgraph,
            branch.other_ops) == (0, 2, 0, 1, 6)
    assert branch.other_adds_ms == pytest.approx(six, rel=0.01)
    again = DeviceEstimate.from_dict(est.to_dict())
    assert again.if_branches == (IfBranch.from_dict(branch.to_dict()),)
    assert again.to_dict()["if_branches"][0]["other_ops"] == 6

    path = tmp_path / "if.tflite"
    path.write_bytes(data)
    ones = np.ones((1, WIDTH), np.float32)
    config = BenchConfig(threads=1, runs=3, warmup=1, warmup_s=0.0)
    for flag, subgraph in ((True, 1), (False, 2)):
        res = bench_model(path, config, inputs=[np.array([flag]), ones])
        assert res.if_branches_taken == ((0, subgraph),)
        assert BenchResult.from_dict(res.to_dict()).if_branches_taken == ((0, subgraph),)
        taken = {i: b for i, b in res.if_branches_taken}
        assert branch_taken_ms(est.latency_ms, est.if_branches, taken) == pytest.approx(
            est.latency_ms + (branch.other_adds_ms if flag else 0.0))
