"""HTML reports, looked at as a person would: made by each command with --html, read back figure by figure
against the --json of the same run, remade from the saved JSON by `edgekit report` (the same bytes), checked
for anything outside the file, and opened in headless Chromium (tests/browser_helpers.py).

The device-side commands (profile, bench, size of a .tflite, verify of a bundle) run here without TensorFlow
(marked ``device``: scripts/test-device runs them again in the venv without it, with the report extra).
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_helpers import Browser, chromium, is_blank
from bundle_helpers import self_bundle
from click.testing import CliRunner
from report_helpers import check_report, external_references, parse_report

from edgekit.cli import main

REPORT = pytest.mark.report
DEVICE = pytest.mark.device
pytestmark = [REPORT]

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_models"
PROFILE_DEVICES = ("rpi4b", "coral-usb-rpi4", "pixel4-gpu", "rpi-zero-2w")


@dataclass
class Made:
    """One command run with --json and --html: what it printed, the page it wrote, and the exit code."""

    doc: dict[str, Any]
    html: str
    path: Path
    json_path: Path
    exit_code: int


def _make(tmp: Path, name: str, args: list[str], exit_code: int = 0) -> Made:
    page = tmp / f"{name}.html"
    res = CliRunner().invoke(main, [*args, "--json", "--html", str(page)])
    assert res.exit_code == exit_code, res.stderr
    assert f"HTML report: {page}" in res.stderr
    saved = tmp / f"{name}.json"
    saved.write_text(res.stdout, encoding="utf-8")
    return Made(json.loads(res.stdout), page.read_text(encoding="utf-8"), page, saved, res.exit_code)


def _self_bundle(tflite: Path, out: Path, count: int = 6, offset: float = 0.0) -> Path:
    return self_bundle(tflite, out, count, seed=1, offset=offset)


# ---------------------------------------------------------------- the runs (once per session)


@pytest.fixture(scope="session")
def made_profile(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Made:
    args = ["profile", str(sample_int8), *[a for d in PROFILE_DEVICES for a in ("--device", d)]]
    return _make(tmp_path_factory.mktemp("profile"), "profile", args)


@pytest.fixture(scope="session")
def made_bench(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Made:
    args = ["bench", str(sample_int8), "--sweep-threads", "1,2", "--runs", "12", "--warmup", "3"]
    return _make(tmp_path_factory.mktemp("bench"), "bench", args)


@pytest.fixture(scope="session")
def made_size(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Made:
    return _make(tmp_path_factory.mktemp("size"), "size", ["size", str(sample_int8)])


@pytest.fixture(scope="session")
def made_size_verified(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Made:
    """size --verify-on: the model and every pruned variant verified on a bundle's golden data."""
    tmp = tmp_path_factory.mktemp("size_verified")
    bundle = _self_bundle(sample_int8, tmp / "bundle", count=8)
    return _make(tmp, "size", ["size", str(sample_int8), "--what-if", "0.05,0.9", "--verify-on", str(bundle)])


