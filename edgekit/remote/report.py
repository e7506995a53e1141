"""``--on``: the typed result of a command run on one board or a fleet (kind ``remote``; device-safe).

``to_dict()`` is the ``--json``: ``{"kind": "remote", "command": ..., "targets": [...]}`` with one entry
per board, in the order given, each keyed by its ``target``: its exit code, the board's own ``--json``
(``result``, readable with :func:`edgekit.results.result_from_dict`), or its ``error`` and ``hint``, and
the device fingerprint taken before (``fingerprint``) and after the command (``fingerprint_after``).

``render()`` for one board is the board's own tables, exactly as a run on the board prints them; for
several it is one side-by-side table, a row per board, and a table of the boards' fingerprints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edgekit.core.result import Basis, check_kind, optional_float, strings
from edgekit.remote.fingerprint import Fingerprint, throttled_during
from edgekit.report import format_table, human_bytes


@dataclass(frozen=True)
class TargetResult:
    """One board's outcome. ``result`` is the board's JSON (paths mapped back to the local ones)."""

    target: str
    exit_code: int
    result: Mapping[str, Any] | None = None
    error: str | None = None
    hint: str | None = None
    fingerprint: Fingerprint | None = None
    fingerprint_after: Fingerprint | None = None
    elapsed_s: float | None = None
    files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def typed(self) -> Any:
        """The board's result as its typed result object (None when the board gave none)."""
        if self.result is None:
            return None
        from edgekit.errors import InputError
        from edgekit.result_kinds import LEAF_KINDS, build_leaf

        kind = self.result.get("kind")
        try:
            return build_leaf(str(kind), self.result)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"the result from {self.target} is not a complete {kind!r} result ({exc}).",
                             hint=f"The board's edgekit must print one of: {', '.join(LEAF_KINDS)}; "
                             "use the same edgekit version on both sides.") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "exit_code": self.exit_code, "ok": self.ok,
            "fingerprint": self.fingerprint.to_dict() if self.fingerprint else None,
            "fingerprint_after": self.fingerprint_after.to_dict() if self.fingerprint_after else None,
            "result": dict(self.result) if self.result is not None else None,
            "error": {"message": self.error, "hint": self.hint} if self.error else None,
            "files": list(self.files), "warnings": list(self.warnings), "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetResult:
        error = d.get("error") or {}
        fp, fp_after = d.get("fingerprint"), d.get("fingerprint_after")
        return cls(
            target=str(d["target"]), exit_code=int(d["exit_code"]), result=d.get("result"),
            error=error.get("message"), hint=error.get("hint"),
            fingerprint=Fingerprint.from_dict(fp) if fp else None,
            fingerprint_after=Fingerprint.from_dict(fp_after) if fp_after else None,
            elapsed_s=optional_float(d.get("elapsed_s")), files=strings(d.get("files")),
            warnings=strings(d.get("warnings")),
        )


def throttle_warnings(command: str, before: Fingerprint | None, after: Fingerprint | None) -> list[str]:
    """bench (and calibrate): the board throttled while it was measured."""
    if command not in ("bench", "calibrate") or before is None or after is None:
        return []
    why = throttled_during(before, after)
    if why is None:
        return []
    return [f"the board throttled during the {command} run: {why}; its figures are below its normal speed "
            "(cool the board, check its power supply, then run again)."]


