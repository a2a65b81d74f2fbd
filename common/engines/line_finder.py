"""Finds the text lines of a page: where, and at what size, ``line_detector`` looks.

Detection cost grows with the pixels it looks at: on the page scaled to 1280 px (long edge) it is
most of a small page's time. So it looks at no more pixels than the page needs (bench/RESULTS.md
9d, 9e):

- **only where the ink is**: the page's margins are cut off before any look (``_Ink.region``);
- **body text at the size its letters need**: the page's letters (blots of ink a letter's size,
  counted in a few ms before any look) are under ``SMALL_LETTERS`` px tall at the quick size on
  average; such a page takes one look, at the size where its letters are ``BODY_LETTERS`` px tall
  (``FULL`` px at most): 1280 px for 10-point type on a 2000 px render, about 1000 px for 13-point;
- **large type at ``QUICK`` px**, and at ``FULL`` px only on evidence that the quick look missed
  or blurred something: a quarter of its lines under ``SMALL_TEXT`` px tall (neighbouring lines
  and columns start to merge into one box), or ``UNREAD_GLYPHS`` or more letter-sized blots
  outside every box it found (a caption in small type beside a large title, a stamp, a footnote).

Forms, receipts, slides and flowcharts take the quick look only; pages of body text one look at
their letters' size; a page the letters misjudge pays two.
"""

from __future__ import annotations

import cv2
import numpy as np

from common.engines.line_detector import LineDetector

QUICK = 640
FULL = 1280
SIZES = (QUICK, FULL)
SMALL_TEXT = 16
SMALL_LETTERS = 6
UNREAD_GLYPHS = 8
BODY_LETTERS = 8
MARGIN = 32  # px of page kept around the ink: a box reaches a little beyond its letters
PALE = 24  # grey levels under the paper's that count as a mark when cutting the margins off


class LineFinder:
    def __init__(self, threads: int, sizes: tuple[int, ...] = SIZES):
        """``sizes``: the quick look's long edge, then the full look's, px (one size: every page
        looked at once at that size; a benchmark lever)."""
        self.sizes = sizes
        self._detector = LineDetector(threads)

    def find(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Line boxes (4 corners clockwise from top left, image pixels) of a BGR image."""
        quick, full = self.sizes[0], self.sizes[-1]
        ink = _Ink(pixels)
        long_edge = max(pixels.shape[:2])
        if quick == full or long_edge <= quick:
            return self._look(pixels, quick, ink)
        scale = quick / long_edge
        letters = ink.letter_height()
        if letters * scale < SMALL_LETTERS:  # body text: a quick look would only send us further
            return self._look(pixels, min(full, long_edge * BODY_LETTERS / letters), ink)
        boxes = self._look(pixels, quick, ink)
        heights = [float(box[:, 1].max() - box[:, 1].min()) * scale for box in boxes]
        if (heights and float(np.percentile(heights, 25)) < SMALL_TEXT) or ink.unread(boxes) >= UNREAD_GLYPHS:
            return self._look(pixels, full, ink)
        return boxes

    def _look(self, pixels: np.ndarray, size: float, ink: "_Ink") -> list[np.ndarray]:
        """The boxes found in the inked part of the page scaled to ``size`` px (long edge)."""
        left, top, right, bottom = ink.region()
        boxes = self._detector(pixels[top:bottom, left:right], min(1.0, size / max(pixels.shape[:2])))
        return list(boxes + np.array([left, top], np.float32))


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
        self.height, self.width = pixels.shape[:2]
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        self.shrink = 2 if max(gray.shape) > 1400 else 1
        if self.shrink > 1:
            gray = cv2.resize(gray, (gray.shape[1] // self.shrink, gray.shape[0] // self.shrink),
                              interpolation=cv2.INTER_AREA)
        _, self.image = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        # Anything visibly darker than the paper, pale grey print included (Otsu's cut can leave a
        # grey footer out): what the region keeps.
        self.marks = gray < float(np.median(gray)) - PALE

    def region(self) -> tuple[int, int, int, int]:
        """Left, top, right, bottom (page pixels) of every mark on the page, ``MARGIN`` px around;
        the page if blank."""
        rows, columns = np.flatnonzero(self.marks.any(axis=1)), np.flatnonzero(self.marks.any(axis=0))
        if not rows.size:
            return 0, 0, self.width, self.height
        return (max(0, int(columns[0]) * self.shrink - MARGIN), max(0, int(rows[0]) * self.shrink - MARGIN),
                min(self.width, (int(columns[-1]) + 1) * self.shrink + MARGIN),
                min(self.height, (int(rows[-1]) + 1) * self.shrink + MARGIN))

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
