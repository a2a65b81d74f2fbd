"""The same event twice, twice at once, and after a partial run: one set of results, each page OCR'd once."""

from __future__ import annotations

import json
import threading
import time

import functions_framework

from common.config import Settings
from common.upload_job import process_object
from tests.upload_helpers import (  # noqa: F401  (fixtures)
    FUNCTION_SOURCE, PAGE_WORDS, counting, finalized_event, function_client, list_names, make_pdf, post_event,
    read_json, upload, upload_env,
)


def test_redelivered_event_does_nothing(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "twice.pdf", make_pdf(2), "application/pdf")
    event = finalized_event(blob)
    assert post_event(function_client, event) == 200
    result = gcs_bucket.get_blob(f"ocr-results/twice.pdf/{blob.generation}/result.json")

    assert post_event(function_client, event) == 200

    assert dict(counting.pages) == {PAGE_WORDS[0]: 1, PAGE_WORDS[1]: 1}
    again = gcs_bucket.get_blob(f"ocr-results/twice.pdf/{blob.generation}/result.json")
    assert again.generation == result.generation  # not rewritten


def test_concurrent_deliveries_share_the_pages(gcs_bucket, counting):
    """Two deliveries at once, each through its own functions-framework app (as two instances)."""
    counting.delay = 0.5  # each page takes long enough for the other delivery to meet its claim
    blob = upload(gcs_bucket, "race.pdf", make_pdf(3), "application/pdf")
    event = finalized_event(blob)
    clients = [functions_framework.create_app("ocr_on_upload", FUNCTION_SOURCE, "cloudevent").test_client()
               for _ in range(2)]
    statuses = []
    threads = [threading.Thread(target=lambda c=c: statuses.append(post_event(c, event))) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200, 200]
    assert dict(counting.pages) == {words: 1 for words in PAGE_WORDS}
    prefix = f"ocr-results/race.pdf/{blob.generation}"
    assert list_names(gcs_bucket, "ocr-results/") == [
        f"{prefix}/document.md", f"{prefix}/job.json", *(f"{prefix}/pages/{n:04d}.md" for n in (1, 2, 3)),
        f"{prefix}/result.json", f"{prefix}/status.json"]
    workers = {gcs_bucket.get_blob(f"{prefix}/pages/{n:04d}.md").metadata["worker"] for n in (1, 2, 3)}
    assert len(workers) == 2  # the work was shared, not duplicated
    assert read_json(gcs_bucket, f"{prefix}/result.json")["status"] == "done"


def test_resume_starts_at_the_first_missing_page(gcs_bucket, counting):
    """A previous attempt stored page 1 and died: the retry OCRs pages 2 and 3 only."""
    settings = Settings.from_env()
    blob = upload(gcs_bucket, "resume.pdf", make_pdf(3), "application/pdf")
    prefix = f"ocr-results/resume.pdf/{blob.generation}"
    page = gcs_bucket.blob(f"{prefix}/pages/0001.md")
    page.metadata = {"seconds": "1.5", "engine": "lite", "model": "rapidocr", "revision": "x"}
    page.upload_from_string("Alpha Bravo Charlie\n")

    outcome = process_object(bucket=gcs_bucket.name, name="resume.pdf", generation=blob.generation,
                             settings=settings, engine=counting)

    assert outcome.status == "done" and outcome.pages_ocrd == (2, 3)
    assert dict(counting.pages) == {PAGE_WORDS[1]: 1, PAGE_WORDS[2]: 1}
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["timings"]["pages"]["1"] == 1.5 and result["pages_ocrd_by_this_delivery"] == [2, 3]


def _claim(bucket, prefix, number, age_seconds):
    body = {"owner": "other-instance:1:dead", "claimed_at": time.time() - age_seconds}
    bucket.blob(f"{prefix}/claims/{number:04d}").upload_from_string(json.dumps(body), if_generation_match=0)


def test_live_claim_elsewhere_means_retry_later(gcs_bucket, function_client, counting, monkeypatch):
    """Page 2 is claimed by a live other delivery: this one does 1 and 3, waits, then raises (500) so
    the platform retries; once that claim is stale, the retry takes page 2 over and finishes."""
    monkeypatch.setenv("CLAIM_WAIT_SECONDS", "1")
    monkeypatch.setenv("CLAIM_TTL_SECONDS", "600")
    blob = upload(gcs_bucket, "held.pdf", make_pdf(3), "application/pdf")
    prefix = f"ocr-results/held.pdf/{blob.generation}"
    _claim(gcs_bucket, prefix, 2, age_seconds=0)

    assert post_event(function_client, finalized_event(blob)) == 500
    assert list_names(gcs_bucket, f"{prefix}/pages/") == [f"{prefix}/pages/0001.md", f"{prefix}/pages/0003.md"]
    assert not gcs_bucket.blob(f"{prefix}/result.json").exists()

    gcs_bucket.blob(f"{prefix}/claims/0002").delete()
    _claim(gcs_bucket, prefix, 2, age_seconds=601)  # its owner crashed long ago
    assert post_event(function_client, finalized_event(blob)) == 200

    assert dict(counting.pages) == {words: 1 for words in PAGE_WORDS}
    assert read_json(gcs_bucket, f"{prefix}/result.json")["status"] == "done"
    assert list_names(gcs_bucket, f"{prefix}/claims/") == []