@pytest.fixture(scope="session")
def made_verify_bundle(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Made:
    tmp = tmp_path_factory.mktemp("verify_bundle")
    return _make(tmp, "verify", ["verify", str(_self_bundle(sample_int8, tmp / "bundle"))])


@pytest.fixture(scope="session")
def made_verify_failing(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Made:
    tmp = tmp_path_factory.mktemp("verify_fail")
    bundle = _self_bundle(sample_int8, tmp / "bundle", offset=0.05)
    return _make(tmp, "verify", ["verify", str(bundle), "--max-abs", "0.01"], exit_code=1)


@pytest.fixture(scope="session")
def made_verify_sequence(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A verify result of a sequence output (per sample: 40 positions x 12 classes of probabilities), measured by
    verify's own comparison on arrays with known disagreements, then rendered as --html renders a result."""
    from edgekit.htmlreport import document, write_html
    from edgekit.verify.compare import InputSource, VerifyReport, compare_outputs
    from edgekit.verify.thresholds import default_thresholds

    reference, converted = _sequences()
    thresholds = default_thresholds("int8")
    report = VerifyReport(samples=reference.shape[0], runtime="ai-edge-litert (arrays)", input_source=InputSource.DATA,
                          quantization="int8", thresholds=thresholds,
                          outputs=compare_outputs({"tokens": reference}, {"tokens": converted}, thresholds),
                          model="seq_int8.tflite", reference="seq.keras")
    tmp = tmp_path_factory.mktemp("verify_sequence")
    doc = document(report)
    path = write_html(doc, tmp / "sequence.html", force=False)
    saved = tmp / "sequence.json"
    saved.write_text(json.dumps(doc), encoding="utf-8")
    return Made(doc, path.read_text(encoding="utf-8"), path, saved, 0)


def _sequences() -> tuple[np.ndarray, np.ndarray]:
    """Softmax outputs (30 samples, 40 positions, 12 classes); the converted one disagrees more towards the end."""
    rng = np.random.default_rng(7)
    logits = rng.normal(0.0, 2.0, size=(30, 40, 12))
    noise = rng.normal(0.0, 1.0, size=logits.shape) * np.linspace(0.05, 3.0, 40)[None, :, None]

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    return softmax(logits), softmax(logits + noise)


@pytest.fixture(scope="session")
def made_tune(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A real search (ai-edge-quantizer, no TensorFlow) on a sequence classifier whose plain int8 fails."""
    pytest.importorskip("ai_edge_quantizer", reason="tune needs the quantize extra (scripts/test installs it)")
    from tune_helpers import sequence_inputs, sequence_model, write_case

    tmp = tmp_path_factory.mktemp("tune")
    model, calib, held = write_case(tmp, "seq", sequence_model(), (1, 20, 8), sequence_inputs(100, 100),
                                    held=sequence_inputs(40, 101))
    return _make(tmp, "tune", ["tune", str(model), "--device", "rpi4b", "--calibration", str(calib), "--data", str(held),
                               "-o", str(tmp / "seq_int8.tflite")])


KINDS = ("made_profile", "made_bench", "made_size", "made_size_verified", "made_verify_bundle", "made_verify_failing",
         "made_verify_sequence", "made_tune")


# ---------------------------------------------------------------- every figure is the JSON's


@DEVICE
@pytest.mark.parametrize("made", KINDS)
def test_every_figure_is_the_json_of_the_same_run(made: str, request: pytest.FixtureRequest) -> None:
    run: Made = request.getfixturevalue(made)
    parsed = check_report(run.html, run.doc)
    assert len(parsed.figures) >= 20
    kind = run.doc["kind"]
    assert f"edgekit <b>{kind}</b> report" in run.html
    # the page says where its figures come from: the producing edgekit, the machine, measured or estimated
    assert 'data-json="/produced_by/edgekit"' in run.html and 'data-json="/produced_by/machine"' in run.html
    estimated = kind == "profile"
    assert ('class="basis basis-estimated"' in run.html) == (estimated or kind in ("size", "tune"))
    assert ('class="basis basis-measured"' in run.html) == (not estimated)


@DEVICE
@pytest.mark.parametrize("made", ["made_profile", "made_bench", "made_size", "made_size_verified", "made_verify_bundle",
                                  "made_verify_failing"])
def test_report_remakes_the_same_page_from_the_saved_json(made: str, request: pytest.FixtureRequest,
                                                          tmp_path: Path) -> None:
    from edgekit.htmlreport import document
    from edgekit.results import result_from_dict

    run: Made = request.getfixturevalue(made)
    assert document(result_from_dict(run.doc)) == run.doc  # the JSON reads back into its result, unchanged
    again = tmp_path / "again.html"
    res = CliRunner().invoke(main, ["report", str(run.json_path), "-o", str(again)])
    assert res.exit_code == 0, res.stderr
    assert again.read_bytes() == run.path.read_bytes()


@DEVICE
def test_profile_report_shows_where_the_time_goes_and_what_runs_where(made_profile: Made) -> None:
    html, doc = made_profile.html, made_profile.doc
    for part in ("time", "top-ops", "placement", "memory"):
        assert f'<section class="part" id="{part}">' in html
    for chart in ("profile-time", "profile-top-ops", "profile-placement", "profile-memory"):
        assert f'id="{chart}" role="img"' in html
    assert html.count('<div class="card tone-') == len(PROFILE_DEVICES)
    # the sums by op class add up to the device's total with the overheads
    for i, d in enumerate(doc["devices"]):
        assert f'data-json="sum(/devices/{i}/ops/*[op_class=conv]/latency_ms)"' in html
        assert sum(o["latency_ms"] for o in d["ops"]) <= d["latency_ms"] + 1e-3
    # the GPU device's ops, the Edge TPU's mapped count: from the JSON, shown
    coral = PROFILE_DEVICES.index("coral-usb-rpi4")
    assert f'data-json="/devices/{coral}/edgetpu/mapped_ops"' in html
    assert "Edge TPU" in html and "GPU delegate" in html


@DEVICE
def test_profile_report_marks_the_first_op_the_edge_tpu_does_not_map(tmp_path: Path, sample_int8: Path) -> None:
    """A result read back from JSON whose Edge TPU split stops at op #6 (as a model with an unmapped op makes it)."""
    from edgekit.htmlreport import render_html

    res = CliRunner().invoke(main, ["profile", str(sample_int8), "-d", "coral-usb-rpi4", "--json"])
    doc = json.loads(res.stdout)
    dev = doc["devices"][0]
    first = next(o for o in dev["ops"] if o["index"] == 6)
    dev["edgetpu"]["first_unmapped_op"] = {"index": 6, "op": first["op"], "reason": "not supported by the Edge TPU compiler (test)"}
    for o in dev["ops"]:
        if o["index"] >= 6:
            o["runs_on"] = "cpu:xnnpack"
    html = render_html(doc)
    check_report(html, doc)
    assert f"first unmapped: #6 {first['op']}" in html  # the marker in the placement strip
    assert "not supported by the Edge TPU compiler (test)" in html and "Edge TPU → CPU" in html


@DEVICE
def test_bench_report_draws_every_run_and_the_warmup(made_bench: Made) -> None:
    doc, html = made_bench.doc, made_bench.html
    assert [len(r["samples_ms"]) for r in doc["results"]] == [12, 12]
    assert [len(r["warmup_ms"]) for r in doc["results"]] == [3, 3]  # the warm-up runs are timed and kept
    for chart in ("bench-series", "bench-histogram", "bench-threads", "bench-memory"):
        assert f'id="{chart}" role="img"' in html
    assert "warm-up" in html


@DEVICE
def test_size_report_shows_the_pruning_what_if(made_size: Made) -> None:
    html = made_size.html
    assert 'id="size-what-if" role="img"' in html and 'id="size-tensors" role="img"' in html
    for j in range(len(made_size.doc["what_if"]["rows"])):
        assert f'data-json="/what_if/rows/{j}/deflate9_bytes"' in html
    assert "What each sparsity does to the outputs is not part of this result" in html and "--verify-on BUNDLE" in html


@DEVICE
def test_size_verifies_every_pruned_variant_on_a_bundle(made_size_verified: Made) -> None:
    doc, html = made_size_verified.doc, made_size_verified.html
    light, heavy = doc["what_if"]["rows"]
    assert doc["verify_on"]["as_is"]["passed"] is True  # the bundle holds this model's own outputs
    assert doc["verify_on"]["runtime"].startswith("ai-edge-litert") and 'data-json="/verify_on/runtime"' in html
    assert doc["verify_on"]["as_is"]["outputs"][0]["cosine"] == pytest.approx(1.0)
    assert light["verify"]["samples"] == heavy["verify"]["samples"] == 8
    assert heavy["verify"]["outputs"][0]["cosine"] < light["verify"]["outputs"][0]["cosine"]  # 90% zeros hurts more
    assert not heavy["verify"]["passed"] and heavy["verify"]["failures"]
    assert "verify on the bundle" in html and "FAIL · cosine" in html
    text = CliRunner().invoke(main, ["size", doc["model"], "--what-if", "0.9", "--verify-on", doc["verify_on"]["bundle"]])
    assert text.exit_code == 0 and "FAIL (cosine" in text.stdout and "verify on the bundle" in text.stdout
    res = CliRunner().invoke(main, ["size", str(SAMPLES / "shapes_classifier.onnx"), "--verify-on",
                                    doc["verify_on"]["bundle"]])
    assert res.exit_code == 2 and "--verify-on BUNDLE checks a .tflite" in res.stderr


@DEVICE
@DEVICE
@pytest.mark.slow
def test_tune_report_draws_the_search(made_tune: Made, tmp_path: Path) -> None:
    """The Pareto plot of every candidate, the chosen one marked; the saved JSON reads back into the same table."""
    from edgekit.results import result_from_dict

    doc = made_tune.doc
    assert len(doc["candidates"]) > 1 and doc["passed"]
    assert 'id="tune-pareto"' in made_tune.html and "chosen" in made_tune.html
    parsed = parse_report(made_tune.html)
    shown = {f["data-json"] for f in parsed.figures}
    assert "/float32/estimated_latency_ms" in shown
    assert all(f"/candidates/{i}/estimated_latency_ms" in shown for i in range(len(doc["candidates"])))
    typed = result_from_dict(doc)
    assert typed.kind == "tune" and typed.to_dict() == doc and "=>" in typed.render()
    again = CliRunner().invoke(main, ["tune", doc["model"], "--device", "rpi4b", "--calibration", doc["calibration"],
                                      "--data", doc["data"], "-o", str(tmp_path / "x.tflite"), "--html",
                                      str(made_tune.path)])
    assert again.exit_code == 2 and "--force" in again.stderr  # the report is checked before any search


def test_verify_reports_pass_and_fail(made_verify_bundle: Made, made_verify_failing: Made) -> None:
    ok, bad = made_verify_bundle, made_verify_failing
    assert ok.doc["passed"] and 'class="verdict tone-good">PASSED' in ok.html
    assert not bad.doc["passed"] and 'class="verdict tone-bad">FAILED' in bad.html  # exit 1, and still the report
    assert "max_abs_error" in bad.html or "max |error|" in bad.html
    for run in (ok, bad):
        out = run.doc["outputs"][0]
        dist = out["distribution"]
        assert 'id="verify-values-0" role="img"' in run.html
        assert len(dist["pairs"]["reference"]) == dist["values"] == 6 * 6  # 6 samples of 6 class scores: all kept
        assert sum(dist["error_histogram"]["counts"]) == dist["values"]


@DEVICE
def test_verify_report_of_a_sequence_output(made_verify_sequence: Made) -> None:
    doc, html = made_verify_sequence.doc, made_verify_sequence.html
    pos = doc["outputs"][0]["distribution"]["argmax_per_position"]
    assert pos["positions"] == 40 and pos["classes"] == 12 and len(pos["agreement"]) == 40
    assert pos["agreement"][0] > pos["agreement"][-1]  # the noise grows along the sequence
    assert 'id="verify-positions" role="img"' in html and 'id="positions"' in html


def test_a_result_from_a_board_says_so(made_verify_bundle: Made, tmp_path: Path) -> None:
    """`edgekit report` renders the machine the JSON names (a board), not the machine that renders it."""
    doc = dict(made_verify_bundle.doc, produced_by={"edgekit": "0.1.0", "python": "3.11.2", "platform":
                                                    "Linux-6.6.51+rpt-rpi-v8-aarch64-with-glibc2.36",
                                                    "machine": "aarch64", "board": "Raspberry Pi 4 Model B Rev 1.4"})
    saved = tmp_path / "from_pi.json"
    saved.write_text(json.dumps(doc), encoding="utf-8")
    res = CliRunner().invoke(main, ["report", str(saved)])
    assert res.exit_code == 0, res.stderr
    html = (tmp_path / "from_pi.html").read_text(encoding="utf-8")
    check_report(html, doc)
    assert "Raspberry Pi 4 Model B Rev 1.4" in html and "aarch64" in html


# ---------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser() -> Any:
    if chromium() is None:
        pytest.fail("Chromium is needed to look at the reports: scripts/test installs it (apt-get install chromium)")
    b = Browser()
    yield b
    b.close()


@DEVICE
@pytest.mark.parametrize("made", KINDS)
def test_opens_offline_in_chromium(made: str, request: pytest.FixtureRequest, tmp_path: Path, browser: Browser) -> None:
    run: Made = request.getfixturevalue(made)
    svgs = run.html.count("<svg ")
    assert svgs >= 1
    for width in (1100, 390):  # a desktop window (the whole page) and a phone (its first screen)
        look = browser.look(run.path, width=width, mobile=width < 600, full_page=width > 600)
        (tmp_path / f"{made}-{width}.png").write_bytes(look.screenshot)
        assert not is_blank(look.screenshot), "the screenshot is blank"
        assert look.console == [], f"console messages: {look.console}"
        assert look.requests == [run.path.resolve().as_uri()], f"the page asked for more than itself: {look.requests}"
        assert len(look.charts) == svgs
        for chart in look.charts:
            assert chart["width"] > 250 and chart["height"] > 80, chart
            assert chart["shapes"] >= 5 and chart["texts"] >= 3, chart
        assert look.page["width"] <= width + 1, "the page scrolls sideways (a chart or table is wider than the screen)"
        from PIL import Image

        with Image.open(io.BytesIO(look.screenshot)) as im:
            assert im.size[0] == look.page["width"] and im.size[1] == min(look.page["height"], 900 if width < 600 else 10**6)
            assert look.page["height"] > 900
    # printed on A4 (about 720 CSS pixels inside the margins): nothing wider than the paper
    printed = browser.look(run.path, width=720, media="print", full_page=False)
    assert printed.console == [] and printed.page["width"] <= 721, "the printed page is wider than the paper"
    assert all(c["width"] > 250 and c["height"] > 80 for c in printed.charts)


# ---------------------------------------------------------------- the command line


@DEVICE
def test_html_asks_for_the_extra_before_any_work(sample_int8: Path, tmp_path: Path) -> None:
    """Without jinja2 (the report extra), --html stops at once: exit 2 and the install line, nothing measured."""
    block = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jinja2", "matplotlib"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, _Block())
from edgekit.cli import main
main()
"""
    page = tmp_path / "b.html"
    out = subprocess.run([sys.executable, "-P", "-c", block, "bench", str(sample_int8), "--html", str(page)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2, out.stderr
    assert "Error: An HTML report needs the Python package 'jinja2'" in out.stderr
    assert "Hint: pip install 'edgekit[report]'" in out.stderr
    assert "bench" not in out.stdout and not page.exists()


@DEVICE
def test_report_command_refuses_what_it_cannot_render(tmp_path: Path, made_size: Made, made_size_verified: Made,
                                                     sample_int8: Path) -> None:
    def run(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(main, ["report", *args], input=stdin)

    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = run(str(bad), "-o", str(tmp_path / "x.html"))
    assert res.exit_code == 2 and "is not JSON" in res.stderr
    inspect = CliRunner().invoke(main, ["inspect", str(sample_int8), "--json"]).stdout
    (tmp_path / "inspect.json").write_text(inspect, encoding="utf-8")
    res = run(str(tmp_path / "inspect.json"))
    assert res.exit_code == 2 and "there is no HTML report" in res.stderr and "verify, profile, bench, size" in res.stderr
    res = run(str(tmp_path / "missing.json"))
    assert res.exit_code == 2 and "does not exist" in res.stderr
    res = run("-", stdin=made_size.json_path.read_text(encoding="utf-8"))
    assert res.exit_code == 2 and "needs -o" in res.stderr
    res = run("-", "-o", str(tmp_path / "from_stdin.html"), stdin=made_size.json_path.read_text(encoding="utf-8"))
    assert res.exit_code == 0 and (tmp_path / "from_stdin.html").read_bytes() == made_size.path.read_bytes()
    res = run(str(made_size.json_path), "-o", str(tmp_path / "from_stdin.html"))  # no silent overwrite
    assert res.exit_code == 2 and "already exists" in res.stderr
    res = run(str(made_size.json_path), "-o", str(tmp_path / "report.txt"))
    assert res.exit_code == 2 and "does not end in .html" in res.stderr
    undrawable = json.loads(made_size_verified.json_path.read_text(encoding="utf-8"))
    undrawable["what_if"]["rows"][0]["verify"]["outputs"] = []  # edited by hand: reads back, cannot be drawn
    (tmp_path / "undrawable.json").write_text(json.dumps(undrawable), encoding="utf-8")
    res = run(str(tmp_path / "undrawable.json"))
    assert res.exit_code == 2 and "cannot be drawn (ValueError" in res.stderr, res.stderr
    incomplete = dict(made_size.doc)
    del incomplete["what_if"]
    (tmp_path / "incomplete.json").write_text(json.dumps(incomplete), encoding="utf-8")
    res = run(str(tmp_path / "incomplete.json"))
    assert res.exit_code == 2 and "not a complete 'size' result" in res.stderr


@DEVICE
def test_html_option_checks_its_path_before_any_work(sample_int8: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken.html"
    taken.write_text("mine", encoding="utf-8")
    res = CliRunner().invoke(main, ["bench", str(sample_int8), "--html", str(taken)])
    assert res.exit_code == 2 and "already exists" in res.stderr and taken.read_text(encoding="utf-8") == "mine"
    assert "bench" not in res.stderr  # nothing was measured
    res = CliRunner().invoke(main, ["size", str(sample_int8), "--force"])
    assert res.exit_code == 2 and "--force only applies to --html" in res.stderr
    res = CliRunner().invoke(main, ["profile", str(sample_int8), "-d", "rpi4b", "--html", str(taken), "--force"])
    assert res.exit_code == 0 and taken.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- the parts


@DEVICE
def test_expressions() -> None:
    from edgekit.htmlreport.figures import ExpressionError, Source, evaluate

    doc = {"a": [{"k": "x", "v": 1.5}, {"k": "y", "v": 2.0}, {"k": "x", "v": None}], "t": 7, "n": None, "o": {"p/q": 3}}
    assert evaluate(doc, "/a/1/v") == 2.0 and evaluate(doc, "/o/p~1q") == 3
    assert evaluate(doc, "sum(/a/*/v)") == 3.5 and evaluate(doc, "sum(/a/*[k=x]/v)") == 1.5
    assert evaluate(doc, "count(/a/*[k=x])") == 2 and evaluate(doc, "count(/a/*[v=null])") == 1
    assert evaluate(doc, "count(/a/*[k=x][v=1.5])") == 1 and evaluate(doc, "count(/a/*[k=y][v=1.5])") == 0
    assert evaluate(doc, "ratio(/a/0/v, /t)") == 1.5 / 7 and evaluate(doc, "diff(/t, sum(/a/*/v))") == 3.5
    assert evaluate(doc, "max(/a/*/v)") == 2.0 and evaluate(doc, "mean(/a/*/v)") == 1.75
    assert evaluate(doc, "ratio(/n, /t)") is None and evaluate(doc, "ratio(/t, /n)") is None
    for bad in ("/missing", "/a/9/v", "a/0", "/a/*/v", "sum(/t, /t)", "ratio(/t)", "sum(/a/*/k)", "sum(/a/*k/v)"):
        with pytest.raises(ExpressionError):
            evaluate(doc, bad)
    fig = Source({"x": 0.1234}).fig("/x", "ms")
    assert fig.text == "0.123 ms" and fig.raw == "0.1234" and Source({"x": None}).fig("/x", "pct").text == "–"


@DEVICE
def test_distribution_is_bounded_and_keeps_the_worst_errors() -> None:
    from edgekit.verify.distribution import (
        HISTOGRAM_BINS,
        MAX_POSITIONS,
        SCATTER_PAIRS,
        WORST_PAIRS,
        output_distribution,
    )

    rng = np.random.default_rng(3)
    ref = rng.normal(size=(50, 1000)).astype(np.float32)
    out = ref + rng.normal(0, 0.01, size=ref.shape).astype(np.float32)
    out[7, 123] += 5.0  # one large error
    out[9, 5] = np.nan  # one broken value
    d = output_distribution(ref, out)
    assert d.values == 50_000 and d.non_finite == 1
    assert len(d.reference) == len(d.converted) == SCATTER_PAIRS and "largest errors" in d.selection
    pairs = set(zip(d.reference, d.converted, strict=True))
    flat_ref, flat_out = ref.ravel(), out.ravel()
    error = np.where(np.isfinite(flat_out), np.abs(flat_out - flat_ref), -1.0)
    worst = np.argsort(-error, kind="stable")[:WORST_PAIRS]
    assert worst[0] == 7 * 1000 + 123
    assert all((float(f"{flat_ref[i]:.7g}"), float(f"{flat_out[i]:.7g}")) in pairs for i in worst)
    assert len(d.error_counts) == HISTOGRAM_BINS and sum(d.error_counts) == d.values - 1
    assert d.positions is None  # (50, 1000) is one vector per sample, not a sequence
    again = type(d).from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d

    # a sequence longer than MAX_POSITIONS is averaged in groups
    seq_ref = np.full((3, 2 * MAX_POSITIONS + 6, 4), 0.1, np.float32)
    seq_ref[..., 0] = 0.7
    seq_out = seq_ref.copy()
    seq_out[0, :10, 0], seq_out[0, :10, 1] = 0.0, 0.9  # the first ten positions disagree in one of three samples
    s = output_distribution(seq_ref, seq_out).positions
    assert s is not None and s.positions == 2 * MAX_POSITIONS + 6 and s.positions_per_value == 3
    assert len(s.agreement) == math.ceil(s.positions / 3) <= MAX_POSITIONS
    assert s.agreement[0] == pytest.approx(2 / 3, abs=1e-6) and s.agreement[-1] == 1.0


@DEVICE
def test_charts_are_inline_svg_without_outside_names() -> None:
    from edgekit.htmlreport import charts

    with charts.charting() as figure_cls:
        fig = charts.figure(figure_cls, 2.0)
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], label="a & <b>")
        ax.set_title("x < y")
        svg = charts.to_svg(fig, "t-1", "A title with <markup> & more")
    assert svg.startswith("<svg ") and 'id="t-1" role="img"' in svg and svg.endswith("</svg>")
    assert 'viewBox="0 0 648 144"' in svg and "width=" not in svg.split(">", 1)[0]
    assert "<title id=\"t-1-title\">A title with &lt;markup&gt; &amp; more</title>" in svg
    assert "http" not in svg and "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    parsed = parse_report(svg)
    assert external_references(svg, parsed) == []


# ---------------------------------------------------------------- workstation (the convert extra)


@pytest.mark.convert
@pytest.mark.slow
def test_verify_report_with_explain(tmp_path: Path) -> None:
    """`edgekit verify ORIGINAL CONVERTED --explain --html`: the per-layer chart, the float fallback, its command."""
    run = _make(tmp_path, "verify", [
        "verify", str(SAMPLES / "shapes_classifier.keras"), str(SAMPLES / "shapes_classifier_int8.tflite"),
        "--data", str(SAMPLES / "test"), "--labels", str(SAMPLES / "test_labels.csv"), "--samples", "30",
        "--explain", "--calibration", str(SAMPLES / "calibration"), "--calibration-samples", "30"])
    check_report(run.html, run.doc)
    explain = run.doc["explain"]
    assert explain["layers"] and 'id="verify-explain" role="img"' in run.html and 'id="explain"' in run.html
    assert run.doc["accuracy"]["samples"] == 30 and 'data-json="/accuracy/converted"' in run.html
    if explain["command"]:
        assert '<div class="command">' in run.html and 'data-json="/explain/command"' in run.html
    again = tmp_path / "again.html"
    assert CliRunner().invoke(main, ["report", str(run.json_path), "-o", str(again)]).exit_code == 0
    assert again.read_bytes() == run.path.read_bytes()


@pytest.mark.convert
def test_size_report_of_a_source_model(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    run = _make(tmp_path, "size", ["size", str(SAMPLES / "shapes_classifier.onnx")])
    parsed = check_report(run.html, run.doc)
    assert run.doc["format"] == "onnx" and len(parsed.figures) > 20
    assert 'class="basis basis-estimated"' in run.html and 'id="quantize"' in run.html


@DEVICE
def test_producer_names_the_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.provenance as provenance

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")  # as /proc/device-tree/model holds it
    monkeypatch.setattr(provenance, "DEVICE_TREE_MODEL", model)
    here = provenance.Producer.here()
    assert here.board == "Raspberry Pi 4 Model B Rev 1.4" and "Raspberry Pi 4 Model B Rev 1.4 (" in here.describe()
    assert provenance.Producer.from_dict(here.to_dict()) == here and provenance.Producer.from_dict(None) is None
    monkeypatch.setattr(provenance, "DEVICE_TREE_MODEL", tmp_path / "absent")
    assert provenance.Producer.here().board == ""
