"""The cache holds the bytes the hub lists, for the commit it already names.

- content, not just sizes: a blob overwritten with other bytes of the same size is noticed (at the
  latest when the load from it fails) and fetched again; a download whose bytes do not hash to the
  hub's listing is never marked complete;
- a truncated blob whose snapshot entry is gone too is mended in one pass;
- a repair of ``MODEL_REVISION=main`` repairs the commit ``refs/main`` names, even after the branch
  moved on the hub; the branch moves only when asked (``refs/main`` deleted).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from common import model_cache
from common.engines.vlm import VlmEngine
from common.errors import ModelCacheDamaged, ModelUnavailable
from common.pipeline import ocr_document
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)
from tests.upload_helpers import make_pdf

MOVING_MODEL_ID = "tests/tiny-moving"


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    yield
    model_cache.forget_loads()


def _downloaded(hub, **overrides):
    settings = hub.settings(model_revision="main", **overrides)
    report = model_cache.ensure_snapshot(settings)
    assert report.cache == "downloaded"
    hub.server.reset()
    return settings, model_cache.repo_folder(settings.hub_cache_path, settings.model_id), report.revision


def _blob_of(folder: Path, commit: str, name: str) -> Path:
    return Path(os.path.realpath(folder / "snapshots" / commit / name))


def test_a_blob_overwritten_at_its_size_is_dropped_on_the_failed_load_and_repaired(tiny_model_hub, caplog):
    hub = tiny_model_hub
    settings, folder, commit = _downloaded(hub)
    weights = _blob_of(folder, commit, "model.safetensors")
    weights.write_bytes(os.urandom(weights.stat().st_size))  # same size, other bytes
    assert model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, commit).complete  # sizes agree

    # A 3-page request: the model is loaded once (not once per page), and the failure is a 503.
    with caplog.at_level(logging.INFO, logger="common.model_cache"):
        with pytest.raises(ModelCacheDamaged, match="completion record was dropped"):
            ocr_document(make_pdf(3), settings, engine=VlmEngine(settings))
    assert caplog.text.count("cache hit, complete snapshot") == 1
    assert not model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, commit).complete

    report = VlmEngine(settings).load()  # the next load repairs: only the weights are fetched again
    assert report.cache == "downloaded" and report.revision == commit
    assert hub.server.file_gets() == {"model.safetensors": 1}
    assert weights.read_bytes() == hub.server.repos[hub.model_id].files["model.safetensors"]


def test_a_download_whose_bytes_do_not_hash_to_the_listing_is_never_complete(tiny_model_hub):
    hub = tiny_model_hub
    hub.server.knobs.corrupt = {"model.safetensors"}
    settings = hub.settings(model_revision="main")
    with pytest.raises(ModelCacheDamaged, match="model.safetensors"):
        model_cache.ensure_snapshot(settings)
    assert not model_cache.check_snapshot(settings.hub_cache_path, hub.model_id, hub.revision).complete

    hub.server.knobs.corrupt = set()  # the hub is fixed: the next load fetches that file alone
    hub.server.reset()
    assert model_cache.ensure_snapshot(settings).cache == "downloaded"
    assert hub.server.file_gets() == {"model.safetensors": 1}


def test_a_truncated_blob_without_its_snapshot_entry_is_mended_in_one_pass(tiny_model_hub):
    hub = tiny_model_hub
    settings, folder, commit = _downloaded(hub)
    blob = _blob_of(folder, commit, "tokenizer.json")
    (folder / "snapshots" / commit / "tokenizer.json").unlink()
    blob.write_bytes(blob.read_bytes()[:100])

    report = model_cache.ensure_snapshot(settings)

    assert report.cache == "downloaded"
    assert hub.server.file_gets() == {"tokenizer.json": 1}
    data = hub.server.repos[hub.model_id].files["tokenizer.json"]
    assert (folder / "snapshots" / commit / "tokenizer.json").read_bytes() == data


@pytest.fixture
def moving_model(hub_server, tiny_model_dir, tmp_path):
    """A repo of its own (so the session's tiny model stays put): commit A on main, then a push of B."""
    commit_a = hub_server.add_folder(MOVING_MODEL_ID, tiny_model_dir)

    def push_b() -> str:
        folder = tmp_path / "model-b"
        shutil.copytree(tiny_model_dir, folder)
        config = json.loads((folder / "config.json").read_text())
        config["gnosis_test_version"] = "B"
        (folder / "config.json").write_text(json.dumps(config))
        return hub_server.add_folder(MOVING_MODEL_ID, folder)

    yield commit_a, push_b
    hub_server.repos.pop(MOVING_MODEL_ID, None)


def test_a_repair_of_a_branch_repairs_the_cached_commit_and_does_not_follow_the_branch(tiny_model_hub, moving_model):
    hub = tiny_model_hub
    commit_a, push_b = moving_model
    settings, folder, commit = _downloaded(hub, model_id=MOVING_MODEL_ID)
    assert commit == commit_a
    commit_b = push_b()
    os.unlink(_blob_of(folder, commit_a, "config.json"))  # a small file of the cached commit is lost

    report = model_cache.ensure_snapshot(settings)

    assert report.revision == commit_a and (folder / "refs" / "main").read_text() == commit_a
    assert hub.server.file_gets() == {"config.json": 1}
    assert "gnosis_test_version" not in (folder / "snapshots" / commit_a / "config.json").read_text()
    assert not (folder / "snapshots" / commit_b).exists()
    assert not [r for r in hub.server.snapshot() if r.path.endswith("/revision/main")], "main was not re-resolved"

    # Moving the branch is asked for by deleting refs/main: the next cold start takes the new commit.
    (folder / "refs" / "main").unlink()
    hub.server.reset()
    report = model_cache.ensure_snapshot(settings)
    assert report.revision == commit_b and (folder / "refs" / "main").read_text() == commit_b


def test_a_cached_commit_the_hub_no_longer_has_says_how_to_move_on(tiny_model_hub, moving_model):
    hub = tiny_model_hub
    settings, folder, commit = _downloaded(hub, model_id=MOVING_MODEL_ID)
    moving_model[1]()
    del hub.server.repos[MOVING_MODEL_ID].history[commit]  # force-pushed away
    os.unlink(_blob_of(folder, commit, "config.json"))

    with pytest.raises(ModelUnavailable, match="refs/main"):
        model_cache.ensure_snapshot(settings)
