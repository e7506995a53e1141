"""Finding device profiles: shipped ones (package data) and the user's own.

Search order (later wins for the same id): the profiles shipped with edgekit
(the repository's top-level ``device_profiles/*.toml``, installed as the package
``edgekit.device_profiles``), then each folder in ``EDGEKIT_PROFILES``
(``os.pathsep``-separated), then each ``--profiles DIR``. A profile that
``edgekit calibrate`` fitted on the board (it has a ``[fit]`` section) is
preferred over a shipped profile with the same id, and says so in
``profile_source``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path

from edgekit.errors import ProfileError
from edgekit.profile.schema import DeviceProfile, load_profile, profile_from_dict

ENV_VAR = "EDGEKIT_PROFILES"


class ProfileOrigin(str, Enum):
    SHIPPED = "shipped"
    USER = "user"
    CALIBRATED = "calibrated"


@dataclass(frozen=True)
class ProfileEntry:
    profile: DeviceProfile
    origin: ProfileOrigin
    file: str

    @property
    def source(self) -> str:
        """e.g. 'shipped:rpi4b.toml' or 'calibrated:/home/pi/pi4.toml'."""
        return f"{self.origin.value}:{self.file}"


def shipped_profiles() -> list[ProfileEntry]:
    """The profiles that ship inside the package (sorted by file name)."""
    import tomllib

    out: list[ProfileEntry] = []
    root = resources.files("edgekit.device_profiles")
    for item in sorted(root.iterdir(), key=lambda x: x.name):
        if not item.name.endswith(".toml"):
            continue
        source = f"device_profiles/{item.name}"
        try:
            data = tomllib.loads(item.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"device profile {source} is not valid TOML: {exc}.", hint="Reinstall edgekit.") from None
        out.append(ProfileEntry(profile_from_dict(data, source), ProfileOrigin.SHIPPED, item.name))
    return out


def user_dirs(profiles_dirs: Sequence[str | Path] = ()) -> list[Path]:
    """EDGEKIT_PROFILES folders, then --profiles folders (missing folders are an error)."""
    dirs: list[Path] = []
    env = os.environ.get(ENV_VAR, "")
    dirs.extend(Path(p) for p in env.split(os.pathsep) if p.strip())
    dirs.extend(Path(p) for p in profiles_dirs)
    for d in dirs:
        if not d.is_dir():
            raise ProfileError(
                f"profiles folder {d} does not exist or is not a folder.",
                hint=f"Pass an existing folder of *.toml profiles to --profiles or {ENV_VAR}.",
            )
    return dirs


def user_profiles(dirs: Iterable[Path]) -> list[ProfileEntry]:
    out: list[ProfileEntry] = []
    for d in dirs:
        for path in sorted(d.glob("*.toml")):
            prof = load_profile(path)
            # a copy of a shipped profile carries its [fit] on the published figures: still a user profile
            calibrated = prof.fit is not None and not prof.fit.from_published
            origin = ProfileOrigin.CALIBRATED if calibrated else ProfileOrigin.USER
            out.append(ProfileEntry(prof, origin, str(path)))
    return out


def all_profiles(profiles_dirs: Sequence[str | Path] = ()) -> dict[str, ProfileEntry]:
    """id -> entry. User and calibrated profiles replace shipped ones with the same id."""
    table: dict[str, ProfileEntry] = {}
    for entry in shipped_profiles():
        table[entry.profile.id] = entry
    for entry in user_profiles(user_dirs(profiles_dirs)):
        prev = table.get(entry.profile.id)
        # a calibrated profile is never replaced by a later un-calibrated one with the same id
        if prev is not None and prev.origin == ProfileOrigin.CALIBRATED and entry.origin != ProfileOrigin.CALIBRATED:
            continue
        table[entry.profile.id] = entry
    return table


def get_profile(device_id: str, profiles_dirs: Sequence[str | Path] = ()) -> ProfileEntry:
    table = all_profiles(profiles_dirs)
    entry = table.get(device_id)
    if entry is None:
        raise ProfileError(
            f"unknown device '{device_id}'.",
            hint=f"Known devices: {', '.join(sorted(table))} (see `edgekit devices`; add your own with --profiles DIR).",
        )
    return entry


__all__ = ["ENV_VAR", "ProfileOrigin", "ProfileEntry", "shipped_profiles", "user_dirs", "user_profiles",
           "all_profiles", "get_profile"]
