"""Build the architectures of the published-latency dataset, the way each source ran them, as .tflite files.

Every row of ``device_profiles/published/*.csv`` that a shipped profile can use (see
:mod:`edgekit.profile.published`) names an architecture, a variant, an input size, a width multiplier
and a dtype. :func:`build_for_row` maps it to a :class:`Build`; :func:`build` makes that model with Keras 3
(``weights=None``: latency does not depend on the weights), saves it as ``.keras`` and converts it with
**edgekit's own converter** (``edgekit.host.convert.pipeline.run_convert``) at batch 1: float32
(``--quantize none``) or full int8 (synthetic calibration: latency does not depend on the ranges). Detection
models get LiteRT's ``TFLite_Detection_PostProcess`` custom op appended, as the published files have it.

Files are cached OUTSIDE the repository in ``$EDGEKIT_PUBLISHED_CACHE`` (default
``~/.cache/edgekit-published-models``): ``<key>.tflite`` and ``<key>.json`` (how it was built). Nothing here
is committed; every script that needs a model builds it once and reuses the file.

    .venv/bin/python scripts/published_models.py --list            # what the dataset needs, what is built
    .venv/bin/python scripts/published_models.py --build [KEY ...] # build (one subprocess per model)

Fidelity (also in ``device_profiles/published/MODELS.md``): "faithful" = the Keras application the source's
network is; "close" = the same network with a named difference; "approximation" = rebuilt from the paper or
the reference code's layer list. Every estimate for an approximated model carries that caveat.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "device_profiles" / "published"
sys.path.insert(0, str(ROOT))

from edgekit.profile.published import PublishedRow, load_dataset, usable_rows  # noqa: E402

CACHE_ENV = "EDGEKIT_PUBLISHED_CACHE"
BUILDER_VERSION = 3  # bump to rebuild every cached model (the .json records it)


def cache_dir() -> Path:
    d = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "edgekit-published-models")
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass(frozen=True)
class Build:
    """One model to build: architecture, input size, width multiplier, dtype and options."""

    arch: str
    size: tuple[int, int]
    dtype: str  # float32 | int8
    dm: float = 1.0
    options: tuple[tuple[str, Any], ...] = ()
    fidelity: str = "faithful"
    note: str = ""

    @property
    def key(self) -> str:
        opts = "".join(f"-{k}{v}" for k, v in self.options)
        return f"{self.arch}-{self.size[0]}x{self.size[1]}-dm{self.dm:g}{opts}-{self.dtype}"

    def opt(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


# --------------------------------------------------------------------------------------- row -> build

def _dtype(row: PublishedRow) -> str:
    return "int8" if row.dtype in ("int8", "uint8") else "float32"


def _size(row: PublishedRow, default: int) -> tuple[int, int]:
    return row.input_size or (default, default)


_EFFNET_LITE = {"0": 224, "1": 240, "2": 260, "3": 280, "4": 300}
_EDET_LITE = {"lite0": 320, "lite1": 384, "lite2": 448, "lite3": 512, "lite3x": 640, "lite4": 640}


def build_for_row(row: PublishedRow) -> Build | str:
    """The model a row ran, or why it is not built."""
    m, v, dt = row.model, row.variant, _dtype(row)
    dm = row.depth_multiplier or 1.0
    if m == "MobileNetV1":
        if "0.75 depth" in v:
            return "SSD variant"
        return Build("mobilenet_v1", _size(row, 224), dt, dm, fidelity="faithful",
                     note="keras.applications.MobileNet(alpha=dm), 1001 classes")
    if m == "MobileNetV2":
        return Build("mobilenet_v2", _size(row, 224), dt, dm, note="keras.applications.MobileNetV2(alpha=dm), 1001 classes")
    if m in ("MobileNetV3Large", "MobileNetV3Small"):
        mini = "minimalistic" in v
        return Build("mobilenet_v3_" + ("large" if m.endswith("Large") else "small"), _size(row, 224), dt, dm,
                     (("mini", 1),) if mini else (), note="keras.applications.MobileNetV3*(include_preprocessing=False)")
    if m == "InceptionV3":
        return Build("inception_v3", _size(row, 299), dt, fidelity="close",
                     note="keras.applications.InceptionV3, 1001 classes (TF-slim's hosted file; 299 when not stated)")
    if m == "InceptionResNetV2":
        return Build("inception_resnet_v2", _size(row, 299), dt, fidelity="close",
                     note="keras.applications.InceptionResNetV2, 1001 classes (299 when not stated)")
    if m == "ResNet50V1":
        return Build("resnet50", _size(row, 299), dt, fidelity="close",
                     note="keras.applications.ResNet50: stride 2 on the first 1x1 of a stage (TF-slim: on the 3x3)")
    if m in ("ResNet50V2", "ResNet101V2", "ResNet152V2"):
        return Build(m.lower(), _size(row, 299), dt, note=f"keras.applications.{m}, 1001 classes (299 when not stated)")
    if m in ("VGG16", "VGG19"):
        return Build(m.lower(), _size(row, 224), dt, note=f"keras.applications.{m} with its FC head")
    if m == "DenseNet":
        return Build("densenet121", _size(row, 224), dt, fidelity="close",
                     note="depth not stated by the sources: keras.applications.DenseNet121")
    if m == "NASNetMobile":
        return Build("nasnet_mobile", _size(row, 224), dt, note="keras.applications.NASNetMobile (224 when not stated)")
    if m == "NASNetLarge":
        return Build("nasnet_large", _size(row, 331), dt, note="keras.applications.NASNetLarge (331 when not stated)")
    if m == "InceptionV1":
        return Build("inception_v1", _size(row, 224), dt, fidelity="approximation",
                     note="GoogLeNet after TF-slim inception_v1 (BN, 1001 classes); no Keras application")
    if m == "InceptionV4":
        return Build("inception_v4", _size(row, 299), dt, fidelity="approximation",
                     note="Inception-v4 from the paper's figures (Szegedy et al. 2016), 1001 classes")
    if m == "SqueezeNet":
        return Build("squeezenet_v10", _size(row, 224), dt, fidelity="approximation",
                     note="SqueezeNet v1.0 (TFLite hosted only v1.0); Keras layers, ReLU, 1001 classes")
    if m == "MnasNet":
        return Build("mnasnet_b1", _size(row, 224), dt, dm, fidelity="approximation",
                     note="MnasNet without SE (tensorflow/tpu mnasnet_b1 blocks): the hosted files' 74.1% top-1 "
                          "matches the SE-free MnasNet of the paper's first version")
    if m == "EfficientNet-Lite":
        n = v.rsplit("lite", 1)[-1]
        if n not in _EFFNET_LITE:
            return f"unknown EfficientNet-Lite variant {v!r}"
        s = _EFFNET_LITE[n]
        return Build("efficientnet_lite", (s, s), dt, options=(("n", int(n)),), fidelity="close",
                     note="tensorflow/tpu efficientnet_lite_builder: B0 blocks, ReLU6, no SE, stem/head not scaled; "
                          "input size from the builder (the README does not state it)")
    if m == "EfficientNet-EdgeTPU":
        size = row.input_size or ((224, 224) if v.endswith("-S") else (240, 240))
        which = v.rsplit("-", 1)[-1]
        if which not in ("S", "M", "L"):
            return f"unknown EfficientNet-EdgeTpu variant {v!r}"
        return Build("efficientnet_edgetpu", size, dt, options=(("v", which),), fidelity="close",
                     note="tensorflow/tpu efficientnet_edgetpu_builder blocks (fused 3x3 expansions early), ReLU")
    if m == "UNet-MobileNetV2":
        return Build("unet_mobilenet_v2", _size(row, 128), dt, fidelity="approximation",
                     note="the TF segmentation tutorial's U-Net: MobileNetV2 encoder + pix2pix upsample decoder")
    if m == "DeepLabV3-MobileNetV2":
        return Build("deeplab_v3_mobilenet_v2", _size(row, 513), dt, fidelity="approximation",
                     note="MobileNetV2 (output stride 16, dilated last stages) + ASPP-lite + 21 classes + bilinear "
                          "upsample + ARG_MAX (Coral's file returns the class map)")
    if m == "EfficientDet-Lite":
        if v not in _EDET_LITE:
            return f"unknown EfficientDet-Lite variant {v!r}"
        s = _EDET_LITE[v]
        return Build("efficientdet_lite", _size(row, s), dt, options=(("v", v),), fidelity="approximation",
                     note="google/automl hparams (BiFPN repeats/filters, box/class repeats, ReLU6, sum fusion) on "
                          "EfficientNet-Lite; 90 classes, 9 anchors, TFLite_Detection_PostProcess appended")
    if m in ("SSD-MobileNetV1", "SSD-MobileNetV2", "SSDLite-MobileNetV2", "SSDLite-MobileNetV1",
             "SSDLite-MobileNetV3Large", "SSDLite-MobileNetV3Small"):
        size = _size(row, 300)
        note = "TF OD API SSD layout: backbone + 4 extra feature maps + per-map box/class heads, 91 classes, " \
               "TFLite_Detection_PostProcess appended"
        if row.source == "coral.ai benchmarks" and size == (224, 224):
            size = (300, 300)
            note += "; the page prints 224x224 but Coral's SSD files are 300x300 (built at 300)"
        options: tuple[tuple[str, Any], ...] = ()
        if m == "SSD-MobileNetV2":
            # the TF1 zoo's configs: ssd_mobilenet_v2_quantized_300x300_coco (the int8 files: Coral's, the hosted
            # quantized one) has 1x1 box/class heads and plain extra layers; ssd_mobilenet_v2_coco (float) has
            # 3x3 heads and depthwise-separable extra layers (feature_extractor use_depthwise: true)
            options = (("head", 1),) if dt == "int8" else (("dwextra", 1),)
            note += ("; int8: ssd_mobilenet_v2_quantized_300x300_coco (1x1 heads)" if dt == "int8"
                     else "; float: ssd_mobilenet_v2_coco (3x3 heads, depthwise extra layers)")
        if m == "SSD-MobileNetV1" and dt == "int8":
            # ssd_mobilenet_v1_quantized_300x300_coco14_sync.config (the TF1 zoo's int8 file, Coral's): 1x1 box/class
            # heads (convolutional_box_predictor kernel_size: 1); 3x3 heads would add 12 M parameters
            options = (("head", 1),)
            note += "; int8: ssd_mobilenet_v1_quantized_300x300_coco14_sync (1x1 heads)"
        return Build(m.lower().replace("-", "_"), size, dt, dm, options, fidelity="approximation", note=note)
    if m == "SSDLite-MobileDet":
        which = "cpu" if "_cpu" in v else "edgetpu" if "_edgetpu" in v else ""
        if not which:
            return f"MobileDet variant {v!r} is not built (the DSP/GPU search spaces have no usable rows)"
        return Build("ssdlite_mobiledet", _size(row, 320), dt, options=(("v", which),), fidelity="approximation",
                     note=f"TF OD API mobiledet_{which}_backbone layer list (C4/C5) + SSDLite maps and heads, "
                          "91 classes, TFLite_Detection_PostProcess appended")
    if m == "SSDLite-MobileNetEdgeTPU":
        return Build("ssdlite_mobilenet_edgetpu", _size(row, 320), dt, fidelity="approximation",
                     note="TF-slim mobilenet_v3.V3_EDGETPU (layer_18 expansion + layer_23) + SSDLite maps and heads, "
                          "91 classes, TFLite_Detection_PostProcess appended")
    if m in ("SSD-MobileNetV1-FPN", "SSD-ResNet50V1-FPN"):
        return Build(m.lower().replace("-", "_"), _size(row, 640), dt, fidelity="approximation",
                     note="backbone + FPN P3-P7 (256 ch) + weight-shared 4x conv3x3 box/class towers, 6 anchors, "
                          "91 classes, TFLite_Detection_PostProcess appended")
    return f"{m} is not built (no faithful Keras definition here; see MODELS.md)"


# --------------------------------------------------------------------------------------- architectures

def _keras() -> Any:
    import keras

    return keras


def _inp(b: Build) -> Any:
    return _keras().Input((b.size[0], b.size[1], 3), batch_size=1)


def _app(name: str, b: Build, **kw: Any) -> Any:
    keras = _keras()
    return getattr(keras.applications, name)(weights=None, input_tensor=_inp(b), **kw)


def _cbr(x: Any, filters: int, kernel: int | tuple[int, int], strides: int = 1, padding: str = "same",
         act: str = "relu", dilation: int = 1) -> Any:
    L = _keras().layers
    x = L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, dilation_rate=dilation)(x)
    x = L.BatchNormalization(epsilon=1e-3)(x)
    return L.Activation(act)(x) if act else x


def _classifier(x: Any, classes: int = 1001, conv: bool = False) -> Any:
    L = _keras().layers
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(classes)(x)
    return L.Softmax()(x)


def inception_v1(b: Build) -> Any:
    L = _keras().layers

    def block(x: Any, a: int, b1: int, b2: int, c1: int, c2: int, d: int) -> Any:
        br_a = _cbr(x, a, 1)
        br_b = _cbr(_cbr(x, b1, 1), b2, 3)
        br_c = _cbr(_cbr(x, c1, 1), c2, 3)  # TF-slim uses 3x3 here (the paper: 5x5)
        br_d = _cbr(L.MaxPooling2D(3, strides=1, padding="same")(x), d, 1)
        return L.Concatenate()([br_a, br_b, br_c, br_d])

    inp = _inp(b)
    x = _cbr(inp, 64, 7, 2)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = _cbr(x, 64, 1)
    x = _cbr(x, 192, 3)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = block(x, 64, 96, 128, 16, 32, 32)
    x = block(x, 128, 128, 192, 32, 96, 64)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    for cfg in ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
                (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)):
        x = block(x, *cfg)
    x = L.MaxPooling2D(2, strides=2, padding="same")(x)
    x = block(x, 256, 160, 320, 32, 128, 128)
    x = block(x, 384, 192, 384, 48, 128, 128)
    return _keras().Model(inp, _classifier(x))


def inception_v4(b: Build) -> Any:
    """Inception-v4 (Szegedy et al. 2016, figures 3-9), as TF-slim's inception_v4 builds it."""
    L = _keras().layers
    cat = L.Concatenate

    def stem(x: Any) -> Any:
        x = _cbr(x, 32, 3, 2, "valid")
        x = _cbr(x, 32, 3, 1, "valid")
        x = _cbr(x, 64, 3)
        x = cat()([L.MaxPooling2D(3, 2, "valid")(x), _cbr(x, 96, 3, 2, "valid")])
        a = _cbr(_cbr(x, 64, 1), 96, 3, 1, "valid")
        c = _cbr(x, 64, 1)
        c = _cbr(c, 64, (1, 7))
        c = _cbr(c, 64, (7, 1))
        c = _cbr(c, 96, 3, 1, "valid")
        x = cat()([a, c])
        return cat()([_cbr(x, 192, 3, 2, "valid"), L.MaxPooling2D(3, 2, "valid")(x)])

    def block_a(x: Any) -> Any:
        return cat()([
            _cbr(x, 96, 1),
            _cbr(_cbr(x, 64, 1), 96, 3),
            _cbr(_cbr(_cbr(x, 64, 1), 96, 3), 96, 3),
            _cbr(L.AveragePooling2D(3, 1, "same")(x), 96, 1),
        ])

    def reduction_a(x: Any) -> Any:
        return cat()([
            _cbr(x, 384, 3, 2, "valid"),
            _cbr(_cbr(_cbr(x, 192, 1), 224, 3), 256, 3, 2, "valid"),
            L.MaxPooling2D(3, 2, "valid")(x),
        ])

    def block_b(x: Any) -> Any:
        return cat()([
            _cbr(x, 384, 1),
            _cbr(_cbr(_cbr(x, 192, 1), 224, (1, 7)), 256, (7, 1)),
            _cbr(_cbr(_cbr(_cbr(_cbr(x, 192, 1), 192, (7, 1)), 224, (1, 7)), 224, (7, 1)), 256, (1, 7)),
            _cbr(L.AveragePooling2D(3, 1, "same")(x), 128, 1),
        ])

    def reduction_b(x: Any) -> Any:
        return cat()([
            _cbr(_cbr(x, 192, 1), 192, 3, 2, "valid"),
            _cbr(_cbr(_cbr(_cbr(x, 256, 1), 256, (1, 7)), 320, (7, 1)), 320, 3, 2, "valid"),
            L.MaxPooling2D(3, 2, "valid")(x),
        ])

    def block_c(x: Any) -> Any:
        b1 = _cbr(x, 384, 1)
        b2 = _cbr(_cbr(_cbr(x, 384, 1), 448, (3, 1)), 512, (1, 3))
        return cat()([
            _cbr(x, 256, 1),
            _cbr(b1, 256, (1, 3)), _cbr(b1, 256, (3, 1)),
            _cbr(b2, 256, (3, 1)), _cbr(b2, 256, (1, 3)),
            _cbr(L.AveragePooling2D(3, 1, "same")(x), 256, 1),
        ])

    inp = _inp(b)
    x = stem(inp)
    for _ in range(4):
        x = block_a(x)
    x = reduction_a(x)
    for _ in range(7):
        x = block_b(x)
    x = reduction_b(x)
    for _ in range(3):
        x = block_c(x)
    return _keras().Model(inp, _classifier(x))


