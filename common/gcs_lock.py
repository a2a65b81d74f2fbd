"""A lock that works across instances: one small object in a Cloud Storage bucket.

Cloud Storage FUSE has no file locking, so instances that share the model cache through a bucket
mount cannot use ``filelock`` to agree on who downloads. Object creation with
``if_generation_match=0`` succeeds for exactly one caller, which makes a lock object a mutex.

A crashed holder must not block the fleet: the lock carries a time to live. It counts from the
object's ``updated`` time, which the storage service sets (so the holder's clock does not matter),
and a holder doing long work refreshes it (``refresh``) to keep it alive. An expired lock is taken
over by rewriting it with ``if_generation_match=<the stale generation>``, so of several instances
that notice the expiry together only one wins. ``release`` deletes the object only if it is still
ours (same generation), so a holder that overran its TTL cannot delete its successor's lock.

``Lease`` is how a holder does long work under the lock: a thread refreshes it, and ``lost`` says
when the work must stop: the lock was taken over, or it was not refreshed for most of its TTL (by
the holder's own clock, counted from when the last successful write was *sent*, so the holder gives
up before anyone else may take over). Refresh and release never overlap (one mutex), so a refresh in
flight cannot make ``release`` miss the lock's current generation and leave it held for a TTL.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockState:
    """The lock object as last seen: who holds it and until when (None: nobody holds it)."""

    holder: str
    generation: int
    updated: float  # epoch seconds, set by the storage service
    ttl_seconds: int

    @property
    def expires_at(self) -> float:
        return self.updated + self.ttl_seconds

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at


def default_holder() -> str:
    """Who we are, for the lock's content and the logs: host, process and a unique suffix (a holder
    that finds its own name on the lock knows the lock is its own)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class GcsLock:
    def __init__(self, bucket: str, name: str, ttl_seconds: int, *, client=None, holder: str | None = None,
                 retry=None):
        from google.cloud.storage.retry import DEFAULT_RETRY

        if client is None:
            from common.storage import gcs_client

            client = gcs_client()
        self.bucket_name = bucket
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.holder = holder or default_holder()
        self.generation: int | None = None  # set while we hold the lock
        self._bucket = client.bucket(bucket)
        self._mutex = threading.Lock()  # refresh and release, one at a time
        # Every call gives up within a third of the TTL (the library's default retries for 120 s):
        # a refresh stuck in retries would hold up release and outlive the lease it should extend.
        self._timeout = max(1.0, ttl_seconds / 3)
        self._retry = retry or DEFAULT_RETRY.with_timeout(self._timeout)

    @property
    def location(self) -> str:
        return f"gs://{self.bucket_name}/{self.name}"

    @property
    def held(self) -> bool:
        return self.generation is not None

    def _payload(self) -> str:
        return json.dumps({"holder": self.holder, "ttl_seconds": self.ttl_seconds, "written_at": time.time()})

    def _write(self, if_generation_match: int) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        blob = self._bucket.blob(self.name)
        try:
            blob.upload_from_string(self._payload(), content_type="application/json", if_generation_match=if_generation_match,
                                    retry=self._retry, timeout=self._timeout)
        except (PreconditionFailed, NotFound):
            return False
        self.generation = blob.generation
        return True

    def state(self) -> LockState | None:
        """The lock as stored now, or None when there is no lock object."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        blob = self._bucket.get_blob(self.name, retry=self._retry, timeout=self._timeout)
        if blob is None:
            return None
        ttl = self.ttl_seconds
        holder = "?"
        try:
            content = json.loads(blob.download_as_bytes(if_generation_match=blob.generation, retry=self._retry,
                                                        timeout=self._timeout))
            holder = str(content.get("holder", "?"))
            # The holder's TTL rules its own lock: instances may be configured differently.
            ttl = int(content.get("ttl_seconds", ttl))
        except PreconditionFailed:
            return self.state()  # the holder refreshed it between the two calls: read the new one
        except NotFound:
            return None  # released between the two calls
        except (ValueError, TypeError):
            pass  # unreadable content: fall back to our TTL rather than wedge the fleet
        updated = (blob.updated or blob.time_created).timestamp()
        return LockState(holder=holder, generation=blob.generation, updated=updated, ttl_seconds=ttl)

    def try_acquire(self) -> bool:
        """Take the lock if it is free or expired; False if someone else holds it."""
        if self._write(if_generation_match=0):
            log.info("download lock %s taken by %s", self.location, self.holder)
            return True
        current = self.state()
        if current is None:
            # Released between our create and our look: one more try, still race-free.
            return self._write(if_generation_match=0)
        if current.holder == self.holder:
            # Our create landed but its reply was lost (the client's retry then got a 412): ours.
            self.generation = current.generation
            log.info("download lock %s taken by %s", self.location, self.holder)
            return True
        if not current.expired():
            return False
        if self._write(if_generation_match=current.generation):
            log.warning("download lock %s: took over from %s, whose lock expired %.0f s ago (holder crashed or stalled)",
                        self.location, current.holder, time.time() - current.expires_at)
            return True
        return False

    def refresh(self) -> bool:
        """Extend our lock's life; False if we no longer hold it (it expired and was taken over, or
        was released)."""
        with self._mutex:
            if self.generation is None:
                return False
            if self._write(if_generation_match=self.generation):
                return True
            current = self.state()
            if current is not None and current.holder == self.holder:
                self.generation = current.generation  # our refresh landed; only its reply was lost
                return True
            log.warning("download lock %s: lost it (another instance took it over after it expired)", self.location)
            self.generation = None
            return False

    def release(self) -> None:
        """Delete the lock if it is still ours; waits for a refresh in flight, so it deletes the
        generation that refresh wrote, not the one before."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with self._mutex:
            if self.generation is None:
                return
            try:
                self._bucket.blob(self.name).delete(if_generation_match=self.generation, retry=self._retry,
                                                    timeout=self._timeout)
            except NotFound:
                pass
            except PreconditionFailed:
                current = self.state()
                if current is not None and current.holder == self.holder:
                    # Still ours at a generation we did not see (a write whose reply was lost).
                    try:
                        self._bucket.blob(self.name).delete(if_generation_match=current.generation, retry=self._retry,
                                                            timeout=self._timeout)
                    except (NotFound, PreconditionFailed):
                        log.warning("download lock %s changed hands during release", self.location)
                else:
                    log.warning("download lock %s was no longer ours at release", self.location)
            finally:
                self.generation = None


