"""Typed results: each command's --json is its library result's to_dict(), and reads back through from_dict.

For the read-only and estimating commands (inspect, devices, profile, size) the command and a
direct library call must give the same JSON. For the measuring ones (bench, verify, calibrate,
convert) a second call would measure again, so the library function is wrapped and the object the
command got is compared with what it printed. Every JSON must read back (result_from_dict) into an
object that prints the same JSON again, and renders the same tables where no figure is rounded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bundle_helpers import self_bundle
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.core.result import CommandResult
from edgekit.errors import InputError
from edgekit.report import to_json
from edgekit.results import KINDS, result_from_dict

DEVICE = pytest.mark.device


def _cli(args: list[str]) -> tuple[dict[str, Any], str]:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout), res.stderr


def _text(args: list[str]) -> str:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.stderr
    return res.stdout


def _json(result: CommandResult) -> dict[str, Any]:
    """What the command prints for ``result`` (NaN -> null, Paths -> str), parsed."""
    return json.loads(to_json(result.to_dict()))


def _round_trip(doc: dict[str, Any]) -> CommandResult:
    again = result_from_dict(doc)
    assert isinstance(again, CommandResult)
    assert _json(again) == doc
    assert list(_json(again)) == list(doc)  # same keys in the same order
    return again


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    """Wrap ``module.name`` so that the test sees what it returned to the command."""
    seen: list[Any] = []
    real: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = real(*args, **kwargs)
        seen.append(value)
        return value

    monkeypatch.setattr(module, name, wrapper)
    return seen


# ---------------------------------------------------------------- read and estimated: command == library


@DEVICE
def test_inspect_json_is_the_library_result(sample_int8: Path) -> None:
    from edgekit.tflite.inspect import InspectReport, inspect_model

    doc, _ = _cli(["inspect", str(sample_int8), "--json"])
    report = inspect_model(sample_int8)
    assert doc == _json(report) and doc["kind"] == "inspect"
    again = _round_trip(doc)
    assert isinstance(again, InspectReport) and again == report
    assert again.render(True) + "\n" == _text(["inspect", str(sample_int8)])
    assert again.render(False) + "\n" == _text(["inspect", str(sample_int8), "--no-ops"])


@DEVICE
def test_devices_json_is_the_library_result() -> None:
    from edgekit.profile.devices import DeviceList, list_devices

    doc, _ = _cli(["devices", "--json"])
    devices = list_devices()
    assert doc == _json(devices) and doc["kind"] == "devices"
    again = _round_trip(doc)
    assert isinstance(again, DeviceList) and again.render() + "\n" == _text(["devices"])
    kinds = {d.accelerator for d in devices.devices}
    assert {"cpu", "edgetpu", "gpu"} <= kinds  # every optional section is exercised
    assert any(d.edgetpu is not None for d in again.devices) and any(d.gpu is not None for d in again.devices)


@DEVICE
def test_profile_json_is_the_library_result(sample_int8: Path) -> None:
    from edgekit.profile.estimator import EdgeTPUSplit
    from edgekit.profile.report import ProfileReport, profile_model

    ids = ["rpi4b", "coral-usb-rpi4", "pixel4-gpu", "rpi-zero-2w"]
    args = ["profile", str(sample_int8), "--json", *[a for d in ids for a in ("-d", d)]]
    doc, _ = _cli(args)
    report = profile_model(sample_int8, ids)
    assert doc == _json(report) and doc["kind"] == "profile" and doc["estimated"] is True
    assert [d["device"] for d in doc["devices"]] == ids
    again = _round_trip(doc)
    assert isinstance(again, ProfileReport)
    coral = again.devices[1]
    assert isinstance(coral.edgetpu, EdgeTPUSplit) and coral.edgetpu == report.devices[1].edgetpu
    # the JSON lists ops slowest first; read back, they keep that order and serialise to it again
    latencies = [o.latency_ms for o in again.devices[0].ops]
    assert latencies == sorted(latencies, reverse=True)
    assert "ESTIMATES" in again.render()


@DEVICE
def test_size_tflite_json_is_the_library_result(sample_int8: Path) -> None:
    from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES, PruneScope
    from edgekit.sizing.report import TFLiteSizeReport
    from edgekit.sizing.tflite_size import size_tflite

    doc, _ = _cli(["size", str(sample_int8), "--json"])
    report = size_tflite(sample_int8, WHAT_IF_SPARSITIES, PruneScope.PER_LAYER)
    assert doc == _json(report) and doc["kind"] == "size" and doc["format"] == "tflite"
    again = _round_trip(doc)
    assert isinstance(again, TFLiteSizeReport) and again == report
    assert again.render() + "\n" == _text(["size", str(sample_int8)])
    assert report.fits.available and report.what_if[0].fits_devices == tuple(report.fits.fitting_ids() or [])


# ---------------------------------------------------------------- measured: what the command got == what it printed


@DEVICE
def test_bench_json_is_the_result_it_measured(sample_int8: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.bench as bench

    seen = _spy(monkeypatch, bench, "run_bench")
    doc, _ = _cli(["bench", str(sample_int8), "--sweep-threads", "1,2", "--runs", "4", "--warmup", "1", "--json"])
    assert len(seen) == 1 and doc == _json(seen[0])
    assert doc["kind"] == "bench" and doc["measured"] is True and isinstance(doc["warnings"], list)
    for r in doc["results"]:
        assert len(r["samples_ms"]) == 4  # every timed run is in the JSON
        assert r["latency_ms"]["min"] == min(r["samples_ms"]) and r["latency_ms"]["max"] == max(r["samples_ms"])
    again = _round_trip(doc)
    assert isinstance(again, bench.BenchReport)
    assert again.render() == seen[0].render()  # the same table from the JSON as from the measurement


def _self_bundle(tflite: Path, out: Path, count: int = 4, offset: float = 0.0) -> Path:
    return self_bundle(tflite, out, count, seed=0, offset=offset)


@DEVICE
def test_verify_bundle_json_is_its_report_pass_and_fail(sample_int8: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.verify.device as device
    from edgekit.verify.compare import VerifyReport

    bundle = _self_bundle(sample_int8, tmp_path / "bundle")
    seen = _spy(monkeypatch, device, "verify_bundle")
    doc, _ = _cli(["verify", str(bundle), "--json"])
    assert doc == _json(seen[-1]) and doc["kind"] == "verify" and doc["passed"] is True
    again = _round_trip(doc)
    assert isinstance(again, VerifyReport) and again.render() == seen[-1].render()

    # a failing check (exit 1) prints the full report first: its failures read back with their rule
    off = _self_bundle(sample_int8, tmp_path / "off", offset=0.05)
    res = CliRunner().invoke(main, ["verify", str(off), "--max-abs", "0.01", "--json"])
    assert res.exit_code == 1, res.stderr
    failed = json.loads(res.stdout)
    assert failed == _json(seen[-1]) and failed["passed"] is False
    assert {(f["metric"], f["rule"]) for f in failed["failures"]} == {("max_abs_error", "<=")}
    again = _round_trip(failed)
    assert isinstance(again, VerifyReport) and not again.passed
    assert again.render() == seen[-1].render() and "FAILED" in again.render()


@pytest.mark.slow
@DEVICE
def test_calibrate_json_is_the_profile_it_wrote(tmp_path: Path) -> None:
    from edgekit.calibrate.report import CalibrateReport

    out = tmp_path / "box.toml"
    doc, _ = _cli(["calibrate", "-o", str(out), "--id", "box", "--budget-s", "8", "--threads", "1", "--json"])
    assert doc["kind"] == "calibrate" and doc["output"] == str(out) and doc["id"] == "box"
    assert tomllib.loads(out.read_text()) == doc["profile"]  # the JSON carries exactly the profile written
    again = _round_trip(doc)
    assert isinstance(again, CalibrateReport)
    # an 8 s budget fits float32 first and int8 when there is time: under the emulated Pi (scripts/test-pi,
    # qemu, ~10x slower) it may run out before int8; either way the JSON says which classes were fitted
    assert set(again.fitted_classes) == {"float32", "int8"} and again.fitted_classes["float32"]
    assert again.fitted_classes == {dt: tuple(c) for dt, c in doc["fitted_classes"].items()}
    text = again.render()
    assert "fitted" in text and "borrowed" in text and "--device box" in text


@DEVICE
def test_calibrate_report_round_trips_a_profile_document(tmp_path: Path) -> None:
    """CalibrateReport without measuring: a shipped profile as the document, one disagreement as a warning."""
    from importlib import resources

    from edgekit.calibrate.report import CalibrateReport
    from edgekit.errors import ProfileError

    doc = tomllib.loads(resources.files("edgekit.device_profiles").joinpath("rpi4b.toml").read_text())
    doc["fit"] = {"method": "test", "date": "2026-01-01", "machine": "here", "samples": 40,
                  "rms_relative_error": 0.1234, "max_relative_error": 0.3, "residuals": {"conv_int8": 0.02}}
    report = CalibrateReport(str(tmp_path / "p.toml"), "rpi4b", 12.5, 40, doc, ("ADD int8: the runtime refused it",),
                             {"float32": ("conv",), "int8": ("conv", "elementwise")})
    d = _json(report)
    assert d["warnings"] == ["delegate model vs this runtime: ADD int8: the runtime refused it"]
    again = _round_trip(d)
    assert again == report
    text = again.render()
    assert re.search(r"^int8\s+elementwise\s+\S+\s+fitted$", text, re.M)
    assert re.search(r"^float32\s+elementwise\s+\S+\s+borrowed$", text, re.M)
    assert "12.3% / 30.0%" in text
    broken = dict(d, profile=dict(doc, schema_version=99))
    with pytest.raises(ProfileError):
        result_from_dict(broken)
    # a busy machine at the start (the 1-minute load average past 0.75 per core) is said, and survives the JSON
    busy = dataclasses.replace(report, load_average=2.06, cores=2)
    assert busy.warnings[-1].startswith("the machine was busy when calibrate started (load average 2.06 on 2 core")
    assert _round_trip(_json(busy)) == busy
    assert dataclasses.replace(report, load_average=0.8, cores=2).warnings == report.warnings


@pytest.mark.convert
@pytest.mark.slow
def test_convert_json_is_its_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.host.convert.pipeline as pipeline

    sample = Path(__file__).resolve().parent.parent / "sample_models"
    seen = _spy(monkeypatch, pipeline, "run_convert")
    doc, _ = _cli(["convert", str(sample / "shapes_classifier.keras"), "-o", str(tmp_path / "m.tflite"),
                   "--quantize", "float16", "--json"])
    assert len(seen) == 1 and doc == _json(seen[0]) and doc["kind"] == "convert"
    with pytest.raises(InputError, match="not a result edgekit can read back"):
        result_from_dict(doc)  # its result holds the converter's objects: the JSON is for reading


@pytest.mark.convert
def test_size_source_json_is_the_library_result() -> None:
    from edgekit.core.source import SourceFormat
    from edgekit.host.source_size import size_source
    from edgekit.sizing.magnitude import WHAT_IF_SPARSITIES
    from edgekit.sizing.report import SourceSizeReport

    onnx = Path(__file__).resolve().parent.parent / "sample_models" / "shapes_classifier.onnx"
    pytest.importorskip("onnx")
    doc, _ = _cli(["size", str(onnx), "--json"])
    report = size_source(onnx, SourceFormat.ONNX, WHAT_IF_SPARSITIES)
    assert doc == _json(report) and doc["kind"] == "size" and doc["format"] == "onnx"
    again = _round_trip(doc)
    assert isinstance(again, SourceSizeReport) and again == report
    assert again.render() + "\n" == _text(["size", str(onnx)])


# ---------------------------------------------------------------- reading back


@DEVICE
def test_result_from_dict_refuses_what_it_cannot_read(sample_int8: Path) -> None:
    doc, _ = _cli(["inspect", str(sample_int8), "--json"])
    for bad, needle in (({"model": "x"}, "no kind"), ({"kind": "convert"}, "kind 'convert'"), ([1, 2], "no kind"),
                        ({"kind": "tune"}, "not a complete 'tune' result")):
        with pytest.raises(InputError, match=needle):
            result_from_dict(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not a complete 'inspect' result"):
        result_from_dict({k: v for k, v in doc.items() if k != "ops"})
    assert set(KINDS) == {"bench", "calibrate", "devices", "inspect", "profile", "remote", "size", "tune", "verify"}


@DEVICE
def test_json_null_reads_back_as_not_a_number() -> None:
    """JSON has no NaN: to_json writes null, and the results read null back as NaN (and write null again)."""
    from edgekit.verify.explain_report import ExplainResult, LayerLoss, Trial

    nan_layer = LayerLoss("CONV_2D", "model/conv/Relu", math.nan, 0.5, 0.0)  # rmse unknown, scale 0
    result = ExplainResult([nan_layer], 8, baseline=Trial((), 30.0, 0.01),
                           single={"model/conv/Relu": Trial(("model/conv/Relu",), 31.0, 0.009)}, eval_samples=8)
    d = json.loads(to_json(result.to_dict()))
    assert d["layers"][0]["rmse"] is None and d["layers"][0]["rmse_per_scale"] is None
    again = ExplainResult.from_dict(d)
    assert math.isnan(again.layers[0].rmse) and json.loads(to_json(again.to_dict())) == d
    assert again.render() == result.render()