def squeezenet_v10(b: Build) -> Any:
    """SqueezeNet v1.0 (Iandola et al. 2016): conv1 96 7x7/2, max pools after conv1, fire4 and fire8."""
    L = _keras().layers

    def fire(x: Any, s: int, e: int) -> Any:
        x = L.Conv2D(s, 1, activation="relu")(x)
        return L.Concatenate()([L.Conv2D(e, 1, activation="relu")(x),
                                L.Conv2D(e, 3, padding="same", activation="relu")(x)])

    inp = _inp(b)
    x = L.Conv2D(96, 7, strides=2, activation="relu")(inp)
    x = L.MaxPooling2D(3, 2)(x)
    x = fire(x, 16, 64)
    x = fire(x, 16, 64)
    x = fire(x, 32, 128)
    x = L.MaxPooling2D(3, 2)(x)
    x = fire(x, 32, 128)
    x = fire(x, 48, 192)
    x = fire(x, 48, 192)
    x = fire(x, 64, 256)
    x = L.MaxPooling2D(3, 2)(x)
    x = fire(x, 64, 256)
    x = L.Conv2D(1001, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return _keras().Model(inp, L.Softmax()(x))


# ---- MBConv networks (EfficientNet-Lite, EfficientNet-EdgeTPU, MnasNet), after tensorflow/tpu's builders

@dataclass(frozen=True)
class BlockArgs:
    repeats: int
    kernel: int
    stride: int
    expand: int
    cin: int
    cout: int
    se: float = 0.0
    skip: bool = True
    fused: bool = False


def decode_block(s: str) -> BlockArgs:
    parts = {p[0]: p[1:] for p in s.split("_") if p and p[0] in "rkseio" and p != "noskip" and not p.startswith("se")}
    se = next((float(p[2:]) for p in s.split("_") if p.startswith("se")), 0.0)
    return BlockArgs(int(parts["r"]), int(parts["k"]), int(parts["s"][0]), int(parts["e"]), int(parts["i"]),
                     int(parts["o"]), se, "noskip" not in s, "_c1" in s)


def round_filters(filters: float, width: float, divisor: int = 8) -> int:
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new < 0.9 * filters:
        new += divisor
    return int(new)


def mbconv_features(x: Any, blocks: list[str], width: float, depth: float, act: str, fix_head_stem: bool,
                    stem: int = 32, endpoints: dict[int, Any] | None = None, dilate_from: int | None = None) -> Any:
    """Stem + MBConv blocks (tensorflow/tpu efficientnet_model.Model without the head); ``endpoints``
    collects the last feature map of every stride (2, 4, 8, 16, 32)."""
    import math

    L = _keras().layers
    x = _cbr(x, round_filters(stem, 1.0 if fix_head_stem else width), 3, 2, act=act)
    stride = 2
    decoded = [decode_block(s) for s in blocks]
    for bi, ba in enumerate(decoded):
        cin = round_filters(ba.cin, width)
        cout = round_filters(ba.cout, width)
        reps = ba.repeats if fix_head_stem and bi in (0, len(decoded) - 1) else int(math.ceil(depth * ba.repeats))
        for r in range(reps):
            s = ba.stride if r == 0 else 1
            block_in = x
            in_ch = int(x.shape[-1])
            cin_r = cin if r == 0 else cout
            if ba.fused:
                h = _cbr(x, cin_r * ba.expand, ba.kernel, s, act=act) if ba.expand != 1 else x
            else:
                h = _cbr(x, cin_r * ba.expand, 1, act=act) if ba.expand != 1 else x
                h = L.DepthwiseConv2D(ba.kernel, strides=s, padding="same", use_bias=False)(h)
                h = L.BatchNormalization(epsilon=1e-3)(h)
                h = L.Activation(act)(h)
            if ba.se:
                se_ch = max(1, int(cin_r * ba.se))
                g = L.GlobalAveragePooling2D(keepdims=True)(h)
                g = L.Conv2D(se_ch, 1, activation=act)(g)
                g = L.Conv2D(int(h.shape[-1]), 1, activation="sigmoid")(g)
                h = L.Multiply()([h, g])
            h = L.Conv2D(cout, 1, use_bias=False)(h)
            h = L.BatchNormalization(epsilon=1e-3)(h)
            if ba.skip and s == 1 and in_ch == cout:
                h = L.Add()([h, block_in])
            x = h
            stride *= s
            if endpoints is not None:
                endpoints[stride] = x
    return x


EFFNET_B0_BLOCKS = ["r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r2_k5_s22_e6_i24_o40",
                    "r3_k3_s22_e6_i40_o80", "r3_k5_s11_e6_i80_o112", "r4_k5_s22_e6_i112_o192",
                    "r1_k3_s11_e6_i192_o320"]
EFFNET_LITE_PARAMS = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2), 3: (1.2, 1.4), 4: (1.4, 1.8)}
EDGETPU_BLOCKS = ["r1_k3_s11_e4_i24_o24_c1_noskip", "r2_k3_s22_e8_i24_o32_c1", "r4_k3_s22_e8_i32_o48_c1",
                  "r5_k5_s22_e8_i48_o96", "r4_k5_s11_e8_i96_o144", "r2_k5_s22_e8_i144_o192"]
