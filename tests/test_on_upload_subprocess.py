"""End to end through real functions-framework processes fed real CloudEvents: both encodings,
two instances racing on one event, and an instance killed mid-document then the event redelivered."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections import Counter

import pytest
import requests

from scripts.local_loop import start_function, stop
from tests.gcs_emulator import free_port
from tests.hardening_helpers import instances  # noqa: F401  (fixture)
from tests.upload_helpers import TEST_ENV, finalized_event, list_names, make_pdf, post_event, read_json, upload


class Function:
    """One functions-framework process serving ocr_on_upload; its JSON logs go to a file."""

    def __init__(self, emulator, tmp_path, label: str, **env):
        self.port, self.log = free_port(), tmp_path / f"{label}.log"
        self.url = f"http://127.0.0.1:{self.port}/"
        self._handle = open(self.log, "wb")
        self.process = start_function(self.port, emulator.url, {**TEST_ENV, **env}, log=self._handle)

    def pages_done(self) -> list[int]:
        return [entry["page"] for entry in self.entries() if entry.get("message", "").startswith("page ")
                and entry["message"].endswith(" done")]

    def entries(self) -> list[dict]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        stop(self.process)
        self._handle.close()


@pytest.fixture
def functions(gcs_emulator, tmp_path):
    started = []

    def start(label, **env):
        function = Function(gcs_emulator, tmp_path, label, **env)
        started.append(function)
        return function

    yield start
    for function in started:
        function.close()


def test_structured_then_binary_redelivery(gcs_bucket, functions):
    function = functions("one")
    blob = upload(gcs_bucket, "e2e.pdf", make_pdf(2), "application/pdf")
    event = finalized_event(blob)

    assert post_event(function.url, event, mode="structured") == 200
    assert post_event(function.url, event, mode="binary") == 200

    prefix = f"ocr-results/e2e.pdf/{blob.generation}"
    assert read_json(gcs_bucket, f"{prefix}/result.json")["status"] == "done"
    assert sorted(function.pages_done()) == [1, 2]
    assert any(e["message"].startswith("nothing to do") for e in function.entries())
    # Cloud Logging's fields are on every line of the delivery.
    line = next(e for e in function.entries() if e["message"] == "page 1 done")
    assert {"severity", "bucket", "object", "generation", "page", "seconds"} <= set(line)


def test_two_instances_racing_on_one_event(gcs_bucket, functions):
    first, second = functions("first"), functions("second")
    blob = upload(gcs_bucket, "race.pdf", make_pdf(3), "application/pdf")
    event = finalized_event(blob)
    statuses = []
    threads = [threading.Thread(target=lambda f=f: statuses.append(post_event(f.url, event)))
               for f in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200, 200]
    assert Counter(first.pages_done() + second.pages_done()) == {1: 1, 2: 1, 3: 1}
    prefix = f"ocr-results/race.pdf/{blob.generation}"
    assert list_names(gcs_bucket, f"{prefix}/") == [
        f"{prefix}/document.md", f"{prefix}/job.json", *(f"{prefix}/pages/{n:04d}.md" for n in (1, 2, 3)),
        f"{prefix}/result.json", f"{prefix}/status.json"]


def test_killed_mid_document_then_redelivered(gcs_bucket, instances):
    doomed = instances("doomed")
    blob = upload(gcs_bucket, "crash.pdf", make_pdf(3), "application/pdf")
    event = finalized_event(blob)
    prefix = f"ocr-results/crash.pdf/{blob.generation}"
    # Killed the moment its page 1 lands in storage, before the reply reaches it: mid-document
    # by construction, however fast or slow the machine (pages are written in order, one by one).
    page_one = re.compile(rb'"name"\s*:\s*"' + re.escape(f"{prefix}/pages/0001.md".encode()) + rb'"')
    doomed.kill_when = lambda method, path, body, status: (
        status == 200 and "/upload/" in path and page_one.search(body) is not None)

    def deliver():
        try:
            post_event(doomed.url, event)
        except requests.RequestException:
            pass  # the instance dies under the request

    delivery = threading.Thread(target=deliver)
    delivery.start()
    delivery.join()
    assert doomed.killed_at is not None and doomed.process.wait() == -signal.SIGKILL
    assert list_names(gcs_bucket, f"{prefix}/pages/") == [f"{prefix}/pages/0001.md"]
    assert not gcs_bucket.blob(f"{prefix}/result.json").exists()

    # The platform redelivers to a fresh instance; the dead one's claim is stale after CLAIM_TTL_SECONDS.
    retry = instances("retry", CLAIM_TTL_SECONDS="2")
    time.sleep(2.5)  # a lower bound (the claim must be older than its TTL), not a race
    assert post_event(retry.url, event) == 200

    # Each page object names the worker that OCR'd it (pages are written once, if absent).
    writers = {n: gcs_bucket.get_blob(f"{prefix}/pages/{n:04d}.md").metadata["worker"] for n in (1, 2, 3)}
    retry_worker = next(e["worker"] for e in retry.entries() if "worker" in e)
    assert [n for n, worker in writers.items() if worker != retry_worker] == [1]
    assert retry.pages_done("crash.pdf") == [2, 3]  # page 1 not redone
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert result["status"] == "done" and result["page_count"] == 3 and result["failed_pages"] == []
    assert result["pages_ocrd_by_this_delivery"] == [2, 3]
    assert list_names(gcs_bucket, f"{prefix}/claims/") == []
