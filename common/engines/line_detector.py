"""Runs the text detection model that ships inside the rapidocr wheel (PP-OCRv6 det small) and turns
its map of text probability into line boxes (DB, "differentiable binarization": the model marks
each line's shrunk core; a box is that core's rectangle grown back by a margin).

Run here, not through rapidocr's pipeline, for the same reason as ``line_reader``: around the
model, rapidocr's wrapper cropped every line it found (the reader crops its own), normalised the
image in three numpy passes and resized it twice: 13-180 ms a page besides the model itself, up to
a third of the model's own time on a page of many short cells (bench/RESULTS.md 9g). The settings
are rapidocr's defaults for this model.
"""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np
import onnxruntime as ort

MODEL = "PP-OCRv6_det_small.onnx"
TEXT = 0.3  # a pixel of the map is text above this probability
BOX = 0.5  # a box is kept if the mean probability inside it is above this
GROW = 1.6  # a core grows by its area x GROW / its perimeter on every side
MIN_SIDE = 3  # px of the map: a thinner core is a speck
MAX_BOXES = 1000


class LineDetector:
    def __init__(self, threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        model = str(files("rapidocr") / "models" / MODEL)
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, image: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The line boxes (n x 4 corners, clockwise from top left, ``image`` pixels) of a BGR image,
        looked at ``scale`` times its size (its sides rounded to multiples of 32, as the model needs)."""
        height, width = image.shape[:2]
        size = (_multiple_of_32(width * scale), _multiple_of_32(height * scale))
        looked = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size != (width, height) else image
        blob = cv2.dnn.blobFromImage(looked, 1 / 127.5, None, (127.5, 127.5, 127.5))  # [-1, 1], as trained
        probability = self._session.run(None, {self._input: blob})[0][0, 0]
        boxes = _boxes(probability) * np.array([width / size[0], height / size[1]], np.float32)
        boxes[:, :, 0] = boxes[:, :, 0].clip(0, width - 1)
        boxes[:, :, 1] = boxes[:, :, 1].clip(0, height - 1)
        across = np.linalg.norm(boxes[:, 0] - boxes[:, 1], axis=1)
        down = np.linalg.norm(boxes[:, 0] - boxes[:, 3], axis=1)
        boxes = boxes[(across > MIN_SIDE) & (down > MIN_SIDE)]
        return boxes[np.lexsort((boxes[:, 0, 0], boxes[:, 0, 1]))]  # top to bottom, then left to right


def _boxes(probability: np.ndarray) -> np.ndarray:
    """Boxes (map pixels) around the map's cores of text."""
    text = cv2.dilate((probability > TEXT).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(text, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:MAX_BOXES]:
        core = cv2.minAreaRect(contour)
        centre, (width, height), angle = core
        if min(width, height) < MIN_SIDE or _mean_inside(probability, cv2.boxPoints(core)) < BOX:
            continue
        # The core grown back: the rectangle offset by this margin on every side (DB's "unclip").
        margin = width * height * GROW / (2 * (width + height))
        grown = (width + 2 * margin, height + 2 * margin)
        if min(grown) < MIN_SIDE + 2:
            continue
        boxes.append(_clockwise(cv2.boxPoints((centre, grown, angle))))
    return np.array(boxes, np.float32).reshape(-1, 4, 2)


def _mean_inside(probability: np.ndarray, corners: np.ndarray) -> float:
    """The mean probability inside the polygon ``corners``."""
    height, width = probability.shape
    left, top = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [width - 1, height - 1])
    right, bottom = np.clip(np.ceil(corners.max(axis=0)).astype(int), 0, [width - 1, height - 1])
    mask = np.zeros((bottom - top + 1, right - left + 1), np.uint8)
    cv2.fillPoly(mask, [(corners - [left, top]).astype(np.int32)], 1)
    return cv2.mean(probability[top:bottom + 1, left:right + 1], mask)[0]


def _clockwise(corners: np.ndarray) -> np.ndarray:
    """The four corners from the top left, clockwise."""
    by_x = corners[np.argsort(corners[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1], kind="stable")]
    top_right, bottom_right = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([top_left, top_right, bottom_right, bottom_left], np.float32)


def _multiple_of_32(length: float) -> int:
    return max(32, int(round(length / 32)) * 32)
