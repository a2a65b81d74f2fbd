"""Both functions honour PDF_TEXT_LAYER and record per page how it was read: the on-upload
function in each page object and result.json (through fake-gcs-server), POST /ocr in its JSON."""

from __future__ import annotations

from tests.http_client import http_client
from tests.pdf_builder import PdfPage, build_pdf, merge_pdfs, rasterised
from tests.upload_helpers import (  # noqa: F401  (fixtures)
    PAGE_WORDS, counting, finalized_event, function_client, post_event, read_json, upload, upload_env,
)


def typed(words: str) -> bytes:
    return build_pdf([PdfPage(width=420, height=300).text(40, 120, words, size=28)])


def mixed_pdf() -> bytes:
    """Page 1 typed (a text layer), page 2 a scan of typed words."""
    return merge_pdfs([typed(PAGE_WORDS[0]), rasterised(typed(PAGE_WORDS[1]))])


def test_on_upload_reads_text_pages_from_their_layer_and_records_each_pages_source(
        gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "mixed.pdf", mixed_pdf(), "application/pdf")
    assert post_event(function_client, finalized_event(blob)) == 200

    assert dict(counting.pages) == {PAGE_WORDS[1]: 1}  # only the scanned page met the engine
    prefix = f"ocr-results/mixed.pdf/{blob.generation}"
    first, second = (gcs_bucket.get_blob(f"{prefix}/pages/{n:04d}.md") for n in (1, 2))
    assert first.download_as_text() == PAGE_WORDS[0]
    assert first.metadata["source"] == "text_layer" and "engine" not in first.metadata
    assert second.metadata["source"] == "ocr" and second.metadata["engine"] == "lite"
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert [(p["source"], p["engine"]) for p in result["pages"]] == [("text_layer", None), ("ocr", "lite")]
    assert result["pages"][1]["source_reason"].startswith("no_text:")
    assert (result["engine"], result["model"]) == ("lite", "rapidocr")


def test_on_upload_born_digital_document_needs_no_engine(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "typed.pdf", typed(PAGE_WORDS[2]), "application/pdf")
    assert post_event(function_client, finalized_event(blob)) == 200
    assert counting.total == 0
    result = read_json(gcs_bucket, f"ocr-results/typed.pdf/{blob.generation}/result.json")
    assert result["status"] == "done" and result["engine"] == "text_layer"
    assert [p["source"] for p in result["pages"]] == ["text_layer"]


def test_on_upload_honours_off(gcs_bucket, function_client, counting, monkeypatch):
    monkeypatch.setenv("PDF_TEXT_LAYER", "off")
    blob = upload(gcs_bucket, "off.pdf", typed(PAGE_WORDS[0]), "application/pdf")
    assert post_event(function_client, finalized_event(blob)) == 200
    assert dict(counting.pages) == {PAGE_WORDS[0]: 1}
    result = read_json(gcs_bucket, f"ocr-results/off.pdf/{blob.generation}/result.json")
    assert result["pages"][0]["source_reason"] == "text_layer_off: PDF_TEXT_LAYER=off"


def test_http_json_says_how_each_page_was_read():
    data = mixed_pdf()
    body = http_client(RENDER_LONG_EDGE="1000").post("/ocr", data=data, content_type="application/pdf").get_json()
    assert [(p["source"], p["engine"]) for p in body["pages"]] == [("text_layer", None), ("ocr", "lite")]
    assert body["pages"][0]["text"] == PAGE_WORDS[0] and PAGE_WORDS[1] in body["pages"][1]["text"]
    off = http_client(RENDER_LONG_EDGE="1000", PDF_TEXT_LAYER="off")
    body = off.post("/ocr", data=data, content_type="application/pdf").get_json()
    assert [p["source"] for p in body["pages"]] == ["ocr", "ocr"]
    assert body["pages"][0]["source_reason"] == "text_layer_off: PDF_TEXT_LAYER=off"
