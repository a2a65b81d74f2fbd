"""POST /jobs, GET /jobs/<id>, GET /jobs/<id>/result through functions-framework's app in process,
chunks running in-process (no TASKS_QUEUE), results in a real fake-gcs-server bucket."""

from __future__ import annotations

from tests.http_client import http_client
from tests.jobs_helpers import WORDS, CallbackReceiver, make_long_pdf, wait_for
from tests.upload_helpers import TEST_ENV, counting, upload, upload_env  # noqa: F401  (fixtures)


def _client(bucket, **env):
    return http_client(**{**TEST_ENV, "RESULTS_BUCKET": bucket.name, "PAGES_PER_CHUNK": "2", **env})


def test_raw_body_job_end_to_end_with_progress(gcs_bucket, counting):
    counting.delay = 0.3
    client = _client(gcs_bucket)
    response = client.post("/jobs?format=markdown", data=make_long_pdf(5), content_type="application/pdf")
    assert response.status_code == 202, response.json
    job = response.json
    assert response.headers["Location"] == job["status_url"] == f"/jobs/{job['job_id']}"
    assert job["result_url"] == f"/jobs/{job['job_id']}/result"

    seen = []

    def finished():
        body = client.get(job["status_url"]).json
        seen.append((body["status"], body["pages_done"]))
        return body["status"] in ("done", "failed") and body

    final = wait_for(finished, what="job end")
    assert final["status"] == "done" and final["pages_total"] == 5 and final["pages_done"] == 5
    assert final["pages_failed"] == 0 and final["created"] <= final["updated"]
    assert any(status == "running" and 0 < done < 5 for status, done in seen), seen  # progress midway
    text = client.get(job["result_url"]).get_data(as_text=True).lower()  # the job's format: markdown
    positions = [text.index(f"{n} {WORDS[(n - 1) % 4]}".lower()) for n in range(1, 6)]
    assert positions == sorted(positions)
    as_json = client.get(job["result_url"] + "?format=json").json
    assert [p["number"] for p in as_json["pages"]] == [1, 2, 3, 4, 5] and as_json["failed_pages"] == []
    assert counting.total == 5


def test_multipart_and_gcs_uri_with_a_page_range(gcs_bucket, counting):
    client = _client(gcs_bucket, ALLOWED_BUCKETS=gcs_bucket.name)
    multipart = client.post("/jobs", data={"file": (__import__("io").BytesIO(make_long_pdf(3)), "d.pdf"),
                                           "pages": "2-3"}, content_type="multipart/form-data")
    assert multipart.status_code == 202, multipart.json
    blob = upload(gcs_bucket, "in/doc.pdf", make_long_pdf(3), "application/pdf")
    by_uri = client.post("/jobs", json={"gcs_uri": f"gs://{gcs_bucket.name}/{blob.name}", "pages": "1"})
    assert by_uri.status_code == 202, by_uri.json
    for job, pages in ((multipart.json, [2, 3]), (by_uri.json, [1])):
        wait_for(lambda: client.get(job["status_url"]).json["status"] == "done", what="job done")
        result = client.get(job["result_url"]).json
        assert [p["number"] for p in result["pages"]] == pages and result["page_count"] == 3


def test_result_before_done_is_409_and_unknown_ids_are_404(gcs_bucket, counting):
    counting.delay = 1.0
    client = _client(gcs_bucket)
    job = client.post("/jobs", data=make_long_pdf(2), content_type="application/pdf").json
    early = client.get(job["result_url"])
    assert early.status_code == 409 and early.json["error"]["code"] == "job_not_done"
    assert early.json["job"]["status"] in ("queued", "running")
    for unknown in ("0" * 32, "not-an-id", "..%2F..%2Fsecret"):
        for path in (f"/jobs/{unknown}", f"/jobs/{unknown}/result"):
            response = client.get(path)
            assert response.status_code == 404 and response.json["error"]["code"] in ("job_not_found", "not_found"), path
    wait_for(lambda: client.get(job["status_url"]).json["status"] == "done", what="job done")


def test_bad_documents_are_refused_at_once_and_leave_nothing(gcs_bucket, counting):
    client = _client(gcs_bucket)
    response = client.post("/jobs", data=b"%PDF-1.4 garbage", content_type="application/pdf")
    assert response.status_code == 422 and response.json["error"]["code"] == "corrupt_document"
    assert client.post("/jobs?pages=9", data=make_long_pdf(1), content_type="application/pdf").status_code == 400
    assert list(gcs_bucket.client.list_blobs(gcs_bucket.name)) == []


def test_callback_only_to_listed_hosts_and_once(gcs_bucket, counting):
    with CallbackReceiver() as receiver:
        refused = _client(gcs_bucket).post(f"/jobs?callback_url={receiver.url}", data=make_long_pdf(1),
                                           content_type="application/pdf")
        assert refused.status_code == 400 and "CALLBACK_ALLOWED_HOSTS is empty" in refused.json["error"]["message"]
        client = _client(gcs_bucket, CALLBACK_ALLOWED_HOSTS="hooks.example.com")
        unlisted = client.post(f"/jobs?callback_url={receiver.url}", data=make_long_pdf(1), content_type="application/pdf")
        assert unlisted.status_code == 400 and "not in CALLBACK_ALLOWED_HOSTS" in unlisted.json["error"]["message"]
        client = _client(gcs_bucket, CALLBACK_ALLOWED_HOSTS="127.0.0.1")
        job = client.post(f"/jobs?callback_url={receiver.url}", data=make_long_pdf(1), content_type="application/pdf").json
        wait_for(lambda: receiver.bodies, what="callback")
        assert receiver.bodies == [{"job_id": job["job_id"], **{k: v for k, v in client.get(job["status_url"]).json.items()
                                                                if k != "job_id"}}]
        assert receiver.bodies[0]["status"] == "done"
    assert counting.total == 1  # refused jobs OCR'd nothing


def test_jobs_need_a_results_bucket(gcs_bucket):
    response = _client(gcs_bucket, RESULTS_BUCKET="").post("/jobs", data=make_long_pdf(1), content_type="application/pdf")
    assert response.status_code == 503 and response.json["error"]["code"] == "not_configured"
