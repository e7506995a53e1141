"""The edgekit command line: a thin click group.

This is the one place where an :class:`~edgekit.errors.EdgekitError` becomes
an exit code and a two-line message (``Error: ...`` / ``Hint: ...``); library
code only raises. Each command lives in its own module under
``edgekit/commands/`` and is loaded only when it is run, so ``edgekit --help``
imports nothing heavy.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from edgekit import __version__
from edgekit.core.progress import reporting
from edgekit.errors import EXIT_BACKEND, EdgekitError
from edgekit.report import StderrProgress

# command name -> (module, attribute, one-line help). An explicit registry: an
# unknown command lists the valid ones (click does that for us).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "convert": ("edgekit.commands.convert", "convert", "Convert a Keras, SavedModel or ONNX model to .tflite."),
    "verify": ("edgekit.commands.verify", "verify", "Check a converted model against its original or a bundle."),
    "tune": ("edgekit.commands.tune", "tune", "Search the int8 recipe that passes on held-out data, for a device."),
    "profile": ("edgekit.commands.profile", "profile", "Estimate latency and memory on device profiles."),
    "devices": ("edgekit.commands.devices", "devices", "List the known device profiles."),
    "bench": ("edgekit.commands.bench", "bench", "Measure latency and memory on this machine."),
    "calibrate": ("edgekit.commands.calibrate", "calibrate", "Fit a device profile for this machine."),
    "size": ("edgekit.commands.size", "size", "Pruning-aware sizing of a model."),
    "inspect": ("edgekit.commands.inspect", "inspect", "Show a .tflite model's tensors, ops and quantization."),
    "report": ("edgekit.commands.report", "report", "Render a saved --json result as one HTML report."),
}


class EdgekitGroup(click.Group):
    """A group that loads commands lazily and turns edgekit errors into exits."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS) + [name for name in super().list_commands(ctx) if name not in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr, _ = entry
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the registry: listing commands must not import them.
        rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in self.commands.items() if name not in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgekitError as exc:
            _show_error(ctx, exc.message, exc.hint, exc)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # `edgekit ... | head`: the reader went away; stop quietly like other Unix tools.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("Error: interrupted.", err=True)
            click.echo("Hint: nothing was written; run the command again.", err=True)
            ctx.exit(130)
        except click.UsageError as exc:
            # click's own argument errors (a path that does not exist, a bad choice): the same
            # one-line Error + Hint as edgekit's errors (docs/RELIABILITY.md's bad-input matrix).
            where = exc.ctx.command_path if exc.ctx else "edgekit"
            _show_error(ctx, exc.format_message(), f"Run `{where} --help` to see the arguments it takes.", exc)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except MemoryError as exc:
            _show_error(ctx, "ran out of memory.", "Use fewer samples or a smaller model.", exc)
            ctx.exit(EXIT_BACKEND)
        except Exception as exc:  # an edgekit bug: still no traceback unless --debug
            _show_error(
                ctx,
                f"unexpected {type(exc).__name__}: {exc}",
                "This is a bug in edgekit; run again with --debug and report the traceback.",
                exc,
            )
            ctx.exit(EXIT_BACKEND)


def _show_error(ctx: click.Context, message: str, hint: str, exc: BaseException) -> None:
    obj = ctx.find_root().obj or {}
    if obj.get("debug"):
        import traceback  # --debug only

        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    click.echo(f"Hint: {' '.join(hint.split())}", err=True)


@click.group(cls=EdgekitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="edgekit")
@click.option("--debug", is_flag=True, help="Show full tracebacks and backend logs.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """edgekit: take a trained model to an edge device and tell the truth about it.

    Every command prints tables for people by default and one JSON object with
    --json. Exit codes: 0 ok, 1 a check failed, 2 bad usage or input, 3 the
    backend (converter, runtime) could not do it.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    # Library code reports progress through edgekit.core.progress; the CLI shows it on stderr.
    ctx.with_resource(reporting(StderrProgress()))
    if debug:
        import logging  # only for --debug: logging costs start-up time on a small board

        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)


__all__ = ["main", "COMMANDS"]
