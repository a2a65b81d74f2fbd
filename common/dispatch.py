"""Where a job's chunks run: on Cloud Tasks when TASKS_QUEUE is set, else in this process.

``dispatcher_for(settings)`` is the one place that decides. Both dispatchers run the very same
``ChunkRunner.run`` for each chunk; they differ only in who calls it:

- ``CloudTasks``: one HTTP task per chunk to the worker (``main.ocr_worker``); the queue owns
  retries, backoff, the dispatch deadline and how many chunks run at once. After every chunk task
  is created, an ``enqueued`` marker tells a redelivered event that there is nothing to do (a crash
  in between enqueues them again, which is harmless: chunks are idempotent). The callback is one
  more task.
- ``InProcess``: the chunks run one after another, inline (the on-upload delivery, which the
  platform retries if it raises) or on a background thread (POST /jobs answers first; meant for a
  laptop, CI, or an instance with CPU always allocated). The callback is tried a few times in line.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from common import callbacks, job_layout, tasks_client
from common.config import Settings
from common.documents import Document
from common.engines import OcrEngine
from common.job_chunk import ChunkRunner
from common.job_record import JobRecord
from common.storage import GcsStore, ObjectStore

log = logging.getLogger("gnosis.jobs")

CALLBACK_ATTEMPTS = 4


class CloudTasks:
    queued = True

    def __init__(self, settings: Settings):
        self.settings = settings

    def start(self, store: ObjectStore, record: JobRecord, **_) -> list[int]:
        marker = f"{record.prefix}/{job_layout.ENQUEUED}"
        if store.exists(marker):
            log.info("nothing to do: the job's %d chunk tasks were enqueued already", len(record.chunks))
            return []
        for index in range(len(record.chunks)):
            tasks_client.enqueue(self.settings, tasks_client.CHUNK_PATH, record.task_payload(index))
        store.write(marker, b"", "text/plain", if_absent=True)
        log.info("enqueued %d chunk tasks of up to %d pages for %d pages", len(record.chunks),
                 max(map(len, record.chunks)), len(record.pages), extra={"fields": {"chunks": len(record.chunks)}})
        return []

    def completed(self, record: JobRecord) -> None:
        if record.callback_url:
            tasks_client.enqueue(self.settings, tasks_client.CALLBACK_PATH, record.task_payload())


_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    global _background
    with _background_lock:
        if _background is None:
            _background = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jobs")
        return _background


class InProcess:
    queued = False

    def __init__(self, settings: Settings, *, background: bool = False, engine: OcrEngine | None = None,
                 clock=time.time):
        self.settings, self.background, self.engine, self.clock = settings, background, engine, clock
        self._store: ObjectStore | None = None

    def start(self, store: ObjectStore, record: JobRecord, *, document: Document | None = None,
              data: bytes | None = None, source: ObjectStore | None = None, timings: dict | None = None) -> list[int]:
        """Run every chunk; returns the pages this call OCR'd (none yet when in the background)."""
        self._store = store
        if self.background:
            _executor(self.settings.max_concurrent_documents).submit(self._run_logged, store, record, data, source)
            return []
        return self._run(store, record, document=document, data=data, source=source, timings=timings)

    def _run(self, store, record, *, document=None, data=None, source=None, timings=None) -> list[int]:
        runner = ChunkRunner(store, record, self.settings, engine=self.engine, document=document, data=data,
                             source=source, on_completed=self.completed, clock=self.clock)
        runner.timings.update(timings or {})
        try:
            for index in range(len(record.chunks)):
                runner.run(index)
        finally:
            runner.close()
        return runner.ocrd

    def _run_logged(self, store, record, data, source) -> None:
        try:
            self._run(store, record, data=data, source=source)
        except Exception:  # noqa: BLE001 - a background job has nobody else to tell
            log.exception("job %s failed in the background; its pages so far are kept", record.job_id or record.prefix)

    def completed(self, record: JobRecord) -> None:
        if not record.callback_url:
            return
        store = self._store or GcsStore(record.results_bucket)
        for attempt in range(CALLBACK_ATTEMPTS):
            if callbacks.deliver(store, record, self.settings):
                return
            time.sleep(2 ** attempt)
        log.error("callback to %s given up after %d attempts", record.callback_url, CALLBACK_ATTEMPTS)


def dispatcher_for(settings: Settings, *, background: bool = False, engine: OcrEngine | None = None,
                   clock=time.time):
    """The one decision: Cloud Tasks if TASKS_QUEUE is set, else in this process. (``engine`` and
    ``clock``, for the claims' ages, are injectable for tests.)"""
    if settings.tasks_queue:
        return CloudTasks(settings)
    return InProcess(settings, background=background, engine=engine, clock=clock)
