"""Issue 11 item 10: a page slower than CLAIM_TTL_SECONDS is not taken over while its worker lives:
the claim's heartbeat keeps it fresh, so a second delivery waits instead of OCR'ing it again."""

from __future__ import annotations

import threading
import time

from common.config import Settings
from common.upload_job import process_object
from tests.upload_helpers import PAGE_WORDS, counting, make_pdf, read_json, upload, upload_env  # noqa: F401


def test_slow_page_keeps_its_claim(gcs_bucket, counting, monkeypatch):
    monkeypatch.setenv("CLAIM_TTL_SECONDS", "1")
    monkeypatch.setenv("CLAIM_WAIT_SECONDS", "30")
    counting.delay = 3.0  # each page takes three claim lifetimes
    blob = upload(gcs_bucket, "slow.pdf", make_pdf(1), "application/pdf")
    outcomes = []

    def deliver():
        outcomes.append(process_object(bucket=gcs_bucket.name, name="slow.pdf", generation=blob.generation,
                                       settings=Settings.from_env(), engine=counting))

    first = threading.Thread(target=deliver)
    first.start()
    prefix = f"ocr-results/slow.pdf/{blob.generation}"
    deadline = time.monotonic() + 30
    while not gcs_bucket.blob(f"{prefix}/claims/0001").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.5)  # the claim is older than the TTL now, but refreshed
    second = threading.Thread(target=deliver)
    second.start()
    first.join()
    second.join()

    assert dict(counting.pages) == {PAGE_WORDS[0]: 1}  # OCR'd once
    assert sorted(o.status for o in outcomes) == ["done", "done"]
    assert read_json(gcs_bucket, f"{prefix}/result.json")["status"] == "done"
