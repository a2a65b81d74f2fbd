"""Downloading under the cross-instance lock: stop when it is lost, release it reliably.

Against the real fake-gcs-server (through tests/fault_proxy.py where a reply must be held back or
storage must vanish) and the tiny-model hub.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from common import model_cache
from common.errors import ModelUnavailable
from common.gcs_lock import GcsLock, Lease
from tests.fault_proxy import FaultProxy
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    yield
    model_cache.forget_loads()


@pytest.fixture
def proxy(gcs_emulator):
    proxy = FaultProxy(gcs_emulator.url).start()
    yield proxy
    proxy.stop()


def _client(url: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


def test_a_holder_that_loses_the_lock_stops_downloading(tiny_model_hub, gcs_bucket):
    hub = tiny_model_hub
    settings = hub.settings(model_revision="main", model_cache_bucket=gcs_bucket.name, model_lock_ttl_seconds=3)
    hub.server.knobs.stall = {"model.safetensors"}  # the weights arrive only when the test says so
    outcome: dict = {}

    def cold_start():
        try:
            outcome["report"] = model_cache.ensure_snapshot(settings, poll_seconds=0.1)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    downloader = threading.Thread(target=cold_start)
    downloader.start()
    try:
        assert hub.server.knobs.stalled.wait(60), "the download never reached the weights"
        # Another instance takes the lock over (as it would once the lock looked expired to it).
        lock = gcs_bucket.get_blob(model_cache.lock_object_name(hub.model_id))
        assert json.loads(lock.download_as_bytes())["holder"] == model_cache.INSTANCE_ID
        lock.upload_from_string(json.dumps({"holder": "instance-b", "ttl_seconds": 600}),
                                content_type="application/json", if_generation_match=lock.generation)
        time.sleep(2.5)  # two of the holder's refreshes (every TTL/3 = 1 s)
    finally:
        hub.server.knobs.stall = set()
        hub.server.knobs.release.set()  # the rest of the weights arrive now
        downloader.join(60)

    assert isinstance(outcome.get("error"), ModelUnavailable), outcome
    assert "lost the download lock" in outcome["error"].message
    assert not model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision).complete
    folder = model_cache.repo_folder(settings.hub_cache_path, hub.model_id)
    assert not (folder / "snapshots" / hub.revision / "model.safetensors").exists(), "it stopped before the weights"
    # And it left the new holder's lock alone.
    assert json.loads(gcs_bucket.blob(model_cache.lock_object_name(hub.model_id)).download_as_bytes())["holder"] == "instance-b"


def test_release_waits_for_a_refresh_in_flight_and_deletes_the_lock(gcs_bucket, proxy):
    lock = GcsLock(gcs_bucket.name, "locks/model.lock", 60, client=_client(proxy.url), holder="me")
    assert lock.try_acquire()
    reply_held, let_go = threading.Event(), threading.Event()

    def hold_the_refresh_reply(method, path, body, status):
        # The refresh's write has landed upstream (a new generation); its reply is held back.
        if method == "POST" and "/upload/" in path and not reply_held.is_set():
            reply_held.set()
            let_go.wait(10)

    proxy.after = hold_the_refresh_reply
    refresher = threading.Thread(target=lock.refresh)
    refresher.start()
    assert reply_held.wait(10)
    releaser = threading.Thread(target=lock.release)
    releaser.start()
    time.sleep(0.5)  # a release that does not wait sends its delete now, for the old generation
    let_go.set()
    refresher.join(10)
    releaser.join(10)

    assert gcs_bucket.get_blob("locks/model.lock") is None, "release left the lock held for a whole TTL"
    assert not lock.held


def test_a_lease_that_cannot_be_refreshed_runs_out_by_its_own_clock(gcs_bucket, proxy):
    lock = GcsLock(gcs_bucket.name, "locks/model.lock", 2, client=_client(proxy.url), holder="me")
    asked = time.monotonic()
    assert lock.try_acquire()
    started = time.monotonic()
    with Lease(lock, acquired_at=asked) as lease:
        proxy.down = True  # storage unreachable from this instance: no refresh can land
        assert not lease.lost
        while not lease.lost and time.monotonic() - started < 10:
            time.sleep(0.05)
        # Before the TTL (2 s) is up by the storage's clock, the holder has given up by its own.
        assert lease.lost and time.monotonic() - asked < 2.0
        assert "could not be refreshed" in lease.why_lost
        exited = time.monotonic()
    assert time.monotonic() - exited < 5, "releasing did not wait out the storage library's long retries"
