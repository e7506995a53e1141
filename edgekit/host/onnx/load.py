"""ONNX models in: validate, fix symbolic dims, convert with onnx2tf offline, check against onnxruntime.

:func:`load_onnx` is the loader registered for :attr:`SourceFormat.ONNX`. It

1. validates the file (not ONNX, missing external data, opset newer than the
   installed onnx, checker errors, onnxruntime refusing it) -> exit 2;
2. fixes every symbolic input dimension from ``--input-shape NAME=1,3,224,224``
   (a symbolic batch alone defaults to ``--batch`` or 1, and says so); when a
   symbolic dimension is left, the error lists the inputs and their shapes;
3. copies the fixed graph into a private temporary directory (onnx2tf rewrites
   its input file in place), writes the calibration sample file onnx2tf would
   otherwise download there, and runs :mod:`edgekit.host.onnx.worker` as a
   subprocess in that directory (never through a shell; network disabled
   inside; the venv's ``bin`` first on PATH);
4. reads the converted shapes and derives, per input and output, the
   permutation between the ONNX tensor and the TFLite tensor;
5. runs onnxruntime and the float TFLite model on a few inputs and refuses
   (:class:`BackendError`, exit 3) when they differ (:mod:`.check`).

The returned :class:`SourceModel` has ``saved_model_dir`` (float SavedModel
whose signature keys are the ONNX tensor names, see
:func:`~edgekit.host.onnx.worker.signature_key`) and ``run`` =
onnxruntime on inputs in the ONNX layout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.progress import status
from edgekit.core.shapes import InputDims, resolve_shapes
from edgekit.core.source import SourceFormat, TensorSpec
from edgekit.deps import require
from edgekit.errors import BackendError, ModelFormatError, UsageError
from edgekit.host.onnx.graph import (
    candidate_perms,
    dtype_of,
    fix_input_shapes,
    graph_inputs,
    one_line,
    read_onnx,
)
from edgekit.host.onnx.reference import OrtRunner, make_reference_runner
from edgekit.host.source_model import LoadOptions, SourceModel

CALIBRATION_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"

CALIBRATION_SAMPLE_SHAPE = (20, 128, 128, 3)

CHECK_DATA_SAMPLES = 20  # samples of the user's data read for the check and onnx2tf's sample file



def _calibration_sample(inputs: Sequence[InputDims], options: LoadOptions) -> np.ndarray:
    """onnx2tf's (20, 128, 128, 3) float32 sample: the user's images when they have 3 channels, else noise."""
    rng = np.random.default_rng(0)
    sample = rng.random(CALIBRATION_SAMPLE_SHAPE, dtype=np.float32)
    data = options.check_inputs or {}
    if len(inputs) == 1 and inputs[0].name in data:
        arr = np.asarray(data[inputs[0].name], dtype=np.float32)
        if arr.ndim == 5 and arr.shape[2] == 3 and inputs[0].name not in options.keep_nchw:
            arr = np.transpose(arr, (0, 1, 3, 4, 2))
        if arr.ndim == 5 and arr.shape[-1] == 3:
            images = arr.reshape((-1, *arr.shape[2:]))
            rows = np.linspace(0, images.shape[1] - 1, 128).astype(int)
            cols = np.linspace(0, images.shape[2] - 1, 128).astype(int)
            resized = images[:, rows][:, :, cols]
            idx = np.arange(20) % resized.shape[0]
            sample = np.ascontiguousarray(resized[idx], dtype=np.float32)
    return sample



def _read_check_data(inputs: Sequence[InputDims], shapes: Mapping[str, tuple[int, ...]],
                     opts: LoadOptions) -> dict[str, np.ndarray]:
    """A few samples of the user's data in the ONNX layout, read BEFORE the slow conversion (bad data fails fast)."""
    from edgekit.data import load_samples

    specs = [TensorSpec(name=i.name, shape=shapes[i.name], dtype=i.dtype) for i in inputs]
    arrays, _ = load_samples(opts.check_data, specs, opts.check_recipe, CHECK_DATA_SAMPLES, progress_label=None)
    return arrays



def _runner_env() -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # onnx2tf/onnxsim programs from this venv
    package_root = str(Path(__file__).resolve().parents[3])  # the folder that holds edgekit/
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["CUDA_VISIBLE_DEVICES"] = "-1"
    env["PYTHONUNBUFFERED"] = "1"
    return env



def _preload_tensorflow() -> threading.Thread | None:
    """Import TensorFlow in a thread while the worker converts: the next stage (quantize) needs it anyway,
    and this process is idle meanwhile (saves most of one TF import on the wall clock)."""
    if "tensorflow" in sys.modules:
        return None

    def target() -> None:
        try:
            require("tensorflow", "Converting to TFLite")
        except Exception:  # the stage that needs it reports the problem
            pass

    thread = threading.Thread(target=target, name="edgekit-preload-tensorflow", daemon=True)
    thread.start()
    return thread



