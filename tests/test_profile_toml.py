"""The one device-profile TOML writer (edgekit.core.profile_toml): text, comments, round trips, atomic writes."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from enum import Enum
from pathlib import Path

import pytest

from edgekit.core.profile_toml import as_document, dumps, write
from edgekit.errors import OutputExistsError, ProfileError
from edgekit.profile.registry import shipped_profiles
from edgekit.profile.schema import Fit, OpEfficiency, load_profile, profile_from_dict

pytestmark = pytest.mark.device

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "device_profiles"


def test_values_round_trip_through_tomllib() -> None:
    doc = {
        "schema_version": 1, "id": "x", "flag": True, "ratio": 0.25, "big": 1e-7, "whole": 3.0, "huge": 2**40,
        "names": ["a \"quoted\" \\ name", "tab\there", "é"], "curve": [1.0, 1.8],
        "t": {"a": 1, "nested": {"b": "c", "dotted.key": 0.5, "with space": -2}},
    }
    assert tomllib.loads(dumps(doc)) == doc


def test_key_order_is_kept_and_tables_follow_the_values() -> None:
    text = dumps({"z": 1, "table": {"y": 2, "x": 3}, "a": 4})
    assert text.splitlines() == ["z = 1", "a = 4", "", "[table]", "y = 2", "x = 3"]
    assert text == dumps({"z": 1, "table": {"y": 2, "x": 3}, "a": 4})  # stable


def test_comments_go_at_the_top_and_above_their_table() -> None:
    doc = {"id": "x", "fit": {"method": "m", "residuals": {"conv 3x3": 0.1}}, "only": {"sub": {"v": 1}}}
    text = dumps(doc, {"": "line one\n\nline three", "fit.residuals": "predicted/measured - 1",
                       "only": "a table without plain values of its own"})
    lines = text.splitlines()
    assert lines[:4] == ["# line one", "#", "# line three", 'id = "x"']
    assert lines[lines.index("[fit.residuals]") - 1] == "# predicted/measured - 1"
    assert lines[lines.index("[only.sub]") - 1] == "# a table without plain values of its own"
    assert tomllib.loads(text) == doc
    with pytest.raises(ValueError, match=r"tables the document does not have: \['fit.residual'\]"):
        dumps(doc, {"fit.residual": "typo"})


def test_none_is_absent_enums_are_values_non_finite_is_refused() -> None:
    class Kind(str, Enum):
        CPU = "cpu"

    doc = {"a": None, "kind": Kind.CPU, "t": {"b": None, "c": (1, None, 2)}}
    assert tomllib.loads(dumps(doc)) == {"kind": "cpu", "t": {"c": [1, 2]}}
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match=r"non-finite number \S+ \(at 't.x'\)"):
            dumps({"t": {"x": bad}})
    assert "x = nan" in dumps({"x": math.nan}, allow_non_finite=True)  # the fuzz tests' broken profiles
    with pytest.raises(TypeError, match="cannot write object at 'o'"):
        dumps({"o": object()})


def test_every_shipped_profile_round_trips(tmp_path: Path) -> None:
    """DeviceProfile -> as_document -> TOML -> load_profile gives the same profile (with what calibrate adds)."""
    for entry in shipped_profiles():
        prof = entry.profile
        if prof.id == "rpi4b":  # what calibrate writes: a fit section with residuals, per-op efficiencies
            prof = dataclasses.replace(prof, fit=Fit(method="least squares", samples=3, rms_relative_error=0.04,
                                                     residuals={"conv 3x3 int8 t1": -0.02, "fc": 0.01}),
                                       op_efficiency=OpEfficiency(int8={"HARD_SWISH": 0.02}))
        path = tmp_path / f"{prof.id}.toml"
        write(path, as_document(prof), {"": "written by a test"})
        assert path.read_text().startswith("# written by a test\n")
        assert load_profile(path) == prof


def test_write_checks_before_it_writes_and_overwrites_only_when_told(tmp_path: Path) -> None:
    doc = tomllib.loads((SHIPPED_DIR / "rpi4b.toml").read_text())
    doc["id"] = "my-pi"
    doc["fit"] = {"method": "least squares", "samples": 2, "residuals": {"conv": 0.01, "block dense": -0.2}}
    path = tmp_path / "my-pi.toml"

    def check(d: dict) -> object:
        return profile_from_dict(d, str(path))

    text = write(path, doc, {"fit.residuals": "predicted/measured - 1"}, check=check)
    assert path.read_text() == text and load_profile(path) == profile_from_dict(doc)
    assert [p.name for p in tmp_path.iterdir()] == ["my-pi.toml"]  # no temp file left behind

    with pytest.raises(OutputExistsError):
        write(path, {**doc, "name": "other"}, overwrite=False)
    assert path.read_text() == text
    broken = {**doc, "runtime": {**doc["runtime"], "memory_efficiency": 3.0}}
    with pytest.raises(ProfileError, match="memory_efficiency"):
        write(tmp_path / "broken.toml", broken, check=check)
    assert not (tmp_path / "broken.toml").exists()
