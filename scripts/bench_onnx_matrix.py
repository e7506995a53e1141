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
  CLI makes, in the worker process, with ``LoadOptions(in_process=True)`` so one
  process converts many small models; node cases get their input as
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

Usage:
    .venv/bin/python scripts/bench_onnx_matrix.py [--suite node,zoo] [--ops Conv,LSTM] [--limit N]
        [--jobs 2] [--markdown OUT.md] [--json OUT.json] [--tools edgekit,onnx2tf]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
TIMEOUT_S = {"node": 300.0, "zoo": 1800.0}  # a one-node graph that takes minutes is a failure; real models are big

# zoo model -> fixed input shapes (only dims the model leaves symbolic need one; the batch defaults to 1)
ZOO_SHAPES: dict[str, dict[str, str]] = {
    "basic-pitch-nmp": {},
    "ddddocr-ocr-int8": {"input1": "1,1,64,256"},
    "nudenet-320n": {"images": "1,3,320,320"},
    "oww-melspectrogram": {"input": "1,1760"},
    "ppocr-mobile-v2-cls": {"x": "1,3,48,192"},
    "ppocr-v4-det": {"x": "1,3,320,320"},
    "ppocr-v4-rec": {"x": "1,3,48,320"},
    "ppocr-v6-small-det": {"x": "1,3,320,320"},
    "ppocr-v6-small-rec": {"x": "1,3,48,320"},
    "silero-vad-v4": {"input": "1,512", "h": "2,1,64", "c": "2,1,64"},
    "silero-vad-v6": {"input": "1,576", "state": "2,1,128"},
    "silero-vad-v6-hc": {"input": "4,576"},
    "silero-vad-v6-ifless-op18": {"input": "1,576", "state": "2,1,128"},
    "silero-vad-v6-op15": {"input": "1,576", "state": "2,1,128"},
    "vfl-mask-int8": {"stacked_logmel": "1,50,512", "dvec": "1,256", "h0": "3,1,512", "c0": "3,1,512"},
}
# value ranges of float inputs (default uniform -1..1): raw pixels, int16-scale audio, transformed mel frames
ZOO_RANGES: dict[str, tuple[float, float]] = {
    "ddddocr-det": (0.0, 255.0), "yunet-int8bq": (0.0, 255.0), "sface-int8bq": (0.0, 255.0),
    "oww-melspectrogram": (-3000.0, 3000.0), "oww-embedding": (0.0, 10.0), "ppocr-v4-det": (-2.0, 2.0),
    "ppocr-v6-small-det": (-2.0, 2.0), "doc-orientation": (-2.0, 2.0), "layout-cdla": (-2.0, 2.0),
    "nudenet-320n": (0.0, 1.0),
}


@dataclass
class Case:
    id: str
    suite: str  # node | zoo
    op: str  # node: the op under test; zoo: the model id
    model: str  # path of the .onnx
    data: str  # .npz with the inputs (key per input, one sample, no leading N) and "out:NAME" truths
    shapes: dict[str, str]
    sha: str


@dataclass
class Outcome:
    case: str
    tool: str
    outcome: str  # pass | refused | mismatch | crash | skipped
    exit_code: int | None
    named: bool  # a refusal that names an op type of the model
    message: str
    backend: str | None
    seconds: float
    error: float | None = None


# ---------------------------------------------------------------- cases


def _static(value: Any) -> bool:
    t = value.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return False
    return all(d.HasField("dim_value") for d in t.tensor_type.shape.dim)


def node_cases(cache: Path) -> list[Case]:
    """Generate (once) and list the selected node-suite cases."""
    import onnx

    root = cache / f"node-onnx{onnx.__version__}"
    index = root / "index.json"
    if index.is_file():  # paths are relative to the folder, so a copied cache works
        return [replace(Case(**c), model=str(root / c["model"]), data=str(root / c["data"]))
                for c in json.loads(index.read_text())]
    from onnx.backend.test.case.node import collect_testcases

    cases = []
    for tc in collect_testcases(None):
        if tc.kind != "node" or not tc.data_sets or tc.model is None:
            continue
        ins, outs = tc.data_sets[0]
        model = tc.model
        graph = model.graph
        if len(outs) != 1 or len(graph.output) != 1 or not isinstance(outs[0], np.ndarray):
            continue
        if outs[0].dtype != np.float32 or not all(isinstance(a, np.ndarray) for a in ins):
            continue
        if not all(_static(v) for v in [*graph.input, *graph.output]) or len(ins) != len(graph.input):
            continue
        name = tc.name.removeprefix("test_")
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(folder / "model.onnx"))
        arrays = {f"in:{v.name}": a for v, a in zip(graph.input, ins, strict=True)}
        arrays[f"out:{graph.output[0].name}"] = outs[0]
        np.savez(folder / "data.npz", **arrays)  # type: ignore[arg-type]
        op = graph.node[0].op_type if not name.endswith("_expanded") else f"{_op_of(name)} (expanded)"
        sha = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()[:16]
        cases.append(Case(name, "node", op, f"{name}/model.onnx", f"{name}/data.npz", {}, sha))
    index.write_text(json.dumps([asdict(c) for c in cases]))
    return node_cases(cache)


