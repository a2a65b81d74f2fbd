"""Turn OCR'd text lines into a page: blocks, reading order, running headers and footers.

Pure geometry on ``Line`` boxes: no OCR library, no images. The lite engine feeds it rapidocr's
lines; anything that yields boxes with text could.

The steps, each a small function below:

1. set aside vertical text in the side margins (download stamps, arXiv ids) and glue drop caps
   to the line they start;
2. split off running headers and footers: rows at the top or bottom edge of the page that are
   set apart by a gap, carry a page number, or spread short pieces across the width;
3. order the body by recursive cuts: split into columns at a vertical white channel when both
   sides read like prose, else into stacked bands at horizontal gaps (bands that only exist
   because two columns happen to share a gap are merged back);
4. inside each block, group lines into rows, rows into paragraphs, join wrapped lines and mend
   line-end hyphens.

Every threshold is relative to the page (width, height) or to its median line height, so the
same logic holds at any render size.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

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

    @property
    def width(self) -> float:
        return self.x1 - self.x0


# Share of the page height where running headers / footers may sit. A row in the outer band needs
# a page number or a spread-out layout; one in the inner band needs only a clear gap.
EDGE_BAND = 0.12
CLEAR_GAP_BAND = 0.08
# A gap this many median line heights wide sets a header or footer apart from the body.
MARGIN_GAP = 1.5
# Bands further apart than this (median line heights) are separate regions, never one column.
REGION_GAP = 2.0
# A column gutter is at least this many median line heights wide.
GUTTER = 0.5
# Prose: most characters sit in lines at least this long; tables and figures are short pieces.
PROSE_LINE_CHARS = 12
PROSE_SHARE = 0.5

_ROMAN = r"(?=[mdclxvi])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_PAGE_NUMBER = re.compile(
    r"""^(?:
        [-–—~(\[|]?\s*\d{1,4}\s*[-–—~)\]|]?                              # 3, - 3 -, (3)
      | (?:page|pg\.?|p\.|seite|página|pagina)\s*\d{1,4}(?:\s*(?:of|/|von|de)\s*\d{1,4})?  # Page 3 of 10
      | \d{1,4}\s*(?:/|of)\s*\d{1,4}                                     # 3 / 10
      | [-–—]?\s*(?:"""
    + _ROMAN
    + r""")\s*[-–—]?                                                     # iii, - iv -
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Words that keep their hyphen when split at a line end: compounds, not syllables.
_COMPOUND_PREFIXES = frozenset(
    "non self well cross ex half all quasi semi multi co anti pre post ill long short high low "
    "full two three four five six seven eight nine ten one first second third".split()
)
_LINE_END_HYPHENS = ("-", "\u00ad", "\u2010", "\u2011", "¬")


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


@dataclass
class Margins:
    header: list[Row] = field(default_factory=list)
    footer: list[Row] = field(default_factory=list)
    body: list[Line] = field(default_factory=list)


def assemble_page(lines: list[Line], width: float, height: float) -> PageText:
    """Order ``lines`` (pixel boxes on a ``width`` x ``height`` page) into a PageText."""
    lines = [line for line in lines if line.text.strip() and line.width > 0 and line.height > 0]
    if not lines:
        return PageText(text="")
    side_notes, lines = split_side_notes(lines, width)
    if not lines:
        return PageText(text="", header=[line.text.strip() for line in side_notes])
    page = Page(
        width,
        height,
        line_height=statistics.median(line.height for line in lines),
        text_width=max(line.x1 for line in lines) - min(line.x0 for line in lines),
    )
    lines = attach_drop_caps(lines, page)
    margins = split_margins(lines, page)
    blocks = reading_order(margins.body, page)
    paragraphs = [paragraph for block in blocks for paragraph in block_paragraphs(block, page)]
    vocabulary = page_vocabulary(lines)
    text = "\n\n".join(render_paragraph(rows, vocabulary) for rows in paragraphs)
    return PageText(
        text=text,
        header=[line.text.strip() for line in side_notes] + [row.text for row in margins.header],
        footer=[row.text for row in margins.footer],
    )


# --- step 1: side notes and drop caps -------------------------------------------------------


def split_side_notes(lines: list[Line], page_width: float) -> tuple[list[Line], list[Line]]:
    """(vertical lines in the outer side margins, the rest).

    Text running up the page edge is a stamp ("Downloaded from ...", an arXiv id), not body.
    """
    notes, rest = [], []
    for line in lines:
        vertical = line.height > 3 * line.width and len(line.text.strip()) > 3
        at_edge = line.x1 < 0.12 * page_width or line.x0 > 0.88 * page_width
        (notes if vertical and at_edge else rest).append(line)
    return notes, rest


def attach_drop_caps(lines: list[Line], page: Page) -> list[Line]:
    """Glue a big initial letter to the line it starts ("O" + "ver the past" -> "Over the past")."""
    result = list(lines)
    for cap in lines:
        text = cap.text.strip()
        if len(text) != 1 or not text.isalpha() or cap.height < 2 * page.line_height:
            continue
        follower = _drop_cap_follower(cap, result, page)
        if follower is not None:
            result.remove(cap)
            result[result.index(follower)] = Line(
                text + follower.text.lstrip(), cap.x0, follower.y0, follower.x1, follower.y1
            )
    return result


def _drop_cap_follower(cap: Line, lines: list[Line], page: Page) -> Line | None:
    candidates = [
        line
        for line in lines
        if line is not cap
        and line.text[:1].islower()
        and abs(line.x0 - cap.x1) < page.line_height
        and cap.y0 - page.line_height / 2 <= line.y0 <= cap.y0 + page.line_height / 2
    ]
    return min(candidates, key=lambda line: line.y0, default=None)


# --- step 2: running headers and footers ----------------------------------------------------


def group_rows(lines: list[Line]) -> list[Row]:
    """Lines that share most of their height form a row; rows top to bottom, lines left to right."""
    rows: list[Row] = []
    for line in sorted(lines, key=lambda line: (line.y0 + line.y1) / 2):
        row = next((row for row in reversed(rows[-3:]) if _same_row(row, line)), None)
        if row is None:
            rows.append(Row([line]))
        else:
            row.lines.append(line)
    for row in rows:
        row.lines.sort(key=lambda line: line.x0)
    rows.sort(key=lambda row: row.y0)
    return rows


def _same_row(row: Row, line: Line) -> bool:
    overlap = min(row.y1, line.y1) - max(row.y0, line.y0)
    return overlap >= 0.5 * min(line.height, row.y1 - row.y0)


def is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(text.strip()))


