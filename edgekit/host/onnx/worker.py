"""The conversion worker: ``python -m edgekit.host.onnx.worker REQUEST.json`` (onnx2tf, or edgekit's lowering).

:mod:`edgekit.host.onnx.load` starts this program as a subprocess (never
through a shell) with its working directory set to a private temporary
directory. Running onnx2tf out of process is deliberate:

* onnx2tf reads ``calibration_image_sample_data_20x128x128x3_float32.npy`` from
  the *current working directory* and downloads it when it is missing; a
  subprocess gets its own cwd (``os.chdir`` in-process would move every thread
  of the caller), and the loader puts that file there first;
* onnx2tf calls ``sys.exit(1)`` on many errors and prints a few hundred lines
  of log; here both are captured and condensed by the parent;
* before anything is imported, this process disables every outbound network
  connection (:func:`install_network_guard`), so a code path that tries to
  download something fails loudly instead of fetching data.

The worker simplifies the ONNX graph once with onnxsim *in process* (onnx2tf's
own simplification starts the ``onnxsim`` program three times, which cost 35 s
on a 5-op model here, so it is disabled with ``not_use_onnxsim``), converts it
with onnx2tf to a tf_keras model, writes a float SavedModel whose signature
keys are the ONNX input/output names, converts that SavedModel to a float
TFLite model with ``TFLiteConverter.from_saved_model`` (what edgekit's
converter reads) for the parent's check, and writes ``result.json``. With ``"backend": "lower"`` in the request it runs
edgekit's own lowering instead (:mod:`edgekit.host.onnx.lower.convert`), in the
same guarded process.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from edgekit.host.onnx.keys import signature_key

NETWORK_BLOCKED = "edgekit blocked a network connection"


def install_network_guard() -> None:
    """Make every outbound connection in this process raise OSError."""

    def _blocked(*args: Any, **kwargs: Any) -> Any:
        raise OSError(f"{NETWORK_BLOCKED} (edgekit never downloads anything): {args[1:] if args else ''}")

    socket.socket.connect = _blocked  # type: ignore[method-assign]
    socket.socket.connect_ex = _blocked  # type: ignore[method-assign]
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked


def _simplify(onnx_path: Path, log: list[str]) -> str:
    import onnx
    import onnxsim

    model = onnx.load(str(onnx_path))
    try:
        simplified, ok = onnxsim.simplify(model)
    except Exception as exc:  # onnxsim is an optimisation, never a reason to fail
        log.append(f"onnxsim failed, converting the unsimplified graph: {type(exc).__name__}: {exc}")
        return f"failed ({type(exc).__name__})"
    if not ok:
        log.append("onnxsim could not validate its result, converting the unsimplified graph")
        return "not validated (unsimplified graph used)"
    onnx.save(simplified, str(onnx_path))
    return f"onnxsim {getattr(onnxsim, '__version__', '?')}"


def _tensor_info(tensor: Any) -> dict[str, Any]:
    return {
        "shape": [(-1 if d is None else int(d)) for d in tensor.shape],
        "dtype": tensor.dtype.name,
    }


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Convert one ONNX file; returns the result dict (raises on failure)."""
    log: list[str] = []
    timings: dict[str, float] = {}
    onnx_path = Path(request["onnx"])
    out_dir = Path(request["out_dir"])
    t0 = time.perf_counter()
    import onnx2tf
    import tensorflow as tf
    import tf_keras

    timings["import_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    simplifier = _simplify(onnx_path, log) if request.get("simplify", True) else "disabled (--no-onnxsim)"
    timings["onnxsim_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    keep_nchw = list(request.get("keep_nchw") or []) or None
    model = onnx2tf.convert(
        input_onnx_file_path=str(onnx_path),
        output_folder_path=str(out_dir / "onnx2tf"),
        not_use_onnxsim=True,
        keep_ncw_or_nchw_or_ncdhw_input_names=keep_nchw,
        disable_model_save=True,
        verbosity="debug" if request.get("debug") else "info",
    )
    timings["onnx2tf_s"] = time.perf_counter() - t0
    if model is None:
        raise RuntimeError("onnx2tf returned no model")

    input_names: list[str] = list(request["input_names"])
    output_names: list[str] = list(request["output_names"])
    if len(model.inputs) != len(input_names) or len(model.outputs) != len(output_names):
        raise RuntimeError(
            f"onnx2tf made a model with {len(model.inputs)} inputs/{len(model.outputs)} outputs, "
            f"the ONNX model has {len(input_names)}/{len(output_names)}"
        )
    in_keys = [signature_key(n) for n in input_names]
    out_keys = [signature_key(n) for n in output_names]

    def serve(*inputs: Any) -> dict[str, Any]:
        outputs = model(list(inputs))
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        return {key: out for key, out in zip(out_keys, outputs, strict=True)}

    t0 = time.perf_counter()
    saved_model_dir = out_dir / "saved_model"
    archive = tf_keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=serve,
        input_signature=[tf.TensorSpec(t.shape, t.dtype, key) for t, key in zip(model.inputs, in_keys, strict=True)],
    )
    archive.write_out(str(saved_model_dir))
    timings["saved_model_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    float_tflite = out_dir / "float.tflite"
    float_tflite.write_bytes(converter.convert())
    timings["float_tflite_s"] = time.perf_counter() - t0

    return {
        "ok": True,
        "saved_model_dir": str(saved_model_dir),
        "float_tflite": str(float_tflite),
        "inputs": [{"onnx_name": n, "key": k, **_tensor_info(t)} for n, k, t in zip(input_names, in_keys, model.inputs, strict=True)],
        "outputs": [{"onnx_name": n, "key": k, **_tensor_info(t)} for n, k, t in zip(output_names, out_keys, model.outputs, strict=True)],
        "simplifier": simplifier,
        "notes": log,
        "timings": timings,
        "versions": {"onnx2tf": getattr(onnx2tf, "__version__", "?"), "tensorflow": tf.__version__},
    }


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """Run the requested backend; a result dict, never an exception (the parent reads ``ok``)."""
    backend = request.get("backend", "onnx2tf")
    try:
        if backend == "lower":
            from edgekit.host.onnx.lower.base import Unsupported
            from edgekit.host.onnx.lower.convert import run as run_lower

            try:
                return run_lower(request)
            except Unsupported as exc:
                return {"ok": False, "error": str(exc), "op": exc.op, "node": exc.node, "reason": exc.reason,
                        "traceback": traceback.format_exc()}
        return run(request)
    except SystemExit as exc:  # onnx2tf exits on many of its errors
        return {"ok": False, "error": f"{backend} stopped (exit status {exc.code})", "traceback": ""}
    except BaseException as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def main(argv: list[str]) -> int:
    install_network_guard()
    request_path = Path(argv[1])
    request = json.loads(request_path.read_text())
    result_path = Path(request["out_dir"]) / "result.json"
    result = execute(request)
    result_path.write_text(json.dumps(result, indent=1))
    sys.stdout.flush()
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
