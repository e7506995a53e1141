"""HTML reports: one self-contained page per result, rendered from the command's ``--json``.

``edgekit verify|profile|bench|size|tune ... --html FILE`` and ``edgekit report RESULT.json -o FILE``
both go through :func:`render_html`, which takes the JSON document (what ``--json`` prints) and
nothing else: a result pulled back from a board renders on the workstation exactly as it would
have there, and the two ways give the same bytes.

A kind of result gets a report with one entry in :data:`RENDERERS`: the module whose
``build(source) -> Page`` lays out its sections (see :mod:`edgekit.htmlreport.page`). The page
is rendered by one Jinja2 template with its stylesheet inlined; charts are matplotlib SVG.
Both come from the ``report`` extra and are imported only when a report is made, through
:func:`edgekit.deps.require` (``pip install 'edgekit[report]'``), so this package is device-safe.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from edgekit import __version__
from edgekit.core.result import CommandResult
from edgekit.deps import require
from edgekit.errors import InputError
from edgekit.htmlreport.figures import Fig, JText, Lit, Source
from edgekit.htmlreport.page import Page

# kind (the "kind" of a --json) -> the module that lays out its page (a module-level build(source) -> Page)
RENDERERS: dict[str, str] = {
    "verify": "edgekit.htmlreport.verify",
    "profile": "edgekit.htmlreport.profile",
    "bench": "edgekit.htmlreport.bench",
    "size": "edgekit.htmlreport.size",
    "tune": "edgekit.htmlreport.tune",
}

PURPOSE = "An HTML report"


def document(result: CommandResult) -> dict[str, Any]:
    """The JSON document of a result exactly as ``--json`` prints it (NaN -> null, Paths -> text)."""
    from edgekit.report import to_json

    value = json.loads(to_json(result.to_dict()))
    if not isinstance(value, dict):
        raise TypeError("a result's JSON is an object")
    return value


def build_page(doc: Mapping[str, Any]) -> Page:
    """The page of a result's JSON (InputError for a kind that has no report)."""
    kind = doc.get("kind")
    module_name = RENDERERS.get(str(kind))
    if module_name is None:
        raise InputError(f"there is no HTML report for a '{kind}' result.",
                         hint=f"HTML reports are made for: {', '.join(RENDERERS)}.")
    module = importlib.import_module(module_name)
    page = module.build(Source(doc))
    if not isinstance(page, Page):
        raise TypeError(f"{module_name}.build returned {type(page).__name__}, not a Page")
    return page


def _part_kind(part: Any) -> str:
    if isinstance(part, Fig):
        return "fig"
    if isinstance(part, Lit):
        return "lit"
    if isinstance(part, JText):
        return "jtext"
    return "text"


def _plain(parts: Any) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in parts)


def render_html(doc: Mapping[str, Any]) -> str:
    """The report page of a result's JSON document, as one HTML text."""
    jinja2 = require("jinja2", PURPOSE)
    page = build_page(doc)
    templates = resources.files("edgekit.htmlreport").joinpath("templates")
    env = jinja2.Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals["part_kind"] = _part_kind
    template = env.from_string(templates.joinpath("report.html.j2").read_text(encoding="utf-8"))
    css = templates.joinpath("report.css").read_text(encoding="utf-8")
    return str(template.render(page=page, css=css, version=__version__, title=_plain(page.subject)))


def check_html_target(path: Path, force: bool) -> Path:
    """Before any work: the report's path is writable (no silent overwrite) and the extra is installed."""
    from edgekit.fsutil import check_output_path

    target = check_output_path(Path(path), force)
    if target.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{target} does not end in .html.", hint="Name the report FILE.html.")
    require("jinja2", PURPOSE)
    require("matplotlib", PURPOSE)
    return target


def write_html(doc: Mapping[str, Any], path: Path, force: bool, where: str | None = None) -> Path:
    """Render ``doc`` and write it to ``path`` atomically (never over an existing file without ``force``).

    ``where``: the saved JSON the document was read from. A document that reads back but cannot be drawn
    (edited by hand: a string where a number belongs, an empty list) is then an InputError naming it;
    without ``where`` (a command's own result) such a failure is a bug and is not dressed up."""
    from edgekit.fsutil import write_text_atomic
    from edgekit.htmlreport.figures import ExpressionError

    if where is None:
        text = render_html(doc)
    else:
        try:
            text = render_html(doc)
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, OverflowError, ExpressionError) as exc:
            raise InputError(f"{where} reads back as a '{doc.get('kind')}' result but cannot be drawn "
                             f"({type(exc).__name__}: {exc}).",
                             hint="Pass the unchanged --json output of the command.") from None
    write_text_atomic(Path(path), text, overwrite=force)
    return Path(path)


def read_result_json(path: Path | None, text: str | None = None) -> dict[str, Any]:
    """A saved ``--json`` (the file ``path``, or ``text``) read back and checked: its kind's result class
    rebuilds it (:func:`edgekit.results.result_from_dict`), and its JSON is what the report renders."""
    from edgekit.results import result_from_dict

    where = "stdin" if path is None else str(path)
    if text is None:
        try:
            text = Path(str(path)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {where}: {exc}.", hint="Pass the file a command's --json was saved to.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON ({exc.msg} at line {exc.lineno}).",
                         hint="Save a command's output with --json, e.g. edgekit bench m.tflite --json > bench.json") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind is not None and kind not in RENDERERS:
        raise InputError(f"{where} is a '{kind}' result; there is no HTML report for it.",
                         hint=f"HTML reports are made for: {', '.join(RENDERERS)}.")
    return document(result_from_dict(data, where=where))


__all__ = ["RENDERERS", "build_page", "check_html_target", "document", "read_result_json", "render_html", "write_html"]