def split_margins(lines: list[Line], page: Page) -> Margins:
    rows = group_rows(lines)
    header_end = _header_end(rows, page)
    footer_start = _footer_start(rows, page, first=header_end)
    body = [line for row in rows[header_end:footer_start] for line in row.lines]
    return Margins(rows[:header_end], rows[footer_start:], body)


def _header_end(rows: list[Row], page: Page) -> int:
    """Rows ``[:end]`` are the running header: the deepest cut that still looks like one."""
    end = 0
    for cut in range(1, len(rows)):
        edge, rest = rows[:cut], rows[cut:]
        bottom = max(row.y1 for row in edge)
        if bottom > EDGE_BAND * page.height:
            break
        gap = min(row.y0 for row in rest) - bottom
        if _is_running(edge, edge[-1], rest[0], gap, bottom <= CLEAR_GAP_BAND * page.height, page):
            end = cut
    return end


def _footer_start(rows: list[Row], page: Page, first: int) -> int:
    """Rows ``[start:]`` are the running footer: the highest cut that still looks like one."""
    start = len(rows)
    for cut in range(len(rows) - 1, first, -1):
        edge, rest = rows[cut:], rows[first:cut]
        top = min(row.y0 for row in edge)
        gap = top - max(row.y1 for row in rest)
        if top < (1 - EDGE_BAND) * page.height:
            if cut == len(rows) - 1 and _is_lone_page_number(edge[0], gap, page):
                start = cut
            break
        if _is_running(edge, edge[0], rest[-1], gap, top >= (1 - CLEAR_GAP_BAND) * page.height, page):
            start = cut
    return start


