"""One exception tree for edgekit.

Library code raises these; only :mod:`edgekit.cli` turns them into exit codes
(like click's ``ClickException.exit_code``/``show()``). Every error carries a
one-line message and a hint that says what to do about it.

Exit codes (docs/DESIGN.md, "The command contract"): 0 ok, 1 a check failed, 2 bad usage or bad input,
3 the backend could not do it.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_BACKEND = 3


class EdgekitError(Exception):
    """Base of every error edgekit raises on purpose."""

    exit_code: int = EXIT_USAGE
    default_hint: str = "Run the command with --help to see what it expects."

    def __init__(self, message: str, hint: str | None = None) -> None:
        # Keep the message to one line: the CLI prints "Error: <message>".
        self.message = " ".join(str(message).split())
        self.hint = " ".join((hint or self.default_hint).split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UsageError(EdgekitError):
    """Bad flags or bad combinations of flags."""

    exit_code = EXIT_USAGE


class InputError(EdgekitError):
    """A file or value the user gave is missing, unreadable or not what it claims."""

    exit_code = EXIT_USAGE
    default_hint = "Check the path and the file's format."


class ModelFormatError(InputError):
    """A model file that is not a valid model of the expected format."""

    default_hint = "Pass a valid .tflite file (edgekit convert makes one from .keras, SavedModel or .onnx)."


class DataError(InputError):
    """Calibration/verification data that cannot be used with the model."""

    default_hint = "Check that the data matches the model's inputs (shape, dtype, count)."


class ProfileError(InputError):
    """A device profile that does not validate, or an unknown device id."""

    default_hint = "Run `edgekit devices` to list the known device ids."


class BundleError(InputError):
    """A deployment bundle that is incomplete, inconsistent or tampered with."""

    default_hint = "Re-create the bundle with `edgekit convert ... --bundle DIR` and copy it whole."


class OutputExistsError(EdgekitError):
    """Refusing to overwrite a user's file."""

    exit_code = EXIT_USAGE
    default_hint = "Pass --force to overwrite it, or choose another output path."


class MissingDependency(EdgekitError):
    """A package needed for this command is not installed."""

    exit_code = EXIT_USAGE
    default_hint = "pip install 'edgekit[convert]'"


class BackendError(EdgekitError):
    """The converter or runtime could not do what was asked; quotes its reason."""

    exit_code = EXIT_BACKEND
    default_hint = "Run again with --debug for the backend's full log."


class CheckFailed(EdgekitError):
    """A check ran and did not pass (verify failed, a budget was exceeded)."""

    exit_code = EXIT_CHECK_FAILED
    default_hint = "See the report above for what failed."
