"""Progress of long work (calibration, conversion, benchmarks) without printing from library code.

Library code calls :func:`progress` to iterate with a progress display and
:func:`status` for a line of "what is happening now"; it never writes to a
stream itself. Where that goes is the caller's choice: the CLI installs its
stderr renderer (:class:`edgekit.report.StderrProgress`) with :func:`reporting`
around every command; with nothing installed (edgekit used as a library,
tests) both go to the ``edgekit`` logger at DEBUG level.

Warnings are not progress: they travel on the result objects the library
returns, and the commands print them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")



def _log_debug(message: str, *args: object) -> None:
    """To the ``edgekit`` logger (shown by ``edgekit --debug``, which imports and configures logging).

    Not imported here just to drop the message: logging costs start-up time on a small board.
    """
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("edgekit").debug(message, *args)


class ProgressSink(Protocol):
    def status(self, message: str) -> None: ...

    def iterate(self, items: Iterable[T], label: str, total: int | None) -> Iterator[T]: ...


_SINK: ContextVar[ProgressSink | None] = ContextVar("edgekit_progress_sink", default=None)


def status(message: str) -> None:
    """One line saying what long work is doing now (e.g. "Converting with onnx2tf; 10-60 s...")."""
    sink = _SINK.get()
    if sink is None:
        _log_debug("%s", message)
    else:
        sink.status(message)


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` while showing progress under ``label`` (nothing shown without a sink)."""
    sink = _SINK.get()
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if sink is None:
        _log_debug("%s (%s items)", label, total if total is not None else "?")
        yield from items
    else:
        yield from sink.iterate(items, label, total)


@contextmanager
def reporting(sink: ProgressSink) -> Iterator[None]:
    """Send :func:`status` and :func:`progress` to ``sink`` inside the ``with`` block."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)
