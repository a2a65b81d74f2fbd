"""The job record (``job.json``) and the status a client sees, both read from the job's folder.

The record is written once (``if_generation_match=0``) when a job is accepted and never changed:
progress is not written into it (one object cannot take a write per page) but read from what
is there: pages present / pages total, result.json once it ended.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from common import job_layout
from common.errors import ObjectNotFound
from common.storage import ObjectStore

SCHEMA_VERSION = 1


def now_iso(stamp: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp if stamp is not None else time.time()))


@dataclass
class JobRecord:
    results_bucket: str  # where the job's folder is
    prefix: str  # the job's folder in results_bucket
    source_bucket: str
    source_name: str
    source_generation: int | None  # None: the object is the job's own ``source``, written once
    page_count: int  # pages in the document
    pages: list[int]  # the pages this job OCRs (all, or a POST /jobs ``pages`` range)
    chunks: list[list[int]]  # the plan: one chunk task per list
    created: str = field(default_factory=now_iso)
    job_id: str | None = None  # HTTP jobs
    options: dict = field(default_factory=dict)  # format, callback_url
    schema_version: int = SCHEMA_VERSION

    @property
    def uri(self) -> str:
        generation = f"#{self.source_generation}" if self.source_generation is not None else ""
        return f"gs://{self.source_bucket}/{self.source_name}{generation}"

    @property
    def callback_url(self) -> str | None:
        return self.options.get("callback_url") or None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "JobRecord":
        body = json.loads(data)
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in body.items() if key in known})

    def task_payload(self, chunk: int | None = None) -> dict:
        """What a chunk or callback task carries: where the job is (and which chunk)."""
        payload = {"bucket": self.results_bucket, "prefix": self.prefix}
        if chunk is not None:
            payload["chunk"] = chunk
        return payload


def plan_chunks(pages: list[int], pages_per_chunk: int) -> list[list[int]]:
    return [pages[i:i + pages_per_chunk] for i in range(0, len(pages), pages_per_chunk)]


def write_record(store: ObjectStore, record: JobRecord) -> JobRecord:
    """Create job.json unless it exists; either way return the record that is there (a
    redelivery keeps the first plan even if PAGES_PER_CHUNK changed meanwhile)."""
    name = f"{record.prefix}/{job_layout.JOB}"
    if store.write(name, record.to_bytes(), "application/json", if_absent=True):
        return record
    return JobRecord.from_bytes(store.read(name).data)


def read_record(store: ObjectStore, prefix: str) -> JobRecord | None:
    try:
        return JobRecord.from_bytes(store.read(f"{prefix}/{job_layout.JOB}").data)
    except ObjectNotFound:
        return None


def read_result(store: ObjectStore, prefix: str) -> dict | None:
    try:
        return json.loads(store.read(f"{prefix}/{job_layout.RESULT}").data)
    except ObjectNotFound:
        return None


def publish_status(store: ObjectStore, prefix: str, *, unless_final: bool = False) -> None:
    """Write ``status.json`` beside the outputs, for people and tools that read the bucket: at
    acceptance, after each chunk, at the end. A failed write raises like any storage fault (the
    delivery or task is retried; everything is idempotent), and a retry that finds the job ended
    (``unless_final``) writes the final status if the one there is not. GET /jobs/<id> computes
    the status afresh instead of reading this object."""
    name = f"{prefix}/{job_layout.STATUS}"
    if unless_final:
        try:
            if json.loads(store.read(name).data).get("status") in ("done", "failed"):
                return
        except (ObjectNotFound, ValueError):
            pass
    body = status(store, prefix)
    if body is not None:
        store.write(name, json.dumps(body).encode(), "application/json")


def status(store: ObjectStore, prefix: str) -> dict | None:
    """``{"status", "pages_total", "pages_done", "pages_failed", "created", "updated"}`` (+ ``error``),
    or None when there is no such job. ``pages_done`` counts pages that ended, failed ones included."""
    result = read_result(store, prefix)
    record = read_record(store, prefix)
    if record is None and result is None:
        return None
    created = record.created if record else result.get("finished_at")
    if result is not None:
        failed = result.get("failed_pages", [])
        total = len(record.pages) if record else result.get("page_count", 0)
        body = {"status": result["status"], "pages_total": total,
                "pages_done": result.get("pages_ocrd", total if result["status"] == "done" else 0),
                "pages_failed": len(failed), "created": created, "updated": result.get("finished_at", created)}
        if result["status"] == "failed":
            body["error"] = result.get("error")
            body["pages_done"] = 0
        return body
    present = {n: meta for n, meta in job_layout.pages_present(store, prefix).items() if n in set(record.pages)}
    stamps = [float(meta["written_at"]) for meta in present.values() if meta.get("written_at")]
    running = bool(present) or bool(job_layout.claims_present(store, prefix))
    return {
        "status": "running" if running else "queued",
        "pages_total": len(record.pages),
        "pages_done": len(present),
        "pages_failed": sum(1 for meta in present.values() if meta.get("error")),
        "created": created,
        "updated": now_iso(max(stamps)) if stamps else created,
    }
