"""The cross-instance download lock against a real fake-gcs-server."""

from __future__ import annotations

import time

from common.gcs_lock import GcsLock


def _lock(emulator, bucket, holder, ttl=60):
    return GcsLock(bucket.name, "locks/model.lock", ttl, client=emulator.client(), holder=holder)


def test_second_holder_is_refused_while_the_first_holds_it(gcs_emulator, gcs_bucket):
    first, second = _lock(gcs_emulator, gcs_bucket, "a"), _lock(gcs_emulator, gcs_bucket, "b")

    assert first.try_acquire()
    assert not second.try_acquire()
    assert second.state().holder == "a" and not second.held

    first.release()
    assert gcs_bucket.get_blob("locks/model.lock") is None
    assert second.try_acquire() and second.state().holder == "b"


def test_expired_lock_is_taken_over_by_exactly_one(gcs_emulator, gcs_bucket):
    crashed = _lock(gcs_emulator, gcs_bucket, "crashed", ttl=1)
    assert crashed.try_acquire()
    time.sleep(1.5)  # the holder died without releasing

    b, c = _lock(gcs_emulator, gcs_bucket, "b", ttl=1), _lock(gcs_emulator, gcs_bucket, "c", ttl=1)
    assert b.try_acquire()
    assert not c.try_acquire()  # b's takeover is fresh
    assert c.state().holder == "b"

    # The crashed holder, back from the dead, cannot refresh or delete b's lock.
    assert not crashed.refresh()
    crashed.release()
    assert c.state().holder == "b"


def test_refresh_keeps_a_long_holder_alive(gcs_emulator, gcs_bucket):
    holder = _lock(gcs_emulator, gcs_bucket, "slow", ttl=2)
    other = _lock(gcs_emulator, gcs_bucket, "other", ttl=2)
    assert holder.try_acquire()
    for _ in range(3):
        time.sleep(0.8)
        assert holder.refresh()
    assert not other.try_acquire()  # 2.4 s after the start, past the first TTL, still held
    holder.release()
    assert other.try_acquire()


def test_a_lock_whose_create_reply_was_lost_is_recognised_as_ours(gcs_emulator, gcs_bucket):
    # Our first create landed, but its reply was lost; the client's retry then got a 412.
    landed = _lock(gcs_emulator, gcs_bucket, "me")
    assert landed.try_acquire()
    retrying = _lock(gcs_emulator, gcs_bucket, "me")  # the same holder, not knowing it holds the lock
    assert retrying.try_acquire() and retrying.generation == landed.generation
    assert not _lock(gcs_emulator, gcs_bucket, "someone-else").try_acquire()
    retrying.release()
    assert gcs_bucket.get_blob("locks/model.lock") is None
