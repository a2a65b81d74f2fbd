"""The results layout shared by the on-upload function and ``main.py ocr --out``.

    <prefix>/pages/0001.md   one page's body markdown, written as soon as the page is done
    <prefix>/document.md     all pages in order
    <prefix>/result.json     the manifest; written last, so its presence means the rest is there

A page object carries its timing, running header/footer, error and how it was read (source,
engine, source_reason) in object metadata, so a resumed run can rebuild result.json from the
pages alone.
"""

from __future__ import annotations

import json
import time

from common.pipeline import DocumentResult, PageResult, to_markdown
from common.storage import ObjectStore

RESULT_SCHEMA_VERSION = 1


def page_name(prefix: str, number: int) -> str:
    return f"{prefix}/pages/{number:04d}.md"


def write_page(
    store: ObjectStore, prefix: str, page: PageResult, *,
    extra_metadata: dict[str, str] | None = None, if_absent: bool = False,
) -> bool:
    """Store one page; ``if_absent`` keeps the first writer's page when two deliveries race.
    Says whether it wrote."""
    metadata = {
        **(extra_metadata or {}),
        "seconds": str(page.seconds),
        "header": json.dumps(page.header, ensure_ascii=False),
        "footer": json.dumps(page.footer, ensure_ascii=False),
        "source": page.source,
    }
    for key in ("error", "engine", "source_reason"):
        if getattr(page, key):
            metadata[key] = getattr(page, key)
    return store.write(
        page_name(prefix, page.number), page.text.encode(), "text/markdown; charset=utf-8",
        metadata=metadata, if_absent=if_absent,
    )


def read_page(store: ObjectStore, prefix: str, number: int) -> PageResult:
    stored = store.read(page_name(prefix, number))
    meta = stored.metadata
    return PageResult(
        number=number,
        text=stored.data.decode(),
        header=json.loads(meta.get("header", "[]")),
        footer=json.loads(meta.get("footer", "[]")),
        seconds=float(meta.get("seconds", 0)),
        error=meta.get("error"),
        source=meta.get("source", "ocr"),
        engine=meta.get("engine") if meta.get("source", "ocr") == "ocr" else None,
        source_reason=meta.get("source_reason"),
    )


def manifest(source: str, result: DocumentResult) -> dict:
    failed = result.failed_pages
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "status": "done",
        "source": source,
        "page_count": result.page_count,
        "pages_ocrd": len(result.pages),
        "failed_pages": failed,
        "engine": result.engine,
        "model": result.model,
        "revision": result.revision,
        "timings": {**result.timings, "pages": {str(p.number): p.seconds for p in result.pages}},
        "pages": [{"number": p.number, "object": f"pages/{p.number:04d}.md", "header": p.header,
                   "footer": p.footer, "seconds": p.seconds, "error": p.error, "source": p.source,
                   "engine": p.engine, "source_reason": p.source_reason} for p in result.pages],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def failed_manifest(source: str, code: str, message: str, **extra) -> dict:
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "status": "failed",
        "source": source,
        "error": {"code": code, "message": message},
        **extra,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_document(store: ObjectStore, prefix: str, source: str, result: DocumentResult) -> dict:
    """document.md, then result.json (the completion marker). Returns the manifest."""
    store.write(f"{prefix}/document.md", to_markdown(result.pages).encode(), "text/markdown; charset=utf-8")
    body = manifest(source, result)
    write_manifest(store, prefix, body)
    return body


def write_manifest(store: ObjectStore, prefix: str, body: dict, *, if_absent: bool = False) -> bool:
    """Write result.json; with ``if_absent`` only the first finisher's manifest lands. Says whether it wrote."""
    return store.write(
        f"{prefix}/result.json", json.dumps(body, ensure_ascii=False, indent=2).encode(), "application/json",
        if_absent=if_absent,
    )
