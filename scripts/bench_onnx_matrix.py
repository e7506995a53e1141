#!/usr/bin/env python
"""The ONNX conversion matrix: edgekit vs bare onnx2tf on ONNX's node test suite and on real pretrained models.

Cases:

* **node**: every case of the node test suite that ships in the ``onnx`` wheel
  (``onnx.backend.test.case.node``; onnx 1.23 ships the cases as the generator
  code that writes ``data/node``, so they are generated here with onnx's own
  ``collect_testcases`` and cached) that has ONE output, a float32 output,
  and static shapes on every graph input and output. The stored output (the
  numpy reference of the ONNX standard) is the truth.
* **zoo**: every ONNX model of ``scripts/zoo.py`` that is installed
  (``scripts/install-zoo``), with fixed input shapes (table below) and seeded
  inputs; onnxruntime's output is the truth. Models onnxruntime cannot run are
  listed and skipped.

Each case goes through two tools in the same run:

* **edgekit**: ``edgekit convert MODEL --quantize none`` (the library call the
  CLI makes, in the worker process; node cases with ``LoadOptions(in_process=True)``
  so one process converts many small models, zoo models in the guarded
  conversion process the CLI uses; node cases get their input as
  ``--calibration``), judged on the written ``.tflite`` with the layout
  permutation edgekit records in its result (the manifest's ``to_tflite_perm``);
* **onnx2tf**: bare ``onnx2tf.convert()`` (1.28.8, its defaults; node cases
  with ``not_use_onnxsim=True``: a one-node graph has nothing to simplify and
  the onnxsim program costs seconds per case), judged on its
  ``*_float32.tflite`` allowing ANY layout permutation of inputs and outputs
  that fits the shapes.

A converted output passes when ``max|got - want| <= 1e-4 + 1e-3 * max|want|``
(NaN where the truth has NaN counts as equal), or, for zoo models, when its
cosine similarity is >= 0.9999 or its max abs error is within 1e-4 of the
output's range (the issue's criterion). Outcomes: ``pass``; ``refused`` (exit
2/3; ``named`` when the message names an op type of the model); ``mismatch``
(converted, exit 0, wrong output: a silent mismatch); ``crash`` (the tool
died, hung or raised something unexpected).

Runs cases in ``--jobs`` worker processes (default 2, at low priority), each
converting cases one after another; results are cached in ``--cache``
(edgekit results keyed by the hash of edgekit's ONNX code, onnx2tf results by
its version), so a re-run only converts what changed.

The code: this file parses the options and runs the matrix; ``scripts/onnx_matrix/`` holds the cases
(``cases``), judging (``judge``), the two tools inside a worker (``tools``), the worker pool (``pool``) and
the markdown tables (``report``).

Usage:
    .venv/bin/python scripts/bench_onnx_matrix.py [--suite node,zoo] [--ops Conv,LSTM] [--limit N]
        [--jobs 2] [--shuffle] [--markdown OUT.md] [--json OUT.json] [--tools edgekit,onnx2tf] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from onnx_matrix.cases import Case, Outcome, node_cases, zoo_cases  # noqa: E402 - after the path line
from onnx_matrix.pool import Pool, tool_key  # noqa: E402
from onnx_matrix.report import tables  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--suite", default="node,zoo")
    parser.add_argument("--ops", default="", help="only node cases of these ops (comma-separated)")
    parser.add_argument("--cases", default="", help="only these case ids (comma-separated)")
    parser.add_argument("--limit", type=int, default=0, help="at most N cases per suite (seeded sample)")
    parser.add_argument("--shuffle", action="store_true",
                        help="convert in a seeded random order, so a run stopped early is a random sample")
    parser.add_argument("--tools", default="edgekit,onnx2tf")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=REPO / ".bench_cache" / "onnx_matrix")
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rerun", action="store_true", help="ignore cached results")
    parser.add_argument("--report-only", action="store_true",
                        help="print the tables from the cached results of the current code, converting nothing "
                             "(cases not run yet are left out and counted)")
    args = parser.parse_args()
    if args.worker:
        from onnx_matrix.tools import worker_main

        return worker_main()
    args.cache.mkdir(parents=True, exist_ok=True)
    suites = set(args.suite.split(","))
    cases: list[Case] = []
    skipped: list[str] = []
    if "node" in suites:
        picked = node_cases(args.cache)
        if args.ops:
            wanted = set(args.ops.split(","))
            picked = [c for c in picked if c.op.split(" ")[0] in wanted]
        if args.limit:
            rng = np.random.default_rng(0)
            picked = [picked[i] for i in sorted(rng.choice(len(picked), min(args.limit, len(picked)), replace=False))]
        cases += picked
    if "zoo" in suites:
        zoo_list, skipped = zoo_cases(args.cache)
        cases += zoo_list
    if args.cases:
        wanted_ids = set(args.cases.split(","))
        cases = [c for c in cases if c.id in wanted_ids]
    tools = args.tools.split(",")
    store = args.cache / "results.jsonl"
    cached: dict[tuple[str, str, str], Outcome] = {}
    if store.is_file() and not args.rerun:
        for line in store.read_text().splitlines():
            entry = json.loads(line)
            cached[(entry["key"], entry["sha"], entry["outcome"]["case"])] = Outcome(**entry["outcome"])
    results: dict[tuple[str, str], Outcome] = {}
    todo: list[tuple[Case, str]] = []
    keys = {t: tool_key(t) for t in tools}
    for c in cases:
        for t in tools:
            hit = cached.get((keys[t], c.sha, c.id))
            if hit is not None and hit.tool == t and not hit.message.startswith("timed out"):  # load, not result
                results[(c.id, t)] = hit
            else:
                todo.append((c, t))
    if args.shuffle:
        todo = [todo[i] for i in np.random.default_rng(0).permutation(len(todo))]
    todo.sort(key=lambda ct: ct[0].suite == "zoo")  # the small node cases first (stable: keeps the shuffle)
    if args.report_only:
        missing = len(todo)
        cases = [c for c in cases if all((c.id, t) in results for t in tools)]
        print(tables(cases, results, skipped) + f"\n{len(cases)} cases with every tool's cached result; {missing} "
              "conversions not run yet.")
        return 0
    print(f"{len(cases)} cases x {len(tools)} tools: {len(results)} cached, {len(todo)} to run with {args.jobs} "
          f"worker(s)", file=sys.stderr)
    started = time.monotonic()
    count = 0

    def done(outcome: Outcome) -> None:
        nonlocal count
        count += 1
        case = next(c for c in cases if c.id == outcome.case)
        results[(outcome.case, outcome.tool)] = outcome
        with store.open("a") as fh:
            fh.write(json.dumps({"key": keys[outcome.tool], "sha": case.sha, "outcome": asdict(outcome)}) + "\n")
        print(f"[{count}/{len(todo)} {time.monotonic() - started:.0f}s] {outcome.tool:8s} {outcome.outcome:9s} "
              f"{outcome.case} {outcome.backend or ''} {outcome.message[:100]}", file=sys.stderr)

    pool = Pool(args.jobs)
    try:
        pool.run(todo, done)
    finally:
        pool.close()
    text = tables(cases, results, skipped)
    wall = time.monotonic() - started
    text += f"\nRun: {len(todo)} conversions in {wall / 60:.1f} min wall with {args.jobs} worker(s) " \
            f"({len(results) - len(todo)} from the cache).\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in results.values()], indent=1))
    silent = [o for (cid, tool), o in results.items() if tool == "edgekit" and o.outcome == "mismatch"]
    return 1 if silent else 0


if __name__ == "__main__":
    sys.exit(main())
