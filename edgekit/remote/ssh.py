"""The SSH connection to a board, the way OpenSSH users expect it (paramiko, imported only here, lazily).

- Host, user, port, keys, ``ProxyJump``/``ProxyCommand``, ``UserKnownHostsFile`` and
  ``StrictHostKeyChecking`` come from ``~/.ssh/config`` (then the ``ssh://`` target overrides them).
- Keys: ssh-agent (``SSH_AUTH_SOCK``), ``--identity FILE``, the config's ``IdentityFile`` and the default
  ``~/.ssh/id_*``. An encrypted key or a password is asked for on a terminal (one board at a time) and
  kept only for that one connection attempt: never stored, never logged.
- Host keys are checked against ``~/.ssh/known_hosts`` (and ``/etc/ssh/ssh_known_hosts``). An unknown
  host is refused with its key's fingerprint; ``--accept-new-host-key`` (OpenSSH's
  ``StrictHostKeyChecking=accept-new``) records it on first contact. A changed key is always refused.

Every failure is an :class:`~edgekit.errors.EdgekitError` naming the board: exit 2 when the user must fix
something (authentication, host keys, a port that does not speak SSH, an unknown host name), exit 3 when
the board or the network failed (refused, no answer, dropped).
"""

from __future__ import annotations

import base64
import errno
import getpass
import hashlib
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.deps import require
from edgekit.errors import BackendError, InputError
from edgekit.remote.target import Target, parse_target

REMOTE_HINT = "pip install 'edgekit[remote]'"
DEFAULT_CONNECT_TIMEOUT_S = 15.0


class RemoteSetupError(InputError):
    """The board was reached but refused us, or is not set up for edgekit: the user must fix something (exit 2)."""

    default_hint = "Check that `ssh` to the board works, then run the command again."


class RemoteError(BackendError):
    """The board or the network failed: unreachable, dropped, a crash or a full disk on the board (exit 3)."""

    default_hint = "Check the board and the network, then run the command again."


@dataclass(frozen=True)
class SSHOptions:
    """How to connect. ``interactive`` allows asking for a key passphrase or a password on the terminal."""

    identities: tuple[str, ...] = ()
    accept_new_host_key: bool = False
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    interactive: bool = False
    ssh_dir: Path | None = None  # default ~/.ssh (tests point it elsewhere through HOME)
    _prompt_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def home_ssh(self) -> Path:
        return self.ssh_dir or Path(os.path.expanduser("~")) / ".ssh"


