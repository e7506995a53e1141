"""ONNX models in: validate, fix symbolic dims, repair the graph, convert (onnx2tf, else edgekit's lowering), check.

:func:`load_onnx` is the loader registered for :attr:`SourceFormat.ONNX`. It

1. validates the file (not ONNX, missing external data, opset newer than the
   installed onnx, checker errors, onnxruntime refusing it) -> exit 2;
2. fixes every symbolic input dimension from ``--input-shape NAME=1,3,224,224``
   (a symbolic batch alone defaults to ``--batch`` or 1, and says so); when a
   symbolic dimension is left, the error lists the inputs and their shapes;
3. repairs a private copy of the graph (:mod:`edgekit.host.onnx.repair`: names,
   static shapes, constant folding, explicit reshapes, splits; then what the
   backend needs), each applied pass listed in the notes and the manifest;
4. converts it in the worker subprocess (:mod:`edgekit.host.onnx.worker`,
   never through a shell, network disabled, in a private temporary directory
   holding the calibration sample onnx2tf would otherwise download) with each
   backend of ``--backend`` in turn (:mod:`edgekit.host.onnx.backends`;
   ``auto``: onnx2tf, then edgekit's own lowering);
5. reads the converted shapes and derives, per input and output, the
   permutation between the ONNX tensor and the TFLite tensor;
6. runs onnxruntime and the float TFLite model on a few inputs (and, for a
   model with state inputs/outputs, over a sequence of calls with the state
   carried) and moves on to the next backend when they differ (:mod:`.check`).
   When every backend fails the error names the op and node, what was tried,
   and the export-side fix (:mod:`.hints`).

The returned :class:`SourceModel` has ``saved_model_dir`` (float SavedModel
whose signature keys are the ONNX tensor names, see
:func:`~edgekit.host.onnx.keys.signature_key`), ``run`` = onnxruntime on inputs
in the ONNX layout, and ``conversion`` (backend, repairs, attempts).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.onnx_backend import OnnxBackend
from edgekit.core.progress import status
from edgekit.core.shapes import InputDims, resolve_shapes
from edgekit.core.source import SourceFormat, TensorSpec
from edgekit.deps import require
from edgekit.errors import BackendError, ModelFormatError, UsageError
from edgekit.host.onnx.attempts import (
    Attempt,
    ConversionFailed,
    all_failed_error,
    foreign_ops_error,
    node_origins,
)
from edgekit.host.onnx.backends import COMMON_REPAIRS, Backend, backend_order
from edgekit.host.onnx.graph import (
    candidate_perms,
    channels_last_images,
    dtype_of,
    fix_input_shapes,
    graph_inputs,
    index_limits,
    one_line,
    read_onnx,
)
from edgekit.host.onnx.opset import upgrade_old_opset
from edgekit.host.onnx.reference import OrtRunner, make_reference_runner
from edgekit.host.onnx.repair import Repair, RepairContext, run_repairs
from edgekit.host.onnx.repair.base import quantizes_at_run_time
from edgekit.host.onnx.repair.params import freeze_empty_inputs
from edgekit.host.source_model import LoadOptions, SourceModel

CALIBRATION_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"

CALIBRATION_SAMPLE_SHAPE = (20, 128, 128, 3)

CHECK_DATA_SAMPLES = 20  # samples of the user's data read for the check and onnx2tf's sample file
# after the repairs that rewrite run-time activation quantization into float ops (repair.base.RUNTIME_QUANTIZING),
# the check also takes an output whose cosine to onnxruntime's reaches this
RUNTIME_QUANTIZED_MIN_COSINE = 0.9999



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



def _worker_failure(backend: Backend, result: dict[str, Any], log: str, returncode: int, model_name: str,
                    origins: Mapping[str, str], debug: bool) -> ConversionFailed:
    error = str(result.get("error") or f"the worker exited with status {returncode}")
    if debug and result.get("traceback"):
        sys.stderr.write(str(result["traceback"]))
    op, node = result.get("op"), result.get("node")
    if op is None:  # onnx2tf says which node it stopped at in its log
        clean = re.sub(r"\x1b\[[0-9;]*m", "", log)
        types = re.findall(r"onnx_op_type:\s*(\S+)", clean)
        names = re.findall(r"onnx_op_name:\s*(\S+)", clean)
        op, node = (types[-1] if types else None), (names[-1] if names else None)
        missing = re.search(r"No module named 'onnx2tf\.ops\.(\w+)'", clean + error)
        if missing:
            op = missing.group(1)
    reason = summarize_log(log, error) if backend.name is OnnxBackend.ONNX2TF else one_line(
        result.get("reason") or error, 600)
    if node is not None:
        node = origins.get(str(node), str(node))
    return ConversionFailed(
        f"{backend.label} could not convert {model_name}: {reason}",
        hint="Run with `edgekit --debug convert ...` for the backend's full log; an unsupported op can often be "
             "replaced at export time (or the model re-exported with opset 17).",
        attempt=Attempt(backend.name.value, "convert", reason, op, node))


def run_worker(backend: Backend, onnx_path: Path, work_dir: Path, input_names: list[str], output_names: list[str],
               options: LoadOptions, model_name: str, origins: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run one backend in the worker (a subprocess in ``work_dir``); its result dict or a ConversionFailed."""
    request = {
        "backend": backend.name.value, "onnx": str(onnx_path), "out_dir": str(work_dir), "input_names": input_names,
        "output_names": output_names, "keep_nchw": list(options.keep_nchw), "simplify": options.onnxsim,
        "debug": options.debug,
    }
    request_path = work_dir / "request.json"
    request_path.write_text(json.dumps(request))
    status(f"Converting {model_name} with {backend.label} (offline, in {work_dir}); this takes 10-60 s...")
    if options.in_process:  # the matrix benchmark: one process converts hundreds of small models
        from edgekit.host.onnx.worker import execute

        cwd = os.getcwd()
        os.chdir(work_dir)
        try:
            result, log, returncode = execute(request), "", 0
        finally:
            os.chdir(cwd)
    else:
        from edgekit.host.onnx.guard import memory_limit_bytes, run_guarded

        cmd = [sys.executable, "-P", "-m", "edgekit.host.onnx.worker", str(request_path)]  # -P: not the cwd's edgekit
        limit = memory_limit_bytes()
        preload = _preload_tensorflow() if options.preload_tensorflow else None
        run = run_guarded(cmd, work_dir, _runner_env(), work_dir / "worker.log", options.timeout_s, limit)
        if run.stopped is not None and preload is not None:
            preload.join()
        if run.stopped == "timeout":
            raise ConversionFailed(
                f"{backend.label} did not finish converting {model_name} within {options.timeout_s:.0f} s.",
                hint="Simplify the model or convert it on a faster machine.",
                attempt=Attempt(backend.name.value, "convert", "timed out", None, None))
        if run.stopped == "memory":
            gib = f"{(run.limit_bytes or 0) / 2**30:.1f} GiB"
            raise ConversionFailed(
                f"{backend.label} used more than {gib} of memory converting {model_name} (its limit: "
                "EDGEKIT_WORKER_MAX_RSS_MB, else 90% of what was free when it started) and was stopped before it "
                "could exhaust the machine.",
                hint="Try --backend lower (edgekit's own lowering, no onnx2tf), or convert on a machine with more "
                     "memory; EDGEKIT_WORKER_MAX_RSS_MB sets the limit (0: none).",
                attempt=Attempt(backend.name.value, "convert", f"stopped at {gib} of memory", None, None))
        log = run.log
        returncode = run.returncode
        result_path = work_dir / "result.json"
        result = json.loads(result_path.read_text()) if result_path.is_file() else {}
        if returncode != 0 or not result.get("ok"):
            if preload is not None:
                preload.join()  # never leave an import half-done in a thread when the command exits
    (work_dir / f"{backend.name.value}.log").write_text(log)
    if backend.name is OnnxBackend.ONNX2TF:
        (work_dir / "onnx2tf.log").write_text(log)
    if options.debug:
        sys.stderr.write(log)
    if returncode != 0 or not result.get("ok"):
        raise _worker_failure(backend, result, log, returncode, model_name, origins or {}, options.debug)
    return result


