"""Running headers and footers from repetition across the pages of a document.

The page-level layout (``margins``) sees one page and moves an edge row out of the body only on
that page's evidence (a page number, furniture). A report title, a chapter name or a
confidentiality line printed at the top of every page carries no such mark, yet it is running
matter: the evidence is that it repeats. This pass runs once all pages of a document are read
(``ocr_document``, and a job's completion) and moves such paragraphs to ``header`` / ``footer``.

A paragraph (a body block between blank lines) at the top or bottom edge of a page body is
running matter when its normalised text (case, markup and punctuation dropped, every run of
digits one symbol, so "Report 2024 - 3" and "Report 2024 - 4" match) is at the same edge of at
least ``MIN_PAGES`` pages, and of at least half of the pages in a document of more than
``SMALL_DOCUMENT`` pages; a line the layout already put in another page's header (or footer)
counts for that edge too. One page is no evidence, nor are pages whose bodies are the same
throughout (a page scanned twice); a paragraph that repeats in the middle of pages is content; a
markdown table is never touched (a table's head row repeats on purpose).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from typing import Sequence, TypeVar

# Pages a paragraph must repeat on; over SMALL_DOCUMENT pages, at least half of them too.
MIN_PAGES = 2
SMALL_DOCUMENT = 4
# Paragraphs from each end of a body that may be running matter (two rows of a header set apart).
EDGE_BLOCKS = 2
# Running matter is short: a longer paragraph that repeats is boilerplate text a reader reads.
MAX_CHARS = 200
# A paragraph needs this many letters: a bare number is the page-level page number rule's matter.
MIN_LETTERS = 3

_MARKUP = re.compile(r"[#*_`|>\[\]()]")
_DIGITS = re.compile(r"\d+")
_OTHER = re.compile(r"[^\w#]+")

P = TypeVar("P")  # a page: anything with ``text``, ``header`` and ``footer`` (PageResult, PageText)


def move_repeated_edges(pages: Sequence[P]) -> list[P]:
    """``pages`` with the paragraphs that repeat at a body edge across pages moved to their
    ``header`` (top) or ``footer`` (bottom); pages without one are returned as they are."""
    blocks = [_blocks(page.text) for page in pages]
    read = sum(1 for page, body in zip(pages, blocks) if body or page.header or page.footer)
    if read < MIN_PAGES:
        return list(pages)
    needed = max(MIN_PAGES, -(-read // 2)) if read > SMALL_DOCUMENT else MIN_PAGES
    # Running matter repeats while the body changes: pages whose bodies are the same throughout
    # (a page scanned twice, copies of one form) are one page's evidence, not several.
    tops, bottoms = defaultdict(set), defaultdict(set)
    for page, body in zip(pages, blocks):
        whole = tuple(_key(block) or block for block in body)
        for key in _keys(body[:EDGE_BLOCKS] + list(page.header)):
            tops[key].add(whole)
        for key in _keys(body[-EDGE_BLOCKS:] + list(page.footer)):
            bottoms[key].add(whole)
    top = {key for key, bodies in tops.items() if len(bodies) >= needed}
    bottom = {key for key, bodies in bottoms.items() if len(bodies) >= needed}
    if not top and not bottom:
        return list(pages)
    return [_moved(page, body, top, bottom) for page, body in zip(pages, blocks)]


def _moved(page: P, body: list[str], top: set[str], bottom: set[str]) -> P:
    start = 0
    while start < min(EDGE_BLOCKS, len(body)) and _key(body[start]) in top:
        start += 1
    end = len(body)
    while end > start and len(body) - end < EDGE_BLOCKS and _key(body[end - 1]) in bottom:
        end -= 1
    if start == 0 and end == len(body):
        return page
    return replace(
        page,
        text="\n\n".join(body[start:end]),
        header=list(page.header) + _lines(body[:start]),
        footer=_lines(body[end:]) + list(page.footer),
    )


def _blocks(text: str) -> list[str]:
    return [block.strip() for block in re.split(r"\n\s*\n", text or "") if block.strip()]


def _lines(blocks: list[str]) -> list[str]:
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _keys(texts: list[str]) -> set[str]:
    return {key for key in map(_key, texts) if key is not None}


def _key(text: str) -> str | None:
    """The text a running paragraph keeps from page to page, or None for what cannot be one."""
    if len(text) > MAX_CHARS or text.lstrip().startswith("|"):
        return None
    folded = _DIGITS.sub("#", _MARKUP.sub(" ", text).lower())
    folded = " ".join(_OTHER.sub(" ", folded).split())
    if sum(ch.isalpha() for ch in folded) < MIN_LETTERS:
        return None
    return folded