class Lease:
    """Hold ``lock`` for a stretch of work: refresh it every third of its TTL in a thread, say when it
    is ``lost``, and release it on exit. ``acquired_at``: ``time.monotonic()`` taken just before the
    ``try_acquire`` that won (the storage service's clock started the TTL no earlier than that)."""

    # Give up this far before the TTL runs out by our clock: room for clock rates and a last chunk.
    MARGIN = 0.1

    def __init__(self, lock: GcsLock, *, acquired_at: float, every_seconds: float | None = None):
        self.lock = lock
        self._every = every_seconds or max(1.0, lock.ttl_seconds / 3)
        self._valid_until = acquired_at + lock.ttl_seconds * (1 - self.MARGIN)
        self._taken_over = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-lock-lease", daemon=True)

    @property
    def lost(self) -> bool:
        return self._taken_over.is_set() or time.monotonic() >= self._valid_until

    @property
    def why_lost(self) -> str:
        if self._taken_over.is_set():
            return "another instance took it over"
        return f"it could not be refreshed for {self.lock.ttl_seconds * (1 - self.MARGIN):.0f} s"

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            sent = time.monotonic()
            try:
                held = self.lock.refresh()
            except Exception:  # a storage hiccup: the next beat retries; `lost` turns true if none succeeds in time
                log.warning("download lock %s: refresh failed", self.lock.location, exc_info=True)
                continue
            if not held:
                if not self._stop.is_set():
                    self._taken_over.set()
                return
            self._valid_until = sent + self.lock.ttl_seconds * (1 - self.MARGIN)

    def __enter__(self) -> "Lease":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        try:
            self.lock.release()  # waits for a refresh in flight (same mutex), then deletes what is current
        except Exception:  # noqa: BLE001 - storage unreachable: the TTL frees the lock instead
            log.warning("download lock %s: release failed; it expires after %d s", self.lock.location,
                        self.lock.ttl_seconds, exc_info=True)
