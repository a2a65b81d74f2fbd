"""Per-page claims with a heartbeat: at most one live worker OCRs a page at a time.

A claim is a small object ``<prefix>/claims/NNNN`` = ``{"owner", "claimed_at"}`` created with
``if_generation_match=0``: only its creator OCRs the page. While a worker holds claims, a heartbeat
thread rewrites each one every third of ``CLAIM_TTL_SECONDS`` (compare-and-swap on the generation it
read, and only while the owner is still us), so ``claimed_at`` stays fresh however slow a page is.
A claim not refreshed for ``CLAIM_TTL_SECONDS`` belongs to a dead worker and is taken over with a
compare-and-swap on its generation, so of several takers exactly one wins. Pages themselves are
written with ``if_generation_match=0``, so even a takeover can never write a page twice.

A claim counts its takeovers: each one means a worker died while it held the page. The caller
gives a page up (``takeovers(number)``) once that happened too often, so a page that kills its
worker every time (a crash, out of memory) cannot keep its job running forever.

The heartbeat stops refreshing a claim held longer than ``max_hold_seconds`` (the task's dispatch
deadline): a worker whose OCR thread hangs while its heartbeat thread lives must not hold a page
forever.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from common.errors import ObjectNotFound
from common.job_layout import claim_name
from common.storage import ObjectStore

log = logging.getLogger("gnosis.jobs")


class PageClaims:
    def __init__(self, store: ObjectStore, prefix: str, owner: str, ttl_seconds: int, clock=time.time,
                 max_hold_seconds: float | None = None):
        self.store, self.prefix, self.owner, self.ttl, self.clock = store, prefix, owner, ttl_seconds, clock
        self.max_hold = max_hold_seconds
        self.held: set[int] = set()
        self._since: dict[int, float] = {}
        self._takeovers: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def name(self, number: int) -> str:
        return claim_name(self.prefix, number)

    def _body(self, number: int) -> bytes:
        return json.dumps({"owner": self.owner, "claimed_at": self.clock(),
                           "takeovers": self._takeovers.get(number, 0)}).encode()

    def takeovers(self, number: int) -> int:
        """How many earlier holders of this page's claim died holding it."""
        return self._takeovers.get(number, 0)

    def _read(self, number: int):
        """(owner, age in seconds, generation, takeovers) of the current claim, or None when there is none."""
        try:
            current = self.store.read(self.name(number))
        except ObjectNotFound:
            return None
        try:
            claim = json.loads(current.data)
            return (claim["owner"], self.clock() - float(claim["claimed_at"]), current.generation,
                    int(claim.get("takeovers", 0)))
        except (ValueError, KeyError, TypeError):
            return "unreadable", float("inf"), current.generation, 0

    def acquire(self, number: int) -> bool:
        """Claim a page: True if this owner now holds it, False if a live claim of another owner does."""
        self._takeovers.pop(number, None)
        if self.store.write(self.name(number), self._body(number), "application/json", if_absent=True):
            self._hold(number)
            return True
        current = self._read(number)
        if current is None:
            # Released between our write and our read: the page has just landed; the caller looks again.
            return False
        owner, age, generation, takeovers = current
        if owner == self.owner:
            # Our own write landed but its reply was lost, and the client's retry met the object
            # it had just created (412). Without this the page would wait out CLAIM_TTL_SECONDS.
            self._hold(number)
            return True
        if age <= self.ttl:
            return False
        self._takeovers[number] = takeovers + 1
        if not self.store.write(self.name(number), self._body(number), "application/json", if_generation=generation):
            self._takeovers.pop(number, None)
            return False
        self._hold(number)
        log.warning("page %d: took over a claim not refreshed for %.0f s from %s (over CLAIM_TTL_SECONDS=%d; "
                    "presumed dead)", number, age, owner, self.ttl, extra={"fields": {"page": number, "previous_owner": owner}})
        return True

    def held_by_others(self, number: int) -> bool:
        """Is there a live claim on this page that is not ours?"""
        current = self._read(number)
        return current is not None and current[0] != self.owner and current[1] <= self.ttl

    def release(self, number: int) -> None:
        with self._lock:
            if number not in self.held:
                return
            self.held.discard(number)
        self.store.delete(self.name(number))

    def release_all(self) -> None:
        self._stop.set()
        for number in list(self.held):
            try:
                self.release(number)
            except Exception:  # noqa: BLE001 - best effort on the way out; the TTL covers the rest
                log.warning("could not release the claim on page %d; it expires after CLAIM_TTL_SECONDS", number)

    # --- heartbeat ---------------------------------------------------------------------------

    def _hold(self, number: int) -> None:
        with self._lock:
            self.held.add(number)
            self._since[number] = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name=f"claims-heartbeat-{self.owner}", daemon=True)
                self._thread.start()

    def _beat(self) -> None:
        interval = max(0.2, self.ttl / 3)
        while not self._stop.wait(interval):
            for number in list(self.held):
                try:
                    self.refresh(number)
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried on the next one
                    log.warning("page %d: could not refresh the claim: %s", number, exc)

    def refresh(self, number: int) -> bool:
        """Make the claim fresh again; False (and no longer held) if someone else holds it now."""
        current = self._read(number)
        if current is None or number not in self.held:
            return False
        owner, _, generation, _ = current
        held_for = time.monotonic() - self._since.get(number, time.monotonic())
        if self.max_hold is not None and held_for > self.max_hold:
            log.warning("page %d: held for %.0f s, over the dispatch deadline; no longer refreshed", number, held_for,
                        extra={"fields": {"page": number}})
            return False
        if owner != self.owner:
            with self._lock:
                self.held.discard(number)
            log.warning("page %d: our claim was taken over by %s; whoever writes the page first keeps it",
                        number, owner, extra={"fields": {"page": number}})
            return False
        return self.store.write(self.name(number), self._body(number), "application/json", if_generation=generation)