def _op_of(name: str) -> str:
    """The op an expanded case tests: test names start with the op's snake_case name."""
    import onnx

    base = name.removesuffix("_expanded")
    best, found = "", base
    for schema in onnx.defs.get_all_schemas():
        snake = "".join(("_" + c.lower()) if c.isupper() else c for c in schema.name).lstrip("_")
        if (base == snake or base.startswith(snake + "_")) and len(snake) > len(best):
            best = snake
            found = schema.name
    return found


def zoo_cases(cache: Path) -> tuple[list[Case], list[str]]:
    """The installed zoo ONNX models with seeded inputs and onnxruntime's outputs; and the ones ORT cannot run."""
    import onnx
    import onnxruntime as ort
    import zoo

    from edgekit.core.shapes import ShapeRequest, resolve_shapes
    from edgekit.host.onnx.graph import fix_input_shapes, graph_inputs

    cases, skipped = [], []
    for mid in zoo.available():
        spec = zoo.spec(mid)
        if spec.format != "onnx":
            continue
        path = zoo.locate(mid)
        sha = spec.sha256[:16]
        folder = cache / "zoo" / mid
        data = folder / "data.npz"
        shapes = ZOO_SHAPES.get(mid, {})
        if not data.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            model = onnx.load(str(path))
            inputs = graph_inputs(model)
            resolved, _ = resolve_shapes(inputs, ShapeRequest.from_texts(tuple(f"{k}={v}" for k, v in shapes.items()),
                                                                         None))
            fixed = {r.name: r.shape for r in resolved}
            rng = np.random.default_rng(0)
            feeds: dict[str, np.ndarray] = {}
            low, high = ZOO_RANGES.get(mid, (-1.0, 1.0))
            for inp in inputs:
                shape = fixed[inp.name]
                if inp.name == "sr":
                    feeds[inp.name] = np.array(16000, np.int64).reshape(shape)
                elif inp.dtype.startswith("int"):
                    feeds[inp.name] = rng.integers(0, 256, shape).astype(inp.dtype)
                elif inp.name in ("state", "h", "c", "h0", "c0"):
                    feeds[inp.name] = (rng.standard_normal(shape) * 0.1).astype(inp.dtype)
                else:
                    feeds[inp.name] = rng.uniform(low, high, shape).astype(inp.dtype)
            try:
                try:
                    session = ort.InferenceSession(fix_input_shapes(model, fixed).SerializeToString(),
                                                   providers=["CPUExecutionProvider"])
                except Exception:  # fixed dims that contradict a branch (Silero v6's 8 kHz branch): as given
                    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
                outs = session.run(None, feeds)
            except Exception as exc:
                (folder / "skip.txt").write_text(" ".join(str(exc).split())[:300])
                skipped.append(f"{mid}: onnxruntime cannot run it ({' '.join(str(exc).split())[:160]})")
                continue
            arrays = {f"in:{k}": v for k, v in feeds.items()}
            for out, value in zip(session.get_outputs(), outs, strict=True):
                arrays[f"out:{out.name}"] = np.asarray(value)
            np.savez(data, **arrays)  # type: ignore[arg-type]
        elif (folder / "skip.txt").is_file():
            skipped.append(f"{mid}: onnxruntime cannot run it ({(folder / 'skip.txt').read_text()[:160]})")
            continue
        cases.append(Case(mid, "zoo", mid, str(path), str(data), shapes, sha))
    return cases, skipped


# ---------------------------------------------------------------- judging


