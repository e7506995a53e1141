"""ONNX graph helpers (host-only): read and validate a model, its inputs, fixing shapes, layouts.

Used by the loader (:mod:`.load`) and verify's reference (:mod:`.reference`);
onnx is imported inside functions through :func:`edgekit.deps.require`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.shapes import InputDims
from edgekit.deps import require
from edgekit.errors import InputError, ModelFormatError

ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
                10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}


def one_line(text: object, limit: int = 400) -> str:
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
            f"{path.name} is not a readable ONNX model ({one_line(exc, 160)}).",
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
        raise InputError(f"Could not read the external data of {path.name}: {one_line(exc, 200)}",
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
        raise ModelFormatError(f"{path.name} is not a valid ONNX model: {one_line(exc, 300)}",
                               hint="Re-export the model; the ONNX checker rejects it as it is.") from exc
    return model


def graph_inputs(model: Any) -> list[InputDims]:
    """The real inputs of the graph (initializers listed as inputs by old exporters are skipped).

    Symbolic dimensions are ``None``, labelled with their symbol (or ``?``); an element type
    edgekit cannot feed is a ModelFormatError.
    """
    initializers = {t.name for t in model.graph.initializer}
    result = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        dims: list[int | None] = []
        labels: list[str] = []
        for d in tensor_type.shape.dim:
            fixed = d.HasField("dim_value") and d.dim_value > 0
            dims.append(int(d.dim_value) if fixed else None)
            labels.append(str(d.dim_value) if fixed else (d.dim_param or "?"))
        dtype = ONNX_DTYPES.get(tensor_type.elem_type)
        if dtype is None:
            raise ModelFormatError(f"Input '{value.name}' has an element type edgekit cannot feed.",
                                   hint="Use float, integer or bool inputs.")
        result.append(InputDims(value.name, tuple(dims), dtype, tuple(labels), resizable=True))
    return result


def empty_inputs(model: Any) -> dict[str, np.ndarray]:
    """Inputs with a zero-size dimension (all dims fixed): they hold no values, so each is a constant empty array."""
    initializers = {t.name for t in model.graph.initializer}
    found = {}
    for value in model.graph.input:
        tensor_type = value.type.tensor_type
        dims = list(tensor_type.shape.dim)
        dtype = ONNX_DTYPES.get(tensor_type.elem_type)
        if value.name in initializers or not dims or dtype is None:
            continue
        if all(d.HasField("dim_value") for d in dims) and any(d.dim_value == 0 for d in dims):
            found[value.name] = np.zeros([int(d.dim_value) for d in dims], dtype=np.dtype(dtype))
    return found


def fix_input_shapes(model: Any, shapes: Mapping[str, tuple[int, ...]], notes: list[str] | None = None) -> Any:
    """A copy of ``model`` with concrete input dims and re-inferred (static) intermediate shapes."""
    onnx = require("onnx", "Reading ONNX models")
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    resized = False  # a dim the file fixes set to another size (--input-shape on a resizable ONNX input)
    for value in fixed.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for d, size in zip(dims, shapes[value.name], strict=True):
                resized |= d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != int(size)
                d.Clear()
                d.dim_value = int(size)
    # Shapes derived from the old symbolic dims are stale, in subgraphs too: let shape inference redo them.
    from edgekit.host.onnx.repair.base import all_graphs

    for graph in all_graphs(fixed.graph):
        del graph.value_info[:]
    for value in fixed.graph.output:  # after a resize, the declared output sizes are stale as well
        for d in value.type.tensor_type.shape.dim:
            if resized or not d.HasField("dim_value"):
                d.Clear()
    try:
        fixed = onnx.shape_inference.infer_shapes(fixed)
    except Exception as exc:  # inference is a help for onnx2tf, not a requirement
        if notes is not None:
            notes.append(f"ONNX shape inference failed after fixing the input shapes ({one_line(exc, 160)}); "
                         "continued without it")
    return fixed


def channels_last_images(shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Inputs shaped like an NHWC image batch ``[N, H, W, 1|3|4]`` with H, W > 4 (Keras models exported by
    tf2onnx keep their channels last and transpose inside the graph): onnx2tf, taking them for NCHW, would
    move the "channels" (H) last and give the .tflite an ``[N, W, C, H]`` input no image loader or app feeds."""
    return [name for name, s in shapes.items()
            if len(s) == 4 and s[3] in (1, 3, 4) and s[1] > 4 and s[2] > 4]


_PASS_THROUGH = frozenset({"Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose"})
# elementwise ops an id goes through on its way to the table: tf.gather's negative-id wrap, as tf2onnx writes it
# (``Where(id < 0, id + size, id)`` spelled with Add, Mul and Cast), leaves ids in [0, size) as they are
_ID_ARITHMETIC = frozenset({"Add", "Mul", "Where", "Max", "Min", "Clip"})


def index_limits(model: Any) -> dict[str, int]:
    """Integer inputs used as ``Gather`` indices into a table of known size (token ids into an embedding, maybe
    through a Cast or Reshape, or the Add/Mul/Where of a negative-id wrap): input name -> the smallest such
    size. Random ids up to 255 made onnxruntime refuse text2tashkeel's 54-symbol embedding after a 14-minute
    conversion."""
    from edgekit.host.onnx.repair.base import static_shape

    readers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    limits: dict[str, int] = {}
    for inp in graph_inputs(model):
        if not inp.dtype.startswith(("int", "uint")):
            continue
        seen, todo = {inp.name}, [inp.name]
        while todo:
            tensor = todo.pop()
            for node in readers.get(tensor, []):
                if (node.op_type in _PASS_THROUGH and node.input and node.input[0] == tensor) or \
                        node.op_type in _ID_ARITHMETIC:
                    todo.extend(o for o in node.output if o and o not in seen)
                    seen.update(node.output)
                elif node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == tensor:
                    table = static_shape(model, node.input[0])
                    axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 0)
                    if table and -len(table) <= axis < len(table):
                        size = table[axis]
                        limits[inp.name] = min(limits.get(inp.name, size), size)
    return limits


def dtype_of(model: Any, name: str, default: str = "float32") -> str:
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        if value.name == name:
            return ONNX_DTYPES.get(value.type.tensor_type.elem_type, default)
    return default


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

