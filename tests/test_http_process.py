"""The HTTP function as Cloud Run runs it: a real functions-framework process on a port."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.http_client import FunctionProcess
from tests.pages import pdf_bytes, text_page
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)

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


def test_chunked_bodies_over_the_limit_are_refused_not_500(tmp_path):
    """A body without Content-Length (Transfer-Encoding: chunked, as requests sends a generator)
    to the real server: the limit holds on the bytes read; a chunked multipart form is refused."""
    process = FunctionProcess("ocr_http", "http", {"MAX_UPLOAD_BYTES": "1000"}, tmp_path / "chunked.log")
    try:
        def chunks(total: int = 200_000, size: int = 8192):
            for start in range(0, total, size):
                yield b"x" * min(size, total - start)

        for content_type in ("application/pdf", "application/json"):
            response = requests.post(process.url + "/ocr", data=chunks(), headers={"Content-Type": content_type},
                                     timeout=60)
            assert response.request.headers.get("Transfer-Encoding") == "chunked"
            assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large"), response.text
        response = requests.post(process.url + "/ocr", data=chunks(2000),
                                 headers={"Content-Type": "multipart/form-data; boundary=b"}, timeout=60)
        assert (response.status_code, response.json()["error"]["code"]) == (411, "length_required"), response.text
        small = requests.post(process.url + "/ocr", data=iter([PDF[:500], PDF[500:]]), timeout=60,
                              headers={"Content-Type": "application/pdf"})
        assert small.status_code == 413  # the PDF itself is over 1000 bytes: chunking changes nothing
    finally:
        process.stop()


def test_busy_instance_answers_503_with_retry_after(tiny_model_hub, tmp_path):
    """One OCR slot, no queueing: while a request holds the slot (its model download held by the
    tiny-model hub), a second request is answered 503 at once; the first then completes."""
    hub = tiny_model_hub
    hub.server.knobs.hold = {"model.safetensors"}
    env = hub.env(OCR_ENGINE="vlm", MAX_NEW_TOKENS="4", MAX_CONCURRENT_DOCUMENTS="1", QUEUE_WAIT_SECONDS="0",
                  HF_HUB_DOWNLOAD_TIMEOUT="120")
    process = FunctionProcess("ocr_http", "http", env, tmp_path / "busy.log")
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(requests.post, process.url + "/ocr", data=PDF,
                                headers={"Content-Type": "application/pdf"}, timeout=300)
            assert hub.server.knobs.held.wait(120), "the first request never reached the model download"
            second = requests.post(process.url + "/ocr", data=PDF, headers={"Content-Type": "application/pdf"},
                                   timeout=60)
            hub.server.knobs.release.set()
            first = first.result()
        assert (second.status_code, second.json()["error"]["code"]) == (503, "busy"), second.text
        assert second.headers["Retry-After"] == "5"
        assert first.status_code == 200 and first.json()["engine"] == "vlm", first.text
    finally:
        hub.server.knobs.release.set()
        process.stop()
