"""Arena planner: hand-worked graphs, and the arena TFLite Micro's interpreter reports for the same models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from profile_helpers import build_tf_int8_models, profile_builder, tflm_arena_head_bytes

from edgekit.profile.arena import Buffer, Strategy, plan_arena, plan_buffers, tensor_lifetimes
from edgekit.tflite.model import load_model, parse_model


@pytest.mark.device
def test_hand_worked_chain_reuses_dead_buffers() -> None:
    # x(400B) -> A -> a(1600B) -> B -> b(800B) -> C -> c(400B); float32 elementwise-ish ops
    b = profile_builder()
    x = b.tensor("x", (1, 100))
    a = b.tensor("a", (1, 400))
    bb = b.tensor("b", (1, 200))
    c = b.tensor("c", (1, 100))
    w = b.constant("w", np.zeros((400, 100), np.float32))
    b.operator("FULLY_CONNECTED", [x, w], [a])
    w2 = b.constant("w2", np.zeros((200, 400), np.float32))
    b.operator("FULLY_CONNECTED", [a, w2], [bb])
    w3 = b.constant("w3", np.zeros((100, 200), np.float32))
    b.operator("FULLY_CONNECTED", [bb, w3], [c])
    m = parse_model(b.build([x], [c]), "chain")
    buffers, persistent = tensor_lifetimes(m.main)
    spans = {buf.tensor: (buf.first, buf.last, buf.size_bytes) for buf in buffers}
    assert spans == {x: (-1, 0, 400), a: (0, 1, 1600), bb: (1, 2, 800), c: (2, 3, 400)}
    assert persistent == 0
    plan = plan_arena(m.main, Strategy.FIRST_FIT, 16)
    # a (1600) at 0; b (800) overlaps a -> 1600; x (400) overlaps a only -> 1600; c overlaps b only -> 0
    assert plan.offsets == {a: 0, bb: 1600, x: 1600, c: 0}
    assert plan.arena_bytes == 2400  # a + b, the largest live pair


@pytest.mark.device
def test_best_fit_picks_the_smallest_gap() -> None:
    bufs = [
        Buffer(0, 100, 0, 10),  # long-lived -> 0
        Buffer(1, 80, 0, 1),  # -> 100 (dies after op 1)
        Buffer(2, 60, 0, 10),  # long-lived -> 180
        Buffer(3, 30, 0, 1),  # -> 240 (dies after op 1)
        Buffer(4, 25, 0, 10),  # long-lived -> 270
        Buffer(5, 20, 2, 3),  # gaps left: [100, 180) of 80 and [240, 270) of 30
    ]
    first = plan_buffers(bufs, Strategy.FIRST_FIT, alignment=1)
    best = plan_buffers(bufs, Strategy.BEST_FIT, alignment=1)
    assert [first.offsets[i] for i in range(5)] == [0, 100, 180, 240, 270]
    assert first.offsets[5] == 100  # lowest gap that fits
    assert best.offsets[5] == 240  # smallest gap that fits
    assert first.arena_bytes == best.arena_bytes == 295


@pytest.mark.device
def test_alignment_rounds_sizes_up() -> None:
    plan = plan_buffers([Buffer(0, 10, 0, 1), Buffer(1, 10, 0, 1)], Strategy.BEST_FIT, alignment=64)
    assert plan.arena_bytes == 128


@pytest.fixture(scope="session")
def tf_int8_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")
    return build_tf_int8_models(tmp_path_factory.mktemp("profile_arena"))


@pytest.mark.convert
@pytest.mark.slow
@pytest.mark.parametrize("name", ["chain", "branches"])
def test_arena_matches_tflite_micro(tf_int8_models: dict[str, Path], name: str) -> None:
    pytest.importorskip("tflite_micro")
    path = tf_int8_models[name]
    ours = plan_arena(load_model(path).main, Strategy.FIRST_FIT, 16).arena_bytes
    theirs = tflm_arena_head_bytes(path.read_bytes())
    assert ours == theirs


@pytest.mark.convert
@pytest.mark.slow
@pytest.mark.parametrize("name", ["chain", "branches"])
def test_xnnpack_placement_matches_litert(tf_int8_models: dict[str, Path], name: str) -> None:
    from edgekit.profile.delegate import count_partitions, place_xnnpack, runtime_delegated_ops
    from edgekit.tflite.runtime import load_interpreter

    path = tf_int8_models[name]
    ours = [p.delegated for p in place_xnnpack(load_model(path).main)]
    taken, partitions = runtime_delegated_ops(load_interpreter(path, num_threads=1))
    assert taken == {i for i, d in enumerate(ours) if d}
    assert partitions == count_partitions(ours)
