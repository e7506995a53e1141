#!/usr/bin/env python3
"""Make everything in sample_models/: a generated shapes dataset and three small classifiers.

Run from the repository root with the workstation venv (``.[convert]`` plus torch for the ONNX model):

    .venv/bin/pip install torch==2.13.0      # only this exact version: it is a local CPU build
    .venv/bin/python scripts/make_sample_models.py            # writes sample_models/
    .venv/bin/python scripts/make_sample_models.py --out /tmp/sm

Offline and deterministic: the images come from fixed seeds (each image has its own seed, derived from
(DATA_SEED, split, index)), so a re-run writes byte-identical PNGs. Training uses fixed seeds and
deterministic ops; weights are expected to match across runs on the same machine and library versions,
but float results may differ on other CPUs / versions (the .keras zip also stores a save date).

Outputs (see sample_models/README.md, which this script writes too):
  shapes_classifier.keras        Keras 3 CNN, input "input" float32 [N,32,32,3] NHWC, output softmax [N,6]
  shapes_classifier_int8.tflite  full-integer int8 version of it (int8 in/out), TFLiteConverter
  shapes_classifier.onnx         torch-trained CNN, input "input" float32 [1,3,32,32] NCHW, output "probs" [1,6]
  calibration/calib_NNN.png      unlabeled calibration images (RGB 32x32)
  test/<class>/NNN.png           labeled test images, with test_labels.csv (file,label_index,class_name)
  shapes_metadata.json           classes, preprocessing recipe, accuracies, seeds, model I/O

Preprocessing recipe "unit": decode the PNG as RGB uint8, x = pixel / 255.0 as float32 (range 0..1);
NHWC for the Keras and .tflite models, transposed to NCHW for the ONNX model. The int8 .tflite input
is quantized with its own input scale / zero point: q = clip(round(x / scale) + zero_point, -128, 127).

Only the dataset part (numpy + Pillow) is imported at module level, so tests can regenerate the
images without TensorFlow or torch.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "star", "ring")
IMAGE_SIZE = 32
SUPERSAMPLE = 4
DATA_SEED = 20261128
TRAIN_SEED = 42

# split name -> (split id used in the per-image seed, number of images)
SPLITS: dict[str, tuple[int, int]] = {
    "train": (0, 4800),
    "holdout": (1, 900),
    "calibration": (2, 100),
}
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
TEST_PER_CLASS = 20  # the first TEST_PER_CLASS images of each class in "holdout" become test/ PNGs

PREPROCESSING: dict[str, Any] = {
    "name": "unit",
    "color": "RGB",
    "input_dtype": "uint8 PNG pixels",
    "scale": 1.0 / 255.0,
    "offset": 0.0,
    "formula": "x = float32(pixel) / 255.0  (range 0..1)",
    "layout_keras_tflite": "NHWC",
    "layout_onnx": "NCHW (transpose HWC -> CHW after scaling)",
    "resize": None,
}

KERAS_FILE = "shapes_classifier.keras"
TFLITE_FILE = "shapes_classifier_int8.tflite"
ONNX_FILE = "shapes_classifier.onnx"
METADATA_FILE = "shapes_metadata.json"
LABELS_FILE = "test_labels.csv"
MAX_FILE_BYTES = 2 * 1024 * 1024


def log(msg: str) -> None:
    print(f"[make_sample_models] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Dataset (numpy + Pillow only)
# --------------------------------------------------------------------------------------------------


def _rotated(points: list[tuple[float, float]], angle: float, cx: float, cy: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]


def _shape_mask(cls: str, rng: np.random.Generator) -> Image.Image:
    """Anti-aliased L-mode mask (IMAGE_SIZE square) of one shape at a random place, size and angle."""
    k = SUPERSAMPLE
    big = IMAGE_SIZE * k
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    r = float(rng.uniform(7.0, 13.0))
    cx = float(rng.uniform(r + 1.0, IMAGE_SIZE - r - 1.0)) * k
    cy = float(rng.uniform(r + 1.0, IMAGE_SIZE - r - 1.0)) * k
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    rk = r * k
    if cls == "circle":
        draw.ellipse((cx - rk, cy - rk, cx + rk, cy + rk), fill=255)
    elif cls == "ring":
        inner = rk * float(rng.uniform(0.45, 0.65))
        draw.ellipse((cx - rk, cy - rk, cx + rk, cy + rk), fill=255)
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
    elif cls == "square":
        h = rk / math.sqrt(2.0) * 1.05
        pts = [(-h, -h), (h, -h), (h, h), (-h, h)]
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif cls == "triangle":
        pts = [(rk * math.cos(a), rk * math.sin(a)) for a in (0.0, 2.0 * math.pi / 3.0, 4.0 * math.pi / 3.0)]
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif cls == "cross":
        t = rk * float(rng.uniform(0.22, 0.32))
        pts = [(-t, -rk), (t, -rk), (t, -t), (rk, -t), (rk, t), (t, t),
               (t, rk), (-t, rk), (-t, t), (-rk, t), (-rk, -t), (-t, -t)]
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif cls == "star":
        inner = rk * float(rng.uniform(0.38, 0.5))
        pts = []
        for i in range(10):
            a = -math.pi / 2.0 + i * math.pi / 5.0
            rad = rk if i % 2 == 0 else inner
            pts.append((rad * math.cos(a), rad * math.sin(a)))
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    else:  # pragma: no cover - CLASSES is fixed
        raise ValueError(f"unknown class {cls!r}; valid: {', '.join(CLASSES)}")
    return mask.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)


def render_image(split: str, index: int) -> tuple[np.ndarray, int]:
    """Image `index` of `split`: (uint8 HxWx3 RGB array, label). Pure function of (DATA_SEED, split, index)."""
    split_id, _ = SPLITS[split]
    label = index % len(CLASSES)
    rng = np.random.default_rng([DATA_SEED, split_id, index])
    bg = rng.uniform(0.0, 255.0, size=3)
    fg = rng.uniform(0.0, 255.0, size=3)
    for _ in range(50):  # keep enough contrast between shape and background
        if float(np.linalg.norm(fg - bg)) >= 110.0:
            break
        fg = rng.uniform(0.0, 255.0, size=3)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64) / (IMAGE_SIZE - 1) - 0.5
    theta = rng.uniform(0.0, 2.0 * math.pi)
    gradient = (xx * math.cos(theta) + yy * math.sin(theta))[..., None] * rng.uniform(0.0, 60.0)
    background = bg[None, None, :] + gradient
    for _ in range(int(rng.integers(0, 2))):  # distractor lines behind the shape
        line = Image.new("L", (IMAGE_SIZE * SUPERSAMPLE, IMAGE_SIZE * SUPERSAMPLE), 0)
        ends = rng.uniform(0.0, IMAGE_SIZE * SUPERSAMPLE, size=4)
        ImageDraw.Draw(line).line([float(e) for e in ends], fill=255, width=SUPERSAMPLE)
        a = np.asarray(line.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX), dtype=np.float64)[..., None]
        background = background * (1.0 - a / 255.0) + rng.uniform(0.0, 255.0, size=3)[None, None, :] * a / 255.0
    alpha = np.asarray(_shape_mask(CLASSES[label], rng), dtype=np.float64)[..., None] / 255.0
    img = background * (1.0 - alpha) + fg[None, None, :] * alpha
    img = img + rng.normal(0.0, rng.uniform(2.0, 10.0), size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), label


def make_split(split: str, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All images of a split: (uint8 [N,H,W,3], int64 labels [N])."""
    n = SPLITS[split][1] if count is None else count
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    labels = np.empty((n,), dtype=np.int64)
    for i in range(n):
        images[i], labels[i] = render_image(split, i)
    return images, labels