EDGETPU_PARAMS = {"S": (1.0, 1.0), "M": (1.0, 1.1), "L": (1.2, 1.4)}
MNASNET_B1_BLOCKS = ["r1_k3_s11_e1_i32_o16_noskip", "r3_k3_s22_e3_i16_o24", "r3_k5_s22_e3_i24_o40",
                     "r3_k5_s22_e6_i40_o80", "r2_k3_s11_e6_i80_o96", "r4_k5_s22_e6_i96_o192",
                     "r1_k3_s11_e6_i192_o320_noskip"]


def _mbconv_classifier(b: Build, blocks: list[str], width: float, depth: float, act: str, fix: bool,
                       head: int, classes: int) -> Any:
    inp = _inp(b)
    x = mbconv_features(inp, blocks, width, depth, act, fix)
    x = _cbr(x, head, 1, act=act)
    return _keras().Model(inp, _classifier(x, classes))


def efficientnet_lite(b: Build) -> Any:
    width, depth = EFFNET_LITE_PARAMS[int(b.opt("n"))]
    return _mbconv_classifier(b, EFFNET_B0_BLOCKS, width, depth, "relu6", True, 1280, 1000)


def efficientnet_edgetpu(b: Build) -> Any:
    width, depth = EDGETPU_PARAMS[str(b.opt("v"))]
    return _mbconv_classifier(b, EDGETPU_BLOCKS, width, depth, "relu", False,
                              round_filters(1280, width), 1001)


def mnasnet_b1(b: Build) -> Any:
    inp = _inp(b)
    x = mbconv_features(inp, MNASNET_B1_BLOCKS, b.dm, 1.0, "relu", False)
    x = _cbr(x, 1280, 1)  # mnasnet_model: the head stays 1280 at every depth multiplier
    return _keras().Model(inp, _classifier(x, 1000))


# ---- segmentation

