"""What ``edgekit bench`` feeds a model: random inputs within each input's range, or the user's ``--data``
(a .npy, a .npz, or a folder of images), shaped and typed for the model's inputs, with a clear error otherwise."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError


def random_input(shape: Sequence[int], dtype: str, rng: np.random.Generator) -> np.ndarray:
    """A random input within the tensor's representable (quantized) range; floats in [-1, 1]."""
    shape = tuple(max(1, int(d)) for d in shape)
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, shape).astype(np_dtype)
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        # 8/16-bit: the whole quantized range; wider ints (ids, indices) stay small and non-negative.
        low, high = (int(info.min), int(info.max)) if info.bits <= 16 else (0, 9)
        return rng.integers(low, high, size=shape, endpoint=True, dtype=np_dtype)
    if np_dtype.kind == "b":
        return rng.integers(0, 1, size=shape, endpoint=True).astype(bool)
    raise DataError(f"cannot make random inputs of dtype {dtype}.", hint="Pass real inputs with --data FILE.npz.")


def load_data(path: Path, input_names: Sequence[str]) -> list[np.ndarray]:
    """Inputs from a .npy (one input) or .npz (by input name, or in order). First sample of a batch is used as is."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arrays = [np.load(path, allow_pickle=False)]
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                keys = list(npz.keys())
                if all(name in keys for name in input_names):
                    arrays = [npz[name] for name in input_names]
                else:
                    arrays = [npz[k] for k in keys]
        else:
            raise DataError(f"--data {path}: unsupported file type '{suffix or path.name}'.",
                            hint="Give a .npy (one input) or .npz (one array per input, named like the inputs).")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error) as exc:
        # zipfile/zlib errors: a damaged .npz (found by tests/test_reliability_matrix.py)
        raise DataError(f"--data {path}: cannot read it ({exc}).", hint="Give a valid .npy or .npz file.") from exc
    if len(arrays) != len(input_names):
        raise DataError(f"--data {path} has {len(arrays)} arrays but the model has {len(input_names)} inputs.",
                        hint=f"Store one array per input, named {', '.join(input_names)}.")
    return arrays


def load_image_folder(folder: Path, inputs: Sequence[Any]) -> list[np.ndarray]:
    """One sample per input from a folder of images (edgekit.data, unit preset), quantized with each
    input's own scale/zero point when the input is integer."""
    from edgekit.core.source import TensorSpec
    from edgekit.data import load_samples

    specs = [TensorSpec(t.name, tuple(max(1, int(d)) for d in t.shape), "float32") for t in inputs]
    arrays, _ = load_samples(folder, specs, None, 1, progress_label=None)
    out = []
    for t in inputs:
        x = arrays[t.name][0]
        if np.dtype(t.dtype).kind in "iu":
            if t.quant is None:
                raise DataError(f"input '{t.name}' is {t.dtype} without quantization parameters; images cannot "
                                "be fed to it.", hint="Pass a .npy/.npz with the values it expects.")
        out.append(t.quantize(x))
    return out


def fit_input(array: np.ndarray, shape: Sequence[int], dtype: str, name: str) -> np.ndarray:
    want = tuple(int(d) for d in shape)
    arr = np.asarray(array)
    if arr.ndim == len(want) + 1 and arr.shape[1:] == want:  # (N, *shape): the layout edgekit.data writes
        arr = arr[0]
    if arr.shape != want and arr.ndim == len(want) - 1 and arr.shape == want[1:]:
        arr = arr[None, ...]
    if arr.shape != want and arr.ndim == len(want) and arr.shape[1:] == want[1:] and arr.shape[0] > want[0]:
        arr = arr[: want[0]]
    if arr.shape != want:
        raise DataError(f"--data input '{name}' has shape {arr.shape}, the model wants {want}.",
                        hint="Store arrays shaped like the model's inputs (the batch may be larger).")
    if arr.dtype.kind not in "biuf":  # strings, objects, complex: not model input (tests/reliability_cases.py)
        raise DataError(f"--data input '{name}' has dtype {arr.dtype}, not numbers.",
                        hint=f"Store numeric arrays ({dtype}) for the model's inputs.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise DataError(f"--data input '{name}' contains NaN or Inf values.",
                        hint="Replace non-finite values; a benchmark on NaNs does not measure the real kernels.")
    if arr.dtype != np.dtype(dtype):
        if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
            raise DataError(f"--data input '{name}' is {arr.dtype}, the model wants {dtype}.",
                            hint="Store already-quantized values for quantized inputs.")
        arr = arr.astype(dtype)
    return arr


__all__ = ["random_input", "load_data", "load_image_folder", "fit_input"]
