"""Every skip and every permanent failure has its documented outcome; transient faults raise."""

from __future__ import annotations

import logging

import pytest
from google.api_core.exceptions import RetryError, ServiceUnavailable

from common.config import Settings
from common.storage import GcsStore
from common.upload_job import process_object
from tests.fault_proxy import FaultProxy
from tests.hardening_helpers import client_for, fast_retry
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)
from tests.upload_helpers import (  # noqa: F401  (fixtures)
    counting, finalized_event, function_client, list_names, make_encrypted_pdf, make_pdf, make_png, post_event,
    read_json, upload, upload_env,
)


class WatchedStore(GcsStore):
    """Counts downloads, to prove a skip happens before any."""

    reads = 0

    def read(self, *args, **kwargs):
        WatchedStore.reads += 1
        return super().read(*args, **kwargs)


@pytest.fixture
def watched():
    WatchedStore.reads = 0
    return WatchedStore


@pytest.mark.parametrize("name, data, content_type, reason", [
    ("folder/", b"", "application/x-directory", "folder placeholder"),
    ("empty.pdf", b"", "application/pdf", "empty object"),
    ("notes.txt", b"hello", "text/plain", "not a PDF or image"),
    ("archive.zip", b"PK\x03\x04", "application/octet-stream", "not a PDF or image"),
    ("ocr-results/x.pdf/1/pages/0001.md", b"text", "text/markdown", "under the results prefix"),
    ("ocr-results/x.pdf/1/result.json", b"{}", "application/json", "under the results prefix"),
    ("ocr-results/fake.pdf", make_pdf(1), "application/pdf", "under the results prefix"),
])
def test_skipped_without_a_download(gcs_bucket, counting, watched, name, data, content_type, reason, caplog):
    caplog.set_level(logging.INFO, logger="gnosis.on_upload")
    blob = upload(gcs_bucket, name, data, content_type)
    outcome = process_object(bucket=gcs_bucket.name, name=name, generation=blob.generation, size=blob.size,
                             content_type=content_type, settings=Settings.from_env(),
                             source=watched(gcs_bucket.name))
    assert outcome.status == "skipped" and reason in outcome.reason
    assert watched.reads == 0 and counting.total == 0
    assert list_names(gcs_bucket) == [name]  # no outputs
    assert any(reason in record.getMessage() for record in caplog.records)


def test_extension_or_content_type_is_enough(gcs_bucket, counting):
    """A PDF uploaded as octet-stream, and a PNG without an extension, are both OCR'd."""
    settings = Settings.from_env()
    blob = upload(gcs_bucket, "scan", make_png(), "image/png")
    assert process_object(bucket=gcs_bucket.name, name="scan", generation=blob.generation,
                          content_type="image/png", settings=settings).status == "done"
    blob = upload(gcs_bucket, "doc.pdf", make_pdf(1), "application/octet-stream")
    assert process_object(bucket=gcs_bucket.name, name="doc.pdf", generation=blob.generation,
                          content_type="application/octet-stream", settings=settings).status == "done"


def test_other_event_types_are_ignored(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "gone.pdf", make_pdf(1), "application/pdf")
    event = finalized_event(blob, type_="google.cloud.storage.object.v1.deleted")
    assert post_event(function_client, event) == 200
    assert list_names(gcs_bucket) == ["gone.pdf"] and counting.total == 0


def test_old_event_is_dropped(gcs_bucket, function_client, counting, monkeypatch):
    monkeypatch.setenv("MAX_EVENT_AGE_SECONDS", "3600")
    blob = upload(gcs_bucket, "old.pdf", make_pdf(1), "application/pdf")
    assert post_event(function_client, finalized_event(blob, time_="2020-01-01T00:00:00Z")) == 200
    assert list_names(gcs_bucket) == ["old.pdf"] and counting.total == 0


