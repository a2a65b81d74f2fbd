"""The OcrEngine protocol every engine implements, and what an engine returns for a page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

from PIL import Image


@dataclass
class PageText:
    """OCR of one page.

    ``text`` is the body as markdown, in reading order. Running headers, footers and page numbers
    are not body text: they go to ``header`` / ``footer`` (one string per line) so that the
    document text leaves them out while the JSON form still has them.
    A page the engine could not read has ``error`` set (and whatever text it got).
    """

    text: str
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    error: str | None = None


class OcrEngine(Protocol):
    name: str  # "lite" or "vlm"
    model: str  # what produced the text: a model id, or the bundled OCR package and version
    revision: str  # the commit hash (vlm) or package version (lite)
    batch_size: int  # pages the pipeline hands to one ocr_pages call

    def load(self, wait_seconds: float | None = None) -> dict:
        """Make the engine ready (once per process, thread-safe) and say how: at least
        ``cache`` (hit / miss / downloaded / waited / bundled) and ``seconds``.

        ``wait_seconds`` bounds how long this caller waits for a load in progress (None: the
        engine's own bound); past it, ``ModelUnavailable`` while the load goes on."""
        ...

    def ocr_pages(self, images: Sequence[Image.Image]) -> list[PageText]:
        """OCR a batch of page images (RGB), one PageText per image, in order.

        A fault that belongs to one page (it loops, the model cannot take its image) is that page's
        ``PageText.error``; anything raised is a fault of the engine, and the caller retries later."""
        ...
