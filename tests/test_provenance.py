"""Where a result was made (edgekit.provenance): always readable, even when the platform module is not."""

from __future__ import annotations

import platform

import pytest

from edgekit.provenance import Producer

pytestmark = pytest.mark.device


def test_producer_survives_a_broken_platform_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> str:  # what a bytes libc version in platform's cache does
        raise TypeError("sequence item 3: expected str instance, bytes found")

    monkeypatch.setattr(platform, "platform", broken)
    here = Producer.here()
    assert here.platform == f"{platform.system()}-{platform.release()}" and here.machine == platform.machine()
    assert Producer.from_dict(here.to_dict()) == here
