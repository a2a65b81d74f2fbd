"""The HTTP function as Cloud Run runs it: a real functions-framework process on a port."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.http_client import FunctionProcess
from tests.pages import pdf_bytes, text_page

PDF = pdf_bytes([text_page(["Marble staircase"], size=(700, 300), top=60, left=60, font_size=44)])


@pytest.fixture
def function(tmp_path):
    process = FunctionProcess("ocr_http", "http", {"MAX_CONCURRENT_DOCUMENTS": "2"}, tmp_path / "function.log")
    yield process
    process.stop()


def log_entries(process: FunctionProcess) -> list[dict]:
    entries = []
    for line in process.log().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass
    return entries


def test_healthz_answers_without_loading_anything(function):
    response = requests.get(function.url + "/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "engines_loaded": []}
    assert "engine ready" not in function.log()


def test_eight_concurrent_warmups_and_ocrs_on_a_cold_instance_load_once(function):
    def call(index: int):
        if index % 2:
            return requests.post(function.url + "/warmup", headers={"User-Agent": "Google-Cloud-Scheduler"}, timeout=120)
        return requests.post(function.url + "/ocr", data=PDF, headers={"Content-Type": "application/pdf"}, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(call, range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    for index, response in enumerate(responses):
        if index % 2:
            assert response.json()["engine"] == "lite" and response.json()["cache"] == "bundled"
        else:
            assert "Marble staircase" in response.json()["text"]
    entries = log_entries(function)
    assert sum("engine ready" in e.get("message", "") for e in entries) == 1
    # Structured logs: Cloud Logging's keys, and each line of a request carries its id.
    done = [e for e in entries if e.get("message") == "ocr done"]
    assert len(done) == 4 and all(e["severity"] == "INFO" and e["request_id"] for e in done)
    assert requests.get(function.url + "/healthz", timeout=10).json()["engines_loaded"] == ["lite"]


def test_a_bad_request_does_not_hurt_the_next_good_one(function):
    bad = requests.post(function.url + "/ocr", data=b"%PDF-1.4 broken", headers={"Content-Type": "application/pdf"}, timeout=60)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "corrupt_document"
    good = requests.post(function.url + "/ocr?format=text", data=PDF, headers={"Content-Type": "application/pdf"}, timeout=60)
    assert good.status_code == 200 and "Marble staircase" in good.text