def run_onnx2tf(onnx_path: Path, work_dir: Path, input_names: list[str], output_names: list[str],
                options: LoadOptions, model_name: str) -> dict[str, Any]:
    """The onnx2tf backend alone (kept for callers that want exactly it)."""
    from edgekit.host.onnx.backends import REGISTRY

    return run_worker(REGISTRY[OnnxBackend.ONNX2TF], onnx_path, work_dir, input_names, output_names, options,
                      model_name)


def _copy(model: Any) -> Any:
    onnx = require("onnx", "Reading ONNX models")
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def _save(model: Any, path: Path) -> None:
    onnx = require("onnx", "Reading ONNX models")
    if model.ByteSize() < 2**31 - 2**20:
        path.write_bytes(model.SerializeToString())
    else:
        onnx.save(model, str(path), save_as_external_data=True, location=path.name + ".data")


def load_onnx(path: Path, options: LoadOptions | None = None) -> SourceModel:
    """Load, repair, convert (offline) and check an ONNX model; see the module docstring."""
    opts = options or LoadOptions()
    path = Path(path)
    model = read_onnx(path)
    if not graph_inputs(model):
        raise ModelFormatError(f"{path.name} has no inputs.", hint="Export the model with its real inputs.")
    model, empty_notes = freeze_empty_inputs(model)
    inputs = graph_inputs(model)
    unknown_keep = sorted(set(opts.keep_nchw) - {i.name for i in inputs})
    if unknown_keep:
        raise UsageError(f"--keep-nchw names {', '.join(unknown_keep)}, which the model does not have.",
                         hint=f"Use one of the input names: {', '.join(i.name for i in inputs)}.")
    order = backend_order(opts.backend)
    foreign = foreign_ops_error(model, path.name)
    if foreign is not None:  # no backend converts these: say so before reading data or converting anything
        raise foreign
    resolved, notes = resolve_shapes(inputs, opts.shapes)
    notes[:0] = empty_notes
    shapes = {r.name: r.shape for r in resolved}
    model = upgrade_old_opset(model, shapes, path.name, notes)  # opset < 7: onnxruntime has no kernels for it
    nhwc = [n for n in channels_last_images(shapes) if n not in opts.keep_nchw]
    if nhwc:
        opts = replace(opts, keep_nchw=(*opts.keep_nchw, *nhwc))
        notes.extend(f"input '{n}' {list(shapes[n])} is channels-last already (NHWC): kept as it is in the .tflite "
                     "(as --keep-nchw does)" for n in nhwc)
    if opts.check_data is not None and opts.check_inputs is None and inputs:
        opts = replace(opts, check_inputs=_read_check_data(inputs, shapes, opts))
    unfrozen = fix_input_shapes(model, shapes, notes)
    fixed, inputs, frozen = _freeze_shape_inputs(unfrozen, inputs, opts, notes)
    if not inputs:
        raise ModelFormatError(
            f"Every input of {path.name} is empty (a zero-size dimension) or fixed from your data: the model "
            "computes a constant, and a .tflite without inputs is nothing to run.",
            hint="Give the real input shapes with --input-shape, or re-export the model with non-empty inputs.")
    work_dir = Path(tempfile.mkdtemp(prefix="edgekit-onnx-"))

    def cleanup() -> None:
        shutil.rmtree(work_dir, ignore_errors=True)

    try:
        # the reference: the model as given, with the fixed input dims, fed the frozen inputs' values
        session, output_names = _reference_session(unfrozen, model, path.name, work_dir, notes)
        reference = OrtRunner(session, output_names, frozen)
        origins = node_origins(fixed)
        common = _copy(fixed)
        context = RepairContext(shapes=shapes)
        common_repairs = run_repairs(common, context, COMMON_REPAIRS)
        left = foreign_ops_error(common, path.name, lowerable=False)  # a contrib node a pass could not rewrite
        if left is not None:
            raise BackendError(f"{left.message} {' '.join(context.notes)}".strip(), hint=left.hint)
        if opts.check_min_cosine is None and quantizes_at_run_time(r.name for r in common_repairs):
            opts = replace(opts, check_min_cosine=RUNTIME_QUANTIZED_MIN_COSINE)
        order = _lowering_first_when_unrolled(order, opts, context, notes)
        try:
            source = _convert_with_backends(path, order, common, common_repairs, context, inputs, shapes,
                                            output_names, fixed, reference, opts, notes, origins, work_dir)
        except BackendError as exc:
            raise _open_branch_error(exc, fixed, frozen) from exc
        if frozen and source.conversion is not None:  # verify feeds them to onnxruntime (the .tflite has none)
            source.conversion["frozen_inputs"] = {n: {"value": np.asarray(v).tolist(), "dtype": str(np.asarray(v).dtype)}
                                                  for n, v in frozen.items()}
    except BaseException:
        cleanup()
        raise
    source.cleanup = cleanup
    return source