@dataclass
class Resolved:
    """A target after ~/.ssh/config: where to connect, as whom, with which keys and host-key files."""

    target: Target
    hostname: str
    port: int
    user: str
    identities: list[str]
    identities_only: bool
    known_hosts: list[Path]
    accept_new: bool
    proxy_command: str | None
    proxy_jump: str | None

    @property
    def where(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    @property
    def host_key_name(self) -> str:
        """How known_hosts names this host (OpenSSH's rule: [host]:port unless the port is 22)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def resolve(target: Target, options: SSHOptions) -> Resolved:
    """Apply ~/.ssh/config to ``target`` (the target's own user/port win, like `ssh -p`/`user@`)."""
    config: dict[str, Any] = {}
    path = options.home_ssh / "config"
    if path.is_file():
        paramiko = _paramiko()
        try:
            config = dict(paramiko.SSHConfig.from_path(str(path)).lookup(target.host))
        except Exception as exc:  # a config paramiko cannot parse: say where, do not guess
            raise RemoteSetupError(f"cannot read {path} for {target}: {exc}.",
                                   hint="Fix the file (`ssh -G HOST` shows how OpenSSH reads it).") from None
    port = target.port or int(config.get("port", 22))
    user = target.user or config.get("user") or getpass.getuser()
    identities = [os.path.expanduser(p) for p in options.identities]
    identities += [os.path.expanduser(p) for p in config.get("identityfile", []) if os.path.isfile(os.path.expanduser(p))]
    known = [Path(os.path.expanduser(p)) for p in str(config.get("userknownhostsfile", "")).split() if p]
    if not known:
        known = [options.home_ssh / "known_hosts"]
    strict = str(config.get("stricthostkeychecking", "ask")).lower()
    return Resolved(
        target=target, hostname=str(config.get("hostname", target.host)), port=port, user=str(user),
        identities=list(dict.fromkeys(identities)), identities_only=str(config.get("identitiesonly", "no")).lower() == "yes",
        known_hosts=known, accept_new=options.accept_new_host_key or strict in ("accept-new", "no", "off"),
        proxy_command=config.get("proxycommand") if str(config.get("proxycommand", "none")).lower() != "none" else None,
        proxy_jump=config.get("proxyjump") if str(config.get("proxyjump", "none")).lower() != "none" else None,
    )


def _paramiko() -> Any:
    return require("paramiko", "Running a command on a board (--on ssh://...)")  # hint: edgekit[remote]


def key_fingerprint(key: Any) -> str:
    """OpenSSH's form: SHA256:<base64 without padding>."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class _HostKeyPolicy:
    """paramiko's MissingHostKeyPolicy: refuse an unknown host, or record it (accept-new)."""

    def __init__(self, resolved: Resolved) -> None:
        self.resolved = resolved

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        r = self.resolved
        if not r.accept_new:
            raise RemoteSetupError(
                f"{r.target}: the host key of {r.host_key_name} is not in {r.known_hosts[0]} "
                f"(it offered {key.get_name()} {key_fingerprint(key)}); edgekit does not connect to unknown hosts.",
                hint="Check that fingerprint on the board (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then "
                f"connect once with `ssh -p {r.port} {r.user}@{r.hostname}` or pass --accept-new-host-key.",
            )
        path = r.known_hosts[0]
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(path, "a", encoding="ascii") as fh:
                fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        except OSError as exc:
            raise RemoteSetupError(f"{r.target}: cannot record the new host key in {path} ({exc.strerror}).",
                                   hint="Make ~/.ssh/known_hosts writable, or add the key with ssh first.") from None
        client.get_host_keys().add(hostname, key.get_name(), key)


class Connection:
    """An open SSH connection to one board (a paramiko SSHClient) and what we know about it."""

    def __init__(self, client: Any, resolved: Resolved) -> None:
        self.client = client
        self.resolved = resolved
        self._jump: Connection | None = None

    @property
    def transport(self) -> Any:
        return self.client.get_transport()

    def alive(self) -> bool:
        t = self.transport
        return bool(t is not None and t.is_active())

    def exec(self, command: str) -> Any:
        """Start ``command`` (one string, run by the user's login shell like `ssh host command`); its channel."""
        chan = self.transport.open_session(timeout=30)
        chan.exec_command(command)
        return chan

    def sftp(self) -> Any:
        return self.client.open_sftp()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._jump is not None:
                self._jump.close()


def connect(target: Target, options: SSHOptions) -> Connection:
    """Open an authenticated connection to ``target`` whose host key is known (or newly accepted)."""
    paramiko = _paramiko()
    r = resolve(target, options)
    sock: Any = None
    jump: Connection | None = None
    if r.proxy_jump:
        hop = r.proxy_jump.split(",")[0].strip()
        jump = connect(parse_target(hop if hop.startswith("ssh://") else "ssh://" + hop), options)
        try:
            sock = jump.transport.open_channel("direct-tcpip", (r.hostname, r.port), ("127.0.0.1", 0),
                                               timeout=options.connect_timeout_s)
        except Exception as exc:
            jump.close()
            raise RemoteError(f"{target}: the jump host {hop} could not reach {r.hostname}:{r.port} ({exc}).") from None
    elif r.proxy_command:
        sock = paramiko.ProxyCommand(r.proxy_command.replace("%h", r.hostname).replace("%p", str(r.port))
                                     .replace("%r", r.user))
    client = paramiko.SSHClient()
    for path in (Path("/etc/ssh/ssh_known_hosts"), *r.known_hosts):
        if path.is_file():
            try:
                client.load_system_host_keys(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise RemoteSetupError(f"{target}: cannot read {path} ({exc}).",
                                       hint="Fix or remove the broken line (ssh-keygen -R HOST rewrites the file).") from None
    client.set_missing_host_key_policy(_HostKeyPolicy(r))
    password: str | None = None
    passphrase: str | None = None
    for _attempt in range(3):
        try:
            client.connect(
                r.hostname, port=r.port, username=r.user, password=password, passphrase=passphrase,
                key_filename=r.identities or None, allow_agent=True, look_for_keys=not r.identities_only,
                timeout=options.connect_timeout_s, banner_timeout=options.connect_timeout_s,
                auth_timeout=options.connect_timeout_s, sock=sock,
            )
            break
        except paramiko.PasswordRequiredException as exc:
            client.close()
            if not options.interactive or passphrase is not None:
                _close(jump)
                raise RemoteSetupError(f"{target}: the key {_key_named(exc, r)} is encrypted and no passphrase "
                                       "can be asked for here.",
                                       hint="Load it into ssh-agent first (ssh-add KEY), then run again.") from None
            passphrase = _ask(options, f"Passphrase for the key to {r.where}: ")
        except paramiko.AuthenticationException as exc:
            client.close()
            if options.interactive and password is None and _offers_password(exc):
                password = _ask(options, f"{r.user}@{r.hostname}'s password: ")
                continue
            _close(jump)
            raise RemoteSetupError(
                f"{target}: authentication as {r.user} failed ({_tried(r)}).",
                hint=f"Put your public key on the board (ssh-copy-id -p {r.port} {r.user}@{r.hostname}), load it "
                "into ssh-agent (ssh-add), or pass --identity FILE.",
            ) from None
        except BaseException as exc:
            client.close()
            _close(jump)
            raise _connect_error(target, r, exc, paramiko) from None
    else:  # pragma: no cover - three prompts in a row
        _close(jump)
        raise RemoteSetupError(f"{target}: authentication as {r.user} failed.")
    password = passphrase = None  # used once, for this connection only
    transport = client.get_transport()
    transport.set_keepalive(10)
    conn = Connection(client, r)
    conn._jump = jump
    return conn


def _close(conn: Connection | None) -> None:
    if conn is not None:
        conn.close()


def _ask(options: SSHOptions, prompt: str) -> str:
    with options._prompt_lock:
        return getpass.getpass(prompt, stream=sys.stderr)


def _offers_password(exc: Exception) -> bool:
    allowed = getattr(exc, "allowed_types", None)
    return allowed is None or "password" in allowed


def _key_named(exc: Exception, r: Resolved) -> str:
    return r.identities[0] if r.identities else "in ~/.ssh"


def _tried(r: Resolved) -> str:
    tried = []
    if os.environ.get("SSH_AUTH_SOCK"):
        tried.append("ssh-agent")
    tried.extend(r.identities)
    if not r.identities_only:
        tried.append("~/.ssh/id_*")
    return "tried " + ", ".join(tried) if tried else "no key: no ssh-agent, no --identity, no ~/.ssh/id_*"


def _connect_error(target: Target, r: Resolved, exc: BaseException, paramiko: Any) -> Exception:
    """A connection failure as an EdgekitError naming the board and what to do."""
    from edgekit.errors import EdgekitError

    if isinstance(exc, EdgekitError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    where = f"{r.hostname}:{r.port}"
    if isinstance(exc, paramiko.BadHostKeyException):
        return RemoteSetupError(
            f"{target}: HOST KEY MISMATCH for {r.host_key_name}: {r.known_hosts[0]} has "
            f"{key_fingerprint(exc.expected_key)}, the server offered {exc.key.get_name()} "
            f"{key_fingerprint(exc.key)}; someone may be intercepting the connection, or the board was re-installed.",
            hint=f"If the board was re-installed, check its new key and remove the old one: "
            f"ssh-keygen -R '{r.host_key_name}'. edgekit never accepts a changed key.",
        )
    if isinstance(exc, socket.gaierror):
        return RemoteSetupError(f"{target}: cannot resolve the host name {r.hostname} ({exc.strerror}).",
                                hint="Check the name, or give the board's address (or a Host entry in ~/.ssh/config).")
    refused = isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError)
        and all(getattr(e, "errno", None) == errno.ECONNREFUSED for e in exc.errors.values()))
    if refused:
        return RemoteError(f"{target}: connection refused by {where}: no SSH server listens there.",
                           hint="Check the port (ssh://user@host:PORT) and that sshd runs on the board "
                           "(sudo systemctl enable --now ssh).")
    if isinstance(exc, TimeoutError | socket.timeout):
        return RemoteError(f"{target}: no answer from {where} within the connection timeout.",
                           hint="Check that the board is on and reachable (ping it), and the address and port.")
    if isinstance(exc, paramiko.SSHException) and "banner" in str(exc).lower():
        return RemoteSetupError(f"{target}: {where} does not speak SSH (no SSH banner): wrong port?",
                                hint="Give the board's SSH port (ssh://user@host:PORT; 22 by default).")
    if isinstance(exc, paramiko.SSHException | EOFError | OSError):
        return RemoteError(f"{target}: the SSH connection to {where} failed: {exc or type(exc).__name__}.")
    return RemoteError(f"{target}: the SSH connection to {where} failed: {type(exc).__name__}: {exc}.")


__all__ = ["Connection", "REMOTE_HINT", "RemoteError", "RemoteSetupError", "Resolved", "SSHOptions", "connect",
           "key_fingerprint", "resolve"]
