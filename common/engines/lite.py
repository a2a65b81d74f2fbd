"""The lite engine: CPU OCR with the ONNX models that ship inside the rapidocr wheel.

Nothing is downloaded and neither torch nor transformers is imported. rapidocr finds the text
lines; ``common.layout`` puts them in reading order and sets running headers and footers aside.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Sequence

import numpy as np
from PIL import Image

from common.config import Settings
from common.engines.base import PageText
from common.engines.scripts import keep_latin, mend_accents
from common.layout import Line, assemble_page
from common.layout.words import mend_glued

log = logging.getLogger(__name__)


# Measured on the olmOCR-Bench sample (bench/RESULTS.md): the same rules pass and pages take
# about a third less time when text is detected on the page scaled to 1280 px (lines are still
# read from the full-size render) and the 0/180 degree line classifier is skipped (pages
# are upright; a classifier pass per line costs more than it finds).
SPEED_PARAMS = {
    "Global.use_cls": False,
    "Det.limit_type": "max",
    "Det.limit_side_len": 1280,
}


class LiteEngine:
    name = "lite"
    batch_size = 1  # rapidocr takes one image per call

    def __init__(self, settings: Settings, params: dict | None = None):
        """``params``: extra rapidocr settings ("Section.key": value), for benchmarks."""
        from rapidocr import RapidOCR

        started = time.perf_counter()
        threads = settings.lite_threads or os.cpu_count() or 1
        self.script = settings.lite_script
        self.model = "rapidocr"
        self.revision = version("rapidocr")
        self._ocr = RapidOCR(
            params={
                "Global.log_level": "warning",
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                **SPEED_PARAMS,
                **(params or {}),
            }
        )
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapidocr")
        self._load_seconds = round(time.perf_counter() - started, 3)
        log.info("lite engine ready: rapidocr %s with its bundled models, %d threads, scripts: %s",
                 self.revision, threads, self.script)

    def load(self, wait_seconds: float | None = None) -> dict:
        # The ONNX models ship in the wheel and were loaded by the constructor: nothing to wait for.
        return {"cache": "bundled", "seconds": {"load": self._load_seconds}}

    def read_lines(self, image: Image.Image) -> list[Line]:
        """rapidocr's lines of one image, in detection order, kept to ``LITE_SCRIPT``."""
        pixels = np.asarray(image.convert("RGB"))
        # One thread runs every rapidocr call: the RapidOCR object updates its own settings on each
        # call (not safe to share between request threads), and onnxruntime's buffers stay in one
        # malloc arena instead of one per request thread (which grew the HTTP worker's RSS).
        output = self._runner.submit(self._ocr, pixels).result()
        if output.boxes is None or output.txts is None:
            return []
        texts = list(output.txts)
        if self.script == "latin":
            texts = mend_accents([keep_latin(text) for text in texts])
        texts = mend_glued(texts)  # the recogniser drops narrow spaces: "Theterm"
        lines = []
        for box, text in zip(output.boxes, texts):
            xs, ys = box[:, 0], box[:, 1]
            if text.strip():
                lines.append(Line(text=text, x0=float(xs.min()), y0=float(ys.min()), x1=float(xs.max()), y1=float(ys.max())))
        return lines

    def ocr_pages(self, images: Sequence[Image.Image]) -> list[PageText]:
        return [assemble_page(self.read_lines(image), *image.size) for image in images]
