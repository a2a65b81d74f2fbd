"""An engine or model fault is the server's, not the document's: retried, never recorded as a page failure.

A CUDA out-of-memory error, a model that will not load: the next attempt (another delivery, the
client's retry after a 503) may well succeed, so none of them may become a ``failed`` page or a
``corrupt_document`` result. Only what belongs to a page (a render error, a page the engine reports
as unreadable, such as one that loops) fails that page.

The engines here are the real lite engine behind a thin wrapper that injects the fault.
"""

from __future__ import annotations

import json

import pytest

from common import engines
from common.config import Settings
from common.engines.lite import LiteEngine
from common.errors import EngineFailed
from common.pipeline import ocr_document
from tests.http_client import http_client
from tests.upload_helpers import PAGE_WORDS, TEST_ENV, make_pdf

SETTINGS = Settings.from_env(TEST_ENV)
OOM = "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 22.05 GiB total capacity)"


@pytest.fixture(scope="module")
def lite():
    return LiteEngine(SETTINGS)


class Faulty:
    """The real lite engine, except that ``ocr_pages`` raises ``OOM`` the first ``failures`` calls and
    ``load`` raises while ``broken_load`` is set; like the vlm engine, OCR loads first if need be."""

    def __init__(self, engine, failures: int = 0, broken_load: bool = False, page_error_on: int | None = None):
        self.engine, self.name, self.model, self.revision = engine, "lite", "rapidocr", engine.revision
        self.batch_size = 2
        self.failures, self.broken_load, self.page_error_on = failures, broken_load, page_error_on
        self.loads = self.calls = 0
        self.loaded = False

    def load(self, wait_seconds: float | None = None) -> dict:
        self.loads += 1
        if self.broken_load:
            raise RuntimeError("Error while deserializing header: HeaderTooLarge")
        self.loaded = True
        return self.engine.load()

    def ocr_pages(self, images):
        if not self.loaded:
            self.load()
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(OOM)
        pages = self.engine.ocr_pages(images)
        if self.page_error_on is not None:
            for page in pages:
                if PAGE_WORDS[self.page_error_on - 1].split()[0] in page.text:
                    page.error = "the model repeated itself until MAX_NEW_TOKENS"
        return pages


def test_an_engine_fault_is_a_transient_error_not_a_page_failure(lite):
    with pytest.raises(EngineFailed, match="CUDA out of memory") as caught:
        ocr_document(make_pdf(3), SETTINGS, engine=Faulty(lite, failures=99))
    assert caught.value.status == 503 and not caught.value.permanent and caught.value.retry_after_seconds > 0


def test_the_engine_is_loaded_once_before_the_page_loop(lite):
    engine = Faulty(lite, broken_load=True)
    with pytest.raises(EngineFailed, match="HeaderTooLarge"):
        ocr_document(make_pdf(3), SETTINGS, engine=engine)
    assert engine.loads == 1 and engine.calls == 0


def test_a_page_the_engine_reports_unreadable_fails_alone(lite):
    result = ocr_document(make_pdf(3), SETTINGS, engine=Faulty(lite, page_error_on=2))
    assert result.failed_pages == [2]
    assert PAGE_WORDS[0] in result.pages[0].text and PAGE_WORDS[2] in result.pages[2].text


@pytest.fixture
def served_engine(lite):
    """Install a Faulty engine as the HTTP function's process-wide lite engine."""
    previous = engines._engines.get("lite")
    engine = Faulty(lite, failures=99)
    engines._engines["lite"] = engine
    yield engine
    if previous is None:
        engines._engines.pop("lite", None)
    else:
        engines._engines["lite"] = previous


def test_post_ocr_answers_503_with_retry_after_for_an_engine_fault(served_engine):
    client = http_client(**TEST_ENV)
    response = client.post("/ocr", data=make_pdf(1), content_type="application/pdf")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "engine_failed"
    assert response.headers["Retry-After"] == str(EngineFailed.retry_after_seconds)


def test_on_upload_retries_an_engine_fault_and_a_redelivery_finishes(lite, gcs_bucket):
    from common.upload_job import process_object

    pdf = make_pdf(3)
    blob = gcs_bucket.blob("in/doc.pdf")
    blob.upload_from_string(pdf, content_type="application/pdf")
    event = dict(bucket=gcs_bucket.name, name="in/doc.pdf", generation=blob.generation, size=len(pdf),
                 content_type="application/pdf", settings=SETTINGS)

    with pytest.raises(EngineFailed):  # the platform redelivers the event
        process_object(**event, engine=Faulty(lite, failures=1))
    names = [b.name for b in gcs_bucket.list_blobs(prefix="ocr-results/")]
    assert not [n for n in names if n.endswith(("result.json", ".md"))], names

    outcome = process_object(**event, engine=Faulty(lite))  # the GPU is healthy again
    assert outcome.status == "done", outcome
    result = json.loads(gcs_bucket.blob(f"{outcome.prefix}/result.json").download_as_bytes())
    assert result["status"] == "done" and result["failed_pages"] == []
    document = gcs_bucket.blob(f"{outcome.prefix}/document.md").download_as_text()
    assert all(words in document for words in PAGE_WORDS)
