"""Completing a job, exactly once: document.md, then result.json, then the callback.

Every chunk calls ``complete_if_ready`` after writing its pages. Each chunk writes its pages before
it lists them, so of the chunks that finish last at least one sees every page; if two do, both
write the same document.md and only one result.json lands (``if_generation_match=0``): that one,
and only that one, hands the callback to the dispatcher.
"""

from __future__ import annotations

import logging
from typing import Callable

from common import job_layout
from common.errors import ChunksFailed, CorruptDocument, OcrError
from common.job_record import JobRecord
from common.pipeline import DocumentResult, check_some_page_read, document_engine, to_markdown
from common.results import failed_manifest, manifest, read_page, write_manifest
from common.storage import ObjectStore

log = logging.getLogger("gnosis.jobs")


def complete_if_ready(
    store: ObjectStore, record: JobRecord, *, pages_ocrd: list[int], timings: dict[str, float],
    engine=None, on_completed: Callable[[JobRecord], None] | None = None,
) -> str:
    """'completed' (this call wrote result.json), 'completed_already', or 'waiting' (pages missing)."""
    if store.exists(f"{record.prefix}/{job_layout.RESULT}"):
        return "completed_already"
    present = job_layout.pages_present(store, record.prefix)
    missing = [n for n in record.pages if n not in present]
    if missing:
        return "waiting"
    pages = [read_page(store, record.prefix, n) for n in record.pages]
    try:
        if all(present[n].get("gave_up") for n in record.pages):
            raise ChunksFailed(f"no page could be OCR'd: {pages[0].error}")
        check_some_page_read(pages)
    except (CorruptDocument, ChunksFailed) as exc:  # as POST /ocr would say
        return record_failure(store, record.prefix, record.uri, identity(record), exc, page_count=record.page_count,
                              timings=timings, record=record, on_completed=on_completed)
    # The pages say which engine made them: a completer that OCR'd nothing has no engine loaded,
    # and a document read wholly from its text layer names pypdfium2 (pipeline.document_engine).
    first_ocrd = next((p.number for p in pages if p.source == "ocr"), None)
    meta = present[first_ocrd] if first_ocrd is not None else {}
    name, model, revision = document_engine(pages, engine)
    result = DocumentResult(
        page_count=record.page_count,
        pages=pages,
        engine=meta.get("engine") or name,
        model=meta.get("model") or model,
        revision=meta.get("revision") or revision,
        timings={**timings, "ocr_seconds": round(sum(p.seconds for p in pages), 3)},
    )
    store.write(f"{record.prefix}/{job_layout.DOCUMENT}", to_markdown(pages).encode(), "text/markdown; charset=utf-8")
    body = {**manifest(record.uri, result), **identity(record), "pages_ocrd_by_this_delivery": sorted(pages_ocrd)}
    # A POST /jobs subset: page_count is the document's, pages_ocrd the job's.
    wrote = write_manifest(store, record.prefix, body, if_absent=True)
    job_layout.drop_claims(store, record.prefix)
    fields = {"pages": len(record.pages), "pages_ocrd": len(pages_ocrd), "failed_pages": result.failed_pages}
    if not wrote:
        log.info("done: another worker wrote result.json first", extra={"fields": fields})
        return "completed_already"
    log.info("done: %d pages -> %s/%s/result.json", len(record.pages), store.location, record.prefix,
             extra={"fields": fields})
    if on_completed:
        on_completed(record)
    return "completed"


def record_failure(store: ObjectStore, prefix: str, uri: str, ident: dict, exc: OcrError, *,
                   page_count: int | None = None, timings: dict | None = None, record: JobRecord | None = None,
                   on_completed: Callable[[JobRecord], None] | None = None) -> str:
    """A job that can never succeed: a ``failed`` result.json with the reason (first one wins)."""
    extra = {**ident, "timings": dict(timings or {})}
    if page_count:
        extra["page_count"] = page_count
    wrote = write_manifest(store, prefix, failed_manifest(uri, exc.code, exc.message, **extra), if_absent=True)
    job_layout.drop_claims(store, prefix)
    log.warning("failed for good (%s): %s; wrote %s/%s/result.json", exc.code, exc.message, store.location, prefix,
                extra={"fields": {"code": exc.code}})
    if wrote and record is not None and on_completed:
        on_completed(record)
    return "completed" if wrote else "completed_already"


def identity(record: JobRecord) -> dict:
    body = {"bucket": record.source_bucket, "object": record.source_name,
            "generation": str(record.source_generation) if record.source_generation is not None else None}
    if record.job_id:
        body["job_id"] = record.job_id
    return {key: value for key, value in body.items() if value is not None}
