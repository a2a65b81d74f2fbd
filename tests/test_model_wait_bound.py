"""Waiting for a model is bounded inside the process too, and HTTP callers hear back in time.

Another instance holds the download lock (a real lock object in fake-gcs-server) for longer than an
HTTP request may last: POST /warmup and POST /ocr answer 503 + Retry-After within the HTTP bound,
not at MODEL_WAIT_SECONDS (1800 s, past the platform's 300 s request timeout), while the load goes on
in the background and serves a later request.
"""

from __future__ import annotations

import threading
import time

import pytest

from common import engines, model_cache
from common.errors import ModelUnavailable
from common.gcs_lock import GcsLock
from tests.http_client import http_client
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)
from tests.upload_helpers import make_pdf


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    engines._engines.pop("vlm", None)
    yield
    model_cache.forget_loads()
    engines._engines.pop("vlm", None)


def _in_thread(call, timeout: float):
    """call() in a daemon thread: (finished?, its result). A call that hangs cannot hang the suite."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=call()), daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), box.get("result")


def test_http_callers_get_503_within_the_http_bound_while_another_instance_downloads(
        tiny_model_hub, gcs_emulator, gcs_bucket, monkeypatch):
    from functions import http

    hub = tiny_model_hub
    busy = GcsLock(gcs_bucket.name, model_cache.lock_object_name(hub.model_id), 600, client=gcs_emulator.client(),
                   holder="busy-instance")
    assert busy.try_acquire()
    monkeypatch.setattr(http, "REQUEST_MODEL_WAIT_SECONDS", 1.0, raising=False)
    client = http_client(OCR_ENGINE="vlm", MODEL_ID=hub.model_id, MODEL_REVISION="main", MODEL_CACHE_PATH=hub.cache_dir,
                         MODEL_CACHE_BUCKET=gcs_bucket.name, MAX_NEW_TOKENS="8")
    try:
        for call in (lambda: client.post("/warmup"),
                     lambda: client.post("/ocr", data=make_pdf(1), content_type="application/pdf")):
            started = time.monotonic()
            finished, response = _in_thread(call, timeout=20)
            assert finished, "the request waited past the HTTP bound (MODEL_WAIT_SECONDS is 1800 s)"
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.get_json()["error"]["code"] == "model_unavailable"
            assert int(response.headers["Retry-After"]) > 0
            assert time.monotonic() - started < 10
        assert hub.server.snapshot() == []  # waiting for the other instance fetches nothing
    finally:
        busy.release()  # the other instance is done (here: gave up); the background load takes over

    deadline = time.monotonic() + 60
    while True:  # what the client's retries do: the load went on meanwhile, and serves them
        response = client.post("/warmup")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["revision"] == hub.revision


def test_load_once_bounds_each_callers_wait_and_the_load_goes_on(tiny_model_hub):
    settings = tiny_model_hub.settings(model_revision="main")
    builds, release = [], threading.Event()

    def slow_build(folder):
        builds.append(folder)
        release.wait(30)
        return "model"

    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="still being loaded"):
        model_cache.load_once(settings, slow_build, wait_seconds=0.5)
    assert time.monotonic() - started < 5
    release.set()
    value, report = model_cache.load_once(settings, slow_build, wait_seconds=30)
    assert value == "model" and len(builds) == 1 and report.cache == "downloaded"
