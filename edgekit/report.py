"""Output helpers shared by every command: tables for people, one JSON object for programs.

Used by the commands (and by the render methods of result objects); library code does
not print. Commands build a result; ``--json`` prints its ``to_dict()`` with
:func:`emit_json`, otherwise the command renders tables with :func:`format_table`.
Progress (:class:`StderrProgress`) and warnings go to stderr so that stdout stays
clean for ``--json``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON data: numpy values as Python numbers/lists, Paths as str, NaN/Inf as None."""
    kind = type(obj)
    if kind is float:  # the leaves first: a report holds thousands of them (verify's value distributions)
        return obj if math.isfinite(obj) else None
    if kind is int or kind is str or kind is bool or obj is None:
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    # numpy values can only exist once numpy is imported: do not import it just to look (start-up time)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if np is not None and isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        # JSON has no NaN/Inf: say "not a number" as null rather than emit invalid JSON.
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json(obj: Any) -> str:
    """Serialise a result dict (numpy values, Paths, NaN -> null) to JSON text."""
    return json.dumps(jsonable(obj), indent=2, sort_keys=False)


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    import click  # the commands have it imported already; a forked verify child never needs it

    click.echo(to_json(obj))


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A plain monospace table. ``align`` is one char per column: 'l' or 'r' (default: numbers right)."""
    str_rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in str_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if align is None:
        align = "".join(
            "r" if str_rows and all(_looks_numeric(r[i]) for r in str_rows if r[i]) else "l"
            for i in range(len(headers))
        )

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if align[i] == "r" else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines.extend(fmt(r) for r in str_rows)
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("%x").replace(" ms", ""))
        return True
    except ValueError:
        return False


def ms_figure(ms: float) -> float:
    """A latency for JSON: 3 decimals from 1 ms up, 4 significant digits below (a 2.9 us keyword spotter reads
    0.002916, not 0.003)."""
    if ms == 0 or not math.isfinite(ms) or abs(ms) >= 1:
        return round(ms, 3)
    return round(ms, 3 - math.floor(math.log10(abs(ms))))


def format_ms(ms: float, decimals: int = 2) -> str:
    """A latency for a table: ``decimals`` decimals from 0.1 ms up, 3 significant digits below (0.00292)."""
    if ms == 0 or abs(ms) >= 0.1 or not math.isfinite(ms):
        return f"{ms:.{decimals}f}"
    return f"{ms:.{max(decimals, 2 - math.floor(math.log10(abs(ms))))}f}"


def human_bytes(n: float | int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def warn(message: str) -> None:
    """A warning for people, on stderr."""
    import click

    click.echo(f"Warning: {message}", err=True)


def info(message: str) -> None:
    """Progress or context for people, on stderr."""
    import click

    click.echo(message, err=True)


class StderrProgress:
    """The CLI's progress display (installed by :mod:`edgekit.cli` with ``core.progress.reporting``).

    A bar redrawn in place on a terminal; a line every few seconds otherwise (logs, CI).
    """

    def status(self, message: str) -> None:
        info(message)

    def iterate(self, items: Iterable[T], label: str, total: int | None) -> Iterator[T]:
        stream = sys.stderr
        tty = stream.isatty()
        start = time.monotonic()
        last = -1.0
        done = 0
        for done, item in enumerate(items, start=1):
            yield item
            now = time.monotonic()
            if tty and now - last < 0.1 and done != total:
                continue
            if not tty and done != total and now - last < 2.0:
                continue
            last = now
            if total:
                filled = int(24 * done / total)
                bar = "#" * filled + "-" * (24 - filled)
                text = f"{label} [{bar}] {done}/{total} {now - start:.1f}s"
            else:
                text = f"{label} {done} {now - start:.1f}s"
            stream.write(("\r" + text) if tty else (text + "\n"))
            stream.flush()
        if tty and done:
            stream.write("\n")
            stream.flush()
