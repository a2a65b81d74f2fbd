"""Finds the text lines of a page with the detection model that ships inside the rapidocr wheel.

Detection cost grows with the pixels it looks at: on the page scaled to 1280 px (long edge) it is
most of a small page's time. So a page is looked at small first, at ``QUICK`` px, and again at
``FULL`` px only on evidence that the quick look missed or blurred something (bench/RESULTS.md 9d):

- **small print**: a quarter of the lines found are under ``SMALL_TEXT`` px tall at the quick
  size, where neighbouring lines and columns start to merge into one box;
- **ink left unread**: ``UNREAD_GLYPHS`` or more glyph-sized blots of ink lie outside every box
  found (a caption in small type beside a large title, a stamp, a footnote).

Pages of large type (forms, receipts, slides, flowcharts) take the quick look only; pages of body
text pay both, which is a few percent of the time their lines take to read.
"""

from __future__ import annotations

import cv2
import numpy as np

QUICK = 640
FULL = 1280
SIZES = (QUICK, FULL)
SMALL_TEXT = 16
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
        boxes = self._look(pixels, self.sizes[0])
        if len(self.sizes) > 1 and max(pixels.shape[:2]) > self.sizes[0] and self._missed(pixels, boxes):
            boxes = self._look(pixels, self.sizes[-1])
        return boxes

    def _look(self, pixels: np.ndarray, size: int) -> list[np.ndarray]:
        found = self._detectors[size](pixels)
        return [] if found.boxes is None else list(found.boxes)

    def _missed(self, pixels: np.ndarray, boxes: list[np.ndarray]) -> bool:
        """Whether the quick look shows small print, or left letter-sized ink outside its boxes."""
        scale = self.sizes[0] / max(pixels.shape[:2])
        heights = [float(box[:, 1].max() - box[:, 1].min()) * scale for box in boxes]
        if heights and float(np.percentile(heights, 25)) < SMALL_TEXT:
            return True
        return _unread_glyphs(pixels, boxes) >= UNREAD_GLYPHS


def crop(pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The line inside ``box``, straightened; a line standing upright is turned to read."""
    corners = box.astype(np.float32)
    width = max(1, int(max(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[2] - corners[3]))))
    height = max(1, int(max(np.linalg.norm(corners[0] - corners[3]), np.linalg.norm(corners[1] - corners[2]))))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    line = cv2.warpPerspective(pixels, cv2.getPerspectiveTransform(corners, target), (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(line) if height >= 1.5 * width else line


def _unread_glyphs(pixels: np.ndarray, boxes: list[np.ndarray]) -> int:
    """Blots of ink the size of a letter that lie outside every box (page at half size if large)."""
    gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    shrink = 2 if max(gray.shape) > 1400 else 1
    if shrink > 1:
        gray = cv2.resize(gray, (gray.shape[1] // shrink, gray.shape[0] // shrink), interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    for box in boxes:
        cv2.fillPoly(ink, [np.round(box / shrink).astype(np.int32)], 0)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    width, height, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    # Letter-sized: a few pixels to two lines of body text tall, no wider than a few letters
    # (box outlines, rules and pictures are wider or taller), more than a speck.
    glyphs = (height >= 4) & (height <= 80 // shrink) & (width <= 3 * height) & (area >= 6)
    return int(glyphs.sum())
