"""The lite detector's model run (common/engines/line_detector.py): the shipped detection model and
its boxes, checked against rapidocr's own pipeline on pages drawn with the shipped font."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from common.engines.line_detector import LineDetector
from tests.pages import font, text_page

LINES = ["Quarterly statement for account 2291", "Opening balance 1,204.50",
         "Card payment GROCER 88.10", "Closing balance 1,116.40"]


@pytest.fixture(scope="module")
def detector() -> LineDetector:
    return LineDetector(threads=2)


def bgr(page: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(page.convert("RGB"))[:, :, ::-1])


def drawn_extents(page_lines: list[str], top: int = 160, left: int = 120, size: int = 40) -> list[tuple]:
    """Left, top, right, bottom of each drawn line's ink (as ``text_page`` draws them)."""
    face = font(size)
    extents = []
    for index, line in enumerate(page_lines):
        x0, y0, x1, y1 = face.getbbox(line)
        y = top + int(size * 1.6) * index
        extents.append((left + x0, y + y0, left + x1, y + y1))
    return extents


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_one_box_per_line_around_its_ink_in_image_pixels(detector, scale):
    boxes = detector(bgr(text_page(LINES)), scale)
    assert boxes.shape == (len(LINES), 4, 2)
    for box, (left, top, right, bottom) in zip(boxes, drawn_extents(LINES)):  # top to bottom
        # Corners clockwise from the top left, around the ink with a margin of a few pixels.
        assert box[0, 0] < box[1, 0] and box[0, 1] < box[3, 1]
        assert abs(box[1, 1] - box[0, 1]) < 0.01 * (box[1, 0] - box[0, 0])  # near level (a level line)
        assert left - 20 < box[0, 0] <= left and top - 20 < box[0, 1] <= top
        assert right <= box[2, 0] < right + 20 and bottom <= box[2, 1] < bottom + 20


def test_the_same_boxes_as_rapidocrs_own_pipeline(detector):
    """The model and its settings are rapidocr's; only the wrapper around them is not."""
    from rapidocr import RapidOCR

    pixels = bgr(text_page(LINES + ["Page 1 of 3"], font_size=28))
    theirs = RapidOCR(params={"Global.log_level": "warning", "Global.use_cls": False, "Global.use_rec": False,
                              "Det.limit_type": "max", "Det.limit_side_len": 2000})(pixels).boxes
    ours = detector(pixels)
    assert len(ours) == len(theirs) == 5
    order = np.argsort(theirs[:, 0, 1])
    assert np.abs(ours - theirs[order]).max() <= 2.0


def test_a_single_line_image_is_found(detector):
    """A strip of one line (a cropped screenshot), stretched to 64 px tall for the model: one box
    around the line, in the strip's own pixels."""
    strip = Image.new("RGB", (900, 60), "white")
    ImageDraw.Draw(strip).text((10, 8), "Invoice 2024-0117 due 30 June", fill="black", font=font(36))
    [box] = detector(bgr(strip))
    assert box[:, 0].min() <= 14 and box[:, 0].max() >= 560 and 0 <= box[:, 1].min() and box[:, 1].max() <= 59


def test_a_blank_image_has_no_boxes(detector):
    assert detector(bgr(Image.new("RGB", (800, 600), "white"))).shape == (0, 4, 2)
    assert detector(bgr(Image.new("RGB", (20, 10), "white"))).shape == (0, 4, 2)
