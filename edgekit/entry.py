"""The `edgekit` console script: starts the runtime's child early for a bundle verify, then runs the CLI.

``edgekit verify BUNDLE`` on a small board is mostly start-up: Python, click and the CLI in this
process, numpy and the TFLite runtime in the crash-isolated child that does the work
(:mod:`edgekit.verify.device`). Forking that child only after click has parsed the command line
puts the two one after the other. When the command line looks like a bundle verify (``verify``,
then a folder holding a ``manifest.json``), :func:`main` forks the child first
(:func:`edgekit.prefork.prefork`), so it imports numpy and the runtime while this process
imports click; the verify command then hands it the request. Nothing else changes: a command line
that only looks like one (``--help``, a usage error) leaves the child unused, and it exits when
this process does. ``EDGEKIT_SANDBOX=spawn`` turns forking, and so this, off; so does a single CPU,
where the two processes would only take turns (the child is then forked after parsing, as before).

This module imports only :mod:`os` and :mod:`sys` before it decides, and :mod:`edgekit.cli` after, with
the cyclic collector paused (:func:`edgekit.tflite.child.import_target`, as the child imports its work).
"""

from __future__ import annotations

import os
import sys

# options of `edgekit verify` that mean no local runtime work (help, or the board does it)
_NO_LOCAL_RUN = ("-h", "--help", "--version", "--on")


def looks_like_bundle_verify(argv: list[str]) -> bool:
    """True when ``argv`` (without the program name) is ``[--debug] verify ... BUNDLE_DIR ...`` run here."""
    args = [a for a in argv if a != "--debug"]  # the group's only option that may come before the command
    if not args or args[0] != "verify":
        return False
    if any(a in _NO_LOCAL_RUN or a.startswith("--on=") for a in args[1:]):
        return False
    return any(not a.startswith("-") and os.path.isfile(os.path.join(a, "manifest.json")) for a in args[1:])


def _cpus() -> int:
    """CPUs this process may run on (its affinity where the platform says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (``kill``, a service manager, a CI timeout) ends the command the way Ctrl-C does: as an exception,
    so ``finally`` blocks run. Without it Python dies at once, and a backend worker process (an onnx2tf
    conversion that can hold 20 GB) is left running, and temporary files stay."""
    import signal

    signal.signal(signal.SIGTERM, _terminated)


def main() -> None:
    """The console entry point (``[project.scripts]`` in pyproject.toml)."""
    # on one CPU the two processes would take turns, each importing what the other has: fork later instead
    early = looks_like_bundle_verify(sys.argv[1:]) and _cpus() >= 2
    if early:
        from edgekit.prefork import BUNDLE_VERIFY_TARGET, BUNDLE_VERIFY_WARM_UP, prefork

        prefork(BUNDLE_VERIFY_TARGET, BUNDLE_VERIFY_WARM_UP)
    from edgekit.tflite.child import import_target

    # the CLI's imports create thousands of objects that live as long as the process: the collections they would
    # trigger free nothing (a few ms of every command's start), so they run with the collector off, then frozen
    cli = import_target("edgekit.cli:main")
    exit_cleanly_on_sigterm()
    try:
        cli()
    finally:
        if early:
            # the result is printed; what is left is the interpreter's teardown, whose cyclic collection walks
            # every object of click and the CLI for nothing (about a tenth of the whole command on this
            # workstation): frozen objects are skipped. Refcount teardown and atexit still run.
            import gc

            gc.freeze()


__all__ = ["main", "looks_like_bundle_verify", "exit_cleanly_on_sigterm"]
