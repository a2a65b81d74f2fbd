"""Turn OCR'd text lines into a page: blocks, reading order, running headers and footers, tables.

Pure geometry on ``Line`` boxes: no OCR library, no images. The lite engine feeds it the lines it
found and read; anything that yields boxes with text could (``assemble_page`` is the one entry point).

The steps, one module each (rules in docs/layout.md):

1. ``margins``: set aside vertical text in the side margins (download stamps, arXiv ids), glue
   drop caps to the line they start, and split off running headers and footers, on evidence only;
2. ``columns``: order the body by recursive cuts into columns and stacked bands;
3. ``tables``: runs of table rows come out row by row, as a markdown table when cells line up;
4. ``text``: rows into paragraphs, wrapped lines joined, line-end hyphens and dashes mended,
   words the recogniser glued split again (``words``: an English word list).

Across pages, ``repeats.move_repeated_edges`` runs once a whole document is read: a paragraph
that repeats at the top or bottom of its pages is running matter too.

Every threshold is relative to the page (width, height) or to its median line height, so the
same logic holds at any render size.
"""

from __future__ import annotations

import statistics

from common.engines.base import PageText
from common.layout.columns import reading_order
from common.layout.geometry import Line, Page
from common.layout.margins import attach_drop_caps, is_page_number, split_margins, split_side_notes
from common.layout.text import block_texts, join_wrapped, page_vocabulary

__all__ = ["Line", "assemble_page", "is_page_number", "join_wrapped"]


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
    vocabulary = page_vocabulary(lines)
    texts = [text for block in reading_order(margins.body, page) for text in block_texts(block, page, vocabulary)]
    return PageText(
        text="\n\n".join(texts),
        header=[line.text.strip() for line in side_notes] + [row.text for row in margins.header],
        footer=[row.text for row in margins.footer],
    )
