"""Device profile schema and registry: shipped profiles validate, broken ones fail clearly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edgekit.core.profile_toml import dumps
from edgekit.errors import ProfileError
from edgekit.profile.registry import ENV_VAR, ProfileOrigin, all_profiles, get_profile, shipped_profiles
from edgekit.profile.schema import Accelerator, load_profile, profile_from_dict

pytestmark = pytest.mark.device

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "device_profiles"
EXPECTED = {"rpi-zero-2w", "rpi3b-plus", "rpi4b", "rpi5", "pixel3-cpu", "pixel4-cpu", "pixel4-gpu",
            "coral-usb-rpi4", "coral-usb-desktop", "coral-devboard"}


def _rpi4_doc() -> dict:
    return tomllib.loads((SHIPPED_DIR / "rpi4b.toml").read_text())


def _write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_every_shipped_profile_validates() -> None:
    entries = shipped_profiles()
    ids = {e.profile.id for e in entries}
    assert EXPECTED <= ids
    for e in entries:
        p = e.profile
        assert e.origin == ProfileOrigin.SHIPPED
        assert p.fitted_on, p.id
        assert p.hardware.peak_int8_gmacs_per_core > 0 and p.hardware.ram_bytes > 0
        assert 0 < p.efficiency.int8.conv <= 1 and 0 < p.efficiency.float32.conv <= 1
        assert p.runtime.thread_speedup.at("float32", 1) == 1.0
        # the file name is the id, so users can find the file to copy
        assert e.file == f"{p.id}.toml"
    by_id = {e.profile.id: e.profile for e in entries}
    assert by_id["coral-usb-rpi4"].accelerator == Accelerator.EDGETPU
    assert by_id["coral-usb-rpi4"].edgetpu is not None
    assert by_id["pixel4-gpu"].gpu is not None
    # same core type shares its fitted efficiencies
    assert by_id["rpi5"].efficiency == by_id["pixel4-cpu"].efficiency
    assert by_id["rpi3b-plus"].efficiency == by_id["rpi-zero-2w"].efficiency == by_id["coral-devboard"].efficiency


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d["hardware"].__setitem__("clock_mhz", 1500), "unknown key 'hardware.clock_mhz'"),
        (lambda d: d.__setitem__("colour", "red"), "unknown key 'colour'"),
        (lambda d: d["hardware"].__setitem__("clock_ghz", -1.5), "'hardware.clock_ghz' = -1.5 is out of range"),
        (lambda d: d["hardware"].pop("ram_bytes"), "missing key 'hardware.ram_bytes'"),
        (lambda d: d["hardware"].__setitem__("cores", "four"), "'hardware.cores' must be an integer"),
        (lambda d: d["efficiency"]["int8"].__setitem__("conv", 1.7), "'efficiency.int8.conv' = 1.7 is out of range"),
        (lambda d: d["efficiency"]["int8"].pop("softmax"), "missing key 'efficiency.int8.softmax'"),
        (lambda d: d["runtime"].__setitem__("delegate", "nnapi"), "'runtime.delegate' must be one of"),
        (lambda d: d["runtime"]["thread_speedup"].__setitem__("int8", [2.0, 3.0]), "must start with 1.0"),
        (lambda d: d.__setitem__("schema_version", 2), "'schema_version' = 2 is not supported"),
        (lambda d: d.__setitem__("accelerator", "edgetpu"), 'accelerator = "edgetpu" needs a [edgetpu] section'),
        (lambda d: d.__setitem__("fitted_on", []), "'fitted_on' is empty"),
    ],
)
def test_broken_profile_gives_clear_error(tmp_path: Path, mutate: object, expect: str) -> None:
    doc = _rpi4_doc()
    mutate(doc)  # type: ignore[operator]
    path = _write(tmp_path, dumps(doc))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message  # names the file
    assert expect in message
    assert info.value.hint  # says what to do
    assert "\n" not in message


def test_unknown_key_hint_lists_allowed_keys(tmp_path: Path) -> None:
    doc = _rpi4_doc()
    doc["hardware"]["clock_mhz"] = 1500
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, dumps(doc)))
    assert "clock_ghz" in info.value.hint and "cores" in info.value.hint


def test_not_toml_and_unknown_device(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(_write(tmp_path, "this is = = not toml"))
    with pytest.raises(ProfileError, match="unknown device 'rpi9'") as info:
        get_profile("rpi9")
    assert "rpi4b" in info.value.hint


def test_user_and_calibrated_profiles_override_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _rpi4_doc()
    doc["name"] = "my own Pi 4"
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    _write(user_dir, dumps(doc), "pi.toml")
    entry = get_profile("rpi4b", [user_dir])
    assert entry.origin == ProfileOrigin.USER and entry.profile.name == "my own Pi 4"
    assert entry.file.endswith("pi.toml")

    cal = dict(doc, name="calibrated Pi 4", fit={"method": "least squares", "rms_relative_error": 0.05,
                                                  "residuals": {"conv3x3_int8": 0.02}})
    cal_dir = tmp_path / "cal"
    cal_dir.mkdir()
    _write(cal_dir, dumps(cal), "pi_cal.toml")
    monkeypatch.setenv(ENV_VAR, str(cal_dir))
    # calibrated (from the environment) wins over the later plain user profile with the same id
    entry = all_profiles([user_dir])["rpi4b"]
    assert entry.origin == ProfileOrigin.CALIBRATED and entry.profile.name == "calibrated Pi 4"
    assert entry.profile.fit is not None and entry.profile.fit.residuals == {"conv3x3_int8": 0.02}


def test_missing_profiles_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="does not exist"):
        all_profiles([tmp_path / "nope"])


def test_profile_from_dict_names_source() -> None:
    with pytest.raises(ProfileError, match="device profile here.toml: missing key 'id'"):
        profile_from_dict({"schema_version": 1}, "here.toml")


def test_op_efficiency_section_validates(tmp_path: Path) -> None:
    doc = _rpi4_doc()
    doc["op_efficiency"] = {"int8": {"HARD_SWISH": 0.02}}
    prof = load_profile(_write(tmp_path, dumps(doc)))
    assert prof.op_efficiency is not None and prof.op_efficiency.get("int8", "HARD_SWISH") == 0.02
    doc["op_efficiency"] = {"int8": {"hard-swish": 0.02}}
    with pytest.raises(ProfileError, match="'op_efficiency.int8.hard-swish' is not an op name"):
        load_profile(_write(tmp_path, dumps(doc), "b.toml"))
    doc["op_efficiency"] = {"int8": {"HARD_SWISH": 3.0}}
    with pytest.raises(ProfileError, match="out of range"):
        load_profile(_write(tmp_path, dumps(doc), "c.toml"))
    doc["op_efficiency"] = {"int4": {"HARD_SWISH": 0.1}}
    with pytest.raises(ProfileError, match="unknown key 'op_efficiency.int4'"):
        load_profile(_write(tmp_path, dumps(doc), "d.toml"))
