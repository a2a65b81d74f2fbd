"""POST /ocr and friends: every refusal has its status and a JSON body {"error": {"code", "message"}}."""

from __future__ import annotations

import pytest

from tests.http_client import http_client
from tests.pages import pdf_bytes, text_page

PDF = pdf_bytes([text_page(["Short page"], size=(600, 300), top=40, left=40)])


@pytest.fixture(scope="module")
def client():
    return http_client(MAX_UPLOAD_BYTES="200000")


def error_of(response, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error["message"]


@pytest.mark.parametrize(
    "kwargs,status,code",
    [
        (dict(data=b"{not json", content_type="application/json"), 400, "bad_request"),
        (dict(json={"no_uri": 1}), 400, "bad_request"),
        (dict(json={"gcs_uri": "http://example.com/x.pdf"}), 400, "bad_request"),
        (dict(data={"other": "x"}, content_type="multipart/form-data"), 400, "bad_request"),
        (dict(data=b"", content_type="application/pdf"), 400, "bad_request"),
        (dict(data=b"hello", content_type="text/plain"), 415, "unsupported_type"),
        (dict(data=b"hello there", content_type="application/pdf"), 415, "unsupported_type"),
        (dict(data=b"%PDF-1.5\n" + b"\x00" * 500, content_type="application/pdf"), 422, "corrupt_document"),
        (dict(data=b"x" * 300_000, content_type="application/pdf"), 413, "too_large"),
    ],
    ids=["malformed-json", "json-without-uri", "not-a-gs-uri", "multipart-without-file", "empty-body",
         "text-plain", "wrong-content", "corrupt-pdf", "too-large"],
)
def test_bad_requests(client, kwargs, status, code):
    error_of(client.post("/ocr", **kwargs), status, code)


def test_bad_page_range_and_format(client):
    assert "past the last page (1)" in error_of(client.post("/ocr?pages=2-3", data=PDF, content_type="application/pdf"), 400, "bad_page_range")
    error_of(client.post("/ocr?pages=x", data=PDF, content_type="application/pdf"), 400, "bad_page_range")
    error_of(client.post("/ocr?format=docx", data=PDF, content_type="application/pdf"), 400, "bad_request")


def test_methods_and_routes(client):
    response = client.get("/ocr")
    error_of(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    error_of(client.delete("/warmup"), 405, "method_not_allowed")
    error_of(client.get("/nowhere"), 404, "not_found")


def test_gs_uri_outside_the_allow_list_is_refused_without_reading(gcs_bucket):
    gcs_bucket.blob("secret.pdf").upload_from_string(PDF)
    client = http_client(ALLOWED_BUCKETS="some-other-bucket")
    error_of(client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/secret.pdf"}), 403, "bucket_not_allowed")
    # A bucket that does not even exist gets the same 403, not a 404: nothing was looked up.
    error_of(client.post("/ocr", json={"gcs_uri": "gs://no-such-bucket-anywhere/x.pdf"}), 403, "bucket_not_allowed")


def test_unknown_object_in_an_allowed_bucket_is_404_and_a_big_one_413(gcs_bucket):
    client = http_client(ALLOWED_BUCKETS=gcs_bucket.name, MAX_UPLOAD_BYTES="1000")
    error_of(client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/missing.pdf"}), 404, "not_found")
    gcs_bucket.blob("big.pdf").upload_from_string(PDF)
    error_of(client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/big.pdf"}), 413, "too_large")


def test_api_token_when_configured():
    client = http_client(API_TOKEN="s3cret")
    error_of(client.post("/ocr", data=PDF, content_type="application/pdf"), 401, "unauthorized")
    error_of(client.post("/ocr", data=PDF, content_type="application/pdf", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert client.post("/warmup", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/warmup", headers={"X-Api-Key": "s3cret"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # health checks carry no token


def test_warmup_takes_the_token_too_by_get_or_post():
    client = http_client(API_TOKEN="s3cret")
    for method in (client.get, client.post):
        error_of(method("/warmup"), 401, "unauthorized")
        error_of(method("/warmup", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
        error_of(method("/warmup", headers={"X-Api-Key": "s3cret-not"}), 401, "unauthorized")
        response = method("/warmup", headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 200 and response.get_json()["engine"] == "lite"
    open_client = http_client()
    assert open_client.get("/warmup").status_code == 200  # no token configured: open
    error_of(open_client.put("/warmup"), 405, "method_not_allowed")


def test_an_object_the_service_account_may_not_read_is_403(gcs_emulator, gcs_bucket, monkeypatch):
    """Storage itself refuses (an IAM 403 from the fault proxy in front of fake-gcs-server), for one
    object of an allowed bucket; its neighbour reads normally."""
    from tests.fault_proxy import FaultProxy

    gcs_bucket.blob("secret.pdf").upload_from_string(PDF)
    gcs_bucket.blob("open.pdf").upload_from_string(PDF)
    proxy = FaultProxy(gcs_emulator.url).start()
    proxy.before = lambda method, path, body: "403" if "secret.pdf" in path else None
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    try:
        client = http_client(ALLOWED_BUCKETS=gcs_bucket.name)
        refused = client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/secret.pdf"})
        readable = client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/open.pdf"})
    finally:
        proxy.stop()
    message = error_of(refused, 403, "bucket_not_allowed")
    assert f"may not read gs://{gcs_bucket.name}/secret.pdf" in message
    assert proxy.injected["403"] >= 1
    assert readable.status_code == 200 and "Short page" in readable.get_json()["text"]


def test_storage_that_does_not_answer_is_503_with_retry_after(gcs_emulator, gcs_bucket, monkeypatch):
    from tests.fault_proxy import FaultProxy

    gcs_bucket.blob("doc.pdf").upload_from_string(PDF)
    proxy = FaultProxy(gcs_emulator.url).start()
    proxy.down = True  # every request dropped
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    try:
        client = http_client(ALLOWED_BUCKETS=gcs_bucket.name)
        response = client.post("/ocr", json={"gcs_uri": f"gs://{gcs_bucket.name}/doc.pdf"})
    finally:
        proxy.stop()
    error_of(response, 503, "storage_unavailable")
    assert int(response.headers["Retry-After"]) > 0
