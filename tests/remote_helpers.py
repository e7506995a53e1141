"""A real OpenSSH server on 127.0.0.1 for the --on tests: the "board" (no traffic leaves the loopback).

Each :class:`Board` is one ``sshd -D`` (Debian's openssh-server, installed by scripts/test) with a
throw-away host key, an authorized key made here, ``TMPDIR`` pointing at a folder the test can look
into (where the board's temporary folders appear), and ``PATH`` starting with the board's edgekit:
by default the base-only venv ``.venv-device`` (no TensorFlow), so the light install does the work.
Faults are injected for real: :meth:`Board.drop_connections` kills the per-connection sshd processes
(the connection drops as when a board loses power or network), a fake edgekit exits 139, a tiny tmpfs
is the board's full disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
DEVICE_VENV = Path(os.environ.get("EDGEKIT_DEVICE_VENV", REPO / ".venv-device"))
REQUIRED = os.environ.get("EDGEKIT_TEST_REMOTE") == "1"  # scripts/test: a missing piece fails, never skips


def missing_prerequisite() -> str | None:
    """Why the remote tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "sshd for the --on tests must start as root (privilege separation)"
    if not Path(SSHD).is_file():
        return "no OpenSSH server (apt-get install openssh-server; scripts/test installs it)"
    if not (DEVICE_VENV / "bin" / "edgekit").is_file():
        return f"no base-only board venv at {DEVICE_VENV} (scripts/test-device --prepare makes it)"
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return "paramiko is not installed (pip install -e '.[remote]')"
    return None


def require_prerequisites() -> None:
    why = missing_prerequisite()
    if why is None:
        return
    if REQUIRED:
        pytest.fail(f"EDGEKIT_TEST_REMOTE=1 but {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgekit-test", "-f", str(path)],
                   check=True, timeout=30)
    return path


@dataclass
class Board:
    """One sshd on 127.0.0.1:port; ``tmpdir`` is the board's $TMPDIR."""

    root: Path
    port: int
    tmpdir: Path
    host_key: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_config: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def known_hosts_line(self) -> str:
        pub = self.host_key.with_suffix(".pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n"

    def leftovers(self) -> list[str]:
        """What the board left in its $TMPDIR (the guard must have removed its folder)."""
        return sorted(p.name for p in self.tmpdir.iterdir()) if self.tmpdir.is_dir() else []

    def connection_pids(self) -> list[int]:
        """The per-connection sshd processes: the listener's descendants that are sshd (the privileged
        monitor and the session process under it), not the commands they run."""
        if self.proc is None:
            return []
        parent: dict[int, int] = {}
        name: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            head, _, rest = stat.rpartition(")")
            parent[int(entry.name)] = int(rest.split()[1])
            name[int(entry.name)] = head.partition("(")[2]
        out: list[int] = []
        frontier = [self.proc.pid]
        while frontier:
            pid = frontier.pop()
            children = [c for c, p in parent.items() if p == pid and name.get(c) == "sshd"]
            out.extend(children)
            frontier.extend(children)
        return out

    def drop_connections(self) -> int:
        """Kill every per-connection sshd process now: the connections drop. How many were killed."""
        pids = self.connection_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.drop_connections()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


def start_board(root: Path, authorized: Sequence[Path], path_dirs: Sequence[Path] = (),
                tmpdir: Path | None = None, extra: Sequence[str] = (), with_edgekit: bool = True) -> Board:
    """Start an sshd on a free loopback port; ``authorized`` public keys may log in as root."""
    root.mkdir(parents=True, exist_ok=True)
    host_key = keygen(root / "host_key") if not (root / "host_key").exists() else root / "host_key"
    keys = root / "authorized_keys"
    keys.write_text("".join(Path(str(p) + ".pub").read_text() for p in authorized))
    tmp = tmpdir or root / "board-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    board_bin = [str(DEVICE_VENV / "bin")] if with_edgekit else []
    path = ":".join([*(str(d) for d in path_dirs), *board_bin, "/usr/local/bin", "/usr/bin", "/bin"])
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        config = root / "sshd_config"
        config.write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"AuthorizedKeysFile {keys}",
            f"PidFile {root / 'sshd.pid'}", "UsePAM no", "StrictModes no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp",
            f"SetEnv PATH={path} TMPDIR={tmp}", "LogLevel ERROR", "MaxStartups 50", "MaxSessions 20",
            *extra, "",
        ]))
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=open(root / "sshd.log", "ab"))  # noqa: SIM115
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return Board(root, port, tmp, host_key, proc, list(extra))
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
        last_error = (root / "sshd.log").read_text(errors="replace")[-500:]
    raise RuntimeError(f"sshd did not start: {last_error}")


@dataclass
class Workstation:
    """The user's side: a HOME with ~/.ssh (key, known_hosts, config) and no ssh-agent, and the edgekit CLI."""

    home: Path
    key: Path
    cwd: Path
    env_extra: dict[str, str] = field(default_factory=dict)

    @property
    def ssh(self) -> Path:
        return self.home / ".ssh"

    def trust(self, *boards: Board) -> None:
        with open(self.ssh / "known_hosts", "a") as fh:
            for board in boards:
                fh.write(board.known_hosts_line())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "EDGEKIT_PROFILES")}
        env.update({"HOME": str(self.home), "COLUMNS": "200", **self.env_extra})
        return env

    def run(self, args: Sequence[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """``edgekit ARGS`` as the user types it (a subprocess: the real CLI, stdin not a terminal)."""
        code = "import sys; from edgekit.cli import main; sys.exit(main(sys.argv[1:], prog_name='edgekit'))"
        return subprocess.run([sys.executable, "-P", "-c", code, *args], cwd=self.cwd, env=self.env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)

    def popen(self, args: Sequence[str]) -> subprocess.Popen[str]:
        code = "import sys; from edgekit.cli import main; sys.exit(main(sys.argv[1:], prog_name='edgekit'))"
        return subprocess.Popen([sys.executable, "-P", "-c", code, *args], cwd=self.cwd, env=self.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def make_workstation(root: Path) -> Workstation:
    home = root / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    key = keygen(home / ".ssh" / "id_ed25519")
    cwd = root / "work"
    cwd.mkdir()
    return Workstation(home, key, cwd)


def wait_for(predicate: object, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(step)
    return False


FAKE_EDGEKIT = """#!/bin/sh
# A stand-in for the board's edgekit: answers --version like edgekit, then {behaviour}.
if [ "$1" = "--version" ]; then echo "edgekit, version {version}"; exit 0; fi
{body}
"""


def fake_edgekit(path: Path, body: str, version: str = "0.1.0", behaviour: str = "misbehaves") -> Path:
    path.write_text(FAKE_EDGEKIT.format(body=body, version=version, behaviour=behaviour))
    path.chmod(0o755)
    return path


def board_processes(marker: str) -> list[int]:
    """Processes whose command line contains ``marker`` (the fake edgekit's path): none may outlive a run."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and str(os.getpid()) != entry.name:
                out.append(int(entry.name))
    return out


@dataclass
class Boards:
    one: Board
    two: Board


def stop_all(boards: Iterator[Board]) -> None:
    for board in boards:
        board.stop()


def sample_bundle(tflite: Path, out: Path, count: int = 8) -> Path:
    """A bundle of the committed sample int8 model whose golden outputs the model itself computed."""
    from bundle_helpers import self_bundle

    return self_bundle(tflite, out, count, source_file=tflite.name, source_format="tflite")
