"""The preprocessing vocabulary: pixel presets, resize modes, channel order, layout (plain enums).

Here, not in :mod:`edgekit.data`, so that the command line can offer them as choices without importing
the data loaders (start-up time: ``edgekit verify BUNDLE`` on a small board). ``edgekit.data`` re-exports them.
"""

from __future__ import annotations

from enum import Enum


class Preset(str, Enum):
    """Pixel scaling presets (pixels arrive as 0..255)."""

    RAW = "raw"  # 0..255
    UNIT = "unit"  # 0..1
    SYMMETRIC = "symmetric"  # -1..1
    IMAGENET = "imagenet"  # 0..1 then ImageNet mean/std per channel


class ResizeMode(str, Enum):
    STRETCH = "stretch"  # resize to the exact size, aspect ratio not kept
    CROP = "crop"  # scale the short side to fit, centre-crop the rest
    PAD = "pad"  # scale the long side to fit, pad with black (zero pixels)


class ChannelOrder(str, Enum):
    RGB = "rgb"
    BGR = "bgr"


class Layout(str, Enum):
    NHWC = "nhwc"
    NCHW = "nchw"


__all__ = ["ChannelOrder", "Layout", "Preset", "ResizeMode"]
