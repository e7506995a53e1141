"""ONNX models in: validate, fix symbolic dims, convert with onnx2tf offline, check against onnxruntime.

:func:`load_onnx` is the loader registered for :attr:`SourceFormat.ONNX`. It

1. validates the file (not ONNX, missing external data, opset newer than the
   installed onnx, checker errors, onnxruntime refusing it) -> exit 2;
2. fixes every symbolic input dimension from ``--input-shape NAME=1,3,224,224``
   (a symbolic batch alone defaults to ``--batch`` or 1, and says so); when a
   symbolic dimension is left, the error lists the inputs and their shapes;
3. copies the fixed graph into a private temporary directory (onnx2tf rewrites
   its input file in place), writes the calibration sample file onnx2tf would
   otherwise download there, and runs :mod:`edgekit.convert.onnx_runner` as a
   subprocess in that directory (never through a shell; network disabled
   inside; the venv's ``bin`` first on PATH);
4. reads the converted shapes and derives, per input and output, the
   permutation between the ONNX tensor and the TFLite tensor;
5. runs onnxruntime and the float TFLite model on a few inputs and refuses
   (:class:`BackendError`, exit 3) when they differ (:mod:`onnx_check`).

The returned :class:`SourceModel` has ``saved_model_dir`` (float SavedModel
whose signature keys are the ONNX tensor names, see
:func:`~edgekit.convert.onnx_runner.signature_key`) and ``run`` =
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
from dataclasses import dataclass, field, replace
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.convert.source import SourceFormat, SourceModel, TensorSpec
from edgekit.deps import require
from edgekit.errors import BackendError, InputError, ModelFormatError, UsageError
from edgekit.report import info, warn

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
              "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}
CALIBRATION_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
CALIBRATION_SAMPLE_SHAPE = (20, 128, 128, 3)
CHECK_DATA_SAMPLES = 20  # samples of the user's data read for the check and onnx2tf's sample file
_ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
                10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}


@dataclass(frozen=True)
class OnnxLoadOptions:
    """What the ONNX loader needs from `edgekit convert` (and `verify`)."""

    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # --input-shape NAME=d,d,d
    batch: int | None = None  # --batch: value for a symbolic leading dim
    keep_nchw: tuple[str, ...] = ()  # --keep-nchw INPUT: keep this input channel-first in the .tflite
    check: bool = True  # --no-check switches the onnxruntime-vs-float-TFLite check off
    check_samples: int = 3
    check_inputs: Mapping[str, np.ndarray] | None = None  # (N, *shape) samples in ONNX layout, e.g. calibration data
    check_data: Path | None = None  # or: an image folder / .npy / .npz to read check_inputs from (--calibration)
    check_recipe: Any = None  # edgekit.data.Preprocessing for check_data images (None = unit preset)
    check_rtol: float = 1e-3  # tolerance relative to the output's peak |value|
    check_atol: float = 1e-4
    onnxsim: bool = True
    debug: bool = False  # print onnx2tf's full log
    timeout_s: float = 3600.0
    preload_tensorflow: bool = True  # import TF in a thread while onnx2tf runs in its subprocess

    def __post_init__(self) -> None:
        if self.batch is not None and self.batch < 1:
            raise UsageError(f"--batch must be at least 1, not {self.batch}.", hint="Use --batch 1.")
        for name, shape in self.input_shapes.items():
            if not shape or any(int(d) < 1 for d in shape):
                raise UsageError(f"--input-shape {name}={','.join(map(str, shape))} needs positive dims.",
                                 hint="Write it like --input-shape input=1,3,224,224.")
        if self.check_samples < 1:
            raise UsageError("the conversion check needs at least 1 sample.", hint="Use --no-check to skip it.")

    @classmethod
    def from_any(cls, options: Any) -> OnnxLoadOptions:
        """Accept an OnnxLoadOptions, None, or any config object with (some of) the same attribute names."""
        if isinstance(options, OnnxLoadOptions):
            return options
        if options is None:
            return cls()
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if hasattr(options, name):
                value = getattr(options, name)
                if value is not None:
                    kwargs[name] = value
        if "input_shapes" in kwargs:  # a mapping, or convert's ((name, shape), ...) pairs
            pairs = kwargs["input_shapes"]
            items = pairs.items() if isinstance(pairs, Mapping) else pairs
            kwargs["input_shapes"] = {str(k): tuple(int(d) for d in v) for k, v in items}
        if "keep_nchw" in kwargs:
            kwargs["keep_nchw"] = tuple(kwargs["keep_nchw"])
        if getattr(options, "no_check", False):
            kwargs["check"] = False
        if "debug" not in kwargs:
            kwargs["debug"] = _cli_debug()
        return cls(**kwargs)


def _cli_debug() -> bool:
    """`edgekit --debug` when running under the CLI (the loader registry does not pass it on)."""
    try:
        from edgekit.commands.common import is_debug

        return is_debug()
    except ImportError:
        return False


@dataclass(frozen=True)
class OnnxInput:
    name: str
    dims: tuple[int | str, ...]  # ints for fixed dims, the symbol (or "?") for symbolic ones
    dtype: str

    def describe(self) -> str:
        return f"{self.name} [{', '.join(str(d) for d in self.dims)}] {self.dtype}"


# --------------------------------------------------------------------------- validation


def _condense(text: object, limit: int = 400) -> str:
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(text)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_onnx(path: Path) -> Any:
    """Load and validate an ONNX file with its external data; clear errors for each way it can be wrong."""
    onnx = require("onnx", "Reading ONNX models")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ONNX model {path} does not exist.", hint="Check the path.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelFormatError(
            f"{path.name} is not a readable ONNX model ({_condense(exc, 160)}).",
            hint="Re-export it (torch.onnx.export) or check that the file was copied completely.",
        ) from exc
    if not model.graph.node and not model.graph.output:
        raise ModelFormatError(f"{path.name} is not an ONNX model (no graph inside).",
                               hint="Pass an .onnx file exported from your training framework.")
    missing = []
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if not (path.parent / location).is_file():
                missing.append(location)
    if missing:
        files = sorted(set(missing))
        raise InputError(
            f"{path.name} keeps its weights in external data file(s) that are missing next to it: {', '.join(files)}.",
            hint=f"Copy {files[0]} into {path.parent} (it must sit next to the .onnx file).",
        )
    try:
        onnx.load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        raise InputError(f"Could not read the external data of {path.name}: {_condense(exc, 200)}",
                         hint="Check that the external data files are complete.") from exc
    max_opset = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > max_opset:
            raise ModelFormatError(
                f"{path.name} uses ONNX opset {opset.version}; the installed onnx/onnx2tf know opsets up to {max_opset}.",
                hint=f"Export the model again with opset_version={min(max_opset, 17)} (torch.onnx.export(..., opset_version=17)).",
            )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelFormatError(f"{path.name} is not a valid ONNX model: {_condense(exc, 300)}",
                               hint="Re-export the model; the ONNX checker rejects it as it is.") from exc
    return model


def graph_inputs(model: Any) -> list[OnnxInput]:
    """The real inputs of the graph (initializers listed as inputs by old exporters are skipped)."""
    initializers = {t.name for t in model.graph.initializer}
    result = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        dims: list[int | str] = []
        for d in tensor_type.shape.dim:
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or "?")
        result.append(OnnxInput(value.name, tuple(dims), _ONNX_DTYPES.get(tensor_type.elem_type, "unsupported")))
    return result


def resolve_input_shapes(inputs: Sequence[OnnxInput], options: OnnxLoadOptions) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Concrete shape per input, and the notes to tell the user; errors list the inputs when dims are left."""
    names = [i.name for i in inputs]
    if "" in options.input_shapes:  # `--input-shape 1,3,224,224` without a name: only for one input
        if len(inputs) != 1:
            raise UsageError(f"--input-shape without a name is ambiguous: the model has {len(inputs)} inputs "
                             f"({'; '.join(i.describe() for i in inputs)}).",
                             hint=f"Name the input: --input-shape {names[0]}=...")
        named = {k: v for k, v in options.input_shapes.items() if k}
        named.setdefault(names[0], options.input_shapes[""])
        options = replace(options, input_shapes=named)
    unknown = sorted(set(options.input_shapes) - set(names))
    listing = "; ".join(i.describe() for i in inputs)
    if unknown:
        raise UsageError(f"--input-shape names {', '.join(unknown)}, which the model does not have. Inputs: {listing}.",
                         hint=f"Use one of the input names: {', '.join(names)}.")
    shapes: dict[str, tuple[int, ...]] = {}
    notes: list[str] = []
    unresolved: list[OnnxInput] = []
    for inp in inputs:
        if inp.dtype == "unsupported":
            raise ModelFormatError(f"Input '{inp.name}' has an element type edgekit cannot feed.",
                                   hint="Use float, integer or bool inputs.")
        given = options.input_shapes.get(inp.name)
        if given is not None:
            if len(given) != len(inp.dims):
                raise UsageError(
                    f"--input-shape {inp.name} has {len(given)} dims but the input has {len(inp.dims)}: {inp.describe()}.",
                    hint=f"Give {len(inp.dims)} numbers, e.g. --input-shape {inp.name}={','.join(str(d) if isinstance(d, int) else '1' for d in inp.dims)}.",
                )
            for axis, (want, have) in enumerate(zip(given, inp.dims, strict=True)):
                if isinstance(have, int) and want != have:
                    raise UsageError(
                        f"--input-shape {inp.name} sets axis {axis} to {want}, but the model fixes it to {have}.",
                        hint=f"Only symbolic dims can be chosen: {inp.describe()}.",
                    )
            shapes[inp.name] = tuple(int(d) for d in given)
            continue
        symbolic = [a for a, d in enumerate(inp.dims) if not isinstance(d, int)]
        if not symbolic:
            shapes[inp.name] = tuple(int(d) for d in inp.dims)  # type: ignore[arg-type]
        elif symbolic == [0]:
            batch = options.batch or 1
            shapes[inp.name] = (batch, *[int(d) for d in inp.dims[1:]])  # type: ignore[arg-type]
            notes.append(f"input '{inp.name}': symbolic batch '{inp.dims[0]}' fixed to {batch} (--batch N to choose)")
        else:
            unresolved.append(inp)
    if unresolved:
        example = unresolved[0]
        dims = ",".join(str(d) if isinstance(d, int) else "N" for d in example.dims)
        raise InputError(
            f"The model has symbolic dimensions that edgekit cannot guess: {'; '.join(i.describe() for i in unresolved)}. "
            f"All inputs: {listing}.",
            hint=f"Fix them with --input-shape, e.g. --input-shape {example.name}={dims} (replace each N by a number).",
        )
    return shapes, notes


