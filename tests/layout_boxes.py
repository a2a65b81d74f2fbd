"""Line boxes laid out by hand for the layout tests: a 1000 x 1400 px page with 20 px lines.

About what rapidocr reports for a 10-11 pt page rendered at 2000 px. Only the box widths depend
on CHAR, the width of one character.
"""

from __future__ import annotations

from common.layout import Line

WIDTH, HEIGHT = 1000, 1400
CHAR = 9  # px per character
PITCH = 26  # line pitch inside a paragraph


def line(text: str, x: float, y: float, height: float = 20, width: float | None = None) -> Line:
    return Line(text, x, y, x + (width if width is not None else CHAR * len(text)), y + height)


def column(texts: list[str], x: float, y: float, width: float, pitch: float = PITCH) -> list[Line]:
    """Wrapped lines of one paragraph; every line but the last fills the column width."""
    last = len(texts) - 1
    return [
        line(text, x, y + i * pitch, width=width if i < last else CHAR * len(text))
        for i, text in enumerate(texts)
    ]


def row(cells: list[tuple[str, float]], y: float) -> list[Line]:
    """One table row: (text, x) cells on one baseline."""
    return [line(text, x, y) for text, x in cells]


def in_order(text: str, *pieces: str) -> bool:
    positions = [text.find(piece) for piece in pieces]
    return -1 not in positions and positions == sorted(positions)
