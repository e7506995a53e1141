#!/usr/bin/env python3
"""Run the bad-input matrix through the real `edgekit` CLI and write docs/RELIABILITY.md.

    .venv/bin/python scripts/reliability_matrix.py [--out docs/RELIABILITY.md] [--only ID-SUBSTRING] [--no-convert]

Each case of tests/reliability_cases.py runs as its own `edgekit ...` process in a fresh folder
(cases about permissions run without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH when this script runs
as root, because root ignores file permissions). Then two workstation cases that need real processes: Ctrl-C during a
convert (nothing partial may be left) and two converts to the same output at once.
The table records the observed exit code and the `Error:`/`Hint:` lines per case.
Exit status: 0 if no case had a problem, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from reliability_cases import (  # noqa: E402
    CASES,
    SAMPLE_KERAS,
    Case,
    error_line,
    judge,
    snapshot,
)

TIMEOUT_S = 600


@dataclass
class Outcome:
    case_id: str
    command: str
    what: str
    status: str  # "clean" | "PROBLEM" | "skipped"
    exit_code: int | None
    message: str
    seconds: float


def edgekit_argv() -> list[str]:
    script = Path(sys.executable).parent / "edgekit"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from edgekit.cli import main; sys.argv[0] = 'edgekit'; main()"]


def has_tensorflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def tidy(text: str, folder: Path) -> str:
    text = text.replace(str(folder), "<tmp>").replace(str(REPO) + "/", "")
    text = re.sub(r"/tmp/[\w.-]+", "<tmp>", text)
    return text.replace("|", "\\|")


def run_case(case: Case, base: Path, convert_ok: bool) -> Outcome:
    if (case.needs == "convert" or case.command == "convert") and not convert_ok:
        return Outcome(case.id, case.command, case.what, "skipped", None,
                       "needs TensorFlow and sample_models/shapes_classifier.keras", 0.0)
    folder = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=base))
    folder.chmod(0o755)
    argv = case.build(folder)
    before = snapshot(folder)
    prefix: list[str] = []
    if case.needs == "unprivileged" and os.geteuid() == 0:
        # root ignores permission bits; without these two capabilities it obeys them like any user
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HOME=str(folder))
    t0 = time.monotonic()
    try:
        proc = subprocess.run([*prefix, *edgekit_argv(), *argv], capture_output=True, text=True, cwd=folder,
                              env=env, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return Outcome(case.id, case.command, case.what, "PROBLEM", None, f"hung for {TIMEOUT_S} s",
                       time.monotonic() - t0)
    seconds = time.monotonic() - t0
    for p in folder.rglob("*"):
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    problems = judge(case, proc.returncode, proc.stdout, proc.stderr, before, snapshot(folder))
    message = error_line(proc.stderr) or ("(ok)" if proc.returncode == 0 else proc.stderr.strip()[-200:])
    if problems:
        message = f"**{'; '.join(problems)}** — {message}"
    return Outcome(case.id, case.command, case.what, "PROBLEM" if problems else "clean", proc.returncode,
                   tidy(message, folder), seconds)


def convert_sigint(base: Path) -> Outcome:
    """Ctrl-C while convert works: exit 130, `Error: interrupted`, and no partial output or temp file left."""
    what = "Ctrl-C (SIGINT) during convert --bundle: nothing partial left"
    folder = Path(tempfile.mkdtemp(prefix="convert-sigint-", dir=base))
    out = folder / "out"
    out.mkdir()
    argv = [*edgekit_argv(), "convert", str(SAMPLE_KERAS), "-o", str(out / "m.tflite"), "--bundle", str(out / "b")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # interrupt once convert has said something on stderr (it is past start-up), or after 60 s
    lines: list[str] = []
    stream = proc.stderr
    assert stream is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")), daemon=True)
    reader.start()
    # (no extra wait: on an idle machine the sample model converts in ~6 s, and a Ctrl-C after the
    # command finished would test nothing)
    while time.monotonic() - t0 < 60 and proc.poll() is None and not lines:
        time.sleep(0.05)
    interrupted_at = time.monotonic() - t0
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return Outcome("convert-sigint", "convert", what, "PROBLEM", None, "did not stop within 120 s of Ctrl-C",
                       time.monotonic() - t0)
    reader.join(timeout=10)
    stderr = "".join(lines)
    left = sorted(p.name for p in out.iterdir())
    problems = []
    if proc.returncode != 130:
        problems.append(f"exit {proc.returncode}, expected 130")
    if left:
        problems.append(f"left behind: {left}")
    if "Traceback" in stderr:
        problems.append("traceback")
    message = f"interrupted after {interrupted_at:.1f} s; " + (error_line(stderr) or stderr.strip()[-200:])
    if problems:
        message = f"**{'; '.join(problems)}** — {message}"
    return Outcome("convert-sigint", "convert", what, "PROBLEM" if problems else "clean", proc.returncode,
                   tidy(message, folder), time.monotonic() - t0)


def convert_concurrent(base: Path) -> Outcome:
    """Two converts to the same -o at once: one wins (exit 0), the other is refused (exit 2, no --force),
    the result is one whole model, no temp files."""
    what = "two converts to the same output at once"
    folder = Path(tempfile.mkdtemp(prefix="convert-twice-", dir=base))
    target = folder / "m.tflite"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.monotonic()
    procs = [subprocess.Popen([*edgekit_argv(), "convert", str(SAMPLE_KERAS), "-o", str(target)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    results = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    codes = [p.returncode for p in procs]
    problems = []
    if sorted(codes) != [0, 2]:
        problems.append(f"exit codes {codes} (want one 0 and one 2: without --force the second must not overwrite)")
    for code, (_, err) in zip(codes, results, strict=True):
        if "Traceback" in err:
            problems.append("traceback")
        if code == 2 and "Hint: " not in err:
            problems.append("no Hint")
    leftovers = sorted(p.name for p in folder.iterdir() if p.name != "m.tflite")
    if leftovers:
        problems.append(f"left behind: {leftovers}")
    try:
        from edgekit.tflite.model import load_model

        load_model(target)
    except Exception as exc:  # noqa: BLE001 - report whatever it is
        problems.append(f"output is not a whole model: {exc}")
    notes = [error_line(err) for code, (_, err) in zip(codes, results, strict=True) if code]
    message = f"exits {codes}; output loads as a .tflite" + (f"; {notes[0]}" if notes else "")
    if problems:
        message = f"**{'; '.join(problems)}** — {message}"
    return Outcome("convert-concurrent", "convert", what, "PROBLEM" if problems else "clean",
                   max(codes), tidy(message, folder), time.monotonic() - t0)


def write_doc(outcomes: list[Outcome], path: Path, total_s: float) -> None:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("clean", "PROBLEM", "skipped")}
    lines = [
        "# Reliability: the bad-input matrix",
        "",
        "Generated by `scripts/reliability_matrix.py` (do not edit by hand): every case runs the real",
        "`edgekit` CLI in its own process and a fresh folder. **clean** means: the exit code is the expected",
        "one, stderr ends with exactly one `Error:` line and one `Hint:` line, there is no traceback and no",
        "\"bug in edgekit\", and every file the case made beforehand (the user's files) is byte-for-byte",
        "unchanged. Permission cases run without CAP_DAC_OVERRIDE (root ignores permissions). The same table",
        "runs in-process in `tests/test_reliability_matrix.py`; mutated inputs are fuzzed by",
        "`tests/test_fuzz_inputs.py` (regression corpus: `tests/fuzz_corpus/`).",
        "",
        f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {len(outcomes)} cases in {total_s:.0f} s: "
        f"{counts['clean']} clean, {counts['PROBLEM']} with a problem, {counts['skipped']} skipped.",
        "",
        "| case | command | bad input | exit | result | observed message |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        code = "—" if o.exit_code is None else str(o.exit_code)
        lines.append(f"| `{o.case_id}` | {o.command} | {o.what} | {code} | {o.status} | {o.message} |")
    lines += [
        "",
        "## Runtime isolation",
        "",
        "`edgekit/tflite/sandbox.py` runs the native interpreter's work on an untrusted model in a child",
        "process (`python -m edgekit.tflite.sandbox`, requests and results as JSON files, no pickles). The",
        "reader validates the file first (exit 2); if the child then dies (SIGSEGV, SIGABRT, killed) or",
        "hangs past its timeout, the parent raises `BackendError` (exit 3) naming the file and the signal;",
        "an edgekit error raised in the child comes back with its own class, message and hint.",
        "`probe_model(path)` loads, allocates and invokes a model once in a child, on an all-zero input (a",
        "quantized input at its zero point); `run_isolated(target, kwargs, subject=path)` runs any device-side",
        "function that way (`bench` runs in it; `verify` probes the model with `probe_model` before loading it",
        "in-process).",
        "",
        "A kernel that *refuses* the all-zero input (an error from `invoke`, not a crash) does not stop `verify`:",
        "it judges the user's data and warns that such an input (silence, a black frame) will stop the model on",
        "the device. That is what basic-pitch's int8 model does (an int8 `DIV` whose divisor, `x + eps`, rounds to",
        "its zero point: `div.cc: data[i] != zero_point`); before, verify refused the model with exit 3 and a hint",
        "to re-convert it. `convert` warns the same when its float model runs that input, and `tune` rejects such",
        "candidates (`edgekit.tflite.runtime.invoke_on_zeros`; `tests/test_tune.py` builds the case).",
        "",
        "## Fuzzing",
        "",
        "`tests/test_fuzz_inputs.py` (hypothesis, derandomized, 3,360 cases, ~30 s on an idle 2-core host;",
        "`EDGEKIT_FUZZ_SCALE=N` for N times more) mutates valid `.tflite` files (bytes and flatbuffer",
        "fields), bundle `manifest.json` / `golden.npz`, data `.npz` and device-profile TOML, and feeds them",
        "to the reader, the loaders and the CLI in-process (inspect, profile, size, verify). Anything but a",
        "result or an edgekit error fails, and a watchdog fails any case that hangs. What it found is kept in",
        "`tests/fuzz_corpus/` and replayed by `tests/test_fuzz_corpus.py` (also under `pytest -m device`):",
        "",
        *[f"- `{p.name}`" for p in sorted((REPO / "tests" / "fuzz_corpus").glob("*")) if p.is_file()],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "RELIABILITY.md")
    parser.add_argument("--only", default="", help="run only the cases whose id contains this text (no doc written)")
    parser.add_argument("--no-convert", action="store_true", help="skip the cases that need TensorFlow")
    args = parser.parse_args()
    convert_ok = not args.no_convert and has_tensorflow() and SAMPLE_KERAS.is_file()
    outcomes: list[Outcome] = []
    t0 = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="edgekit-matrix-"))
    base.chmod(0o755)
    try:
        for case in CASES:
            if args.only and args.only not in case.id:
                continue
            o = run_case(case, base, convert_ok)
            outcomes.append(o)
            print(f"{o.status:16s} {o.case_id:34s} exit={o.exit_code} {o.seconds:5.1f}s  {o.message[:110]}",
                  flush=True)
        for name, special in (("convert-sigint", convert_sigint), ("convert-concurrent", convert_concurrent)):
            if args.only and args.only not in name:
                continue
            if convert_ok:
                o = special(base)
            else:
                o = Outcome(name, "convert", special.__doc__.splitlines()[0] if special.__doc__ else name,
                            "skipped", None, "needs TensorFlow and sample_models/shapes_classifier.keras", 0.0)
            outcomes.append(o)
            print(f"{o.status:16s} {o.case_id:34s} exit={o.exit_code} {o.seconds:5.1f}s  {o.message[:110]}",
                  flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    total = time.monotonic() - t0
    if not args.only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_doc(outcomes, args.out, total)
        print(f"wrote {args.out}")
    bad = [o.case_id for o in outcomes if o.status == "PROBLEM"]
    print(f"{len(outcomes)} cases in {total:.0f} s; problems: {bad or 'none'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