def fix_input_shapes(model: Any, shapes: Mapping[str, tuple[int, ...]]) -> Any:
    """A copy of ``model`` with concrete input dims and re-inferred (static) intermediate shapes."""
    onnx = require("onnx", "Reading ONNX models")
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in fixed.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for d, size in zip(dims, shapes[value.name], strict=True):
                d.Clear()
                d.dim_value = int(size)
    # Shapes derived from the old symbolic dims are stale: let shape inference redo them.
    del fixed.graph.value_info[:]
    for value in fixed.graph.output:
        for d in value.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.Clear()
    try:
        fixed = onnx.shape_inference.infer_shapes(fixed)
    except Exception as exc:  # inference is a help for onnx2tf, not a requirement
        warn(f"ONNX shape inference failed after fixing the input shapes ({_condense(exc, 160)}); continuing.")
    return fixed


# --------------------------------------------------------------------------- onnxruntime reference


def make_reference_runner(model_bytes: bytes | str, name: str) -> tuple[Any, list[str]]:
    """An onnxruntime session for the fixed model, and its output names."""
    ort = require("onnxruntime", "Running the ONNX model as the reference")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelFormatError(
            f"onnxruntime cannot load {name}: {_condense(exc, 300)}",
            hint="The model uses an op or opset onnxruntime does not support; re-export it with a standard opset (e.g. 17).",
        ) from exc
    return session, [o.name for o in session.get_outputs()]


