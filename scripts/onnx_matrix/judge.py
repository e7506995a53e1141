"""Judging a converted .tflite against the truth: the pass criterion and the layout permutations allowed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np


def close(want: np.ndarray, got: np.ndarray, zoo: bool) -> tuple[bool, float]:
    """(passes, max abs error) under the matrix's criterion (module docstring)."""
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    if want.shape != got.shape:
        return False, float("inf")
    if want.size == 0:
        return True, 0.0
    same = (np.isnan(want) & np.isnan(got)) | (np.isinf(want) & (want == got))
    diff = np.where(same, 0.0, np.abs(want - got))
    err = float(np.max(diff)) if np.all(np.isfinite(diff)) else float("inf")
    finite = want[np.isfinite(want)]
    peak = float(np.max(np.abs(finite))) if finite.size else 0.0
    if err <= 1e-4 + 1e-3 * peak:
        return True, err
    if zoo and np.isfinite(err):
        span = float(np.ptp(finite)) if finite.size else 0.0
        a, b = want.reshape(-1), got.reshape(-1)
        cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))) if np.linalg.norm(a) and np.linalg.norm(
            b) else 0.0
        if cos >= 0.9999 or err <= 1e-4 * span:
            return True, err
    return False, err


def close_ranked(want: np.ndarray, got: np.ndarray, zoo: bool, k: int | None) -> tuple[bool, float]:
    """:func:`close` after the tie-aware alignment of an output a TopK ranks (edgekit.verify.ranked, as
    edgekit's own check and verify do): rows of tied scores may come in either order."""
    from edgekit.verify.ranked import align_ranked

    w, g, _ = align_ranked(np.asarray(want, np.float64)[None], np.asarray(got, np.float64)[None], k)
    return close(w[0], g[0], zoo)


def _perms(onnx_shape: tuple[int, ...], tfl_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    from itertools import permutations

    if len(onnx_shape) != len(tfl_shape):
        return []
    identity = tuple(range(len(onnx_shape)))
    last = (0, *range(2, len(onnx_shape)), 1) if len(onnx_shape) >= 3 else identity
    found = []
    for p in [last, identity, *permutations(range(len(onnx_shape)))] if len(onnx_shape) <= 5 else [identity]:
        if p not in found and tuple(onnx_shape[i] for i in p) == tuple(tfl_shape):
            found.append(tuple(p))
    return found


def judge_any_layout(tflite: Path, inputs: list[tuple[str, np.ndarray]], truths: list[tuple[str, np.ndarray]],
                     zoo: bool) -> tuple[bool, float | None, str]:
    """Run a .tflite (I/O matched by order), trying every layout permutation that fits; pass if one matches."""
    from itertools import islice, product

    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    ins = sorted(interp.get_input_details(), key=lambda d: d["index"])
    outs = sorted(interp.get_output_details(), key=lambda d: d["index"])
    if len(ins) != len(inputs) or len(outs) != len(truths):
        return False, None, f"{len(ins)} inputs/{len(outs)} outputs, the model has {len(inputs)}/{len(truths)}"
    names = [d["name"] for d in ins]
    ordered = _match_by_name(names, inputs)
    choices = [_perms(a.shape, tuple(d["shape"])) for d, (_, a) in zip(ins, ordered, strict=True)]
    if any(not c for c in choices):
        return False, None, "input shapes are not a permutation of the ONNX shapes"
    out_names = [d["name"] for d in outs]
    truths = _match_by_name(out_names, truths)
    from edgekit.tflite.model import load_model
    from edgekit.verify.ranked import ranked_rows

    ranks = ranked_rows(load_model(tflite), [int(d["index"]) for d in outs])
    best_err: float | None = None
    for combo in islice(product(*choices), 32):
        for d, (_, a), p in zip(ins, ordered, combo, strict=True):
            interp.set_tensor(d["index"], np.ascontiguousarray(np.transpose(a, p).astype(d["dtype"])))
        interp.invoke()
        ok_all, worst = True, 0.0
        for d, (_, want), k in zip(outs, truths, ranks, strict=True):
            got = interp.get_tensor(d["index"])
            results = [close_ranked(np.transpose(want, p), got, zoo, k) for p in _perms(want.shape, tuple(got.shape))]
            if not results:
                ok_all, worst = False, float("inf")
                continue
            ok = any(r[0] for r in results)
            err = min(r[1] for r in results)
            ok_all &= ok
            worst = max(worst, err)
        if best_err is None or worst < best_err:
            best_err = worst
        if ok_all:
            return True, worst, ""
    return False, best_err, "outputs differ under every layout that fits"


def _match_by_name(names: list[str], items: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Order ``items`` like the tflite tensors when the names say so, else keep the ONNX order."""
    from edgekit.host.onnx.keys import signature_key

    def norm(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    keyed = {norm(signature_key(n)): (n, a) for n, a in items}
    picked = []
    for name in names:
        base = norm(name.split(":")[0].replace("serving_default_", ""))
        if base in keyed:
            picked.append(keyed[base])
    if len(picked) == len(items):
        return picked
    # onnx2tf's outputs are named Identity, Identity_1, ... in the ONNX output order, but the tensor
    # indices (the order the interpreter lists them) can interleave them (Identity, Identity_4, Identity_1...)
    positions = [re.fullmatch(r"Identity(?:_(\d+))?", name.split(":")[0]) for name in names]
    if all(positions):
        order = [int(m.group(1) or 0) for m in positions if m]
        if sorted(order) == list(range(len(items))):
            return [items[k] for k in order]
    return items



def judge_recorded_layout(tflite: Path, result: Any, inputs: list[tuple[str, np.ndarray]],
                          truths: list[tuple[str, np.ndarray]], zoo: bool) -> tuple[bool, float | None, str]:
    """Run edgekit's .tflite with exactly the permutations edgekit recorded (no guessing)."""
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.host.onnx.keys import signature_key

    specs = {s.name: s for s in [*result.source.inputs, *result.source.outputs]}
    runner = Interpreter(model_path=str(tflite)).get_signature_runner("serving_default")
    feeds = {}
    for name, value in inputs:
        if name not in specs:  # an input edgekit fixed from the data (it sets a shape): not in the .tflite
            continue
        perm = specs[name].to_tflite_perm
        feeds[signature_key(name)] = np.ascontiguousarray(value if perm is None else np.transpose(value, perm))
    details = runner.get_input_details()
    feeds = {k: v.astype(details[k]["dtype"]) for k, v in feeds.items() if k in details}
    got = runner(**feeds)
    from edgekit.tflite.model import load_model
    from edgekit.verify.ranked import ranked_rows

    out_details = runner.get_output_details()
    keys = [signature_key(name) for name, _ in truths]
    ranks = dict(zip(keys, ranked_rows(load_model(tflite), [int(out_details[k]["index"]) for k in keys]), strict=True))
    worst = 0.0
    for name, want in truths:
        perm = specs[name].to_tflite_perm
        key = signature_key(name)
        ok, err = close_ranked(want if perm is None else np.transpose(want, perm), got[key], zoo, ranks[key])
        worst = max(worst, err)
        if not ok:
            return False, worst, f"output '{name}' differs by {err:.3g}"
    return True, worst, ""

