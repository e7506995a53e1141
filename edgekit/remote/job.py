"""One edgekit command on one board: guard, upload, run, pull back, clean up.

On one SSH connection:

1. **guard** (a ``sh`` process on the board, :data:`GUARD_SH`): finds the board's edgekit (``--remote-edgekit``,
   else the PATH of an SSH command, plus ``~/.local/bin``), asks its version, takes the fingerprint,
   makes a fresh private folder (``mktemp -d`` under ``$TMPDIR`` or ``/tmp``), says how much space is free
   there, then waits on its standard input. When that input closes — the workstation is done, was
   interrupted, or the connection dropped — it stops whatever still runs in the folder and deletes it.
   So the board is cleaned up whatever happens to the workstation or the network.
2. **upload** (SFTP) of the bundle / model / data into that folder, after checking that it fits.
3. **run**: ``edgekit COMMAND ... --json`` with the uploaded paths, its JSON written to a file in the folder
   (whatever a login script prints cannot mix with it); its stderr (progress, warnings) is passed on live.
4. the fingerprint's state again (clock, temperature, throttling), the JSON and any file to bring back
   (``calibrate``'s profile, written locally only once it is complete and valid).
5. the guard's input is closed: the folder is removed, and the guard says so.

Nothing is installed on the board, and nothing runs there but the board's own ``edgekit`` and ``sh``.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import signal
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit import __version__
from edgekit.errors import EXIT_BACKEND, EdgekitError
from edgekit.remote.fingerprint import FINGERPRINT_SH, Fingerprint, parse_fingerprint, parse_lines, with_state
from edgekit.remote.ssh import Connection, RemoteError, RemoteSetupError, SSHOptions, connect
from edgekit.remote.target import Target

MIN_REMOTE_VERSION = (0, 1, 0)  # the first edgekit whose device commands all have --json
GUARD_TIMEOUT_S = 120.0  # the guard's facts (a Python start on a Pi Zero takes seconds)
RESULT_FILE = ".result.json"
PGID_FILE = ".pgid"
SPACE_MARGIN_BYTES = 1 << 20  # room for the result JSON and what the command writes
INSTALL_HINT = ("On the board: pip install edgekit (on Raspberry Pi OS in a venv: python3 -m venv ~/edgekit && "
                "~/edgekit/bin/pip install edgekit, then pass --remote-edgekit edgekit/bin/edgekit, a path on the "
                "board relative to its home folder).")

# $1 = the edgekit to run ("" = find it). Prints EDGEKIT-REMOTE key=value lines, "ready", then waits on stdin.
GUARD_SH = FINGERPRINT_SH + r"""
ek=$1
case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) [ -d "$HOME/.local/bin" ] && PATH=$PATH:$HOME/.local/bin ;; esac
if [ -z "$ek" ]; then
  ek=$(command -v edgekit 2>/dev/null) || { fp_say missing "$PATH"; exit 0; }
