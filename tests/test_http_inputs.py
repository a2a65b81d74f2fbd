"""POST /ocr: each input form returns the text of a document whose words the test knows."""

from __future__ import annotations

import io

import pytest

from tests.http_client import http_client
from tests.pages import image_bytes, pdf_bytes, text_page


def page(*lines):
    return text_page(list(lines), size=(900, 400), top=60, left=60, font_size=44)


PDF = pdf_bytes([page("Copper kettle"), page("Silver spoon")])


@pytest.fixture(scope="module")
def client():
    return http_client()


def test_raw_pdf_body_returns_pages_document_engine_and_timings(client):
    response = client.post("/ocr", data=PDF, content_type="application/pdf")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [p["number"] for p in body["pages"]] == [1, 2]
    assert "Copper kettle" in body["pages"][0]["text"] and "Silver spoon" in body["pages"][1]["text"]
    assert body["text"].index("Copper") < body["text"].index("Silver")
    assert (body["engine"], body["model"]) == ("lite", "rapidocr") and body["revision"]
    assert body["timings"]["total_seconds"] > 0


def test_raw_image_body_with_page_range_in_the_query(client):
    response = client.post("/ocr?pages=2&format=text", data=PDF, content_type="application/pdf")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "Silver spoon" in response.get_data(as_text=True) and "Copper" not in response.get_data(as_text=True)
    assert response.headers["X-OCR-Engine"] == "lite"
    response = client.post("/ocr?format=markdown", data=image_bytes(page("Velvet curtain"), "PNG"), content_type="image/png")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    assert "Velvet curtain" in response.get_data(as_text=True)


def test_multipart_file_field_with_form_options(client):
    response = client.post(
        "/ocr",
        data={"file": (io.BytesIO(image_bytes(page("Granite bridge"), "JPEG")), "scan.jpg"), "format": "json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert "Granite bridge" in response.get_json()["text"]


def test_octet_stream_is_sniffed(client):
    response = client.post("/ocr", data=image_bytes(page("Amber lantern"), "PNG"), content_type="application/octet-stream")
    assert response.status_code == 200 and "Amber lantern" in response.get_json()["text"]


def test_gcs_uri_from_an_allowed_bucket(gcs_bucket):
    gcs_bucket.blob("in/doc.pdf").upload_from_string(PDF, content_type="application/pdf")
    client = http_client(ALLOWED_BUCKETS=f"other,{gcs_bucket.name}")
    response = client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/in/doc.pdf", "pages": "1"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [p["number"] for p in body["pages"]] == [1] and "Copper kettle" in body["text"]
