"""POST /ocr stays for small documents: a page budget (413 pointing to POST /jobs) and a deadline
derived from REQUEST_TIMEOUT_SECONDS (stops between pages, frees its slot, answers JSON 504)."""

from __future__ import annotations

from tests.http_client import http_client
from tests.jobs_helpers import make_long_pdf
from tests.upload_helpers import TEST_ENV, counting, upload_env  # noqa: F401  (fixtures)


def test_over_the_page_budget_is_413_before_any_ocr(counting):
    client = http_client(**TEST_ENV, SYNC_MAX_PAGES="2")
    response = client.post("/ocr", data=make_long_pdf(3), content_type="application/pdf")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_many_pages_for_sync"
    assert "POST /jobs" in response.json["error"]["message"]
    assert counting.total == 0
    # The budget counts the pages asked for, not the document's.
    assert client.post("/ocr?pages=1-2", data=make_long_pdf(3), content_type="application/pdf").status_code == 200


def test_past_the_deadline_stops_between_pages_and_frees_the_slot(counting):
    counting.delay = 1.0  # a page takes over a second: 10 pages cannot fit in the 2 s deadline
    # One slot and no waiting for it: the next request is served only if the first gave its slot back.
    client = http_client(**TEST_ENV, REQUEST_TIMEOUT_SECONDS="3", MAX_CONCURRENT_DOCUMENTS="1",
                         QUEUE_WAIT_SECONDS="0")

    response = client.post("/ocr", data=make_long_pdf(10), content_type="application/pdf")

    assert response.status_code == 504 and response.json["error"]["code"] == "deadline_exceeded", response.json
    assert "POST /jobs" in response.json["error"]["message"]
    assert 1 <= counting.total < 10  # it stopped between pages
    after = client.post("/ocr", data=make_long_pdf(1), content_type="application/pdf")
    assert after.status_code == 200 and after.json["page_count"] == 1