class OrtRunner:
    """The reference runner: the ORIGINAL ONNX model in onnxruntime, inputs/outputs in the ONNX layout."""

    def __init__(self, session: Any, output_names: list[str]) -> None:
        self._session = session
        self._output_names = output_names

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {}
        for arg in self._session.get_inputs():
            if arg.name not in inputs:
                raise InputError(f"No data for ONNX input '{arg.name}' (given: {sorted(inputs)}).",
                                 hint="Give one array per model input, keyed by the input name.")
            dtype = _ORT_TYPES.get(arg.type)
            value = np.asarray(inputs[arg.name])
            feeds[arg.name] = value.astype(dtype, copy=False) if dtype is not None else value
        outputs = self._session.run(self._output_names, feeds)
        return {n: np.asarray(o) for n, o in zip(self._output_names, outputs, strict=True)}


# --------------------------------------------------------------------------- layout


def candidate_perms(source: tuple[int, ...], converted: Sequence[int], channel_first_kept: bool) -> list[tuple[int, ...]]:
    """Permutations p with source[p] == converted, the most likely first (onnx2tf moves channels last)."""
    rank = len(source)
    if rank != len(converted):
        return []
    channel_last = (0, *range(2, rank), 1) if rank >= 3 else tuple(range(rank))
    identity = tuple(range(rank))
    preferred = [identity, channel_last] if channel_first_kept else [channel_last, identity]
    found = []
    if rank <= 6:
        for perm in [*preferred, *permutations(range(rank))]:
            if perm not in found and all(c in (-1, source[p]) for p, c in zip(perm, converted, strict=True)):
                found.append(tuple(perm))
    return found