def _reference_session(fixed: Any, original: Any, name: str, work_dir: Path, notes: list[str]) -> tuple[Any, list[str]]:
    """onnxruntime on the shape-fixed model; on the model as given when the fixed dims contradict one of its
    branches (Silero VAD v6: the 8 kHz branch of `If sr` cannot take a 16 kHz-sized input)."""
    try:
        return _session_of(fixed, work_dir / "original.onnx", name)
    except ModelFormatError:
        session = _session_of(original, work_dir / "given.onnx", name)
        notes.append("onnxruntime refuses the model with the fixed input dims in one of its branches; the reference "
                     "is the model as given, run with inputs of the fixed shapes")
        return session


def _session_of(model: Any, path: Path, name: str) -> tuple[Any, list[str]]:
    _save(model, path)
    data = Path(str(path) + ".data")
    return make_reference_runner(path.read_bytes() if not data.exists() else str(path), name)


def _try_backend(backend: Backend, name: str, graph: Any, path: Path, inputs: Sequence[InputDims],
                 shapes: Mapping[str, tuple[int, ...]], output_names: list[str], fixed: Any, reference: OrtRunner,
                 opts: LoadOptions, notes: list[str], origins: Mapping[str, str], backend_dir: Path,
                 attempts: list[Attempt]) -> SourceModel | None:
    """Convert ``graph`` with one backend and check it; None (and the attempt recorded) when that fails."""
    backend_dir.mkdir()
    onnx_path = backend_dir / "model.onnx"
    _save(graph, onnx_path)
    if backend.name is OnnxBackend.ONNX2TF:
        np.save(backend_dir / CALIBRATION_SAMPLE_FILE, _calibration_sample(inputs, opts))
    try:
        result = run_worker(backend, onnx_path, backend_dir, [i.name for i in inputs], output_names, opts,
                            path.name, origins)
        return _build_source(path, inputs, shapes, output_names, fixed, result, reference, opts, list(notes),
                             backend=backend)
    except ConversionFailed as exc:
        attempts.append(replace(exc.attempt, backend=name))
    except BackendError as exc:  # the check: converted, but not what onnxruntime computes
        attempts.append(Attempt(name, "check", exc.message, None, None))
    return None


