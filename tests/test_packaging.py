"""What `pip install edgekit` ships: every package of the source tree, and every device profile of device_profiles/."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

pytestmark = pytest.mark.device

REPO = Path(__file__).resolve().parent.parent


def test_the_explicit_package_list_matches_the_folders() -> None:
    """pyproject lists the packages by hand (device_profiles/ is mapped in): a new subpackage must be listed."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "edgekit").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert listed == on_disk | {"edgekit.device_profiles"}
    assert config["package-dir"] == {"edgekit.device_profiles": "device_profiles"}


def test_the_installed_profiles_are_the_repository_ones() -> None:
    """Run in the base-only venv by scripts/test-device: the wheel carries every device of the top-level folder."""
    in_repo = {p.name: p.read_bytes() for p in (REPO / "device_profiles").glob("*.toml")}
    installed = {p.name: p.read_bytes() for p in resources.files("edgekit.device_profiles").iterdir()
                 if p.name.endswith(".toml")}
    assert len(in_repo) >= 10
    assert installed == in_repo


def test_devices_lists_every_profile_of_the_folder() -> None:
    from click.testing import CliRunner

    from edgekit.cli import main

    result = CliRunner().invoke(main, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    import json

    ids = {d["id"] for d in json.loads(result.output)["devices"]}
    expected = {tomllib.loads(p.read_text(encoding="utf-8"))["id"] for p in (REPO / "device_profiles").glob("*.toml")}
    assert ids == expected
