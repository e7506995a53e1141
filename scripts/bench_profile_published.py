"""Predicted vs published latency for the rows in shared/reference/published_latency.md.

Builds the published architectures with TensorFlow (weights=None: latency does
not need trained weights), converts them as the sources did, runs edgekit's
estimator on the matching device profiles and prints predicted vs published
with the ratio. Needs the convert extra (TensorFlow); the estimator itself does not.

    .venv/bin/python scripts/bench_profile_published.py [--work-dir DIR] [--markdown]

Models:
- MobileNet v1 1.0 224: ``keras.applications.MobileNet`` with a fixed batch of 1, float32 and full-int8
  (uint8 I/O like the published quant model), random representative data.
- Inception v1 224: not in keras.applications; APPROXIMATED here by a GoogLeNet built layer by layer after
  TF-slim's inception_v1 (3x3 instead of 5x5 in the third branch, batch norm folded, 1001 classes).
- EfficientDet-Lite0 and EfficientNet-EdgeTpu-S are not built (no faithful Keras definition offline); their
  rows are listed as skipped.

Each row says its role: "fit" rows set one fitted figure of the profile (so they match by construction),
"shared" rows are predicted with figures fitted on another device of the same core type or accelerator,
"held-out" rows were not used in any fit.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.deps import require
from edgekit.profile.estimator import estimate
from edgekit.profile.registry import ProfileEntry, get_profile
from edgekit.profile.schema import Accelerator, DeviceProfile
from edgekit.tflite.model import load_model

# (label, model key, device id, threads, clock override GHz, host CPU only, published ms, role)
ROWS: list[tuple[str, str, str, int, float | None, bool, float, str]] = [
    ("Coral: MobileNet v1 desktop + USB", "mnv1_int8", "coral-usb-desktop", 1, None, False, 2.4, "fit"),
    ("Coral: MobileNet v1 Dev Board", "mnv1_int8", "coral-devboard", 1, None, False, 2.4, "shared"),
    ("Coral: MobileNet v1 desktop CPU", "mnv1_int8", "coral-usb-desktop", 1, None, True, 53.0, "fit"),
    ("Coral: MobileNet v1 embedded CPU (A53)", "mnv1_int8", "coral-devboard", 1, None, True, 164.0, "fit"),
    ("Coral: Inception v1 desktop + USB", "incv1_int8", "coral-usb-desktop", 1, None, False, 3.4, "fit"),
    ("Coral: Inception v1 Dev Board", "incv1_int8", "coral-devboard", 1, None, False, 4.1, "shared"),
    ("Coral: Inception v1 desktop CPU", "incv1_int8", "coral-usb-desktop", 1, None, True, 90.0, "held-out"),
    ("Coral: Inception v1 embedded CPU (A53)", "incv1_int8", "coral-devboard", 1, None, True, 392.0, "held-out"),
    ("TFLite: Pixel 3 CPU MobileNet float", "mnv1_float", "pixel3-cpu", 4, None, False, 23.9, "fit"),
    ("TFLite: Pixel 3 CPU MobileNet quant", "mnv1_int8", "pixel3-cpu", 4, None, False, 13.4, "fit"),
    ("TFLite: Pixel 4 CPU MobileNet float", "mnv1_float", "pixel4-cpu", 4, None, False, 14.0, "fit"),
    ("TFLite: Pixel 4 CPU MobileNet quant", "mnv1_int8", "pixel4-cpu", 4, None, False, 5.0, "fit"),
    ("TFLite: Pixel 4 GPU MobileNet float", "mnv1_float", "pixel4-gpu", 4, None, False, 9.0, "fit"),
    ("Q-engineering: Pi 4 @1.95 GHz MobileNet v1 quant", "mnv1_int8", "rpi4b", 4, 1.95, False, 26.0, "fit"),
]
SKIPPED = [
    "Coral: EfficientNet-EdgeTpu-S desktop + USB 5.1 ms / Dev Board 5.5 ms (model not built)",
    "Pi 4 / Pi 5 EfficientDet-Lite0 rows (model not built; used only for thread curves and the A72 fp32/int8 ratio)",
    "Pixel 3 GPU MobileNet float 6.45 ms (no Pixel 3 GPU profile)",
]


def _representative(shape: tuple[int, ...]) -> Any:
    def gen() -> Any:
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.uniform(-1, 1, shape).astype(np.float32)]

    return gen


def _convert(tf: Any, model: Any, int8: bool) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _representative(tuple(model.inputs[0].shape))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
    return bytes(conv.convert())


def inception_v1(tf: Any) -> Any:
    """GoogLeNet after TF-slim's inception_v1 (an approximation of the published model)."""
    layers = tf.keras.layers

    def cbr(x: Any, filters: int, kernel: int, strides: int = 1) -> Any:
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    def block(x: Any, a: int, b1: int, b2: int, c1: int, c2: int, d: int) -> Any:
        br_a = cbr(x, a, 1)
        br_b = cbr(cbr(x, b1, 1), b2, 3)
        br_c = cbr(cbr(x, c1, 1), c2, 3)
        br_d = cbr(layers.MaxPooling2D(3, strides=1, padding="same")(x), d, 1)
        return layers.Concatenate()([br_a, br_b, br_c, br_d])

    inp = tf.keras.Input((224, 224, 3), batch_size=1)
    x = cbr(inp, 64, 7, 2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = cbr(x, 64, 1)
    x = cbr(x, 192, 3)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = block(x, 64, 96, 128, 16, 32, 32)
    x = block(x, 128, 128, 192, 32, 96, 64)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for cfg in ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
                (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)):
        x = block(x, *cfg)
    x = layers.MaxPooling2D(2, strides=2, padding="same")(x)
    x = block(x, 256, 160, 320, 32, 128, 128)
    x = block(x, 384, 192, 384, 48, 128, 128)
    x = layers.AveragePooling2D(7)(x)
    x = layers.Conv2D(1001, 1)(x)
    x = layers.Reshape((1001,))(x)
    return tf.keras.Model(inp, layers.Softmax()(x))


