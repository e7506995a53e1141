"""Labelled data for `verify --labels` (device-safe: numpy + Pillow through :mod:`edgekit.data`).

Three ways to give labels:

* a folder laid out ``DIR/<class_name>/<image>``: the label of an image is the
  index of its class folder in sorted name order (the convention of
  ``keras.utils.image_dataset_from_directory``);
* a CSV with a ``file`` column and a ``label``/``label_index`` column: the
  images it lists (paths relative to the CSV's folder, or to ``--data``);
* one integer per sample (.txt, a CSV without a file column, or .npy), in the
  order of ``--data FILE.npy/.npz``.

Images are decoded and normalized with :mod:`edgekit.data` (the same code as
convert's calibration); this module only keeps each image with its label.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.core.progress import progress
from edgekit.core.source import TensorSpec
from edgekit.data import IMAGE_SUFFIXES, Layout, Preprocessing, decode_image, image_geometry, load_samples
from edgekit.errors import DataError

LABEL_COLUMNS = ("label", "label_index", "class_index", "class_id")
FILE_COLUMNS = ("file", "path", "filename", "image")


@dataclass
class LabelledData:
    arrays: dict[str, np.ndarray]  # input name -> (N, *spec.shape), the spec's layout
    labels: np.ndarray  # (N,) int64
    description: str


@dataclass(frozen=True)
class LabelTable:
    labels: np.ndarray  # (N,) int64
    files: tuple[Path, ...] | None  # the image of each label, when the table names files


def spread(total: int, wanted: int) -> np.ndarray:
    """``wanted`` indices spread evenly over ``total`` (all of them when wanted >= total)."""
    if wanted >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, wanted).round().astype(np.int64))


def class_folders(folder: Path) -> list[Path]:
    """The class sub-folders of a labelled ``class_name/image`` folder, sorted by name (= label index)."""
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [d for d in subdirs if any(f.suffix.lower() in IMAGE_SUFFIXES for f in d.iterdir() if f.is_file())]


def load_labelled_folder(
    folder: Path, specs: Sequence[TensorSpec], recipe: Preprocessing | None, max_samples: int
) -> LabelledData:
    """Images under class_name/ sub-folders (one load_samples call per class, samples spread over the classes)."""
    classes = class_folders(folder)
    if not classes:
        raise DataError(
            f"{folder} has no class sub-folders with images.",
            hint="Lay out labelled images as DIR/<class_name>/<image>, one folder per class in label order.",
        )
    share, extra = divmod(max_samples, len(classes))
    arrays: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    labels: list[np.ndarray] = []
    for index, class_dir in enumerate(classes):
        wanted = share + (1 if index < extra else 0)
        if wanted == 0:
            continue
        got, _ = load_samples(class_dir, specs, recipe, wanted, progress_label=None)
        for name, arr in got.items():
            arrays[name].append(arr)
        labels.append(np.full(next(iter(got.values())).shape[0], index, dtype=np.int64))
    names = ", ".join(f"{i}={c.name}" for i, c in enumerate(classes))
    return LabelledData(
        arrays={k: np.concatenate(v) for k, v in arrays.items()},
        labels=np.concatenate(labels),
        description=f"{folder} (labelled by sorted folder name: {names})",
    )


def _is_int(text: str) -> bool:
    try:
        int(text)
        return True
    except ValueError:
        return False


def read_label_table(path: Path, data_dir: Path | None = None) -> LabelTable:
    """Labels (and the files they belong to, if named) from .npy, a text file or a CSV."""
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read labels {path}: {exc}.", hint="Save labels with numpy.save as integers.") from None
        if not np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
            raise DataError(f"Labels in {path} are {arr.dtype} with {arr.size} values, not integer labels.",
                            hint="Save integer class indices, one per sample.")
        return LabelTable(arr.reshape(-1).astype(np.int64), None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read labels {path}: {exc}.", hint="Give a text file with one integer per line.") from None
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    label_col, file_col, first_line = 0, None, 1
    if rows and not _is_int(rows[0][0].strip()):
        header = [c.strip().lower() for c in rows[0]]
        found = [header.index(c) for c in LABEL_COLUMNS if c in header]
        if not found:
            raise DataError(
                f"{path} has a header {rows[0]} without a label column.",
                hint="Name the column 'label' (or 'label_index'), or give one integer per line without a header.",
            )
        label_col = found[0]
        files_found = [header.index(c) for c in FILE_COLUMNS if c in header]
        file_col = files_found[0] if files_found else None
        rows, first_line = rows[1:], 2
    values: list[int] = []
    files: list[Path] = []
    for lineno, row in enumerate(rows, start=first_line):
        cell = row[label_col].strip() if label_col < len(row) else ""
        if not _is_int(cell):
            raise DataError(f"{path} line {lineno}: '{cell}' is not an integer label.",
                            hint="Labels are class indices 0..N-1.")
        values.append(int(cell))
        if file_col is not None:
            name = row[file_col].strip() if file_col < len(row) else ""
            files.append(_resolve(name, path, data_dir, lineno))
    if not values:
        raise DataError(f"{path} holds no labels.", hint="Give one integer label per sample.")
    return LabelTable(np.asarray(values, dtype=np.int64), tuple(files) if file_col is not None else None)


def _resolve(name: str, table: Path, data_dir: Path | None, lineno: int) -> Path:
    candidates = [Path(name)] if Path(name).is_absolute() else [table.parent / name]
    if data_dir is not None and not Path(name).is_absolute():
        candidates += [data_dir / name, data_dir / Path(name).name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(f"{table} line {lineno}: image '{name}' not found (looked at {', '.join(map(str, candidates))}).",
                    hint="Paths in the file column are relative to the CSV's folder (or to --data).")


def load_listed_images(
    files: Sequence[Path], specs: Sequence[TensorSpec], recipe: Preprocessing | None
) -> dict[str, np.ndarray]:
    """These image files, in this order, prepared like edgekit.data prepares a folder."""
    if len(specs) != 1:
        raise DataError(f"Labelled images can feed a model with one image input; this one has {len(specs)}.",
                        hint="Use --data FILE.npz with one key per input and --labels with one integer per line.")
    spec = specs[0]
    recipe = recipe or Preprocessing.from_options()
    geo = image_geometry(spec, recipe.layout)
    if geo is None or spec.shape[0] != 1:
        raise DataError(f"Input '{spec.name}' with shape {list(spec.shape)} is not a single-image input.",
                        hint="Use --data FILE.npz and --labels with one integer per sample.")
    images = []
    for path in progress(list(files), "Loading labelled images"):
        try:
            images.append(recipe.normalize(decode_image(path, geo, recipe.resize)))
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"Cannot read labelled image {path}: {exc}.",
                            hint="Every image named in the label file must be readable.") from None
    batch = np.stack(images).astype(np.float32)
    if geo.layout is Layout.NCHW:
        batch = np.transpose(batch, (0, 3, 1, 2))
    return {spec.name: batch.reshape((len(images), *spec.shape)).astype(np.dtype(spec.dtype), copy=False)}


def load_labelled_files(
    table: LabelTable, source: Path, specs: Sequence[TensorSpec], recipe: Preprocessing | None, max_samples: int
) -> LabelledData:
    """The images a label CSV names, spread evenly over the table when it has more rows than wanted."""
    if table.files is None:
        raise ValueError("the label table names no files")
    chosen = spread(len(table.files), max_samples)
    arrays = load_listed_images([table.files[i] for i in chosen], specs, recipe)
    return LabelledData(arrays=arrays, labels=table.labels[chosen],
                        description=f"the {len(chosen)} images listed in {source}")
