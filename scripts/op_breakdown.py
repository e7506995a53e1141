"""Where a whole-model estimate misses, op by op, on THIS machine (issue 14's diagnostic for the estimator).

`scripts/bench_estimator.py` says how far `edgekit profile` is from `edgekit bench` on a whole model; this says
where. Every op of the model's main graph is cut out into a one-op model and timed alone (median invoke, XNNPACK
on, the requested thread count, after warm-up), next to the estimator's figure for that op from the same profile:

  * the one-op model keeps the op's constant inputs, and the DENSIFY / float16 DEQUANTIZE chain that feeds its
    weights (XNNPACK unpacks those once, as in the whole graph: the op still sees static weights);
  * its other inputs are graph inputs, filled with random values in their dtype's range (integer tensors with
    zeros, so that indices and shapes stay valid); with ``--in-situ``, with the values they hold inside the whole
    model when it runs on `edgekit bench`'s random input (same seed): a kernel whose time depends on the data
    (a builtin int8 RELU's clamp is a branch) is then timed on the activations it sees in the graph;
  * ops that cannot run alone (control flow, resource variables, custom ops other than the ones XNNPACK runs
    itself -- MediaPipe's transposed convolution --, or any op the runtime rejects out of context) are listed
    as not measured;
  * the empty invoke's time (measured here on a one-element model) is taken off each op's time.

Alone an op runs with warm caches and its own partition, so the sum of the op times is not the whole model's
time: the table prints both, and the per-op-name sums show which kind of op the estimate gets wrong.

    .venv/bin/python scripts/op_breakdown.py MODEL.tflite --profiles DIR --device ID [--threads 1] [--in-situ] [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekit.core.tflite_builder import TFLiteBuilder, pack, unpack  # noqa: E402
from edgekit.profile.delegate import FOLDED_NOTES, XNNPACK_CUSTOM_OPS, unpacked_at_init  # noqa: E402
from edgekit.tflite.model import TFLiteModel, parse_model  # noqa: E402

NOT_ALONE = frozenset({"WHILE", "IF", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CUSTOM"})


def _weight_chain(model: TFLiteModel, index: int) -> list[int]:
    """The op and the static-weight DENSIFY / DEQUANTIZE ops that feed it, in graph order."""
    sg = model.main
    producer = {t: op.index for op in sg.operators for t in op.outputs}
    keep = {index}
    todo = [index]
    while todo:
        op = sg.operators[todo.pop()]
        for t in op.inputs:
            p = producer.get(t)
            if p is not None and p not in keep and unpacked_at_init(sg, sg.operators[p]):
                keep.add(p)
                todo.append(p)
    return sorted(keep)


def one_op_model(data: bytes, model: TFLiteModel, index: int) -> bytes:
    """A model of op ``index`` alone (with its static-weight chain): see the module docstring."""
    m = unpack(data)
    sg = m.subgraphs[0]
    ops = [sg.operators[i] for i in _weight_chain(model, index)]
    produced = {t for op in ops for t in op.outputs if t >= 0}
    used = sorted({t for op in ops for t in (*op.inputs, *op.outputs) if t >= 0})
    remap = {t: i for i, t in enumerate(used)}
    buffers = [m.buffers[0]]
    tensors = []
    for t in used:
        tensor = copy.copy(sg.tensors[t])
        buf = m.buffers[tensor.buffer] if tensor.buffer < len(m.buffers) else None
        if buf is not None and (buf.data is None or len(buf.data) == 0) and (buf.offset or 0) > 1 and buf.size:
            # data kept after the flatbuffer (ai-edge-quantizer's files): copied into the buffer, or the
            # cut-out op would get its weights as a graph input (and XNNPACK would refuse it)
            buf = copy.copy(buf)
            buf.data = np.frombuffer(data[buf.offset:buf.offset + buf.size], np.uint8).copy()
            buf.offset, buf.size = 0, 0
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            buffers.append(buf)
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
        tensors.append(tensor)
    constant = {t for t in used if tensors[remap[t]].buffer != 0}
    new_ops = []
    for op in ops:
        o = copy.copy(op)
        o.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
        o.outputs = [remap[t] for t in op.outputs]
        o.intermediates = []
        new_ops.append(o)
    sg2 = copy.copy(sg)
    sg2.tensors = tensors
    sg2.operators = new_ops
    sg2.inputs = [remap[t] for t in used if t not in produced and t not in constant]
    sg2.outputs = [remap[t] for t in sg.operators[index].outputs if t >= 0]
    m.subgraphs = [sg2]
    m.buffers = buffers
    m.signatureDefs = []
    m.metadata = []
    m.metadataBuffer = []
    return pack(m)


def _fill(interp: Any, rng: np.random.Generator) -> None:
    for d in interp.get_input_details():
        dtype = np.dtype(d["dtype"])
        shape = d["shape"]
        if dtype.kind == "f":
            value = rng.normal(0, 1, shape).astype(dtype)
        elif dtype in (np.int8, np.uint8, np.int16):
            info = np.iinfo(dtype)
            value = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
        else:
            value = np.zeros(shape, dtype)
        interp.set_tensor(d["index"], value)


def activations(data: bytes, seed: int = 0) -> dict[str, np.ndarray]:
    """Every tensor's value (by name) in one invoke of the whole model on bench's random input (``seed``)."""
    from edgekit.bench import random_input
    from edgekit.tflite.runtime import load_interpreter, tensor_values

    interp = load_interpreter(data, num_threads=1, use_xnnpack=False, preserve_all_tensors=True)
    rng = np.random.default_rng(seed)
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], random_input(d["shape"], np.dtype(d["dtype"]).name, rng))
    interp.invoke()
    return tensor_values(interp, key="name")


def time_model(data: bytes, threads: int, target_s: float, values: dict[str, np.ndarray] | None = None) -> float:
    """Median wall-clock ms of one invoke (XNNPACK on), after bench's warm-up time; inputs from ``values`` (by tensor name)
    where it holds them, random otherwise."""
    from edgekit.tflite.runtime import load_interpreter

    interp = load_interpreter(data, num_threads=threads, use_xnnpack=True)
    _fill(interp, np.random.default_rng(0))
    for d in interp.get_input_details():
        v = (values or {}).get(d["name"])
        if v is not None and tuple(v.shape) == tuple(d["shape"]) and v.dtype == np.dtype(d["dtype"]):
            interp.set_tensor(d["index"], v)
    from edgekit.bench import WARMUP_S

    warm_start = time.perf_counter()  # as bench warms up: a fresh interpreter's first 2-thread runs are slower
    runs = 0
    while runs < 3 or (threads > 1 and time.perf_counter() - warm_start < WARMUP_S):
        interp.invoke()
        runs += 1
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < 5 or (time.perf_counter() - start < target_s and len(samples) < 2000):
        t0 = time.perf_counter()
        interp.invoke()
        samples.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(samples)


def empty_invoke_ms(threads: int, target_s: float) -> float:
    b = TFLiteBuilder("edgekit op breakdown: empty invoke")
    x = b.tensor("x", (1, 1), "float32")
    y = b.tensor("y", (1, 1), "float32")
    b.operator("RELU", [x], [y])
    return time_model(b.build([x], [y]), threads, target_s)


def breakdown(path: Path, profile_dir: Path, device: str, threads: int, target_s: float,
              in_situ: bool = False) -> dict[str, Any]:
    from edgekit.profile.estimator import estimate
    from edgekit.profile.registry import get_profile

    data = path.read_bytes()
    model = parse_model(data, str(path))
    entry = get_profile(device, [profile_dir])
    est = {o.index: o for o in estimate(model, entry, threads=threads).ops}
    base = empty_invoke_ms(threads, target_s)
    values = activations(data) if in_situ else None
    rows: list[dict[str, Any]] = []
    n = len(model.main.operators)
    for op in model.main.operators:
        e = est.get(op.index)
        row: dict[str, Any] = {"index": op.index, "op": op.name, "estimated_ms": e.latency_ms if e else None,
                               "runs_on": e.runs_on if e else None, "measured_ms": None, "why_not": ""}
        if op.name in NOT_ALONE or not (op.builtin or op.custom_code in XNNPACK_CUSTOM_OPS):
            row["why_not"] = "cannot run alone"
        elif e is not None and e.latency_ms == 0.0 and "once" in e.note:
            row["why_not"] = "unpacked at load (timed with the op it feeds)"
        elif e is not None and e.latency_ms == 0.0 and e.note in FOLDED_NOTES:
            row["why_not"] = "run inside a neighbour (timed with it)"
        else:
            try:
                row["measured_ms"] = max(0.0, time_model(one_op_model(data, model, op.index), threads, target_s,
                                                           values) - base)
            except Exception as exc:  # noqa: BLE001 - any runtime refusal out of context: report, go on
                row["why_not"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
        rows.append(row)
        if (op.index + 1) % max(1, n // 10) == 0 or op.index + 1 == n:
            print(f"op_breakdown: {op.index + 1}/{n} ops timed", file=sys.stderr, flush=True)
    whole = time_model(data, threads, 4 * target_s)
    return {"model": str(path), "device": device, "threads": threads, "in_situ": in_situ, "empty_invoke_ms": base,
            "whole_model_ms": whole, "whole_model_estimated_ms": estimate(model, entry, threads=threads).latency_ms,
            "ops": rows}


def report(doc: dict[str, Any]) -> str:
    from edgekit.report import format_table

    by: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for r in doc["ops"]:
        key = f"{r['op']} ({(r['runs_on'] or '?').split(':')[-1]})"
        acc = by[key]
        acc[0] += 1
        if r["measured_ms"] is None:
            acc[3] += 1
            continue
        acc[1] += r["estimated_ms"] or 0.0
        acc[2] += r["measured_ms"]
    body = [[k, str(int(v[0])), f"{v[1]:.3f}", f"{v[2]:.3f}", f"{v[1] / v[2]:.2f}" if v[2] > 0 else "-",
             str(int(v[3]))] for k, v in sorted(by.items(), key=lambda kv: -kv[1][2])]
    lines = [f"{doc['model']} on {doc['device']}, {doc['threads']} thread(s): whole model measured "
             f"{doc['whole_model_ms']:.3f} ms, estimated {doc['whole_model_estimated_ms']:.3f} ms "
             f"(empty invoke {doc['empty_invoke_ms'] * 1000:.1f} us taken off each op; ops fed "
             f"{'the activations they see in the whole model' if doc.get('in_situ') else 'random inputs'})", ""]
    lines += format_table(["op (where)", "count", "estimated ms", "measured alone ms", "est/meas", "not measured"],
                          body).splitlines()
    timed = [r for r in doc["ops"] if r["measured_ms"] is not None]
    lines += ["", f"sum over the {len(timed)} ops timed alone: estimated {sum(r['estimated_ms'] or 0 for r in timed):.3f}"
              f" ms, measured {sum(r['measured_ms'] for r in timed):.3f} ms", "", "largest differences:"]
    worst = sorted(timed, key=lambda r: -abs(r["measured_ms"] - (r["estimated_ms"] or 0)))[:12]
    lines += [f"  #{r['index']:<4d} {r['op']:22s} estimated {r['estimated_ms'] or 0:8.4f} ms  measured {r['measured_ms']:8.4f} ms"
              for r in worst]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--profiles", type=Path, required=True, help="folder with the calibrated profile")
    ap.add_argument("--device", default="this-machine")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--target-s", type=float, default=0.1, help="timed seconds per op")
    ap.add_argument("--in-situ", action="store_true",
                    help="feed each op the values its inputs hold inside the whole model (on bench's random input)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    doc = breakdown(args.model, args.profiles, args.device, args.threads, args.target_s, args.in_situ)
    print(json.dumps(doc, indent=1) if args.json else report(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
