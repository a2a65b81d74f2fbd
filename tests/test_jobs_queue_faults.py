"""Chunks delivered twice, racing, killed, and out of retries, with real peers: fake-gcs-server,
gcloud-tasks-emulator and functions-framework processes. Where two chunks must run at once the
test plays the dispatcher itself (the emulator dispatches one task at a time)."""

from __future__ import annotations

import re
import threading
from collections import Counter

import requests

from tests.gcs_emulator import free_port
from tests.jobs_helpers import CallbackReceiver, NotFoundServer, make_long_pdf, services, tasks_queue, wait_for  # noqa: F401
from tests.upload_helpers import finalized_event, post_event, read_json, upload

DEAD_URL = "http://127.0.0.1:9"  # nothing listens: the queue's own deliveries fail and are dropped


def _post_chunks(deliveries):
    """POST (worker, payload) pairs at the same moment; their JSON replies, in order."""
    replies = [None] * len(deliveries)
    barrier = threading.Barrier(len(deliveries))

    def post(i, worker, payload):
        barrier.wait()
        replies[i] = requests.post(worker.url + "/tasks/chunk", json=payload, timeout=120)

    threads = [threading.Thread(target=post, args=(i, *d)) for i, d in enumerate(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    return [r.json() for r in replies]


def test_duplicate_and_racing_chunks_write_each_page_once_and_complete_once(gcs_bucket, gcs_emulator, services,
                                                                            tasks_queue):
    queue = tasks_queue(max_retries=0)
    with CallbackReceiver() as receiver:
        port_a = free_port()
        env = {"STORAGE_EMULATOR_HOST": gcs_emulator.url, "RESULTS_BUCKET": gcs_bucket.name, "PAGES_PER_CHUNK": "2",
               "CALLBACK_ALLOWED_HOSTS": "127.0.0.1", **queue.env(f"http://127.0.0.1:{port_a}")}
        a = services("ocr_worker", "http", "worker-a", port=port_a, **env)
        b = services("ocr_worker", "http", "worker-b", **env)
        front = services("ocr_http", "http", "http", **{**env, "TASKS_WORKER_URL": DEAD_URL})
        job = requests.post(f"{front.url}/jobs?callback_url={receiver.url}", data=make_long_pdf(6),
                            headers={"Content-Type": "application/pdf"}, timeout=60).json()
        payload = {"bucket": gcs_bucket.name, "prefix": f"ocr-results/jobs/{job['job_id']}"}

        # Chunk 0 delivered twice at once, to two instances, then once more later.
        _post_chunks([(a, {**payload, "chunk": 0}), (b, {**payload, "chunk": 0})])
        again = _post_chunks([(b, {**payload, "chunk": 0})])
        assert again[0]["pages_ocrd"] == [] and again[0]["status"] == "waiting"
        # The last two chunks at once: one of them completes the job.
        last = _post_chunks([(a, {**payload, "chunk": 1}), (b, {**payload, "chunk": 2})])

        assert sorted(reply["status"] for reply in last)[0] == "completed"
        assert [reply["status"] for reply in last].count("completed") == 1
        assert Counter(a.pages_done() + b.pages_done()) == {n: 1 for n in range(1, 7)}
        result = read_json(gcs_bucket, f"{payload['prefix']}/result.json")
        assert result["status"] == "done" and result["pages_ocrd"] == 6
        wait_for(lambda: receiver.bodies, timeout=30, what="callback")
        wait_for(lambda: "Giving up" in queue.log() or len(re.findall(r"tasks/callback", queue.log())) >= 1,
                 timeout=10, what="callback task dispatched")
        assert len(receiver.bodies) == 1 and receiver.bodies[0]["status"] == "done"
        assert len(re.findall(r"Requesting POST \S+/tasks/callback", queue.log())) == 1  # one callback task
    # A late duplicate of a chunk after the end does nothing.
    late = _post_chunks([(a, {**payload, "chunk": 1})])
    assert late[0]["status"] == "completed_already" and late[0]["pages_ocrd"] == []


def test_chunk_killed_midway_is_retried_and_resumes(gcs_bucket, gcs_emulator, services, tasks_queue):
    queue = tasks_queue()
    port = free_port()
    env = {"STORAGE_EMULATOR_HOST": gcs_emulator.url, "PAGES_PER_CHUNK": "4", "CLAIM_TTL_SECONDS": "2",
           **queue.env(f"http://127.0.0.1:{port}")}
    doomed = services("ocr_worker", "http", "doomed", port=port, **env)
    front = services("ocr_on_upload", "cloudevent", "on-upload", **env)
    blob = upload(gcs_bucket, "killed.pdf", make_long_pdf(4), "application/pdf")
    prefix = f"ocr-results/{blob.name}/{blob.generation}"
    assert post_event(front.url + "/", finalized_event(blob)) == 200

    wait_for(lambda: gcs_bucket.blob(f"{prefix}/pages/0001.md").exists(), timeout=120, what="page 1")
    doomed.kill()
    assert not gcs_bucket.blob(f"{prefix}/result.json").exists()
    # The queue keeps retrying the chunk; a fresh instance comes up at the same address.
    survivor = services("ocr_worker", "http", "survivor", port=port, **env)
    wait_for(lambda: gcs_bucket.blob(f"{prefix}/result.json").exists(), timeout=120, what="result.json")

    writers = {n: gcs_bucket.get_blob(f"{prefix}/pages/{n:04d}.md").metadata["worker"] for n in range(1, 5)}
    by_doomed = sorted(doomed.pages_done())
    assert 1 in by_doomed and len(by_doomed) < 4  # it died mid-chunk
    assert sorted(survivor.pages_done()) == sorted(set(range(1, 5)) - set(by_doomed))  # resumed, none redone
    assert len({writers[n] for n in by_doomed}) == 1 and writers[by_doomed[0]] not in {writers[n] for n in survivor.pages_done()}
    assert read_json(gcs_bucket, f"{prefix}/result.json")["status"] == "done"
    assert "Moving failed task" in queue.log()  # the queue's retry did it, not a new event


def test_chunk_out_of_retries_ends_the_job_with_the_reason(gcs_bucket, gcs_emulator, services, tasks_queue, tmp_path):
    queue = tasks_queue(max_retries=1)  # two attempts, as max_attempts=2
    with NotFoundServer() as hub:  # the model cannot be fetched: every attempt fails (503)
        port = free_port()
        env = {"STORAGE_EMULATOR_HOST": gcs_emulator.url, "PAGES_PER_CHUNK": "2", **queue.env(f"http://127.0.0.1:{port}")}
        broken = {"OCR_ENGINE": "vlm", "HF_ENDPOINT": hub.url, "MODEL_CACHE_PATH": str(tmp_path / "cache"),
                  "MODEL_ID": "nobody/nothing", "MODEL_REVISION": "0" * 40}
        worker = services("ocr_worker", "http", "worker", port=port, **env, **broken)
        front = services("ocr_on_upload", "cloudevent", "on-upload", **env)
        blob = upload(gcs_bucket, "never.pdf", make_long_pdf(3), "application/pdf")
        prefix = f"ocr-results/{blob.name}/{blob.generation}"
        assert post_event(front.url + "/", finalized_event(blob)) == 200

        wait_for(lambda: gcs_bucket.blob(f"{prefix}/result.json").exists(), timeout=120, what="result.json")

    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["status"] == "failed" and result["error"]["code"] == "chunks_failed"
    assert "model_unavailable" in result["error"]["message"]
    for n in (1, 2, 3):
        page = gcs_bucket.get_blob(f"{prefix}/pages/{n:04d}.md")
        assert page.metadata["error"].startswith("model_unavailable:") and page.metadata["gave_up"] == "1"
    attempts = [e for e in worker.entries() if e.get("message", "").startswith("task failed, to be retried")]
    assert len(attempts) == 2  # each chunk's first attempt; the second (last) one gave up
    assert queue.log().count("Giving up") == 0  # the last attempts answered 200: the queue had nothing to give up
