"""Table-like rows: cells apart by more than a word space, read row by row.

A run of three or more such rows whose cells fall into the same columns is rendered as a
markdown table; rows whose cells do not line up keep one line each, so that every cell stays on
its row either way.
"""

from __future__ import annotations

import statistics
from typing import Iterator

from common.layout.geometry import Row, pieces, vertical_channels

MIN_TABLE_ROWS = 3


def is_table_row(row: Row) -> bool:
    """Cells apart by more than a word space; a list label next to its text is not a cell."""
    return len(pieces(row.lines, 1.5 * row.height)) > 1


def table_runs(rows: list[Row]) -> Iterator[tuple[list[Row], str | None]]:
    """``rows`` cut into (run, markdown table or None): table runs and the text between them."""
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and is_table_row(rows[end]):
            end += 1
        table = markdown_table(rows[start:end]) if end - start >= MIN_TABLE_ROWS else None
        if table is not None:
            yield rows[start:end], table
            start = end
            continue
        # Not a table: this row and the text up to the next run of table rows.
        stop = start + 1
        while stop < len(rows) and not _table_starts(rows, stop):
            stop += 1
        yield rows[start:stop], None
        start = stop


def _table_starts(rows: list[Row], index: int) -> bool:
    run = rows[index : index + MIN_TABLE_ROWS]
    return len(run) == MIN_TABLE_ROWS and all(is_table_row(row) for row in run) and (
        markdown_table(_whole_run(rows, index)) is not None
    )


def _whole_run(rows: list[Row], index: int) -> list[Row]:
    end = index
    while end < len(rows) and is_table_row(rows[end]):
        end += 1
    return rows[index:end]


def markdown_table(rows: list[Row]) -> str | None:
    """The rows as a markdown table when their cells fall into shared columns, else None."""
    if len(rows) < MIN_TABLE_ROWS:
        return None
    lines = [line for row in rows for line in row.lines]
    unit = statistics.median(line.height for line in lines)
    channels = vertical_channels(lines, 1.5 * unit)
    if not channels:
        return None
    edges = [(start + end) / 2 for start, end in channels]
    table = []
    for row in rows:
        cells = [[] for _ in range(len(edges) + 1)]
        for line in row.lines:
            cells[sum(line.x0 > edge for edge in edges)].append(line.text.strip())
        texts = [" ".join(cell).replace("|", "\\|") for cell in cells]
        if sum(bool(text) for text in texts) < 2:
            return None
        table.append("| " + " | ".join(texts) + " |")
    table.insert(1, "|" + "---|" * (len(edges) + 1))
    return "\n".join(table)
