"""The shared model loader: resolve -> (download once, fleet-wide) -> load once per process.

The cache is huggingface_hub's own layout under ``MODEL_CACHE_PATH/hub`` (the mounted volume)::

    hub/models--ORG--NAME/blobs/...                  file contents (symlink targets)
    hub/models--ORG--NAME/snapshots/<commit>/...     the repo's files, as symlinks or plain copies
    hub/models--ORG--NAME/refs/<branch or tag>       the commit a branch/tag was resolved to
    hub/models--ORG--NAME/gnosis-complete/<commit>.json   ours: the completion record

The completion record is written last, after every file of the revision was checked against the
hub's own listing (path and size), so a crash, a timeout or a full disk can never leave a snapshot
that looks complete. A load trusts a snapshot only if the record exists *and* every file it lists is
present at its full size (a blob deleted or truncated later is noticed, too).

- **Hit**: the revision resolves locally (a commit hash, or ``refs/<branch>``) and the snapshot is
  complete: the model is loaded from the snapshot folder with ``local_files_only=True``. No network.
- **Miss**: one downloader. A ``filelock`` on a local disk serialises the processes of one machine;
  when ``MODEL_CACHE_BUCKET`` is set, a lock object in that bucket (``common.gcs_lock``) serialises
  instances, because the bucket mount (gcsfuse) has no file locking. The holder resolves the revision
  on the hub, removes damaged files, downloads what is missing with huggingface_hub, checks it and
  writes the completion record. Everyone else polls for the record and then loads: no downloads.
- Offline is decided per call (``local_files_only=True`` on the hit path); the process environment
  (``HF_HUB_OFFLINE`` and friends) is never touched.

Environment read here (besides Settings): ``HF_ENDPOINT`` (huggingface_hub's own variable: the hub
to download from; read at each call so a test can point it at a local hub) and ``TMPDIR`` (through
``tempfile``: where the machine-local lock file lives; it must be a local disk, not the mount).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from hashlib import sha256
from pathlib import Path
from typing import Callable, TypeVar

from common.config import Settings
from common.errors import ModelCacheDamaged, ModelUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

COMPLETE_DIR = "gnosis-complete"
LOCK_OBJECT_PREFIX = "gnosis-ocr-locks/"
# Who we are in hub requests (User-Agent) and lock objects: lets the hub's logs and tests tell
# instances apart.
INSTANCE_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # unique even if pids repeat
_COMMIT = re.compile(r"[0-9a-f]{40}")
DEFAULT_POLL_SECONDS = 5.0  # how often a waiting instance looks for the other's completion record


@dataclass(frozen=True)
class CacheReport:
    """What one load did. ``cache`` is:

    - ``hit``: a complete snapshot was already in the cache; nothing was asked of the network;
    - ``downloaded``: this process fetched files (``bytes_fetched``) and completed the snapshot;
    - ``miss``: not complete locally, but the hub's listing showed every file already present (e.g. a
      lost ``refs`` file or completion record): the network was asked, nothing was fetched;
    - ``waited``: another process or instance was downloading; this one waited and fetched nothing.
    """

    model: str
    requested_revision: str
    revision: str  # the commit hash
    cache: str
    path: str  # the snapshot folder
    bytes_fetched: int = 0
    resolve_seconds: float = 0.0
    download_seconds: float = 0.0  # downloading, or waiting for another's download
    load_seconds: float = 0.0
    already_loaded: bool = False

    def as_dict(self) -> dict:
        return {
            "model": self.model, "revision": self.revision, "requested_revision": self.requested_revision,
            "cache": self.cache, "path": self.path, "bytes_fetched": self.bytes_fetched,
            "seconds": {"resolve": round(self.resolve_seconds, 3), "download": round(self.download_seconds, 3),
                        "load": round(self.load_seconds, 3)},
            "already_loaded": self.already_loaded,
        }


@dataclass
class SnapshotCheck:
    """Whether the snapshot of one commit is complete, and if not, what is wrong, in plain words."""

    commit: str
    path: Path
    complete: bool
    missing: list[str] = field(default_factory=list)  # listed files that are absent (or dangling links)
    damaged: list[str] = field(default_factory=list)  # present, but not at their full size
    reason: str = ""


# -- layout ----------------------------------------------------------------------------------------

def repo_folder(hub_cache: str | os.PathLike, model_id: str) -> Path:
    return Path(hub_cache) / ("models--" + model_id.replace("/", "--"))


def is_commit_hash(revision: str) -> bool:
    return bool(_COMMIT.fullmatch(revision))


def local_commit(hub_cache: str | os.PathLike, model_id: str, revision: str) -> str | None:
    """The commit ``revision`` stands for, from the cache alone (None if the cache cannot tell)."""
    if is_commit_hash(revision):
        return revision
    try:
        commit = (repo_folder(hub_cache, model_id) / "refs" / revision).read_text().strip()
    except OSError:
        return None
    return commit if is_commit_hash(commit) else None


def _record_path(hub_cache, model_id: str, commit: str) -> Path:
    return repo_folder(hub_cache, model_id) / COMPLETE_DIR / f"{commit}.json"


def _check_files(snapshot: Path, sizes: dict[str, int]) -> tuple[list[str], list[str]]:
    missing, damaged = [], []
    for name, size in sizes.items():
        path = snapshot / name
        try:
            actual = path.stat().st_size  # follows the symlink: a deleted blob reads as missing
        except OSError:
            missing.append(name)
            continue
        if actual != size:
            damaged.append(name)
    return missing, damaged


def check_snapshot(hub_cache: str | os.PathLike, model_id: str, commit: str) -> SnapshotCheck:
    """Complete = the completion record exists and every file it lists is present at its full size."""
    snapshot = repo_folder(hub_cache, model_id) / "snapshots" / commit
    try:
        record = json.loads(_record_path(hub_cache, model_id, commit).read_text())
        sizes = {str(k): int(v) for k, v in record["files"].items()}
    except FileNotFoundError:
        reason = "no completion record (never downloaded here, or a download did not finish)"
        return SnapshotCheck(commit, snapshot, False, reason=reason)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return SnapshotCheck(commit, snapshot, False, reason=f"unreadable completion record ({exc})")
    missing, damaged = _check_files(snapshot, sizes)
    if missing or damaged:
        reason = "; ".join(filter(None, [
            f"{len(missing)} file(s) missing: {', '.join(missing[:5])}" if missing else "",
            f"{len(damaged)} file(s) not at full size: {', '.join(damaged[:5])}" if damaged else "",
        ]))
        return SnapshotCheck(commit, snapshot, False, missing, damaged, reason)
    return SnapshotCheck(commit, snapshot, True)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{INSTANCE_ID}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- download (the one holder) ---------------------------------------------------------------------

@dataclass
class _Fetch:
    commit: str
    cache: str
    bytes_fetched: int
    resolve_seconds: float
    download_seconds: float


def _hub_error(exc: BaseException, settings: Settings, endpoint: str | None) -> ModelUnavailable:
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


def _remove_damaged(snapshot: Path, names: list[str]) -> None:
    """Delete snapshot entries (and the blobs they point to) so huggingface_hub fetches them again.

    huggingface_hub trusts any existing snapshot entry, whatever its size, so a truncated file must go.
    """
    for name in names:
        entry = snapshot / name
        if entry.is_symlink():
            target = Path(os.path.realpath(entry))
            if target.exists():
                target.unlink()
        if entry.exists() or entry.is_symlink():
            entry.unlink()


def _blob_is_whole(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _fetch(settings: Settings, endpoint: str | None) -> _Fetch:
    """Resolve on the hub, repair and download: only ever run by the holder of the download locks."""
    import httpx2
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    hub_cache = settings.hub_cache_path
    model_id, revision = settings.model_id, settings.model_revision
    user_agent = {"gnosis-ocr-instance": INSTANCE_ID}
    api = HfApi(endpoint=endpoint, user_agent=user_agent)
    started = time.monotonic()
    try:
        commit = revision if is_commit_hash(revision) else api.model_info(model_id, revision=revision, timeout=60).sha
        entries = [f for f in api.list_repo_tree(model_id, revision=commit, recursive=True) if isinstance(f, RepoFile)]
        listing = {f.path: int(f.size) for f in entries}
        # huggingface_hub names a blob after its ETag: the LFS sha256, else the git blob id.
        blob_names = {f.path: (f.lfs.sha256 if f.lfs else f.blob_id) for f in entries}
    except (OSError, httpx2.HTTPError) as exc:
        raise _hub_error(exc, settings, endpoint) from exc
    resolve_seconds = time.monotonic() - started

    folder = repo_folder(hub_cache, model_id)
    if not is_commit_hash(revision):
        # Early, so that instances waiting for us know which snapshot to watch.
        _write_atomically(folder / "refs" / revision, commit)
    record = _record_path(hub_cache, model_id, commit)
    snapshot = folder / "snapshots" / commit
    missing, damaged = _check_files(snapshot, listing)
    if not missing and not damaged and record.exists():
        return _Fetch(commit, "miss", 0, resolve_seconds, 0.0)

    record.unlink(missing_ok=True)  # from here until the end, nothing may claim this snapshot is complete
    _remove_damaged(snapshot, damaged)
    # Leftovers of a crashed download; we hold the locks, so nobody else is writing them.
    for leftover in glob.glob(str(folder / "blobs" / "*.incomplete*")):
        Path(leftover).unlink(missing_ok=True)
    to_fetch = missing + damaged
    # A snapshot entry whose blob is still whole is only relinked, not fetched.
    bytes_to_fetch = sum(listing[name] for name in to_fetch
                         if not _blob_is_whole(folder / "blobs" / str(blob_names[name]), listing[name]))
    started = time.monotonic()
    if to_fetch:
        log.info("model %s revision %s (commit %s): fetching %d file(s), %d bytes, from %s into %s",
                 model_id, revision, commit, len(to_fetch), bytes_to_fetch, endpoint or "the HuggingFace hub", snapshot)
        try:
            snapshot_download(model_id, revision=commit, cache_dir=hub_cache, endpoint=endpoint,
                              user_agent=user_agent)
        except (OSError, httpx2.HTTPError) as exc:
            raise _hub_error(exc, settings, endpoint) from exc
    download_seconds = time.monotonic() - started

    missing, damaged = _check_files(snapshot, listing)
    if missing or damaged:
        raise ModelCacheDamaged(
            f"model {model_id} revision {revision} (commit {commit}): after downloading into {snapshot}, "
            f"{len(missing)} file(s) are missing ({', '.join(missing[:5])}) and {len(damaged)} are not at the size "
            f"the hub lists ({', '.join(damaged[:5])}); the snapshot is not used"
        )
    _write_atomically(record, json.dumps({"model": model_id, "commit": commit, "files": listing,
                                          "completed_by": INSTANCE_ID, "completed_at": time.time()}, indent=1))
    return _Fetch(commit, "downloaded" if bytes_to_fetch else "miss", bytes_to_fetch, resolve_seconds, download_seconds)


# -- locks -----------------------------------------------------------------------------------------

def _local_lock_path(settings: Settings) -> str:
    # On a local disk: filelock does not work on the bucket mount. One file per cache + model.
    key = sha256(f"{os.path.realpath(settings.hub_cache_path)}|{settings.model_id}".encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "gnosis-ocr-locks")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{key}.lock")


def lock_object_name(model_id: str) -> str:
    return LOCK_OBJECT_PREFIX + "models--" + model_id.replace("/", "--") + ".lock"


class _Heartbeat:
    """Refreshes the cross-instance lock while a long download runs, so it does not expire under us."""

    def __init__(self, lock, every_seconds: float):
        self._lock, self._every = lock, every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-lock-heartbeat", daemon=True)

    def _run(self):
        while not self._stop.wait(self._every):
            try:
                if not self._lock.refresh():
                    return
            except Exception:  # a storage hiccup: the next beat retries, the TTL leaves room for it
                log.warning("download lock %s: refresh failed", self._lock.location, exc_info=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def _complete_commit(settings: Settings) -> str | None:
    commit = local_commit(settings.hub_cache_path, settings.model_id, settings.model_revision)
    if commit and check_snapshot(settings.hub_cache_path, settings.model_id, commit).complete:
        return commit
    return None


def _fetch_or_wait(settings: Settings, endpoint: str | None, poll_seconds: float, deadline: float) -> _Fetch:
    """Under the local lock: download if we win the cross-instance lock, else wait for the winner."""
    if not settings.model_cache_bucket:
        return _fetch(settings, endpoint)

    from google.api_core.exceptions import GoogleAPIError

    try:
        return _fetch_or_wait_on_bucket(settings, endpoint, poll_seconds, deadline)
    except GoogleAPIError as exc:
        raise ModelUnavailable(f"model {settings.model_id}: the download lock in bucket "
                               f"{settings.model_cache_bucket} (MODEL_CACHE_BUCKET) is unreachable: {exc}") from exc


def _fetch_or_wait_on_bucket(settings: Settings, endpoint: str | None, poll_seconds: float, deadline: float) -> _Fetch:
    from common.gcs_lock import GcsLock

    lock = GcsLock(settings.model_cache_bucket, lock_object_name(settings.model_id),
                   settings.model_lock_ttl_seconds, holder=INSTANCE_ID)
    started = time.monotonic()
    announced = False
    while True:
        if lock.try_acquire():
            try:
                with _Heartbeat(lock, max(1.0, settings.model_lock_ttl_seconds / 3)):
                    # The previous holder may have finished between our last look and our win.
                    commit = _complete_commit(settings)
                    if commit:
                        return _Fetch(commit, "waited", 0, 0.0, time.monotonic() - started)
                    return _fetch(settings, endpoint)
            finally:
                lock.release()
        state = lock.state()
        if not announced and state is not None:
            log.info("model %s revision %s: %s is downloading it (lock %s); waiting for the snapshot to be complete",
                     settings.model_id, settings.model_revision, state.holder, lock.location)
            announced = True
        commit = _complete_commit(settings)
        if commit:
            return _Fetch(commit, "waited", 0, 0.0, time.monotonic() - started)
        if time.monotonic() >= deadline:
            holder = state.holder if state else "another instance"
            raise ModelUnavailable(
                f"model {settings.model_id} revision {settings.model_revision}: {holder} is still downloading it "
                f"after {settings.model_wait_seconds} s (MODEL_WAIT_SECONDS); try again later")
        time.sleep(poll_seconds)


def ensure_snapshot(settings: Settings, *, endpoint: str | None = None,
                    poll_seconds: float = DEFAULT_POLL_SECONDS) -> CacheReport:
    """Make sure a complete snapshot of (MODEL_ID, MODEL_REVISION) is in the cache; say how it got there.

    Raises ModelUnavailable when the hub cannot be reached or another instance's download does not
    finish within MODEL_WAIT_SECONDS, and ModelCacheDamaged when a repair did not produce a complete
    snapshot. Never raises for a hit.
    """
    import filelock

    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    hub_cache = settings.hub_cache_path
    model_id, revision = settings.model_id, settings.model_revision
    started = time.monotonic()
    commit = local_commit(hub_cache, model_id, revision)
    check = check_snapshot(hub_cache, model_id, commit) if commit else None
    if check is not None and check.complete:
        resolve_seconds = time.monotonic() - started
        log.info("model %s revision %s (commit %s): cache hit, complete snapshot at %s (resolved in %.3f s, no network)",
                 model_id, revision, commit, check.path, resolve_seconds)
        return CacheReport(model_id, revision, commit, "hit", str(check.path), resolve_seconds=resolve_seconds)

    why = check.reason if check else f"revision {revision!r} is not a commit hash and has no refs/{revision} in the cache"
    log.info("model %s revision %s: cache miss at %s: %s", model_id, revision, repo_folder(hub_cache, model_id), why)
    local_resolve = time.monotonic() - started
    deadline = started + settings.model_wait_seconds
    os.makedirs(hub_cache, exist_ok=True)
    local_lock = filelock.FileLock(_local_lock_path(settings))
    try:
        local_lock.acquire(timeout=settings.model_wait_seconds)
    except filelock.Timeout:
        raise ModelUnavailable(
            f"model {model_id} revision {revision}: another process on this machine is still downloading it "
            f"after {settings.model_wait_seconds} s (MODEL_WAIT_SECONDS)") from None
    try:
        waited = time.monotonic() - started - local_resolve
        commit = _complete_commit(settings)
        if commit:
            fetch = _Fetch(commit, "waited", 0, 0.0, waited)
        else:
            fetch = _fetch_or_wait(settings, endpoint, poll_seconds, deadline)
            fetch.download_seconds += waited
    finally:
        local_lock.release()

    path = repo_folder(hub_cache, model_id) / "snapshots" / fetch.commit
    report = CacheReport(model_id, revision, fetch.commit, fetch.cache, str(path), bytes_fetched=fetch.bytes_fetched,
                         resolve_seconds=local_resolve + fetch.resolve_seconds, download_seconds=fetch.download_seconds)
    if fetch.cache == "downloaded":
        log.info("model %s revision %s (commit %s): downloaded %d bytes into %s; resolve %.2f s, download %.2f s",
                 model_id, revision, fetch.commit, fetch.bytes_fetched, path, report.resolve_seconds, report.download_seconds)
    elif fetch.cache == "waited":
        log.info("model %s revision %s (commit %s): another process downloaded it into %s; waited %.2f s, fetched nothing",
                 model_id, revision, fetch.commit, path, report.download_seconds)
    else:
        log.info("model %s revision %s (commit %s): every file was already at %s; completion record restored "
                 "(resolve %.2f s, 0 bytes fetched)", model_id, revision, fetch.commit, path, report.resolve_seconds)
    return report


# -- load once per process -------------------------------------------------------------------------

class _Load:
    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.report: CacheReport | None = None
        self.error: BaseException | None = None


_loads: dict[tuple, _Load] = {}
_loads_lock = threading.Lock()


def load_once(settings: Settings, build: Callable[[str], T], *, key: object = None,
              endpoint: str | None = None, poll_seconds: float = DEFAULT_POLL_SECONDS) -> tuple[T, CacheReport]:
    """``build(snapshot_folder)`` once per process for (cache, model, revision[, key]).

    Callers that arrive while a load runs wait for it and share its result (or its error). Once
    loaded, calls return at once with the same report, marked ``already_loaded``. A failed load is
    not remembered: the next caller tries again (the failure may have been transient).
    ``build`` must load with ``local_files_only=True`` from the folder it is given.
    """
    ident = (os.path.realpath(settings.hub_cache_path), settings.model_id, settings.model_revision, key)
    with _loads_lock:
        entry = _loads.get(ident)
        owner = entry is None or (entry.done.is_set() and entry.error is not None)
        if owner:
            entry = _loads[ident] = _Load()
    if not owner:
        entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.value, replace(entry.report, already_loaded=True)
    try:
        report = ensure_snapshot(settings, endpoint=endpoint, poll_seconds=poll_seconds)
        started = time.monotonic()
        value = build(report.path)
        report = replace(report, load_seconds=time.monotonic() - started)
        log.info("model %s revision %s (commit %s) loaded: cache %s at %s, %d bytes fetched; "
                 "resolve %.2f s, download %.2f s, load %.2f s", report.model, report.requested_revision,
                 report.revision, report.cache, report.path, report.bytes_fetched, report.resolve_seconds,
                 report.download_seconds, report.load_seconds)
        entry.value, entry.report = value, report
        return value, report
    except BaseException as exc:
        entry.error = exc
        raise
    finally:
        entry.done.set()


def forget_loads() -> None:
    """Drop the process's loaded models (tests; a process normally keeps its model for life)."""
    with _loads_lock:
        _loads.clear()
