"""The two tools under test, run inside a worker process: edgekit's convert and bare onnx2tf."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from onnx_matrix.cases import Case, Outcome
from onnx_matrix.judge import judge_any_layout, judge_recorded_layout


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
    # node cases convert in this process (hundreds of one-op graphs); a zoo model in the guarded worker process
    # `edgekit convert` uses, so a backend that runs away with the memory is stopped and the next one tried
    # (onnx2tf took 23 GB on vfl-mask-int8's 150 unrolled LSTM steps)
    try:
        config = ConvertConfig(
            model=Path(case.model), output=out, quantize=QuantizeMode.NONE, calibration=calib,
            load=LoadOptions(shapes=ShapeRequest.from_texts(tuple(f"{k}={v}" for k, v in case.shapes.items()), None),
                             check_data=calib, in_process=case.suite != "zoo", preload_tensorflow=False),
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

