"""GET /jobs/<id>/pages/<n>.png through the HTTP function: a job's page as a PNG (rendered once,
then read from the job's folder), 404 JSON for what does not exist, the token like every job route."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests.http_client import http_client
from tests.jobs_helpers import wait_for
from tests.pages import pdf_bytes, text_page

PDF = pdf_bytes([text_page([f"Page {n} of three"], size=(400, 500), top=60, left=40) for n in (1, 2, 3)])
# Small OCR renders keep the jobs short; page images have their own size.
FAST = {"RENDER_LONG_EDGE": "500"}


TOKEN = {"X-Api-Key": "img-token"}


@pytest.fixture
def jobs(gcs_bucket):
    """Job ids submitted by a test; their in-process chunks end before the test does, pass or fail
    (status.json is the chunk's last write, after result.json)."""
    submitted: list[str] = []
    yield submitted

    def ended(job_id: str) -> bool:
        blob = gcs_bucket.get_blob(f"ocr-results/jobs/{job_id}/status.json")
        return blob is not None and json.loads(blob.download_as_bytes())["status"] in ("done", "failed")

    for job_id in submitted:
        wait_for(lambda: ended(job_id), what=f"job {job_id} to end")


@pytest.fixture
def client(gcs_bucket):
    return http_client(RESULTS_BUCKET=gcs_bucket.name, PAGES_PER_CHUNK="3", **FAST)


def submit(client, jobs, **headers) -> str:
    response = client.post("/jobs", data=PDF, content_type="application/pdf", headers=headers)
    assert response.status_code == 202, response.json
    jobs.append(response.json["job_id"])
    return response.json["job_id"]


def test_a_page_image_is_rendered_once_then_served_from_the_jobs_folder(client, jobs, gcs_bucket):
    job_id = submit(client, jobs)
    response = client.get(f"/jobs/{job_id}/pages/3.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    width, height = Image.open(io.BytesIO(response.data)).size
    assert height == 1000 and 790 < width < 810  # long edge 1000 px
    cached = gcs_bucket.get_blob(f"ocr-results/jobs/{job_id}/images/0003.png")
    assert cached is not None and cached.download_as_bytes() == response.data

    # The cache answers: with the job's document gone, the page is still served.
    gcs_bucket.blob(f"ocr-results/jobs/{job_id}/source").delete()
    again = client.get(f"/jobs/{job_id}/pages/3.png")
    assert again.status_code == 200 and again.data == response.data


def test_what_does_not_exist_is_404_json(client, jobs):
    job_id = submit(client, jobs)
    missing_page = client.get(f"/jobs/{job_id}/pages/4.png")
    assert missing_page.status_code == 404 and missing_page.json["error"]["code"] == "page_not_found"
    assert "3 page" in missing_page.json["error"]["message"]
    assert client.get(f"/jobs/{job_id}/pages/0.png").status_code == 404
    unknown = client.get(f"/jobs/{'0' * 32}/pages/1.png")
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "job_not_found"
    assert client.get("/jobs/not-a-job-id/pages/1.png").json["error"]["code"] == "job_not_found"
    assert client.get("/jobs/..%2F..%2Fsecret/pages/1.png").status_code == 404
    assert client.get(f"/jobs/{job_id}/pages/one.png").json["error"]["code"] == "not_found"
    assert client.post(f"/jobs/{job_id}/pages/1.png").status_code == 405


def test_page_images_need_the_token_when_one_is_set(gcs_bucket, jobs):
    client = http_client(RESULTS_BUCKET=gcs_bucket.name, API_TOKEN="img-token", **FAST)
    job_id = submit(client, jobs, **TOKEN)
    refused = client.get(f"/jobs/{job_id}/pages/1.png")
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert client.get(f"/jobs/{job_id}/pages/1.png", headers=TOKEN).status_code == 200
