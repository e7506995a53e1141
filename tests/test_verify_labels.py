"""Labels for `verify --labels`: folders, CSVs naming files, one integer per line (device tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgekit.core.source import TensorSpec
from edgekit.data import Preprocessing
from edgekit.errors import DataError
from edgekit.verify.labels import (
    load_labelled_files,
    load_labelled_folder,
    load_listed_images,
    read_label_table,
    spread,
)

pytestmark = pytest.mark.device

NHWC = TensorSpec("x", (1, 8, 8, 3), "float32")
NCHW = TensorSpec("x", (1, 3, 8, 8), "float32")


def _images(root: Path) -> dict[str, list[Path]]:
    rng = np.random.default_rng(0)
    out: dict[str, list[Path]] = {}
    for cls, n in (("b_dog", 2), ("a_cat", 3)):
        (root / cls).mkdir(parents=True)
        out[cls] = []
        for i in range(n):
            path = root / cls / f"{i}.png"
            Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(path)
            out[cls].append(path)
    return out


def test_spread_is_even_and_complete() -> None:
    assert spread(5, 10).tolist() == [0, 1, 2, 3, 4]
    picked = spread(120, 6)
    assert len(picked) == 6 and picked[0] == 0 and picked[-1] == 119


def test_label_files(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("1\n0\n\n2\n")
    assert read_label_table(tmp_path / "l.txt").labels.tolist() == [1, 0, 2]
    (tmp_path / "l.csv").write_text("id,label\na,3\nb,4\n")
    table = read_label_table(tmp_path / "l.csv")
    assert table.labels.tolist() == [3, 4] and table.files is None
    np.save(tmp_path / "l.npy", np.array([[1], [2]]))
    assert read_label_table(tmp_path / "l.npy").labels.tolist() == [1, 2]
    np.save(tmp_path / "f.npy", np.array([0.5]))
    for name, text, match in (
        ("bad.txt", "1\ncat\n", "line 2: 'cat' is not an integer label"),
        ("hdr.csv", "file,name\na,b\n", "without a label column"),
        ("empty.txt", "\n", "holds no labels"),
    ):
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=match):
            read_label_table(tmp_path / name)
    with pytest.raises(DataError, match="not integer labels"):
        read_label_table(tmp_path / "f.npy")


def test_csv_with_files_resolves_against_csv_then_data(tmp_path: Path) -> None:
    files = _images(tmp_path / "imgs")
    (tmp_path / "t.csv").write_text("file,label_index\nimgs/a_cat/0.png,5\nb_dog/1.png,2\n")
    table = read_label_table(tmp_path / "t.csv", data_dir=tmp_path / "imgs")
    assert table.files == (files["a_cat"][0], tmp_path / "imgs" / "b_dog" / "1.png")
    with pytest.raises(DataError, match="line 3: image 'b_dog/1.png' not found"):
        read_label_table(tmp_path / "t.csv")
    data = load_labelled_files(table, tmp_path / "t.csv", [NHWC], None, max_samples=10)
    assert data.labels.tolist() == [5, 2] and data.arrays["x"].shape == (2, 1, 8, 8, 3)


def test_labelled_folder_uses_sorted_class_names(tmp_path: Path) -> None:
    _images(tmp_path / "imgs")
    data = load_labelled_folder(tmp_path / "imgs", [NHWC], None, max_samples=4)
    assert sorted(data.labels.tolist()) == [0, 0, 1, 1]  # spread over both classes
    assert "0=a_cat, 1=b_dog" in data.description
    assert data.arrays["x"].shape == (4, 1, 8, 8, 3)
    with pytest.raises(DataError, match="no class sub-folders"):
        load_labelled_folder(tmp_path / "imgs" / "a_cat", [NHWC], None, 4)


def test_listed_images_match_edgekit_data_and_layout(tmp_path: Path) -> None:
    files = _images(tmp_path / "imgs")["a_cat"]
    recipe = Preprocessing.from_options(preset="symmetric")
    nhwc = load_listed_images(files, [NHWC], recipe)["x"]
    nchw = load_listed_images(files, [NCHW], recipe)["x"]
    pixels = np.asarray(Image.open(files[0]).convert("RGB"), np.float32)
    np.testing.assert_allclose(nhwc[0, 0], pixels / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(nchw[0, 0], np.transpose(nhwc[0, 0], (2, 0, 1)))
    with pytest.raises(DataError, match="one image input"):
        load_listed_images(files, [NHWC, NCHW], recipe)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="Cannot read labelled image"):
        load_listed_images([tmp_path / "broken.png"], [NHWC], recipe)
