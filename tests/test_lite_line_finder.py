"""The lite detector (common/engines/line_finder.py): only the inked part of the page; body text at
the size its letters need; large type at 640 px, and at 1280 px only on evidence (small print, ink
left unread), on pages drawn with the shipped font."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from common.engines import line_finder
from common.engines.line_finder import FULL, QUICK, LineFinder, crop
from common.engines.line_reader import LineReader
from common.engines.scripts import is_latin
from tests.pages import font, text_page


class Looks:
    """The finder's real looks, with the size of each and the image its detector was given."""

    def __init__(self, finder: LineFinder):
        self.look, self.detector = finder._look, finder._detector
        self.sizes: list[float] = []
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, pixels, size, ink):
        self.sizes.append(size)
        return self.look(pixels, size, ink)

    def detect(self, part, scale):
        self.shapes.append((round(part.shape[0] * scale), round(part.shape[1] * scale)))
        return self.detector(part, scale)


@pytest.fixture(scope="module")
def finder() -> LineFinder:
    return LineFinder(threads=2)


@pytest.fixture
def looks(finder, monkeypatch) -> Looks:
    recording = Looks(finder)
    monkeypatch.setattr(finder, "_look", recording)
    monkeypatch.setattr(finder, "_detector", recording.detect)
    return recording


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
    draw.text((120, 700), "photographs by Lena Marsh, printed in Bergen", fill="black", font=font(13))
    return page


def test_large_type_takes_the_quick_look_only(finder, looks):
    form = text_page(["Change of address", "Customer number", "New address", "Signature"], font_size=40, spacing=2.5)
    assert read(finder, form).split() == "Change of address Customer number New address Signature".split()
    assert looks.sizes == [QUICK]


def small_print() -> Image.Image:
    lines = [f"line {n} of the small print that the quick look blurs" for n in range(1, 41)]
    return text_page(lines, top=80, left=80, font_size=18, spacing=1.5)


def test_body_text_takes_one_look_at_the_size_its_letters_need(finder, looks):
    text = read(finder, small_print())
    [size] = looks.sizes
    assert QUICK < size <= FULL
    assert all(f"line {n} of the small print" in text for n in range(1, 41))


def test_larger_body_text_is_looked_at_smaller(finder, looks, monkeypatch):
    monkeypatch.setattr(line_finder, "SMALL_LETTERS", 100)  # both pages count as body text
    for font_size in (18, 24):
        lines = [f"line {n} of a page of body text" for n in range(1, 30)]
        finder.find(bgr(text_page(lines, top=80, left=80, font_size=font_size, spacing=1.5)))
    small, large = looks.sizes
    assert large < 0.85 * small
    # Both at about BODY_LETTERS px a letter: the sizes go as the letters' heights do.
    assert large / small == pytest.approx(18 / 24, rel=0.15)


def test_only_the_inked_part_of_the_page_is_looked_at(finder, looks):
    """A note in one corner of an A4 page: the detector sees the note, not the blank page, and the
    boxes still fall on the note in page pixels."""
    page = Image.new("RGB", (1240, 1754), "white")
    ImageDraw.Draw(page).text((700, 1400), "Received 4 March", fill="black", font=font(40))
    boxes = finder.find(bgr(page))
    [shape] = looks.shapes
    assert read(finder, page) == "Received 4 March"
    assert shape[0] * shape[1] < 0.05 * (QUICK * QUICK * 1240 / 1754)  # the page at the quick size
    [box] = boxes
    assert 690 <= box[:, 0].min() <= 705 and 1390 <= box[:, 1].min() <= 1405


def test_pale_print_far_from_the_body_is_not_cut_off(finder):
    """A grey footer half a page below black body text: the margins cut before detection must not
    take it (Otsu's threshold between paper and black counts grey 170 as paper)."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    for n in range(10):
        draw.text((100, 150 + 60 * n), f"Dark body text line {n} here", fill="black", font=font(28))
    draw.text((100, 1650), "Page 7 of 12 confidential footer", fill=(170, 170, 170), font=font(28))
    assert "Page 7 of 12 confidential footer" in read(finder, page)


def test_small_print_the_letters_missed_is_looked_at_again(finder, looks, monkeypatch):
    """Where the page's letters do not give it away, the quick look's own line heights do."""
    monkeypatch.setattr(line_finder, "SMALL_LETTERS", 0)
    text = read(finder, small_print())
    assert looks.sizes == [QUICK, FULL]
    assert all(f"line {n} of the small print" in text for n in range(1, 41))


def test_small_type_beside_large_type_is_not_lost(finder, looks):
    text = read(finder, poster())
    assert "photographs by Lena Marsh, printed in Bergen" in text
    assert "ANNUAL REVIEW" in text and "OF THE HARBOUR" in text
    assert looks.sizes == [QUICK, FULL]


def test_without_the_unread_ink_check_the_credit_line_is_lost(finder, looks, monkeypatch):
    """The check above is what finds it: the quick look alone misses 13 px type on an A4 page."""
    monkeypatch.setattr(line_finder, "UNREAD_GLYPHS", 10**9)
    assert "Lena Marsh" not in read(finder, poster())
    assert looks.sizes == [QUICK]


def test_a_blank_page_costs_one_quick_look(finder, looks):
    assert finder.find(bgr(Image.new("RGB", (1240, 1754), "white"))) == []
    assert looks.sizes == [QUICK]


def test_an_image_smaller_than_the_quick_size_is_looked_at_once(finder, looks):
    label = text_page(["Batch 7 of 12"], size=(420, 120), top=30, left=20, font_size=18)
    assert read(finder, label) == "Batch 7 of 12"
    assert looks.sizes == [QUICK]


def test_an_upright_line_is_turned_to_read():
    pixels = np.full((300, 40, 3), 255, np.uint8)
    box = np.array([[5, 10], [35, 10], [35, 290], [5, 290]], np.float32)
    assert crop(pixels, box).shape[:2] == (30, 280)
