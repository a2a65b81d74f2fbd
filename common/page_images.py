"""A job's page as a PNG for people to look at: rendered on demand, cached beside the job's results.

The web page shows each page's image beside its text. The browser never renders PDFs itself: the
first request for a page renders it from the job's source at a modest size and stores the PNG in
the job's folder (``<prefix>/images/NNNN.png``, a name no other job file uses), so later requests,
from any instance, only read it. Writes are create-if-absent: two instances rendering the same page
at once store one image.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, replace

from common.documents import Limits, open_document
from common.errors import ObjectNotFound
from common.storage import ObjectStore

# Long edge in pixels: sharp enough to read beside the text, small enough (~100 KB) to send often.
LONG_EDGE = 1000


@dataclass(frozen=True)
class Source:
    """Where a job's document is: its store, object name and generation (None: the current one)."""

    store: ObjectStore
    name: str
    generation: int | None = None


class PageNotFound(ObjectNotFound):
    code = "page_not_found"


def image_name(prefix: str, number: int) -> str:
    return f"{prefix}/images/{number:04d}.png"


def page_png(source: Source, results: ObjectStore, prefix: str, number: int, limits: Limits) -> bytes:
    """The PNG of page ``number`` (1-based) of the job's document, from the cache or rendered now.

    PageNotFound for a page the document does not have; the document's own errors (corrupt,
    too large, ...) as ``OcrError`` subclasses.
    """
    name = image_name(prefix, number)
    try:
        return results.read(name).data
    except ObjectNotFound:
        pass
    data = _source_bytes(source, limits.max_bytes)
    with open_document(data, replace(limits, render_long_edge=LONG_EDGE)) as document:
        if not 1 <= number <= document.page_count:
            raise PageNotFound(f"the document has {document.page_count} page(s); there is no page {number}")
        image = document.render(number)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    png = buffer.getvalue()
    results.write(name, png, "image/png", if_absent=True)
    return png


# A page view asks for several pages of one document in a row: keep the last source's bytes (at
# most MAX_UPLOAD_BYTES) instead of downloading it again for every page. A job's source never
# changes (a pinned generation, or the job's own write-once copy), so its bytes cannot go stale.
_last_source: tuple[tuple, bytes] | None = None
_last_source_lock = threading.Lock()


def _source_bytes(source: Source, max_bytes: int) -> bytes:
    global _last_source
    key = (source.store.location, source.name, source.generation)
    with _last_source_lock:
        if _last_source and _last_source[0] == key:
            return _last_source[1]
    data = source.store.read(source.name, max_bytes=max_bytes, generation=source.generation).data
    with _last_source_lock:
        _last_source = (key, data)
    return data
