"""The lite detector (common/engines/line_finder.py): a quick look at 640 px, and the full
1280 px look only on evidence (small print, ink left unread), on pages drawn with the shipped font."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from common.engines import line_finder
from common.engines.line_finder import FULL, QUICK, LineFinder, crop
from common.engines.line_reader import LineReader
from common.engines.scripts import is_latin
from tests.pages import font, text_page


class CountingDetector:
    """One of the finder's real rapidocr detectors, counting its calls."""

    def __init__(self, detector):
        self.detector, self.calls = detector, 0

    def __call__(self, pixels):
        self.calls += 1
        return self.detector(pixels)


@pytest.fixture(scope="module")
def finder() -> LineFinder:
    return LineFinder(threads=2)


@pytest.fixture
def looks(finder, monkeypatch) -> dict[int, CountingDetector]:
    counting = {size: CountingDetector(detector) for size, detector in finder._detectors.items()}
    monkeypatch.setattr(finder, "_detectors", counting)
    return counting


def bgr(page: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(page.convert("RGB"))[:, :, ::-1])


def read(finder: LineFinder, page: Image.Image) -> str:
    pixels = bgr(page)
    reader = LineReader(threads=2, keep=is_latin)
    return " ".join(text for text, _ in reader.read([crop(pixels, box) for box in finder.find(pixels)]))


def poster() -> Image.Image:
    """A large title and a small credit line beside it (a slide, a poster, a cover)."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    draw.text((120, 300), "ANNUAL REVIEW", fill="black", font=font(110))
    draw.text((120, 480), "OF THE HARBOUR", fill="black", font=font(110))
    draw.text((120, 700), "photographs by Lena Marsh, printed in Bergen", fill="black", font=font(16))
    return page


def test_large_type_takes_the_quick_look_only(finder, looks):
    form = text_page(["Change of address", "Customer number", "New address", "Signature"], font_size=40, spacing=2.5)
    assert read(finder, form).split() == "Change of address Customer number New address Signature".split()
    assert (looks[QUICK].calls, looks[FULL].calls) == (1, 0)


def small_print() -> Image.Image:
    lines = [f"line {n} of the small print that the quick look blurs" for n in range(1, 41)]
    return text_page(lines, top=80, left=80, font_size=18, spacing=1.5)


def test_body_text_goes_straight_to_the_full_look(finder, looks):
    text = read(finder, small_print())
    assert (looks[QUICK].calls, looks[FULL].calls) == (0, 1)
    assert all(f"line {n} of the small print" in text for n in range(1, 41))


def test_small_print_the_letters_missed_is_looked_at_again(finder, looks, monkeypatch):
    """Where the page's letters do not give it away, the quick look's own line heights do."""
    monkeypatch.setattr(line_finder, "SMALL_LETTERS", 0)
    text = read(finder, small_print())
    assert (looks[QUICK].calls, looks[FULL].calls) == (1, 1)
    assert all(f"line {n} of the small print" in text for n in range(1, 41))


def test_small_type_beside_large_type_is_not_lost(finder, looks):
    text = read(finder, poster())
    assert "photographs by Lena Marsh, printed in Bergen" in text
    assert "ANNUAL REVIEW" in text and "OF THE HARBOUR" in text
    assert (looks[QUICK].calls, looks[FULL].calls) == (1, 1)


def test_without_the_unread_ink_check_the_credit_line_is_lost(finder, looks, monkeypatch):
    """The check above is what finds it: the quick look alone misses 16 px type on an A4 page."""
    monkeypatch.setattr(line_finder, "UNREAD_GLYPHS", 10**9)
    assert "Lena Marsh" not in read(finder, poster())
    assert looks[FULL].calls == 0


def test_a_blank_page_costs_one_quick_look(finder, looks):
    assert finder.find(bgr(Image.new("RGB", (1240, 1754), "white"))) == []
    assert (looks[QUICK].calls, looks[FULL].calls) == (1, 0)


def test_an_image_smaller_than_the_quick_size_is_looked_at_once(finder, looks):
    label = text_page(["Batch 7 of 12"], size=(420, 120), top=30, left=20, font_size=18)
    assert read(finder, label) == "Batch 7 of 12"
    assert (looks[QUICK].calls, looks[FULL].calls) == (1, 0)


def test_an_upright_line_is_turned_to_read():
    pixels = np.full((300, 40, 3), 255, np.uint8)
    box = np.array([[5, 10], [35, 10], [35, 290], [5, 290]], np.float32)
    assert crop(pixels, box).shape[:2] == (30, 280)
