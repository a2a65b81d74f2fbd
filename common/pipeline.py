"""A document, page by page, to text: open -> pick pages -> render -> OCR -> assemble.

The stages are plain functions so the handlers can compose them: the CLI and POST /ocr call
``ocr_document``; the on-upload function drives ``ocr_pages`` itself so that it can skip pages a
previous attempt finished and store each page as soon as it is done.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator

from common.config import Settings
from common.documents import Document, Limits, Page, open_document, parse_page_range
from common.errors import CorruptDocument, OcrError, UnreadableDocument
from common.engines import OcrEngine, get_engine

FORMATS = ("markdown", "json", "text")

log = logging.getLogger(__name__)


@dataclass
class PageResult:
    number: int  # 1-based page number in the document
    text: str  # body markdown, without running headers, footers and page numbers
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class DocumentResult:
    page_count: int  # pages in the document, whether OCR'd or not
    pages: list[PageResult]
    engine: str
    model: str
    revision: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed_pages(self) -> list[int]:
        return [page.number for page in self.pages if page.error]

    def to_json(self) -> dict:
        return {
            "page_count": self.page_count,
            "engine": self.engine,
            "model": self.model,
            "revision": self.revision,
            "timings": self.timings,
            "failed_pages": self.failed_pages,
            "text": to_markdown(self.pages),
            "pages": [page.to_json() for page in self.pages],
        }


def ocr_pages(
    document: Document, numbers: Iterable[int], engine: OcrEngine
) -> Iterator[PageResult]:
    """Render and OCR ``numbers`` in batches of ``engine.batch_size``, yielding pages in order.

    Only one batch of page images is alive at a time. A page that cannot be rendered (a broken
    page object, a frame over the pixel limit) is yielded with its error; the others go on.
    """
    batch: list[Page] = []
    for number in numbers:
        try:
            batch.append(Page(number, document.render(number)))
        except UnreadableDocument as exc:
            yield from _ocr_batch(batch, engine)
            batch = []
            yield PageResult(number, "", error=f"{exc.code}: {exc.message}")
            continue
        if len(batch) >= engine.batch_size:
            yield from _ocr_batch(batch, engine)
            batch = []
    yield from _ocr_batch(batch, engine)


def _ocr_batch(batch: list[Page], engine: OcrEngine) -> list[PageResult]:
    if not batch:
        return []
    started = time.perf_counter()
    try:
        texts = engine.ocr_pages([page.image for page in batch])
    except OcrError:
        raise  # ModelUnavailable and the like: the whole request or event should be retried
    except Exception as exc:  # noqa: BLE001 - an engine crash on a page is that page's failure
        if len(batch) > 1:
            # Find the page that breaks the engine; the others still get read.
            return [result for page in batch for result in _ocr_batch([page], engine)]
        log.warning("page %d: the %s engine failed: %r", batch[0].number, engine.name, exc)
        return [PageResult(batch[0].number, "", seconds=round(time.perf_counter() - started, 3),
                           error=f"engine_error: {type(exc).__name__}: {exc}")]
    seconds = (time.perf_counter() - started) / len(batch)
    return [
        PageResult(page.number, text.text, text.header, text.footer, round(seconds, 3), text.error)
        for page, text in zip(batch, texts)
    ]


def ocr_document(
    data: bytes,
    settings: Settings,
    *,
    engine: OcrEngine | None = None,
    pages: str | None = None,
    on_page: Callable[[PageResult, int], None] | None = None,
) -> DocumentResult:
    """OCR the pages ``pages`` (a range like '1-3,5'; default all) of a document's bytes.

    ``on_page(result, total)`` is called as each page finishes (progress bars, streaming).
    Raises an ``OcrError`` subclass for documents that cannot be read.
    """
    started = time.perf_counter()
    with open_document(data, Limits.from_settings(settings)) as document:
        numbers = parse_page_range(pages, document.page_count)
        # Only now the engine: a bad document is refused before any model is loaded.
        engine = engine or get_engine(settings)
        opened = time.perf_counter()
        results = []
        for result in ocr_pages(document, numbers, engine):
            results.append(result)
            if on_page:
                on_page(result, len(numbers))
        check_some_page_read(results)
    finished = time.perf_counter()
    return DocumentResult(
        page_count=document.page_count,
        pages=results,
        engine=engine.name,
        model=engine.model,
        revision=engine.revision,
        timings={
            "open_seconds": round(opened - started, 3),
            "ocr_seconds": round(finished - opened, 3),
            "total_seconds": round(finished - started, 3),
        },
    )


def check_some_page_read(pages: list[PageResult]) -> None:
    """Not one page could be read: that is an unreadable document, not a partial result."""
    if pages and all(page.error and not page.text for page in pages):
        raise CorruptDocument(f"no page could be read; page {pages[0].number}: {pages[0].error}")


def to_markdown(pages: Iterable[PageResult]) -> str:
    """The whole document: page bodies in order, separated by a blank line."""
    return "\n\n".join(page.text.strip() for page in pages if page.text.strip()) + "\n"


_MARKUP = (
    (re.compile(r"<[^>]+>"), " "),  # HTML tags (vlm tables, <img>, <page_number>)
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M), ""),  # heading marks
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"^[ \t]*[-*+][ \t]+", re.M), ""),  # list bullets
    (re.compile(r"^\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*$\n?", re.M), ""),  # markdown table rule line
    (re.compile(r"(?<!\\)\|"), " "),  # table cell bars (lite tables)
    (re.compile(r"\\\|"), "|"),  # an escaped bar inside a cell
    (re.compile(r"[ \t]+"), " "),
    (re.compile(r" ([.,;:!?])"), r"\1"),  # the space a removed tag left before punctuation
)


def to_text(pages: Iterable[PageResult]) -> str:
    """Plain text: the markdown without its markup."""
    text = to_markdown(pages)
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return "\n".join(line.strip() for line in text.splitlines()).strip() + "\n"


def render(result: DocumentResult, fmt: str) -> str:
    """The result in one of FORMATS, as a string."""
    import json

    if fmt == "json":
        return json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "text":
        return to_text(result.pages)
    return to_markdown(result.pages)
