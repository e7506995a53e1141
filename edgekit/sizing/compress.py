"""Compressed sizes: deflate level 9 (the over-the-air proxy: zip, gzip, HTTP) and zstd if installed."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgekit.deps import available

DEFLATE_LEVEL = 9
ZSTD_LEVEL = 19


@dataclass(frozen=True)
class CompressedSizes:
    """Measured sizes of one byte string; ``zstd_bytes`` is None when zstandard is not installed."""

    raw_bytes: int
    deflate9_bytes: int
    zstd_bytes: int | None

    def __post_init__(self) -> None:
        if self.raw_bytes < 0 or self.deflate9_bytes < 0:
            raise ValueError("sizes must be non-negative")

    @property
    def deflate9_ratio(self) -> float:
        return self.deflate9_bytes / self.raw_bytes if self.raw_bytes else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw_bytes": self.raw_bytes,
            "deflate9_bytes": self.deflate9_bytes,
            "zstd_bytes": self.zstd_bytes,
            "zstd_level": ZSTD_LEVEL if self.zstd_bytes is not None else None,
            "source": "measured",
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompressedSizes:
        zstd = d.get("zstd_bytes")
        return cls(int(d["raw_bytes"]), int(d["deflate9_bytes"]), None if zstd is None else int(zstd))


def zstd_available() -> bool:
    return available("zstandard")


def deflate9_size(data: bytes) -> int:
    return len(zlib.compress(data, DEFLATE_LEVEL))


def zstd_size(data: bytes) -> int | None:
    """zstd level-19 size, or None when the optional 'zstandard' package is not installed."""
    if not zstd_available():
        return None
    import zstandard  # optional, device-safe, only when installed

    return len(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data))


def compressed_sizes(data: bytes) -> CompressedSizes:
    return CompressedSizes(raw_bytes=len(data), deflate9_bytes=deflate9_size(data), zstd_bytes=zstd_size(data))
