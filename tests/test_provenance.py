"""Where a result was made (edgekit.provenance): always readable, even when the platform module is not."""

from __future__ import annotations

import platform

import pytest

from edgekit.provenance import Producer

pytestmark = pytest.mark.device


def test_producer_survives_a_broken_platform_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> str:  # what a bytes libc version in platform's cache does
        raise TypeError("sequence item 3: expected str instance, bytes found")

    def not_glibc(_name: str) -> str:  # take the platform-module path (musl, macOS)
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(platform, "platform", broken)
    monkeypatch.setattr("os.confstr", not_glibc)
    here = Producer.here()
    assert here.platform == f"{platform.system()}-{platform.release()}" and here.machine == platform.machine()
    assert Producer.from_dict(here.to_dict()) == here


def test_platform_string_is_what_the_platform_module_says() -> None:
    """The fast path (no `uname -p` subprocess, no libc scan) gives platform.platform()'s string."""
    import os

    from edgekit.provenance import _platform

    here = Producer.here()
    assert here.machine == platform.machine() and here.python == platform.python_version()
    if platform.system() == "Linux" and platform.processor() == "" and os.confstr(
        "CS_GNU_LIBC_VERSION"
    ).startswith("glibc "):
        assert _platform() == platform.platform()
    else:
        assert _platform()
