"""Page images for the web page: rendered from the job's source on first request, then read from
the cache beside the job's results (fake-gcs-server through the real client)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from common import page_images
from common.documents import Limits
from common.errors import CorruptDocument, ObjectNotFound
from common.page_images import LONG_EDGE, PageNotFound, Source, page_png
from common.storage import GcsStore
from tests.pages import pdf_bytes, text_page

LIMITS = Limits(max_bytes=10_000_000, max_pages=50, max_image_pixels=100_000_000, render_long_edge=2000)
PDF = pdf_bytes([text_page([f"Page {n}"], size=(1240, 1754)) for n in (1, 2, 3)])


@pytest.fixture
def store(gcs_bucket):
    page_images._last_source = None  # each test starts without the in-process copy
    return GcsStore(gcs_bucket.name)


def test_a_page_is_rendered_at_a_modest_size_and_cached_beside_the_results(store, gcs_bucket):
    store.write("uploads/doc.pdf", PDF, "application/pdf")
    generation = store.read("uploads/doc.pdf").generation
    source = Source(store, "uploads/doc.pdf", generation)

    png = page_png(source, store, "ocr-results/jobs/abc", 2, LIMITS)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and max(image.size) == LONG_EDGE and image.size[0] < image.size[1]
    cached = gcs_bucket.get_blob("ocr-results/jobs/abc/images/0002.png")
    assert cached.content_type == "image/png" and cached.download_as_bytes() == png

    # The next request, from any instance, reads the cache: even with the source gone.
    store.delete("uploads/doc.pdf")
    page_images._last_source = None
    assert page_png(source, store, "ocr-results/jobs/abc", 2, LIMITS) == png
    with pytest.raises(ObjectNotFound):
        page_png(source, store, "ocr-results/jobs/abc", 1, LIMITS)


def test_a_page_the_document_lacks_is_not_found_and_nothing_is_cached(store, gcs_bucket):
    store.write("doc.pdf", PDF, "application/pdf")
    for number in (0, 4):
        with pytest.raises(PageNotFound) as raised:
            page_png(Source(store, "doc.pdf"), store, "results/job", number, LIMITS)
        assert raised.value.status == 404 and "3 page" in raised.value.message
    assert store.list("results/") == []


def test_an_unreadable_source_is_its_own_error(store):
    store.write("broken.pdf", b"%PDF-1.4 broken", "application/pdf")
    with pytest.raises(CorruptDocument):
        page_png(Source(store, "broken.pdf"), store, "results/job", 1, LIMITS)
    assert store.list("results/") == []


def test_instances_rendering_the_same_page_at_once_store_one_image(store, gcs_bucket):
    store.write("doc.pdf", PDF, "application/pdf")
    with ThreadPoolExecutor(4) as pool:
        pngs = list(pool.map(lambda _: page_png(Source(store, "doc.pdf"), store, "results/job", 3, LIMITS), range(4)))
    assert all(Image.open(io.BytesIO(png)).size == Image.open(io.BytesIO(pngs[0])).size for png in pngs)
    assert store.list("results/") == ["results/job/images/0003.png"]