@dataclass(frozen=True)
class RemoteReport:
    """A command run with ``--on`` on one or more boards: one :class:`TargetResult` per board."""

    kind: ClassVar[str] = "remote"
    basis: ClassVar[Basis] = Basis.MEASURED  # whatever the board measured; its fingerprint is read there

    command: str
    targets: tuple[TargetResult, ...]
    render_options: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def exit_code(self) -> int:
        """The worst board's exit code (0 ok < 1 check failed < 2 bad input < 3 backend)."""
        return max((t.exit_code for t in self.targets), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "command": self.command, "exit_code": self.exit_code,
                "targets": [t.to_dict() for t in self.targets]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RemoteReport:
        check_kind(d, cls.kind)
        return cls(command=str(d["command"]), targets=tuple(TargetResult.from_dict(t) for t in d["targets"]))

    def render(self) -> str:
        if len(self.targets) == 1:
            only = self.targets[0]
            typed = only.typed()
            if typed is None:
                return ""
            show_ops = self.render_options.get("show_ops")
            return str(typed.render(show_ops) if show_ops is not None else typed.render())
        return self.render_fleet()

    def render_fleet(self) -> str:
        headers, rows = _fleet_table(self.command, self.targets)
        fp_rows = [[t.target, *_fingerprint_cells(t.fingerprint, t.fingerprint_after)] for t in self.targets]
        lines = [
            f"edgekit {self.command} on {len(self.targets)} boards "
            f"({sum(t.ok for t in self.targets)} ok, {sum(not t.ok for t in self.targets)} not):",
            format_table(headers, rows, align="".join("l" if h in _TEXT_COLUMNS else "r" for h in headers)),
            "",
            "Boards (fingerprint before the run; clock and temperature after it):",
            format_table(["target", "board", "cpu", "governor", "clock MHz", "temp C", "throttled", "os", "python",
                          "runtime", "edgekit"], fp_rows),
        ]
        return "\n".join(lines)


_TEXT_COLUMNS = {"target", "status", "verdict", "worst output", "runtime", "error", "device id", "profile written",
                 "quantization", "sha256", "threads"}


def _fingerprint_cells(fp: Fingerprint | None, after: Fingerprint | None) -> list[str]:
    if fp is None:
        return ["-"] * 10
    now = after or fp
    flags = now.throttle_flags
    return [
        fp.board or fp.hostname or "-",
        f"{fp.cores} x {fp.cpu}" if fp.cores and fp.cpu else (fp.cpu or "-"),
        fp.governor or "-",
        f"{now.clock_mhz:.0f}" if now.clock_mhz is not None else "-",
        f"{now.temperature_c:.1f}" if now.temperature_c is not None else "-",
        ("no" if not flags else "; ".join(flags)) if now.throttled is not None else "-",
        fp.os or "-", fp.python or "-", fp.runtime or "-", fp.edgekit or "-",
    ]


def _status(t: TargetResult) -> str:
    return {0: "ok", 1: "FAILED"}.get(t.exit_code, f"error (exit {t.exit_code})")


def _error_cell(t: TargetResult) -> str:
    if not t.error:
        return ""
    text = t.error
    prefix = f"{t.target}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _fleet_table(command: str, targets: Sequence[TargetResult]) -> tuple[list[str], list[list[str]]]:
    if command == "verify":
        headers = ["target", "verdict", "samples", "worst output", "cosine", "sqnr dB", "top1", "max abs", "runtime",
                   "error"]
        rows = []
        for t in targets:
            r = t.result or {}
            outs = r.get("outputs") or []
            worst = min(outs, key=lambda o: (o.get("passed", True), o.get("cosine") or 0.0), default=None)
            rows.append([
                t.target, "PASS" if t.exit_code == 0 else ("FAIL" if t.exit_code == 1 else "error"),
                str(r.get("samples", "-")), worst.get("name", "-") if worst else "-",
                _num(worst, "cosine", "{:.5f}"), _num(worst, "sqnr_db", "{:.1f}"),
                _num(worst, "top1_agreement", "{:.1%}"), _num(worst, "max_abs_error", "{:.4g}"),
                str(r.get("runtime", "-")), _error_cell(t),
            ])
        return headers, rows
    if command == "bench":
        headers = ["target", "status", "threads", "median ms", "mean ms", "p90 ms", "init ms", "peak RSS",
                   "CPU ms", "runtime", "error"]
        rows = []
        for t in targets:
            r = t.result or {}
            results = r.get("results") or [{}]
            for i, b in enumerate(results):
                lat = b.get("latency_ms") or {}
                rows.append([
                    t.target if i == 0 else "", _status(t) if i == 0 else "",
                    str(b.get("threads") or "default") if b else "-", _num(lat, "median", "{:.3f}"),
                    _num(lat, "mean", "{:.3f}"), _num(lat, "p90", "{:.3f}"), _num(b, "init_ms", "{:.1f}"),
                    human_bytes(b["model_peak_rss_bytes"]) if b.get("model_peak_rss_bytes") is not None else "-",
                    _num(b.get("cpu_ms") or {}, "median", "{:.3f}"),
                    _runtime(r) if i == 0 else "", _error_cell(t) if i == 0 else "",
                ])
        return headers, rows
    if command == "calibrate":
        headers = ["target", "status", "device id", "profile written", "fit rms", "measurements", "seconds", "error"]
        rows = []
        for t in targets:
            r = t.result or {}
            fit = (r.get("profile") or {}).get("fit") or {}
            rows.append([t.target, _status(t), str(r.get("id", "-")), ", ".join(t.files) or "-",
                         _num(fit, "rms_relative_error", "{:.1%}"), str(r.get("measurements", "-")),
                         _num(r, "elapsed_s", "{:.0f}"), _error_cell(t)])
        return headers, rows
    if command == "inspect":
        headers = ["target", "status", "quantization", "ops", "tensors", "size", "sha256", "error"]
        rows = []
        for t in targets:
            r = t.result or {}
            rows.append([t.target, _status(t), str(r.get("quantization", "-")), str(len(r.get("ops") or []) or "-"),
                         str(r.get("tensors", "-")),
                         human_bytes(r["size_bytes"]) if r.get("size_bytes") is not None else "-",
                         str(r.get("sha256", "-"))[:12], _error_cell(t)])
        return headers, rows
    return ["target", "status", "error"], [[t.target, _status(t), _error_cell(t)] for t in targets]


def _runtime(r: Mapping[str, Any]) -> str:
    rt = r.get("runtime")
    if isinstance(rt, Mapping):
        return f"{rt.get('name')} {rt.get('version')}"
    return str(rt or "-")


def _num(d: Mapping[str, Any] | None, key: str, fmt: str) -> str:
    if not d or d.get(key) is None:
        return "-"
    try:
        return fmt.format(float(d[key]))
    except (TypeError, ValueError):
        return "-"


__all__ = ["RemoteReport", "TargetResult", "throttle_warnings"]
