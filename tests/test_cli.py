"""The CLI contract: version, help, errors become one `Error:` + one `Hint:` line and an exit code."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from edgekit import __version__
from edgekit.cli import COMMANDS, EdgekitGroup, main
from edgekit.errors import BackendError, CheckFailed, EdgekitError, InputError, MissingDependency


@pytest.mark.device
def test_version_and_help(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.device
def test_every_registered_command_loads_and_has_help(runner: CliRunner) -> None:
    for name in COMMANDS:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


@pytest.mark.device
def test_unknown_command_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def _group_raising(exc: BaseException) -> click.Group:
    @click.group(cls=EdgekitGroup)
    @click.option("--debug", is_flag=True)
    @click.pass_context
    def grp(ctx: click.Context, debug: bool) -> None:
        ctx.ensure_object(dict)
        ctx.obj["debug"] = debug

    @grp.command()
    def boom() -> None:
        raise exc

    return grp


@pytest.mark.device
@pytest.mark.parametrize(
    "exc,code",
    [
        (InputError("model.tflite does not exist.", hint="Check the path."), 2),
        (MissingDependency("needs tensorflow"), 2),
        (BackendError("converter said: no int8 kernel for OP"), 3),
        (CheckFailed("verify failed"), 1),
        (RuntimeError("an edgekit bug"), 3),
    ],
)
def test_errors_become_exit_codes_without_traceback(exc: BaseException, code: int) -> None:
    result = CliRunner().invoke(_group_raising(exc), ["boom"])
    assert result.exit_code == code
    lines = result.output.strip().splitlines()
    assert len(lines) == 2, result.output
    assert lines[0].startswith("Error: ") and lines[1].startswith("Hint: ")
    assert "Traceback" not in result.output
    if isinstance(exc, MissingDependency):
        assert "pip install 'edgekit[convert]'" in lines[1]


@pytest.mark.device
def test_debug_shows_the_traceback() -> None:
    result = CliRunner().invoke(_group_raising(InputError("bad")), ["--debug", "boom"])
    assert result.exit_code == 2
    assert "Traceback" in result.output


@pytest.mark.device
def test_error_messages_are_one_line() -> None:
    err = EdgekitError("first line\nsecond   line", hint="do\nthis")
    assert err.message == "first line second line"
    assert err.hint == "do this"
