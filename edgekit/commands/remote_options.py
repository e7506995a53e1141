"""``--on ssh://[user@]host[:port]``: one decorator gives a device command its remote form.

``@remote_options("verify")`` adds ``--on`` (repeatable, or ``@FILE``), ``--remote-edgekit``, ``--identity``,
``--accept-new-host-key`` and ``--max-connections``. Without ``--on`` the command runs as before. With it,
the command's own arguments are checked here, turned into the board's ``edgekit ... --json`` (the files
it needs become uploads), run on every board (:mod:`edgekit.remote`), and the board's JSON is rendered
with the command's own typed result: one board prints exactly its tables, several a side-by-side table.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from edgekit.errors import CheckFailed, EdgekitError, InputError, OutputExistsError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

REMOTE_PARAMS = ("on", "remote_edgekit", "identities", "accept_new_host_key", "max_connections")
# per command: the options that are passed on to the board as they are (the rest are refused with --on)
FORWARD: dict[str, tuple[str, ...]] = {
    "verify": ("samples", "min_cosine", "min_sqnr", "min_top1", "max_abs", "threads"),
    "bench": ("threads", "sweep", "runs", "warmup", "warmup_s", "data_path", "no_xnnpack"),
    "calibrate": ("name", "threads_text", "budget_s"),
    "inspect": (),
}
# options used on the workstation only (not passed on): how to show or where to put the result
LOCAL: dict[str, tuple[str, ...]] = {
    "verify": ("as_json", "html", "force"),
    "bench": ("as_json", "html", "force"),
    "calibrate": ("as_json", "output", "device_id", "force", "profiles_dir"),
    "inspect": ("as_json", "show_ops"),
}


def remote_options(command: str) -> Callable[[F], F]:
    """Give the device command ``command`` its ``--on`` options (see the module docstring)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            remote = {name: kwargs.pop(name) for name in REMOTE_PARAMS}
            if not remote["on"]:
                given = [opt for name, opt in (("remote_edgekit", "--remote-edgekit"), ("identities", "--identity"),
                                               ("accept_new_host_key", "--accept-new-host-key"))
                         if remote[name]]
                if given:
                    raise UsageError(f"{', '.join(given)} only applies with --on ssh://...",
                                     hint="Add --on ssh://[user@]host[:port], or drop the option.")
                return func(*args, **kwargs)
            return run_remote(command, kwargs, remote)

        wrapper.__dict__["__click_params__"] = list(getattr(func, "__click_params__", []))
        options = [
            click.option("--max-connections", type=click.IntRange(1, 64), default=8, show_default=True,
                         help="With several --on boards: how many to run at once."),
            click.option("--accept-new-host-key", is_flag=True,
                         help="Record the host key of a board seen for the first time (OpenSSH's accept-new); "
                         "a changed key is always refused."),
            click.option("--identity", "identities", multiple=True, type=click.Path(exists=True, dir_okay=False),
                         metavar="FILE", help="SSH private key to offer (repeatable; ssh-agent and ~/.ssh/config "
                         "are used too)."),
            click.option("--remote-edgekit", metavar="PATH", default=None,
                         help="The edgekit on the board: an absolute path or one relative to the board's home folder "
                         "(default: the one on its PATH, or ~/.local/bin)."),
            click.option("--on", "on", multiple=True, metavar="ssh://[user@]host[:port]",
                         help="Run on this board over SSH instead of here (repeatable; @FILE reads one target "
                         "per line). Needs `pip install 'edgekit[remote]'` here and `pip install edgekit` "
                         "on the board."),
        ]
        for option in options:
            option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def _forwarded_args(command: str, kwargs: Mapping[str, Any], uploads: dict[str, Path]) -> list[Any]:
    """The given options of ``command`` as the board's command line; paths in ``uploads`` become uploads."""
    from edgekit.remote.job import Upload

    ctx = click.get_current_context()
    params = {p.name: p for p in ctx.command.params}
    allowed = FORWARD[command]
    out: list[Any] = []
    for name, value in kwargs.items():
        source = ctx.get_parameter_source(name)
        if source in (None, click.core.ParameterSource.DEFAULT) or name in LOCAL[command]:
            continue
        param = params.get(name)
        if not isinstance(param, click.Option):
            continue
        flag = param.opts[0]
        if name not in allowed:
            if value in (None, (), False) and param.is_flag:
                continue
            raise UsageError(f"{flag} is not available with --on: the board runs `edgekit {command}` "
                             "with what it can do without the workstation's files.",
                             hint=f"Drop {flag}, or run the command here without --on.")
        if param.is_flag:
            if param.secondary_opts and not value:
                out.append(param.secondary_opts[0])
            elif value:
                out.append(flag)
            continue
        for item in (value if param.multiple else (value,)):
            if item is None:
                continue
            if name in uploads:
                out.extend([flag, Upload(Path(item), "data-" + Path(item).name)])
            else:
                out.extend([flag, str(item)])
    return out


