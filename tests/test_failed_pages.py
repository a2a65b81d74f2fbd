"""Pages that cannot be read, end to end: a document with some unreadable pages is a partial result
(CLI exit status 3, `failed_pages`, each failed page's error), one with none readable is an
unreadable document (CLI exit 1, POST /ocr 422, on upload a `failed` result.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.hostile_inputs import _pdf_with
from tests.http_client import http_client
from tests.pages import pdf_bytes, text_page
from tests.upload_helpers import (  # noqa: F401  (fixtures)
    counting, finalized_event, function_client, list_names, post_event, read_json, upload, upload_env,
)

ROOT = Path(__file__).resolve().parent.parent
GOOD_PAGE = pdf_bytes([text_page(["Readable first page"], size=(600, 300), top=40, left=40, font_size=40)])
# Page 1 is real; the page tree says 3 and points at two objects that do not exist.
PARTIAL = GOOD_PAGE.replace(b"/Count 1\n/Kids [ 1 0 R ]", b"/Count 3\n/Kids [ 1 0 R 90 0 R 91 0 R ]")
# Two pages declared, neither exists: no page can be read.
NONE_READABLE = _pdf_with([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [5 0 R 6 0 R] /Count 2 >>"])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", "ocr", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "OCR_ENGINE": "lite"})


def test_cli_exits_3_with_failed_pages_for_a_partly_readable_pdf(tmp_path):
    assert PARTIAL != GOOD_PAGE
    path = tmp_path / "partial.pdf"
    path.write_bytes(PARTIAL)
    done = run_cli(str(path), "--format", "json", "--out", str(tmp_path / "out"))
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert result["page_count"] == 3 and result["failed_pages"] == [2, 3]
    assert [(p["number"], bool(p["error"])) for p in result["pages"]] == [(1, False), (2, True), (3, True)]
    assert "Readable first page" in result["pages"][0]["text"]
    assert all(p["error"].startswith("corrupt_document: page ") for p in result["pages"][1:])
    manifest = json.loads((tmp_path / "out" / "result.json").read_text())
    assert (manifest["status"], manifest["page_count"], manifest["failed_pages"]) == ("done", 3, [2, 3])


def test_cli_exits_1_when_no_page_can_be_read(tmp_path):
    path = tmp_path / "none.pdf"
    path.write_bytes(NONE_READABLE)
    done = run_cli(str(path))
    assert done.returncode == 1 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if not line.startswith("info: ")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "no page could be read" in errors[0], done.stderr


def test_http_answers_422_when_no_page_can_be_read():
    response = http_client().post("/ocr", data=NONE_READABLE, content_type="application/pdf")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "corrupt_document" and "no page could be read" in error["message"]


def test_on_upload_records_failed_when_no_page_can_be_read(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "none.pdf", NONE_READABLE, "application/pdf")
    assert post_event(function_client, finalized_event(blob)) == 200  # acknowledged: retrying cannot help
    prefix = f"ocr-results/none.pdf/{blob.generation}"
    # Each page records its error; no document.md, since there is no document text.
    assert list_names(gcs_bucket, "ocr-results/") == [f"{prefix}/{name}" for name in (
        "job.json", "pages/0001.md", "pages/0002.md", "result.json", "status.json")]
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["status"] == "failed" and result["error"]["code"] == "corrupt_document"
    assert "no page could be read" in result["error"]["message"]
    assert counting.total == 0
