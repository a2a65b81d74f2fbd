"""Hardening 1: hostile and broken inputs through both functions.

Every generated case (tests/hostile_inputs.py) gets its documented outcome: the right HTTP status
and JSON error from POST /ocr, and the right ``failed`` (or ``done``) result.json from the
on-upload function, under object names that are hostile too. No case crashes the instance or
hangs past the limits, and the next good document is processed normally by the same instance.
"""

from __future__ import annotations

import json

import pytest

from common.config import Settings
from common.upload_job import process_object
from common.storage import GcsStore
from tests.hostile_inputs import cases
from tests.http_client import http_client
from tests.pages import pdf_bytes, text_page

CASES = cases()
GOOD = pdf_bytes([text_page(["Recovery page"], size=(600, 300), top=40, left=40, font_size=40)])
# A hang guard, not a speed target: the limits (pages, pixels, bytes) bound every case's work.
HANG_GUARD_SECONDS = 120


def test_the_suite_generates_at_least_fifty_cases():
    assert len(CASES) >= 50
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def client():
    return http_client()


@pytest.mark.timeout(HANG_GUARD_SECONDS)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_http_function_answers_each_hostile_input(client, case):
    response = client.post("/ocr", data=case.data, content_type=case.content_type)
    body = response.get_json()
    if case.expected is None:
        assert response.status_code == 200, body
        assert body["page_count"] == case.page_count and body["failed_pages"] == list(case.failed_pages), body
        assert [p["number"] for p in body["pages"]] == list(range(1, case.page_count + 1))
        assert [p["number"] for p in body["pages"] if p["error"]] == list(case.failed_pages)
        if case.words:
            assert case.words in body["text"], body["text"]
        else:
            assert body["text"].strip() == "", body["text"]  # blank pages read as blank
    else:
        assert (response.status_code, body["error"]["code"]) == (case.http_status, case.expected), body
        assert body["error"]["message"]


def test_http_function_still_reads_a_good_document_afterwards(client):
    response = client.post("/ocr", data=GOOD, content_type="application/pdf")
    assert response.status_code == 200 and "Recovery page" in response.get_json()["text"]


HOSTILE_NAMES = [
    "../../etc/passwd.pdf",
    "dir with spaces/scan 01 (final).pdf",
    "ünïcødé/документ/文件.pdf",
    "x" * 996 + ".pdf",
    "a/./b/../c.pdf",
]


def deliver(bucket, name: str, data: bytes, content_type: str):
    blob = bucket.blob(name)
    blob.upload_from_string(data, content_type=content_type)
    outcome = process_object(bucket=bucket.name, name=name, generation=blob.generation, size=len(data),
                             content_type=content_type, settings=Settings.from_env({"OCR_ENGINE": "lite"}))
    manifest = json.loads(bucket.blob(f"{outcome.prefix}/result.json").download_as_bytes())
    return outcome, manifest


@pytest.mark.timeout(HANG_GUARD_SECONDS * 5)
def test_on_upload_records_each_hostile_input(gcs_bucket):
    for index, case in enumerate(CASES):
        name = f"{HOSTILE_NAMES[index % len(HOSTILE_NAMES)]}-{case.name}.pdf"[-1000:]
        if not case.data:
            continue  # zero-byte objects are skipped before any work (tested in test_on_upload_skips)
        outcome, manifest = deliver(gcs_bucket, name, case.data, case.content_type)
        if case.expected is None:
            assert manifest["status"] == "done", (case.name, manifest)
            assert (manifest["page_count"], manifest["failed_pages"]) == (case.page_count, list(case.failed_pages)), \
                (case.name, manifest)
            if case.words:
                assert case.words in gcs_bucket.blob(f"{outcome.prefix}/document.md").download_as_text(), case.name
        else:
            assert manifest["status"] == "failed", (case.name, manifest)
            assert manifest["error"]["code"] == case.expected, (case.name, manifest)
            assert manifest["error"]["message"]
    outcome, manifest = deliver(gcs_bucket, "after/the/storm.pdf", GOOD, "application/pdf")
    assert manifest["status"] == "done"
    assert "Recovery page" in gcs_bucket.blob(f"{outcome.prefix}/document.md").download_as_text()


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["dot-dot", "spaces", "unicode", "1000-chars", "dot-segments"])
def test_hostile_object_names_get_results_under_the_results_prefix(gcs_bucket, name):
    outcome, manifest = deliver(gcs_bucket, name, GOOD, "application/pdf")
    assert manifest["status"] == "done" and manifest["object"] == name
    assert outcome.prefix.startswith("ocr-results/")
    assert all(len(n.encode()) <= 1024 for n in GcsStore(gcs_bucket.name).list(outcome.prefix))
    assert "Recovery page" in gcs_bucket.blob(f"{outcome.prefix}/pages/0001.md").download_as_text()