def build_models(work: Path) -> dict[str, Path]:
    paths = {k: work / f"{k}.tflite" for k in ("mnv1_float", "mnv1_int8", "incv1_int8")}
    if all(p.is_file() and p.stat().st_size for p in paths.values()):
        return paths
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = require("tensorflow", "Building the published architectures")
    tf.keras.utils.set_random_seed(0)
    print("building MobileNet v1 and Inception v1 (approx.) with TensorFlow...", file=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):  # the converter prints to stdout; keep stdout for the table
        if not (paths["mnv1_float"].is_file() and paths["mnv1_int8"].is_file()):
            mnv1 = tf.keras.applications.MobileNet(
                weights=None, input_tensor=tf.keras.Input((224, 224, 3), batch_size=1))
            paths["mnv1_float"].write_bytes(_convert(tf, mnv1, False))
            paths["mnv1_int8"].write_bytes(_convert(tf, mnv1, True))
        if not paths["incv1_int8"].is_file():
            paths["incv1_int8"].write_bytes(_convert(tf, inception_v1(tf), True))
    return paths


def row_profile(device: str, clock_ghz: float | None, host_only: bool) -> ProfileEntry:
    entry = get_profile(device)
    prof: DeviceProfile = entry.profile
    if host_only:
        prof = dataclasses.replace(prof, accelerator=Accelerator.CPU, edgetpu=None, gpu=None)
    if clock_ghz is not None:
        hw = prof.hardware
        s = clock_ghz / hw.clock_ghz
        prof = dataclasses.replace(prof, hardware=dataclasses.replace(
            hw, clock_ghz=clock_ghz, peak_fp32_gmacs_per_core=hw.peak_fp32_gmacs_per_core * s,
            peak_int8_gmacs_per_core=hw.peak_int8_gmacs_per_core * s))
    return dataclasses.replace(entry, profile=prof)


