"""A half-written or damaged cache is noticed, never loaded, and mended on the next load."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from pathlib import Path

import pytest

from common import model_cache
from common.errors import ModelCacheDamaged, ModelUnavailable
from tests.gcs_emulator import free_port
from tests.tiny_model import (LOADER_SCRIPT, REPO_ROOT, hub_server, python_command,  # noqa: F401 (fixtures)
                              run_loader, tiny_model_dir, tiny_model_hub)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    yield
    model_cache.forget_loads()


def _downloaded(hub):
    settings = hub.settings(model_revision="main")
    assert model_cache.ensure_snapshot(settings).cache == "downloaded"
    hub.server.reset()
    return settings, model_cache.repo_folder(settings.hub_cache_path, hub.model_id)


def _delete_blob(folder: Path, commit: str):
    os.unlink(os.path.realpath(folder / "snapshots" / commit / "model.safetensors"))


def _truncate_blob(folder: Path, commit: str):
    blob = Path(os.path.realpath(folder / "snapshots" / commit / "model.safetensors"))
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])


def _delete_snapshot_file(folder: Path, commit: str):
    (folder / "snapshots" / commit / "tokenizer.json").unlink()


@pytest.mark.parametrize("damage, refetched", [
    (_delete_blob, {"model.safetensors": 1}),
    (_truncate_blob, {"model.safetensors": 1}),
    (_delete_snapshot_file, {}),  # its blob is still there: relinked, not fetched again
])
def test_damaged_snapshot_is_found_incomplete_and_repaired(tiny_model_hub, damage, refetched):
    hub = tiny_model_hub
    settings, folder = _downloaded(hub)
    damage(folder, hub.revision)

    check = model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision)
    assert not check.complete and (check.missing or check.damaged), check

    report = model_cache.ensure_snapshot(settings)
    assert report.cache == ("downloaded" if refetched else "miss")
    assert hub.server.file_gets() == refetched
    assert model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision).complete
    files = hub.server.repos[hub.model_id].files
    for name, data in files.items():
        assert (folder / "snapshots" / hub.revision / name).read_bytes() == data

    hub.server.reset()
    assert model_cache.ensure_snapshot(settings).cache == "hit"
    assert hub.server.snapshot() == []


def test_missing_refs_file_is_resolved_again_without_refetching(tiny_model_hub):
    hub = tiny_model_hub
    settings, folder = _downloaded(hub)
    (folder / "refs" / "main").unlink()

    report = model_cache.ensure_snapshot(settings)

    assert report.cache == "miss" and report.revision == hub.revision
    assert hub.server.file_gets() == {}  # asked the hub what main is; fetched nothing
    assert (folder / "refs" / "main").read_text() == hub.revision
    hub.server.reset()
    assert model_cache.ensure_snapshot(settings).cache == "hit"
    assert hub.server.snapshot() == []


def test_download_killed_half_way_is_never_loaded_and_is_mended(tiny_model_hub):
    hub = tiny_model_hub
    hub.server.knobs.stall = {"model.safetensors"}
    env = hub.env("main")
    process = subprocess.Popen(python_command(LOADER_SCRIPT) + ["snapshot", "0.1"], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert hub.server.knobs.stalled.wait(60), "the download never reached the weights"
        os.kill(process.pid, signal.SIGKILL)  # a crash, a timeout, an instance shut down mid-file
        process.wait(10)
    finally:
        hub.server.knobs.release.set()
        if process.poll() is None:
            process.kill()

    settings = hub.settings(model_revision="main")
    check = model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision)
    assert not check.complete  # the refs file and several files exist, but there is no completion record

    hub.server.reset()
    report = run_loader(env)  # the next cold start repairs it
    assert report["cache"] == "downloaded", report
    assert hub.server.file_gets().get("model.safetensors") == 1
    assert model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision).complete


def test_snapshot_that_cannot_be_repaired_raises_and_is_not_marked_complete(tiny_model_hub):
    hub = tiny_model_hub
    files = hub.server.repos[hub.model_id].files
    # The hub's listing and its file disagree: whatever we download cannot be verified.
    hub.server.knobs.advertised_sizes = {"config.json": len(files["config.json"]) + 7}
    settings = hub.settings(model_revision="main")

    with pytest.raises(ModelCacheDamaged, match="config.json"):
        model_cache.ensure_snapshot(settings)

    assert not model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision).complete
    assert not (model_cache.repo_folder(settings.hub_cache_path, hub.model_id) / "gnosis-complete"
                / f"{hub.revision}.json").exists()


@pytest.mark.parametrize("outage", ["hub answers 503", "nothing listens"])
def test_unreachable_hub_is_model_unavailable(tiny_model_hub, monkeypatch, outage):
    hub = tiny_model_hub
    if outage == "hub answers 503":
        hub.server.knobs.down = True
    else:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ModelUnavailable) as caught:
        model_cache.ensure_snapshot(hub.settings(model_revision="main"))
    assert caught.value.status == 503 and not caught.value.permanent


def test_unknown_model_is_a_clear_error(tiny_model_hub):
    with pytest.raises(ModelUnavailable, match="not found"):
        model_cache.ensure_snapshot(tiny_model_hub.settings(model_id="tests/no-such-model", model_revision="main"))


@pytest.mark.parametrize("revision", ["no-such-branch", "0123456789abcdef0123456789abcdef01234567"],
                         ids=["branch", "commit"])
def test_unknown_revision_is_a_clear_configuration_error(tiny_model_hub, caplog, revision):
    hub = tiny_model_hub
    caplog.set_level(logging.ERROR, logger="common.model_cache")
    expected = f"revision '{revision}' of {hub.model_id} does not exist on {hub.endpoint}: check MODEL_REVISION"
    with pytest.raises(ModelUnavailable) as caught:
        model_cache.ensure_snapshot(hub.settings(model_revision=revision))
    assert caught.value.message == expected and caught.value.status == 503
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [expected]
    assert hub.server.file_gets() == {}  # nothing downloaded for a revision that does not exist
