"""Input shapes: `--input-shape` / `--batch` and the one resolver every source format uses.

A device model needs fixed shapes. Every loader (Keras, SavedModel, ONNX)
describes its inputs as :class:`InputDims` (``None`` for a dynamic or symbolic
dimension) and calls :func:`resolve_shapes`, so the same flags mean the same
thing, and fail the same way, whatever the format.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from edgekit.errors import InputError, UsageError


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """'NAME=1,224,224,3' -> ('NAME', (1, 224, 224, 3)); a single unnamed '1,224,224,3' gets name ''."""
    name, sep, dims_text = text.rpartition("=")
    if not sep:
        name, dims_text = "", text
    try:
        dims = tuple(int(d) for d in dims_text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input-shape '{text}' is not NAME=dims with positive integers.",
                         hint="Write it like --input-shape input_1=1,224,224,3.")
    return name.strip(), dims


@dataclass(frozen=True)
class ShapeRequest:
    """What the user asked: ``--input-shape NAME=DIMS`` (name '' = the only input) and ``--batch N``."""

    batch: int | None = None
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # one sample's shape per array of the --calibration/--data file (name '' = a lone .npy): fills the dynamic
    # dimensions --input-shape leaves open, where it fits the model's fixed ones
    data_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    data_source: str = ""

    def __post_init__(self) -> None:
        if self.batch is not None and self.batch < 1:
            raise UsageError(f"--batch must be at least 1, got {self.batch}.", hint="Pass e.g. --batch 1.")
        names = [n for n, _ in self.input_shapes]
        if len(set(names)) != len(names):
            raise UsageError(f"--input-shape names an input twice: {names}.", hint="Give each input once.")
        for name, shape in self.input_shapes:
            if not shape or any(int(d) < 1 for d in shape):
                raise UsageError(f"--input-shape {name}={','.join(map(str, shape))} needs positive dims.",
                                 hint="Write it like --input-shape input=1,3,224,224.")

    @classmethod
    def from_texts(cls, texts: Sequence[str], batch: int | None = None,
                   data: str | os.PathLike[str] | None = None) -> ShapeRequest:
        """From the command line's ``--input-shape`` values (and the arrays of a ``.npz``/``.npy`` ``data``)."""
        shapes = sample_shapes(Path(data)) if data is not None else {}
        return cls(batch=batch, input_shapes=tuple(parse_input_shape(t) for t in texts),
                   data_shapes=tuple(shapes.items()), data_source=Path(data).name if shapes and data else "")


def sample_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """One sample's shape (the array's shape without its leading sample axis) per array of a .npz, or '' -> that
    of a .npy; read from the headers only. Empty for anything else or a file numpy cannot read (the data
    loader reports those)."""
    from numpy.lib import format as npy_format

    def header(f: IO[bytes]) -> tuple[int, ...] | None:
        try:
            version = npy_format.read_magic(f)
            shape = (npy_format.read_array_header_1_0(f) if version == (1, 0)
                     else npy_format.read_array_header_2_0(f))[0]
        except (ValueError, OSError, EOFError):
            return None
        return tuple(int(d) for d in shape[1:]) if len(shape) >= 2 else None

    suffix = path.suffix.lower()
    out: dict[str, tuple[int, ...]] = {}
    try:
        if suffix == ".npy" and path.is_file():
            with path.open("rb") as f:
                one = header(f)
            if one is not None:
                out[""] = one
        elif suffix == ".npz" and path.is_file():
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if member.endswith(".npy"):
                        with z.open(member) as stream:
                            got = header(stream)
                        if got is not None:
                            out[member[:-4]] = got
    except (OSError, zipfile.BadZipFile):
        return {}
    return out


@dataclass(frozen=True)
class InputDims:
    """One model input as the source format declares it: ``None`` for a dynamic/symbolic dimension.

    ``labels`` are how the format names each dimension for people (ONNX symbols
    such as ``batch``; ``?`` when unnamed); empty means "show the numbers".
    """

    name: str
    dims: tuple[int | None, ...]
    dtype: str = ""
    labels: tuple[str, ...] = ()
    resizable: bool = False  # the source rebuilds its graph at another size: --input-shape may change fixed dims

    def describe(self) -> str:
        shown = [lbl if d is None and lbl else "?" if d is None else str(d)
                 for d, lbl in zip(self.dims, self.labels or ("",) * len(self.dims), strict=True)]
        return f"{self.name} [{', '.join(shown)}]" + (f" {self.dtype}" if self.dtype else "")

    @property
    def dynamic_axes(self) -> tuple[int, ...]:
        return tuple(i for i, d in enumerate(self.dims) if d is None)


