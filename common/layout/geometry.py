"""Boxes and rows: the geometry every layout step shares."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


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

    @property
    def width(self) -> float:
        return self.x1 - self.x0


@dataclass
class Row:
    """Lines side by side: one line of text, or the cells of a table row."""

    lines: list[Line]

    @property
    def x0(self) -> float:
        return min(line.x0 for line in self.lines)

    @property
    def x1(self) -> float:
        return max(line.x1 for line in self.lines)

    @property
    def y0(self) -> float:
        return min(line.y0 for line in self.lines)

    @property
    def y1(self) -> float:
        return max(line.y1 for line in self.lines)

    @property
    def height(self) -> float:
        return statistics.median(line.height for line in self.lines)

    @property
    def text(self) -> str:
        return " ".join(line.text.strip() for line in self.lines)


@dataclass
class Page:
    width: float
    height: float
    line_height: float  # median line height: the unit of every gap threshold
    text_width: float  # from the leftmost to the rightmost text on the page


def group_rows(lines: list[Line]) -> list[Row]:
    """Lines that share most of their height form a row; rows top to bottom, lines left to right."""
    rows: list[Row] = []
    for line in sorted(lines, key=lambda line: (line.y0 + line.y1) / 2):
        row = next((row for row in reversed(rows[-3:]) if same_row(row, line)), None)
        if row is None:
            rows.append(Row([line]))
        else:
            row.lines.append(line)
    for row in rows:
        row.lines.sort(key=lambda line: line.x0)
    rows.sort(key=lambda row: row.y0)
    return rows


def same_row(row: Row, line: Line) -> bool:
    overlap = min(row.y1, line.y1) - max(row.y0, line.y0)
    return overlap >= 0.5 * min(line.height, row.y1 - row.y0)


def pieces(lines: list[Line], min_gap: float) -> list[tuple[float, float]]:
    """The x spans of ``lines`` merged where they are less than ``min_gap`` apart."""
    spans = sorted((line.x0, line.x1) for line in lines)
    merged = [spans[0]]
    for x0, x1 in spans[1:]:
        if x0 - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], x1))
        else:
            merged.append((x0, x1))
    return merged


def is_spread(lines: list[Line], page: Page) -> bool:
    """Pieces far apart across the width: a header's left and right parts, or a table row."""
    return len(pieces(lines, 0.05 * page.width)) > 1


def vertical_channels(lines: list[Line], min_width: float) -> list[tuple[float, float]]:
    """(x0, x1) of every vertical strip no line touches, at least ``min_width`` wide."""
    spans = sorted((line.x0, line.x1) for line in lines)
    channels, reach = [], spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= min_width:
            channels.append((reach, x0))
        reach = max(reach, x1)
    return channels