def close(want: np.ndarray, got: np.ndarray, zoo: bool) -> tuple[bool, float]:
    """(passes, max abs error) under the matrix's criterion (module docstring)."""
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    if want.shape != got.shape:
        return False, float("inf")
    if want.size == 0:
        return True, 0.0
    same = (np.isnan(want) & np.isnan(got)) | (np.isinf(want) & (want == got))
    diff = np.where(same, 0.0, np.abs(want - got))
    err = float(np.max(diff)) if np.all(np.isfinite(diff)) else float("inf")
    finite = want[np.isfinite(want)]
    peak = float(np.max(np.abs(finite))) if finite.size else 0.0
    if err <= 1e-4 + 1e-3 * peak:
        return True, err
    if zoo and np.isfinite(err):
        span = float(np.ptp(finite)) if finite.size else 0.0
        a, b = want.reshape(-1), got.reshape(-1)
        cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))) if np.linalg.norm(a) and np.linalg.norm(
            b) else 0.0
        if cos >= 0.9999 or err <= 1e-4 * span:
            return True, err
    return False, err


def _perms(onnx_shape: tuple[int, ...], tfl_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    from itertools import permutations

    if len(onnx_shape) != len(tfl_shape):
        return []
    identity = tuple(range(len(onnx_shape)))
    last = (0, *range(2, len(onnx_shape)), 1) if len(onnx_shape) >= 3 else identity
    found = []
    for p in [last, identity, *permutations(range(len(onnx_shape)))] if len(onnx_shape) <= 5 else [identity]:
        if p not in found and tuple(onnx_shape[i] for i in p) == tuple(tfl_shape):
            found.append(tuple(p))
    return found


def judge_any_layout(tflite: Path, inputs: list[tuple[str, np.ndarray]], truths: list[tuple[str, np.ndarray]],
                     zoo: bool) -> tuple[bool, float | None, str]:
    """Run a .tflite (I/O matched by order), trying every layout permutation that fits; pass if one matches."""
    from itertools import islice, product

    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    ins = sorted(interp.get_input_details(), key=lambda d: d["index"])
    outs = sorted(interp.get_output_details(), key=lambda d: d["index"])
    if len(ins) != len(inputs) or len(outs) != len(truths):
        return False, None, f"{len(ins)} inputs/{len(outs)} outputs, the model has {len(inputs)}/{len(truths)}"
    names = [d["name"] for d in ins]
    ordered = _match_by_name(names, inputs)
    choices = [_perms(a.shape, tuple(d["shape"])) for d, (_, a) in zip(ins, ordered, strict=True)]
    if any(not c for c in choices):
        return False, None, "input shapes are not a permutation of the ONNX shapes"
    out_names = [d["name"] for d in outs]
    truths = _match_by_name(out_names, truths)
    best_err: float | None = None
    for combo in islice(product(*choices), 32):
        for d, (_, a), p in zip(ins, ordered, combo, strict=True):
            interp.set_tensor(d["index"], np.ascontiguousarray(np.transpose(a, p).astype(d["dtype"])))
        interp.invoke()
        ok_all, worst = True, 0.0
        for d, (_, want) in zip(outs, truths, strict=True):
            got = interp.get_tensor(d["index"])
            results = [close(np.transpose(want, p), got, zoo) for p in _perms(want.shape, tuple(got.shape))]
            if not results:
                ok_all, worst = False, float("inf")
                continue
            ok = any(r[0] for r in results)
            err = min(r[1] for r in results)
            ok_all &= ok
            worst = max(worst, err)
        if best_err is None or worst < best_err:
            best_err = worst
        if ok_all:
            return True, worst, ""
    return False, best_err, "outputs differ under every layout that fits"


def _match_by_name(names: list[str], items: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Order ``items`` like the tflite tensors when the names say so, else keep the ONNX order."""
    from edgekit.host.onnx.keys import signature_key

    def norm(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    keyed = {norm(signature_key(n)): (n, a) for n, a in items}
    picked = []
    for name in names:
        base = norm(name.split(":")[0].replace("serving_default_", ""))
        if base in keyed:
            picked.append(keyed[base])
    return picked if len(picked) == len(items) else items


# ---------------------------------------------------------------- the two tools (inside a worker process)


def _op_types(path: str) -> set[str]:
    import onnx

    model = onnx.load(path, load_external_data=False)
    return {n.op_type for n in model.graph.node} | {n.domain + "." + n.op_type for n in model.graph.node}


def run_edgekit(case: Case, work: Path) -> Outcome:
    from edgekit.core.quant import QuantizeMode
    from edgekit.core.shapes import ShapeRequest
    from edgekit.errors import EdgekitError
    from edgekit.host.convert.config import ConvertConfig
    from edgekit.host.convert.pipeline import run_convert
    from edgekit.host.source_model import LoadOptions

    data = np.load(case.data)
    inputs = [(k[3:], data[k]) for k in data.files if k.startswith("in:")]
    truths = [(k[4:], data[k]) for k in data.files if k.startswith("out:")]
    calib = work / "calibration.npz"
    np.savez(calib, **{name: value[None] for name, value in inputs})
    out = work / "edgekit.tflite"
    t0 = time.perf_counter()
    try:
        config = ConvertConfig(
            model=Path(case.model), output=out, quantize=QuantizeMode.NONE, calibration=calib,
            load=LoadOptions(shapes=ShapeRequest.from_texts(tuple(f"{k}={v}" for k, v in case.shapes.items()), None),
                             check_data=calib, in_process=True, preload_tensorflow=False),
            golden_samples=1, force=True,
        )
        result = run_convert(config)
    except EdgekitError as exc:
        message = f"{exc.message} | {exc.hint}"
        named = any(op in exc.message for op in _op_types(case.model))
        return Outcome(case.id, "edgekit", "refused", exc.exit_code, named, message[:600], None,
                       time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a crash is an outcome of the matrix
        return Outcome(case.id, "edgekit", "crash", None, False, f"{type(exc).__name__}: {exc}"[:600], None,
                       time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    backend = (result.source.conversion or {}).get("backend")
    ok, err, why = judge_recorded_layout(out, result, inputs, truths, case.suite == "zoo")
    return Outcome(case.id, "edgekit", "pass" if ok else "mismatch", 0, False, why, backend, seconds, err)


def judge_recorded_layout(tflite: Path, result: Any, inputs: list[tuple[str, np.ndarray]],
                          truths: list[tuple[str, np.ndarray]], zoo: bool) -> tuple[bool, float | None, str]:
    """Run edgekit's .tflite with exactly the permutations edgekit recorded (no guessing)."""
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.host.onnx.keys import signature_key

    specs = {s.name: s for s in [*result.source.inputs, *result.source.outputs]}
    runner = Interpreter(model_path=str(tflite)).get_signature_runner("serving_default")
    feeds = {}
    for name, value in inputs:
        if name not in specs:  # an input edgekit fixed from the data (it sets a shape): not in the .tflite
            continue
        perm = specs[name].to_tflite_perm
        feeds[signature_key(name)] = np.ascontiguousarray(value if perm is None else np.transpose(value, perm))
    details = runner.get_input_details()
    feeds = {k: v.astype(details[k]["dtype"]) for k, v in feeds.items() if k in details}
    got = runner(**feeds)
    worst = 0.0
    for name, want in truths:
        perm = specs[name].to_tflite_perm
        ok, err = close(want if perm is None else np.transpose(want, perm), got[signature_key(name)], zoo)
        worst = max(worst, err)
        if not ok:
            return False, worst, f"output '{name}' differs by {err:.3g}"
    return True, worst, ""


def run_onnx2tf(case: Case, work: Path) -> Outcome:
    import onnx
    import onnx2tf

    from edgekit.core.shapes import ShapeRequest, resolve_shapes
    from edgekit.host.onnx.graph import fix_input_shapes, graph_inputs

    data = np.load(case.data)
    inputs = [(k[3:], data[k]) for k in data.files if k.startswith("in:")]
    truths = [(k[4:], data[k]) for k in data.files if k.startswith("out:")]
    model_path = work / "model.onnx"  # onnx2tf rewrites its input file in place (sng4onnx names the nodes)
    model_path.write_bytes(Path(case.model).read_bytes())
    if case.suite == "zoo":  # the same static input shapes edgekit gets (onnx2tf's overwrite_input_shape needs onnxsim)
        model = onnx.load(str(case.model))
        resolved, _ = resolve_shapes(graph_inputs(model), ShapeRequest.from_texts(
            tuple(f"{k}={v}" for k, v in case.shapes.items()), None))
        fixed = fix_input_shapes(model, {r.name: r.shape for r in resolved})
        model_path = work / "static.onnx"
        onnx.save(fixed, str(model_path))
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy",
            np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
    out_dir = work / "onnx2tf_out"
    t0 = time.perf_counter()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        onnx2tf.convert(input_onnx_file_path=str(model_path), output_folder_path=str(out_dir), non_verbose=True,
                        not_use_onnxsim=case.suite == "node")
    except SystemExit as exc:
        return Outcome(case.id, "onnx2tf", "refused", 1, False, f"onnx2tf exited ({exc.code})", None,
                       time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001
        return Outcome(case.id, "onnx2tf", "refused", 1, False, f"{type(exc).__name__}: {exc}"[:600], None,
                       time.perf_counter() - t0)
    finally:
        os.chdir(cwd)
    seconds = time.perf_counter() - t0
    files = sorted(out_dir.glob("*_float32.tflite"))
    if not files:
        return Outcome(case.id, "onnx2tf", "refused", 1, False, "no float32 .tflite written", None, seconds)
    try:
        ok, err, why = judge_any_layout(files[0], inputs, truths, case.suite == "zoo")
    except Exception as exc:  # noqa: BLE001 - the .tflite does not run
        return Outcome(case.id, "onnx2tf", "mismatch", 0, False, f"does not run: {exc}"[:300], None, seconds)
    return Outcome(case.id, "onnx2tf", "pass" if ok else "mismatch", 0, False, why, None, seconds, err)


def worker_main() -> int:
    """Read one JSON request per line ({case, tool, work}), answer one JSON outcome per line."""
    import logging
    import shutil
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    from edgekit.host.onnx.worker import install_network_guard

    install_network_guard()
    logging.disable(logging.WARNING)
    real_stdout = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # onnx2tf and TF print; the protocol owns the real stdout
    for line in sys.stdin:
        request = json.loads(line)
        case = Case(**request["case"])
        work = Path(tempfile.mkdtemp(prefix=f"matrix-{request['tool']}-"))
        try:
            fn = run_edgekit if request["tool"] == "edgekit" else run_onnx2tf
            outcome = fn(case, work)
        except BaseException as exc:  # noqa: BLE001
            outcome = Outcome(case.id, request["tool"], "crash", None, False, f"{type(exc).__name__}: {exc}"[:600],
                              None, 0.0)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        real_stdout.write(json.dumps(asdict(outcome)) + "\n")
        real_stdout.flush()
    return 0


# ---------------------------------------------------------------- the pool (parent)


def code_key() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "edgekit").rglob("*.py")):
        if "onnx" in path.parts or path.parent.name in ("convert", "core"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def tool_key(tool: str) -> str:
    if tool == "edgekit":
        return f"edgekit-{code_key()}"
    import importlib.metadata

    return f"onnx2tf-{importlib.metadata.version('onnx2tf')}"


class Pool:
    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.procs: list[subprocess.Popen[str] | None] = [None] * jobs

    def _start(self, k: int) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        proc = subprocess.Popen([sys.executable, "-P", str(Path(__file__).resolve()), "--worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                                preexec_fn=lambda: os.nice(5))  # noqa: PLW1509 - a little below other jobs on a shared machine
        self.procs[k] = proc
        return proc

    def run(self, todo: list[tuple[Case, str]], done: Any) -> None:
        queue = list(todo)
        busy: dict[int, tuple[Case, str, float]] = {}
        while queue or busy:
            for k in range(self.jobs):
                if k not in busy and queue:
                    proc = self.procs[k]
                    if proc is None or proc.poll() is not None:
                        proc = self._start(k)
                    case, tool = queue.pop(0)
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps({"case": asdict(case), "tool": tool}) + "\n")
                    proc.stdin.flush()
                    busy[k] = (case, tool, time.monotonic())
            streams: dict[Any, int] = {}
            for k in busy:
                proc = self.procs[k]
                if proc is not None and proc.stdout is not None:
                    streams[proc.stdout] = k
            ready, _, _ = select.select(list(streams), [], [], 5.0)
            for stream in ready:
                k = streams[stream]
                line = stream.readline() if stream is not None else ""
                case, tool, _ = busy.pop(k)
                if line:
                    done(Outcome(**json.loads(line)))
                else:  # the worker died on this case
                    done(Outcome(case.id, tool, "crash", None, False, "the worker process died", None, 0.0))
                    self.procs[k] = None
            for k, (case, tool, started) in list(busy.items()):
                limit = TIMEOUT_S[case.suite]
                if time.monotonic() - started > limit:
                    proc = self.procs[k]
                    if proc is not None:
                        proc.kill()
                    self.procs[k] = None
                    busy.pop(k)
                    done(Outcome(case.id, tool, "crash", None, False, f"timed out after {limit:.0f} s", None, limit))

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=30)


# ---------------------------------------------------------------- report


def tables(cases: list[Case], results: dict[tuple[str, str], Outcome], skipped: list[str]) -> str:
    lines: list[str] = []
    for suite in ("node", "zoo"):
        chosen = [c for c in cases if c.suite == suite]
        if not chosen:
            continue
        totals = {t: Counter(results[(c.id, t)].outcome for c in chosen if (c.id, t) in results)
                  for t in ("edgekit", "onnx2tf")}
        named = sum(1 for c in chosen if (c.id, "edgekit") in results and results[(c.id, "edgekit")].named)
        lines.append(f"### {'ONNX node test suite' if suite == 'node' else 'Real pretrained models (zoo)'}: "
                     f"{len(chosen)} cases")
        lines.append("")
        lines.append("| tool | pass | refused (exit 2/3) | silent mismatch | crash | pass rate |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for tool, counts in totals.items():
            n = sum(counts.values())
            refused = f"{counts['refused']}" + (f" ({named} name the op)" if tool == "edgekit" else "")
            rate = f"{100 * counts['pass'] / n:.1f}%" if n else "-"
            lines.append(f"| {tool} | {counts['pass']} | {refused} | {counts['mismatch']} | {counts['crash']} | "
                         f"{rate} |")
        backends = Counter(results[(c.id, "edgekit")].backend for c in chosen
                           if (c.id, "edgekit") in results and results[(c.id, "edgekit")].outcome == "pass")
        lines.append("")
        lines.append("edgekit passes by backend: " + ", ".join(f"{b}: {n}" for b, n in backends.most_common()))
        lines.append("")
        if suite == "node":
            lines.extend(_per_op(chosen, results))
        else:
            lines.extend(_per_model(chosen, results))
            if skipped:
                lines.append("")
                lines.append("Not in the matrix (onnxruntime itself cannot run them): " + "; ".join(skipped))
        lines.append("")
    return "\n".join(lines)


SYMBOL = {"pass": "✅", "refused": "⛔", "mismatch": "❌", "crash": "💥"}


def _per_op(chosen: list[Case], results: dict[tuple[str, str], Outcome]) -> list[str]:
    by_op: dict[str, list[Case]] = defaultdict(list)
    for c in chosen:
        by_op[c.op].append(c)
    lines = ["| op | cases | edgekit pass | onnx2tf pass | edgekit not passing (outcome: case) |",
             "|---|---:|---:|---:|---|"]
    for op in sorted(by_op):
        group = by_op[op]
        ek = [results.get((c.id, "edgekit")) for c in group]
        o2 = [results.get((c.id, "onnx2tf")) for c in group]
        ek_pass = sum(1 for r in ek if r is not None and r.outcome == "pass")
        o2_pass = sum(1 for r in o2 if r is not None and r.outcome == "pass")
        bad = [f"{SYMBOL.get(r.outcome, '?')} {c.id}" for c, r in zip(group, ek, strict=True)
               if r is not None and r.outcome != "pass"]
        lines.append(f"| {op} | {len(group)} | {ek_pass} | {o2_pass} | {'; '.join(bad[:6])}"
                     f"{' …' if len(bad) > 6 else ''} |")
    return lines


def _per_model(chosen: list[Case], results: dict[tuple[str, str], Outcome]) -> list[str]:
    lines = ["| model | edgekit | backend | max abs error | s | onnx2tf (bare) | edgekit's message when it refuses |",
             "|---|---|---|---:|---:|---|---|"]
    for c in chosen:
        ek, o2 = results.get((c.id, "edgekit")), results.get((c.id, "onnx2tf"))
        if ek is None:
            continue
        err = "-" if ek.error is None else f"{ek.error:.2g}"
        o2_text = "-" if o2 is None else f"{SYMBOL.get(o2.outcome, '?')} {o2.outcome}"
        msg = ek.message.split(" | ")[0][:160] if ek.outcome != "pass" else ""
        lines.append(f"| {c.id} | {SYMBOL.get(ek.outcome, '?')} {ek.outcome} | {ek.backend or '-'} | {err} | "
                     f"{ek.seconds:.0f} | {o2_text} | {msg} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--suite", default="node,zoo")
    parser.add_argument("--ops", default="", help="only node cases of these ops (comma-separated)")
    parser.add_argument("--cases", default="", help="only these case ids (comma-separated)")
    parser.add_argument("--limit", type=int, default=0, help="at most N cases per suite (seeded sample)")
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
    todo.sort(key=lambda ct: ct[0].suite == "zoo")  # the small node cases first
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