def test_png_entries() -> list[tuple[str, int, int]]:
    """(relative file, label, holdout index) for every committed test PNG, in CSV order."""
    n_classes = len(CLASSES)
    entries = []
    for label, name in enumerate(CLASSES):
        for n in range(TEST_PER_CLASS):
            entries.append((f"test/{name}/{n:03d}.png", label, n * n_classes + label))
    return entries


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def load_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def augment_dihedral(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random rotation by a multiple of 90 degrees and/or mirror per image (all classes are invariant)."""
    choice = rng.integers(0, 8, size=len(images))
    out = np.empty_like(images)
    for k in range(8):
        sel = choice == k
        rotated = np.rot90(images[sel], k % 4, axes=(1, 2))
        out[sel] = rotated[:, :, ::-1] if k >= 4 else rotated
    return out


def preprocess_unit(images_uint8: np.ndarray) -> np.ndarray:
    """The "unit" recipe: RGB uint8 -> float32 in 0..1, NHWC."""
    return images_uint8.astype(np.float32) / np.float32(255.0)


# --------------------------------------------------------------------------------------------------
# Models (heavy imports inside functions)
# --------------------------------------------------------------------------------------------------


def train_keras(x_train_u8: np.ndarray, y_train: np.ndarray, epochs: int) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(TRAIN_SEED)
    tf.config.experimental.enable_op_determinism()
    layers = keras.layers
    inp = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype="float32", name="input")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem_conv")(inp)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(2, name="pool0")(x)  # 16x16
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw1")(x)
    x = layers.BatchNormalization(momentum=0.9, name="dw1_bn")(x)
    x = layers.ReLU(name="dw1_relu")(x)
    x = layers.Conv2D(32, 1, use_bias=False, name="pw1")(x)
    x = layers.BatchNormalization(momentum=0.9, name="pw1_bn")(x)
    x = layers.ReLU(name="pw1_relu")(x)
    shortcut = layers.MaxPooling2D(2, name="pool1")(x)  # 8x8
    y = layers.Conv2D(32, 3, padding="same", use_bias=False, name="res_conv")(shortcut)
    y = layers.BatchNormalization(momentum=0.9, name="res_bn")(y)
    x = layers.Add(name="res_add")([shortcut, y])
    x = layers.ReLU(name="res_relu")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)  # 4x4
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(32, activation="relu", name="fc")(x)
    out = layers.Dense(len(CLASSES), activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="shapes_classifier")
    steps = epochs * math.ceil(len(x_train_u8) / BATCH_SIZE)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    log(f"keras: training {model.count_params()} params for {epochs} epochs on {len(x_train_u8)} images")
    aug_rng = np.random.default_rng([TRAIN_SEED, 1])
    for epoch in range(epochs):
        x = preprocess_unit(augment_dihedral(x_train_u8, aug_rng))
        model.fit(x, y_train, batch_size=BATCH_SIZE, epochs=epoch + 1, initial_epoch=epoch, shuffle=True, verbose=2)
    return model


def keras_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    probs = model.predict(x, batch_size=128, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == y))


def convert_int8(model: Any, calibration_uint8: np.ndarray, path: Path) -> None:
    import tensorflow as tf

    calib = preprocess_unit(calibration_uint8)

    def representative() -> Any:
        for i in range(len(calib)):
            yield [calib[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


def tflite_eval(path: Path, x_float: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
    """int8 accuracy with ai_edge_litert, and the I/O description of the model."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    (out,) = interp.get_output_details()
    in_scale, in_zp = inp["quantization"]
    correct = 0
    for i in range(len(x_float)):
        q = np.clip(np.rint(x_float[i : i + 1] / in_scale) + in_zp, -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        correct += int(np.argmax(interp.get_tensor(out["index"])[0]) == y[i])
    sigs = interp.get_signature_list()
    io_desc = {
        "signatures": {k: {"inputs": list(v["inputs"]), "outputs": list(v["outputs"])} for k, v in sigs.items()},
        "input": {"name": inp["name"], "shape": [int(d) for d in inp["shape"]], "dtype": "int8",
                  "scale": float(in_scale), "zero_point": int(in_zp), "layout": "NHWC"},
        "output": {"name": out["name"], "shape": [int(d) for d in out["shape"]], "dtype": "int8",
                   "scale": float(out["quantization"][0]), "zero_point": int(out["quantization"][1]),
                   "meaning": "quantized softmax probabilities"},
    }
    return correct / len(x_float), io_desc


def train_torch_onnx(x_train_u8: np.ndarray, y_train: np.ndarray, epochs: int, path: Path) -> None:
    try:
        import torch
    except ImportError as exc:
        raise SystemExit("torch is needed for the ONNX model: .venv/bin/pip install torch==2.13.0") from exc
    from torch import nn

    torch.manual_seed(TRAIN_SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # 2 threads on a busy 2-core machine was ~10x slower

    class Net(nn.Module):
        """Same layout as the Keras model, NCHW."""

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.MaxPool2d(2))
            self.sep = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16),
                                     nn.ReLU(), nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                     nn.MaxPool2d(2))
            self.res = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32))
            self.head = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 32), nn.ReLU(),
                                      nn.Linear(32, len(CLASSES)))

        def forward(self, x: Any) -> Any:
            s = self.sep(self.stem(x))
            return self.head(torch.relu(s + self.res(s)))

    class WithSoftmax(nn.Module):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            return torch.softmax(self.net(x), dim=1)

    net = Net()
    yt = torch.from_numpy(y_train)
    steps_per_epoch = math.ceil(len(x_train_u8) / BATCH_SIZE)
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(TRAIN_SEED)
    aug_rng = np.random.default_rng([TRAIN_SEED, 2])
    loss_fn = nn.CrossEntropyLoss()
    log(f"torch: training {sum(p.numel() for p in net.parameters())} params for {epochs} epochs")
    for epoch in range(epochs):
        net.train()
        xt = torch.from_numpy(preprocess_unit(augment_dihedral(x_train_u8, aug_rng)).transpose(0, 3, 1, 2).copy())
        perm = torch.randperm(len(xt), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(xt), BATCH_SIZE):
            idx = perm[start : start + BATCH_SIZE]
            opt.zero_grad()
            logits = net(xt[idx])
            loss = loss_fn(logits, yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == yt[idx]).sum())
            total += len(idx)
        log(f"torch: epoch {epoch + 1}/{epochs} loss {loss_sum / total:.4f} train acc {correct / total:.4f}")
    model = WithSoftmax(net).eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
        str(path),
        input_names=["input"],
        output_names=["probs"],
        opset_version=17,
        dynamo=False,
        do_constant_folding=True,
    )


