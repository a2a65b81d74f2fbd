"""An upload and its event produce pages/NNNN.md, document.md and result.json with the right text."""

from __future__ import annotations

import json

from tests.upload_helpers import (  # noqa: F401  (fixtures)
    PAGE_WORDS, counting, finalized_event, function_client, list_names, make_png, make_pdf, post_event,
    read_json, upload, upload_env,
)


def test_multi_page_pdf_gets_every_output(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "inbox/report 1.pdf", make_pdf(3), "application/pdf")

    assert post_event(function_client, finalized_event(blob)) == 200

    prefix = f"ocr-results/inbox/report 1.pdf/{blob.generation}"
    assert list_names(gcs_bucket, "ocr-results/") == [
        f"{prefix}/document.md", f"{prefix}/job.json", f"{prefix}/pages/0001.md", f"{prefix}/pages/0002.md",
        f"{prefix}/pages/0003.md", f"{prefix}/result.json", f"{prefix}/status.json",
    ]  # and no claims left behind
    for number, words in enumerate(PAGE_WORDS, 1):
        page = gcs_bucket.blob(f"{prefix}/pages/{number:04d}.md").download_as_text()
        assert words.lower() in page.lower()
        assert all(other.lower() not in page.lower() for other in PAGE_WORDS if other != words)
    document = gcs_bucket.blob(f"{prefix}/document.md").download_as_text().lower()
    positions = [document.index(words.lower()) for words in PAGE_WORDS]
    assert positions == sorted(positions)

    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["status"] == "done"
    assert result["page_count"] == 3 and result["failed_pages"] == []
    assert (result["engine"], result["model"]) == ("lite", "rapidocr") and result["revision"]
    assert result["generation"] == str(blob.generation) and result["object"] == "inbox/report 1.pdf"
    assert set(result["timings"]["pages"]) == {"1", "2", "3"}
    assert all(seconds > 0 for seconds in result["timings"]["pages"].values())
    assert result["timings"]["total_seconds"] > 0 and result["timings"]["ocr_seconds"] > 0
    assert counting.total == 3


def test_binary_cloudevent(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "scan.png", make_png(), "image/png")
    assert post_event(function_client, finalized_event(blob), mode="binary") == 200
    result = read_json(gcs_bucket, f"ocr-results/scan.png/{blob.generation}/result.json")
    assert result["status"] == "done" and result["page_count"] == 1
    assert "kilo lima mike" in gcs_bucket.blob(f"ocr-results/scan.png/{blob.generation}/document.md").download_as_text().lower()


def test_legacy_background_event(gcs_bucket, function_client, counting):
    """The pre-CloudEvent shape (context + data) that functions-framework converts."""
    blob = upload(gcs_bucket, "legacy.png", make_png(), "image/png")
    event = finalized_event(blob)
    body = {
        "context": {
            "eventId": "1234", "timestamp": event["time"], "eventType": "google.storage.object.finalize",
            "resource": {"service": "storage.googleapis.com",
                         "name": f"projects/_/buckets/{gcs_bucket.name}/objects/legacy.png",
                         "type": "storage#object"},
        },
        "data": event.data,
    }
    response = function_client.post("/", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert read_json(gcs_bucket, f"ocr-results/legacy.png/{blob.generation}/result.json")["status"] == "done"


def test_results_in_another_bucket(gcs_bucket, gcs_emulator, function_client, counting, monkeypatch):
    results = gcs_emulator.client().create_bucket(gcs_bucket.name + "-results")
    monkeypatch.setenv("RESULTS_BUCKET", results.name)
    monkeypatch.setenv("RESULTS_PREFIX", "out")
    blob = upload(gcs_bucket, "a.png", make_png(), "image/png")
    assert post_event(function_client, finalized_event(blob)) == 200
    assert list_names(gcs_bucket) == ["a.png"]
    prefix = f"out/a.png/{blob.generation}"
    assert list_names(results) == [f"{prefix}/{name}" for name in (
        "document.md", "job.json", "pages/0001.md", "result.json", "status.json")]
    result = read_json(results, f"{prefix}/result.json")
    assert (result["status"], result["page_count"], result["failed_pages"]) == ("done", 1, [])
    assert "kilo lima mike" in results.blob(f"{prefix}/document.md").download_as_text().lower()
