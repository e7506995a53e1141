"""`edgekit devices`: the known profiles with their key figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import main

pytestmark = pytest.mark.device


def test_devices_table_and_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["devices"])
    assert result.exit_code == 0, result.output
    for device in ("rpi-zero-2w", "rpi4b", "rpi5", "pixel4-gpu", "coral-usb-desktop", "coral-devboard"):
        assert device in result.stdout
    result = runner.invoke(main, ["devices", "--json"])
    assert result.exit_code == 0
    rows = {d["id"]: d for d in json.loads(result.stdout)["devices"]}
    assert rows["rpi4b"]["cores"] == 4 and rows["rpi4b"]["core_type"] == "cortex-a72"
    assert rows["rpi5"]["dot_product"] is True and rows["rpi4b"]["dot_product"] is False
    assert rows["coral-usb-rpi4"]["edgetpu"]["parameter_cache_bytes"] > 6_000_000
    assert all(r["fitted_on"] for r in rows.values())


def test_devices_lists_user_profiles_from_env(runner: CliRunner, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).resolve().parent.parent / "device_profiles/rpi5.toml").read_text()
    (tmp_path / "lab.toml").write_text(text.replace('id = "rpi5"', 'id = "lab-pi5"'))
    monkeypatch.setenv("EDGEKIT_PROFILES", str(tmp_path))
    result = runner.invoke(main, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    rows = {d["id"]: d for d in json.loads(result.stdout)["devices"]}
    assert rows["lab-pi5"]["profile_source"] == "user"