def unet_mobilenet_v2(b: Build) -> Any:
    keras = _keras()
    L = keras.layers
    base = keras.applications.MobileNetV2(input_tensor=_inp(b), include_top=False, weights=None)
    names = ["block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
             "block_16_project"]
    skips = [base.get_layer(n).output for n in names]
    x = skips[-1]
    for filters, skip in zip((512, 256, 128, 64), reversed(skips[:-1]), strict=True):
        x = L.Conv2DTranspose(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Concatenate()([x, skip])
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same")(x)
    return keras.Model(base.input, x)


def deeplab_v3_mobilenet_v2(b: Build) -> Any:
    """MobileNetV2 at output stride 16 (the last stride-2 replaced by dilation 2), DeepLab's mobile ASPP
    (image pooling + 1x1), 21 classes, bilinear upsampling to the input size."""
    keras = _keras()
    L = keras.layers
    inp = _inp(b)
    blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
              (6, 320, 1, 1)]
    x = _cbr(inp, 32, 3, 2, act="relu6")
    stride, dilation = 2, 1
    for t, c, n, s in blocks:
        for i in range(n):
            st = s if i == 0 else 1
            if st == 2 and stride >= 16:
                st, dilation = 1, dilation * 2
            block_in = x
            h = _cbr(x, int(x.shape[-1]) * t, 1, act="relu6") if t != 1 else x
            h = L.DepthwiseConv2D(3, strides=st, padding="same", use_bias=False, dilation_rate=dilation if st == 1 else 1)(h)
            h = L.BatchNormalization()(h)
            h = L.ReLU(6.0)(h)
            h = L.Conv2D(c, 1, use_bias=False)(h)
            h = L.BatchNormalization()(h)
            if st == 1 and int(block_in.shape[-1]) == c:
                h = L.Add()([h, block_in])
            x = h
            stride *= st
    hw = (int(x.shape[1]), int(x.shape[2]))
    pool = L.AveragePooling2D(pool_size=hw)(x)
    pool = _cbr(pool, 256, 1)
    pool = L.UpSampling2D(size=hw, interpolation="bilinear")(pool)
    y = _cbr(x, 256, 1)
    y = L.Concatenate()([pool, y])
    y = _cbr(y, 256, 1)
    y = L.Conv2D(21, 1)(y)
    y = L.Resizing(b.size[0], b.size[1], interpolation="bilinear")(y)
    return keras.Model(inp, y)


# ---- detection (the custom post-processing op is appended to the converted file, see append_postprocess)

def _ssd_heads(feats: list[Any], anchors: list[int], classes: int, lite: bool, head_act: str,
               kernel: int = 3) -> tuple[Any, Any]:
    """Per-map box (4A) and class ((C+1)A) predictors, reshaped and concatenated; class scores through
    a sigmoid (the OD API's score converter)."""
    L = _keras().layers
    boxes, scores = [], []
    for f, a in zip(feats, anchors, strict=True):
        if lite:
            def sep(x: Any, filters: int) -> Any:
                x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
                x = L.BatchNormalization()(x)
                x = L.Activation(head_act)(x)
                return L.Conv2D(filters, 1)(x)
            bx, cl = sep(f, 4 * a), sep(f, classes * a)
        else:
            bx = L.Conv2D(4 * a, kernel, padding="same")(f)
            cl = L.Conv2D(classes * a, kernel, padding="same")(f)
        n = int(f.shape[1]) * int(f.shape[2]) * a
        boxes.append(L.Reshape((n, 4))(bx))
        scores.append(L.Reshape((n, classes))(cl))
    box = L.Concatenate(axis=1)(boxes) if len(boxes) > 1 else boxes[0]
    score = L.Concatenate(axis=1)(scores) if len(scores) > 1 else scores[0]
    return box, L.Activation("sigmoid")(score)


