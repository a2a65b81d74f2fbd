"""Accepting a job, for both front doors (an upload event, POST /jobs): cheap and bounded.

    ended or enqueued already? -> size -> download (pinned generation) -> open, count pages -> pages to do
    -> job.json (if absent) with the chunk plan -> the dispatcher starts the chunks

With a queue, that is all a delivery does: seconds, whatever the page count. In-process, the
dispatcher then runs the chunks in line (or in the background for POST /jobs).

Errors: a permanent ``OcrError`` (corrupt, encrypted, too many pages, wrong type, too large) is,
for an upload, recorded as a ``failed`` result.json and acknowledged; for POST /jobs it is raised
so the client gets its 4xx at once and no job is made. Anything else propagates (retry).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from common import job_layout
from common.config import Settings
from common.documents import Limits, open_document, parse_page_range
from common.errors import ObjectNotFound, OcrError, TooLarge
from common.job_complete import record_failure
from common.job_record import JobRecord, plan_chunks, publish_status, write_record
from common.storage import ObjectStore

log = logging.getLogger("gnosis.jobs")


@dataclass(frozen=True)
class Outcome:
    """What one acceptance did: ``done`` (in-process, finished), ``queued`` (chunks enqueued or
    running in the background), ``failed`` (permanent, recorded), ``skipped`` or ``finished_already``."""

    status: str
    reason: str = ""
    prefix: str | None = None
    pages_ocrd: tuple[int, ...] = ()
    record: JobRecord | None = None


@dataclass(frozen=True)
class Source:
    """The document of a job: an object, at a pinned generation (None: the job's own ``source``)."""

    store: ObjectStore
    bucket: str
    name: str
    generation: int | None
    size: int | None = None
    data: bytes | None = None  # already in memory (a POST /jobs body)

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}" + (f"#{self.generation}" if self.generation is not None else "")

    def identity(self) -> dict:
        body = {"bucket": self.bucket, "object": self.name}
        if self.generation is not None:
            body["generation"] = str(self.generation)
        return body


def accept(store: ObjectStore, prefix: str, source: Source, settings: Settings, dispatcher, *,
           pages: str | None = None, job_id: str | None = None, options: dict | None = None,
           record_failures: bool = True) -> Outcome:
    """Accept ``source`` as the job at ``store``/``prefix`` and start its chunks."""
    started = time.perf_counter()
    if store.exists(f"{prefix}/{job_layout.RESULT}"):
        log.info("nothing to do: results exist at %s/%s", store.location, prefix)
        if store.exists(f"{prefix}/{job_layout.JOB}"):  # a job that ended: make its status.json say so
            publish_status(store, prefix, unless_final=True)
        return Outcome("finished_already", prefix=prefix)
    if dispatcher.queued and store.exists(f"{prefix}/{job_layout.ENQUEUED}"):
        log.info("nothing to do: the job's chunk tasks were enqueued already")
        return Outcome("queued", prefix=prefix)
    timings: dict[str, float] = {}
    page_count = None
    try:
        if source.size is not None and int(source.size) > settings.max_upload_bytes:
            raise TooLarge(f"the document is {int(source.size)} bytes; the limit is "
                           f"{settings.max_upload_bytes} (MAX_UPLOAD_BYTES)")
        data = source.data
        if data is None:
            data = _download(source, settings, timings)
            if data is None:
                return Outcome("skipped", "generation gone", prefix=prefix)
        opened = time.perf_counter()
        with open_document(data, Limits.from_settings(settings)) as document:
            timings["open_seconds"] = round(time.perf_counter() - opened, 3)
            page_count = document.page_count
            numbers = parse_page_range(pages, page_count)
            record = write_record(store, JobRecord(
                results_bucket=getattr(store, "bucket_name", store.location), prefix=prefix,
                source_bucket=source.bucket, source_name=source.name, source_generation=source.generation,
                page_count=page_count, pages=numbers, chunks=plan_chunks(numbers, settings.pages_per_chunk),
                job_id=job_id, options=dict(options or {}),
            ))
            log.info("accepted: %d pages to do in %d chunks (%s)", len(record.pages), len(record.chunks),
                     "queue" if dispatcher.queued else "in-process",
                     extra={"fields": {"pages_total": len(record.pages), "chunks": len(record.chunks),
                                       "accept_seconds": round(time.perf_counter() - started, 3)}})
            publish_status(store, prefix)
            ocrd = dispatcher.start(store, record, document=document, data=data, source=source.store, timings=timings)
    except OcrError as exc:
        if not exc.permanent or not record_failures:
            raise
        record_failure(store, prefix, source.uri, source.identity(), exc, page_count=page_count,
                       timings={**timings, "total_seconds": round(time.perf_counter() - started, 3)})
        return Outcome("failed", f"{exc.code}: {exc.message}", prefix=prefix)
    if dispatcher.queued or getattr(dispatcher, "background", False):
        return Outcome("queued", prefix=prefix, record=record)
    return Outcome("done", prefix=prefix, pages_ocrd=tuple(sorted(ocrd)), record=record)


def _download(source: Source, settings: Settings, timings: dict) -> bytes | None:
    started = time.perf_counter()
    try:
        stored = source.store.read(source.name, max_bytes=settings.max_upload_bytes, generation=source.generation)
    except ObjectNotFound:
        log.warning("skipped: generation %s of the object no longer exists (overwritten or deleted "
                    "since the event); a newer generation gets its own event", source.generation)
        return None
    timings["download_seconds"] = round(time.perf_counter() - started, 3)
    log.info("downloaded %d bytes", len(stored.data), extra={"fields": {"bytes": len(stored.data),
             "seconds": timings["download_seconds"]}})
    return stored.data
