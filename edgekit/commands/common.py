"""Options and helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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


def html_file_option(func: F) -> F:
    """--html FILE alone, for a command that has its own --force."""
    return click.option(  # type: ignore[return-value]
        "--html", "html", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
        help="Also write the result as one self-contained HTML report with charts (needs edgekit[report]).",
    )(func)


def html_option(func: F) -> F:
    """The shared --html FILE (one self-contained HTML report of the result) and --force to overwrite it."""
    func = click.option("--force", "force", is_flag=True,
                        help="With --html: overwrite the report file if it exists.")(func)
    return html_file_option(func)


def html_target(html: Path | None, force: bool) -> Path | None:
    """Check the --html path and the report extra BEFORE any work (None without --html)."""
    if html is None:
        if force:
            from edgekit.errors import UsageError

            raise UsageError("--force only applies to --html FILE.", hint="Add --html FILE.html, or drop --force.")
        return None
    from edgekit.htmlreport import check_html_target

    return check_html_target(html, force)


def write_html_report(result: Any, html: Path | None, force: bool) -> None:
    """Write the --html report of ``result`` (a command result) and say where it went (nothing without --html)."""
    if html is None:
        return
    from edgekit.htmlreport import document, write_html
    from edgekit.report import info

    write_html(document(result), html, force)
    info(f"HTML report: {html}")
