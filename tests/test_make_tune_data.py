"""scripts/make_tune_data.py's ISBN pages: what isbnx's YOLO26n detector finds (an EAN-13 barcode of the page's
ISBN, ISBN lines, a CIP block), rendered offline. The barcode must be a valid EAN-13 symbol, or it is noise that
looks like one. Device-safe: numpy and Pillow."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from script_helpers import load_script

pytestmark = pytest.mark.device



def _script() -> ModuleType:
    return load_script("make_tune_data")


def test_ean13_of_an_isbn_has_its_check_digit_and_the_standard_guards() -> None:
    m = _script()
    digits, bits = m.ean13_bits("978030640615")  # ISBN 978-0-306-40615-7
    assert digits == "9780306406157"
    assert len(bits) == 95 and bits[:3] == "101" and bits[45:50] == "01010" and bits[-3:] == "101"
    # the first digit (9) is coded by the parity of the left half: L G G L G L
    left = [bits[3 + 7 * i: 10 + 7 * i] for i in range(6)]
    assert [int(code[0] == "0" and code.count("1") % 2 == 1) for code in left] == [1, 0, 0, 1, 0, 1]
    right = [bits[50 + 7 * i: 57 + 7 * i] for i in range(6)]
    assert all(code[0] == "1" and code[-1] == "0" for code in right)  # R codes start with a bar, end with a space


def test_copyright_pages_are_letterboxed_and_the_same_for_a_seed() -> None:
    m = _script()
    a = np.asarray(m.copyright_page(np.random.default_rng(4), 640))
    b = np.asarray(m.copyright_page(np.random.default_rng(4), 640))
    assert a.shape == (640, 640, 3) and np.array_equal(a, b)
    assert np.all(a[:, :5] == 114)  # the grey letterbox isbnx pads a page with
    assert a.min() == 0 or a[:, 100:540].min() < 60  # dark ink (text, maybe bars) on the page


def test_people_pictures_paste_crops_of_the_given_photos_and_are_the_same_for_a_seed() -> None:
    """The `people` set composes real photographs (found in installed wheels); here two plain-colour stand-ins:
    every picture holds a large re-lit crop of one of them, and a seed gives the same picture."""
    from PIL import Image

    m = _script()
    photos = [Image.new("RGB", (300, 260), (200, 30, 30)), Image.new("RGB", (260, 300), (30, 30, 200))]
    a = np.asarray(m.person(np.random.default_rng(9), photos))
    b = np.asarray(m.person(np.random.default_rng(9), photos))
    assert a.shape == (320, 320, 3) and np.array_equal(a, b)
    for seed in range(6):
        img = np.asarray(m.person(np.random.default_rng(seed), photos)).astype(int)
        red = (img[..., 0] > img[..., 2] + 60) & (img[..., 0] > img[..., 1] + 60)
        blue = (img[..., 2] > img[..., 0] + 60) & (img[..., 2] > img[..., 1] + 60)
        assert max(red.mean(), blue.mean()) > 0.1  # a crop of at least 45% of the side, mostly opaque