def onnx_eval(path: Path, x_float_nhwc: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    (out,) = sess.get_outputs()
    x = x_float_nhwc.transpose(0, 3, 1, 2)
    correct = 0
    for i in range(len(x)):
        probs = sess.run([out.name], {inp.name: np.ascontiguousarray(x[i : i + 1])})[0]
        correct += int(np.argmax(probs[0]) == y[i])
    io_desc = {
        "input": {"name": inp.name, "shape": list(inp.shape), "dtype": "float32", "layout": "NCHW"},
        "output": {"name": out.name, "shape": list(out.shape), "dtype": "float32",
                   "meaning": "softmax probabilities"},
        "opset": 17,
    }
    return correct / len(x), io_desc


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accuracies:
    keras_holdout: float
    keras_test: float
    int8_holdout: float
    int8_test: float
    onnx_holdout: float
    onnx_test: float


def write_images(out: Path, holdout: np.ndarray, calibration: np.ndarray) -> None:
    for rel, _label, idx in test_png_entries():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(png_bytes(holdout[idx]))
    with (out / LABELS_FILE).open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label_index", "class_name"])
        for rel, label, _ in test_png_entries():
            w.writerow([rel, label, CLASSES[label]])
    (out / "calibration").mkdir(parents=True, exist_ok=True)
    for i in range(len(calibration)):
        (out / "calibration" / f"calib_{i:03d}.png").write_bytes(png_bytes(calibration[i]))


def readme_text(acc: Accuracies, meta: dict[str, Any]) -> str:
    m = meta["models"]
    n_test = len(CLASSES) * TEST_PER_CLASS
    n_hold = SPLITS["holdout"][1]
    ti, to = m["int8_tflite"]["input"], m["int8_tflite"]["output"]
    sig_out = ", ".join(m["int8_tflite"]["signatures"].get("serving_default", {}).get("outputs", ["?"]))
    return f"""# Sample models

Made by `scripts/make_sample_models.py` (offline, fixed seeds: data seed {DATA_SEED}, training seed
{TRAIN_SEED}). Do not edit by hand: re-run the script. The task: classify a {IMAGE_SIZE}x{IMAGE_SIZE} RGB image of
one generated shape (random colours, position, size, rotation, background gradient and noise) into
{len(CLASSES)} classes: {", ".join(f"{i} {c}" for i, c in enumerate(CLASSES))}.

## Preprocessing ("unit")

Decode the PNG as RGB uint8, then `x = float32(pixel) / 255.0` (0..1). NHWC for the Keras and
.tflite models; the ONNX model takes the same values transposed to NCHW. The int8 .tflite quantizes
its input itself with scale {ti["scale"]:.8g} and zero point {ti["zero_point"]}: `q = round(x / scale) + zero_point`
(= pixel - 128).

## Files

| file | what | input | output |
| --- | --- | --- | --- |
| `{KERAS_FILE}` | Keras 3 CNN (conv, depthwise conv, batchnorm, max pool, residual add, dense, softmax) | `input` float32 [N,{IMAGE_SIZE},{IMAGE_SIZE},3] NHWC | `probs` float32 [N,{len(CLASSES)}] softmax |
| `{TFLITE_FILE}` | full-integer int8 of the Keras model (TFLiteConverter, TFLITE_BUILTINS_INT8, calibrated on `calibration/`; signature `serving_default`: input key `input`, output key `{sig_out}`) | `{ti["name"]}` int8 {ti["shape"]} (batch is -1 in shape_signature) | `{to["name"]}` int8 {to["shape"]} (scale {to["scale"]:.6g}, zero point {to["zero_point"]}) |
| `{ONNX_FILE}` | torch 2.13 CNN of the same layout trained on the same data; TorchScript exporter, opset 17, fixed batch 1 | `input` float32 [1,3,{IMAGE_SIZE},{IMAGE_SIZE}] NCHW | `probs` float32 [1,{len(CLASSES)}] softmax |
| `calibration/calib_NNN.png` | {SPLITS["calibration"][1]} unlabeled calibration images (own seed split) | | |
| `test/<class>/NNN.png`, `{LABELS_FILE}` | {n_test} labeled test images ({TEST_PER_CLASS} per class, from the held-out split); CSV columns `file,label_index,class_name` | | |
| `{METADATA_FILE}` | classes, preprocessing, accuracies, seeds, model I/O | | |

## Accuracy (measured by the script)

| model | held-out split ({n_hold} images) | committed test PNGs ({n_test}) |
| --- | --- | --- |
| Keras float32 | {acc.keras_holdout:.4f} | {acc.keras_test:.4f} |
| int8 .tflite (ai-edge-litert) | {acc.int8_holdout:.4f} | {acc.int8_test:.4f} |
| ONNX float32 (onnxruntime) | {acc.onnx_holdout:.4f} | {acc.onnx_test:.4f} |

Neither the held-out split nor the test PNGs (a subset of it) were trained on. Training: {SPLITS["train"][1]}
generated images, random 90-degree rotations / mirrors each epoch, Adam with cosine decay, {meta["epochs"]} epochs.

## Re-making

    .venv/bin/pip install torch==2.13.0    # the script's own dependency, not the package's
    .venv/bin/python scripts/make_sample_models.py [--out DIR]

About 2 minutes of CPU on 2 cores; progress on stderr; replaces the output folder.

## Determinism

Every image is a pure function of (data seed, split, index): a re-run writes byte-identical PNGs and
CSV. Training uses fixed seeds and deterministic ops, but model weights (and so the accuracies above)
can still differ slightly across CPUs and library versions; the `.keras` zip also records its save date.
"""


def check_sizes(out: Path) -> int:
    total = 0
    for p in sorted(out.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            total += size
            if size >= MAX_FILE_BYTES:
                raise SystemExit(f"{p} is {size} bytes: every sample file must be < 2 MB")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=root / "sample_models", help="output folder (replaced)")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs for both models")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    t0 = time.monotonic()
    os.dup2(2, 1)  # TensorFlow and Keras print to stdout: keep all progress and noise on stderr

    log("rendering images")
    x_train_u8, y_train = make_split("train")
    x_hold_u8, y_hold = make_split("holdout")
    x_cal_u8, _ = make_split("calibration")
    test_idx = np.array([idx for _, _, idx in test_png_entries()])

    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_images(tmp, x_hold_u8, x_cal_u8)
    # evaluate on the decoded PNGs (lossless, but this is what users and tests read)
    x_test_u8 = np.stack([load_png(tmp / rel) for rel, _, _ in test_png_entries()])
    if not np.array_equal(x_test_u8, x_hold_u8[test_idx]):
        raise SystemExit("PNG round trip changed pixels")
    x_cal_png = np.stack([load_png(p) for p in sorted((tmp / "calibration").glob("*.png"))])
    y_test = y_hold[test_idx]
    log(f"images done in {time.monotonic() - t0:.1f}s")

    x_hold = preprocess_unit(x_hold_u8)
    x_test = preprocess_unit(x_test_u8)

    model = train_keras(x_train_u8, y_train, args.epochs)
    model.save(tmp / KERAS_FILE)
    acc_k_hold = keras_accuracy(model, x_hold, y_hold)
    acc_k_test = keras_accuracy(model, x_test, y_test)
    log(f"keras float accuracy: holdout {acc_k_hold:.4f}, test PNGs {acc_k_test:.4f}")

    log("converting to full-integer int8 .tflite")
    convert_int8(model, x_cal_png, tmp / TFLITE_FILE)
    acc_q_hold, tflite_io = tflite_eval(tmp / TFLITE_FILE, x_hold, y_hold)
    acc_q_test, _ = tflite_eval(tmp / TFLITE_FILE, x_test, y_test)
    log(f"int8 tflite accuracy: holdout {acc_q_hold:.4f}, test PNGs {acc_q_test:.4f}")

    train_torch_onnx(x_train_u8, y_train, args.epochs, tmp / ONNX_FILE)
    acc_o_hold, onnx_io = onnx_eval(tmp / ONNX_FILE, x_hold, y_hold)
    acc_o_test, _ = onnx_eval(tmp / ONNX_FILE, x_test, y_test)
    log(f"onnx accuracy: holdout {acc_o_hold:.4f}, test PNGs {acc_o_test:.4f}")

    import keras
    import onnx
    import tensorflow as tf
    import torch

    acc = Accuracies(acc_k_hold, acc_k_test, acc_q_hold, acc_q_test, acc_o_hold, acc_o_test)
    meta: dict[str, Any] = {
        "schema_version": 1,
        "task": "classify one generated shape per image",
        "classes": list(CLASSES),
        "input_size": [IMAGE_SIZE, IMAGE_SIZE],
        "channels": 3,
        "preprocessing": PREPROCESSING,
        "data_seed": DATA_SEED,
        "training_seed": TRAIN_SEED,
        "epochs": args.epochs,
        "splits": {
            "train": SPLITS["train"][1],
            "holdout": SPLITS["holdout"][1],
            "calibration": SPLITS["calibration"][1],
            "test_pngs": int(len(test_idx)),
        },
        "test_labels_csv": LABELS_FILE,
        "calibration_dir": "calibration",
        "accuracy": {
            "keras_float_holdout": acc.keras_holdout,
            "keras_float_test_pngs": acc.keras_test,
            "int8_tflite_holdout": acc.int8_holdout,
            "int8_tflite_test_pngs": acc.int8_test,
            "onnx_float_holdout": acc.onnx_holdout,
            "onnx_float_test_pngs": acc.onnx_test,
        },
        "models": {
            "keras": {
                "file": KERAS_FILE,
                "input": {"name": "input", "shape": [None, IMAGE_SIZE, IMAGE_SIZE, 3], "dtype": "float32",
                          "layout": "NHWC"},
                "output": {"name": "probs", "shape": [None, len(CLASSES)], "dtype": "float32",
                           "meaning": "softmax probabilities"},
            },
            "int8_tflite": {"file": TFLITE_FILE, **tflite_io},
            "onnx": {"file": ONNX_FILE, **onnx_io},
        },
        "tool_versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
        },
    }
    (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    (tmp / "README.md").write_text(readme_text(acc, meta))
    total = check_sizes(tmp)

    if out.exists():
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)
    log(f"wrote {out} ({total} bytes) in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