def _calibration_sample(inputs: Sequence[OnnxInput], options: OnnxLoadOptions) -> np.ndarray:
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


def _read_check_data(inputs: Sequence[OnnxInput], shapes: Mapping[str, tuple[int, ...]],
                     opts: OnnxLoadOptions) -> dict[str, np.ndarray]:
    """A few samples of the user's data in the ONNX layout, read BEFORE the slow conversion (bad data fails fast)."""
    from edgekit.data import load_samples

    specs = [TensorSpec(name=i.name, shape=shapes[i.name], dtype=i.dtype) for i in inputs]
    arrays, _ = load_samples(opts.check_data, specs, opts.check_recipe, CHECK_DATA_SAMPLES, progress_label=None)
    return arrays


# --------------------------------------------------------------------------- onnx2tf


def _runner_env() -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # onnx2tf/onnxsim programs from this venv
    package_root = str(Path(__file__).resolve().parents[2])
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
    return _condense(" ".join(picked), 600)


def run_onnx2tf(onnx_path: Path, work_dir: Path, input_names: list[str], output_names: list[str],
                options: OnnxLoadOptions, model_name: str) -> dict[str, Any]:
    """Run the worker subprocess in ``work_dir``; its result dict or a BackendError with onnx2tf's reason."""
    request = {
        "onnx": str(onnx_path), "out_dir": str(work_dir), "input_names": input_names, "output_names": output_names,
        "keep_nchw": list(options.keep_nchw), "simplify": options.onnxsim, "debug": options.debug,
    }
    request_path = work_dir / "request.json"
    request_path.write_text(json.dumps(request))
    cmd = [sys.executable, "-m", "edgekit.convert.onnx_runner", str(request_path)]
    info(f"Converting {model_name} with onnx2tf (offline, in {work_dir}); this takes 10-60 s...")
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


# --------------------------------------------------------------------------- the loader


