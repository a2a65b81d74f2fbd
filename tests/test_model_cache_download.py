"""First load downloads; later cold starts load from the cache with zero network requests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from common import model_cache
from tests.tiny_model import hub_server, run_loader, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    yield
    model_cache.forget_loads()


def test_first_load_downloads_each_file_once_and_records_completion(tiny_model_hub):
    hub = tiny_model_hub
    report = model_cache.ensure_snapshot(hub.settings(model_revision="main"))

    files = hub.server.repos[hub.model_id].files
    assert report.cache == "downloaded"
    assert report.revision == hub.revision and report.requested_revision == "main"
    assert report.bytes_fetched == sum(len(data) for data in files.values()) == hub.server.bytes_served()
    assert hub.server.file_gets() == {name: 1 for name in files}
    check = model_cache.check_snapshot(hub.settings().hub_cache_path, hub.model_id, hub.revision)
    assert check.complete, check.reason
    record = json.loads((model_cache.repo_folder(hub.settings().hub_cache_path, hub.model_id)
                         / "gnosis-complete" / f"{hub.revision}.json").read_text())
    assert record["files"] == {name: len(data) for name, data in files.items()}
    assert (Path(report.path) / "config.json").read_bytes() == files["config.json"]


# "engine": the full VlmEngine.load() in a fresh process (transformers from_pretrained of model,
# tokenizer and image processor); "snapshot": the loader alone (fast), here for a pinned commit.
@pytest.mark.parametrize("revision, mode", [("main", "engine"), ("commit", "snapshot")])
def test_second_process_loads_from_cache_with_zero_requests(tiny_model_hub, revision, mode):
    hub = tiny_model_hub
    revision = hub.revision if revision == "commit" else revision
    first = run_loader(hub.env(revision), mode="snapshot")
    assert first["cache"] == "downloaded"
    hub.server.reset()

    second = run_loader(hub.env(revision), mode=mode)

    assert second["cache"] == "hit", second
    assert second["revision"] == hub.revision
    assert hub.server.snapshot() == [], "a warm-cache cold start must not touch the hub"
    assert second["offline_env"] == {name: None for name in OFFLINE_VARIABLES}


def test_loader_never_sets_offline_variables(tiny_model_hub):
    hub = tiny_model_hub
    before = {name: os.environ.get(name) for name in OFFLINE_VARIABLES}
    model_cache.ensure_snapshot(hub.settings())
    model_cache.ensure_snapshot(hub.settings())  # the hit path
    assert {name: os.environ.get(name) for name in OFFLINE_VARIABLES} == before == {n: None for n in OFFLINE_VARIABLES}


def test_cache_works_where_symlinks_cannot_be_made(tiny_model_hub):
    hub = tiny_model_hub
    first = run_loader(hub.env("main", TEST_NO_SYMLINKS="1"))
    assert first["cache"] == "downloaded", first
    snapshot = Path(first["path"])
    entries = sorted(snapshot.iterdir())
    assert entries and not any(entry.is_symlink() for entry in entries), "files are plain copies without symlinks"
    assert model_cache.check_snapshot(hub.settings().hub_cache_path, hub.model_id, hub.revision).complete

    # Damage a plain file: noticed and repaired without symlinks too.
    (snapshot / "model.safetensors").write_bytes(b"half")
    hub.server.reset()
    repaired = run_loader(hub.env("main", TEST_NO_SYMLINKS="1"))
    assert repaired["cache"] == "downloaded"
    assert hub.server.file_gets() == {"model.safetensors": 1}

    hub.server.reset()
    assert run_loader(hub.env("main", TEST_NO_SYMLINKS="1"))["cache"] == "hit"
    assert hub.server.snapshot() == []
