"""The image-preprocessing options shared by `convert`, `verify` (and any command that reads images).

One decorator adds ``--preprocess --scale --mean --std --resize --channel-order
--layout`` with the choices of :mod:`edgekit.data`'s enums; :func:`recipe_from`
turns them into a :class:`~edgekit.data.Preprocessing` (or None when the user
gave none of them, so a manifest's recipe can apply).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import click

from edgekit.core.preprocess import ChannelOrder, Layout, Preset, ResizeMode
from edgekit.errors import UsageError

if TYPE_CHECKING:
    from edgekit.data import Preprocessing

F = TypeVar("F", bound=Callable[..., Any])

PREPROCESS_KEYS = ("preset", "scale", "mean_text", "std_text", "resize", "channel_order", "layout")


def choice(enum: type[Enum]) -> click.Choice:
    """A case-insensitive click.Choice of a str Enum's values."""
    return click.Choice([str(m.value) for m in enum], case_sensitive=False)


def preprocess_options(func: F) -> F:
    """Add the preprocessing options; the command receives them as keyword arguments (see PREPROCESS_KEYS)."""
    options = [
        click.option("--preprocess", "preset", type=choice(Preset), default=None,
                     help="Pixel scaling for images: raw 0..255, unit 0..1 (default), symmetric -1..1, "
                          "imagenet mean/std."),
        click.option("--scale", type=float, default=None, help="Multiply pixels (0..255) by this (overrides the preset)."),
        click.option("--mean", "mean_text", default=None, help="Subtract after scaling: one value or one per channel (a,b,c)."),
        click.option("--std", "std_text", default=None, help="Divide after subtracting: one value or one per channel."),
        click.option("--resize", type=choice(ResizeMode), default=ResizeMode.STRETCH.value, show_default=True,
                     help="How images are fitted to the input size."),
        click.option("--channel-order", type=choice(ChannelOrder), default=ChannelOrder.RGB.value, show_default=True),
        click.option("--layout", type=choice(Layout), default=None, help="Image input layout (default: from the shape)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    """'0.5' or '0.485,0.456,0.406' -> a tuple of floats; a usage error otherwise."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise UsageError(f"{flag} '{text}' is not a number or a comma-separated list of numbers.",
                         hint=f"Write e.g. {flag} 0.5 or {flag} 0.485,0.456,0.406.")
    return values


def recipe_given(args: dict[str, Any]) -> bool:
    """True when any preprocessing option differs from its default."""
    return any(args.get(k) is not None for k in ("preset", "scale", "mean_text", "std_text", "layout")) \
        or args.get("resize", ResizeMode.STRETCH.value) != ResizeMode.STRETCH.value \
        or args.get("channel_order", ChannelOrder.RGB.value) != ChannelOrder.RGB.value


def recipe_from(args: dict[str, Any]) -> Preprocessing:
    """The Preprocessing the options describe (defaults where not given)."""
    from edgekit.data import Preprocessing

    return Preprocessing.from_options(
        preset=args.get("preset"), scale=args.get("scale"), mean=floats(args.get("mean_text"), "--mean"),
        std=floats(args.get("std_text"), "--std"), resize=args.get("resize", ResizeMode.STRETCH.value),
        channel_order=args.get("channel_order", ChannelOrder.RGB.value), layout=args.get("layout"),
    )
