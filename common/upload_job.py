"""The on-upload job: one uploaded object in, its results out, whatever the platform redelivers.

    skip? -> finished already? -> download (pinned generation) -> open -> for each missing page:
    claim -> OCR -> pages/NNNN.md -> wait for pages other deliveries hold -> document.md ->
    result.json (only the first finisher's lands) -> drop leftover claims

Everything is keyed by the object's generation under ``<RESULTS_PREFIX>/<name>/<generation>/``,
so a redelivered event finds its own results and an overwritten upload gets fresh ones.

Why per-page claims: two deliveries of one event (Eventarc delivers at least once) may run at the
same time on different instances. A page is OCR'd only by the delivery that created its claim
object ``claims/NNNN`` with ``if_generation_match=0``; the other one moves on to the next page, then
waits for the pages it could not claim. A claim older than CLAIM_TTL_SECONDS belongs to a crashed
worker and is taken over with a compare-and-swap on its generation, so exactly one taker wins.
Pages are written with ``if_generation_match=0`` too, and a retry starts at the first missing page.

Error policy: an ``OcrError`` marked permanent (corrupt, encrypted, too many pages, wrong type,
too large) becomes a ``failed`` result.json and the event is acknowledged. Anything else (storage
5xx/429 after the client's own retries, ModelUnavailable, PagesInProgress) propagates so the
platform retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from common.config import Settings
from common.documents import EXTENSIONS, Document, Limits, is_supported_content_type, open_document
from common.engines import OcrEngine, get_engine
from common.errors import CorruptDocument, ObjectNotFound, OcrError, TooLarge
from common.logs import log_context
from common.pipeline import (
    DocumentResult, check_some_page_read, claim_batch_size, document_engine, ocr_pages, to_markdown,
)
from common.results import failed_manifest, manifest, page_name, read_page, write_manifest, write_page
from common.storage import GcsStore, ObjectStore

log = logging.getLogger("gnosis.on_upload")

FINALIZED = "google.cloud.storage.object.v1.finalized"
POLL_SECONDS = 0.5


class PagesInProgress(OcrError):
    """Other live deliveries still hold claims on pages after CLAIM_WAIT_SECONDS: retry later."""

    status, code, permanent = 503, "pages_in_progress", False


@dataclass(frozen=True)
class Outcome:
    """What one delivery did: ``done``, ``failed`` (permanent, recorded), ``skipped`` or ``finished_already``."""

    status: str
    reason: str = ""
    prefix: str | None = None
    pages_ocrd: tuple[int, ...] = ()


# GCS object names are at most 1024 bytes; the longest name we add under a prefix is /pages/NNNN.md.
_MAX_OBJECT_NAME_BYTES = 1024
_LONGEST_SUFFIX_BYTES = len("/pages/0000.md")


def results_prefix(settings: Settings, name: str, generation: int | str) -> str:
    """``<RESULTS_PREFIX>/<object name>/<generation>``: where one upload's results live.

    An object name too long to fit (GCS names stop at 1024 bytes) is cut and given a hash of the
    whole name, so two long names never share results; result.json keeps the full name.
    """
    def join(object_part: str) -> str:
        return "/".join(part for part in (settings.results_prefix, object_part, str(generation)) if part)

    prefix = join(name)
    overflow = len(prefix.encode()) + _LONGEST_SUFFIX_BYTES - _MAX_OBJECT_NAME_BYTES
    if overflow <= 0:
        return prefix
    digest = "~" + hashlib.sha256(name.encode()).hexdigest()[:16]
    keep = name.encode()[: max(0, len(name.encode()) - overflow - len(digest))].decode("utf-8", "ignore")
    return join(keep + digest)


def skip_reason(*, bucket: str, name: str, size: int | None, content_type: str | None, settings: Settings) -> str | None:
    """Why an object needs no work at all, decided from the event alone (no download); else None."""
    prefix = settings.results_prefix
    if prefix and (name == prefix or name.startswith(prefix + "/")):
        # Our own outputs (pages, claims, result.json) raise events when results share the bucket.
        return f"under the results prefix {prefix}/: an output of this function"
    if name.endswith("/"):
        return "a folder placeholder"
    if size is not None and int(size) == 0:
        return "an empty object (0 bytes)"
    # Either signal is enough: gsutil often uploads PDFs as application/octet-stream, and scanners
    # name files without extensions. Content sniffing after download decides for real.
    if not name.lower().endswith(EXTENSIONS) and not is_supported_content_type(content_type):
        return (f"not a PDF or image by name or content type ({content_type or 'no content type'}); "
                f"supported extensions: {' '.join(EXTENSIONS)}")
    return None


def event_age_seconds(event_time: str | None, now: float) -> float | None:
    if not event_time:
        return None
    try:
        stamp = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return now - stamp.timestamp()


def process_object(
    *,
    bucket: str,
    name: str,
    generation: int | str,
    settings: Settings,
    size: int | str | None = None,
    content_type: str | None = None,
    event_time: str | None = None,
    engine: OcrEngine | None = None,
    store: ObjectStore | None = None,
    source: ObjectStore | None = None,
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """OCR ``gs://bucket/name`` at ``generation`` into the results layout; see the module docstring.

    ``engine`` (default: the process-wide one for OCR_ENGINE, loaded only if a page needs OCR),
    ``store`` (results; default the RESULTS_BUCKET or ``bucket``) and ``source`` (default
    ``bucket``) are injectable for tests.
    """
    with log_context(bucket=bucket, object=name, generation=str(generation)):
        if not bucket or not name or not generation:
            log.error("skipped: the event names no bucket, object or generation; nothing to do")
            return Outcome("skipped", "malformed event")
        reason = skip_reason(bucket=bucket, name=name, size=size, content_type=content_type, settings=settings)
        if reason:
            log.info("skipped: %s", reason)
            return Outcome("skipped", reason)
        age = event_age_seconds(event_time, clock())
        if age is not None and age > settings.max_event_age_seconds:
            log.warning("dropped: the event is %.0f s old, over MAX_EVENT_AGE_SECONDS=%d",
                        age, settings.max_event_age_seconds, extra={"fields": {"event_age_seconds": round(age)}})
            return Outcome("skipped", "event too old")
        store = store or GcsStore(settings.results_bucket or bucket)
        source = source or GcsStore(bucket)
        prefix = results_prefix(settings, name, generation)
        job = _Job(bucket, name, int(generation), settings, engine, store, source, prefix, clock)
        return job.run(size)


class _Job:
    def __init__(self, bucket, name, generation, settings, engine, store, source, prefix, clock):
        self.bucket, self.name, self.generation = bucket, name, generation
        self.settings, self.engine, self.store, self.source = settings, engine, store, source
        self.prefix, self.clock = prefix, clock
        self.uri = f"gs://{bucket}/{name}#{generation}"
        # One owner per delivery, so a second delivery in the same process is a stranger too.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.claims = PageClaims(store, prefix, self.worker, settings.claim_ttl_seconds, clock)
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.ocrd: list[int] = []

    def run(self, size) -> Outcome:
        if self.store.exists(f"{self.prefix}/result.json"):
            log.info("nothing to do: results exist at %s/%s", self.store.location, self.prefix)
            return Outcome("finished_already", prefix=self.prefix)
        try:
            if size is not None and int(size) > self.settings.max_upload_bytes:
                raise TooLarge(f"the document is {int(size)} bytes; the limit is "
                               f"{self.settings.max_upload_bytes} (MAX_UPLOAD_BYTES)")
            data = self._download()
            if data is None:
                return Outcome("skipped", "generation gone", prefix=self.prefix)
            opened = time.perf_counter()
            with open_document(data, Limits.from_settings(self.settings)) as document:
                self.timings["open_seconds"] = round(time.perf_counter() - opened, 3)
                self.page_count = document.page_count
                self._ocr_missing_pages(document)
        except OcrError as exc:
            self.claims.release_all()
            if not exc.permanent:
                raise
            return self._fail(exc)
        except BaseException:
            # A retry should not have to wait CLAIM_TTL_SECONDS for claims this delivery abandons.
            self.claims.release_all()
            raise
        return self._finish()

    def _download(self) -> bytes | None:
        started = time.perf_counter()
        try:
            stored = self.source.read(self.name, max_bytes=self.settings.max_upload_bytes, generation=self.generation)
        except ObjectNotFound:
            log.warning("skipped: generation %s of the object no longer exists (overwritten or deleted "
                        "since the event); a newer generation gets its own event", self.generation)
            return None
        self.timings["download_seconds"] = round(time.perf_counter() - started, 3)
        log.info("downloaded %d bytes", len(stored.data), extra={"fields": {"bytes": len(stored.data),
                 "seconds": self.timings["download_seconds"]}})
        return stored.data

    def _finished_pages(self) -> set[int]:
        names = self.store.list(f"{self.prefix}/pages/")
        return {int(n.rsplit("/", 1)[1].split(".")[0]) for n in names if n.endswith(".md")}

    def _ocr_missing_pages(self, document: Document) -> None:
        count = document.page_count
        waiting_since: float | None = None
        while True:
            done = self._finished_pages()
            missing = [n for n in range(1, count + 1) if n not in done]
            if not missing:
                return
            if not self.ocrd and waiting_since is None and done:
                log.info("resuming: %d of %d pages exist, %d to go", len(done), count, len(missing),
                         extra={"fields": {"first_missing_page": missing[0]}})
            progressed = False
            batch: list[int] = []
            for number in missing:
                if not self.claims.acquire(number):
                    continue
                # The claim may be new only because a finisher cleaned up after the page landed.
                if self.store.exists(page_name(self.prefix, number)):
                    self.claims.release(number)
                    continue
                batch.append(number)
                if len(batch) >= claim_batch_size(self.settings, self.engine):
                    self._ocr_batch(document, batch)
                    batch, progressed = [], True
            if batch:
                self._ocr_batch(document, batch)
                progressed = True
            if progressed:
                waiting_since = None
                continue
            # Every missing page is held by a live claim elsewhere: wait for it, or for its expiry.
            now = self.clock()
            if waiting_since is None:
                waiting_since = now
                log.info("waiting for pages %s, claimed by another delivery", _ranges(missing),
                         extra={"fields": {"pages_waiting": len(missing)}})
            if now - waiting_since > self.settings.claim_wait_seconds:
                raise PagesInProgress(
                    f"pages {_ranges(missing)} are still claimed by another delivery after "
                    f"{self.settings.claim_wait_seconds} s (CLAIM_WAIT_SECONDS); retry later"
                )
            time.sleep(POLL_SECONDS)

    def _engine(self) -> OcrEngine:
        if self.engine is None:
            self.engine = get_engine(self.settings)
        return self.engine

    def _ocr_batch(self, document: Document, numbers: list[int]) -> None:
        # The pipeline reads each page from its text layer or OCRs it; the engine is built (and
        # loaded) only when a page needs OCR.
        for page in ocr_pages(document, numbers, self.engine or self._engine, settings=self.settings):
            extra = {"worker": self.worker}
            if page.source == "ocr" and self.engine is not None:
                extra.update(engine=self.engine.name, model=self.engine.model, revision=self.engine.revision)
            wrote = write_page(self.store, self.prefix, page, extra_metadata=extra, if_absent=True)
            self.ocrd.append(page.number)
            fields = {"page": page.number, "pages_total": document.page_count, "seconds": page.seconds,
                      "worker": self.worker}
            if page.error:
                log.warning("page %d done with an error: %s", page.number, page.error, extra={"fields": fields})
            else:
                log.info("page %d done", page.number, extra={"fields": fields})
            if not wrote:
                log.warning("page %d was written by another delivery first; kept theirs", page.number,
                            extra={"fields": fields})
            self.claims.release(page.number)

    def _finish(self) -> Outcome:
        count = self.page_count
        pages = [read_page(self.store, self.prefix, n) for n in range(1, count + 1)]
        try:
            check_some_page_read(pages)
        except CorruptDocument as exc:  # as POST /ocr would say
            return self._fail(exc)
        # The pages say which engine made them: a finisher that OCR'd nothing has no engine loaded.
        first_ocrd = next((p.number for p in pages if p.source == "ocr"), None)
        meta = self.store.read(page_name(self.prefix, first_ocrd)).metadata if first_ocrd else {}
        name, model, revision = document_engine(pages, self.engine)
        result = DocumentResult(
            page_count=count,
            pages=pages,
            engine=meta.get("engine") or name,
            model=meta.get("model") or model,
            revision=meta.get("revision") or revision,
            timings={
                **self.timings,
                "ocr_seconds": round(sum(p.seconds for p in pages), 3),
                "total_seconds": round(time.perf_counter() - self.started, 3),
            },
        )
        self.store.write(f"{self.prefix}/document.md", to_markdown(pages).encode(), "text/markdown; charset=utf-8")
        body = {**manifest(self.uri, result), **self._identity(), "pages_ocrd_by_this_delivery": sorted(self.ocrd)}
        wrote = write_manifest(self.store, self.prefix, body, if_absent=True)
        self._drop_leftover_claims()
        fields = {"pages": count, "pages_ocrd": len(self.ocrd), "seconds": result.timings["total_seconds"],
                  "failed_pages": result.failed_pages}
        if wrote:
            log.info("done: %d pages -> %s/%s/result.json", count, self.store.location, self.prefix,
                     extra={"fields": fields})
        else:
            log.info("done: another delivery wrote result.json first", extra={"fields": fields})
        return Outcome("done", prefix=self.prefix, pages_ocrd=tuple(sorted(self.ocrd)))

    def _fail(self, exc: OcrError) -> Outcome:
        extra = {**self._identity(), "timings": {**self.timings,
                 "total_seconds": round(time.perf_counter() - self.started, 3)}}
        if getattr(self, "page_count", None):
            extra["page_count"] = self.page_count
        body = failed_manifest(self.uri, exc.code, exc.message, **extra)
        write_manifest(self.store, self.prefix, body, if_absent=True)
        self._drop_leftover_claims()
        log.warning("failed for good (%s): %s; wrote %s/%s/result.json and acknowledged the event",
                    exc.code, exc.message, self.store.location, self.prefix, extra={"fields": {"code": exc.code}})
        return Outcome("failed", f"{exc.code}: {exc.message}", prefix=self.prefix)

    def _drop_leftover_claims(self) -> None:
        for leftover in self.store.list(f"{self.prefix}/claims/"):
            self.store.delete(leftover)

    def _identity(self) -> dict:
        return {"bucket": self.bucket, "object": self.name, "generation": str(self.generation)}


class PageClaims:
    """Per-page claim objects ``<prefix>/claims/NNNN``: ``{"owner", "claimed_at"}`` (small, so the
    emulator honours their preconditions too)."""

    def __init__(self, store: ObjectStore, prefix: str, owner: str, ttl_seconds: int, clock=time.time):
        self.store, self.prefix, self.owner, self.ttl, self.clock = store, prefix, owner, ttl_seconds, clock
        self.held: set[int] = set()

    def name(self, number: int) -> str:
        return f"{self.prefix}/claims/{number:04d}"

    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "claimed_at": self.clock()}).encode()

    def acquire(self, number: int) -> bool:
        """Claim a page: True if this owner now holds it, False if a live claim of another owner does."""
        name = self.name(number)
        if self.store.write(name, self._body(), "application/json", if_absent=True):
            self.held.add(number)
            return True
        try:
            current = self.store.read(name)
        except ObjectNotFound:
            # Released between our write and our read: the page has just landed; the caller looks again.
            return False
        try:
            claim = json.loads(current.data)
            owner, age = claim["owner"], self.clock() - float(claim["claimed_at"])
        except (ValueError, KeyError, TypeError):
            owner, age = "unreadable", float("inf")
        if owner == self.owner:
            # Our own write landed but its reply was lost, and the client's retry met the object
            # it had just created (412). Without this the page would wait out CLAIM_TTL_SECONDS.
            self.held.add(number)
            return True
        if age <= self.ttl:
            return False
        # Compare-and-swap on the generation we read: of several takers, exactly one wins.
        if not self.store.write(name, self._body(), "application/json", if_generation=current.generation):
            return False
        self.held.add(number)
        log.warning("page %d: took over a claim %.0f s old from %s (over CLAIM_TTL_SECONDS=%d; presumed crashed)",
                    number, age, owner, self.ttl, extra={"fields": {"page": number, "previous_owner": owner}})
        return True

    def release(self, number: int) -> None:
        if number in self.held:
            self.held.discard(number)
            self.store.delete(self.name(number))

    def release_all(self) -> None:
        for number in list(self.held):
            try:
                self.release(number)
            except Exception:  # noqa: BLE001 - best effort on the way out; the TTL covers the rest
                log.warning("could not release the claim on page %d; it expires after CLAIM_TTL_SECONDS", number)


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3,5', for log lines."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(f"{start}-{n}" if n != start else str(n))
            start = None
    return ",".join(parts)
