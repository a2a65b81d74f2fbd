"""Running one chunk of a job: OCR its missing pages, write each once, then try to complete the job.

    list pages/ -> for each missing page: claim -> OCR -> pages/NNNN.md (if absent) -> release
    -> wait for pages other live workers hold -> complete_if_ready

A chunk delivered twice, or retried after a crash, finds the pages already written and OCRs only
the missing ones (resume at the first missing page). A page held by another live worker (whose
heartbeat keeps its claim fresh) is waited for, up to CLAIM_WAIT_SECONDS, then ``PagesInProgress``
asks for a retry later; a claim whose heartbeat stopped is taken over after CLAIM_TTL_SECONDS.

A chunk that cannot succeed does not leave its job running forever: on a permanent error (the
source is gone), or on any error in the queue's last attempt (``final_attempt``), its unfinished
pages are written as failed pages with the reason, and completion goes on as for any page.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Callable

from common import job_layout
from common.claims import PageClaims
from common.config import Settings
from common.documents import Document, Limits, open_document
from common.engines import OcrEngine, get_engine
from common.errors import OcrError
from common.job_complete import complete_if_ready
from common.job_record import JobRecord, publish_status
from common.pipeline import PageResult, claim_batch_size, ocr_pages
from common.results import write_page
from common.storage import GcsStore, ObjectStore

log = logging.getLogger("gnosis.jobs")

POLL_SECONDS = 0.5


class PagesInProgress(OcrError):
    """Other live workers still hold claims on pages after CLAIM_WAIT_SECONDS: retry later."""

    status, code, permanent = 503, "pages_in_progress", False


def new_worker_id() -> str:
    # One per delivery or task, so a second delivery in the same process is a stranger too.
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ChunkRunner:
    """One worker's pass over chunks of one job (an in-process delivery runs every chunk through one
    runner; a chunk task runs one). ``document`` is an open document when the caller has one;
    otherwise the source is downloaded (pinned generation) the first time a page needs OCR."""

    def __init__(self, store: ObjectStore, record: JobRecord, settings: Settings, *,
                 engine: OcrEngine | None = None, document: Document | None = None, data: bytes | None = None,
                 source: ObjectStore | None = None, on_completed: Callable[[JobRecord], None] | None = None,
                 clock: Callable[[], float] = time.time):
        self.store, self.record, self.settings, self.engine = store, record, settings, engine
        self.prefix = record.prefix
        self._document, self._data, self._source, self._opened = document, data, source, None
        self.on_completed, self.clock = on_completed, clock
        self.worker = new_worker_id()
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.ocrd: list[int] = []

    # --- one chunk ---------------------------------------------------------------------------

    def run(self, index: int, *, final_attempt: bool = False, attempt: int = 1) -> str:
        """OCR chunk ``index``; returns the completion outcome ('completed', 'completed_already',
        'waiting'). Transient errors raise (the queue or the platform retries), except on the
        final attempt."""
        numbers = self.record.chunks[index]
        if self.store.exists(f"{self.prefix}/{job_layout.RESULT}"):
            log.info("nothing to do: the job has ended (result.json exists)")
            publish_status(self.store, self.prefix, unless_final=True)
            return "completed_already"
        claims = PageClaims(self.store, self.prefix, self.worker, self.settings.claim_ttl_seconds, self.clock,
                            max_hold_seconds=self.settings.tasks_dispatch_deadline_seconds)
        try:
            self._ocr_missing(numbers, claims)
        except OcrError as exc:
            claims.release_all()
            if not (exc.permanent or final_attempt):
                raise
            self._record_failed(numbers, claims, f"{exc.code}: {exc.message}")
        except Exception as exc:
            claims.release_all()
            if not final_attempt:
                raise
            self._record_failed(numbers, claims, f"chunk_failed: {type(exc).__name__}: {exc} "
                                f"(attempt {attempt} of TASKS_MAX_ATTEMPTS={self.settings.tasks_max_attempts})")
        finally:
            claims.release_all()
        timings = {**self.timings, "total_seconds": round(time.perf_counter() - self.started, 3)}
        completion = complete_if_ready(self.store, self.record, pages_ocrd=self.ocrd, timings=timings,
                                       engine=self.engine, on_completed=self.on_completed)
        publish_status(self.store, self.prefix, unless_final=completion == "completed_already")
        return completion

    def close(self) -> None:
        if self._opened is not None:
            self._opened.__exit__(None, None, None)
            self._opened = None

    def _ocr_missing(self, numbers: list[int], claims: PageClaims) -> None:
        waiting_since: float | None = None
        first_look = True
        while True:
            done = job_layout.pages_present(self.store, self.prefix)
            missing = [n for n in numbers if n not in done]
            if not missing:
                return
            if first_look and len(missing) < len(numbers):
                log.info("resuming: %d of %d pages of this chunk exist, %d to go", len(numbers) - len(missing),
                         len(numbers), len(missing), extra={"fields": {"first_missing_page": missing[0]}})
            first_look = False
            progressed = False
            batch: list[int] = []
            for number in missing:
                if not claims.acquire(number):
                    continue
                # The claim may be new only because another worker released it after the page landed.
                if self.store.exists(job_layout.page_name(self.prefix, number)):
                    claims.release(number)
                    continue
                if claims.takeovers(number) >= max(1, self.settings.tasks_max_attempts - 1):
                    self._give_up(number, claims, f"worker_died: {claims.takeovers(number)} workers died while "
                                  f"OCR'ing this page (TASKS_MAX_ATTEMPTS={self.settings.tasks_max_attempts})")
                    continue
                batch.append(number)
                if len(batch) >= claim_batch_size(self.settings, self.engine):
                    self._ocr_batch(batch, claims)
                    batch, progressed = [], True
            if batch:
                self._ocr_batch(batch, claims)
                progressed = True
            if progressed:
                waiting_since = None
                continue
            # Every missing page is held by a live claim elsewhere: wait for it, or for its expiry.
            now = self.clock()
            if waiting_since is None:
                waiting_since = now
                log.info("waiting for pages %s, claimed by another worker", ranges(missing),
                         extra={"fields": {"pages_waiting": len(missing)}})
            if now - waiting_since > self.settings.claim_wait_seconds:
                raise PagesInProgress(
                    f"pages {ranges(missing)} are still claimed by another worker after "
                    f"{self.settings.claim_wait_seconds} s (CLAIM_WAIT_SECONDS); retry later"
                )
            time.sleep(POLL_SECONDS)

    def _engine(self) -> OcrEngine:
        if self.engine is None:
            self.engine = get_engine(self.settings)
        return self.engine

    def _ocr_batch(self, numbers: list[int], claims: PageClaims) -> None:
        document = self.document()
        # The pipeline reads each page from its text layer or OCRs it; the engine is built and
        # loaded (pipeline.load_engine: its faults are EngineFailed, a retry) only when a page
        # needs OCR. The model wait stays well inside the task's dispatch deadline.
        wait = min(self.settings.model_wait_seconds, self.settings.tasks_dispatch_deadline_seconds / 2)
        for page in ocr_pages(document, numbers, self.engine or self._engine, settings=self.settings,
                              model_wait_seconds=wait):
            extra = {}
            if page.source == "ocr" and self.engine is not None:
                # Read only now: a vlm knows its revision once loaded.
                extra.update(engine=self.engine.name, model=self.engine.model, revision=self.engine.revision)
            self._write(page, extra, claims)

    def _write(self, page: PageResult, extra: dict, claims: PageClaims) -> None:
        extra = {**extra, "worker": self.worker, "written_at": str(round(time.time(), 3))}
        wrote = job_layout_write(self.store, self.prefix, page, extra)
        fields = {"page": page.number, "pages_total": len(self.record.pages), "seconds": page.seconds,
                  "worker": self.worker}
        if wrote or self._ours(page.number):
            self.ocrd.append(page.number)
            if page.error:
                log.warning("page %d done with an error: %s", page.number, page.error, extra={"fields": fields})
            else:
                log.info("page %d done", page.number, extra={"fields": fields})
            if not wrote:
                log.info("page %d: our write landed but its reply was lost; the page is ours", page.number,
                         extra={"fields": fields})
        else:
            log.warning("page %d was written by another worker first; kept theirs", page.number, extra={"fields": fields})
        claims.release(page.number)

    def _ours(self, number: int) -> bool:
        try:
            return self.store.read(job_layout.page_name(self.prefix, number)).metadata.get("worker") == self.worker
        except OcrError:
            return False

    def _give_up(self, number: int, claims: PageClaims, reason: str) -> None:
        """A page that killed every worker that tried it: written as failed, not tried again."""
        job_layout_write(self.store, self.prefix, PageResult(number, "", error=reason),
                         {"worker": self.worker, "gave_up": "1", "written_at": str(round(time.time(), 3))})
        log.warning("page %d given up: %s", number, reason, extra={"fields": {"page": number}})
        claims.release(number)

    def _record_failed(self, numbers: list[int], claims: PageClaims, reason: str) -> None:
        """Write the chunk's unfinished pages as failed (if absent), except those a live worker holds."""
        done = job_layout.pages_present(self.store, self.prefix)
        failed = []
        for number in numbers:
            if number in done or claims.held_by_others(number):
                continue
            page = PageResult(number, "", error=reason)
            if job_layout_write(self.store, self.prefix, page, {"worker": self.worker, "gave_up": "1",
                                                                "written_at": str(round(time.time(), 3))}):
                failed.append(number)
        log.warning("chunk gave up on pages %s: %s", ranges(failed) or "(none left)", reason,
                    extra={"fields": {"pages_failed": len(failed)}})

    def document(self) -> Document:
        if self._document is None:
            data = self._data if self._data is not None else self._download()
            started = time.perf_counter()
            self._opened = open_document(data, Limits.from_settings(self.settings))
            self._document = self._opened.__enter__()
            self.timings["open_seconds"] = round(time.perf_counter() - started, 3)
        return self._document

    def _download(self) -> bytes:
        record = self.record
        source = self._source or GcsStore(record.source_bucket)
        started = time.perf_counter()
        stored = source.read(record.source_name, max_bytes=self.settings.max_upload_bytes,
                             generation=record.source_generation)
        self.timings["download_seconds"] = round(time.perf_counter() - started, 3)
        log.info("downloaded %d bytes", len(stored.data), extra={"fields": {"bytes": len(stored.data),
                 "seconds": self.timings["download_seconds"]}})
        return stored.data


def job_layout_write(store: ObjectStore, prefix: str, page: PageResult, extra: dict) -> bool:
    return write_page(store, prefix, page, extra_metadata=extra, if_absent=True)


def ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3,5', for log lines."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(f"{start}-{n}" if n != start else str(n))
            start = None
    return ",".join(parts)
