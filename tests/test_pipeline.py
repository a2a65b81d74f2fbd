"""common.pipeline: every input kind through the real lite engine, page ranges, each output format."""

from __future__ import annotations

import json

import pytest

from common.config import Settings
from common.engines.lite import LiteEngine
from common.errors import EngineFailed
from common.pipeline import DocumentResult, PageResult, ocr_document, render, to_markdown, to_text
from tests.pages import image_bytes, pdf_bytes, text_page, tiff_bytes

SETTINGS = Settings.from_env({"OCR_ENGINE": "lite", "RENDER_LONG_EDGE": "1200"})


@pytest.fixture(scope="module")
def engine():
    return LiteEngine(SETTINGS)


def page(*lines: str):
    return text_page(list(lines), size=(900, 400), top=60, left=60, font_size=44)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_each_image_type_reads_back(engine, fmt):
    data = image_bytes(page("Harbour lights", "seven boats"), fmt)
    result = ocr_document(data, SETTINGS, engine=engine)
    assert result.page_count == 1
    text = result.pages[0].text.lower()
    assert "harbour lights" in text and text.index("harbour") < text.index("seven boats")


def test_multi_frame_tiff_and_page_ranges(engine):
    data = tiff_bytes([page("Alpha page"), page("Bravo page"), page("Charlie page")])
    result = ocr_document(data, SETTINGS, engine=engine, pages="1,3")
    assert result.page_count == 3
    assert [p.number for p in result.pages] == [1, 3]
    assert "Alpha" in result.pages[0].text and "Charlie" in result.pages[1].text
    assert "Bravo" not in to_markdown(result.pages)


def test_pdf_pages_in_order_with_timings(engine):
    seen = []
    data = pdf_bytes([page("Northern river"), page("Southern mountain")])
    result = ocr_document(data, SETTINGS, engine=engine, on_page=lambda p, total: seen.append((p.number, total)))
    assert seen == [(1, 2), (2, 2)]
    markdown = to_markdown(result.pages)
    assert markdown.index("Northern") < markdown.index("Southern")
    assert all(p.seconds > 0 for p in result.pages)
    assert set(result.timings) == {"open_seconds", "ocr_seconds", "total_seconds"}


def made_result() -> DocumentResult:
    pages = [
        PageResult(1, "# Title\n\nSome **bold** text and a <b>tag</b>.", header=["Running head"], footer=["1"], seconds=0.5),
        PageResult(2, "- item one\n- item two", footer=["2"], seconds=0.25),
    ]
    return DocumentResult(page_count=2, pages=pages, engine="lite", model="rapidocr", revision="3", timings={"total_seconds": 1.0})


# Written by hand from the page texts above, not produced by the code under test.
EXPECTED_MARKDOWN = "# Title\n\nSome **bold** text and a <b>tag</b>.\n\n- item one\n- item two\n"
EXPECTED_TEXT = "Title\n\nSome bold text and a tag.\n\nitem one\nitem two\n"


def test_output_formats():
    result = made_result()
    assert render(result, "markdown") == EXPECTED_MARKDOWN
    assert render(result, "text") == EXPECTED_TEXT
    body = json.loads(render(result, "json"))
    assert [p["number"] for p in body["pages"]] == [1, 2]
    assert body["pages"][0]["header"] == ["Running head"] and body["pages"][1]["footer"] == ["2"]
    assert "Running head" not in body["text"]  # headers stay out of the document text
    assert body["engine"] == "lite" and body["failed_pages"] == []
    assert body["text"] == EXPECTED_MARKDOWN  # the document body, without running heads
    assert to_markdown(result.pages) == EXPECTED_MARKDOWN and to_text(result.pages) == EXPECTED_TEXT


class BreaksOnWidePages:
    """The real lite engine, except that it crashes on pages wider than tall (a stand-in for an
    engine bug that one odd page triggers), two pages per batch."""

    def __init__(self, engine):
        self.engine, self.name, self.model, self.revision, self.batch_size = engine, "lite", "rapidocr", "x", 2

    def load(self, wait_seconds=None) -> dict:
        return self.engine.load()

    def ocr_pages(self, images):
        if any(image.width > image.height for image in images):
            raise ValueError("engine crashed")
        return self.engine.ocr_pages(images)


def test_an_engine_crash_is_the_engines_fault_not_the_pages(engine):
    # Retried as a whole (503 / redelivery), never recorded as a failed page: see test_engine_faults.py.
    tall = text_page(["Tall page words"], size=(400, 600), top=60, left=40, font_size=40)
    wide = text_page(["Wide page"], size=(600, 400), top=60, left=40, font_size=40)
    with pytest.raises(EngineFailed, match="page\\(s\\) 1, 2: ValueError: engine crashed"):
        ocr_document(pdf_bytes([tall, wide, tall]), SETTINGS, engine=BreaksOnWidePages(engine))
