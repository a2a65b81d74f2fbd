"""Finds the text lines of a page with the detection model that ships inside the rapidocr wheel.

Detection cost grows with the pixels it looks at: on the page scaled to 1280 px (long edge) it is
most of a small page's time. So a page of large type is looked at small, at ``QUICK`` px, and at
``FULL`` px only on evidence that the quick look missed or blurred something (bench/RESULTS.md 9d):

- **body text**: the page's letters (blots of ink a letter's size, counted in a few ms before any
  look) are under ``SMALL_LETTERS`` px tall at the quick size on average; such a page goes straight
  to the full look, since the quick one would send it there anyway;
- **small print**: a quarter of the lines the quick look found are under ``SMALL_TEXT`` px tall,
  where neighbouring lines and columns start to merge into one box;
- **ink left unread**: ``UNREAD_GLYPHS`` or more letter-sized blots lie outside every box the
  quick look found (a caption in small type beside a large title, a stamp, a footnote).

Forms, receipts, slides and flowcharts take the quick look only; pages of body text take the
full look only; a page the letters misjudge pays both.
"""

from __future__ import annotations

import cv2
import numpy as np

QUICK = 640
FULL = 1280
SIZES = (QUICK, FULL)
SMALL_TEXT = 16
SMALL_LETTERS = 6
UNREAD_GLYPHS = 8


class LineFinder:
    def __init__(self, threads: int, sizes: tuple[int, ...] = SIZES):
        """``sizes``: the quick look's long edge, then the full look's (one size: one look; a
        benchmark lever)."""
        from rapidocr import RapidOCR

        self.sizes = sizes
        # rapidocr loads a detector's model on its first call: the full-size one only when needed.
        self._detectors = {
            size: RapidOCR(params={
                "Global.log_level": "warning",
                "Global.use_cls": False,  # pages are upright: a per-line 0/180 pass costs more than it finds
                "Global.use_rec": False,
                "Det.limit_type": "max",
                "Det.limit_side_len": size,
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            })
            for size in sizes
        }

    def find(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Line boxes (4 corners clockwise from top left, image pixels) of a BGR image."""
        quick, full = self.sizes[0], self.sizes[-1]
        if quick == full or max(pixels.shape[:2]) <= quick:
            return self._look(pixels, quick)
        scale = quick / max(pixels.shape[:2])
        ink = _Ink(pixels)
        if ink.letter_height() * scale < SMALL_LETTERS:
            return self._look(pixels, full)  # body text: the quick look would only send us here
        boxes = self._look(pixels, quick)
        heights = [float(box[:, 1].max() - box[:, 1].min()) * scale for box in boxes]
        if (heights and float(np.percentile(heights, 25)) < SMALL_TEXT) or ink.unread(boxes) >= UNREAD_GLYPHS:
            return self._look(pixels, full)
        return boxes

    def _look(self, pixels: np.ndarray, size: int) -> list[np.ndarray]:
        found = self._detectors[size](pixels)
        return [] if found.boxes is None else list(found.boxes)


def crop(pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The line inside ``box``, straightened; a line standing upright is turned to read."""
    corners = box.astype(np.float32)
    width = max(1, int(max(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[2] - corners[3]))))
    height = max(1, int(max(np.linalg.norm(corners[0] - corners[3]), np.linalg.norm(corners[1] - corners[2]))))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    line = cv2.warpPerspective(pixels, cv2.getPerspectiveTransform(corners, target), (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(line) if height >= 1.5 * width else line


class _Ink:
    """The page's ink (black on white after Otsu's threshold), at half size when the page is large."""

    def __init__(self, pixels: np.ndarray):
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        self.shrink = 2 if max(gray.shape) > 1400 else 1
        if self.shrink > 1:
            gray = cv2.resize(gray, (gray.shape[1] // self.shrink, gray.shape[0] // self.shrink),
                              interpolation=cv2.INTER_AREA)
        _, self.image = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)

    def letter_height(self) -> float:
        """The median height (page pixels) of the letters, titles' included; infinite on a page without."""
        heights = self._letter_heights(self.image, tallest=self.image.shape[0] // 10)
        return float(np.median(heights)) * self.shrink if heights.size else float("inf")

    def unread(self, boxes: list[np.ndarray]) -> int:
        """How many letter-sized blots lie outside every box."""
        outside = self.image.copy()
        for box in boxes:
            cv2.fillPoly(outside, [np.round(box / self.shrink).astype(np.int32)], 0)
        return int(self._letter_heights(outside, tallest=80 // self.shrink).size)

    def _letter_heights(self, ink: np.ndarray, tallest: int) -> np.ndarray:
        _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        width, height, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
        # Letter-sized: a few pixels to ``tallest`` (ink left unread: two lines of body text) tall,
        # no wider than a few letters (box outlines, rules and pictures are wider), more than a speck.
        letters = (height >= 4) & (height <= tallest) & (width <= 3 * height) & (area >= 6)
        return height[letters]
