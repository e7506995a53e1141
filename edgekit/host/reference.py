"""The ORIGINAL model's outputs for a batch of samples (convert's golden check and verify both use it)."""

from __future__ import annotations

import numpy as np

from edgekit.core.progress import progress
from edgekit.errors import DataError
from edgekit.host.source_model import SourceModel

REFERENCE_CHUNK = 32


def _batched(source: SourceModel, arrays: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray] | None:
    """Samples start..stop in ONE call of the original (batch axis 0), or None if the model takes batch 1 only."""
    if stop - start < 2 or any(not s.shape or s.shape[0] != 1 for s in source.inputs + source.outputs):
        return None
    feed = {name: arr[start:stop].reshape((stop - start, *arr.shape[2:])) for name, arr in arrays.items()}
    try:
        outs = source.run(feed)
    except Exception:  # a fixed batch of 1 (ONNX, SavedModel signatures) refuses more; fall back to one by one
        return None
    result = {}
    for spec in source.outputs:
        value = np.asarray(outs.get(spec.name)) if spec.name in outs else None
        if value is None or value.shape != (stop - start, *spec.shape[1:]):
            return None
        result[spec.name] = value.astype(np.float32).reshape((stop - start, *spec.shape))
    return result


def run_reference(source: SourceModel, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The original model's outputs {output name: (N, *spec.shape)}: batched when the model allows it."""
    count = next(iter(arrays.values())).shape[0]
    collected: dict[str, list[np.ndarray]] = {s.name: [] for s in source.outputs}
    batched = True
    for start in progress(range(0, count, REFERENCE_CHUNK), "Running the original model"):
        stop = min(count, start + REFERENCE_CHUNK)
        chunk = _batched(source, arrays, start, stop) if batched else None
        if chunk is not None:
            for name, value in chunk.items():
                collected[name].extend(value)
            continue
        batched = False
        for i in range(start, stop):
            outs = source.run({name: arr[i] for name, arr in arrays.items()})
            missing = [s.name for s in source.outputs if s.name not in outs]
            if missing:
                raise DataError(
                    f"The original model's runner returned {sorted(outs)} but its outputs are "
                    f"{[s.name for s in source.outputs]}.",
                    hint="This is a bug in the model loader; run again with --debug.",
                )
            for spec in source.outputs:
                collected[spec.name].append(np.asarray(outs[spec.name], dtype=np.float32).reshape(spec.shape))
    return {name: np.stack(values) for name, values in collected.items()}
