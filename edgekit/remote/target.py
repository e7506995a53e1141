"""Where to run: ``ssh://[user@]host[:port]`` targets, and ``@FILE`` lists of them (device-safe)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import InputError, UsageError

SCHEME = "ssh://"
# an IPv6 literal in brackets, or a host name / IPv4 address / ~/.ssh/config alias
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)"
_TARGET = re.compile(rf"^(?:(?P<user>[A-Za-z0-9_.\-]+)@)?(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?/?$")
TARGET_HINT = "Write it as ssh://[user@]host[:port], e.g. --on ssh://pi@raspberrypi.local or --on ssh://pi@10.0.0.7:2222."


@dataclass(frozen=True)
class Target:
    """One board. ``user``/``port`` are None when not given: ~/.ssh/config (or the defaults) decide."""

    host: str
    user: str | None = None
    port: int | None = None

    @property
    def label(self) -> str:
        """As the user wrote it, normalised: ``ssh://pi@host:2222``; the key of this board in every output."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{SCHEME}{user}{host}{port}"

    def __str__(self) -> str:
        return self.label

    def default_device_id(self) -> str:
        """A profile id made from the host (and a port other than 22): what `calibrate --on` names the profile."""
        base = re.sub(r"[^A-Za-z0-9_.\-]+", "-", self.host).strip("-.") or "board"
        return base if self.port in (None, 22) else f"{base}-{self.port}"


def parse_target(text: str) -> Target:
    """``ssh://[user@]host[:port]`` -> Target (UsageError, exit 2, for anything else)."""
    raw = text.strip()
    if not raw.startswith(SCHEME):
        raise UsageError(f"--on {text!r}: only ssh:// targets are supported.", hint=TARGET_HINT)
    match = _TARGET.match(raw[len(SCHEME):])
    if match is None:
        raise UsageError(f"--on {text!r} is not a valid target.", hint=TARGET_HINT)
    host = match["host"].strip("[]")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--on {text!r}: port {port} is out of range 1..65535.", hint=TARGET_HINT)
    return Target(host=host, user=match["user"], port=port)


def read_targets(values: Iterable[str]) -> list[Target]:
    """Every ``--on`` value in order: a target, or ``@FILE`` with one target per line (# comments, blank lines).

    The same board given twice is run once.
    """
    out: list[Target] = []
    for value in values:
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"--on {value}: cannot read the target list {path} ({exc}).",
                                 hint="Give a text file with one ssh://[user@]host[:port] per line.") from None
            lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
            found = [parse_target(line) for line in lines if line]
            if not found:
                raise InputError(f"--on {value}: {path} lists no target.",
                                 hint="Give one ssh://[user@]host[:port] per line.")
            out.extend(found)
        else:
            out.append(parse_target(value))
    unique: list[Target] = []
    for target in out:
        if target not in unique:
            unique.append(target)
    return unique


__all__ = ["SCHEME", "Target", "parse_target", "read_targets"]
