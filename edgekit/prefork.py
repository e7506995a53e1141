"""The runtime's child forked first thing, so that it imports numpy and the runtime while the CLI starts.

``edgekit verify BUNDLE`` does its runtime work in a forked child (:mod:`edgekit.tflite.sandbox`,
crash isolation). Forked after click has parsed the command line, the child's imports (numpy, the
runtime: most of the start-up) wait for the parent's (click, the CLI). :mod:`edgekit.entry` calls
:func:`prefork` before anything else when the command line looks like a bundle verify: the child
imports while this process imports click, then waits on a pipe for its request, which
:func:`edgekit.tflite.sandbox.run_isolated` sends once it has one for the same target
(:func:`claim_warm`). A child that never gets a request sees its pipe close when this process
exits (or lets it go) and exits too.

This module imports nothing but :mod:`os` so that the fork happens as early as it can; the child's
side is :func:`edgekit.tflite.child.serve_warm`.
"""

from __future__ import annotations

import os

# what `edgekit verify BUNDLE` runs in its child (edgekit.verify.device), named here so that the early fork
# (edgekit.entry) and the verify command (which claims the child) cannot disagree, and without importing it
BUNDLE_VERIFY_TARGET = "edgekit.verify.device:measure_bundle_in_this_process"
BUNDLE_VERIFY_WARM_UP = "edgekit.verify.device:warm_up"


def can_fork() -> bool:
    """True where the sandbox can fork (POSIX) and ``EDGEKIT_SANDBOX`` does not ask for ``spawn``."""
    return hasattr(os, "fork") and os.environ.get("EDGEKIT_SANDBOX", "").strip().lower() != "spawn"


class WarmChild:
    """A child forked by :func:`prefork` for ``target``, waiting for its request on ``request_w``."""

    __slots__ = ("pid", "target", "request_w", "result_r", "err_r")

    def __init__(self, pid: int, target: str, request_w: int, result_r: int, err_r: int) -> None:
        self.pid = pid
        self.target = target
        self.request_w = request_w
        self.result_r = result_r
        self.err_r = err_r


_warm: WarmChild | None = None


def prefork(target: str, warm_up: str) -> bool:
    """Fork the child that will call ``target`` ("module:function"); it calls ``warm_up`` (its imports) now.

    Returns False, and forks nothing, where forking is off (:func:`can_fork`) or a child already waits.
    """
    global _warm
    if _warm is not None or not can_fork():
        return False
    request_r, request_w = os.pipe()
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            for fd in (request_w, result_r, err_r):
                os.close(fd)
            from edgekit.tflite.child import serve_warm

            serve_warm(target, warm_up, request_r, result_w, err_w)
        finally:
            os._exit(1)
    for fd in (request_r, result_w, err_w):
        os.close(fd)
    _warm = WarmChild(pid, target, request_w, result_r, err_r)
    return True


def claim_warm(target: str) -> WarmChild | None:
    """The waiting child if it was forked for ``target`` (once: the caller owns its pipes); any other is let go."""
    global _warm
    warm, _warm = _warm, None
    if warm is None:
        return None
    if warm.target == target:
        return warm
    for fd in (warm.request_w, warm.result_r, warm.err_r):
        os.close(fd)  # it reads the end of its request pipe and exits
    os.waitpid(warm.pid, 0)
    return None


__all__ = ["BUNDLE_VERIFY_TARGET", "BUNDLE_VERIFY_WARM_UP", "WarmChild", "can_fork", "claim_warm", "prefork"]
