"""Charts as inline SVG, drawn by matplotlib's SVG backend (the ``report`` extra).

One style for every chart: the Okabe-Ito colour-blind-safe palette, text kept as SVG ``<text>``
(``svg.fonttype = none``: selectable, searchable, no embedded glyph outlines) in the page's sans-serif
font, no date or creator metadata, and ids salted per chart so that several charts live in one page.
:func:`to_svg` strips what an inline SVG in HTML does not need (the XML prolog, the DOCTYPE and
the namespace declarations, whose URLs are names, never fetched), sizes the chart by its
``viewBox`` (it scales with the page, on a phone too) and gives it a ``<title>`` for screen readers.

matplotlib is imported inside the functions through :func:`edgekit.deps.require`, so this module
imports on a device without the extra; drawing there says ``pip install 'edgekit[report]'``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edgekit.deps import require

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency, and in grey print.
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
GREY = "#7f7f7f"
INK = "#222222"
GRID = "#d9d9d9"
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY)

FONT_STACK = ["DejaVu Sans", "Helvetica Neue", "Helvetica", "Arial", "Liberation Sans"]
WIDTH_IN = 9.0  # the viewBox is 648 units wide; the page shows charts up to 860 px wide (text ~13 px)

STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": FONT_STACK,
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.prop_cycle": None,  # set in charting(): cycler comes with matplotlib
    "grid.color": GRID,
    "grid.linewidth": 0.7,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "lines.linewidth": 1.8,
}


@contextmanager
def charting(purpose: str = "An HTML report") -> Iterator[Any]:
    """matplotlib with the report style; yields ``matplotlib.figure.Figure`` (no pyplot, no global state)."""
    mpl = require("matplotlib", purpose)
    figure = require("matplotlib.figure", purpose)
    cycler = require("cycler", purpose)
    style = dict(STYLE, **{"axes.prop_cycle": cycler.cycler(color=list(PALETTE))})
    with mpl.rc_context(style):
        yield figure.Figure


_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_NS = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')
_SIZE = re.compile(r'\s+(width|height)="[\d.]+pt"')


def to_svg(fig: Any, chart_id: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element (see the module docstring)."""
    mpl = require("matplotlib", "An HTML report")
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": chart_id, "svg.id": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = _PROLOG.sub("", buf.getvalue(), count=1)
    head, _, body = text.partition(">")
    head = _SIZE.sub("", _NS.sub("", head))
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    head += f' role="img" aria-labelledby="{chart_id}-title" preserveAspectRatio="xMidYMid meet"'
    return f'{head}><title id="{chart_id}-title">{safe_title}</title>{body.rstrip()}'


def require_patches() -> Any:
    """``matplotlib.patches`` (legend entries for colours that no plotted artist carries)."""
    return require("matplotlib.patches", "An HTML report")


def require_lines() -> Any:
    """``matplotlib.lines`` (legend entries for reference lines)."""
    return require("matplotlib.lines", "An HTML report")


def plain_log(axis: Any) -> None:
    """A log-scale axis labelled 1, 2, 5, 10, 20 ... (not 2x10^0)."""
    ticker = require("matplotlib.ticker", "An HTML report")
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def figure(fig_cls: Any, height_in: float, width_in: float = WIDTH_IN, **kwargs: Any) -> Any:
    """A new figure of the report's width and this height (inches at 100 dpi), constrained layout."""
    return fig_cls(figsize=(width_in, height_in), layout="constrained", **kwargs)


__all__ = ["BLUE", "GREEN", "GREY", "INK", "ORANGE", "PALETTE", "PURPLE", "SKY", "VERMILLION", "YELLOW", "charting", "figure",
           "plain_log", "require_lines", "require_patches", "to_svg"]
