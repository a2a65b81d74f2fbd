"""Resolve on the hub, repair and download one snapshot: only ever run by the holder of the locks.

What it guarantees: the completion record is written only when every file of the commit is present
with the content the hub lists for it (size, and the LFS sha256 or the git blob id), checked once,
here. Anything else (a crash, a full disk, a corrupted transfer, a lost lock) leaves no record.

- **Which commit.** A commit hash is its own answer. A branch or tag the cache already resolved
  (``refs/<revision>``) stays at that commit: a repair mends the commit instances are serving, never
  a newer one the branch has moved to. The hub is asked what a branch is only when the cache has no
  ``refs/<revision>``; deleting that file is how an operator asks for the branch's current commit.
- **Repair.** Without a completion record (a first download, a crash, or a load that failed), every
  file present is hashed against the listing; a wrong one is deleted with its blob, and so is a
  damaged blob whose snapshot entry is missing (huggingface_hub would relink it without a look).
- **Stop when the lock is lost.** ``still_ours`` is called before the download and for every chunk
  received (through huggingface_hub's progress hook); it raises when the download lock is no longer
  ours, so an instance that lost it stops writing before the new holder starts.
"""

from __future__ import annotations

import glob
import json
import logging
import time
from dataclasses import dataclass
from hashlib import sha1, sha256
from pathlib import Path
from typing import Callable

from common.config import Settings
from common.errors import ModelCacheDamaged, ModelUnavailable
from common.model_layout import (INSTANCE_ID, check_files, is_commit_hash, local_commit, record_path, repo_folder,
                                 write_atomically)

log = logging.getLogger("common.model_cache")


@dataclass
class Fetch:
    commit: str
    cache: str  # "downloaded", "miss" or "waited" (see model_cache.CacheReport)
    bytes_fetched: int
    resolve_seconds: float
    download_seconds: float


@dataclass(frozen=True)
class ListedFile:
    size: int
    blob_name: str  # huggingface_hub names a blob after its ETag: the LFS sha256, else the git blob id
    sha256: str | None  # LFS files
    git_blob_id: str

    def matches(self, path: Path) -> bool:
        """The file's bytes are the listed ones (sha256 for LFS files, the git blob id otherwise)."""
        digest = sha256() if self.sha256 else sha1(b"blob %d\0" % self.size)
        try:
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError:
            return False
        return digest.hexdigest() == (self.sha256 or self.git_blob_id)

    def blob_is_whole(self, blob: Path) -> bool:
        try:
            return blob.stat().st_size == self.size
        except OSError:
            return False


def hub_error(exc: BaseException, settings: Settings, endpoint: str | None) -> ModelUnavailable:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    where = endpoint or "the HuggingFace hub"
    # Kept transient (503 / event retried): once MODEL_ID or MODEL_REVISION is corrected, the
    # retries succeed. Logged as an error, since no retry can fix a wrong name by itself.
    if isinstance(exc, RevisionNotFoundError):
        message = f"revision {settings.model_revision!r} of {settings.model_id} does not exist on {where}: check MODEL_REVISION"
        log.error(message)
    elif isinstance(exc, RepositoryNotFoundError):
        message = f"model {settings.model_id} was not found on {where} (or it is private/gated): check MODEL_ID (and HF_TOKEN)"
        log.error(message)
    else:
        message = f"could not fetch model {settings.model_id} revision {settings.model_revision} from {where}: {exc.__class__.__name__}: {exc}"
    error = ModelUnavailable(message)
    error.__cause__ = exc
    return error


def _remove(snapshot: Path, blobs: Path, names: list[str], listing: dict[str, ListedFile]) -> None:
    """Delete snapshot entries and their blobs, so huggingface_hub fetches them again.

    huggingface_hub trusts any existing snapshot entry, and relinks any existing blob, whatever its
    size or content: a damaged one must go, also when its snapshot entry is already gone.
    """
    for name in names:
        entry = snapshot / name
        for path in {entry.resolve(), blobs / listing[name].blob_name}:
            if path != entry and path.is_file():
                path.unlink()
        if entry.exists() or entry.is_symlink():
            entry.unlink()


