"""The lite engine: CPU OCR with the ONNX models that ship inside the rapidocr wheel.

Nothing is downloaded and neither torch nor transformers is imported. ``line_finder`` finds the
text lines (the detection model, run by ``line_detector``, on the inked part of the page at the
size its letters need), ``line_reader`` reads them (the recognition model, at 20 px), and
``common.layout`` puts them in reading order and sets running headers and footers aside
(docs/lite-engine.md).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from common.config import Settings
from common.engines.base import PageText
from common.engines.line_finder import SIZES, LineFinder, crop
from common.engines.line_reader import HEIGHT, SQUEEZE, LineReader
from common.engines.scripts import is_latin, mend_accents
from common.layout import Line, assemble_page
from common.layout.words import mend_glued

log = logging.getLogger(__name__)

# A line the reader is less sure of than this is a smudge, a rule or a stamp (rapidocr's default).
MIN_CONFIDENCE = 0.5


class LiteEngine:
    name = "lite"
    batch_size = 1  # one page at a time

    def __init__(self, settings: Settings, *, detect: tuple[int, ...] = SIZES,
                 height: int = HEIGHT, squeeze: float = SQUEEZE):
        """``detect``, ``height`` and ``squeeze``: benchmark levers (bench/vs_tesseract.py --levers)."""
        started = time.perf_counter()
        threads = settings.lite_threads or os.cpu_count() or 1
        self.script = settings.lite_script
        self.model = "rapidocr"
        self.revision = version("rapidocr")
        self._finder = LineFinder(threads, detect)
        self._reader = LineReader(threads, is_latin if self.script == "latin" else None, height=height, squeeze=squeeze)
        # One thread runs every ONNX call: the sessions are not shared between request threads,
        # and onnxruntime's buffers stay in one malloc arena (one per request thread grew the
        # HTTP worker's RSS).
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lite")
        self._load_seconds = round(time.perf_counter() - started, 3)
        log.info("lite engine ready: rapidocr %s with its bundled models, %d threads, scripts: %s",
                 self.revision, threads, self.script)

    def load(self, wait_seconds: float | None = None) -> dict:
        # The ONNX models ship in the wheel and were loaded by the constructor: nothing to wait for.
        return {"cache": "bundled", "seconds": {"load": self._load_seconds}}

    def read_lines(self, image: Image.Image) -> list[Line]:
        """The lines of one image, in detection order, kept to ``LITE_SCRIPT``."""
        # The models were trained on OpenCV's BGR channel order.
        pixels = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
        boxes, read = self._runner.submit(self._read, pixels).result()
        kept = [(box, text) for box, (text, confidence) in zip(boxes, read)
                if text.strip() and confidence >= MIN_CONFIDENCE]
        texts = [text for _, text in kept]
        if self.script == "latin":
            texts = mend_accents(texts)
        texts = mend_glued(texts)  # the recogniser drops narrow spaces: "Theterm"
        return [Line(text=text, x0=float(box[:, 0].min()), y0=float(box[:, 1].min()),
                     x1=float(box[:, 0].max()), y1=float(box[:, 1].max()))
                for (box, _), text in zip(kept, texts)]

    def ocr_pages(self, images: Sequence[Image.Image]) -> list[PageText]:
        return [assemble_page(self.read_lines(image), *image.size) for image in images]

    def _read(self, pixels: np.ndarray) -> tuple[list[np.ndarray], list[tuple[str, float]]]:
        boxes = self._finder.find(pixels)
        return boxes, self._reader.read([crop(pixels, box) for box in boxes])