def test_overwritten_object_is_skipped(gcs_bucket, function_client, counting):
    first = upload(gcs_bucket, "v.pdf", make_pdf(1), "application/pdf")
    event = finalized_event(first)
    upload(gcs_bucket, "v.pdf", make_png(), "image/png")  # a newer generation replaces it
    assert post_event(function_client, event) == 200
    assert list_names(gcs_bucket) == ["v.pdf"] and counting.total == 0


@pytest.mark.parametrize("name, data, env, code, words", [
    ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage", {}, "corrupt_document", "cannot be read"),
    ("locked.pdf", make_encrypted_pdf(), {}, "encrypted_document", "encrypted"),
    ("long.pdf", make_pdf(2), {"MAX_PAGES": "1"}, "too_many_pages", "the limit is 1 (MAX_PAGES)"),
    ("big.pdf", make_pdf(1), {"MAX_UPLOAD_BYTES": "1000"}, "too_large", "the limit is 1000 (MAX_UPLOAD_BYTES)"),
    ("fake.png", b"this is plain text, not an image", {}, "unsupported_type", "unsupported document type"),
])
def test_permanent_failure_is_recorded_and_acknowledged(
    gcs_bucket, function_client, counting, monkeypatch, name, data, env, code, words
):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    blob = upload(gcs_bucket, name, data, "application/octet-stream")

    assert post_event(function_client, finalized_event(blob)) == 200  # acknowledged: no retry

    prefix = f"ocr-results/{name}/{blob.generation}"
    assert list_names(gcs_bucket, "ocr-results/") == [f"{prefix}/result.json"]
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["status"] == "failed" and result["error"]["code"] == code
    assert words in result["error"]["message"]
    assert counting.total == 0
    # A redelivery finds the failed result and does nothing more.
    assert post_event(function_client, finalized_event(blob)) == 200


def test_storage_fault_raises_for_a_retry(gcs_emulator, gcs_bucket, counting):
    """Storage answers 503 to every request (the fault proxy in front of fake-gcs-server) until the
    client's retries run out: the delivery raises, so the platform retries, and writes nothing."""
    blob = upload(gcs_bucket, "flaky.pdf", make_pdf(1), "application/pdf")
    proxy = FaultProxy(gcs_emulator.url).start()
    proxy.before = lambda method, path, body: "503"
    try:
        client = client_for(proxy.url)
        with pytest.raises(RetryError) as raised:
            process_object(bucket=gcs_bucket.name, name="flaky.pdf", generation=blob.generation,
                           settings=Settings.from_env(), source=GcsStore(gcs_bucket.name, client, fast_retry(0.5)),
                           store=GcsStore(gcs_bucket.name, client, fast_retry(0.5)))
    finally:
        proxy.stop()
    assert isinstance(raised.value.cause, ServiceUnavailable) and proxy.injected["503"] >= 2
    assert list_names(gcs_bucket) == ["flaky.pdf"] and counting.total == 0


def test_model_unavailable_raises_and_releases_its_claims(gcs_bucket, function_client, tiny_model_hub, monkeypatch):
    """OCR_ENGINE=vlm while the model hub is down (the tiny-model hub's knob): the event fails with
    500, so the platform retries, and nothing is left behind to hold up the retry."""
    import common.engines

    hub = tiny_model_hub
    hub.server.knobs.down = True
    for name, value in hub.env("main", OCR_ENGINE="vlm").items():
        if name.startswith(("MODEL_", "HF_", "OCR_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(common.engines, "_engines", {})  # no engine built yet in this process
    blob = upload(gcs_bucket, "wait.pdf", make_pdf(2), "application/pdf")
    assert post_event(function_client, finalized_event(blob)) == 500  # the platform retries
    # No result and no claim left to hold up the retry: only the job record of the accepted job.
    assert list_names(gcs_bucket) == ["ocr-results/wait.pdf/%s/%s" % (blob.generation, name) for name in ("job.json", "status.json")] + ["wait.pdf"]
    assert hub.server.snapshot() and hub.server.file_gets() == {}  # it asked the hub, which was down
