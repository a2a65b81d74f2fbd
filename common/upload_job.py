"""The on-upload front door: one finalized object in, one job accepted, whatever is redelivered.

    skip? (from the event alone) -> too old? -> accept the job (common.job_accept): ended already?
    -> download (pinned generation) -> open, count pages -> job.json -> chunks start

Everything is keyed by the object's generation under ``<RESULTS_PREFIX>/<name>/<generation>/``
(see common.job_layout), so a redelivered event finds its own job and an overwritten upload gets a
fresh one. With TASKS_QUEUE set the delivery ends once the chunk tasks are created (seconds for any
page count); without it the same chunks run in this delivery, one after another.

Error policy: an ``OcrError`` marked permanent (corrupt, encrypted, too many pages, wrong type,
too large) becomes a ``failed`` result.json and the event is acknowledged. Anything else (storage
5xx/429 after the client's own retries, ModelUnavailable, EngineFailed, PagesInProgress) propagates so the
platform retries.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable

from common.config import Settings
from common.dispatch import dispatcher_for
from common.documents import EXTENSIONS, is_supported_content_type
from common.engines import OcrEngine
from common.job_accept import Outcome, Source, accept
from common.job_chunk import PagesInProgress  # noqa: F401  (raised from here; kept importable)
from common.job_layout import results_prefix
from common.logs import log_context
from common.storage import GcsStore, ObjectStore

__all__ = ["FINALIZED", "Outcome", "PagesInProgress", "event_age_seconds", "process_object", "results_prefix",
           "skip_reason"]

log = logging.getLogger("gnosis.on_upload")

FINALIZED = "google.cloud.storage.object.v1.finalized"


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
    """Accept ``gs://bucket/name`` at ``generation`` as a job; see the module docstring.

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
        document = Source(source or GcsStore(bucket), bucket, name, int(generation), size=size)
        prefix = results_prefix(settings, name, generation)
        return accept(store, prefix, document, settings, dispatcher_for(settings, engine=engine, clock=clock))
