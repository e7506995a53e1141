"""Metrics, thresholds and the report of `edgekit verify` (numpy only: device tests)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgekit.core.quant import QuantKind
from edgekit.errors import DataError, UsageError
from edgekit.report import to_json
from edgekit.verify.compare import InputSource, VerifyReport, compare_accuracy, compare_outputs
from edgekit.verify.metrics import SQNR_CEILING_DB, accuracy, class_scores, compute_metrics, sqnr_db
from edgekit.verify.thresholds import DEFAULT_THRESHOLDS, Thresholds, default_thresholds

pytestmark = pytest.mark.device


def test_identical_outputs_are_perfect() -> None:
    ref = np.random.default_rng(0).normal(size=(5, 1, 10)).astype(np.float32)
    m = compute_metrics("o", ref, ref.copy())
    assert m.max_abs_error == 0 and m.mean_abs_error == 0 and m.rmse == 0
    assert m.cosine == pytest.approx(1.0) and m.sqnr_db == SQNR_CEILING_DB
    assert m.top1_agreement == 1.0 and m.top5_agreement == 1.0 and m.num_classes == 10


def test_known_values() -> None:
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    out = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, -0.5]], np.float32)
    m = compute_metrics("o", ref, out)
    assert m.max_abs_error == pytest.approx(0.5)
    assert m.mean_abs_error == pytest.approx(1.0 / 6)
    assert m.rmse == pytest.approx(math.sqrt(0.5 / 6))
    assert m.sqnr_db == pytest.approx(10 * math.log10(5.0 / 0.5))
    assert m.cosine == pytest.approx(np.mean([1 / math.sqrt(1.25), 2 / math.sqrt(4.25)]))
    assert m.top1_agreement is None  # 3 raw values are not class scores (not probabilities, < 10 logits)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    m = compute_metrics("p", probs, probs[:, ::-1].copy())
    assert m.top1_agreement == 0.0 and m.top5_agreement is None and m.num_classes == 3


def test_top1_and_top5_agreement() -> None:
    ref = np.tile(np.arange(10, dtype=np.float32), (4, 1))  # top-1 is class 9
    out = ref.copy()
    out[0, 0] = 100.0  # top-1 changes, 9 still in top-5
    out[1, 9] = -100.0  # 9 drops out of the top-5
    m = compute_metrics("o", ref, out)
    assert m.top1_agreement == pytest.approx(0.5)
    assert m.top5_agreement == pytest.approx(0.75)


def test_class_scores_detection() -> None:
    assert class_scores(np.zeros((3, 1, 1, 1, 7), np.float32)).shape == (3, 7)  # type: ignore[union-attr]
    assert class_scores(np.zeros((3, 8, 8, 3), np.float32)) is None  # a feature map
    assert class_scores(np.zeros((3, 1), np.float32)) is None  # a scalar
    assert class_scores(np.zeros((3, 10), np.int32)) is None  # ids, not scores
    assert class_scores(np.zeros((3, 1000, 1, 1), np.float32)).shape == (3, 1000)  # type: ignore[union-attr]
    assert class_scores(np.zeros((3, 896, 1), np.float32)) is None  # one score per anchor, not 896 classes


def test_zero_vectors_and_sqnr_edges() -> None:
    zeros = np.zeros((2, 4), np.float32)
    assert compute_metrics("o", zeros, zeros).cosine == 1.0
    assert sqnr_db(zeros, np.ones((2, 4))) == -SQNR_CEILING_DB
    assert compute_metrics("o", np.ones((2, 4), np.float32), zeros).cosine == 0.0


def test_nonfinite_converted_output_fails_everything() -> None:
    ref = np.ones((2, 4), np.float32)
    out = ref.copy()
    out[0, 1] = np.nan
    m = compute_metrics("o", ref, out)
    assert math.isinf(m.max_abs_error) and m.min_cosine == -1.0 and m.sqnr_db == -SQNR_CEILING_DB


def test_metric_errors() -> None:
    with pytest.raises(DataError, match=r"reference shape \(2, 3\) != converted shape \(2, 4\)"):
        compute_metrics("o", np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(DataError, match="ORIGINAL model contains NaN"):
        compute_metrics("o", np.full((2, 3), np.nan), np.zeros((2, 3)))
    with pytest.raises(DataError, match="no values"):
        compute_metrics("o", np.zeros((0, 3)), np.zeros((0, 3)))


def test_accuracy_and_its_errors() -> None:
    scores = np.eye(4, dtype=np.float32)[None].repeat(2, 0).reshape(8, 4)
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 0])
    assert accuracy(scores, labels) == pytest.approx(7 / 8)
    with pytest.raises(DataError, match="3 labels for 8 samples"):
        accuracy(scores, labels[:3])
    with pytest.raises(DataError, match="outside the model's 4 classes"):
        accuracy(scores, np.full(8, 4))
    with pytest.raises(DataError, match="not a vector of class scores"):
        accuracy(np.zeros((8, 2, 2, 3), np.float32), labels)


def test_threshold_registry_and_validation() -> None:
    assert set(DEFAULT_THRESHOLDS) == set(QuantKind)
    int8 = default_thresholds(QuantKind.INT8)
    assert default_thresholds("int8") is int8
    assert int8.with_overrides(min_cosine=0.5).min_cosine == 0.5
    assert int8.with_overrides(min_cosine=0.5).min_sqnr_db == int8.min_sqnr_db
    with pytest.raises(UsageError, match="Valid modes: float32, float16"):
        default_thresholds("int4")
    for bad, match in (({"min_cosine": 1.5}, "--min-cosine"), ({"min_top1": 95.0}, "--min-top1"),
                       ({"max_abs": -1.0}, "--max-abs"), ({"min_sqnr_db": math.inf}, "--min-sqnr")):
        with pytest.raises(UsageError, match=match):
            Thresholds(**bad)  # type: ignore[arg-type]


def _report(outputs: dict[str, tuple[np.ndarray, np.ndarray]], thresholds: Thresholds) -> VerifyReport:
    ref = {k: v[0] for k, v in outputs.items()}
    conv = {k: v[1] for k, v in outputs.items()}
    return VerifyReport(samples=4, runtime="test 0", input_source=InputSource.DATA, quantization="int8",
                        thresholds=thresholds, outputs=compare_outputs(ref, conv, thresholds))


def test_report_collects_every_failing_output_and_metric() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 10)).astype(np.float32)
    b = rng.normal(size=(4, 1, 6)).astype(np.float32)
    report = _report(
        {"scores": (a, a + 0.001), "box": (b, -b), "other": (b, rng.normal(size=b.shape).astype(np.float32))},
        Thresholds(min_cosine=0.98, min_sqnr_db=15.0, min_top1=0.9, max_abs=1.0),
    )
    assert not report.passed
    failing = {(f.output, f.metric) for f in report.failures}
    assert ("box", "cosine") in failing and ("box", "sqnr_db") in failing and ("scores", "top1_agreement") not in failing
    assert ("other", "cosine") in failing
    assert all(f.output != "scores" for f in report.failures)
    text = report.render()
    assert "FAILED: 2 of 3 output(s)" in text and "box: cosine" in text and "other: cosine" in text
    data = json.loads(to_json(report.to_dict()))
    assert data["passed"] is False and data["samples"] == 4 and data["input_source"] == "data"
    by_name = {o["name"]: o for o in data["outputs"]}
    assert by_name["scores"]["passed"] is True and by_name["box"]["passed"] is False
    assert by_name["box"]["failures"] and by_name["scores"]["top1_agreement"] == 1.0
    for key in ("max_abs_error", "mean_abs_error", "rmse", "cosine", "sqnr_db", "top1_agreement", "top5_agreement"):
        assert key in by_name["box"]


def test_regression_output_has_null_top1() -> None:
    x = np.random.default_rng(2).normal(size=(4, 1, 1)).astype(np.float32)
    report = _report({"value": (x, x)}, Thresholds(min_top1=0.99))
    data = json.loads(to_json(report.to_dict()))
    assert data["outputs"][0]["top1_agreement"] is None and data["passed"] is True


def test_compare_errors_list_both_sides() -> None:
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(DataError, match=r"reference has \['a'\], converted has \['b'\]"):
        compare_outputs({"a": x}, {"b": x}, Thresholds())
    with pytest.raises(DataError, match="no output is a vector of class scores"):
        compare_accuracy({"a": np.zeros((2, 1), np.float32)}, {"a": np.zeros((2, 1), np.float32)}, np.zeros(2, int))


def test_one_value_per_sample_takes_the_cosine_over_the_samples() -> None:
    """A [N, 1] probability (silero VAD): per sample a cosine only says whether the signs agree, so a
    probability rounded to 0 would count as cosine 0; over the samples it measures how close the values are."""
    reference = np.linspace(0.01, 0.99, 50).reshape(50, 1)
    candidate = reference.copy()
    candidate[:6] = 0.0  # int8 rounded the six smallest probabilities to zero
    m = compute_metrics("prob", reference, candidate)
    assert m.cosine == m.min_cosine
    expected = float(np.dot(reference[:, 0], candidate[:, 0])
                     / (np.linalg.norm(reference) * np.linalg.norm(candidate)))
    assert abs(m.cosine - expected) < 1e-12 and m.cosine > 0.999
    flipped = -reference
    assert compute_metrics("prob", reference, flipped).cosine == -1.0
