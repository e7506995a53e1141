"""`edgekit report RESULT.json -o FILE.html`: the HTML report of a saved `--json` result.

A result measured on a board (`edgekit verify bundle/ --json > v.json` there) becomes the same
report on the workstation as `--html` would have made on the board: the page is a rendering of
the JSON alone. Device-safe (it needs only the `report` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgekit.errors import UsageError
from edgekit.report import info


@click.command()
@click.argument("result", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE.html",
              help="Where to write the report (default: RESULT with .html instead of .json).")
@click.option("--force", is_flag=True, help="Overwrite FILE.html if it exists.")
def report(result: Path, output: Path | None, force: bool) -> None:
    """Render a saved --json RESULT (verify, profile, bench, size, tune) as one self-contained HTML file.

    \b
      edgekit bench model.tflite --sweep-threads 1,2,4 --json > bench.json    # e.g. on the board
      edgekit report bench.json -o bench.html                                 # anywhere
      edgekit profile model.tflite -d rpi4b --json | edgekit report - -o profile.html
    """
    from edgekit.htmlreport import check_html_target, read_result_json, write_html

    stdin = str(result) == "-"
    if output is None:
        if stdin:
            raise UsageError("reading the result from stdin needs -o FILE.html.", hint="Add -o report.html.")
        output = result.with_suffix(".html")
    if not stdin and not result.is_file():
        raise UsageError(f"{result} does not exist.", hint="Pass the file a command's --json output was saved to.")
    target = check_html_target(output, force)
    doc = read_result_json(None if stdin else result, sys.stdin.read() if stdin else None)
    write_html(doc, target, force, where="stdin" if stdin else str(result))
    info(f"HTML report: {target}")