@dataclass(frozen=True)
class ResolvedInput:
    name: str
    shape: tuple[int, ...]
    dynamic_dims: tuple[int, ...]  # the axes that were dynamic in the source


def resolve_shapes(inputs: Sequence[InputDims], request: ShapeRequest) -> tuple[list[ResolvedInput], list[str]]:
    """A concrete shape per input, and the notes to tell the user.

    ``--input-shape`` sets whole shapes (only dynamic axes may differ from the
    model); otherwise a dynamic batch (axis 0) becomes ``--batch`` (default 1,
    said in a note), and ``--batch`` on an input whose batch is fixed to
    another size is an error. Dynamic dimensions left over are one
    :class:`InputError` that lists every such input and how to fix them.
    """
    names = [i.name for i in inputs]
    given = dict(request.input_shapes)
    listing = "; ".join(i.describe() for i in inputs)
    if "" in given:
        if len(inputs) != 1:
            raise UsageError(f"--input-shape without a name is ambiguous: the model has {len(inputs)} inputs "
                             f"({listing}).", hint=f"Name the input: --input-shape {names[0]}=...")
        given.setdefault(names[0], given.pop(""))
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise UsageError(f"--input-shape names {', '.join(unknown)}, which the model does not have. Inputs: {listing}.",
                         hint=f"Use one of the input names: {', '.join(names)}.")
    resolved: list[ResolvedInput] = []
    notes: list[str] = []
    unresolved: list[InputDims] = []
    symbols = _SymbolSizes()
    batch_symbols = {_symbol(i, 0) for i in inputs if i.dims and i.dims[0] is None} - {""}
    from_data = _data_shapes(inputs, request, set(given))
    for inp in inputs:  # what the user and the data fix comes first: --batch's default must not contradict it
        if inp.name in given or inp.name in from_data:
            symbols.learn(inp, given.get(inp.name) or from_data[inp.name])
    chosen = set(symbols.sizes)
    for inp in inputs:
        shape = given.get(inp.name)
        if shape is not None:
            _check_given(inp, shape, notes)
            resolved.append(ResolvedInput(inp.name, tuple(int(d) for d in shape), inp.dynamic_axes))
            continue
        if inp.name in from_data:
            shape = from_data[inp.name]
            resolved.append(ResolvedInput(inp.name, shape, inp.dynamic_axes))
            notes.append(f"input '{inp.name}': dynamic dimensions fixed to {list(shape)} from the arrays of "
                         f"{request.data_source} (--input-shape to choose)")
            continue
        dims = list(inp.dims)
        if (request.batch is not None and dims and dims[0] is not None and dims[0] != request.batch
                and not any(_symbol(inp, a) in batch_symbols for a in inp.dynamic_axes)):  # batch on another axis
            raise UsageError(f"--batch {request.batch}: input '{inp.name}' has a fixed batch of {dims[0]} "
                             f"({inp.describe()}).", hint="Drop --batch for this model.")
        if dims and dims[0] is None and request.batch is None and _symbol(inp, 0) in chosen:
            unresolved.append(inp)  # its batch symbol has a size from --input-shape or data: _fill_symbols uses it
            continue
        if dims and dims[0] is None:
            dims[0] = request.batch or 1
            if request.batch is None:
                label = f" '{inp.labels[0]}'" if inp.labels and inp.labels[0] not in ("", "?") else ""
                notes.append(f"input '{inp.name}': dynamic batch{label} fixed to 1 (use --batch N to choose)")
        if any(d is None for d in dims):
            unresolved.append(InputDims(inp.name, tuple(dims), inp.dtype, inp.labels))
            continue
        resolved.append(ResolvedInput(inp.name, tuple(int(d) for d in dims if d is not None), inp.dynamic_axes))
        symbols.learn(inp, resolved[-1].shape)
    unresolved = _fill_symbols(unresolved, symbols, inputs, resolved, notes)
    if unresolved:
        first = unresolved[0]
        example = ",".join(str(d) if d is not None else "N" for d in first.dims)
        left = "; ".join(i.describe() for i in unresolved)
        raise InputError(
            f"Input dynamic dimensions that edgekit cannot guess: {left}; a TFLite model for a device needs fixed "
            f"shapes. All inputs: {listing}.",
            hint=f"Pass --input-shape {first.name}={example} (replace each N by your real size).",
        )
    return resolved, notes