def _ssd_extra(x: Any, depths: list[int], lite: bool, act: str) -> list[Any]:
    """The OD API's extra feature maps: 1x1 to depth/2, then 3x3 stride 2 to depth (depthwise in SSDLite)."""
    L = _keras().layers
    out = []
    for d in depths:
        x = _cbr(x, d // 2, 1, act=act)
        if lite:
            x = L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
            x = L.BatchNormalization()(x)
            x = L.Activation(act)(x)
            x = _cbr(x, d, 1, act=act)
        else:
            x = _cbr(x, d, 3, 2, act=act)
        out.append(x)
    return out


def _ssd(b: Build, backbone: str) -> Any:
    keras = _keras()
    lite = b.arch.startswith("ssdlite")
    inp = _inp(b)
    if backbone == "mobilenet_v1":
        base = keras.applications.MobileNet(input_tensor=inp, include_top=False, weights=None, alpha=b.dm)
        f1 = base.get_layer("conv_pw_11_relu").output
        f2 = base.output
        act = "relu6"
    elif backbone == "mobilenet_v2":
        base = keras.applications.MobileNetV2(input_tensor=inp, include_top=False, weights=None, alpha=b.dm)
        f1 = base.get_layer("block_13_expand_relu").output
        f2 = base.output
        act = "relu6"
    else:  # mobilenet_v3 large/small
        cls = keras.applications.MobileNetV3Large if backbone.endswith("large") else keras.applications.MobileNetV3Small
        base = cls(input_tensor=inp, include_top=False, weights=None, include_preprocessing=False, alpha=b.dm)
        # the expansion output of the first block at stride 16 and the last conv (576/960 channels)
        names = [layer.name for layer in base.layers]
        exp = [n for n in names if n.endswith("expanded_conv_12_expand_activation" if backbone.endswith("large")
                                                else "expanded_conv_8_expand_activation")]
        f1 = base.get_layer(exp[0]).output if exp else base.layers[len(names) // 2].output
        f2 = base.output
        act = "relu6"
    feats = [f1, f2] + _ssd_extra(f2, [512, 256, 256, 128], lite or bool(b.opt("dwextra", 0)), act)
    box, score = _ssd_heads(feats, [3, 6, 6, 6, 6, 6], 91, lite, act, kernel=int(b.opt("head", 3)))
    return keras.Model(inp, [box, score])


def ssd_mobilenetv1(b: Build) -> Any:
    return _ssd(b, "mobilenet_v1")


def ssd_mobilenetv2(b: Build) -> Any:
    return _ssd(b, "mobilenet_v2")


def ssdlite_mobilenetv1(b: Build) -> Any:
    return _ssd(b, "mobilenet_v1")


def ssdlite_mobilenetv2(b: Build) -> Any:
    return _ssd(b, "mobilenet_v2")


def ssdlite_mobilenetv3large(b: Build) -> Any:
    return _ssd(b, "mobilenet_v3_large")


def ssdlite_mobilenetv3small(b: Build) -> Any:
    return _ssd(b, "mobilenet_v3_small")


def _fpn_ssd(b: Build, backbone: str) -> Any:
    """OD API SSD-FPN: P3-P7 at 256 channels (top-down nearest upsampling + 1x1 laterals + 3x3 smoothing,
    P6/P7 by 3x3 stride-2 convs) and weight-shared towers of 4 conv3x3-256 (BN, ReLU6) for box and class."""
    keras = _keras()
    L = keras.layers
    inp = _inp(b)
    if backbone == "mobilenet_v1":
        base = keras.applications.MobileNet(input_tensor=inp, include_top=False, weights=None)
        c = [base.get_layer(n).output for n in ("conv_pw_5_relu", "conv_pw_11_relu", "conv_pw_13_relu")]
    else:
        base = keras.applications.ResNet50(input_tensor=inp, include_top=False, weights=None)
        c = [base.get_layer(n).output for n in ("conv3_block4_out", "conv4_block6_out", "conv5_block3_out")]
    lat = [L.Conv2D(256, 1)(f) for f in c]
    p5 = lat[2]
    p4 = L.Add()([lat[1], L.UpSampling2D(2, interpolation="nearest")(p5)])
    p3 = L.Add()([lat[0], L.UpSampling2D(2, interpolation="nearest")(p4)])
    p3, p4 = _cbr(p3, 256, 3, act="relu6"), _cbr(p4, 256, 3, act="relu6")
    p6 = _cbr(p5, 256, 3, 2, act="relu6")
    p7 = _cbr(p6, 256, 3, 2, act="relu6")
    feats = [p3, p4, p5, p6, p7]
    # weight sharing does not change the work per level: separate layers of the same shapes
    boxes, scores = [], []
    for f in feats:
        tb, tc = f, f
        for _ in range(4):
            tb = _cbr(tb, 256, 3, act="relu6")
            tc = _cbr(tc, 256, 3, act="relu6")
        n = int(f.shape[1]) * int(f.shape[2]) * 6
        boxes.append(L.Reshape((n, 4))(L.Conv2D(24, 3, padding="same")(tb)))
        scores.append(L.Reshape((n, 91))(L.Conv2D(6 * 91, 3, padding="same")(tc)))
    box = L.Concatenate(axis=1)(boxes)
    score = L.Activation("sigmoid")(L.Concatenate(axis=1)(scores))
    return keras.Model(inp, [box, score])


def ssd_mobilenetv1_fpn(b: Build) -> Any:
    return _fpn_ssd(b, "mobilenet_v1")


def ssd_resnet50v1_fpn(b: Build) -> Any:
    return _fpn_ssd(b, "resnet50")


# ---- MobileDet and MobileNet-EdgeTPU (TF OD API SSDLite feature extractors)

def _scale8(filters: float, mult: float = 1.0) -> int:
    """The OD API MobileDet rounding: to a multiple of 8, half up, at least 8."""
    return max(8, int(int(filters) * mult / 8 + 0.5) * 8)


def _se(h: Any, hidden: int, act: str) -> Any:
    L = _keras().layers
    g = L.GlobalAveragePooling2D(keepdims=True)(h)
    g = L.Conv2D(hidden, 1, activation=act)(g)
    g = L.Conv2D(int(h.shape[-1]), 1, activation="sigmoid")(g)
    return L.Multiply()([h, g])


def _dw(h: Any, kernel: int, strides: int, act: str) -> Any:
    L = _keras().layers
    h = L.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False)(h)
    h = L.BatchNormalization(epsilon=1e-2)(h)
    return L.Activation(act)(h)


# One MobileDet block per row: (kind, filters, expansion, kernel, stride, residual); kinds: "ibn" inverted
# bottleneck (1x1 expand, kxk depthwise, [SE], 1x1 project), "fused" (kxk expand, 1x1 project), "tucker"
# (1x1 to in*r_in, kxk to out*r_out, 1x1 project; expansion slot = (r_in, r_out)), "ibn0" (no expansion).
# Layer lists of the TF OD API's mobiledet_{cpu,edgetpu}_backbone (arXiv 2004.14525); C4 ends at the mark.
MOBILEDET_CPU: list[tuple[str, int, Any, int, int, bool]] = [
    ("ibn0", 8, 1, 3, 1, False), ("ibn", 16, 4, 3, 2, False), ("ibn", 32, 8, 3, 2, False),
    ("ibn", 32, 4, 3, 1, True), ("ibn", 32, 4, 3, 1, True), ("ibn", 32, 4, 3, 1, True),
    ("ibn", 72, 8, 5, 2, False), ("ibn", 72, 8, 3, 1, True), ("ibn", 72, 4, 5, 1, True), ("ibn", 72, 4, 3, 1, True),
    ("ibn", 72, 8, 3, 1, False), ("ibn", 72, 8, 3, 1, True), ("ibn", 72, 8, 3, 1, True), ("ibn", 72, 8, 3, 1, True),
    ("C4", 0, 0, 0, 0, False),
    ("ibn", 104, 8, 5, 2, False), ("ibn", 104, 4, 5, 1, True), ("ibn", 104, 4, 5, 1, True), ("ibn", 104, 4, 3, 1, True),
    ("ibn", 144, 8, 3, 1, False),
]
MOBILEDET_EDGETPU: list[tuple[str, int, Any, int, int, bool]] = [
    ("tucker", 16, (0.25, 0.75), 3, 1, False),
    ("fused", 16, 8, 3, 2, False), ("fused", 16, 4, 3, 1, True), ("fused", 16, 8, 3, 1, True),
    ("fused", 16, 4, 3, 1, True),
    ("fused", 40, 8, 5, 2, False), ("fused", 40, 4, 3, 1, True), ("fused", 40, 4, 3, 1, True),
    ("fused", 40, 4, 3, 1, True),
    ("ibn", 72, 8, 3, 2, False), ("ibn", 72, 8, 3, 1, True), ("fused", 72, 4, 3, 1, True),
    ("fused", 72, 4, 3, 1, True),
    ("ibn", 96, 8, 5, 1, False), ("ibn", 96, 8, 5, 1, True), ("ibn", 96, 8, 3, 1, True), ("ibn", 96, 8, 3, 1, True),
    ("C4", 0, 0, 0, 0, False),
    ("ibn", 120, 8, 5, 2, False), ("ibn", 120, 8, 3, 1, True), ("ibn", 120, 4, 5, 1, True), ("ibn", 120, 8, 3, 1, True),
    ("ibn", 384, 8, 5, 1, False),
]


def mobiledet_features(x: Any, spec: list[tuple[str, int, Any, int, int, bool]], stem: int, act: str,
                       se: bool) -> tuple[Any, Any]:
    """(C4, C5) of a MobileDet backbone (BN epsilon 0.01 as the extractor's arg scope)."""
    L = _keras().layers

    def conv(h: Any, filters: int, kernel: int, strides: int = 1, a: str | None = act) -> Any:
        h = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(h)
        h = L.BatchNormalization(epsilon=1e-2)(h)
        return L.Activation(a)(h) if a else h

    x = conv(x, _scale8(stem), 3, 2)
    c4 = None
    for kind, filters, e, k, s, residual in spec:
        if kind == "C4":
            c4 = x
            continue
        short, cin = x, int(x.shape[-1])
        if kind == "ibn0":
            h = _dw(x, k, s, act)
            if se:
                h = _se(h, _scale8(cin, 0.25), act)
        elif kind == "ibn":
            h = conv(x, cin * e, 1)
            h = _dw(h, k, s, act)
            if se:
                h = _se(h, _scale8(cin * e, 0.25), act)
        elif kind == "fused":
            h = conv(x, cin * e, k, s)
        else:  # tucker
            h = conv(x, _scale8(cin, e[0]), 1)
            h = conv(h, _scale8(filters, e[1]), k, s)
        h = conv(h, _scale8(filters), 1, a=None)
        x = L.Add()([h, short]) if residual else h
    return c4, x


# MobileNet-EdgeTPU (TF-slim mobilenet_v3.V3_EDGETPU, ReLU, no SE): (kind, filters, expansion, kernel, stride,
# residual); "fused" = kxk expansion conv + 1x1 projection, "ibn" = 1x1 expansion, kxk depthwise, projection.
# An expansion of 1 skips the expansion conv (slim's expanded_conv). The SSD taps layer_18's expansion output
# (stride 16) and layer_23 (stride 32, before the 1280 conv).
MOBILENET_EDGETPU: list[tuple[str, int, int, int, int, bool]] = (
    [("fused", 16, 1, 3, 1, True), ("fused", 32, 8, 3, 2, True)] + [("fused", 32, 4, 3, 1, True)] * 3
    + [("fused", 48, 8, 3, 2, True)] + [("fused", 48, 4, 3, 1, True)] * 3
    + [("ibn", 96, 8, 3, 2, True)] + [("ibn", 96, 4, 3, 1, True)] * 3 + [("ibn", 96, 8, 3, 1, False)]
    + [("ibn", 96, 4, 3, 1, True)] * 3
    + [("ibn", 160, 8, 5, 2, True)] + [("ibn", 160, 4, 5, 1, True)] * 3 + [("ibn", 192, 8, 3, 1, True)]
)


def mobilenet_edgetpu_features(x: Any) -> tuple[Any, Any]:
    L = _keras().layers
    x = _cbr(x, 32, 3, 2)
    tap = None
    for i, (kind, filters, e, k, s, residual) in enumerate(MOBILENET_EDGETPU):
        short, cin = x, int(x.shape[-1])
        h = x
        if kind == "fused":
            if e > 1:
                h = _cbr(h, cin * e, k, s)
        else:
            h = _cbr(h, cin * e, 1)
            if i == 16:  # layer_18 (layer_1 is the stem): its expansion output feeds the first SSD map
                tap = h
            h = L.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False)(h)
            h = L.BatchNormalization(epsilon=1e-3)(h)
            h = L.Activation("relu")(h)
        h = _cbr(h, filters, 1, act="")
        x = L.Add()([h, short]) if residual and s == 1 and cin == filters else h
    return tap, x


def _ssdlite_on(b: Build, c4: Any, c5: Any, inp: Any) -> Any:
    feats = [c4, c5] + _ssd_extra(c5, [512, 256, 256, 128], True, "relu6")
    box, score = _ssd_heads(feats, [3, 6, 6, 6, 6, 6], 91, True, "relu6")
    return _keras().Model(inp, [box, score])


def ssdlite_mobiledet(b: Build) -> Any:
    inp = _inp(b)
    if b.opt("v") == "cpu":
        c4, c5 = mobiledet_features(inp, MOBILEDET_CPU, 16, "hard_swish", se=True)
    else:
        c4, c5 = mobiledet_features(inp, MOBILEDET_EDGETPU, 32, "relu6", se=False)
    return _ssdlite_on(b, c4, c5, inp)