def _open_branch_error(exc: BackendError, model: Any, frozen: Mapping[str, np.ndarray]) -> BackendError:
    """``exc`` with a hint that names the inputs that pick an ``If`` branch and that no data fixed: with their
    value given, the graph keeps one branch (Silero VAD's ``sr``), which is what the backends convert."""
    from edgekit.host.onnx.repair.params import shape_inputs

    open_ = {n: role for n, role in shape_inputs(model).items() if role.startswith("If ") and n not in frozen}
    if not open_:
        return exc
    names = ", ".join(f"'{n}' ({role})" for n, role in open_.items())
    return BackendError(exc.message, hint=(
        f"Input {names} picks a branch, and no data gave its value: pass --calibration FILE.npz holding it (the "
        "same value in every sample, e.g. the sample rate); edgekit then fixes it and converts that branch only. "
        f"Otherwise: {exc.hint}"))


def _freeze_shape_inputs(model: Any, inputs: list[InputDims], opts: LoadOptions,
                         notes: list[str]) -> tuple[Any, list[InputDims], dict[str, np.ndarray]]:
    """Inputs that set a shape and have one value in all of the user's samples become constants (repair.params)."""
    from edgekit.host.onnx.repair.params import constant_values, freeze

    values = constant_values(model, opts.check_inputs)
    if not values:
        return model, inputs, {}
    for name, (value, role) in values.items():
        shown = np.array2string(value.reshape(-1)[:8], separator=",")
        notes.append(f"input '{name}' (read by {role}: it sets a shape or picks a branch) fixed to {shown} from "
                     "your data: a .tflite needs it constant, so the converted model has no such input")
    frozen = {n: v for n, (v, _) in values.items()}
    model = fix_input_shapes(freeze(model, frozen), {}, notes)
    return model, [i for i in inputs if i.name not in values], frozen