fi
# --remote-edgekit '~/venv/bin/edgekit' or a path relative to the home folder, as `ssh board PATH` takes it
case "$ek" in "~/"*) ek="$HOME/${ek#??}" ;; /*) ;; *) ek="$HOME/$ek" ;; esac
if [ ! -x "$ek" ]; then fp_say missing "$ek"; exit 0; fi
fp_say edgekit_path "$ek"
fp_say version "$("$ek" --version 2>&1 | head -n 1)"
fp_all
d=$(mktemp -d "${TMPDIR:-/tmp}/edgekit-remote.XXXXXXXX") || { fp_say error "mktemp -d failed in ${TMPDIR:-/tmp}"; exit 0; }
cleanup() {
  # a run still going (the connection dropped, the workstation was interrupted): stop its process group
  # (dash's kill takes no "--": a negative number after the signal is the group)
  pg=$(cat "$d/.pgid" 2>/dev/null)
  case "$pg" in ''|*[!0-9]*) ;; *) kill -TERM "-$pg" 2>/dev/null && { sleep 1; kill -KILL "-$pg" 2>/dev/null; } ;; esac
  rm -rf -- "$d"
}
trap 'cleanup; fp_say cleaned "$d"' EXIT
trap 'exit 1' HUP INT TERM PIPE
fp_say dir "$d"
fp_say free_kib "$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}')"
fp_say ready 1
cat >/dev/null
"""

# $1 = the folder, $2 = edgekit, then its arguments. Its process group is the guard's to stop.
RUN_SH = r"""
d=$1; ek=$2; shift 2
echo $$ > "$d/.pgid" || exit 96
cd "$d" || exit 96
"$ek" "$@" > "$d/.result.json"
rc=$?
rm -f "$d/.pgid"
exit $rc
"""

STATE_SH = FINGERPRINT_SH + "\nfp_state\n"


@dataclass(frozen=True)
class Upload:
    """A local file or folder the command needs; it lands as ``<temp folder>/<name>`` on the board."""

    local: Path
    name: str


@dataclass(frozen=True)
class InFolder:
    """A path inside the temp folder that the command writes (``calibrate -o``): no upload."""

    name: str


@dataclass(frozen=True)
class Pull:
    """A file the command writes into the temp folder, brought back to ``local`` (atomically, validated)."""

    name: str
    local: Path
    overwrite: bool = False
    check: Callable[[Path], None] | None = None  # raises an EdgekitError when the pulled file is not valid


@dataclass(frozen=True)
class RemoteCommand:
    """What to run: ``argv`` after ``edgekit``, where an :class:`Upload` stands for its path on the board."""

    name: str
    argv: tuple[str | Upload | InFolder, ...]
    pulls: tuple[Pull, ...] = ()

    @property
    def uploads(self) -> list[Upload]:
        return [a for a in self.argv if isinstance(a, Upload)]


@dataclass(frozen=True)
class RunOptions:
    ssh: SSHOptions = field(default_factory=SSHOptions)
    remote_edgekit: str | None = None
    timeout_s: float = 3600.0


@dataclass
class Outcome:
    """What happened on one board: its JSON result (or the error), the fingerprint, the time it took."""

    target: Target
    exit_code: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    hint: str | None = None
    fingerprint: Fingerprint | None = None
    fingerprint_after: Fingerprint | None = None
    edgekit_version: str | None = None
    elapsed_s: float = 0.0
    files: list[str] = field(default_factory=list)
    cleaned: bool | None = None  # the guard confirmed the temp folder was removed (None: never made one)


LineSink = Callable[[Target, str], None]


def run_on(target: Target, command: RemoteCommand, options: RunOptions, on_line: LineSink | None = None,
           register: Callable[[Connection | None], None] | None = None) -> Outcome:
    """Run ``command`` on ``target``; never raises an EdgekitError: it is recorded in the Outcome."""
    outcome = Outcome(target)
    t0 = time.monotonic()
    say = on_line or (lambda _t, _line: None)
    conn: Connection | None = None
    try:
        conn = connect(target, options.ssh)
        if register:
            register(conn)
        _run(conn, command, options, outcome, say)
    except EdgekitError as exc:
        outcome.exit_code, outcome.error, outcome.hint = exc.exit_code, exc.message, exc.hint
    finally:
        if conn is not None:
            conn.close()
        outcome.elapsed_s = time.monotonic() - t0
    return outcome


def _run(conn: Connection, command: RemoteCommand, options: RunOptions, outcome: Outcome, say: LineSink) -> None:
    target = outcome.target
    guard = conn.exec("exec sh -c " + shlex.quote(GUARD_SH) + " edgekit-guard " + shlex.quote(options.remote_edgekit or ""))
    try:
        facts = _read_guard(conn, guard, target)
        _check_edgekit(target, facts, options)
        outcome.edgekit_version = _version_text(facts.get("version", ""))
        outcome.fingerprint = parse_fingerprint(facts)
        say(target, f"board: {outcome.fingerprint.summary()}")
        folder = facts["dir"]
        outcome.cleaned = False
        _check_space(target, command, facts)
        try:
            sftp = conn.sftp()
        except Exception as exc:
            raise _dropped(target, conn, "opening SFTP", exc) from None
        try:
            _upload(conn, sftp, target, command, folder)
            status = _run_command(conn, target, command, options, facts["edgekit_path"], folder, outcome, say)
            outcome.fingerprint_after = _state_after(conn, outcome.fingerprint)
            outcome.result = _read_result(conn, sftp, target, command, folder, status, outcome)
            if outcome.result is not None:
                for pull in command.pulls:
                    outcome.files.append(str(_pull(conn, sftp, target, folder, pull)))
        finally:
            try:
                sftp.close()
            except Exception:  # noqa: S110 - the connection may be gone; the guard cleans up on the board
                pass
    finally:
        outcome.cleaned = _release_guard(guard, outcome.cleaned)


def _read_guard(conn: Connection, guard: Any, target: Target) -> dict[str, str]:
    """The guard's facts, up to its ``ready`` line (or its exit when edgekit is missing)."""
    buf = b""
    deadline = time.monotonic() + GUARD_TIMEOUT_S
    guard.settimeout(1.0)
    while True:
        facts = parse_lines(buf.decode("utf-8", errors="replace").splitlines())
        if "ready" in facts or "missing" in facts or "error" in facts:
            return facts
        if time.monotonic() > deadline:
            raise RemoteError(f"{target}: the board did not answer within {GUARD_TIMEOUT_S:g} s.",
                              hint="Run `ssh HOST true` to check the board answers commands.")
        try:
            block = guard.recv(65536)
        except TimeoutError:
            continue
        except Exception as exc:
            raise _dropped(target, conn, "starting", exc) from None
        if not block:  # the guard ended without saying ready: its stderr says why
            err = _drain_stderr(guard)
            if not conn.alive():
                raise _dropped(target, conn, "starting", None)
            raise RemoteError(f"{target}: the board could not start the remote session"
                              + (f" ({err})" if err else "") + ".",
                              hint="Check that `ssh HOST sh -c true` works (a POSIX sh and mktemp on the board).")
        buf += block


def _drain_stderr(chan: Any) -> str:
    data = b""
    try:
        while chan.recv_stderr_ready():
            data += chan.recv_stderr(65536)
    except Exception:  # noqa: S110
        pass
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _version_text(text: str) -> str | None:
    match = re.search(r"(\d+(?:\.\d+)+)", text)
    return match.group(1) if match else None


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _check_edgekit(target: Target, facts: Mapping[str, str], options: RunOptions) -> None:
    if "missing" in facts:
        where = f"at {options.remote_edgekit}" if options.remote_edgekit else "on the PATH of an SSH command"
        raise RemoteSetupError(f"{target}: edgekit is not installed on the board ({where}).", hint=INSTALL_HINT)
    if "error" in facts:
        raise RemoteError(f"{target}: {facts['error']} on the board.",
                          hint="Check that $TMPDIR (or /tmp) exists on the board and is writable.")
    version = _version_text(facts.get("version", ""))
    if version is None:
        raise RemoteSetupError(
            f"{target}: {facts.get('edgekit_path')} on the board did not answer `--version` like edgekit "
            f"(it said {facts.get('version', '')[:120]!r}).", hint=INSTALL_HINT)
    if _version_tuple(version) < MIN_REMOTE_VERSION:
        need = ".".join(map(str, MIN_REMOTE_VERSION))
        raise RemoteSetupError(f"{target}: the board's edgekit {version} is too old for --on (it needs {need} or newer).",
                               hint=f"On the board: pip install --upgrade 'edgekit>={need}'")


def _local_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _check_space(target: Target, command: RemoteCommand, facts: Mapping[str, str]) -> None:
    try:
        free = int(facts.get("free_kib", "")) * 1024
    except ValueError:
        return  # df gave nothing readable: the upload itself will say
    need = sum(_local_size(u.local) for u in command.uploads) + SPACE_MARGIN_BYTES
    if need > free:
        from edgekit.report import human_bytes

        raise RemoteError(
            f"{target}: the board's disk is full: {facts['dir'].rsplit('/', 1)[0]} has {human_bytes(free)} free, "
            f"the command needs {human_bytes(need)} (its files plus 1 MiB for results).",
            hint="Free some space on the board, or point TMPDIR of its SSH sessions at a bigger disk.",
        )


def _upload(conn: Connection, sftp: Any, target: Target, command: RemoteCommand, folder: str) -> None:
    for up in command.uploads:
        dest = posixpath.join(folder, up.name)
        files = [(up.local, dest)] if up.local.is_file() else [
            (p, posixpath.join(dest, *p.relative_to(up.local).parts)) for p in sorted(up.local.rglob("*"))]
        try:
            if up.local.is_dir():
                sftp.mkdir(dest, 0o700)
            for local, remote in files:
                if local.is_dir():
                    sftp.mkdir(remote, 0o700)
                elif local.is_file():
                    sftp.put(str(local), remote, confirm=True)
        except OSError as exc:
            if not conn.alive():
                raise _dropped(target, conn, f"the upload of {up.local}", exc) from None
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise RemoteError(f"{target}: could not write {up.local} to the board ({reason}); its disk may be full.",
                              hint="Free some space on the board (df -h), then run again.") from None
        except Exception as exc:
            raise _dropped(target, conn, f"the upload of {up.local}", exc) from None


def _remote_argv(command: RemoteCommand, folder: str) -> list[str]:
    return [posixpath.join(folder, a.name) if isinstance(a, Upload | InFolder) else a for a in command.argv]


def _run_command(conn: Connection, target: Target, command: RemoteCommand, options: RunOptions, edgekit: str,
                 folder: str, outcome: Outcome, say: LineSink) -> int:
    """Run edgekit on the board, passing its stderr on line by line; its exit status."""
    argv = [edgekit, *_remote_argv(command, folder)]
    line = "exec sh -c " + shlex.quote(RUN_SH) + " edgekit-run " + " ".join(shlex.quote(a) for a in [folder, *argv])
    try:
        chan = conn.exec(line)
    except Exception as exc:
        raise _dropped(target, conn, "starting the command", exc) from None
    chan.settimeout(0.5)
    pending = b""
    error_lines: list[str] = []
    deadline = time.monotonic() + options.timeout_s

    def flush(final: bool) -> None:
        nonlocal pending
        *lines, rest = pending.split(b"\n")
        if final and rest:
            lines, rest = [*lines, rest], b""
        pending = rest
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if text.startswith(("Error: ", "Hint: ")):
                error_lines.append(text)
            elif text.strip():
                say(target, text)

    while True:
        if chan.recv_stderr_ready():
            pending += chan.recv_stderr(65536)
            flush(False)
            continue
        if chan.recv_ready():
            chan.recv(65536)  # a login script's chatter; the JSON goes to a file
            continue
        if chan.exit_status_ready():
            break
        if chan.closed or not conn.alive():
            break
        if time.monotonic() > deadline:
            chan.close()
            raise RemoteError(f"{target}: edgekit {command.name} did not finish within {options.timeout_s:g} s; "
                              "it was stopped on the board.")
        time.sleep(0.05)
    while chan.recv_stderr_ready():
        pending += chan.recv_stderr(65536)
    flush(True)
    status = int(chan.recv_exit_status()) if chan.exit_status_ready() else -1
    if status == -1:  # paramiko's "no exit-status came": the channel or the connection was closed under us
        raise _dropped(target, conn, f"edgekit {command.name}", None)
    outcome_error(outcome, error_lines)
    return status


def outcome_error(outcome: Outcome, lines: Sequence[str]) -> None:
    """The board's own ``Error:``/``Hint:`` lines, kept for the Outcome."""
    for text in lines:
        if text.startswith("Error: ") and outcome.error is None:
            outcome.error = text[len("Error: "):]
        elif text.startswith("Hint: ") and outcome.hint is None:
            outcome.hint = text[len("Hint: "):]


def _state_after(conn: Connection, before: Fingerprint) -> Fingerprint | None:
    try:
        chan = conn.exec("exec sh -c " + shlex.quote(STATE_SH))
        chan.settimeout(30)
        data = b""
        while True:
            block = chan.recv(65536)
            if not block:
                break
            data += block
        return with_state(before, parse_lines(data.decode("utf-8", errors="replace").splitlines()))
    except Exception:  # the run's result matters more than the state after it
        return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _read_result(conn: Connection, sftp: Any, target: Target, command: RemoteCommand, folder: str, status: int,
                 outcome: Outcome) -> dict[str, Any] | None:
    name = command.name
    if status in (126, 127):
        raise RemoteSetupError(f"{target}: the board could not run edgekit (exit {status}: "
                               f"{'not executable' if status == 126 else 'not found'}).", hint=INSTALL_HINT)
    if status == 96:
        raise RemoteError(f"{target}: the temporary folder on the board disappeared or is not writable.")
    if status > 128 or status < 0:
        sig = _signal_name(status - 128) if status > 128 else "unknown signal"
        raise RemoteError(
            f"{target}: edgekit {name} crashed on the board ({sig}, exit {status})"
            + (f": {outcome.error}" if outcome.error else "") + ".",
            hint="Run the same command on the board itself to see its output (edgekit --debug ...); "
            "a runtime crash there is a bug of the runtime or a damaged file.",
        )
    data: dict[str, Any] | None = None
    if status in (0, 1):
        try:
            with sftp.open(posixpath.join(folder, RESULT_FILE), "r") as fh:
                raw = fh.read()
            loaded = json.loads(raw.decode("utf-8"))
            data = loaded if isinstance(loaded, dict) else None
        except Exception as exc:
            if not conn.alive():
                raise _dropped(target, conn, "reading the result", exc) from None
            data = None
    if data is None:
        if status in (0, 1):
            raise RemoteError(f"{target}: edgekit {name} on the board printed no JSON result (exit {status}).",
                              hint="Run the same command on the board with --json to see what it prints.")
        message = outcome.error or f"edgekit {name} exited with status {status} and said nothing"
        older = outcome.edgekit_version and _version_tuple(outcome.edgekit_version) < _version_tuple(__version__)
        hint = outcome.hint or ""
        if status == 2 and older:
            hint = (hint + " " if hint else "") + (f"The board runs edgekit {outcome.edgekit_version}, this workstation "
                                                  f"{__version__}: on the board, pip install --upgrade 'edgekit=={__version__}'.")
        error = EdgekitError(f"{target}: on the board: {message}", hint=hint or None)
        error.exit_code = status if status in (2, 3) else EXIT_BACKEND
        outcome.error = outcome.hint = None
        raise error
    outcome.exit_code = status
    if status == 0:
        outcome.error = outcome.hint = None
    return _map_paths(data, folder, command)


def _map_paths(data: Any, folder: str, command: RemoteCommand) -> Any:
    """Paths inside the temp folder, back to the local paths the user gave (the folder is gone)."""
    places = [(posixpath.join(folder, u.name), str(u.local)) for u in command.uploads]
    places += [(posixpath.join(folder, p.name), str(p.local)) for p in command.pulls]

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(folder):
            for remote, local in places:
                if value == remote or value.startswith(remote + "/"):
                    return local + value[len(remote):]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return fix(data)


def _pull(conn: Connection, sftp: Any, target: Target, folder: str, pull: Pull) -> Path:
    """Bring one file back: into a temp file next to ``pull.local``, checked, then published atomically."""
    from edgekit.fsutil import atomic_path

    try:
        with atomic_path(pull.local, overwrite=pull.overwrite) as tmp:
            sftp.get(posixpath.join(folder, pull.name), str(tmp))
            mode = os.stat(tmp).st_mode
            os.chmod(tmp, stat.S_IMODE(mode) | 0o644)
            if pull.check is not None:
                pull.check(tmp)
    except EdgekitError:
        raise
    except Exception as exc:
        if not conn.alive():
            raise _dropped(target, conn, f"bringing back {pull.name}", exc) from None
        raise RemoteError(f"{target}: could not bring {pull.name} back from the board ({exc}).") from None
    return pull.local


def _release_guard(guard: Any, made_folder: bool | None) -> bool | None:
    """Close the guard's input: it removes the folder and says ``cleaned``. True when it confirmed it."""
    if made_folder is None:
        try:
            guard.close()
        except Exception:  # noqa: S110
            pass
        return None
    try:
        guard.shutdown_write()
        data = b""
        deadline = time.monotonic() + 15
        guard.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                block = guard.recv(65536)
            except TimeoutError:
                continue
            if not block:
                break
            data += block
        return "cleaned" in parse_lines(data.decode("utf-8", errors="replace").splitlines())
    except Exception:  # the connection is gone: the guard saw its input close and cleaned up by itself
        return False
    finally:
        try:
            guard.close()
        except Exception:  # noqa: S110
            pass


def _dropped(target: Target, conn: Connection, during: str, exc: BaseException | None) -> RemoteError:
    detail = f" ({type(exc).__name__}: {exc})" if exc is not None and str(exc) else ""
    return RemoteError(
        f"{target}: the connection to the board dropped during {during}{detail}.",
        hint="Check the board and the network, then run again; the board removes its temporary folder "
        "when the connection drops.",
    )


__all__ = ["GUARD_SH", "INSTALL_HINT", "MIN_REMOTE_VERSION", "InFolder", "Outcome", "Pull", "RemoteCommand", "RunOptions", "Upload",
           "run_on"]
