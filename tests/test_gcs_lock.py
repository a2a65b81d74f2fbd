"""The cross-instance download lock against a real fake-gcs-server.

Expiry compares the lock object's ``updated`` time (set by the storage server) with the
instance's clock. The tests set that clock instead of sleeping past short TTLs, so a starved
process cannot see a fresh lock as expired: the TTLs are long, and only the clock moves.
"""

from __future__ import annotations

import time
import types

import pytest

from common import gcs_lock
from common.gcs_lock import GcsLock
from tests.fault_proxy import FaultProxy
from tests.hardening_helpers import client_for

TTL = 60


class Clock:
    """The instance's wall clock as gcs_lock sees it: real time until set, then where we put it."""

    def __init__(self):
        self.now: float | None = None

    def time(self) -> float:
        return self.now if self.now is not None else time.time()


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    # Only gcs_lock's view of the wall clock changes; the storage client keeps the real one.
    monkeypatch.setattr(gcs_lock, "time", types.SimpleNamespace(
        time=clock.time, monotonic=time.monotonic, sleep=time.sleep))
    return clock


def _lock(emulator, bucket, holder, ttl=TTL, client=None):
    return GcsLock(bucket.name, "locks/model.lock", ttl, client=client or emulator.client(), holder=holder)


def test_second_holder_is_refused_while_the_first_holds_it(gcs_emulator, gcs_bucket):
    first, second = _lock(gcs_emulator, gcs_bucket, "a"), _lock(gcs_emulator, gcs_bucket, "b")

    assert first.try_acquire()
    assert not second.try_acquire()
    assert second.state().holder == "a" and not second.held

    first.release()
    assert gcs_bucket.get_blob("locks/model.lock") is None
    assert second.try_acquire() and second.state().holder == "b"


def test_expired_lock_is_taken_over_by_exactly_one(gcs_emulator, gcs_bucket, clock):
    crashed = _lock(gcs_emulator, gcs_bucket, "crashed")
    assert crashed.try_acquire()
    b, c = _lock(gcs_emulator, gcs_bucket, "b"), _lock(gcs_emulator, gcs_bucket, "c")
    stale = b.state()
    clock.now = stale.updated + TTL - 1
    assert not b.try_acquire()  # a second before expiry: still the crashed holder's
    clock.now = stale.updated + TTL + 1  # the holder died without releasing; its TTL ran out

    assert b.try_acquire()
    taken = c.state()
    assert taken.holder == "b" and taken.generation != stale.generation
    for seconds in (0, TTL / 2, TTL - 1):  # b's takeover is fresh whenever c looks within its TTL
        clock.now = taken.updated + seconds
        assert not c.try_acquire()
    assert c.state().holder == "b"

    # The crashed holder, back from the dead, cannot refresh or delete b's lock.
    assert not crashed.refresh()
    crashed.release()
    assert c.state().holder == "b"


def test_refresh_keeps_a_long_holder_alive(gcs_emulator, gcs_bucket, clock):
    holder = _lock(gcs_emulator, gcs_bucket, "slow")
    other = _lock(gcs_emulator, gcs_bucket, "other")
    assert holder.try_acquire()
    first = other.state()
    # The storage server stamps the refresh: let its clock pass the first stamp by a second.
    while time.time() < first.updated + 1.05:
        time.sleep(0.05)
    assert holder.refresh()
    refreshed = other.state()
    assert refreshed.updated >= first.updated + 1

    clock.now = first.updated + TTL + 0.5  # past the first TTL, within the refreshed one
    assert first.expired(clock.now) and not refreshed.expired(clock.now)
    assert not other.try_acquire()
    clock.now = refreshed.updated + TTL + 0.5  # past the refreshed TTL too: the holder stalled
    assert other.try_acquire() and other.state().holder == "other"
    assert not holder.refresh()


def test_a_lock_whose_create_reply_was_lost_is_recognised_as_ours(gcs_emulator, gcs_bucket):
    # Our create reaches storage, but its reply is lost on the way back (the fault proxy's "lost"
    # mode); the client's retry then meets our own object (412).
    proxy = FaultProxy(gcs_emulator.url).start()
    lost = []

    def lose_the_first_create(method, path, body):
        if method == "POST" and "/upload/" in path and not lost:
            lost.append(path)
            return "lost"
        return None

    proxy.before = lose_the_first_create
    try:
        me = _lock(gcs_emulator, gcs_bucket, "me", client=client_for(proxy.url))
        assert me.try_acquire()
    finally:
        proxy.stop()
    assert lost and proxy.injected["lost"] == 1
    assert me.state().holder == "me" and me.generation == me.state().generation
    assert not _lock(gcs_emulator, gcs_bucket, "someone-else").try_acquire()
    me.release()
    assert gcs_bucket.get_blob("locks/model.lock") is None
