"""Run a .tflite model on float-domain samples (device-safe: no TensorFlow).

Quantized I/O is handled here: float inputs are quantized with the input
tensor's scale/zero point, integer outputs are dequantized with the output's.
Callers name their inputs/outputs (the original model's names, or the names in
a bundle); :func:`bind_tensors` matches them to the .tflite tensors by
signature name where possible, else by order with a shape check, and says
exactly what does not match.

Arrays carry a leading sample axis: ``(N,) + tensor.shape``; a per-sample
shape without the tensor's leading batch of 1 is accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import BackendError, DataError
from edgekit.tflite.model import Tensor, TFLiteModel, load_model, parse_model


@dataclass(frozen=True)
class Wanted:
    """What the caller has for one side of the model: a name, its shape (TFLite layout) and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def _describe(items: Sequence[Wanted] | Sequence[Tensor]) -> str:
    return "[" + ", ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in items) + "]"


def _shape_ok(want: tuple[int, ...], tensor: Tensor) -> bool:
    sig = tensor.shape_signature or tensor.shape
    if len(want) == len(tensor.shape):
        return all(w == s or d == -1 for w, s, d in zip(want, tensor.shape, sig, strict=True))
    # a per-sample shape without the leading batch of 1
    return len(tensor.shape) >= 1 and tensor.shape[0] == 1 and tuple(want) == tuple(tensor.shape[1:])


def _dtype_ok(want: str, tensor: Tensor, side: str = "input") -> bool:
    want_float = np.issubdtype(np.dtype(want), np.floating)
    tensor_float = np.issubdtype(np.dtype(tensor.dtype), np.floating)
    if want_float:
        # float data feeds a float tensor, or an integer tensor through its quantization; an output is compared
        # as float values, so a plain integer output (a length, a class index) is read as its numbers, and a bool
        # one (a mask passed through) as 0/1
        counts = side == "output" and tensor.dtype != "string" and np.dtype(tensor.dtype).kind in "iub"
        return tensor_float or (tensor.quant is not None and tensor.quant.scale > 0) or counts
    if want == "bool" or tensor.dtype == "bool":
        return want == tensor.dtype
    if np.issubdtype(np.dtype(want), np.integer):
        return not tensor_float
    return want == tensor.dtype


def bind_tensors(side: str, wanted: Sequence[Wanted], model: TFLiteModel) -> list[Tensor]:
    """The .tflite tensor for each wanted input/output, in the order of ``wanted``.

    ``side`` is "input" or "output". Matching is by signature name (or tensor
    name) when every wanted name is found, else by order. Count, shape or dtype
    mismatches raise :class:`DataError` listing both sides.
    """
    tensors = model.inputs if side == "input" else model.outputs
    where = f"the .tflite model {model.display_name}"
    if len(wanted) != len(tensors):
        raise DataError(
            f"{len(wanted)} {side}s given but {where} has {len(tensors)}: "
            f"given {_describe(wanted)}, model has {_describe(tensors)}.",
            hint=f"The original and the converted model must have the same {side}s; check that they belong together.",
        )
    by_name: dict[str, Tensor] = {}
    orders: list[tuple[str, list[Tensor]]] = []
    main_sigs = [s for s in model.signatures if s.subgraph_index == 0]
    if main_sigs:
        names = main_sigs[0].inputs if side == "input" else main_sigs[0].outputs
        by_name.update({n: model.main.tensor(i) for n, i in names.items()})
        if len(names) == len(tensors):
            # signature order (output_0, output_1, ... in natural order) follows the original model's order
            orders.append(("by signature order", [model.main.tensor(names[n]) for n in sorted(names, key=_natural)]))
    orders.append(("by order", list(tensors)))
    for t in tensors:
        by_name.setdefault(t.name, t)
    for w in wanted:  # signature keys made from names with other characters (ONNX names, see convert)
        key = _signature_key(w.name)
        if w.name not in by_name and key in by_name:
            by_name[w.name] = by_name[key]
    if all(w.name in by_name for w in wanted) and len({by_name[w.name].index for w in wanted}) == len(wanted):
        orders.insert(0, ("by name", [by_name[w.name] for w in wanted]))
    problems: list[str] = []
    for how, chosen in orders:
        bad = [
            f"{w.name} {list(w.shape)} {w.dtype} -> {t.name} {list(t.shape)} {t.dtype}"
            for w, t in zip(wanted, chosen, strict=True)
            if not (_shape_ok(w.shape, t) and _dtype_ok(w.dtype, t, side))
        ]
        if not bad:
            return chosen
        problems.append(f"matched {how}: {'; '.join(bad)}")
    raise DataError(
        f"{side.capitalize()}s do not fit {where} ({' | '.join(problems)}). "
        f"Given {_describe(wanted)}, model has {_describe(tensors)}.",
        hint="Check that the converted model belongs to this original model and that the data has the "
        "model's shape (and layout: NHWC for .tflite).",
    )


def _signature_key(name: str) -> str:
    """The signature key edgekit's ONNX conversion makes from a tensor name (see convert.onnx_runner)."""
    key = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
    return key if key and re.match(r"[A-Za-z]", key[0]) else "t_" + key