def _dtype_of(model: Any, name: str, default: str = "float32") -> str:
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        if value.name == name:
            return _ONNX_DTYPES.get(value.type.tensor_type.elem_type, default)
    return default


def load_onnx(path: Path, options: Any = None) -> SourceModel:
    """Load, convert (onnx2tf, offline) and check an ONNX model; see the module docstring."""
    converted = getattr(options, "reference_tflite", None)
    if converted is not None:  # verify: onnxruntime + the layout of the .tflite being verified
        from edgekit.convert.onnx_reference import load_onnx_reference

        return load_onnx_reference(Path(path), options, Path(converted))
    opts = OnnxLoadOptions.from_any(options)
    path = Path(path)
    model = read_onnx(path)
    inputs = graph_inputs(model)
    if not inputs:
        raise ModelFormatError(f"{path.name} has no inputs.", hint="Export the model with its real inputs.")
    unknown_keep = sorted(set(opts.keep_nchw) - {i.name for i in inputs})
    if unknown_keep:
        raise UsageError(f"--keep-nchw names {', '.join(unknown_keep)}, which the model does not have.",
                         hint=f"Use one of the input names: {', '.join(i.name for i in inputs)}.")
    shapes, notes = resolve_input_shapes(inputs, opts)
    if opts.check_data is not None and opts.check_inputs is None:
        opts = replace(opts, check_inputs=_read_check_data(inputs, shapes, opts))
    fixed = fix_input_shapes(model, shapes)
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


def _build_source(path: Path, inputs: Sequence[OnnxInput], shapes: Mapping[str, tuple[int, ...]],
                  output_names: list[str], fixed: Any, result: dict[str, Any], reference: OrtRunner,
                  opts: OnnxLoadOptions, notes: list[str]) -> SourceModel:
    from edgekit.convert.onnx_check import check_conversion

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
    if opts.check:
        chosen_in, chosen_out, check_note = check_conversion(
            Path(result["float_tflite"]), reference, {n: shapes[n] for n in in_perms}, dtypes, in_perms, out_perms,
            keys, opts, path.name,
        )
        notes.append(check_note)
    else:
        chosen_in = {n: p[0] for n, p in in_perms.items()}
        chosen_out = {n: p[0] for n, p in out_perms.items()}
        warn("--no-check: the converted model was NOT compared with onnxruntime; "
             "onnx2tf conversions can silently differ from the original. Run `edgekit verify` before deploying.")
        notes.append("conversion NOT checked against onnxruntime (--no-check)")
    for name in list(chosen_in) + list(chosen_out):
        if keys.get(name) != name:
            notes.append(f"tensor '{name}' is called '{keys.get(name)}' in the .tflite signature")
    notes.append(f"onnx2tf {result['versions']['onnx2tf']}; graph simplified with {result['simplifier']}")

    def spec(name: str, shape: tuple[int, ...], dtype: str, perm: tuple[int, ...], dynamic: tuple[int, ...]) -> TensorSpec:
        return TensorSpec(name=name, shape=shape, dtype=dtype, dynamic_dims=dynamic,
                          to_tflite_perm=None if perm == tuple(range(len(shape))) else perm)

    in_specs = [
        spec(inp.name, shapes[inp.name], inp.dtype, chosen_in[inp.name],
             tuple(a for a, d in enumerate(inp.dims) if not isinstance(d, int)))
        for inp in inputs
    ]
    out_specs = [spec(n, out_shapes[n], _dtype_of(fixed, n, str(ref_out[n].dtype)), chosen_out[n], ()) for n in output_names]
    for s in in_specs + out_specs:
        if s.to_tflite_perm is not None:
            notes.append(f"'{s.name}' {list(s.shape)} is transposed by {list(s.to_tflite_perm)} in the .tflite")
    return SourceModel(
        path=path, format=SourceFormat.ONNX, inputs=in_specs, outputs=out_specs, run=reference,
        saved_model_dir=Path(result["saved_model_dir"]), notes=notes,
    )