def ssdlite_mobilenet_edgetpu(b: Build) -> Any:
    inp = _inp(b)
    c4, c5 = mobilenet_edgetpu_features(inp)
    return _ssdlite_on(b, c4, c5, inp)


EDET_PARAMS: dict[str, tuple[int, int, int, int]] = {
    # variant: (backbone lite-n, fpn filters, fpn cell repeats, box/class repeats) -- google/automl hparams_config
    "lite0": (0, 64, 3, 3), "lite1": (1, 88, 4, 3), "lite2": (2, 112, 5, 3), "lite3": (3, 160, 6, 4),
    "lite3x": (3, 200, 6, 4), "lite4": (4, 224, 7, 4),
}


def efficientdet_lite(b: Build) -> Any:
    """google/automl EfficientDet-Lite: EfficientNet-Lite backbone (P3-P5), P6/P7 by 1x1 conv + BN + max pool,
    BiFPN with sum fusion (act before the separable conv, BN after), class/box nets of separable convs
    (BN per level, ReLU6), 9 anchors, 90 classes, sigmoid scores."""
    keras = _keras()
    L = keras.layers
    n, filters, cells, repeats = EDET_PARAMS[str(b.opt("v"))]
    width, depth = EFFNET_LITE_PARAMS[n]
    inp = _inp(b)
    ends: dict[int, Any] = {}
    mbconv_features(inp, EFFNET_B0_BLOCKS, width, depth, "relu6", True, endpoints=ends)
    feats = {3: ends[8], 4: ends[16], 5: ends[32]}

    sizes = {lv: (b.size[0], b.size[1]) for lv in range(3, 8)}
    for lv in range(1, 8):  # feature sizes: ceil-halving per level (SAME padding), as automl computes them
        h, w = sizes.get(lv - 1, (b.size[0], b.size[1])) if lv > 1 else (b.size[0], b.size[1])
        sizes[lv] = ((h + 1) // 2, (w + 1) // 2)

    def resample(x: Any, level_from: int, level_to: int) -> Any:
        if int(x.shape[-1]) != filters:
            x = L.Conv2D(filters, 1)(x)
            x = L.BatchNormalization()(x)
        if level_to > level_from:
            for _ in range(level_to - level_from):
                x = L.MaxPooling2D(3, 2, padding="same")(x)
        elif level_to < level_from:
            x = L.Resizing(*sizes[level_to], interpolation="nearest")(x)
        return x

    feats[6] = resample(feats[5], 5, 6)
    feats[7] = resample(feats[6], 6, 7)
    nodes: dict[int, list[Any]] = {lv: [feats[lv]] for lv in range(3, 8)}

    def combine(inputs: list[Any]) -> Any:
        x = L.Add()(inputs)
        x = L.Activation("relu6")(x)
        x = L.SeparableConv2D(filters, 3, padding="same")(x)
        return L.BatchNormalization()(x)

    for _ in range(cells):
        # top-down P6'..P3'', then bottom-up P4''..P7'' (fpn_configs.bifpn_config)
        for lv in range(6, 2, -1):
            ins = [resample(nodes[lv][-1], lv, lv), resample(nodes[lv + 1][-1], lv + 1, lv)]
            nodes[lv].append(combine(ins))
        for lv in range(4, 8):
            ins = [resample(x, lv, lv) for x in nodes[lv]] + [resample(nodes[lv - 1][-1], lv - 1, lv)]
            nodes[lv].append(combine(ins))
        nodes = {lv: [nodes[lv][-1]] for lv in range(3, 8)}
    outs = [nodes[lv][0] for lv in range(3, 8)]

    def head(x: Any, out_ch: int) -> Any:
        for _ in range(repeats):
            x = L.SeparableConv2D(filters, 3, padding="same")(x)
            x = L.BatchNormalization()(x)
            x = L.Activation("relu6")(x)
        return L.SeparableConv2D(out_ch, 3, padding="same")(x)

    boxes, scores = [], []
    for f in outs:
        cnt = int(f.shape[1]) * int(f.shape[2]) * 9
        scores.append(L.Reshape((cnt, 90))(head(f, 9 * 90)))
        boxes.append(L.Reshape((cnt, 4))(head(f, 9 * 4)))
    box = L.Concatenate(axis=1)(boxes)
    score = L.Activation("sigmoid")(L.Concatenate(axis=1)(scores))
    return keras.Model(inp, [box, score])


def keras_app(b: Build) -> Any:
    """Any keras.applications class by name (the held-out zoo of scripts/bench_estimator.py)."""
    name = str(b.opt("cls"))
    kw: dict[str, Any] = {}
    if name.startswith(("MobileNetV3", "EfficientNetV2")):
        kw["include_preprocessing"] = False
    if name.startswith("MobileNet"):
        kw["alpha"] = b.dm
    return _app(name, b, **kw)


# the held-out zoo of `scripts/bench_estimator.py` (never used by `edgekit calibrate`): (class, size, width)
ZOO_APPS: tuple[tuple[str, int, float], ...] = (
    ("MobileNet", 160, 0.5), ("MobileNetV2", 224, 1.0), ("MobileNetV3Small", 224, 1.0), ("MobileNetV3Large", 224, 1.0),
    ("EfficientNetB0", 224, 1.0), ("EfficientNetB1", 240, 1.0), ("EfficientNetV2B0", 224, 1.0), ("ResNet50", 224, 1.0),
    ("ResNet50V2", 224, 1.0), ("DenseNet121", 224, 1.0), ("NASNetMobile", 224, 1.0), ("InceptionV3", 299, 1.0),
    ("Xception", 224, 1.0),
)


def zoo_builds() -> list[Build]:
    return [Build("keras_app", (s, s), dt, dm, (("cls", name),), note=f"keras.applications.{name}")
            for name, s, dm in ZOO_APPS for dt in ("float32", "int8")]


ARCHS: dict[str, Callable[[Build], Any]] = {
    "keras_app": keras_app,
    "mobilenet_v1": lambda b: _app("MobileNet", b, alpha=b.dm, classes=1001),
    "mobilenet_v2": lambda b: _app("MobileNetV2", b, alpha=b.dm, classes=1001),
    "mobilenet_v3_large": lambda b: _app("MobileNetV3Large", b, alpha=b.dm, minimalistic=bool(b.opt("mini", 0)),
                                         include_preprocessing=False, classes=1001),
    "mobilenet_v3_small": lambda b: _app("MobileNetV3Small", b, alpha=b.dm, minimalistic=bool(b.opt("mini", 0)),
                                         include_preprocessing=False, classes=1001),
    "inception_v3": lambda b: _app("InceptionV3", b, classes=1001),
    "inception_resnet_v2": lambda b: _app("InceptionResNetV2", b, classes=1001),
    "resnet50": lambda b: _app("ResNet50", b, classes=1000),
    "resnet50v2": lambda b: _app("ResNet50V2", b, classes=1001),
    "resnet101v2": lambda b: _app("ResNet101V2", b, classes=1001),
    "resnet152v2": lambda b: _app("ResNet152V2", b, classes=1001),
    "vgg16": lambda b: _app("VGG16", b),
    "vgg19": lambda b: _app("VGG19", b),
    "densenet121": lambda b: _app("DenseNet121", b),
    "nasnet_mobile": lambda b: _app("NASNetMobile", b),
    "nasnet_large": lambda b: _app("NASNetLarge", b),
    "inception_v1": inception_v1,
    "inception_v4": inception_v4,
    "squeezenet_v10": squeezenet_v10,
    "mnasnet_b1": mnasnet_b1,
    "efficientnet_lite": efficientnet_lite,
    "efficientnet_edgetpu": efficientnet_edgetpu,
    "unet_mobilenet_v2": unet_mobilenet_v2,
    "deeplab_v3_mobilenet_v2": deeplab_v3_mobilenet_v2,
    "ssd_mobilenetv1": ssd_mobilenetv1,
    "ssd_mobilenetv2": ssd_mobilenetv2,
    "ssdlite_mobilenetv1": ssdlite_mobilenetv1,
    "ssdlite_mobilenetv2": ssdlite_mobilenetv2,
    "ssdlite_mobilenetv3large": ssdlite_mobilenetv3large,
    "ssdlite_mobilenetv3small": ssdlite_mobilenetv3small,
    "ssd_mobilenetv1_fpn": ssd_mobilenetv1_fpn,
    "ssd_resnet50v1_fpn": ssd_resnet50v1_fpn,
    "efficientdet_lite": efficientdet_lite,
    "ssdlite_mobiledet": ssdlite_mobiledet,
    "ssdlite_mobilenet_edgetpu": ssdlite_mobilenet_edgetpu,
}
SEGMENTERS_WITH_ARGMAX = frozenset({"deeplab_v3_mobilenet_v2"})
# the exporters' max_detections: google/automl's tflite export 100 (hparams tflite_max_detections), the TF OD API's
# export_tflite_ssd_graph 10
MAX_DETECTIONS = {"efficientdet_lite": 100}
DETECTORS = frozenset({"ssd_mobilenetv1", "ssd_mobilenetv2", "ssdlite_mobilenetv1", "ssdlite_mobilenetv2",
                       "ssdlite_mobilenetv3large", "ssdlite_mobilenetv3small", "ssd_mobilenetv1_fpn",
                       "ssd_resnet50v1_fpn", "efficientdet_lite", "ssdlite_mobiledet", "ssdlite_mobilenet_edgetpu"})


# --------------------------------------------------------------------------------------- post-processing op

def append_postprocess(data: bytes, max_detections: int = 10) -> bytes:
    """Append LiteRT's ``TFLite_Detection_PostProcess`` custom op (box decoding + class-agnostic fast NMS) to a
    converted detector whose two outputs are box encodings [1, N, 4] and class scores [1, N, C], as the TF OD
    API / AutoML exports do. Its anchors are a constant [N, 4] float32 tensor. The four float32 outputs
    (boxes, classes, scores, count) replace the model's outputs."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    sg = model.subgraphs[0]
    outs = list(sg.outputs)
    shapes = [list(sg.tensors[i].shape) for i in outs]
    box_i = next(i for i, sh in zip(outs, shapes, strict=True) if len(sh) == 3 and sh[-1] == 4)
    cls_i = next(i for i in outs if i != box_i)
    n = int(sg.tensors[box_i].shape[1])

    def tensor(name: str, shape: list[int], ttype: int, buffer: int = 0) -> int:
        t = s.TensorT()
        t.name = name.encode()
        t.shape = shape
        t.type = ttype
        t.buffer = buffer
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def opcode(builtin: int, custom: bytes | None = None) -> int:
        for i, c in enumerate(model.operatorCodes):
            if c.builtinCode == builtin and (custom is None or c.customCode == custom):
                return i
        code = s.OperatorCodeT()
        code.builtinCode = builtin
        code.deprecatedBuiltinCode = min(builtin, 127)
        code.customCode = custom
        code.version = 1
        model.operatorCodes.append(code)
        return len(model.operatorCodes) - 1

    # the converter keeps a custom op's inputs in float: an int8 model dequantizes them first
    for pos, idx in enumerate((box_i, cls_i)):
        if sg.tensors[idx].type in (s.TensorType.INT8, s.TensorType.UINT8):
            f = tensor(f"{sg.tensors[idx].name.decode()}_float", list(sg.tensors[idx].shape), s.TensorType.FLOAT32)
            dq = s.OperatorT()
            dq.opcodeIndex = opcode(s.BuiltinOperator.DEQUANTIZE)
            dq.inputs, dq.outputs = [idx], [f]
            sg.operators.append(dq)
            if pos == 0:
                box_i = f
            else:
                cls_i = f
    buf = s.BufferT()
    buf.data = np.ascontiguousarray(np.tile(np.array([0.5, 0.5, 0.1, 0.1], np.float32), (n, 1))).tobytes()
    model.buffers.append(buf)
    anchors = tensor("anchors", [n, 4], s.TensorType.FLOAT32, len(model.buffers) - 1)
    det = [tensor("detection_boxes", [1, max_detections, 4], s.TensorType.FLOAT32),
           tensor("detection_classes", [1, max_detections], s.TensorType.FLOAT32),
           tensor("detection_scores", [1, max_detections], s.TensorType.FLOAT32),
           tensor("num_detections", [1], s.TensorType.FLOAT32)]
    op = s.OperatorT()
    op.opcodeIndex = opcode(s.BuiltinOperator.CUSTOM, b"TFLite_Detection_PostProcess")
    op.inputs = [box_i, cls_i, anchors]
    op.outputs = det
    op.customOptions = _postprocess_options(max_detections, int(sg.tensors[cls_i].shape[-1]))
    sg.operators.append(op)
    sg.outputs = det
    b = __import__("flatbuffers").Builder(len(data) + n * 16 + 4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def append_argmax(data: bytes) -> bytes:
    """Append ARG_MAX over the channels of the model's (only) output, as segmentation exports end (Coral's
    DeepLab returns the class map, not the logits); the int32 class map replaces the output."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    sg = model.subgraphs[0]
    src = sg.outputs[0]
    shape = list(sg.tensors[src].shape)
    buf = s.BufferT()
    buf.data = np.array([len(shape) - 1], np.int32).tobytes()
    model.buffers.append(buf)
    axis = s.TensorT()
    axis.name, axis.shape, axis.type, axis.buffer = b"argmax_axis", [1], s.TensorType.INT32, len(model.buffers) - 1
    sg.tensors.append(axis)
    out = s.TensorT()
    out.name, out.shape, out.type, out.buffer = b"class_map", shape[:-1], s.TensorType.INT32, 0
    sg.tensors.append(out)
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.ARG_MAX
    code.version = 2
    model.operatorCodes.append(code)
    op = s.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [src, len(sg.tensors) - 2], [len(sg.tensors) - 1]
    op.builtinOptionsType = s.BuiltinOptions.ArgMaxOptions
    opts = s.ArgMaxOptionsT()
    opts.outputType = s.TensorType.INT32
    op.builtinOptions = opts
    sg.operators.append(op)
    sg.outputs = [len(sg.tensors) - 1]
    b = __import__("flatbuffers").Builder(len(data) + 4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def set_max_detections(path: Path, max_detections: int) -> None:
    """Rewrite the post-processing op's options of a cached detector in place (no rebuild)."""
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
    sg = model.subgraphs[0]
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if code.customCode == b"TFLite_Detection_PostProcess":
            classes = int(sg.tensors[op.inputs[1]].shape[-1])
            op.customOptions = _postprocess_options(max_detections, classes)
            for t in op.outputs[:3]:
                shape = list(sg.tensors[t].shape)
                shape[1] = max_detections
                sg.tensors[t].shape = shape
    b = __import__("flatbuffers").Builder(path.stat().st_size + 4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    tmp = path.with_suffix(".tflite.tmp")
    tmp.write_bytes(bytes(b.Output()))
    tmp.replace(path)


def _postprocess_options(max_detections: int, classes: int) -> list[int]:
    """The op's flexbuffer map (the attributes the OD API export writes)."""
    from flatbuffers import flexbuffers

    fbb = flexbuffers.Builder()
    with fbb.Map():
        fbb.Int("max_detections", max_detections)
        fbb.Int("max_classes_per_detection", 1)
        fbb.Int("detections_per_class", 100)
        fbb.Bool("use_regular_nms", False)
        fbb.Float("nms_score_threshold", 1e-8)
        fbb.Float("nms_iou_threshold", 0.6)
        fbb.Int("num_classes", classes)
        fbb.Float("y_scale", 10.0)
        fbb.Float("x_scale", 10.0)
        fbb.Float("h_scale", 5.0)
        fbb.Float("w_scale", 5.0)
    return list(fbb.Finish())


# --------------------------------------------------------------------------------------- building

def build_inprocess(b: Build, out_dir: Path) -> dict[str, Any]:
    """Build ``b`` in this process: Keras model -> .keras -> edgekit convert -> (post-process op) -> .tflite."""
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = _keras()
    from edgekit.core.quant import QuantizeMode
    from edgekit.host.convert.config import ConvertConfig
    from edgekit.host.convert.pipeline import run_convert

    keras.utils.set_random_seed(0)
    t0 = time.monotonic()
    model = ARCHS[b.arch](b)
    params = int(model.count_params())
    with tempfile.TemporaryDirectory(prefix="edgekit-published-") as tmp:
        src = Path(tmp) / f"{b.key}.keras"
        model.save(src)
        del model
        keras.backend.clear_session()
        out = Path(tmp) / f"{b.key}.tflite"
        config = ConvertConfig(model=src, output=out, quantize=QuantizeMode.INT8 if b.dtype == "int8" else QuantizeMode.NONE,
                               calibration_samples=4, golden_samples=1, force=True)
        result = run_convert(config)
        data = result.data
    if b.arch in DETECTORS:
        data = append_postprocess(data, MAX_DETECTIONS.get(b.arch, 10))
    if b.arch in SEGMENTERS_WITH_ARGMAX:
        data = append_argmax(data)
    target = out_dir / f"{b.key}.tflite"
    tmp_target = target.with_suffix(".tflite.tmp")
    tmp_target.write_bytes(data)
    tmp_target.replace(target)
    import importlib.metadata as md

    info = {"key": b.key, "build": dataclasses.asdict(b), "builder_version": BUILDER_VERSION, "params": params,
            "bytes": len(data), "seconds": round(time.monotonic() - t0, 1),
            "tensorflow": md.version("tensorflow"), "keras": md.version("keras"),
            "converter": "edgekit.host.convert.pipeline.run_convert (synthetic calibration, batch 1)"}
    (out_dir / f"{b.key}.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def build_family_inprocess(builds: list[Build], out_dir: Path) -> None:
    """Build several dtypes of one network (same arch, size, width, options) with one Keras model and ONE
    export: edgekit's loader exports the SavedModel once, edgekit's converter runs once per dtype."""
    import importlib.metadata as md
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = _keras()
    from edgekit.core.quant import QuantizeMode
    from edgekit.data import permute_samples
    from edgekit.host.convert.config import ConvertConfig
    from edgekit.host.convert.loaders import load_source
    from edgekit.host.convert.pipeline import load_data
    from edgekit.host.convert.quantize import convert, map_to_signature, signature_input_names
    from edgekit.host.source_model import LoadOptions

    keras.utils.set_random_seed(0)
    t0 = time.monotonic()
    first = builds[0]
    model = ARCHS[first.arch](first)
    params = int(model.count_params())
    with tempfile.TemporaryDirectory(prefix="edgekit-published-") as tmp:
        src = Path(tmp) / "model.keras"
        model.save(src)
        del model
        keras.backend.clear_session()
        source = load_source(src, LoadOptions())
        try:
            assert source.saved_model_dir is not None
            sig = signature_input_names(source.saved_model_dir)
            for b in builds:
                config = ConvertConfig(model=src, output=Path(tmp) / "out.tflite", calibration_samples=4,
                                       quantize=QuantizeMode.INT8 if b.dtype == "int8" else QuantizeMode.NONE)
                arrays, _ = load_data(config, source, [])
                mapping = map_to_signature([x.name for x in source.inputs], sig, [])
                samples = {mapping[x.name]: permute_samples(arrays[x.name], x.to_tflite_perm) for x in source.inputs}
                data, _ = convert(source.saved_model_dir, config.quantize, config.resolved_io_type, config.per_tensor,
                                  samples, config.keep_float, False)
                if b.arch in DETECTORS:
                    data = append_postprocess(data, MAX_DETECTIONS.get(b.arch, 10))
                if b.arch in SEGMENTERS_WITH_ARGMAX:
                    data = append_argmax(data)
                target = out_dir / f"{b.key}.tflite"
                tmp_target = target.with_suffix(".tflite.tmp")
                tmp_target.write_bytes(data)
                tmp_target.replace(target)
                info = {"key": b.key, "build": dataclasses.asdict(b), "builder_version": BUILDER_VERSION,
                        "params": params, "bytes": len(data), "seconds": round(time.monotonic() - t0, 1),
                        "tensorflow": md.version("tensorflow"), "keras": md.version("keras"),
                        "converter": "edgekit.host.convert.quantize.convert after edgekit's Keras loader (one export "
                                     "for every dtype; synthetic calibration, batch 1)"}
                (out_dir / f"{b.key}.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        finally:
            source.close()


def build_family(builds: list[Build], timeout_s: float = 7200.0) -> None:
    """Build every not-yet-cached dtype of one network in one child process."""
    todo = [b for b in builds if cached(b) is None]
    if not todo:
        return
    specs = json.dumps([dataclasses.asdict(b) for b in todo])
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); import published_models as p; "
            f"bs = [p.dataclasses.replace(p.Build(**d), size=tuple(d['size']), options=tuple(tuple(o) for o in "
            f"d['options'])) for d in json.loads({specs!r})]; p.build_family_inprocess(bs, p.cache_dir())")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"building {todo[0].key} (+{len(todo) - 1}) failed: {tail[:300]}")


def cached(b: Build) -> Path | None:
    """The cached .tflite of ``b`` when it was built by this builder version."""
    d = cache_dir()
    path, meta = d / f"{b.key}.tflite", d / f"{b.key}.json"
    if not (path.is_file() and meta.is_file()):
        return None
    try:
        if json.loads(meta.read_text(encoding="utf-8")).get("builder_version") != BUILDER_VERSION:
            return None
    except (OSError, ValueError):
        return None
    return path


def build(b: Build, timeout_s: float = 3600.0) -> Path:
    """The cached file of ``b``, building it in a child process (TensorFlow's memory stays there) if needed."""
    hit = cached(b)
    if hit is not None:
        return hit
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); import published_models as p; "
            f"b = p.Build(**json.loads({json.dumps(dataclasses.asdict(b))!r})); b = p.dataclasses.replace(b, size=tuple(b.size), "
            "options=tuple(tuple(o) for o in b.options)); p.build_inprocess(b, p.cache_dir())")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"building {b.key} failed: {tail[:300]}")
    hit = cached(b)
    if hit is None:
        raise RuntimeError(f"building {b.key} wrote no file")
    return hit