def summarize_log(log: str, error: str) -> str:
    """onnx2tf's reason in one paragraph: its ERROR lines and the final exception, deduplicated."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in log.splitlines()]
    picked: list[str] = []
    for i, line in enumerate(lines):
        if "ERROR" in line or "not yet implemented" in line or "Error:" in line:
            text = re.sub(r"^.*?ERROR:\s*", "", line)
            if "Traceback" in text or not text or set(text) <= set("=-"):
                continue
            if text.startswith(("onnx_op_type", "onnx_op_name", "Read this and deal with it")) and picked:
                text = text.split("Read this")[0].strip()
            if text and text not in picked:
                picked.append(text)
        elif line.startswith(("onnx_op_type:", "onnx_op_name:")) and i and line not in picked:
            picked.append(line)
    if error and not any(error in p for p in picked):
        picked.append(error)
    return one_line(" ".join(picked), 600)



def run_onnx2tf(onnx_path: Path, work_dir: Path, input_names: list[str], output_names: list[str],
                options: LoadOptions, model_name: str) -> dict[str, Any]:
    """Run the worker subprocess in ``work_dir``; its result dict or a BackendError with onnx2tf's reason."""
    request = {
        "onnx": str(onnx_path), "out_dir": str(work_dir), "input_names": input_names, "output_names": output_names,
        "keep_nchw": list(options.keep_nchw), "simplify": options.onnxsim, "debug": options.debug,
    }
    request_path = work_dir / "request.json"
    request_path.write_text(json.dumps(request))
    cmd = [sys.executable, "-P", "-m", "edgekit.host.onnx.worker", str(request_path)]  # -P: not the cwd's edgekit
    status(f"Converting {model_name} with onnx2tf (offline, in {work_dir}); this takes 10-60 s...")
    preload = _preload_tensorflow() if options.preload_tensorflow else None
    try:
        proc = subprocess.run(cmd, cwd=work_dir, env=_runner_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=options.timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        if preload is not None:
            preload.join()
        raise BackendError(f"onnx2tf did not finish converting {model_name} within {options.timeout_s:.0f} s.",
                           hint="Simplify the model or convert it on a faster machine.") from exc
    log = proc.stdout.decode("utf-8", errors="replace")
    (work_dir / "onnx2tf.log").write_text(log)
    if options.debug:
        sys.stderr.write(log)
    result_path = work_dir / "result.json"
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.is_file() else {}
    if proc.returncode != 0 or not result.get("ok"):
        if preload is not None:
            preload.join()  # never leave an import half-done in a thread when the command exits
        error = str(result.get("error") or f"the onnx2tf worker exited with status {proc.returncode}")
        if options.debug and result.get("traceback"):
            sys.stderr.write(str(result["traceback"]))
        reason = summarize_log(log, error)
        raise BackendError(
            f"onnx2tf could not convert {model_name}: {reason}",
            hint="Run with `edgekit --debug convert ...` for onnx2tf's full log; an unsupported op can often be "
                 "replaced at export time (or the model re-exported with opset 17).",
        )
    return result



def load_onnx(path: Path, options: LoadOptions | None = None) -> SourceModel:
    """Load, convert (onnx2tf, offline) and check an ONNX model; see the module docstring."""
    opts = options or LoadOptions()
    path = Path(path)
    model = read_onnx(path)
    inputs = graph_inputs(model)
    if not inputs:
        raise ModelFormatError(f"{path.name} has no inputs.", hint="Export the model with its real inputs.")
    unknown_keep = sorted(set(opts.keep_nchw) - {i.name for i in inputs})
    if unknown_keep:
        raise UsageError(f"--keep-nchw names {', '.join(unknown_keep)}, which the model does not have.",
                         hint=f"Use one of the input names: {', '.join(i.name for i in inputs)}.")
    resolved, notes = resolve_shapes(inputs, opts.shapes)
    shapes = {r.name: r.shape for r in resolved}
    if opts.check_data is not None and opts.check_inputs is None:
        opts = replace(opts, check_inputs=_read_check_data(inputs, shapes, opts))
    fixed = fix_input_shapes(model, shapes, notes)
    onnx = require("onnx", "Reading ONNX models")
    fixed_bytes = fixed.SerializeToString() if fixed.ByteSize() < 2**31 - 2**20 else None
    work_dir = Path(tempfile.mkdtemp(prefix="edgekit-onnx-"))

    def cleanup() -> None:
        shutil.rmtree(work_dir, ignore_errors=True)

    try:
        onnx_path = work_dir / "model.onnx"
        if fixed_bytes is not None:
            onnx_path.write_bytes(fixed_bytes)
        else:
            onnx.save(fixed, str(onnx_path), save_as_external_data=True, location="model.onnx.data")
        session, output_names = make_reference_runner(fixed_bytes if fixed_bytes is not None else str(onnx_path),
                                                      path.name)
        np.save(work_dir / CALIBRATION_SAMPLE_FILE, _calibration_sample(inputs, opts))
        result = run_onnx2tf(onnx_path, work_dir, [i.name for i in inputs], output_names, opts, path.name)
        reference = OrtRunner(session, output_names)
        source = _build_source(path, inputs, shapes, output_names, fixed, result, reference, opts, notes)
    except BaseException:
        cleanup()
        raise
    source.cleanup = cleanup
    return source



def _build_source(path: Path, inputs: Sequence[InputDims], shapes: Mapping[str, tuple[int, ...]],
                  output_names: list[str], fixed: Any, result: dict[str, Any], reference: OrtRunner,
                  opts: LoadOptions, notes: list[str]) -> SourceModel:
    from edgekit.host.onnx.check import check_conversion

    in_specs_raw = []
    for inp, converted in zip(inputs, result["inputs"], strict=True):
        shape = shapes[inp.name]
        perms = candidate_perms(shape, converted["shape"], inp.name in opts.keep_nchw)
        if not perms:
            raise BackendError(
                f"onnx2tf turned input '{inp.name}' {list(shape)} into {converted['shape']}, which is not a transpose of it.",
                hint="Fix the input shape with --input-shape, or keep the layout with --keep-nchw INPUT.",
            )
        in_specs_raw.append((inp, shape, perms))
    out_shapes: dict[str, tuple[int, ...]] = {}
    ref_out = reference({inp.name: np.zeros(shape, dtype=np.dtype(inp.dtype)) for inp, shape, _ in in_specs_raw})
    for name in output_names:
        out_shapes[name] = tuple(int(d) for d in ref_out[name].shape)
    out_perms: dict[str, list[tuple[int, ...]]] = {}
    for name, converted in zip(output_names, result["outputs"], strict=True):
        perms = candidate_perms(out_shapes[name], converted["shape"], channel_first_kept=False)
        if not perms:
            raise BackendError(
                f"onnx2tf turned output '{name}' {list(out_shapes[name])} into {converted['shape']}, which is not a transpose of it.",
                hint="Run with --debug for onnx2tf's log; re-export the model with static shapes.",
            )
        out_perms[name] = perms
    in_perms = {inp.name: perms for inp, _, perms in in_specs_raw}
    dtypes = {inp.name: inp.dtype for inp in inputs}
    keys = {d["onnx_name"]: d["key"] for d in [*result["inputs"], *result["outputs"]]}
    warnings: list[str] = []
    if opts.check:
        chosen_in, chosen_out, check_note = check_conversion(
            Path(result["float_tflite"]), reference, {n: shapes[n] for n in in_perms}, dtypes, in_perms, out_perms,
            keys, opts, path.name,
        )
        notes.append(check_note)
    else:
        chosen_in = {n: p[0] for n, p in in_perms.items()}
        chosen_out = {n: p[0] for n, p in out_perms.items()}
        warnings.append("--no-check: the converted model was NOT compared with onnxruntime; onnx2tf conversions can "
                        "silently differ from the original. Run `edgekit verify` before deploying.")
    for name in list(chosen_in) + list(chosen_out):
        if keys.get(name) != name:
            notes.append(f"tensor '{name}' is called '{keys.get(name)}' in the .tflite signature")
    notes.append(f"onnx2tf {result['versions']['onnx2tf']}; graph simplified with {result['simplifier']}")

    def spec(name: str, shape: tuple[int, ...], dtype: str, perm: tuple[int, ...], dynamic: tuple[int, ...]) -> TensorSpec:
        return TensorSpec(name=name, shape=shape, dtype=dtype, dynamic_dims=dynamic,
                          to_tflite_perm=None if perm == tuple(range(len(shape))) else perm)

    in_specs = [
        spec(inp.name, shapes[inp.name], inp.dtype, chosen_in[inp.name], inp.dynamic_axes) for inp in inputs
    ]
    out_specs = [spec(n, out_shapes[n], dtype_of(fixed, n, str(ref_out[n].dtype)), chosen_out[n], ()) for n in output_names]
    for s in in_specs + out_specs:
        if s.to_tflite_perm is not None:
            notes.append(f"'{s.name}' {list(s.shape)} is transposed by {list(s.to_tflite_perm)} in the .tflite")
    return SourceModel(
        path=path, format=SourceFormat.ONNX, inputs=in_specs, outputs=out_specs, run=reference,
        saved_model_dir=Path(result["saved_model_dir"]), notes=notes, warnings=warnings,
        float_tflite=Path(result["float_tflite"]) if result.get("float_tflite") else None,
    )
