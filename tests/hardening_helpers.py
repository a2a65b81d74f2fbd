"""Shared pieces of the hardening suites (storage faults, crashes, duplicates): documents with
chosen pages, an Eventarc-like redelivery loop, and the checks every suite makes on a result set."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import threading
import time
from collections import Counter

import pytest

from common.pipeline import to_markdown
from common.results import read_page
from common.storage import GcsStore
from scripts.local_loop import start_function, stop
from tests.fault_proxy import FaultProxy
from tests.gcs_emulator import free_port
from tests.upload_helpers import TEST_ENV, page_image, phrase_of, post_event

_RESULT_WRITE = re.compile(rb'"name"\s*:\s*"[^"]*/result\.json"')
PHRASES = ["Alpha Bravo Charlie", "Delta Echo Foxtrot", "Golf Hotel India", "Kilo Lima Mike"]


def make_pdf_of(words: list[str]) -> bytes:
    """A PDF whose page i carries words[i]: documents that differ, so a mix-up shows."""
    images = [page_image(w) for w in words]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def fast_retry(deadline: float = 60.0):
    """The production retry policy (same predicate) with a test-sized backoff. The deadline is
    generous by default: on a loaded machine a few slow retries must not exhaust it (a test that
    wants storage given up on quickly, the outage sweep, passes its own)."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.1, multiplier=2).with_timeout(deadline)


def transient_storage_errors() -> tuple[type[BaseException], ...]:
    """What a delivery may raise when storage fails, so that the platform retries: the storage
    client's retries ran out (RetryError), a 5xx/429 or a dropped connection that reached us, or
    our own StorageUnavailable. Anything else (a TypeError in the fault handling) is a bug."""
    import requests
    from google.api_core.exceptions import InternalServerError, RetryError, ServiceUnavailable, TooManyRequests
    from google.auth.exceptions import TransportError

    from common.errors import StorageUnavailable

    return (RetryError, ServiceUnavailable, TooManyRequests, InternalServerError, requests.ConnectionError,
            TransportError, StorageUnavailable)