def _is_running(
    edge: list[Row], inner: Row, neighbour: Row, gap: float, near_edge: bool, page: Page
) -> bool:
    """Are the ``edge`` rows a running header/footer? ``inner`` is the one next to the body, whose
    nearest row ``neighbour`` is ``gap`` away.

    Yes when the inner rows carry a page number or spread short pieces across the width (left /
    centre / right) next to a body that does not, or when all sit near the page edge, set apart
    by a clear gap, narrower than the body (a paragraph that fills the width is body however far
    it stands). Only the inner rows count for the first two (or a page number anywhere in a
    block set apart by a clear gap), so that a page number in the top row does not pull the
    body's first lines into the header.
    """
    if gap < -0.25 * page.line_height:  # boxes are padded: touching rows overlap a little
        return False
    lines = [line for row in edge for line in row.lines if _same_row(inner, line)]
    if any(is_page_number(line.text) for line in lines):
        return True
    if _is_spread_running_row(lines, neighbour, gap, page):
        return True
    set_apart = gap >= MARGIN_GAP * page.line_height and len(edge) <= 4
    if not set_apart or any(len(row.text) > 100 for row in edge):
        return False
    if any(is_page_number(line.text) for row in edge for line in row.lines):
        return True
    return near_edge and all(
        row.height <= 2 * page.line_height and row.x1 - row.x0 < 0.75 * page.text_width
        for row in edge
    )


def _is_spread_running_row(lines: list[Line], neighbour: Row, gap: float, page: Page) -> bool:
    """Left / centre / right pieces ("Journal | date | 3") next to a body row that is not spread.

    More than three pieces is a table row; a piece that starts where the row next to it starts,
    at normal line spacing, is the last line of a paragraph that happens to share the row.
    """
    pieces = len(_pieces(lines, page.line_height))
    if not 2 <= pieces <= 3 or sum(len(line.text) for line in lines) > 100:
        return False
    if not _is_spread(lines, page) or _is_spread(neighbour.lines, page):
        return False
    continues = any(
        abs(line.x0 - neighbour.x0) < 0.5 * page.line_height for line in lines
    ) and gap <= 0.3 * page.line_height
    return not continues


def _is_spread(lines: list[Line], page: Page) -> bool:
    """Pieces far apart across the width: a header's left and right parts, or a table row."""
    return len(_pieces(lines, 0.05 * page.width)) > 1


def _pieces(lines: list[Line], min_gap: float) -> list[tuple[float, float]]:
    """The x spans of ``lines`` merged where they are less than ``min_gap`` apart."""
    spans = sorted((line.x0, line.x1) for line in lines)
    pieces = [spans[0]]
    for x0, x1 in spans[1:]:
        if x0 - pieces[-1][1] < min_gap:
            pieces[-1] = (pieces[-1][0], max(pieces[-1][1], x1))
        else:
            pieces.append((x0, x1))
    return pieces


def _is_lone_page_number(row: Row, gap: float, page: Page) -> bool:
    """A page number alone at the end of a short page, below its last paragraph."""
    return len(row.lines) == 1 and is_page_number(row.text) and gap >= page.line_height


# --- step 3: reading order ------------------------------------------------------------------


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
    """(left, right) at the widest white channel between two columns of prose, or None.

    A channel between short pieces (table cells, figure labels) is not a column gutter: those
    read row by row.
    """
    for start, end in sorted(_vertical_channels(lines, page), key=lambda gap: gap[0] - gap[1]):
        left = [line for line in lines if line.x1 <= start]
        right = [line for line in lines if line.x0 >= end]
        if _side_by_side(left, right) and _reads_as_prose(left) and _reads_as_prose(right):
            return left, right
    return None


def _vertical_channels(lines: list[Line], page: Page) -> list[tuple[float, float]]:
    """(x0, x1) of every vertical strip no line touches, at least a gutter wide."""
    spans = sorted((line.x0, line.x1) for line in lines)
    channels, reach = [], spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= GUTTER * page.line_height:
            channels.append((reach, x0))
        reach = max(reach, x1)
    return channels