def _progress_class(still_ours: Callable[[], None]):
    """A huggingface_hub progress bar that calls ``still_ours`` for every chunk it is told about."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class LockedProgress(hf_tqdm):
        def update(self, n=1):
            still_ours()  # raises when the lock is lost: before the chunk is written
            return super().update(n)

    return LockedProgress


def _listing(settings: Settings, endpoint: str | None, api) -> tuple[str, dict[str, ListedFile], bool]:
    """(commit, its files, whether the commit came from the cache's refs)."""
    from huggingface_hub.errors import RevisionNotFoundError
    from huggingface_hub.hf_api import RepoFile

    model_id, revision = settings.model_id, settings.model_revision
    cached = None if is_commit_hash(revision) else local_commit(settings.hub_cache_path, model_id, revision)
    commit = revision if is_commit_hash(revision) else cached or api.model_info(model_id, revision=revision, timeout=60).sha
    try:
        entries = [f for f in api.list_repo_tree(model_id, revision=commit, recursive=True) if isinstance(f, RepoFile)]
    except RevisionNotFoundError as exc:
        if not cached:
            raise
        refs = repo_folder(settings.hub_cache_path, model_id) / "refs" / revision
        message = (f"model {model_id}: {refs} names commit {commit}, which {endpoint or 'the hub'} no longer has; "
                   f"delete {refs} to take {revision!r}'s current commit (or pin MODEL_REVISION to a commit)")
        log.error(message)
        raise ModelUnavailable(message) from exc
    listing = {f.path: ListedFile(int(f.size), f.lfs.sha256 if f.lfs else f.blob_id, f.lfs.sha256 if f.lfs else None,
                                  f.blob_id) for f in entries}
    return commit, listing, cached is not None


def fetch(settings: Settings, endpoint: str | None, still_ours: Callable[[], None] = lambda: None) -> Fetch:
    """Make the snapshot of MODEL_REVISION complete and verified; see the module docstring."""
    import httpx2
    from huggingface_hub import HfApi, snapshot_download

    hub_cache = settings.hub_cache_path
    model_id, revision = settings.model_id, settings.model_revision
    user_agent = {"gnosis-ocr-instance": INSTANCE_ID}
    api = HfApi(endpoint=endpoint, user_agent=user_agent)
    started = time.monotonic()
    try:
        commit, listing, from_refs = _listing(settings, endpoint, api)
    except (OSError, httpx2.HTTPError) as exc:
        raise hub_error(exc, settings, endpoint) from exc
    resolve_seconds = time.monotonic() - started

    folder = repo_folder(hub_cache, model_id)
    if not is_commit_hash(revision) and not from_refs:
        # Early, so that instances waiting for us know which snapshot to watch.
        write_atomically(folder / "refs" / revision, commit)
    record = record_path(hub_cache, model_id, commit)
    snapshot, blobs = folder / "snapshots" / commit, folder / "blobs"
    sizes = {name: entry.size for name, entry in listing.items()}
    missing, damaged = check_files(snapshot, sizes)
    if not missing and not damaged and record.exists():
        return Fetch(commit, "miss", 0, resolve_seconds, 0.0)  # another holder completed it meanwhile

    record.unlink(missing_ok=True)  # from here until the end, nothing may claim this snapshot is complete
    damaged += [name for name in sizes if name not in missing + damaged and not listing[name].matches(snapshot / name)]
    damaged += [name for name in missing if (blobs / listing[name].blob_name).exists()
                and not listing[name].matches(blobs / listing[name].blob_name)]
    missing = [name for name in missing if name not in damaged]
    _remove(snapshot, blobs, damaged, listing)
    # Leftovers of a crashed or overtaken download: whoever wrote them stopped when its lock ran out.
    for leftover in glob.glob(str(blobs / "*.incomplete*")):
        Path(leftover).unlink(missing_ok=True)
    to_fetch = missing + damaged
    # A snapshot entry whose blob is still whole (and verified above) is only relinked, not fetched.
    bytes_to_fetch = sum(listing[name].size for name in to_fetch
                         if not listing[name].blob_is_whole(blobs / listing[name].blob_name))
    started = time.monotonic()
    if to_fetch:
        log.info("model %s revision %s (commit %s): fetching %d file(s), %d bytes, from %s into %s",
                 model_id, revision, commit, len(to_fetch), bytes_to_fetch, endpoint or "the HuggingFace hub", snapshot)
        still_ours()
        try:
            snapshot_download(model_id, revision=commit, cache_dir=hub_cache, endpoint=endpoint, user_agent=user_agent,
                              tqdm_class=_progress_class(still_ours))
        except (OSError, httpx2.HTTPError) as exc:
            raise hub_error(exc, settings, endpoint) from exc
    download_seconds = time.monotonic() - started

    missing, damaged = check_files(snapshot, sizes)
    damaged += [name for name in to_fetch if name not in missing + damaged and not listing[name].matches(snapshot / name)]
    if missing or damaged:
        raise ModelCacheDamaged(
            f"model {model_id} revision {revision} (commit {commit}): after downloading into {snapshot}, "
            f"{len(missing)} file(s) are missing ({', '.join(missing[:5])}) and {len(damaged)} do not have the size and "
            f"content the hub lists ({', '.join(damaged[:5])}); the snapshot is not used"
        )
    still_ours()
    write_atomically(record, json.dumps({"model": model_id, "commit": commit, "files": sizes,
                                         "sha256": {n: e.sha256 for n, e in listing.items() if e.sha256},
                                         "completed_by": INSTANCE_ID, "completed_at": time.time()}, indent=1))
    return Fetch(commit, "downloaded" if bytes_to_fetch else "miss", bytes_to_fetch, resolve_seconds, download_seconds)
