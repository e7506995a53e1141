"""edgekit.data: preprocessing recipes and sample loading (device-safe: numpy + Pillow only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from convert_helpers import make_images

from edgekit.core.source import TensorSpec
from edgekit.data import (
    Layout,
    Preprocessing,
    ResizeMode,
    decode_image,
    image_geometry,
    load_samples,
    permute_samples,
)
from edgekit.errors import DataError

pytestmark = pytest.mark.device

IMG = TensorSpec("image", (1, 16, 12, 3), "float32")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_images(tmp_path_factory.mktemp("imgs"), count=10)


def test_presets_give_expected_ranges() -> None:
    pixels = np.array([[[0.0, 127.5, 255.0]]], np.float32)
    assert np.allclose(Preprocessing.from_options("raw").normalize(pixels), [0, 127.5, 255])
    assert np.allclose(Preprocessing.from_options("unit").normalize(pixels), [0, 0.5, 1])
    assert np.allclose(Preprocessing.from_options("symmetric").normalize(pixels), [-1, 0, 1])
    imagenet = Preprocessing.from_options("imagenet").normalize(np.full((1, 1, 3), 255.0, np.float32))
    assert np.allclose(imagenet, (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]), atol=1e-5)


def test_explicit_values_override_preset_and_bgr() -> None:
    recipe = Preprocessing.from_options("unit", mean=(0.5,), std=(0.5,), channel_order="bgr")
    assert recipe.preset == "unit+custom"
    out = recipe.normalize(np.array([[[255.0, 0.0, 127.5]]], np.float32))
    assert np.allclose(out, [[[0.0, -1.0, 1.0]]])  # (x/255 - .5)/.5, then reversed to BGR


def test_recipe_round_trips_through_dict() -> None:
    recipe = Preprocessing.from_options("imagenet", resize="crop", layout="nchw")
    again = Preprocessing.from_dict(recipe.to_dict())
    assert again == recipe
    assert again.resize is ResizeMode.CROP and again.layout is Layout.NCHW


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": 0.0}, {"scale": float("nan")}, {"std": (0.0,)}, {"mean": (1.0, 2.0)}, {"resize": "zoom"}],
)
def test_bad_recipes_say_what_to_fix(kwargs: dict[str, object]) -> None:
    with pytest.raises(DataError) as err:
        Preprocessing.from_options(**kwargs)  # type: ignore[arg-type]
    assert err.value.hint


def test_from_dict_rejects_incomplete_recipe() -> None:
    with pytest.raises(DataError, match="incomplete"):
        Preprocessing.from_dict({"scale": 1.0})


def test_image_geometry_infers_layout() -> None:
    assert image_geometry(TensorSpec("x", (1, 32, 24, 3), "float32")) is not None
    nchw = image_geometry(TensorSpec("x", (1, 3, 32, 24), "float32"))
    assert nchw is not None and nchw.layout is Layout.NCHW and (nchw.height, nchw.width) == (32, 24)
    assert image_geometry(TensorSpec("x", (1, 10), "float32")) is None


def test_image_folder_skips_corrupt_and_converts_grayscale(images: Path) -> None:
    arrays, summary = load_samples(images, [IMG], Preprocessing.from_options("unit"), 100, progress_label=None)
    arr = arrays["image"]
    # 10 generated + gray + rgba usable; the corrupt jpg is skipped and counted; notes.txt is not an image
    assert summary.files_seen == 13 and summary.skipped == 1 and summary.count == 12
    assert "corrupt.jpg" in summary.skipped_examples[0]
    assert arr.shape == (12, 1, 16, 12, 3) and arr.dtype == np.float32
    assert 0.0 <= arr.min() and arr.max() <= 1.0
    assert summary.per_input["image"]["max"] <= 1.0


def test_max_samples_spreads_over_subfolders(images: Path) -> None:
    arrays, summary = load_samples(images, [IMG], None, 4, progress_label=None)
    assert arrays["image"].shape[0] == 4 and summary.count == 4


def test_nchw_and_single_channel_inputs(images: Path) -> None:
    spec = TensorSpec("x", (1, 3, 8, 10), "float32")
    arrays, _ = load_samples(images, [spec], None, 3, progress_label=None)
    assert arrays["x"].shape == (3, 1, 3, 8, 10)
    gray = TensorSpec("g", (1, 8, 8, 1), "float32")
    arrays, _ = load_samples(images, [gray], None, 3, progress_label=None)
    assert arrays["g"].shape == (3, 1, 8, 8, 1)


def test_batch_of_two_groups_images(images: Path) -> None:
    spec = TensorSpec("x", (2, 8, 8, 3), "float32")
    arrays, summary = load_samples(images, [spec], None, 3, progress_label=None)
    assert arrays["x"].shape == (3, 2, 8, 8, 3) and summary.count == 3


def test_resize_modes(tmp_path: Path) -> None:
    from PIL import Image

    wide = np.zeros((10, 40, 3), np.uint8)
    wide[:, 15:25] = 255  # a white bar in the middle
    Image.fromarray(wide).save(tmp_path / "wide.png")
    geo = image_geometry(TensorSpec("x", (1, 10, 10, 3), "float32"))
    assert geo is not None
    crop = decode_image(tmp_path / "wide.png", geo, ResizeMode.CROP)
    pad = decode_image(tmp_path / "wide.png", geo, ResizeMode.PAD)
    stretch = decode_image(tmp_path / "wide.png", geo, ResizeMode.STRETCH)
    assert crop.shape == pad.shape == stretch.shape == (10, 10, 3)
    assert crop[5, 5, 0] > 200  # centre crop keeps the bar
    assert pad[0, 5, 0] == 0 and pad[9, 5, 0] == 0  # black padding above and below
    assert stretch[5, 0, 0] < 50 and stretch[5, 5, 0] > 100


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    from PIL import Image

    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :10] = 255  # left half white
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    pil.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    geo = image_geometry(TensorSpec("x", (1, 20, 10, 3), "float32"))
    assert geo is not None
    out = decode_image(tmp_path / "rot.jpg", geo, ResizeMode.STRETCH)
    assert out[2, 5, 0] > 200 and out[17, 5, 0] < 50  # after rotation the white half is on top


def test_decompression_bomb_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    arrays, summary = load_samples(tmp_path, [IMG], None, 10, progress_label=None)
    assert summary.count == 1 and summary.skipped == 1
    assert "DecompressionBomb" in summary.skipped_examples[0]


def test_no_usable_image_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="No usable image"):
        load_samples(tmp_path, [IMG], None, 10, progress_label=None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="No images"):
        load_samples(empty, [IMG], None, 10, progress_label=None)


def test_images_need_single_image_input(images: Path) -> None:
    with pytest.raises(DataError, match="one image input"):
        load_samples(images, [IMG, TensorSpec("v", (1, 5), "float32")], None, 2, progress_label=None)
    with pytest.raises(DataError, match="not an image input"):
        load_samples(images, [TensorSpec("v", (1, 5), "float32")], None, 2, progress_label=None)


def test_npy_shapes_are_fitted(tmp_path: Path) -> None:
    spec = TensorSpec("v", (1, 5), "float32")
    np.save(tmp_path / "rows.npy", np.ones((7, 5), np.float64))
    arrays, summary = load_samples(tmp_path / "rows.npy", [spec], None, 100)
    assert arrays["v"].shape == (7, 1, 5) and arrays["v"].dtype == np.float32 and summary.kind == "arrays"
    np.save(tmp_path / "one.npy", np.ones((1, 5), np.float32))
    arrays, _ = load_samples(tmp_path / "one.npy", [spec], None, 100)
    assert arrays["v"].shape == (1, 1, 5)
    np.save(tmp_path / "bad.npy", np.ones((7, 6), np.float32))
    with pytest.raises(DataError, match="does not fit"):
        load_samples(tmp_path / "bad.npy", [spec], None, 100)


def test_npz_keys_for_multi_input(tmp_path: Path) -> None:
    specs = [TensorSpec("a", (1, 2), "float32"), TensorSpec("b", (1, 3), "float32")]
    np.savez(tmp_path / "ok.npz", a=np.zeros((4, 2)), b=np.ones((4, 3)))
    arrays, summary = load_samples(tmp_path / "ok.npz", specs, None, 3)
    assert arrays["a"].shape == (3, 1, 2) and arrays["b"].shape == (3, 1, 3) and summary.count == 3
    np.savez(tmp_path / "wrong.npz", a=np.zeros((4, 2)), c=np.ones((4, 3)))
    with pytest.raises(DataError, match="missing"):
        load_samples(tmp_path / "wrong.npz", specs, None, 3)
    np.save(tmp_path / "single.npy", np.zeros((4, 2)))
    with pytest.raises(DataError, match="2 inputs"):
        load_samples(tmp_path / "single.npy", specs, None, 3)


def test_nan_and_inf_are_data_errors(tmp_path: Path) -> None:
    spec = TensorSpec("v", (1, 3), "float32")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan, 2.0]]))
    with pytest.raises(DataError, match="NaN or Inf"):
        load_samples(tmp_path / "nan.npy", [spec], None, 10)
    np.save(tmp_path / "inf.npy", np.array([[1.0, np.inf, 2.0]]))
    with pytest.raises(DataError, match="NaN or Inf"):
        load_samples(tmp_path / "inf.npy", [spec], None, 10)


def test_pickled_or_garbage_arrays_are_refused(tmp_path: Path) -> None:
    spec = TensorSpec("v", (1, 3), "float32")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError):
        load_samples(tmp_path / "obj.npy", [spec], None, 10)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="Cannot read"):
        load_samples(tmp_path / "junk.npz", [spec], None, 10)


def test_synthetic_follows_recipe_and_dtype() -> None:
    specs = [IMG, TensorSpec("ids", (1, 4), "int32"), TensorSpec("v", (1, 3), "float32")]
    arrays, summary = load_samples(None, specs, Preprocessing.from_options("symmetric"), 5, seed=1)
    assert summary.kind == "synthetic" and summary.count == 5
    assert arrays["image"].shape == (5, 1, 16, 12, 3) and -1.0 <= arrays["image"].min() <= arrays["image"].max() <= 1.0
    assert arrays["ids"].dtype == np.int32
    again, _ = load_samples(None, specs, Preprocessing.from_options("symmetric"), 5, seed=1)
    assert np.array_equal(again["v"], arrays["v"])  # reproducible


def test_missing_and_unsupported_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_samples(tmp_path / "nope", [IMG], None, 3)
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DataError, match="neither"):
        load_samples(tmp_path / "x.csv", [IMG], None, 3)


def test_permute_samples_moves_axes() -> None:
    arr = np.zeros((4, 1, 3, 8, 10))
    assert permute_samples(arr, (0, 2, 3, 1)).shape == (4, 1, 8, 10, 3)
    assert permute_samples(arr, None) is arr