def _side_by_side(left: list[Line], right: list[Line]) -> bool:
    """Columns overlap vertically; blocks that are only diagonal to each other are stacked."""
    top = max(min(line.y0 for line in left), min(line.y0 for line in right))
    bottom = min(max(line.y1 for line in left), max(line.y1 for line in right))
    shorter = min(
        max(line.y1 for line in side) - min(line.y0 for line in side) for side in (left, right)
    )
    return bottom - top >= 0.5 * shorter


def _reads_as_prose(lines: list[Line]) -> bool:
    lengths = [len(line.text.strip()) for line in lines]
    long_chars = sum(length for length in lengths if length >= PROSE_LINE_CHARS)
    return long_chars >= PROSE_SHARE * max(sum(lengths), 1)


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


# --- step 4: paragraphs and text ------------------------------------------------------------


def block_paragraphs(lines: list[Line], page: Page) -> list[list[Row]]:
    """A block's rows, split into paragraphs at gaps, indents, short last lines and size changes."""
    rows = group_rows(lines)
    left = min(row.x0 for row in rows)
    right = max(row.x1 for row in rows)
    paragraphs = [[rows[0]]]
    for above, row in zip(rows, rows[1:]):
        if _starts_paragraph(above, row, left, right, page):
            paragraphs.append([row])
        else:
            paragraphs[-1].append(row)
    return paragraphs


def _starts_paragraph(above: Row, row: Row, left: float, right: float, page: Page) -> bool:
    unit = min(above.height, row.height)
    if row.y0 - above.y1 > 0.6 * unit:
        return True
    if abs(row.height - above.height) > 0.25 * max(row.height, above.height):
        return True
    hanging = any(abs(line.x0 - row.x0) < 0.5 * unit for line in above.lines)  # "a.  text"
    indented = row.x0 - left > unit and above.x0 - left < 0.5 * unit and not hanging
    ended_short = right - above.x1 > 0.15 * (right - left) and above.text.rstrip()[-1:] in ".!?:"
    return indented or ended_short


def render_paragraph(rows: list[Row], vocabulary: set[str]) -> str:
    """Wrapped rows joined into one line of text; table-like rows keep a line each."""
    text = ""
    for index, row in enumerate(rows):
        if index == 0:
            text = row.text
        elif _is_table_row(row) or _is_table_row(rows[index - 1]):
            text += "\n" + row.text
        else:
            text = join_wrapped(text, row.text, vocabulary)
    return text


def _is_table_row(row: Row) -> bool:
    """Cells apart by more than a word space; a list label next to its text is not a cell."""
    return len(_pieces(row.lines, 1.5 * row.height)) > 1


def join_wrapped(before: str, after: str, vocabulary: set[str]) -> str:
    """Join a line to the next one, mending a word hyphenated across the line end."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after:
        return before + after
    if before.endswith(("—", "–")) and not before[:-1].endswith(" "):
        return before + after
    if not before.endswith(_LINE_END_HYPHENS) or not before[-2:-1].isalpha():
        return before + " " + after
    stem = before[:-1].rsplit(None, 1)[-1]
    tail = after.split(None, 1)[0]
    if not after[0].islower():
        return before[:-1] + "-" + after  # COVID-19, Anglo-Saxon: a hyphen, not a syllable break
    if _keeps_hyphen(stem, tail, vocabulary):
        return before[:-1] + "-" + after
    return before[:-1] + after


def _keeps_hyphen(stem: str, tail: str, vocabulary: set[str]) -> bool:
    word = _word(stem)
    tail_word = _word(tail)
    if f"{word}-{tail_word}" in vocabulary:
        return True
    if f"{word}{tail_word}" in vocabulary:
        return False
    return "-" in word or word in _COMPOUND_PREFIXES


def page_vocabulary(lines: list[Line]) -> set[str]:
    """Lower-case words (hyphenated ones whole) the page spells out, line-end breaks aside."""
    return {
        _word(token)
        for line in lines
        for token in line.text.split()
        if not token.endswith(_LINE_END_HYPHENS)
    }


def _word(token: str) -> str:
    return token.strip(".,;:!?\"'()[]{}“”‘’").lower()