class _SymbolSizes:
    """The size each named symbolic dimension (ONNX ``dim_param``, e.g. ``batch``) got on some input: the same
    symbol on another input is, by the format's rules, the same size."""

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[int, str]] = {}  # symbol -> (size, the input it was learnt from)

    def learn(self, inp: InputDims, shape: Sequence[int]) -> None:
        for axis in inp.dynamic_axes:
            label = _symbol(inp, axis)
            if label and axis < len(shape):
                self.sizes.setdefault(label, (int(shape[axis]), inp.name))


def _symbol(inp: InputDims, axis: int) -> str:
    """The dimension's symbol, or '' when it has none (unnamed dims are never the same as each other)."""
    label = inp.labels[axis] if axis < len(inp.labels) else ""
    return "" if label in ("", "?") else label


def _fill_symbols(unresolved: list[InputDims], symbols: _SymbolSizes, inputs: Sequence[InputDims],
                  resolved: list[ResolvedInput], notes: list[str]) -> list[InputDims]:
    """Give the dynamic dimensions left over the size their symbol has on another input (``recurrent [1, batch,
    64]`` beside ``feature [batch, 1, 43]``); the inputs still not fixed come back."""
    left: list[InputDims] = []
    for inp in unresolved:
        dims = list(inp.dims)
        filled: list[str] = []
        for axis, dim in enumerate(dims):
            label = _symbol(inp, axis)
            if dim is None and label in symbols.sizes:
                size, source = symbols.sizes[label]
                dims[axis] = size
                filled.append(f"'{label}' (axis {axis}) fixed to {size} as on input '{source}'")
        if any(d is None for d in dims):
            left.append(InputDims(inp.name, tuple(dims), inp.dtype, inp.labels))
            continue
        original = next(i for i in inputs if i.name == inp.name)
        resolved.append(ResolvedInput(inp.name, tuple(int(d) for d in dims if d is not None), original.dynamic_axes))
        notes.append(f"input '{inp.name}': dimension {', '.join(filled)} (one symbol, one size)")
    return left


def _data_shapes(inputs: Sequence[InputDims], request: ShapeRequest, given: set[str]) -> dict[str, tuple[int, ...]]:
    """Input name -> one sample's shape from the data, for the inputs with dynamic dimensions --input-shape does
    not set, where the data's shape has the input's rank, its fixed dimensions and --batch."""
    shapes = dict(request.data_shapes)
    if "" in shapes and len(inputs) == 1:
        shapes = {inputs[0].name: shapes[""]}
    out: dict[str, tuple[int, ...]] = {}
    for inp in inputs:
        shape = shapes.get(inp.name)
        if inp.name in given or shape is None or not inp.dynamic_axes or len(shape) != len(inp.dims):
            continue
        if any(have is not None and have != want for have, want in zip(inp.dims, shape, strict=True)):
            continue
        if request.batch is not None and shape and inp.dims[0] is None and shape[0] != request.batch:
            continue
        if all(d >= 1 for d in shape):
            out[inp.name] = shape
    return out


def _check_given(inp: InputDims, shape: tuple[int, ...], notes: list[str]) -> None:
    if len(shape) != len(inp.dims):
        example = ",".join(str(d) if d is not None else "1" for d in inp.dims)
        raise UsageError(f"--input-shape {inp.name} has {len(shape)} dims but the input has {len(inp.dims)}: "
                         f"{inp.describe()}.", hint=f"Give {len(inp.dims)} numbers, e.g. --input-shape "
                                                   f"{inp.name}={example}.")
    changed = [axis for axis, (want, have) in enumerate(zip(shape, inp.dims, strict=True))
               if have is not None and want != have]
    if changed and inp.resizable:
        notes.append(f"input '{inp.name}': the model declares {[d if d is not None else '?' for d in inp.dims]}, "
                     f"set to {list(shape)} as asked (axis {', '.join(map(str, changed))} fixed in the file); the "
                     "check against onnxruntime on the resized graph tells whether the network allows it")
        return
    for axis, (want, have) in enumerate(zip(shape, inp.dims, strict=True)):
        if have is not None and want != have:
            raise UsageError(f"--input-shape {inp.name} sets axis {axis} to {want}, but the model fixes it to {have} "
                             f"({inp.describe()}).", hint="Only dynamic dimensions (shown as ? or a name) can be set.")
