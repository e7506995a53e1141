"""`edgekit profile` as a user runs it: tables, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from profile_helpers import conv_chain_model

from edgekit.cli import main
from edgekit.profile.registry import shipped_profiles

pytestmark = pytest.mark.device

DEVICE_KEYS = {"device", "profile_source", "profile_file", "estimated", "latency_ms", "peak_memory_bytes",
               "weights_bytes", "arena_bytes", "runtime_overhead_bytes", "fits", "ops"}
EDGETPU_KEYS = {"mapped_ops", "cpu_ops", "first_unmapped_op", "cached_parameter_bytes", "streamed_parameter_bytes"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("profile_cli")
    out = {}
    for name, data in (("int8", conv_chain_model("int8")), ("exp", conv_chain_model("int8", "EXP")),
                       ("float", conv_chain_model("float32"))):
        out[name] = d / f"{name}.tflite"
        out[name].write_bytes(data)
    return out


def test_json_on_every_shipped_device(runner: CliRunner, models: dict[str, Path]) -> None:
    ids = [e.profile.id for e in shipped_profiles()]
    args = ["profile", str(models["exp"]), "--json"] + [a for d in ids for a in ("--device", d)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == str(models["exp"]) and doc["estimated"] is True
    assert [d["device"] for d in doc["devices"]] == ids
    for dev in doc["devices"]:
        assert DEVICE_KEYS <= set(dev)
        assert dev["latency_ms"] > 0 and dev["fits"] is True and dev["estimated"] is True
        assert {"index", "op", "dtype", "macs", "bytes", "latency_ms", "runs_on"} <= set(dev["ops"][0])
        if dev["device"].startswith("coral"):
            assert EDGETPU_KEYS <= set(dev["edgetpu"])
            assert dev["edgetpu"]["first_unmapped_op"]["op"] == "EXP"


def test_human_table_says_estimated_and_names_the_split(runner: CliRunner, models: dict[str, Path]) -> None:
    result = runner.invoke(main, ["profile", str(models["exp"]), "-d", "rpi4b", "-d", "coral-usb-rpi4", "--ops"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "ESTIMATES" in out and "est. latency ms" in out
    assert "first unmapped op #1 EXP" in out
    assert "shipped rpi4b.toml" in out
    # per-op table, slowest first
    table = out.split("Per-op estimates on rpi4b")[1].split("\n\n")[0].splitlines()[3:]
    times = []
    for line in table:
        tokens = line.split()
        share = next(i for i, tok in enumerate(tokens) if tok.endswith("%"))
        times.append(float(tokens[share - 1]))
    assert len(times) == 5
    assert times == sorted(times, reverse=True)


def test_float_model_on_edge_tpu_one_line(runner: CliRunner, models: dict[str, Path]) -> None:
    result = runner.invoke(main, ["profile", str(models["float"]), "-d", "coral-devboard"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "runs none of" in line]
    assert len(lines) == 1
    assert "--quantize int8 --io-type uint8" in lines[0]


def test_threads_and_user_profile_dir(runner: CliRunner, models: dict[str, Path], tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "device_profiles/rpi4b.toml").read_text()
    (tmp_path / "mine.toml").write_text(text.replace('id = "rpi4b"', 'id = "my-pi"'))
    result = runner.invoke(main, ["profile", str(models["int8"]), "-d", "my-pi", "--profiles", str(tmp_path),
                                  "--threads", "2", "--json"])
    assert result.exit_code == 0, result.output
    dev = json.loads(result.stdout)["devices"][0]
    assert dev["device"] == "my-pi" and dev["profile_source"] == "user" and dev["threads"] == 2
    assert dev["profile_file"].endswith("mine.toml")


def test_errors_are_one_line_exit_2(runner: CliRunner, models: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(main, ["profile", str(models["int8"]), "-d", "rpi9"])
    assert result.exit_code == 2
    assert "Error: unknown device 'rpi9'" in result.stderr and "rpi4b" in result.stderr
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    result = runner.invoke(main, ["profile", str(bad), "-d", "rpi4b"])
    assert result.exit_code == 2 and "Error:" in result.stderr and "Traceback" not in result.output
    broken = tmp_path / "profiles"
    broken.mkdir()
    (broken / "x.toml").write_text('schema_version = 1\nid = "x"\nsurprise = 1\n')
    result = runner.invoke(main, ["profile", str(models["int8"]), "-d", "x", "--profiles", str(broken)])
    assert result.exit_code == 2 and "unknown key 'surprise'" in result.stderr


def test_sample_int8_model_on_every_device(runner: CliRunner, sample_int8: Path) -> None:
    ids = [e.profile.id for e in shipped_profiles()]
    args = ["profile", str(sample_int8), "--json"] + [a for d in ids for a in ("-d", d)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    for dev in json.loads(result.stdout)["devices"]:
        assert dev["latency_ms"] > 0 and dev["peak_memory_bytes"] > dev["weights_bytes"] > 0
        if "edgetpu" in dev:
            assert dev["edgetpu"]["mapped_ops"] > 0


def test_profile_and_devices_run_without_tensorflow(models: dict[str, Path]) -> None:
    import subprocess
    import sys

    code = f"""
import json, sys
from click.testing import CliRunner
from edgekit.cli import main
r = CliRunner().invoke(main, ["profile", {str(models['int8'])!r}, "-d", "rpi4b", "-d", "coral-devboard", "--json"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(main, ["devices"])
assert r.exit_code == 0, r.output
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ("tensorflow", "keras", "onnx", "onnx2tf"))))
"""
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_microsecond_model_keeps_its_digits(runner: CliRunner, sample_int8: Path) -> None:
    """A streaming keyword spotter runs in 2-5 us: 3 decimals of a millisecond made it 0.003 in the JSON (a +-17%
    rounding) and 0.00 in the table. Below 1 ms the JSON keeps 4 significant digits, the table 3."""
    from edgekit.report import format_ms, ms_figure

    assert ms_figure(0.0029164) == 0.002916 and ms_figure(71.70949) == 71.709 and ms_figure(0.0) == 0.0
    assert format_ms(0.0029164) == "0.00292" and format_ms(71.709) == "71.71" and format_ms(0.0000995, 3) == "0.0000995"
    result = runner.invoke(main, ["profile", str(sample_int8), "--json", "-d", "rpi5"])
    assert result.exit_code == 0, result.output
    dev = json.loads(result.stdout)["devices"][0]
    assert dev["latency_ms"] < 1 and dev["latency_ms"] == ms_figure(dev["latency_ms"])
    assert len(f"{dev['latency_ms']:.10f}".rstrip("0").split(".")[1].lstrip("0")) >= 3  # not cut to 0.0xx
    table = runner.invoke(main, ["profile", str(sample_int8), "-d", "rpi5"]).output
    assert format_ms(dev["latency_ms"]) in table