def _natural(name: str) -> tuple[str, int, str]:
    match = re.match(r"^(.*?)(\d+)$", name)
    return (match.group(1), int(match.group(2)), "") if match else (name, -1, name)


_BLOCK_ELEMENTS = 1 << 20  # samples quantized together: at most ~8 MB of float64 temporaries


class TFLiteRunner:
    """A loaded .tflite model that runs sample by sample in the float domain."""

    def __init__(self, path: str | Path | bytes, num_threads: int | None = None, probe: bool = True) -> None:
        """``probe=False`` only where this process is already the sandbox (see edgekit.verify.device).

        ``zero_input_refused``: the runtime's error when the probe's all-zero input was refused (None: it ran,
        or no probe); the model may still run the caller's data, and the caller says so."""
        from edgekit.tflite.runtime import load_interpreter, runtime_info

        self.zero_input_refused: str | None = None
        if isinstance(path, bytes):  # made in this process (verify --explain's trial quantizations)
            self.model = parse_model(path, "<model bytes>")
            self.interpreter = load_interpreter(path, num_threads=num_threads)
        else:
            self.model = load_model(path)
            if probe:
                from edgekit.tflite.sandbox import probe_model

                # the file may come from anywhere: a native crash of the runtime on it becomes exit 3 naming
                # the file, in a child process, before it is loaded here (edgekit.tflite.sandbox)
                summary = probe_model(Path(path), num_threads=num_threads)
                self.zero_input_refused = summary.get("refused") or None
            self.interpreter = load_interpreter(self.model, num_threads=num_threads)  # parsed once, above
        info = runtime_info()
        self.runtime = f"{info.name} {info.version}"

    def run(self, inputs: Sequence[Tensor], feeds: Sequence[np.ndarray], outputs: Sequence[Tensor]) -> list[np.ndarray]:
        """Run every sample. ``feeds[i]`` has shape (N,) + per-sample shape of ``inputs[i]``.

        Returns one float array per output, shaped (N,) + tensor shape.
        """
        if not feeds:
            raise DataError("No input arrays to run.", hint="Give the model at least one input.")
        count = int(feeds[0].shape[0])
        for tensor, feed in zip(inputs, feeds, strict=True):
            if feed.shape[0] != count:
                raise DataError(
                    f"Input '{tensor.name}' has {feed.shape[0]} samples but the first input has {count}.",
                    hint="Give every input the same number of samples.",
                )
        # quantize a block of samples at once and dequantize the stacked outputs at once: element-wise, so the
        # same values as sample by sample, without numpy's per-call overhead on every sample (verify's start-up
        # on a small board); blocks of ~1M elements keep the float64 temporaries small
        per_sample = max(1, max(int(np.prod(feed.shape[1:])) for feed in feeds))
        block = max(1, _BLOCK_ELEMENTS // per_sample)
        raw: list[list[np.ndarray]] = [[] for _ in outputs]
        interp = self.interpreter
        quantized: list[np.ndarray] = []
        for i in range(count):
            if i % block == 0:
                quantized = [tensor.quantize(np.asarray(feed[i : i + block]))
                             for tensor, feed in zip(inputs, feeds, strict=True)]
            for tensor, feed in zip(inputs, quantized, strict=True):
                sample = feed[i % block]
                interp.set_tensor(tensor.index, sample.reshape(_run_shape(tensor, sample)))
            try:
                interp.invoke()
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"The TFLite runtime failed on sample {i}: {exc}") from exc
            for k, tensor in enumerate(outputs):
                raw[k].append(np.array(interp.get_tensor(tensor.index)))
        return [tensor.dequantize(np.stack(r)) for tensor, r in zip(outputs, raw, strict=True)]


def zero_input_warning(refusal: str, ran: str) -> str:
    """What verify and convert say when the runtime refused an all-zero input but ran ``ran`` (the samples)."""
    return (f"the TFLite runtime refuses an all-zero input ({refusal}); it ran {ran}, but an input such as silence or "
            "a black frame will stop it on the device. `edgekit tune` rejects such candidates where the float model "
            "runs that input")


def _run_shape(tensor: Tensor, sample: np.ndarray) -> tuple[int, ...]:
    if sample.shape == tensor.shape or len(sample.shape) == len(tensor.shape):
        return tuple(sample.shape)
    return (1, *sample.shape)


def canonical(values: np.ndarray, tensor: Tensor, what: str) -> np.ndarray:
    """``values`` (N, ...) reshaped to (N,) + tensor.shape (accepts a missing leading batch of 1)."""
    n = values.shape[0]
    target = (n, *tensor.shape)
    if values.shape == target:
        return values
    if _shape_ok(tuple(values.shape[1:]), tensor) and len(values.shape) == len(target):
        return values  # dynamic dims resolved differently but compatible
    if int(np.prod(values.shape[1:])) == int(np.prod(tensor.shape)) and tuple(values.shape[1:]) == tuple(tensor.shape[1:]):
        return values.reshape(target)
    raise DataError(
        f"{what} has per-sample shape {list(values.shape[1:])} but tensor '{tensor.name}' has shape {list(tensor.shape)}.",
        hint="The data does not fit this model; check its shape and layout (NHWC for .tflite).",
    )
