"""Reading order: the body cut into blocks, column by column and band by band.

Recursive cuts: split into columns at a vertical white channel when both sides read like prose,
or when one side is flowing prose and the other is not (a table or a sidebar beside a column of
text: reading them row by row would glue each table row to a line of prose); else split into
stacked bands at horizontal gaps (bands that only exist because two columns happen to share a
gap are merged back). A channel between the cells of one table is no gutter: neither side flows.
"""

from __future__ import annotations

from common.layout.geometry import Line, Page, group_rows, vertical_channels

# Bands further apart than this (median line heights) are separate regions, never one column.
REGION_GAP = 2.0
# A column gutter is at least this many median line heights wide.
GUTTER = 0.5
# Prose: most characters sit in lines of a few words at least this long; tables, figures and
# code columns are short pieces.
PROSE_LINE_CHARS = 12
PROSE_LINE_WORDS = 3
PROSE_SHARE = 0.5
# Flowing prose: this share of its lines run on into the next one (no full stop, lower case next).
FLOW_SHARE = 0.3


def reading_order(lines: list[Line], page: Page) -> list[list[Line]]:
    """The body as blocks (lists of lines) in reading order."""
    if not lines:
        return []
    columns = split_columns(lines, page)
    if columns is not None:
        return [block for part in columns for block in reading_order(part, page)]
    bands = stacked_bands(lines, page)
    if len(bands) > 1:
        return [block for band in bands for block in reading_order(band, page)]
    return [lines]


def split_columns(lines: list[Line], page: Page) -> tuple[list[Line], list[Line]] | None:
    """(left, right) at the widest white channel between two columns, or None."""
    channels = vertical_channels(lines, GUTTER * page.line_height)
    for start, end in sorted(channels, key=lambda gap: gap[0] - gap[1]):
        left = [line for line in lines if line.x1 <= start]
        right = [line for line in lines if line.x0 >= end]
        if not _side_by_side(left, right):
            continue
        left_prose, right_prose = reads_as_prose(left), reads_as_prose(right)
        if left_prose and right_prose:
            return left, right
        if (right_prose and not left_prose and flows(right, page)) or (
            left_prose and not right_prose and flows(left, page)
        ):
            return left, right
    return None


def _side_by_side(left: list[Line], right: list[Line]) -> bool:
    """Columns overlap vertically; blocks that are only diagonal to each other are stacked."""
    top = max(min(line.y0 for line in left), min(line.y0 for line in right))
    bottom = min(max(line.y1 for line in left), max(line.y1 for line in right))
    shorter = min(
        max(line.y1 for line in side) - min(line.y0 for line in side) for side in (left, right)
    )
    return bottom - top >= 0.5 * shorter


def reads_as_prose(lines: list[Line]) -> bool:
    texts = [line.text.strip() for line in lines]
    long_chars = sum(
        len(text) for text in texts
        if len(text) >= PROSE_LINE_CHARS and len(text.split()) >= PROSE_LINE_WORDS
    )
    return long_chars >= PROSE_SHARE * max(sum(len(text) for text in texts), 1)


def flows(lines: list[Line], page: Page) -> bool:
    """Wrapped running text: one line per row, and many lines run on into the next."""
    rows = group_rows(lines)
    if len(rows) < 3 or sum(len(row.lines) > 1 for row in rows) > 0.2 * len(rows):
        return False
    runs_on = sum(
        above.text.rstrip()[-1:] not in ".!?:;" and below.text.lstrip()[:1].islower()
        and below.y0 - above.y1 < page.line_height
        for above, below in zip(rows, rows[1:])
    )
    return runs_on >= FLOW_SHARE * (len(rows) - 1)


def stacked_bands(lines: list[Line], page: Page) -> list[list[Line]]:
    """Split at horizontal gaps, then merge neighbours that are parts of the same columns."""
    bands: list[list[Line]] = []
    bottom = None
    for line in sorted(lines, key=lambda line: line.y0):
        if bottom is None or line.y0 > bottom:
            bands.append([line])
            bottom = line.y1
        else:
            bands[-1].append(line)
            bottom = max(bottom, line.y1)
    return _merge_column_bands(bands, page)


def _merge_column_bands(bands: list[list[Line]], page: Page) -> list[list[Line]]:
    """Merge neighbouring bands with the same column structure: one column flowing on, or two
    columns that both happen to have a gap at the same height."""
    merged = [bands[0]]
    for band in bands[1:]:
        gap = min(line.y0 for line in band) - max(line.y1 for line in merged[-1])
        if gap < REGION_GAP * page.line_height and _same_flow(merged[-1], band, page):
            merged[-1] = merged[-1] + band
        else:
            merged.append(band)
    return merged


def _same_flow(upper: list[Line], lower: list[Line], page: Page) -> bool:
    if split_columns(upper + lower, page) is not None:
        return True
    return split_columns(upper, page) is None and split_columns(lower, page) is None