def _scaled(entry: ProfileEntry, dtype: str, factor: float) -> ProfileEntry:
    """The profile with every class efficiency of ``dtype`` (CPU, or the GPU table) multiplied by ``factor``."""
    prof = entry.profile

    def scale(table: Any) -> Any:
        return dataclasses.replace(table, **{f.name: min(1.0, getattr(table, f.name) * factor)
                                             for f in dataclasses.fields(table)})

    if prof.gpu is not None:
        prof = dataclasses.replace(prof, gpu=dataclasses.replace(prof.gpu, efficiency=scale(prof.gpu.efficiency)))
    elif prof.edgetpu is not None:
        prof = dataclasses.replace(prof, edgetpu=dataclasses.replace(
            prof.edgetpu, efficiency=min(1.0, prof.edgetpu.efficiency * factor)))
    else:
        effs = prof.efficiency
        prof = dataclasses.replace(prof, efficiency=dataclasses.replace(
            effs, **{dtype: scale(getattr(effs, dtype))}))
    return dataclasses.replace(entry, profile=prof)


def refit(models: dict[str, Any]) -> None:
    """Re-derive each "fit" row's figure: the factor on the shipped efficiency that reproduces the row exactly.

    A factor of ~1.00 means the shipped profile holds the value this procedure gives (rounded to 2 digits).
    The two Coral USB rows are solved together (efficiency and invoke overhead) and are only reported here.
    """
    print("\nRe-fit check (factor on the shipped efficiency that reproduces each fit row exactly):")
    for label, key, device, threads, clock, host_only, published, role in ROWS:
        if role != "fit":
            continue
        base = row_profile(device, clock, host_only)
        dtype = "int8" if key.endswith("int8") else "float32"
        lo, hi = 0.05, 20.0
        for _ in range(40):
            mid = (lo * hi) ** 0.5
            if estimate(models[key], _scaled(base, dtype, mid), threads).latency_ms > published:
                lo = mid
            else:
                hi = mid
        print(f"  {label}: x{hi:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work-dir", type=Path, default=None, help="keep/reuse the built .tflite files here")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table (for docs/BENCHMARKS.md)")
    ap.add_argument("--refit", action="store_true", help="also re-derive the fitted figure of each 'fit' row")
    args = ap.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="edgekit_bench_profile_"))
    work.mkdir(parents=True, exist_ok=True)
    paths = build_models(work)
    models = {k: load_model(p) for k, p in paths.items()}
    results = []
    for label, key, device, threads, clock, host_only, published, role in ROWS:
        entry = row_profile(device, clock, host_only)
        est = estimate(models[key], entry, threads)
        where = f"{device}{' (host CPU only)' if host_only else ''}{f' @ {clock} GHz' if clock else ''}"
        results.append((label, where, threads, published, est.latency_ms, est.latency_ms / published, role))
    headers = ["published row", "profile", "threads", "published ms", "estimated ms", "ratio", "role"]
    body = [[r[0], r[1], str(r[2]), f"{r[3]:g}", f"{r[4]:.2f}", f"{r[5]:.2f}", r[6]] for r in results]
    if args.markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "---|" * len(headers))
        for row in body:
            print("| " + " | ".join(row) + " |")
    else:
        from edgekit.report import format_table

        print(format_table(headers, body, align="llrrrrl"))
    mn = [r for r in results if "MobileNet" in r[0]]
    within = sum(1 for r in mn if 0.75 <= r[5] <= 1.25)
    print(f"\nMobileNet v1 rows within +-25%: {within}/{len(mn)}; all rows within +-25%: "
          f"{sum(1 for r in results if 0.75 <= r[5] <= 1.25)}/{len(results)} (estimates, not measurements)")
    print("Skipped: " + "; ".join(SKIPPED))
    if args.refit:
        refit(models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
