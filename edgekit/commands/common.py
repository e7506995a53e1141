"""Options and helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """The shared --json flag: one JSON object on stdout instead of tables."""
    return click.option(  # type: ignore[return-value]
        "--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of tables."
    )(func)


def is_debug() -> bool:
    """True when the user passed `edgekit --debug`."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and (ctx.find_root().obj or {}).get("debug"))
