"""The order of `edgekit tune`'s search (edgekit.host.tune.search.Search.run), with the engines stubbed.

What the real models showed: PP-OCR's direction classifier passes ai-edge-quantizer's first int8 candidate,
but with its hard sigmoids (RELU_0_TO_1) left in float, for which ai-edge-quantizer has no integer rule;
the TF converter's int8 (what `edgekit convert` gives by default) quantizes them and is faster. The search
must not stop at the first pass while that full-integer candidate is untried.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from edgekit.core.quant import IOType
from edgekit.core.recipe import Engine, QuantRecipe
from edgekit.host.tune import search as search_mod
from edgekit.host.tune.choose import choose
from edgekit.host.tune.search import Candidate, Search, SearchLimits

pytestmark = pytest.mark.quantize


def _ctx(tf: bool) -> Any:
    return SimpleNamespace(base_recipe=QuantRecipe(), tf_convert=(lambda recipe: b"") if tf else None,
                           integer_only_device=False, entry=SimpleNamespace(profile=SimpleNamespace(id="rpi4b")),
                           float_data=b"")


def _stub_engines(monkeypatch: pytest.MonkeyPatch, tf_result: dict[str, Any]) -> list[str]:
    """ai-edge-quantizer candidates pass with 9 float ops at 3.25 ms; the TF converter gives ``tf_result``."""
    tried: list[str] = []

    def evaluate(ctx: Any, recipe: QuantRecipe, index: int) -> Candidate:
        tried.append(recipe.label)
        if recipe.engine is Engine.TF:
            fields = tf_result
        else:
            fields = {"kind": "mixed", "float_ops": 9, "latency_ms": 3.25, "passed": True}
        check = SimpleNamespace(passed=fields["passed"], margin=lambda: 0.1, decided_by=[], mean_sqnr_db=40.0,
                                min_cosine=0.999)
        return Candidate(index, recipe, data=b"x", check=check, kind=fields["kind"],  # type: ignore[arg-type]
                         float_ops=fields.get("float_ops", 0), latency_ms=fields["latency_ms"])

    monkeypatch.setattr(search_mod, "evaluate", evaluate)
    monkeypatch.setattr(Search, "equalizable", lambda self: False)
    return tried


def test_a_pass_with_float_ops_does_not_end_the_search_before_the_tf_converter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tried = _stub_engines(monkeypatch, {"kind": "int8", "latency_ms": 3.09, "passed": True})
    search = Search(_ctx(tf=True), SearchLimits(max_candidates=12))
    candidates = search.run()
    # the clipping variants change accuracy, not which ops are integer: not tried once min-max passes
    assert tried == ["ai-edge-quantizer int8 min-max", "TF converter int8 (convert's default)"]
    chosen, _ = choose(candidates)
    assert chosen is candidates[1] and chosen.recipe.engine is Engine.TF
    assert search.stopped == "a passing candidate is as fast as the plain int8 ones"


def test_a_full_integer_pass_ends_the_search_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = _stub_engines(monkeypatch, {"kind": "int8", "latency_ms": 3.09, "passed": True})
    monkeypatch.setattr(search_mod, "evaluate", _full_integer_first(search_mod.evaluate))
    Search(_ctx(tf=True), SearchLimits(max_candidates=12)).run()
    assert tried == ["ai-edge-quantizer int8 min-max"]


def test_without_a_tf_source_the_mixed_pass_is_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = _stub_engines(monkeypatch, {"kind": "int8", "latency_ms": 3.09, "passed": True})
    search = Search(_ctx(tf=False), SearchLimits(max_candidates=12))
    search.run()
    assert tried == ["ai-edge-quantizer int8 min-max"]  # a .tflite source: no other engine could do better


def _full_integer_first(evaluate: Any) -> Any:
    def wrapped(ctx: Any, recipe: QuantRecipe, index: int) -> Candidate:
        cand: Candidate = evaluate(ctx, recipe, index)
        if recipe.engine is Engine.AEQ:
            cand.kind, cand.float_ops = "int8", 0
        return cand
    return wrapped


def test_int8_for_the_macs_only_comes_before_the_islands(monkeypatch: pytest.MonkeyPatch) -> None:
    """magika: every int8 candidate collapses (its LayerNorms and tanh-GELUs), the float prefix that passes
    is no faster than float32, and int8 for its conv and two matmuls with every other op float passes at
    ~1.6x: that candidate is tried as soon as plain int8 fails, before the sensitivity islands."""
    tried: list[str] = []

    def evaluate(ctx: Any, recipe: QuantRecipe, index: int) -> Candidate:
        tried.append(recipe.label)
        macs_only = recipe.label.startswith("int8 for the 3 conv/matmul ops only")
        check = SimpleNamespace(passed=macs_only, margin=lambda: 0.1 if macs_only else -1.0, decided_by=[],
                                mean_sqnr_db=23.7 if macs_only else -3.0, min_cosine=0.99 if macs_only else 0.05)
        return Candidate(index, recipe, data=b"x", check=check, kind="mixed" if macs_only else "int8",  # type: ignore[arg-type]
                         float_ops=56 if macs_only else 0, latency_ms=39.5 if macs_only else 22.0)

    monkeypatch.setattr(search_mod, "evaluate", evaluate)
    monkeypatch.setattr(Search, "equalizable", lambda self: False)
    monkeypatch.setattr(Search, "_islands", lambda self, best: tried.append("(sensitivity islands)"))
    monkeypatch.setattr(Search, "_float_head", lambda self, best: tried.append("(float head)"))
    import edgekit.requant.sensitivity as sens

    monkeypatch.setattr(sens, "outside_mac_ops", lambda data: (tuple(f"op{i}" for i in range(56)), 3))
    ctx = _ctx(tf=False)
    ctx.sequence = None
    candidates = Search(ctx, SearchLimits(max_candidates=12)).run()
    assert tried[:3] == ["ai-edge-quantizer int8 min-max", "int8, percentile clipping", "int8, MSE clipping"]
    mac = [c for c in candidates if c.recipe.label.startswith("int8 for the 3 conv/matmul ops only")]
    assert len(mac) == 1 and len(mac[0].recipe.float_ops) == 56
    assert mac[0].recipe.label.endswith("float elsewhere (56 ops)")
    # then the islands still run: a pass slower than plain int8 does not end the search
    assert tried[-2:] == [mac[0].recipe.label, "(sensitivity islands)"]
    chosen, _ = choose(candidates)
    assert chosen is mac[0]


def _run_with_a_joined_head(monkeypatch: pytest.MonkeyPatch, evaluate: Any) -> list[Candidate]:
    """The search on a model whose head joins very different ranges at op "joined" (engines stubbed by
    ``evaluate``; no TF source)."""
    import edgekit.requant.pipeline as pipeline
    import edgekit.requant.sensitivity as sens

    monkeypatch.setattr(search_mod, "evaluate", evaluate)
    monkeypatch.setattr(Search, "equalizable", lambda self: False)
    monkeypatch.setattr(pipeline, "stats_for", lambda *a: SimpleNamespace(tensors={}))
    monkeypatch.setattr(sens, "mixed_range_joins", lambda data, ranges: (("joined", "topk", "out"), 1))
    monkeypatch.setattr(sens, "outside_mac_ops", lambda data: (("a",), 1))
    ctx = _ctx(tf=False)
    ctx.sequence = None
    ctx.calib_feeds, ctx.cache = [], {}
    return Search(ctx, SearchLimits(max_candidates=12)).run()


def test_a_head_joining_boxes_and_scores_is_kept_float_before_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    """isbnx's YOLO26n: every plain int8 candidate rounds the scores (joined with 640-pixel boxes in one
    tensor) to 0. int8 up to that join, float from it on, with float outputs, is tried right after the plain
    int8 candidates, before int8-for-the-MACs-only."""
    tried: list[str] = []

    def evaluate(ctx: Any, recipe: QuantRecipe, index: int) -> Candidate:
        tried.append(recipe.label)
        head = bool(recipe.float_ops) and recipe.float_ops[0] == "joined"
        check = SimpleNamespace(passed=head, margin=lambda: 0.1 if head else -1.0, decided_by=[],
                                mean_sqnr_db=30.0 if head else 1.7, min_cosine=0.999 if head else 0.58)
        return Candidate(index, recipe, data=b"x", check=check, kind="mixed" if head else "int8",  # type: ignore[arg-type]
                         float_ops=3 if head else 0, latency_ms=160.0 if head else 150.0)

    candidates = _run_with_a_joined_head(monkeypatch, evaluate)
    head = [c for c in candidates if c.recipe.float_ops[:1] == ("joined",)]
    assert len(head) == 1 and head[0].passed
    assert head[0].recipe.io_type is IOType.FLOAT32  # an int8 output would round the scores away again
    # after the plain int8 candidates (min-max, clipping, bias correction); it passed: no MACs-only candidate
    assert tried[:3] == ["ai-edge-quantizer int8 min-max", "int8, percentile clipping", "int8, MSE clipping"]
    assert tried[-1] == head[0].recipe.label and not any(label.startswith("int8 for the") for label in tried)


def test_the_float_head_starts_from_the_least_noisy_int8_when_every_one_loses_the_same_detections(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """nudenet's YOLOv8n on real faces: min-max, percentile and MSE int8 all find 16 of 41 detections (the same
    margin); percentile clipping has the least noise (34.0 against 30.3 dB), and its float-head candidate passes
    (0.905) where min-max's does not (0.829). The tie goes to the higher SQNR."""
    sqnr = {"ai-edge-quantizer int8 min-max": 30.3, "int8, percentile clipping": 34.0, "int8, MSE clipping": 32.7}

    def evaluate(ctx: Any, recipe: QuantRecipe, index: int) -> Candidate:
        head = bool(recipe.float_ops) and recipe.float_ops[0] == "joined"
        passed = head and recipe.calibration_method.value == "percentile"
        check = SimpleNamespace(passed=passed, margin=lambda: 0.1 if passed else -3.07, decided_by=[],
                                mean_sqnr_db=sqnr.get(recipe.label, 34.0), min_cosine=0.999)
        return Candidate(index, recipe, data=b"x", check=check, kind="mixed" if head else "int8",  # type: ignore[arg-type]
                         float_ops=23 if head else 0, latency_ms=50.0 if head else 46.0)

    monkeypatch.setattr(Search, "_islands", lambda self, best: None)
    candidates = _run_with_a_joined_head(monkeypatch, evaluate)
    [head] = [c for c in candidates if c.recipe.float_ops[:1] == ("joined",)]
    assert head.recipe.calibration_method.value == "percentile" and head.passed