UNROLLED_STEPS_LOWER_FIRST = 100


def _lowering_first_when_unrolled(order: list[Backend], opts: LoadOptions, context: RepairContext,
                                  notes: list[str]) -> list[Backend]:
    """With ``--backend auto``, edgekit's lowering before onnx2tf when the repairs unrolled a long recurrence:
    onnx2tf spent 12 minutes failing on text2tashkeel's 192 unrolled BiLSTM steps and 23 GB on vfl-mask-int8's
    450, where the lowering converts both (ddddocr's 32 steps stay with onnx2tf, which makes them NHWC)."""
    lower = [b for b in order if b.name is OnnxBackend.LOWER]
    if OnnxBackend(opts.backend) is not OnnxBackend.AUTO or context.unrolled_steps < UNROLLED_STEPS_LOWER_FIRST \
            or not lower or order[0] is lower[0]:
        return order
    notes.append(f"{context.unrolled_steps} recurrence steps unrolled: edgekit's lowering is tried before onnx2tf")
    return lower + [b for b in order if b is not lower[0]]


def _convert_with_backends(path: Path, order: list[Backend], common: Any, common_repairs: list[Repair],
                           context: RepairContext, inputs: Sequence[InputDims], shapes: Mapping[str, tuple[int, ...]],
                           output_names: list[str], fixed: Any, reference: OrtRunner, opts: LoadOptions,
                           notes: list[str], origins: Mapping[str, str], work_dir: Path) -> SourceModel:
    attempts: list[Attempt] = []
    for backend in order:
        tried: list[list[str]] = []
        for k, passes in enumerate(backend.variants):
            graph = _copy(common)
            extra = run_repairs(graph, replace(context, expand_ops=backend.expand_ops()), passes)
            applied = [r.name for r in extra if r.name != "shapes"]
            if k and applied in tried:  # this try's rewrites change nothing: it would fail the same way
                continue
            tried.append(applied)
            name = backend.name.value + ("+rewrites" if k else "")
            source = _try_backend(backend, name, graph, path, inputs, shapes, output_names, fixed, reference, opts,
                                  notes, origins, work_dir / name, attempts)
            if source is None:
                continue
            repairs = list(common_repairs) + extra
            for attempt in attempts:
                source.notes.append(f"{attempt.backend} was tried first and {attempt.describe()}")
            source.notes.extend(f"graph repair '{r.name}': {r.detail}" for r in repairs)
            source.conversion = {
                "backend": name,
                "repairs": [r.to_dict() for r in repairs],
                "attempts": [a.to_dict() for a in attempts],
            }
            return source
    raise all_failed_error(path.name, attempts, quantizes_at_run_time(r.name for r in common_repairs))