@dataclass
class Needed:
    build: Build
    rows: list[PublishedRow] = field(default_factory=list)


def needed_builds(rows: list[PublishedRow] | None = None) -> tuple[dict[str, Needed], dict[str, list[PublishedRow]]]:
    """(key -> the build and the usable rows that need it, reason -> usable rows that are not built)."""
    rows = rows if rows is not None else load_dataset(DATASET)
    builds: dict[str, Needed] = {}
    missing: dict[str, list[PublishedRow]] = {}
    for row, _sel in usable_rows(rows):
        b = build_for_row(row)
        if isinstance(b, str):
            missing.setdefault(b, []).append(row)
            continue
        builds.setdefault(b.key, Needed(b)).rows.append(row)
    return builds, missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="list the builds the dataset needs and which are cached")
    ap.add_argument("--build", nargs="*", metavar="KEY", help="build these keys (none: every missing one)")
    ap.add_argument("--zoo", action="store_true", help="also the held-out zoo of scripts/bench_estimator.py")
    ap.add_argument("--order", choices=("rows", "size"), default="rows",
                    help="build the models most rows need first (rows) or the cheapest first (size)")
    args = ap.parse_args(argv)
    builds, missing = needed_builds()
    if args.zoo:
        for b in zoo_builds():
            builds.setdefault(b.key, Needed(b))
    if args.list or args.build is None:
        for key, need in sorted(builds.items()):
            print(f"{'cached ' if cached(need.build) else 'MISSING'} {key:60s} {len(need.rows):3d} rows  "
                  f"{need.build.fidelity}")
        for reason, rows in sorted(missing.items()):
            print(f"not built ({len(rows)} rows): {reason}")
        print(f"{len(builds)} builds, {sum(1 for n in builds.values() if cached(n.build))} cached; "
              f"{sum(len(n.rows) for n in builds.values())} usable rows covered, "
              f"{sum(len(r) for r in missing.values())} usable rows without a model", file=sys.stderr)
        if args.build is None:
            return 0
    todo = [builds[k] for k in args.build] if args.build else [n for n in builds.values() if not cached(n.build)]
    # one child per network: its dtypes share the Keras model and the export
    families: dict[tuple[Any, ...], list[Needed]] = {}
    for n in todo:
        b = n.build
        families.setdefault((b.arch, b.size, b.dm, b.options), []).append(n)
    order = list(families.values())
    if args.order == "rows":
        order.sort(key=lambda f: -sum(len(n.rows) for n in f))
    else:
        order.sort(key=lambda f: f[0].build.size[0] * f[0].build.size[1])
    failed = 0
    for i, fam in enumerate(order, 1):
        t0 = time.monotonic()
        keys = ", ".join(n.build.key for n in fam)
        try:
            build_family([n.build for n in fam])
            print(f"[{i}/{len(order)}] {keys} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            failed += 1
            print(f"[{i}/{len(order)}] {keys}: FAILED {exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
