"""Long documents through the queue, end to end with real peers: fake-gcs-server,
gcloud-tasks-emulator and functions-framework processes (the front door and the worker).

The emulator dispatches one task at a time, so here the chunks run one after another; tests of
concurrent chunks call the worker themselves (test_jobs_queue_faults.py).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import requests

from common.job_record import status
from common.storage import GcsStore
from tests.jobs_helpers import WORDS, CallbackReceiver, make_long_pdf, services, tasks_queue, wait_for  # noqa: F401
from tests.upload_helpers import finalized_event, list_names, post_event, read_json, upload

PAGES, PER_CHUNK = 6, 2


def _watch(store, prefix, seen):
    def ended():
        body = status(store, prefix)
        if body:
            seen.append((body["status"], body["pages_done"]))
        return body and body["status"] in ("done", "failed") and body
    return ended


def test_long_document_via_the_bucket(gcs_bucket, gcs_emulator, services, tasks_queue):
    queue = tasks_queue()
    worker = services("ocr_worker", "http", "worker", STORAGE_EMULATOR_HOST=gcs_emulator.url)
    env = {**queue.env(worker.url), "PAGES_PER_CHUNK": str(PER_CHUNK), "STORAGE_EMULATOR_HOST": gcs_emulator.url}
    front = services("ocr_on_upload", "cloudevent", "on-upload", **env)
    blob = upload(gcs_bucket, "long/report.pdf", make_long_pdf(PAGES), "application/pdf")
    prefix = f"ocr-results/{blob.name}/{blob.generation}"
    event = finalized_event(blob)

    assert post_event(front.url + "/", event) == 200  # acknowledged once the chunks are enqueued
    assert not gcs_bucket.blob(f"{prefix}/result.json").exists()
    assert post_event(front.url + "/", event) == 200  # a redelivery enqueues nothing more

    store, seen = GcsStore(gcs_bucket.name, client=gcs_bucket.client), []
    final = wait_for(_watch(store, prefix, seen), timeout=180, what="job end")
    assert final["status"] == "done" and final["pages_done"] == PAGES and final["pages_failed"] == 0
    assert any(s == "running" and 0 < done < PAGES for s, done in seen), seen  # progress midway
    # The status object beside the results follows (written right after result.json).
    wait_for(lambda: json.loads(gcs_bucket.blob(f"{prefix}/status.json").download_as_bytes())["status"] == "done",
             timeout=10, what="status.json done")
    created = re.findall(r"Created task (\S+)", queue.log())
    assert len(created) == PAGES // PER_CHUNK  # one task per chunk, none for the redelivery
    assert "Error submitting task" not in queue.log()  # every chunk answered 200 the first time
    assert Counter(worker.pages_done()) == {n: 1 for n in range(1, PAGES + 1)}  # each page OCR'd once
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["status"] == "done" and result["page_count"] == PAGES and result["failed_pages"] == []
    document = gcs_bucket.blob(f"{prefix}/document.md").download_as_text().lower()
    positions = [document.index(f"{n} {WORDS[(n - 1) % 4]}".lower()) for n in range(1, PAGES + 1)]
    assert positions == sorted(positions)
    assert not [n for n in list_names(gcs_bucket, prefix + "/") if "/claims/" in n]
    accepted = next(e for e in front.entries() if e["message"].startswith("accepted:"))
    assert accepted["chunks"] == PAGES // PER_CHUNK and not front.pages_done()  # the front door OCR'd nothing


def test_long_document_via_post_jobs_with_a_callback(gcs_bucket, gcs_emulator, services, tasks_queue):
    queue = tasks_queue()
    with CallbackReceiver() as receiver:
        common = {"STORAGE_EMULATOR_HOST": gcs_emulator.url, "RESULTS_BUCKET": gcs_bucket.name,
                  "CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "PAGES_PER_CHUNK": str(PER_CHUNK)}
        worker = services("ocr_worker", "http", "worker", **common)
        worker_env = {**common, **queue.env(worker.url)}
        worker.stop()  # again, now that its URL is known, with the queue's variables (callback task)
        worker = services("ocr_worker", "http", "worker2", port=worker.port, **worker_env)
        front = services("ocr_http", "http", "http", **worker_env)

        response = requests.post(f"{front.url}/jobs?format=markdown&callback_url={receiver.url}",
                                 data=make_long_pdf(PAGES), headers={"Content-Type": "application/pdf"}, timeout=60)
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["Location"] == job["status_url"]

        seen = []

        def ended():
            body = requests.get(front.url + job["status_url"], timeout=10).json()
            seen.append((body["status"], body["pages_done"]))
            return body["status"] in ("done", "failed") and body

        final = wait_for(ended, timeout=180, what="job end")
        assert final["status"] == "done" and final["pages_done"] == PAGES
        assert any(s == "running" and 0 < done < PAGES for s, done in seen), seen
        text = requests.get(front.url + job["result_url"], timeout=10).text.lower()
        assert [text.index(f"{n} {WORDS[(n - 1) % 4]}".lower()) for n in range(1, PAGES + 1)] == \
            sorted(text.index(f"{n} {WORDS[(n - 1) % 4]}".lower()) for n in range(1, PAGES + 1))
        wait_for(lambda: receiver.bodies, timeout=30, what="callback")
        time.sleep(1)  # a second callback, if there were one, would have come by now
        assert len(receiver.bodies) == 1 and receiver.bodies[0]["job_id"] == job["job_id"]
        assert receiver.bodies[0]["status"] == "done" and receiver.bodies[0]["pages_done"] == PAGES
    assert Counter(worker.pages_done()) == {n: 1 for n in range(1, PAGES + 1)}
    assert "Error submitting task" not in queue.log()
    assert not front.pages_done()
    assert requests.get(f"{front.url}/jobs/{'f' * 32}", timeout=10).status_code == 404