def _build(command: str, kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The board's argv (after ``edgekit``) for ``command``, and the local render options."""
    from edgekit.remote.job import Upload

    if command == "verify":
        model, converted = Path(kwargs["model"]), kwargs.get("converted")
        if converted is not None:
            raise UsageError("--on runs `verify BUNDLE_DIR` on the board; `verify ORIGINAL CONVERTED.tflite` needs "
                             "the original model and TensorFlow, so it runs here.",
                             hint="Make a bundle with `edgekit convert ... --bundle DIR`, then: "
                             "edgekit verify DIR --on ssh://user@board")
        if not model.is_dir() or not (model / "manifest.json").is_file():
            raise UsageError(f"{model} is not a bundle folder (no manifest.json).",
                             hint="With --on, verify takes a folder made by `edgekit convert --bundle DIR`.")
        from edgekit.bundle import read_bundle

        read_bundle(model)  # a broken or tampered bundle is refused here, before anything is sent
        name = model.resolve().name or "bundle"
        return ["verify", Upload(model, name), *_forwarded_args(command, kwargs, {}), "--json"], {}
    if command in ("bench", "inspect"):
        model = Path(kwargs["model"])
        if not model.is_file():
            raise InputError(f"{model} is not a file.", hint="Pass the path of a .tflite model.")
        from edgekit.tflite.model import load_model

        load_model(model)  # the reader's checks here: a bad file is refused before it is sent
        uploads = {"data_path": Path(kwargs["data_path"])} if kwargs.get("data_path") else {}
        if uploads and not uploads["data_path"].exists():
            raise UsageError(f"--data {uploads['data_path']} does not exist.",
                             hint="Give a .npy/.npz file or a folder of images.")
        argv = [command, Upload(model, model.name), *_forwarded_args(command, kwargs, uploads), "--json"]
        return argv, ({"show_ops": bool(kwargs.get("show_ops", True))} if command == "inspect" else {})
    raise ValueError(f"no remote form for {command}")  # calibrate is built per board, see _calibrate_jobs


def _profile_check(path: Path) -> None:
    from edgekit.profile.schema import load_profile

    load_profile(path)  # ProfileError when the board's file is not a valid profile


def _calibrate_jobs(kwargs: Mapping[str, Any], targets: list[Any]) -> list[tuple[Any, Any]]:
    """calibrate --on: one job per board, each bringing its profile to -o FILE or the profiles folder."""
    from edgekit.remote.job import InFolder, Pull, RemoteCommand

    ctx = click.get_current_context()
    explicit_id = ctx.get_parameter_source("device_id") not in (None, click.core.ParameterSource.DEFAULT)
    output = kwargs.get("output")
    force = bool(kwargs.get("force"))
    if len(targets) > 1 and (output or explicit_id):
        raise UsageError("-o/--id name one profile, but --on names several boards.",
                         hint="Drop -o and --id: each board's profile is written to the profiles folder as <host>.toml.")
    if output and kwargs.get("profiles_dir"):
        raise UsageError("-o and --profiles both say where to write the profile.", hint="Pass one of them.")
    folder: Path | None = None
    if not output:
        given = kwargs.get("profiles_dir")
        env = [p for p in os.environ.get("EDGEKIT_PROFILES", "").split(os.pathsep) if p.strip()]
        folder = Path(given) if given else (Path(env[0]) if env else None)
        if folder is None:
            raise UsageError("calibrate --on needs to know where to put the board's profile.",
                             hint="Pass --profiles DIR (or set EDGEKIT_PROFILES=DIR, which `edgekit profile` reads "
                             "too), or -o FILE.toml.")
        if not folder.is_dir():
            raise InputError(f"profiles folder {folder} does not exist.", hint=f"Create it first: mkdir -p {folder}")
    jobs = []
    for target in targets:
        device_id = kwargs["device_id"] if explicit_id else target.default_device_id()
        if not all(c.isalnum() or c in "-_." for c in device_id):
            raise UsageError(f"--id {device_id!r} is not a valid device id.", hint="Use letters, digits, '-', '_' or '.'.")
        local = Path(output) if output else (folder or Path(".")) / f"{device_id}.toml"
        if local.suffix.lower() != ".toml":
            raise UsageError(f"--output {local} should end in .toml.", hint="e.g. -o my-pi.toml")
        from edgekit.fsutil import check_output_path

        try:
            check_output_path(local, force)
        except OutputExistsError:
            raise OutputExistsError(f"Output {local} already exists (the profile of {target}).",
                                    hint="Pass --force to replace it, or remove it first.") from None
        name = f"{device_id}.toml"
        argv: list[Any] = ["calibrate", "-o", InFolder(name), "--id", device_id,
                           *_forwarded_args("calibrate", kwargs, {}), "--json"]
        jobs.append((target, RemoteCommand("calibrate", tuple(argv),
                                           (Pull(name, local, overwrite=force, check=_profile_check),))))
    return jobs


def _html_target(kwargs: Mapping[str, Any], boards: int) -> Path | None:
    """--html FILE with --on: the board's JSON becomes the report here; checked before anything is sent."""
    if "html" not in kwargs:
        return None
    html, force = kwargs.get("html"), bool(kwargs.get("force"))
    if html is not None and boards > 1:
        raise UsageError("--html writes the report of one board, but --on names several.",
                         hint="Run with one --on board per report, or save --json and render each board's "
                         "result with `edgekit report`.")
    from edgekit.commands.common import html_target

    return html_target(None if html is None else Path(html), force)


def run_remote(command: str, kwargs: Mapping[str, Any], remote: Mapping[str, Any]) -> None:
    """Run ``command`` with its parsed ``kwargs`` on every ``--on`` board; print, and exit like the board."""
    from edgekit.remote.fleet import line_printer, run_fleet
    from edgekit.remote.job import RemoteCommand, RunOptions
    from edgekit.remote.ssh import SSHOptions
    from edgekit.remote.target import read_targets
    from edgekit.report import emit_json, info, warn

    targets = read_targets(remote["on"])
    html = _html_target(kwargs, len(targets))
    render_options: dict[str, Any] = {}
    if command == "calibrate":
        jobs = _calibrate_jobs(kwargs, targets)
    else:
        argv, render_options = _build(command, kwargs)
        jobs = [(t, RemoteCommand(command, tuple(argv))) for t in targets]
    interactive = len(targets) == 1 and sys.stdin.isatty() and sys.stderr.isatty()
    options = RunOptions(ssh=SSHOptions(identities=tuple(remote["identities"] or ()),
                                        accept_new_host_key=bool(remote["accept_new_host_key"]),
                                        interactive=interactive),
                         remote_edgekit=remote["remote_edgekit"])
    report = run_fleet(command, jobs, options, max_connections=remote["max_connections"],
                       on_line=line_printer(info), render_options=render_options)
    as_json = bool(kwargs.get("as_json"))
    single = report.targets[0] if len(report.targets) == 1 else None
    if as_json:
        emit_json(report.to_dict())
    elif single is None or single.result is not None:
        text = report.render()
        if text:
            click.echo(text)
    for entry in report.targets:
        for message in entry.warnings:
            warn(f"{entry.target}: {message}" if single is None else message)
        if command == "calibrate" and entry.files and not as_json and single is None:
            info(f"{entry.target}: profile written to {', '.join(entry.files)}")
    if single is not None:
        if html is not None and single.result is not None:
            from edgekit.commands.common import write_html_report

            write_html_report(single.typed(), html, bool(kwargs.get("force")))  # a failed check gets its report too
        if single.exit_code != 0:
            error = CheckFailed(single.error or "the check failed on the board.", hint=single.hint) \
                if single.exit_code == 1 else EdgekitError(single.error or "failed on the board.", hint=single.hint)
            error.exit_code = single.exit_code
            raise error
        return
    failed = [t for t in report.targets if not t.ok]
    if failed:
        worst = max(failed, key=lambda t: t.exit_code)
        error = EdgekitError(
            f"{len(failed)} of {len(report.targets)} boards did not pass or failed: "
            + "; ".join(f"{t.target} (exit {t.exit_code})" for t in failed) + ".",
            hint=worst.hint or "See each board's row above; run the command on one board with --on for its details.")
        error.exit_code = report.exit_code
        raise error


__all__ = ["remote_options", "run_remote"]
