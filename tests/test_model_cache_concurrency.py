"""Several instances on an empty cache download the model once; one process loads it once."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from common import model_cache
from common.errors import ModelUnavailable
from common.gcs_lock import GcsLock
from tests.tiny_model import (LOADER_SCRIPT, REPO_ROOT, hub_server, parse_loader_output,  # noqa: F401
                              python_command, tiny_model_dir, tiny_model_hub)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    yield
    model_cache.forget_loads()


def _start_together(envs: list[dict], go_file) -> list[dict]:
    processes = [subprocess.Popen(python_command(LOADER_SCRIPT) + ["snapshot", "0.05", str(go_file)], env=env,
                                  cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for env in envs]
    try:
        for process in processes:  # every process imported what it needs before anyone starts
            assert process.stdout.readline().strip() == "READY", process.stderr.read()[-3000:]
        go_file.write_text("go")
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return [parse_loader_output(out) for out, _ in outputs]


@pytest.mark.parametrize("instances", ["one machine (filelock)", "four machines (GCS lock object)"])
def test_four_cold_starts_on_an_empty_cache_download_once(tiny_model_hub, request, tmp_path, instances):
    hub = tiny_model_hub
    hub.server.knobs.delay_seconds = 0.5  # the download takes a while: the others must wait for it
    if instances.startswith("one"):
        envs = [hub.env("main", TMPDIR=str(tmp_path))] * 4
    else:
        bucket = request.getfixturevalue("gcs_bucket")
        # Separate TMPDIRs: separate local disks, so the filelock cannot help; only the bucket lock can.
        envs = []
        for index in range(4):
            (tmp_path / f"machine{index}").mkdir()
            envs.append(hub.env("main", TMPDIR=str(tmp_path / f"machine{index}"), MODEL_CACHE_BUCKET=bucket.name,
                                GOOGLE_CLOUD_PROJECT="test"))

    reports = _start_together(envs, tmp_path / "go")

    assert not [r for r in reports if "error" in r], reports
    # Exactly one downloads. The others waited for it, or (started late on a slow machine) found
    # the snapshot complete already: which of the two depends on scheduling, not on the loader.
    caches = [r["cache"] for r in reports]
    assert caches.count("downloaded") == 1 and set(caches) <= {"downloaded", "waited", "hit"}, caches
    files = hub.server.repos[hub.model_id].files
    assert hub.server.file_gets() == {name: 1 for name in files}
    downloader = next(r["instance"] for r in reports if r["cache"] == "downloaded")
    by_instance = hub.server.by_instance()
    # huggingface_hub itself asks for its agent registry (telemetry, once a day per HF_HOME) when it
    # builds request headers, without our User-Agent mark; only the downloader builds any.
    anonymous = [r.path for r in by_instance.pop(None, [])]
    assert anonymous in ([], ["/api/agent-harnesses"]), anonymous
    assert set(by_instance) == {downloader}, f"the instances that waited made no requests: {by_instance}"
    assert {r["revision"] for r in reports} == {hub.revision}
    if not instances.startswith("one"):
        assert list(request.getfixturevalue("gcs_bucket").list_blobs()) == [], "the lock was released"


def test_stale_lock_of_a_crashed_instance_is_taken_over(tiny_model_hub, gcs_emulator, gcs_bucket):
    hub = tiny_model_hub
    settings = hub.settings(model_revision="main", model_cache_bucket=gcs_bucket.name, model_lock_ttl_seconds=1)
    crashed = GcsLock(gcs_bucket.name, model_cache.lock_object_name(hub.model_id), 1, client=gcs_emulator.client(),
                      holder="crashed-instance")
    assert crashed.try_acquire()

    report = model_cache.ensure_snapshot(settings, poll_seconds=0.1)

    assert report.cache == "downloaded"
    assert list(gcs_bucket.list_blobs()) == []


def test_waiting_longer_than_model_wait_seconds_is_model_unavailable(tiny_model_hub, gcs_emulator, gcs_bucket):
    hub = tiny_model_hub
    settings = hub.settings(model_revision="main", model_cache_bucket=gcs_bucket.name, model_wait_seconds=1)
    busy = GcsLock(gcs_bucket.name, model_cache.lock_object_name(hub.model_id), 600, client=gcs_emulator.client(),
                   holder="busy-instance")
    assert busy.try_acquire()

    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="busy-instance is still downloading"):
        model_cache.ensure_snapshot(settings, poll_seconds=0.1)
    assert time.monotonic() - started < 10
    assert hub.server.snapshot() == []  # waiting never fetches
    busy.release()


def test_concurrent_callers_in_one_process_share_one_load(tiny_model_hub):
    hub = tiny_model_hub
    hub.server.knobs.delay_seconds = 0.2
    settings = hub.settings(model_revision="main")
    builds = []

    def build(folder):
        builds.append(folder)
        time.sleep(0.3)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(model_cache.load_once(settings, build)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(builds) == 1 and len(results) == 8
    assert len({id(value) for value, _ in results}) == 1
    assert sorted(report.already_loaded for _, report in results) == [False] + [True] * 7
    assert hub.server.file_gets() == {name: 1 for name in hub.server.repos[hub.model_id].files}
    value, report = model_cache.load_once(settings, build)  # later: at once, same report
    assert value is results[0][0] and report.already_loaded and report.cache == "downloaded"


def test_a_failed_load_is_retried_by_the_next_caller(tiny_model_hub):
    hub = tiny_model_hub
    settings = hub.settings(model_revision="main")
    hub.server.knobs.down = True
    with pytest.raises(ModelUnavailable):
        model_cache.load_once(settings, lambda folder: "model")
    hub.server.knobs.down = False
    value, report = model_cache.load_once(settings, lambda folder: "model")
    assert value == "model" and report.cache == "downloaded" and not report.already_loaded


def test_a_download_longer_than_the_lock_ttl_keeps_its_lock_while_another_instance_waits(
        tiny_model_hub, gcs_bucket, tmp_path):
    """The heartbeat: the downloader's lock is refreshed, so a waiting instance never takes over a
    live download, however long it runs (here: held by the hub for more than two TTLs)."""
    hub, ttl = tiny_model_hub, 4
    hub.server.knobs.hold = {"model.safetensors"}  # the weights arrive when the test says so
    lock_name = model_cache.lock_object_name(hub.model_id)
    processes = []

    def start(label: str) -> subprocess.Popen:
        (tmp_path / label).mkdir()
        env = hub.env("main", TMPDIR=str(tmp_path / label), MODEL_CACHE_BUCKET=gcs_bucket.name,
                      GOOGLE_CLOUD_PROJECT="test", MODEL_LOCK_TTL_SECONDS=str(ttl),
                      HF_HUB_DOWNLOAD_TIMEOUT="120")  # a held file is slow, not dead
        process = subprocess.Popen(python_command(LOADER_SCRIPT) + ["snapshot", "0.05"], env=env, cwd=REPO_ROOT,
                                   stdout=subprocess.PIPE, stderr=open(tmp_path / f"{label}.err", "w"), text=True)
        processes.append(process)
        assert process.stdout.readline().strip() == "READY", (tmp_path / f"{label}.err").read_text()[-3000:]
        return process

    try:
        downloader = start("downloader")
        assert hub.server.knobs.held.wait(120), "the download never reached the weights"
        taken = gcs_bucket.get_blob(lock_name)
        holder = json.loads(taken.download_as_bytes())["holder"]
        waiter = start("waiter")
        time.sleep(2 * ttl + 1)  # the download outlives two TTLs while the other instance waits
        now = gcs_bucket.get_blob(lock_name)
        assert now is not None and now.generation != taken.generation, "the lock was never refreshed"
        assert json.loads(now.download_as_bytes())["holder"] == holder, "another instance took the lock over"
        assert waiter.poll() is None and downloader.poll() is None
        hub.server.knobs.release.set()
        reports = [parse_loader_output(process.communicate(timeout=120)[0]) for process in (downloader, waiter)]
    finally:
        hub.server.knobs.release.set()
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    assert [r.get("cache") for r in reports] == ["downloaded", "waited"], reports
    assert hub.server.file_gets() == {name: 1 for name in hub.server.repos[hub.model_id].files}
    assert list(gcs_bucket.list_blobs()) == [], "the lock was released"
