"""MAX_UPLOAD_BYTES holds on the bytes that reach memory, also for objects stored gzip-compressed.

An object uploaded with ``Content-Encoding: gzip`` (``gsutil cp -Z``) is small in storage and in its
metadata, and large once inflated: the limit must hold on the inflated bytes, and the read must stop
there instead of inflating everything first. Against the real fake-gcs-server and client.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest

from common.config import Settings
from common.errors import TooLarge, UnreadableDocument
from common.storage import GcsStore, LocalStore
from tests.http_client import http_client
from tests.upload_helpers import PAGE_WORDS, TEST_ENV, make_pdf

LIMIT = 1024 * 1024
# 64 MiB of one byte: about 64 KB once compressed, so its stored size is far under the limit.
BOMB = gzip.compress(b"%PDF-1.4\n" + b"\0" * (64 * LIMIT), compresslevel=9)


def _peak_bytes(call):
    """(result, peak bytes Python allocated during call())."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _put_gzip(bucket, name: str, payload: bytes, content_type: str = "application/pdf"):
    blob = bucket.blob(name)
    blob.content_encoding = "gzip"
    blob.upload_from_string(payload, content_type=content_type)
    return bucket.get_blob(name)


def test_gzip_object_over_the_limit_is_refused_without_inflating_it(gcs_emulator, gcs_bucket):
    stored = _put_gzip(gcs_bucket, "bomb.pdf", BOMB)
    assert stored.size < LIMIT  # what a metadata check sees
    store = GcsStore(gcs_bucket.name, client=gcs_emulator.client())

    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="MAX_UPLOAD_BYTES"):
            store.read("bomb.pdf", max_bytes=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The compressed bytes plus at most the limit of inflated ones, not the 64 MiB.
    assert peak < 4 * LIMIT, f"the read allocated {peak} bytes"


def test_gzip_object_within_the_limit_reads_back_inflated(gcs_emulator, gcs_bucket):
    payload = b"%PDF-1.4\n" + bytes(range(256)) * 1000
    # Two gzip members, as concatenated .gz files are: both are part of the object.
    _put_gzip(gcs_bucket, "doc.pdf", gzip.compress(payload[:100]) + gzip.compress(payload[100:]))
    store = GcsStore(gcs_bucket.name, client=gcs_emulator.client())
    assert store.read("doc.pdf", max_bytes=LIMIT).data == payload
    assert store.read("doc.pdf").data == payload  # no limit: internal reads


def test_object_marked_gzip_that_is_not_gzip_is_unreadable(gcs_emulator, gcs_bucket):
    _put_gzip(gcs_bucket, "liar.pdf", b"%PDF-1.4 not compressed at all")
    store = GcsStore(gcs_bucket.name, client=gcs_emulator.client())
    with pytest.raises(UnreadableDocument, match="gzip"):
        store.read("liar.pdf", max_bytes=LIMIT)


def test_post_ocr_gs_uri_gzip_bomb_is_413_and_a_gzip_pdf_is_read(gcs_bucket):
    _put_gzip(gcs_bucket, "bomb.pdf", BOMB)
    _put_gzip(gcs_bucket, "real.pdf", gzip.compress(make_pdf(1)))
    client = http_client(ALLOWED_BUCKETS=gcs_bucket.name, MAX_UPLOAD_BYTES=str(LIMIT), **TEST_ENV)

    response, peak = _peak_bytes(lambda: client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/bomb.pdf"}))
    assert peak < 4 * LIMIT, f"the request allocated {peak} bytes"
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "too_large"

    response = client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/real.pdf", "format": "text"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert PAGE_WORDS[0] in response.get_data(as_text=True)


def test_on_upload_gzip_bomb_fails_for_good_with_too_large(gcs_bucket):
    from common.upload_job import process_object

    stored = _put_gzip(gcs_bucket, "uploads/bomb.pdf", BOMB)
    settings = Settings.from_env({**TEST_ENV, "MAX_UPLOAD_BYTES": str(LIMIT)})
    outcome, peak = _peak_bytes(lambda: process_object(
        bucket=gcs_bucket.name, name=stored.name, generation=stored.generation, size=stored.size,
        content_type="application/pdf", settings=settings))
    assert peak < 4 * LIMIT, f"the delivery allocated {peak} bytes"
    assert outcome.status == "failed" and outcome.reason.startswith("too_large"), outcome
    result = json.loads(gcs_bucket.blob(f"{outcome.prefix}/result.json").download_as_bytes())
    assert result["status"] == "failed" and result["error"]["code"] == "too_large"


def test_local_store_reads_no_more_than_the_limit(tmp_path):
    (tmp_path / "big.pdf").write_bytes(b"x" * (LIMIT + 1))
    with pytest.raises(TooLarge):
        LocalStore(tmp_path).read("big.pdf", max_bytes=LIMIT)
    assert len(LocalStore(tmp_path).read("big.pdf", max_bytes=LIMIT + 1).data) == LIMIT + 1
