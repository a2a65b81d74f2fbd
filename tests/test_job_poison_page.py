"""A page whose workers keep dying (the claim was taken over from a dead holder TASKS_MAX_ATTEMPTS-1
times) is recorded as failed instead of being tried forever: the job ends."""

from __future__ import annotations

import json
import time

import pytest

from common.config import Settings
from common.upload_job import process_object
from tests.upload_helpers import PAGE_WORDS, counting, make_pdf, read_json, upload, upload_env  # noqa: F401


def _dead_claim(bucket, prefix, number, takeovers):
    body = {"owner": "crashed-instance:1:dead", "claimed_at": time.time() - 600, "takeovers": takeovers}
    bucket.blob(f"{prefix}/claims/{number:04d}").upload_from_string(json.dumps(body), if_generation_match=0)


@pytest.mark.parametrize("max_attempts, given_up", [("1", True), ("2", True), ("3", False)])
def test_page_given_up_after_its_workers_died(gcs_bucket, counting, monkeypatch, max_attempts, given_up):
    monkeypatch.setenv("TASKS_MAX_ATTEMPTS", max_attempts)
    monkeypatch.setenv("CLAIM_TTL_SECONDS", "60")
    blob = upload(gcs_bucket, "poison.pdf", make_pdf(3), "application/pdf")
    prefix = f"ocr-results/poison.pdf/{blob.generation}"
    _dead_claim(gcs_bucket, prefix, 2, takeovers=0)  # one worker died holding page 2

    outcome = process_object(bucket=gcs_bucket.name, name="poison.pdf", generation=blob.generation,
                             settings=Settings.from_env(), engine=counting)

    assert outcome.status == "done"
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    if given_up:
        assert result["failed_pages"] == [2] and result["pages"][1]["error"].startswith("worker_died:")
        assert dict(counting.pages) == {PAGE_WORDS[0]: 1, PAGE_WORDS[2]: 1}  # page 2 not tried again
    else:
        assert result["failed_pages"] == [] and dict(counting.pages) == {words: 1 for words in PAGE_WORDS}
