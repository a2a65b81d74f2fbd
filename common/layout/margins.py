"""What is not body text: margin stamps, drop caps to mend, running headers and footers.

A row at the top or bottom edge leaves the body only on evidence: a page number (a lone number
in a column of numbers is a line number, not a page number), or document furniture (a URL, an
e-mail address, a download stamp, a copyright line, a volume/issue/revision mark, a date in a
left/centre/right row). The geometry (set apart by a gap, spread across the width) says where a
running header could be; the evidence says that it is one. A single page's position alone is no
evidence: the last rows of a statement or the boxes at the top of a flowchart stay in the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from common.layout.geometry import Line, Page, Row, group_rows, is_spread, pieces, same_row

# Share of the page height where running headers / footers may sit. A row in the outer band needs
# a page number or a spread-out layout; one in the inner band needs only a clear gap.
EDGE_BAND = 0.12
CLEAR_GAP_BAND = 0.08
# A gap this many median line heights wide sets a header or footer apart from the body.
MARGIN_GAP = 1.5
# Words in a row set apart at an edge that the page's own running matter may vouch for.
SHORT_ROW_WORDS = 5

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
# Text that marks a line as document furniture rather than content.
_FURNITURE = re.compile(
    r"""https?://|www\.|\b[\w.+-]+@[\w-]+\.[\w.]+\b|©|\(c\)\s*\d{4}|\bcopyright\b|all\ rights\ reserved
      | \bdownload(?:ed)?\b|\bdoi\b|\bissn\b|\bisbn\b|\bvol(?:ume)?\.?\s*\d|\bissue\s*\d
      | \brev(?:ision)?[.:]?\s*\d|\bconfidential\b|\bpublished\ by\b""",
    re.IGNORECASE | re.VERBOSE,
)
_ONLY_PAGE = re.compile(r"\b1\s*(?:of|/)\s*1\b", re.IGNORECASE)
# A date is furniture only in a left / centre / right row ("Journal | March 2014 | 3"): a title
# such as "Account statement, March 2024" is content.
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    rf"\b\d{{1,2}}\.?\s{_MONTH}\s\d{{4}}\b|\b{_MONTH}\s(?:\d{{1,2}},?\s)?\d{{4}}\b", re.IGNORECASE
)


@dataclass
class Margins:
    header: list[Row] = field(default_factory=list)
    footer: list[Row] = field(default_factory=list)
    body: list[Line] = field(default_factory=list)


def is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(text.strip()))


def is_furniture(text: str) -> bool:
    return bool(_FURNITURE.search(text))


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


class _Evidence:
    """Which lines of a page can prove a running header or footer."""

    def __init__(self, lines: list[Line], page: Page):
        numbers = [line for line in lines if is_page_number(line.text)]
        self.line_numbers = {id(line) for line in numbers if _in_number_column(line, numbers, page)}
        # A page number at the top or bottom edge says the page is one of several ("Page 1 of 1"
        # says it is not), and furniture there (a download stamp, a URL) says it is a copy with
        # running matter: a left / centre / right row, or one short row set apart at an edge, is
        # then a running head too.
        at_edge = [line for line in lines
                   if line.y1 <= EDGE_BAND * page.height or line.y0 >= (1 - EDGE_BAND) * page.height]
        self.paginated = any(
            (self.page_number(line) and not _ONLY_PAGE.search(line.text)) or is_furniture(line.text)
            for line in at_edge
        )

    def page_number(self, line: Line) -> bool:
        return id(line) not in self.line_numbers and is_page_number(line.text)

    def any(self, lines: list[Line], dates: bool = False) -> bool:
        return any(
            self.page_number(line) or is_furniture(line.text) or (dates and _DATE.search(line.text))
            for line in lines
        )


def _in_number_column(line: Line, numbers: list[Line], page: Page) -> bool:
    """Three or more numbers left-aligned above each other: line numbers (testimony, code)."""
    return sum(abs(other.x0 - line.x0) < page.line_height for other in numbers) >= 3


def split_margins(lines: list[Line], page: Page) -> Margins:
    rows = group_rows(lines)
    evidence = _Evidence(lines, page)
    header_end = _header_end(rows, page, evidence)
    footer_start = _footer_start(rows, page, evidence, first=header_end)
    body = [line for row in rows[header_end:footer_start] for line in row.lines]
    return Margins(rows[:header_end], rows[footer_start:], body)


def _header_end(rows: list[Row], page: Page, evidence: _Evidence) -> int:
    """Rows ``[:end]`` are the running header: the deepest cut that still looks like one."""
    end = 0
    for cut in range(1, len(rows)):
        edge, rest = rows[:cut], rows[cut:]
        bottom = max(row.y1 for row in edge)
        if bottom > EDGE_BAND * page.height:
            break
        gap = min(row.y0 for row in rest) - bottom
        near = bottom <= CLEAR_GAP_BAND * page.height
        if _is_running(edge, edge[-1], rest[0], gap, near, page, evidence):
            end = cut
    return end


def _footer_start(rows: list[Row], page: Page, evidence: _Evidence, first: int) -> int:
    """Rows ``[start:]`` are the running footer: the highest cut that still looks like one."""
    start = len(rows)
    for cut in range(len(rows) - 1, first, -1):
        edge, rest = rows[cut:], rows[first:cut]
        top = min(row.y0 for row in edge)
        gap = top - max(row.y1 for row in rest)
        if top < (1 - EDGE_BAND) * page.height:
            if cut == len(rows) - 1 and _is_lone_page_number(edge[0], gap, page, evidence):
                start = cut
            break
        near = top >= (1 - CLEAR_GAP_BAND) * page.height
        if _is_running(edge, edge[0], rest[-1], gap, near, page, evidence):
            start = cut
    return start


def _is_running(
    edge: list[Row], inner: Row, neighbour: Row, gap: float, near_edge: bool, page: Page,
    evidence: _Evidence,
) -> bool:
    """Are the ``edge`` rows a running header/footer? ``inner`` is the one next to the body, whose
    nearest row ``neighbour`` is ``gap`` away.

    Yes when the inner row carries a page number, or spreads short pieces across the width
    (left / centre / right) next to a body row that does not and carries furniture or a date (or
    the page has a page number at an edge); or when the
    edge rows sit near the page edge, set apart by a clear gap, narrower than the body, and some
    row of them carries a page number or furniture (or they are one short row on a page with a
    page number or furniture at an edge). A table row next to a table row is body: the
    table goes on.
    """
    if gap < -0.25 * page.line_height:  # boxes are padded: touching rows overlap a little
        return False
    lines = [line for row in edge for line in row.lines if same_row(inner, line)]
    if any(evidence.page_number(line) for line in lines):
        return True
    if _is_spread_running_row(lines, neighbour, gap, page) and (
        evidence.paginated or evidence.any(lines, dates=True)
    ):
        return True
    set_apart = gap >= MARGIN_GAP * page.line_height and len(edge) <= 4
    if not set_apart or any(len(row.text) > 100 for row in edge):
        return False
    if is_spread(inner.lines, page) and is_spread(neighbour.lines, page):
        return False
    short_row = len(edge) == 1 and len(edge[0].text.split()) <= SHORT_ROW_WORDS
    if not evidence.any([line for row in edge for line in row.lines]) and not (
        evidence.paginated and short_row
    ):
        return False
    if any(evidence.page_number(line) for row in edge for line in row.lines):
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
    count = len(pieces(lines, page.line_height))
    if not 2 <= count <= 3 or sum(len(line.text) for line in lines) > 100:
        return False
    if not is_spread(lines, page) or is_spread(neighbour.lines, page):
        return False
    continues = any(
        abs(line.x0 - neighbour.x0) < 0.5 * page.line_height for line in lines
    ) and gap <= 0.3 * page.line_height
    return not continues


def _is_lone_page_number(row: Row, gap: float, page: Page, evidence: _Evidence) -> bool:
    """A page number alone at the end of a short page, below its last paragraph."""
    return len(row.lines) == 1 and evidence.page_number(row.lines[0]) and gap >= page.line_height
