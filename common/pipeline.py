"""A document, page by page, to text: open -> pick pages -> read each page -> assemble.

Each page is read one of two ways (``ocr_pages`` decides, per page): from the PDF's own text layer
where it is usable (``common.text_layer``), or rendered and OCR'd by an engine that is built only
when the first page needs it, so a born-digital PDF never loads one.

The stages are plain functions so the handlers can compose them: the CLI and POST /ocr call
``ocr_document``; the on-upload function drives ``ocr_pages`` itself so that it can skip pages a
previous attempt finished and store each page as soon as it is done.

Whose fault is it? Only what belongs to a page fails that page: a page that cannot be rendered, or
one the engine itself reports unreadable (``PageText.error``: a page that loops, an image the model's
processor refuses). Anything else the engine raises (out of GPU memory, a model that will not load,
a runtime crash) is the server's fault: it raises ``EngineFailed`` (503, transient), so a client
retries and an on-upload event is redelivered, and no page is recorded as failed for it. The engine
is loaded once, before the first page it reads, so a broken model fails the request once, not once per page.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Callable, Iterable, Iterator, Union

from common.config import Settings
from common.documents import Document, Limits, Page, open_document, parse_page_range
from common.errors import CorruptDocument, EngineFailed, OcrError, UnreadableDocument
from common.engines import OcrEngine, PageText, choose_engine_name, get_engine
from common.text_layer import judge

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
    source: str = "ocr"  # "text_layer" (the PDF's own text) or "ocr"
    engine: str | None = None  # the engine that OCR'd the page
    source_reason: str | None = None  # why a PDF page was OCR'd rather than read from its text layer

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


def load_engine(engine: OcrEngine, wait_seconds: float | None = None) -> dict:
    """``engine.load()`` (once per process), with its faults as OcrErrors.

    ``wait_seconds`` bounds how long this caller waits for a model another thread or instance is
    still loading (``ModelUnavailable`` after it; see ``model_cache.load_once``). A fault that is not
    an OcrError (a RuntimeError from CUDA, a file the loader cannot parse) becomes ``EngineFailed``.
    """
    try:
        # Without a bound, the plain call: an engine need not know about waiting at all.
        return engine.load() if wait_seconds is None else engine.load(wait_seconds=wait_seconds)
    except OcrError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the engine raises, the caller gets a 503 / a retry
        log.error("the %s engine could not be loaded: %r", engine.name, exc)
        raise EngineFailed(f"the {engine.name} engine could not be loaded: {type(exc).__name__}: {exc}") from exc


EngineSource = Union[OcrEngine, Callable[[], OcrEngine]]
TEXT_LAYER_MODEL = "pypdfium2"  # what "engine"/"model" say when no page of a document was OCR'd


def ocr_pages(
    document: Document, numbers: Iterable[int], engine: EngineSource, *, settings: Settings,
    model_wait_seconds: float | None = None,
) -> Iterator[PageResult]:
    """Read ``numbers``, yielding pages in order: each from its text layer when
    ``choose_text_layer`` says so, the others rendered and OCR'd in batches of the engine's
    ``batch_size``.

    ``engine`` is an engine, or a function that returns one: it is called (and the engine loaded)
    only when a page needs OCR. Only one batch of page images is alive at a time. A page that
    cannot be rendered (a broken page object, a frame over the pixel limit) is yielded with its
    error; the others go on.
    """
    engines = _Engines(engine, settings, model_wait_seconds)
    batch: list[Page] = []
    reasons: list[str | None] = []

    def flush() -> list[PageResult]:
        if not batch:
            return []
        results = _ocr_batch(batch, engines.get())
        for result, reason in zip(results, reasons):
            result.engine, result.source_reason = engines.get().name, reason
        batch.clear()
        reasons.clear()
        return results

    for number in numbers:
        started = time.perf_counter()
        page_text, reason = choose_text_layer(document, number, settings, engines.name)
        if page_text is not None:
            yield from flush()
            seconds = round(time.perf_counter() - started, 3)
            yield PageResult(number, page_text.text, page_text.header, page_text.footer, seconds,
                             source="text_layer")
            continue
        try:
            batch.append(Page(number, document.render(number)))
            reasons.append(reason)
        except UnreadableDocument as exc:
            yield from flush()
            yield PageResult(number, "", error=f"{exc.code}: {exc.message}", source_reason=reason)
            continue
        if len(batch) >= engines.get().batch_size:
            yield from flush()
    yield from flush()


def choose_text_layer(
    document: Document, number: int, settings: Settings, engine_name: str
) -> tuple[PageText | None, str | None]:
    """(the page read from its text layer, None) or (None, why it is to be OCR'd; None for images).

    PDF_TEXT_LAYER=off, and the vlm engine, OCR every page: the vlm's markdown carries tables,
    equations and image descriptions that a flat text layer lacks, which is why one runs it.
    Otherwise ``common.text_layer.judge`` decides per page.
    """
    if document.kind != "pdf":
        return None, None
    if settings.pdf_text_layer == "off":
        return None, "text_layer_off: PDF_TEXT_LAYER=off"
    if engine_name == "vlm":
        return None, "vlm: with the vlm engine every page is OCR'd for its tables and equations"
    try:
        layer = document.text_layer(number)
    except UnreadableDocument as exc:
        return None, f"unreadable_text_layer: {exc.message}"
    usable, reason = judge(layer, settings.pdf_ocr_layer)
    if not usable:
        return None, reason
    return layer.page_text(settings.pdf_ocr_layer), None


class _Engines:
    """The engine for OCR'd pages, built (from a factory) and loaded on first use; its name is
    known before."""

    def __init__(self, engine: EngineSource, settings: Settings, model_wait_seconds: float | None = None):
        self._engine = engine if hasattr(engine, "ocr_pages") else None
        self._wait = model_wait_seconds
        self._factory = None if self._engine is not None else engine
        self._loaded = False
        self.name = self._engine.name if self._engine is not None else choose_engine_name(settings.ocr_engine)[0]

    def get(self) -> OcrEngine:
        if self._engine is None:
            self._engine = self._factory()
        if not self._loaded:
            self._loaded = True
            # Once per process, before the engine's first page; a vlm knows its revision only once
            # loaded. Its faults are EngineFailed / ModelUnavailable: the whole call is retried.
            load_engine(self._engine, self._wait)
        return self._engine


def claim_batch_size(settings: Settings, engine: OcrEngine | None) -> int:
    """Pages to take on at once before any engine is built (vlm batches; lite reads one by one)."""
    if engine is not None:
        return engine.batch_size
    return settings.vlm_batch_size if choose_engine_name(settings.ocr_engine)[0] == "vlm" else 1


def document_engine(pages: list[PageResult], engine: OcrEngine | None) -> tuple[str, str, str]:
    """(engine, model, revision) of a document: the OCR engine's, or pypdfium2's when every page
    came from the text layer."""
    if engine is not None and any(page.source == "ocr" for page in pages):
        return engine.name, engine.model, engine.revision
    return "text_layer", TEXT_LAYER_MODEL, version("pypdfium2")


def _ocr_batch(batch: list[Page], engine: OcrEngine) -> list[PageResult]:
    if not batch:
        return []
    started = time.perf_counter()
    try:
        texts = engine.ocr_pages([page.image for page in batch])
    except OcrError:
        raise  # ModelUnavailable and the like: the whole request or event should be retried
    except Exception as exc:  # noqa: BLE001 - the engine's fault, not the pages': retry, do not record
        pages = ", ".join(str(page.number) for page in batch)
        log.error("the %s engine failed on page(s) %s: %r", engine.name, pages, exc)
        raise EngineFailed(f"the {engine.name} engine failed on page(s) {pages}: {type(exc).__name__}: {exc}; "
                           "retry later") from exc
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
    model_wait_seconds: float | None = None,
    check_pages: Callable[[list[int]], None] | None = None,
) -> DocumentResult:
    """OCR the pages ``pages`` (a range like '1-3,5'; default all) of a document's bytes.

    ``on_page(result, total)`` is called as each page finishes (progress bars, streaming; it may
    raise to stop between pages). ``check_pages(numbers)`` may refuse the pages before any OCR.
    ``model_wait_seconds`` bounds the wait for a model that is still loading (see ``load_engine``).
    Raises an ``OcrError`` subclass for documents that cannot be read (permanent) and for engine
    faults (``EngineFailed``, ``ModelUnavailable``: transient).
    """
    started = time.perf_counter()
    with open_document(data, Limits.from_settings(settings)) as document:
        numbers = parse_page_range(pages, document.page_count)
        if check_pages:
            check_pages(numbers)
        opened = time.perf_counter()
        used: list[OcrEngine] = []

        def build() -> OcrEngine:
            # Only when a page needs OCR: a bad document is refused, and a born-digital one
            # read, without loading any model.
            used.append(get_engine(settings))
            return used[-1]

        results = []
        for result in ocr_pages(document, numbers, engine or build, settings=settings,
                                 model_wait_seconds=model_wait_seconds):
            results.append(result)
            if on_page:
                on_page(result, len(numbers))
        check_some_page_read(results)
    finished = time.perf_counter()
    name, model, revision = document_engine(results, engine or (used[0] if used else None))
    return DocumentResult(
        page_count=document.page_count,
        pages=results,
        engine=name,
        model=model,
        revision=revision,
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
