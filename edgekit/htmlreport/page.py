"""The parts of a report page, as data: each kind's builder returns a :class:`Page`, the template renders it.

Text on a page is a :data:`~edgekit.htmlreport.figures.Rich` run of prose, figures (``Fig``),
names (``Lit``) and sentences from the JSON (``JText``): the template writes each figure as a
``<data>`` element carrying its value and its expression, so nothing a person reads is typed in
by the renderer. Charts are finished ``<svg>`` elements (:mod:`edgekit.htmlreport.charts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgekit.core.result import Basis
from edgekit.htmlreport.figures import Part, Rich

MEASURED = Basis.MEASURED.value
ESTIMATED = Basis.ESTIMATED.value


@dataclass(frozen=True)
class Card:
    """A headline figure at the top of the page."""

    label: str | Rich
    value: Part
    detail: Rich = ()
    tone: str = ""  # good | bad | warn | "" (neutral)
    basis: str = ""  # measured | estimated


@dataclass(frozen=True)
class Chart:
    svg: str  # a finished inline <svg> element
    caption: Rich
    basis: str
    kind: str = "chart"


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Rich, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    caption: Rich = ()
    basis: str = ""
    highlight: tuple[int, ...] = ()  # rows to mark (the chosen, the failing)
    kind: str = "table"


@dataclass(frozen=True)
class Grid:
    """Tables side by side where the page is wide enough (one per device), stacked on a phone."""

    tables: tuple[Table, ...]
    kind: str = "grid"


@dataclass(frozen=True)
class Para:
    text: Rich
    tone: str = ""  # note | warn | bad | good
    kind: str = "para"


@dataclass(frozen=True)
class Command:
    """A command to copy (the suggested conversion)."""

    label: Rich
    text: Rich
    kind: str = "command"


Block = Chart | Table | Grid | Para | Command


@dataclass(frozen=True)
class Section:
    id: str
    title: str  # the question this part of the page answers
    lead: Rich  # its answer in one sentence
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Page:
    kind: str  # the command
    subject: Rich  # the model
    verdict: Rich
    tone: str  # good | bad | warn | ""
    basis: str  # measured | estimated | mixed
    basis_note: Rich  # what "measured"/"estimated" means on this page
    cards: tuple[Card, ...]
    provenance: tuple[tuple[str, Rich], ...]
    sections: tuple[Section, ...]
    warnings: tuple[Rich, ...] = field(default=())


def table(headers: list[str], rows: list[list[Rich]], numeric: str, caption: Rich = (), basis: str = "",
          highlight: tuple[int, ...] = ()) -> Table:
    """A table; ``numeric`` has one letter per column, 'r' for right-aligned figures, 'l' for text."""
    if len(numeric) != len(headers):
        raise ValueError("one alignment letter per column")
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(c == "r" for c in numeric), caption, basis,
                 highlight)


__all__ = ["Block", "Card", "Chart", "Command", "ESTIMATED", "Grid", "MEASURED", "Page", "Para", "Section", "Table", "table"]