def _build_source(path: Path, inputs: Sequence[InputDims], shapes: Mapping[str, tuple[int, ...]],
                  output_names: list[str], fixed: Any, result: dict[str, Any], reference: OrtRunner,
                  opts: LoadOptions, notes: list[str], backend: Backend | None = None) -> SourceModel:
    from edgekit.host.onnx.check import check_conversion, check_sequence

    kept_layout = backend is not None and backend.name is OnnxBackend.LOWER  # the ONNX layout, always
    label = backend.label if backend is not None else "onnx2tf"

    if len(result["inputs"]) != len(inputs):  # a backend that took constants for inputs: its attempt fails
        raise BackendError(f"{label} made a model with {len(result['inputs'])} input(s), the ONNX model has "
                           f"{len(inputs)}", hint="Run with --debug to see what the backend did.")
    in_specs_raw = []
    for inp, converted in zip(inputs, result["inputs"], strict=True):
        shape = shapes[inp.name]
        perms = candidate_perms(shape, converted["shape"], kept_layout or inp.name in opts.keep_nchw)
        if not perms:
            raise BackendError(
                f"{label} turned input '{inp.name}' {list(shape)} into {converted['shape']}, which is not a transpose of it.",
                hint="Fix the input shape with --input-shape, or keep the layout with --keep-nchw INPUT.",
            )
        in_specs_raw.append((inp, shape, perms))
    out_shapes: dict[str, tuple[int, ...]] = {}
    ref_out = reference({inp.name: np.zeros(shape, dtype=np.dtype(inp.dtype)) for inp, shape, _ in in_specs_raw})
    for name in output_names:
        out_shapes[name] = tuple(int(d) for d in ref_out[name].shape)
    out_perms: dict[str, list[tuple[int, ...]]] = {}
    for name, converted in zip(output_names, result["outputs"], strict=True):
        perms = candidate_perms(out_shapes[name], converted["shape"], channel_first_kept=kept_layout)
        if not perms:
            raise BackendError(
                f"{label} turned output '{name}' {list(out_shapes[name])} into {converted['shape']}, which is not a transpose of it.",
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
        pairs, pair_note = state_pairs_for(inputs, shapes, output_names, out_shapes,
                                           {n: str(ref_out[n].dtype) for n in output_names}, opts)
        if pairs:
            notes.append(pair_note)
            notes.append(check_sequence(Path(result["float_tflite"]), reference, {n: shapes[n] for n in in_perms},
                                        dtypes, chosen_in, chosen_out, keys, pairs, opts, path.name))
    else:
        chosen_in = {n: p[0] for n, p in in_perms.items()}
        chosen_out = {n: p[0] for n, p in out_perms.items()}
        warnings.append("--no-check: the converted model was NOT compared with onnxruntime; onnx2tf conversions can "
                        "silently differ from the original. Run `edgekit verify` before deploying.")
    for name in list(chosen_in) + list(chosen_out):
        if keys.get(name) != name:
            notes.append(f"tensor '{name}' is called '{keys.get(name)}' in the .tflite signature")
    if "onnx2tf" in result["versions"]:
        notes.append(f"converted by onnx2tf {result['versions']['onnx2tf']}; graph simplified with "
                     f"{result['simplifier']}")
    else:
        notes.append("converted by edgekit's own lowering (every tensor in the ONNX layout)")

    def spec(name: str, shape: tuple[int, ...], dtype: str, perm: tuple[int, ...], dynamic: tuple[int, ...]) -> TensorSpec:
        return TensorSpec(name=name, shape=shape, dtype=dtype, dynamic_dims=dynamic,
                          to_tflite_perm=None if perm == tuple(range(len(shape))) else perm)

    limits = index_limits(fixed)
    in_specs = [
        replace(spec(inp.name, shapes[inp.name], inp.dtype, chosen_in[inp.name], inp.dynamic_axes),
                value_limit=limits.get(inp.name)) for inp in inputs
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


def state_pairs_for(inputs: Sequence[InputDims], shapes: Mapping[str, tuple[int, ...]], output_names: list[str],
                    out_shapes: Mapping[str, tuple[int, ...]], out_dtypes: Mapping[str, str],
                    opts: LoadOptions) -> tuple[list[tuple[str, str]], str]:
    """The (state input, state output) pairs of a streaming model: given with --state, else paired by name."""
    from edgekit.verify.stateful import StateTensor, pair_states

    ins = [StateTensor(i.name, tuple(shapes[i.name]), i.dtype) for i in inputs]
    outs = [StateTensor(n, tuple(out_shapes[n]), out_dtypes[n]) for n in output_names]
    pairing = pair_states(ins, outs, opts.state_pairs)
    return pairing.pairs, pairing.describe()
