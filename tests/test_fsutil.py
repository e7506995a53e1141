"""Atomic writes never replace a user's file without --force, even one that appears mid-write."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import OutputExistsError
from edgekit.fsutil import atomic_path, write_bytes_atomic


@pytest.mark.device
def test_no_overwrite_keeps_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "model.tflite"
    with pytest.raises(OutputExistsError), atomic_path(target, overwrite=False) as tmp:
        tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # another process finished first
    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


@pytest.mark.device
def test_overwrite_and_fresh_write(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    write_bytes_atomic(target, b"one", overwrite=False)
    assert target.read_bytes() == b"one"
    with pytest.raises(OutputExistsError):
        write_bytes_atomic(target, b"two", overwrite=False)
    assert target.read_bytes() == b"one"
    write_bytes_atomic(target, b"three", overwrite=True)
    assert target.read_bytes() == b"three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
