"""Calibration / verification data: image folders, .npy/.npz arrays or synthetic inputs.

Device-safe (numpy + Pillow only): ``convert`` uses it for calibration, ``verify``
and ``bench`` reuse it, and a bundle's manifest stores the :class:`Preprocessing`
recipe so that the board can prepare images exactly like the workstation did.

Sample arrays always have a leading SAMPLE axis in front of the tensor's full
shape: for an input of shape ``(1, 224, 224, 3)`` and 50 samples the array is
``(50, 1, 224, 224, 3)``; ``arr[i]`` is exactly what one model invocation takes.
Arrays are in the SOURCE model's layout (the layout of the TensorSpec).
"""

from __future__ import annotations

import math
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.core.preprocess import ChannelOrder, Layout, Preset, ResizeMode
from edgekit.core.progress import progress
from edgekit.core.source import TensorSpec
from edgekit.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
ARRAY_SUFFIXES = (".npy", ".npz")


# preset -> (scale, mean, std): value = (pixel * scale - mean) / std
PRESETS: dict[Preset, tuple[float, tuple[float, ...], tuple[float, ...]]] = {
    Preset.RAW: (1.0, (0.0,), (1.0,)),
    Preset.UNIT: (1.0 / 255.0, (0.0,), (1.0,)),
    Preset.SYMMETRIC: (1.0 / 127.5, (1.0,), (1.0,)),
    Preset.IMAGENET: (1.0 / 255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def _enum_value(enum: type[Enum], value: Any, what: str) -> Any:
    if isinstance(value, enum):
        return value
    valid = [str(m.value) for m in enum]  # type: ignore[var-annotated]
    try:
        return enum(str(value).lower())
    except ValueError:
        raise DataError(f"Unknown {what} '{value}'.", hint=f"Use one of: {', '.join(valid)}.") from None


@dataclass(frozen=True)
class Preprocessing:
    """How an image (pixels 0..255, RGB, HWC) becomes a model input.

    ``value = (pixel * scale - mean[c]) / std[c]``, then channel order, then
    layout. ``mean``/``std`` have one value (all channels) or one per channel.
    ``layout`` None means "infer from each input's shape".
    """

    preset: str = "custom"  # a Preset value or "custom"; informational
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    resize: ResizeMode = ResizeMode.STRETCH
    channel_order: ChannelOrder = ChannelOrder.RGB
    layout: Layout | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "resize", _enum_value(ResizeMode, self.resize, "resize mode"))
        object.__setattr__(self, "channel_order", _enum_value(ChannelOrder, self.channel_order, "channel order"))
        if self.layout is not None:
            object.__setattr__(self, "layout", _enum_value(Layout, self.layout, "layout"))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise DataError(f"Preprocessing scale must be a positive number, got {self.scale}.",
                            hint="Pass e.g. --scale 0.00392 (1/255).")
        for label, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, 3, 4) or not all(math.isfinite(v) for v in values):
                raise DataError(f"Preprocessing {label} must be 1 or one-per-channel finite numbers, got {values}.",
                                hint=f"Pass e.g. --{label} 0.5 or --{label} 0.485,0.456,0.406.")
        if any(v <= 0 for v in self.std):
            raise DataError(f"Preprocessing std must be positive, got {self.std}.", hint="Pass e.g. --std 0.229,0.224,0.225.")

    @classmethod
    def from_options(
        cls,
        preset: Preset | str | None = None,
        scale: float | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        resize: ResizeMode | str = ResizeMode.STRETCH,
        channel_order: ChannelOrder | str = ChannelOrder.RGB,
        layout: Layout | str | None = None,
    ) -> Preprocessing:
        """A recipe from CLI-style options: a preset (default unit), explicit values override it."""
        chosen = _enum_value(Preset, preset or Preset.UNIT, "preprocessing preset")
        p_scale, p_mean, p_std = PRESETS[chosen]
        custom = scale is not None or mean is not None or std is not None
        return cls(
            preset=f"{chosen.value}+custom" if custom and preset else ("custom" if custom else chosen.value),
            scale=p_scale if scale is None else float(scale),
            mean=p_mean if mean is None else tuple(mean),
            std=p_std if std is None else tuple(std),
            resize=resize,  # type: ignore[arg-type]
            channel_order=channel_order,  # type: ignore[arg-type]
            layout=layout,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "scale": self.scale,
            "mean": list(self.mean),
            "std": list(self.std),
            "resize": self.resize.value,
            "channel_order": self.channel_order.value,
            "layout": None if self.layout is None else self.layout.value,
            "pixel_formula": "(pixel_0_255 * scale - mean[c]) / std[c]",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`; a DataError naming the bad field otherwise."""
        if not isinstance(data, Mapping):
            raise DataError(f"A preprocessing recipe must be a JSON object, got {type(data).__name__}.")
        try:
            return cls(
                preset=str(data.get("preset", "custom")),
                scale=float(data["scale"]),
                mean=tuple(float(v) for v in data["mean"]),
                std=tuple(float(v) for v in data["std"]),
                resize=data.get("resize", "stretch"),
                channel_order=data.get("channel_order", "rgb"),
                layout=data.get("layout"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"Preprocessing recipe is incomplete or malformed ({type(exc).__name__}: {exc}).",
                            hint="It needs scale, mean and std (see edgekit convert --help).") from None

    def describe(self) -> str:
        mean = ",".join(f"{v:g}" for v in self.mean)
        std = ",".join(f"{v:g}" for v in self.std)
        return (f"{self.preset}: (pixel*{self.scale:.6g} - [{mean}]) / [{std}], {self.channel_order.value}, "
                f"resize={self.resize.value}")

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """HWC float pixels 0..255 (RGB) -> normalized HWC in the recipe's channel order."""
        channels = pixels.shape[-1]
        out = pixels.astype(np.float32) * np.float32(self.scale)
        out = (out - _per_channel(self.mean, channels)) / _per_channel(self.std, channels)
        if self.channel_order is ChannelOrder.BGR and channels >= 3:
            out = out[..., [2, 1, 0] + list(range(3, channels))]
        return out.astype(np.float32)


def _per_channel(values: tuple[float, ...], channels: int) -> np.ndarray:
    if len(values) == 1:
        return np.float32(values[0]) * np.ones((channels,), np.float32)
    if len(values) < channels:
        raise DataError(f"Got {len(values)} per-channel values for an input with {channels} channels.",
                        hint="Give one value for all channels or one per channel.")
    return np.asarray(values[:channels], np.float32)


@dataclass(frozen=True)
class ImageGeometry:
    """Where height, width and channels sit in one sample of an image input."""

    layout: Layout
    height: int
    width: int
    channels: int


def image_geometry(spec: TensorSpec, layout: Layout | None = None) -> ImageGeometry | None:
    """The image geometry of an input (batch, H, W, C or batch, C, H, W), or None if it is not image-like."""
    shape = spec.shape
    if len(shape) != 4 or not spec.dtype.startswith(("float", "uint8", "int8")):
        return None
    if layout is None:
        if shape[3] in (1, 3, 4):
            layout = Layout.NHWC
        elif shape[1] in (1, 3, 4):
            layout = Layout.NCHW
        else:
            return None
    if layout is Layout.NHWC:
        h, w, c = shape[1], shape[2], shape[3]
    else:
        c, h, w = shape[1], shape[2], shape[3]
    if c not in (1, 3, 4):
        return None
    return ImageGeometry(layout, h, w, c)


@dataclass
class DataSummary:
    """What was loaded; goes into the manifest (``calibration``) and the human summary."""

    source: str  # a path, or "synthetic"
    kind: str  # "images" | "arrays" | "synthetic"
    count: int = 0
    skipped: int = 0
    files_seen: int = 0
    skipped_examples: list[str] = field(default_factory=list)  # "file: reason", the first few
    per_input: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {"min", "max"}
    preprocessing: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "count": self.count,
            "skipped": self.skipped,
            "files_seen": self.files_seen,
            "skipped_examples": list(self.skipped_examples),
            "per_input": {k: dict(v) for k, v in self.per_input.items()},
        }


def load_samples(
    source: Path | None,
    specs: Sequence[TensorSpec],
    recipe: Preprocessing | None,
    max_samples: int,
    *,
    seed: int = 0,
    progress_label: str | None = "Loading samples",
) -> tuple[dict[str, np.ndarray], DataSummary]:
    """Load up to ``max_samples`` samples for ``specs`` from an image folder, a .npy/.npz, or synthetic data.

    Returns ``{input name: array (N, *spec.shape)}`` in the specs' layout and
    dtype, plus a :class:`DataSummary`. ``recipe`` applies to images and
    synthetic image inputs (None = unit preset); arrays are used as they are.
    """
    if max_samples < 1:
        raise DataError(f"The number of samples must be at least 1, got {max_samples}.", hint="Pass a positive count.")
    if not specs:
        raise DataError("The model has no inputs to prepare data for.")
    recipe = recipe or Preprocessing.from_options()
    if source is None:
        arrays, summary = _synthetic(specs, recipe, max_samples, seed)
    else:
        source = Path(source)
        if not source.exists():
            raise DataError(f"Data {source} does not exist.", hint="Pass a folder of images or a .npy/.npz file.")
        if source.is_dir():
            arrays, summary = _from_images(source, specs, recipe, max_samples, seed, progress_label)
        elif source.suffix.lower() in ARRAY_SUFFIXES:
            arrays, summary = _from_arrays(source, specs, max_samples)
        elif source.suffix.lower() in IMAGE_SUFFIXES:
            raise DataError(f"Data {source} is a single image; edgekit reads a folder of images.",
                            hint="Put the images in a folder and pass the folder.")
        else:
            raise DataError(f"Data {source} is neither a folder of images nor a .npy/.npz file.",
                            hint="Pass a folder of jpg/png/bmp/webp images or a .npy/.npz of arrays.")
    for spec in specs:
        arr = arrays[spec.name]
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise DataError(f"Data for input '{spec.name}' contains NaN or Inf values.",
                            hint="Clean the arrays; calibration needs finite numbers.")
        summary.per_input[spec.name] = {"min": float(arr.min()), "max": float(arr.max())}
    summary.count = int(next(iter(arrays.values())).shape[0])
    return arrays, summary


# --------------------------------------------------------------------------- synthetic


def _synthetic(
    specs: Sequence[TensorSpec], recipe: Preprocessing, count: int, seed: int
) -> tuple[dict[str, np.ndarray], DataSummary]:
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = (count, *spec.shape)
        geo = image_geometry(spec, recipe.layout)
        dtype = np.dtype(spec.dtype)
        if geo is not None and np.issubdtype(dtype, np.floating):
            pixels = rng.uniform(0.0, 255.0, size=(count * spec.shape[0], geo.height, geo.width, geo.channels))
            arrays[spec.name] = _to_layout(recipe.normalize(pixels.astype(np.float32)), geo).reshape(shape)
        elif np.issubdtype(dtype, np.floating) and spec.value_limit is not None:  # ids in a float input
            arrays[spec.name] = rng.integers(0, max(1, spec.value_limit), size=shape).astype(dtype)
        elif np.issubdtype(dtype, np.floating):
            arrays[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            arrays[spec.name] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            info = np.iinfo(dtype)
            high = min(info.max, 255) + 1
            if spec.value_limit is not None:  # ids into a table: stay inside it
                high = max(1, min(high, spec.value_limit))
            arrays[spec.name] = rng.integers(max(info.min, 0), high, size=shape).astype(dtype)
    summary = DataSummary(source="synthetic", kind="synthetic", preprocessing=recipe.to_dict())
    summary.notes.append("synthetic random inputs: the converted model's accuracy is unknown")
    return arrays, summary


def _to_layout(batch_hwc: np.ndarray, geo: ImageGeometry) -> np.ndarray:
    return np.transpose(batch_hwc, (0, 3, 1, 2)) if geo.layout is Layout.NCHW else batch_hwc


# --------------------------------------------------------------------------- arrays


# What numpy/zipfile raise for damaged .npy/.npz files (BadZipFile, unsupported zip features, bad deflate data).
_NPY_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error)


def _from_arrays(path: Path, specs: Sequence[TensorSpec], max_samples: int) -> tuple[dict[str, np.ndarray], DataSummary]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except _NPY_READ_ERRORS as exc:
        raise DataError(f"Cannot read {path} as a NumPy file: {exc}.",
                        hint="Save arrays with numpy.save / numpy.savez (no pickled objects).") from None
    if isinstance(loaded, np.ndarray):
        if len(specs) != 1:
            names = ", ".join(s.name for s in specs)
            raise DataError(f"{path.name} holds one array but the model has {len(specs)} inputs ({names}).",
                            hint="Use a .npz with one key per input name.")
        raw = {specs[0].name: loaded}
    else:
        try:
            with loaded:
                keys = list(loaded.files)
                if len(specs) == 1 and len(keys) == 1:
                    raw = {specs[0].name: loaded[keys[0]]}
                else:
                    missing = [s.name for s in specs if s.name not in keys]
                    if missing:
                        raise DataError(
                            f"{path.name} has keys {keys} but the model's inputs are {[s.name for s in specs]} "
                            f"(missing: {missing}).",
                            hint="Save the .npz with one key per model input name: np.savez(f, **{name: array}).",
                        )
                    raw = {s.name: loaded[s.name] for s in specs}
        except _NPY_READ_ERRORS as exc:  # a damaged member inside the .npz (found by tests/test_fuzz_inputs.py)
            raise DataError(f"Cannot read {path} as a NumPy file: {exc}.",
                            hint="The .npz is damaged; save it again with numpy.savez.") from None
    arrays = {s.name: _fit_array(path, raw[s.name], s) for s in specs}
    counts = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(counts.values())) != 1:
        raise DataError(f"{path.name}: the inputs have different sample counts {counts}.",
                        hint="Give the same number of samples for every input.")
    n = min(next(iter(counts.values())), max_samples)
    arrays = {k: v[:n] for k, v in arrays.items()}
    summary = DataSummary(source=str(path), kind="arrays", files_seen=1)
    summary.notes.append("arrays are used as they are (no preprocessing applied)")
    return arrays, summary


def _fit_array(path: Path, arr: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Reshape one array to (N, *spec.shape) and the spec's dtype, or say why it does not fit."""
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"{path.name}: array for '{spec.name}' has dtype {arr.dtype}, not numbers.",
                        hint="Save numeric arrays.")
    shape = spec.shape
    if arr.shape == shape:
        out = arr[None]
    elif arr.shape[1:] == shape:
        out = arr
    elif arr.ndim == len(shape) and arr.shape[1:] == shape[1:] and arr.shape[0] % shape[0] == 0:
        out = arr.reshape((arr.shape[0] // shape[0], *shape))
    else:
        raise DataError(
            f"{path.name}: array for '{spec.name}' has shape {arr.shape}, which does not fit the input shape {shape}.",
            hint=f"Give arrays shaped (N, {', '.join(map(str, shape[1:]))}) in the model's own layout.",
        )
    if out.shape[0] == 0:
        raise DataError(f"{path.name}: array for '{spec.name}' has no samples.", hint="Give at least one sample.")
    if np.issubdtype(out.dtype, np.floating) and not np.all(np.isfinite(out)):
        raise DataError(f"{path.name}: array for '{spec.name}' contains NaN or Inf values.",
                        hint="Clean the arrays; calibration needs finite numbers.")
    target = np.dtype(spec.dtype)
    if np.issubdtype(target, np.integer) and np.issubdtype(out.dtype, np.floating):
        raise DataError(f"{path.name}: array for '{spec.name}' is {out.dtype} but the input is {target}.",
                        hint=f"Save the array as {target}.")
    return np.ascontiguousarray(out.astype(target, copy=False))


# --------------------------------------------------------------------------- images


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, recursively, sorted; hidden files skipped."""
    return sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
    )


def decode_image(path: Path, geo: ImageGeometry, resize: ResizeMode) -> np.ndarray:
    """One image file -> float32 HWC pixels 0..255 with ``geo``'s size and channel count.

    Raises OSError/ValueError (or a Pillow error) for files that cannot be used.
    """
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as opened:
            opened.load()
            img: Any = ImageOps.exif_transpose(opened)
            mode = {1: "L", 3: "RGB", 4: "RGBA"}[geo.channels]
            if img.mode != mode:
                if img.mode in ("P", "LA", "PA") or "transparency" in img.info:
                    img = img.convert("RGBA")
                img = img.convert(mode)
            img = _resize(img, geo.width, geo.height, resize)
            pixels = np.asarray(img, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return pixels


def _resize(img: Any, width: int, height: int, mode: ResizeMode) -> Any:
    from PIL import Image

    resample = Image.Resampling.BILINEAR
    if mode is ResizeMode.STRETCH or img.size == (width, height):
        return img.resize((width, height), resample)
    w, h = img.size
    if mode is ResizeMode.CROP:
        ratio = max(width / w, height / h)
        new = img.resize((max(width, round(w * ratio)), max(height, round(h * ratio))), resample)
        left, top = (new.width - width) // 2, (new.height - height) // 2
        return new.crop((left, top, left + width, top + height))
    ratio = min(width / w, height / h)
    new = img.resize((max(1, round(w * ratio)), max(1, round(h * ratio))), resample)
    canvas = Image.new(img.mode, (width, height))
    canvas.paste(new, ((width - new.width) // 2, (height - new.height) // 2))
    return canvas


def _from_images(
    folder: Path,
    specs: Sequence[TensorSpec],
    recipe: Preprocessing,
    max_samples: int,
    seed: int,
    progress_label: str | None,
) -> tuple[dict[str, np.ndarray], DataSummary]:
    from PIL import Image, UnidentifiedImageError

    if len(specs) != 1:
        raise DataError(
            f"A folder of images can feed a model with one image input; this model has {len(specs)} inputs "
            f"({', '.join(s.name for s in specs)}).",
            hint="Pass a .npz with one key per input name.",
        )
    spec = specs[0]
    geo = image_geometry(spec, recipe.layout)
    if geo is None:
        raise DataError(f"Input '{spec.name}' with shape {spec.shape} and dtype {spec.dtype} is not an image input.",
                        hint="Pass a .npy/.npz of arrays for this model (or --layout if the channel axis is unusual).")
    files = list_images(folder)
    summary = DataSummary(source=str(folder), kind="images", files_seen=len(files), preprocessing=recipe.to_dict())
    if not files:
        raise DataError(f"No images (jpg, png, bmp, webp) found under {folder}.",
                        hint="Pass a folder that contains images, searched recursively.")
    # Spread the samples over the whole folder (class sub-folders), reproducibly.
    order = np.random.default_rng(seed).permutation(len(files))
    per_sample = spec.shape[0]
    wanted = max_samples * per_sample
    images: list[np.ndarray] = []
    errors = (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError,
              Image.DecompressionBombWarning)
    candidates = [files[i] for i in order]
    iterator = progress(candidates, progress_label) if progress_label else iter(candidates)
    for path in iterator:
        if len(images) >= wanted:
            continue  # drain the progress iterator cheaply
        try:
            images.append(recipe.normalize(decode_image(path, geo, recipe.resize)))
        except errors as exc:
            summary.skipped += 1
            if len(summary.skipped_examples) < 5:
                summary.skipped_examples.append(f"{path.name}: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}")
    usable = (len(images) // per_sample) * per_sample
    if usable == 0:
        raise DataError(
            f"No usable image under {folder}: {len(files)} found, {summary.skipped} could not be read"
            + (f" (e.g. {summary.skipped_examples[0]})" if summary.skipped_examples else "") + ".",
            hint="Check that the files are real images (jpg, png, bmp, webp).",
        )
    batch = np.stack(images[:usable]).astype(np.float32)
    arr = _to_layout(batch, geo).reshape((usable // per_sample, *spec.shape))
    return {spec.name: arr.astype(np.dtype(spec.dtype), copy=False)}, summary


def permute_samples(arr: np.ndarray, perm: Sequence[int] | None) -> np.ndarray:
    """Apply a tensor-layout permutation (e.g. TensorSpec.to_tflite_perm) to a (N, *shape) sample array."""
    if perm is None:
        return arr
    return np.ascontiguousarray(np.transpose(arr, (0, *[p + 1 for p in perm])))