def client_for(url: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


def deliver_until_acknowledged(target, event, attempts: int = 10, pause: float = 0.2) -> int:
    """Eventarc's part: POST the event until the function answers 2xx. Returns the deliveries made;
    a dropped request (killed instance) counts as a failed delivery, as it does on the platform."""
    import requests

    for attempt in range(1, attempts + 1):
        try:
            status = post_event(target, event)
        except requests.RequestException:
            status = None
        if status is not None and 200 <= status < 300:
            return attempt
        time.sleep(pause)
    raise AssertionError(f"the event was never acknowledged in {attempts} deliveries")


def direct_store(bucket) -> GcsStore:
    """The results as they are, read past any proxy."""
    return GcsStore(bucket.name, client=bucket.client)


def check_result_set(bucket, prefix: str, words: list[str]) -> dict:
    """A finished result set is whole and consistent: result.json done with page_count and the page
    list 1..N, every page present with its own text, document.md = the pages in order, no claim left."""
    store = direct_store(bucket)
    names = set(store.list(prefix + "/"))
    count = len(words)
    pages = [f"{prefix}/pages/{n:04d}.md" for n in range(1, count + 1)]
    assert names == {*pages, f"{prefix}/job.json", f"{prefix}/status.json", f"{prefix}/document.md", f"{prefix}/result.json"}, sorted(names)
    result = json.loads(store.read(f"{prefix}/result.json").data)
    assert result["status"] == "done", result
    assert result["page_count"] == count and result["failed_pages"] == []
    assert [p["number"] for p in result["pages"]] == list(range(1, count + 1))
    assert [p["object"] for p in result["pages"]] == [f"pages/{n:04d}.md" for n in range(1, count + 1)]
    texts = [read_page(store, prefix, n) for n in range(1, count + 1)]
    assert [phrase_of(t.text) for t in texts] == words
    assert store.read(f"{prefix}/document.md").data.decode() == to_markdown(texts)
    return result


def check_no_false_success(bucket, prefix: str, words: list[str]) -> str:
    """After a delivery that raised: nothing claims success that is not whole. Returns the state:
    'finished' (result.json landed, everything consistent), 'document' (document.md only, equal to
    the pages) or 'partial'."""
    store = direct_store(bucket)
    names = set(store.list(prefix + "/"))
    if f"{prefix}/result.json" in names:
        result = json.loads(store.read(f"{prefix}/result.json").data)
        assert result["status"] == "done", f"a transient outage recorded a permanent failure: {result}"
        # Leftover claims are allowed here: the outage may have hit their cleanup.
        names = {n for n in names if "/claims/" not in n}
        assert names == {*(f"{prefix}/pages/{n:04d}.md" for n in range(1, len(words) + 1)),
                         f"{prefix}/job.json", f"{prefix}/status.json", f"{prefix}/document.md", f"{prefix}/result.json"}
        texts = [read_page(store, prefix, n) for n in range(1, len(words) + 1)]
        assert store.read(f"{prefix}/document.md").data.decode() == to_markdown(texts)
        return "finished"
    if f"{prefix}/document.md" in names:
        texts = [read_page(store, prefix, n) for n in range(1, len(words) + 1)]
        assert store.read(f"{prefix}/document.md").data.decode() == to_markdown(texts)
        return "document"
    for name in names:
        if "/pages/" in name:
            number = int(name.rsplit("/", 1)[1].split(".")[0])
            assert phrase_of(read_page(store, prefix, number).text) == words[number - 1]
    return "partial"


class Writes:
    """Uploads that reached storage, by object name and status, from every instance's proxy."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_name: dict[str, Counter] = {}

    def record(self, method, path, body, status, who):
        if "/upload/" not in path:
            return
        match = re.search(rb'"name"\s*:\s*"([^"]+)"', body)
        if match:
            with self.lock:
                self.by_name.setdefault(match.group(1).decode(), Counter())[(who, status)] += 1

    def of(self, name: str) -> Counter:
        with self.lock:
            return Counter(self.by_name.get(name, {}))


class Instance:
    """A functions-framework process serving ocr_on_upload, its storage traffic through its own proxy."""

    def __init__(self, emulator, tmp_path, label, writes: Writes, env: dict[str, str] | None = None):
        self.label, self.writes, self.requests, self.killed_at = label, writes, 0, None
        self.trace: list[tuple[str, str | None]] = []  # (method, object name of an upload) per request
        self._count = threading.Lock()
        self.kill_before: int | None = None
        self.kill_after: int | None = None
        # kill_when(method, path, body, status) -> bool: kill once a request it picks has landed.
        self.kill_when = None
        # Make sure a kill falls mid-delivery: at its result.json write, "kill" kills it at once if
        # nothing did before; "hold" keeps that write waiting until someone kills it.
        self.stop_at_result: str | None = None
        self._killed = threading.Event()
        self.proxy = FaultProxy(emulator.url).start()
        self.proxy.before, self.proxy.after = self._before, self._after
        self.port, self.log_path = free_port(), tmp_path / f"{label}.log"
        self.url = f"http://127.0.0.1:{self.port}/"
        self._log = open(self.log_path, "wb")
        self.process = start_function(self.port, self.proxy.url, {**TEST_ENV, **(env or {})}, log=self._log)

    def _before(self, method, path, body):
        with self._count:
            self.requests += 1
            number = self.requests
            upload = re.search(rb'"name"\s*:\s*"([^"]+)"', body) if "/upload/" in path else None
            self.trace.append((method, upload.group(1).decode() if upload else None))
        if self.kill_before is not None and number == self.kill_before:
            self.kill(f"before request {number}")
            return "drop"
        if self.stop_at_result and self.killed_at is None and "/upload/" in path and _RESULT_WRITE.search(body):
            if self.stop_at_result == "hold":
                self._killed.wait(300)
            else:
                self.kill(f"before request {number} (its result.json write)")
            return "drop"
        return None

    def _after(self, method, path, body, status):
        self.writes.record(method, path, body, status, self.label)
        if self.kill_after is not None and self.requests == self.kill_after:
            self.kill(f"after request {self.requests} landed")
        elif self.kill_when is not None and self.kill_when(method, path, body, status):
            self.kill(f"after {method} {path} landed")

    def kill(self, where: str) -> None:
        if self.killed_at is None and self.process.poll() is None:
            self.killed_at = where
            os.killpg(self.process.pid, signal.SIGKILL)
            self._killed.set()

    def entries(self) -> list[dict]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def pages_done(self, name: str, generation: int | str | None = None) -> list[int]:
        """Pages this instance OCR'd and stored, from its 'page N done' log lines."""
        return [entry["page"] for entry in self.entries()
                if entry.get("object") == name and re.fullmatch(r"page \d+ done", entry.get("message", ""))
                and (generation is None or entry.get("generation") == str(generation))]

    def close(self) -> None:
        stop(self.process)
        self._log.close()
        self.proxy.stop()


@pytest.fixture
def instances(gcs_emulator, tmp_path):
    """Start functions-framework instances by label (``instances("a", CLAIM_TTL_SECONDS="2")``);
    ``instances.writes`` sees every upload that reaches storage from any of them."""
    started, writes = [], Writes()

    def start(label: str, **env: str) -> Instance:
        instance = Instance(gcs_emulator, tmp_path, label, writes, env)
        started.append(instance)
        return instance

    start.writes = writes
    yield start
    for instance in started:
        instance.close()
