"""The shared model loader: resolve -> (download once, fleet-wide) -> load once per process.

The cache is huggingface_hub's own layout under ``MODEL_CACHE_PATH/hub`` (the mounted volume), plus
a completion record per commit (``common.model_layout``). The record is written last, only after
every file's content was verified against the hub's listing (``common.model_download``), so a crash,
a timeout, a full disk or a corrupted transfer never leaves a snapshot that looks complete. A cold
start trusts a snapshot if the record exists *and* every file it lists is present at its full size;
if loading from it then fails, the record is dropped, so the next holder re-verifies every file.

- **Hit**: the revision resolves locally (a commit hash, or ``refs/<branch>``) and the snapshot is
  complete: the model is loaded from the snapshot folder with ``local_files_only=True``. No network.
- **Miss**: one downloader. A ``filelock`` on a local disk serialises the processes of one machine;
  when ``MODEL_CACHE_BUCKET`` is set, a lock object in that bucket (``common.gcs_lock``) serialises
  instances, because the bucket mount (gcsfuse) has no file locking. The holder repairs the commit
  the cache names (``common.model_download``) while a ``Lease`` keeps the lock alive, and stops if
  the lock is lost. Everyone else polls for the record and then loads: no downloads.
- **Load once per process**, in a background thread: callers wait for it at most ``wait_seconds``
  (default ``MODEL_WAIT_SECONDS``) and then get ``ModelUnavailable`` (503 + Retry-After) while the
  load goes on, so an HTTP caller hears back before the platform's request timeout.
- Offline is decided per call (``local_files_only=True`` on the hit path); the process environment
  (``HF_HUB_OFFLINE`` and friends) is never touched.

Environment read here (besides Settings): ``HF_ENDPOINT`` (huggingface_hub's own variable: the hub
to download from; read at each call so a test can point it at a local hub) and ``TMPDIR`` (through
``tempfile``: where the machine-local lock file lives; it must be a local disk, not the mount).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from hashlib import sha256
from typing import Callable, TypeVar

from common.config import Settings
from common.errors import EngineFailed, ModelCacheDamaged, ModelUnavailable, OcrError
from common.model_download import Fetch, fetch
from common.model_layout import (COMPLETE_DIR, INSTANCE_ID, SnapshotCheck, check_snapshot,  # noqa: F401 (re-exported)
                                 is_commit_hash, local_commit, record_path, repo_folder)

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_OBJECT_PREFIX = "gnosis-ocr-locks/"
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

# -- locks -----------------------------------------------------------------------------------------

def _local_lock_path(settings: Settings) -> str:
    # On a local disk: filelock does not work on the bucket mount. One file per cache + model.
    key = sha256(f"{os.path.realpath(settings.hub_cache_path)}|{settings.model_id}".encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "gnosis-ocr-locks")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{key}.lock")


def lock_object_name(model_id: str) -> str:
    return LOCK_OBJECT_PREFIX + "models--" + model_id.replace("/", "--") + ".lock"


def _complete_commit(settings: Settings) -> str | None:
    commit = local_commit(settings.hub_cache_path, settings.model_id, settings.model_revision)
    if commit and check_snapshot(settings.hub_cache_path, settings.model_id, commit).complete:
        return commit
    return None


def _fetch_or_wait(settings: Settings, endpoint: str | None, poll_seconds: float, deadline: float) -> Fetch:
    """Under the local lock: download if we win the cross-instance lock, else wait for the winner."""
    if not settings.model_cache_bucket:
        return fetch(settings, endpoint)

    from google.api_core.exceptions import GoogleAPIError

    try:
        return _fetch_or_wait_on_bucket(settings, endpoint, poll_seconds, deadline)
    except GoogleAPIError as exc:
        raise ModelUnavailable(f"model {settings.model_id}: the download lock in bucket "
                               f"{settings.model_cache_bucket} (MODEL_CACHE_BUCKET) is unreachable: {exc}") from exc


def _fetch_or_wait_on_bucket(settings: Settings, endpoint: str | None, poll_seconds: float, deadline: float) -> Fetch:
    from common.gcs_lock import GcsLock, Lease

    lock = GcsLock(settings.model_cache_bucket, lock_object_name(settings.model_id),
                   settings.model_lock_ttl_seconds, holder=INSTANCE_ID)
    started = time.monotonic()
    announced = False
    while True:
        asked = time.monotonic()
        if lock.try_acquire():
            # The lease ends our download when the lock is lost (taken over, or not refreshed for
            # most of its TTL by our own clock), before a new holder may touch our files; it is
            # released even if a refresh is in flight.
            with Lease(lock, acquired_at=asked) as lease:
                # The previous holder may have finished between our last look and our win.
                commit = _complete_commit(settings)
                if commit:
                    return Fetch(commit, "waited", 0, 0.0, time.monotonic() - started)
                return fetch(settings, endpoint, still_ours=lambda: _still_ours(lease, settings))
        state = lock.state()
        if not announced and state is not None:
            log.info("model %s revision %s: %s is downloading it (lock %s); waiting for the snapshot to be complete",
                     settings.model_id, settings.model_revision, state.holder, lock.location)
            announced = True
        commit = _complete_commit(settings)
        if commit:
            return Fetch(commit, "waited", 0, 0.0, time.monotonic() - started)
        if time.monotonic() >= deadline:
            holder = state.holder if state else "another instance"
            raise ModelUnavailable(
                f"model {settings.model_id} revision {settings.model_revision}: {holder} is still downloading it "
                f"after {settings.model_wait_seconds} s (MODEL_WAIT_SECONDS); try again later")
        time.sleep(poll_seconds)


def _still_ours(lease, settings: Settings) -> None:
    if lease.lost:
        raise ModelUnavailable(f"model {settings.model_id}: this instance lost the download lock {lease.lock.location} "
                               f"({lease.why_lost}); stopped downloading, another instance takes over")


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
            got = Fetch(commit, "waited", 0, 0.0, waited)
        else:
            got = _fetch_or_wait(settings, endpoint, poll_seconds, deadline)
            got.download_seconds += waited
    finally:
        local_lock.release()

    path = repo_folder(hub_cache, model_id) / "snapshots" / got.commit
    report = CacheReport(model_id, revision, got.commit, got.cache, str(path), bytes_fetched=got.bytes_fetched,
                         resolve_seconds=local_resolve + got.resolve_seconds, download_seconds=got.download_seconds)
    if got.cache == "downloaded":
        log.info("model %s revision %s (commit %s): downloaded %d bytes into %s; resolve %.2f s, download %.2f s",
                 model_id, revision, got.commit, got.bytes_fetched, path, report.resolve_seconds, report.download_seconds)
    elif got.cache == "waited":
        log.info("model %s revision %s (commit %s): another process downloaded it into %s; waited %.2f s, fetched nothing",
                 model_id, revision, got.commit, path, report.download_seconds)
    else:
        log.info("model %s revision %s (commit %s): every file was already at %s, content verified; completion record "
                 "restored (resolve %.2f s, 0 bytes fetched)", model_id, revision, got.commit, path, report.resolve_seconds)
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


def load_once(settings: Settings, build: Callable[[str], T], *, key: object = None, endpoint: str | None = None,
              poll_seconds: float = DEFAULT_POLL_SECONDS, wait_seconds: float | None = None) -> tuple[T, CacheReport]:
    """``build(snapshot_folder)`` once per process for (cache, model, revision[, key]).

    The load runs in a thread of its own; this caller, and those arriving while it runs, wait for it
    at most ``wait_seconds`` (default MODEL_WAIT_SECONDS), then get ``ModelUnavailable`` while it
    goes on: a retry finds it further along or done. Once loaded, calls return at once with the same
    report, marked ``already_loaded`` for every caller but the one that started the load. A failed
    load is not remembered: the next caller tries again (the failure may have been transient).
    ``build`` must load with ``local_files_only=True`` from the folder it is given.
    """
    ident = (os.path.realpath(settings.hub_cache_path), settings.model_id, settings.model_revision, key)
    with _loads_lock:
        entry = _loads.get(ident)
        starter = entry is None or (entry.done.is_set() and entry.error is not None)
        if starter:
            entry = _loads[ident] = _Load()
            threading.Thread(target=_load, args=(entry, settings, build, endpoint, poll_seconds), daemon=True,
                             name=f"model-load-{settings.model_id}").start()
    wait = settings.model_wait_seconds if wait_seconds is None else wait_seconds
    if not entry.done.wait(wait):
        error = ModelUnavailable(f"model {settings.model_id} revision {settings.model_revision} is still being loaded "
                                 f"by this instance after {wait:g} s of waiting; retry later")
        log.info(error.message)
        raise error
    if entry.error is not None:
        raise entry.error
    return entry.value, (entry.report if starter else replace(entry.report, already_loaded=True))


def _load(entry: _Load, settings: Settings, build: Callable[[str], T], endpoint: str | None, poll_seconds: float):
    try:
        report = ensure_snapshot(settings, endpoint=endpoint, poll_seconds=poll_seconds)
        started = time.monotonic()
        try:
            value = build(report.path)
        except OcrError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the loader raises says the snapshot or the device failed
            raise _load_failed(settings, report, exc) from exc
        report = replace(report, load_seconds=time.monotonic() - started)
        log.info("model %s revision %s (commit %s) loaded: cache %s at %s, %d bytes fetched; "
                 "resolve %.2f s, download %.2f s, load %.2f s", report.model, report.requested_revision,
                 report.revision, report.cache, report.path, report.bytes_fetched, report.resolve_seconds,
                 report.download_seconds, report.load_seconds)
        entry.value, entry.report = value, report
    except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
        entry.error = exc
    finally:
        entry.done.set()


def _load_failed(settings: Settings, report: CacheReport, exc: Exception) -> OcrError:
    """The error for a load that failed from a snapshot the cache called complete.

    Out of memory is the device's fault, not the files'. Otherwise, a snapshot trusted on sizes
    alone (a ``hit``) may have a file whose bytes changed: its completion record is dropped, so the
    next load (this process's next caller, or any instance's next cold start) re-verifies every
    file's content against the hub and fetches only what is wrong. A snapshot verified just now
    (downloaded or waited for) keeps its record: fetching it again would not help.
    """
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__ or "out of memory" in str(exc).lower():
        return EngineFailed(f"model {report.model} (commit {report.revision}) did not fit in memory: {what}")
    if report.cache != "hit":
        return ModelCacheDamaged(f"model {report.model} (commit {report.revision}) failed to load from {report.path}, "
                                 f"which was verified against the hub just now: {what}")
    record_path(settings.hub_cache_path, report.model, report.revision).unlink(missing_ok=True)
    message = (f"model {report.model} (commit {report.revision}) failed to load from {report.path} ({what}); "
               "its completion record was dropped, so the next load re-checks every file against the hub")
    log.error(message)
    return ModelCacheDamaged(message)


def forget_loads() -> None:
    """Drop the process's loaded models (tests; a process normally keeps its model for life)."""
    with _loads_lock:
        _loads.clear()
