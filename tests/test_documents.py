"""common.documents: every input kind opens, renders one page at a time, and every limit has its own error."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from common.documents import Limits, fit_long_edge, open_document, parse_page_range, sniff_kind
from common.errors import (
    BadPageRange,
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    TooLarge,
    TooManyPages,
    TooManyPixels,
    UnsupportedType,
)
from tests.pages import image_bytes, pdf_bytes, text_page, tiff_bytes

LIMITS = Limits(max_bytes=10_000_000, max_pages=10, max_image_pixels=50_000_000, render_long_edge=1000)


def small_page(color="white", size=(400, 300)) -> Image.Image:
    return Image.new("RGB", size, color)


@pytest.mark.parametrize(
    "fmt,kind",
    [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tiff")],
)
def test_each_image_type_opens_as_one_page(fmt, kind):
    data = image_bytes(small_page("red"), fmt)
    assert sniff_kind(data) == kind
    with open_document(data, LIMITS) as document:
        assert (document.kind, document.page_count) == (kind, 1)
        (page,) = list(document.pages())
        assert page.number == 1 and page.image.mode == "RGB" and page.image.size == (400, 300)
        r, g, b = page.image.getpixel((10, 10))
        assert r > 200 and g < 50 and b < 50  # the content, not just a blank


def test_multi_frame_tiff_gives_every_frame_in_order():
    colors = ["red", "lime", "blue"]
    data = tiff_bytes([small_page(color) for color in colors])
    with open_document(data, LIMITS) as document:
        assert document.page_count == 3
        pixels = [page.image.getpixel((5, 5)) for page in document.pages()]
    assert [max(range(3), key=lambda i: p[i]) for p in pixels] == [0, 1, 2]


def test_pdf_pages_render_at_the_configured_long_edge():
    data = pdf_bytes([text_page(["one"], size=(620, 877)), text_page(["two"], size=(877, 620))])
    with open_document(data, LIMITS) as document:
        assert (document.kind, document.page_count) == ("pdf", 2)
        sizes = [page.image.size for page in document.pages()]
    assert max(sizes[0]) == 1000 and sizes[0][1] > sizes[0][0]  # portrait
    assert max(sizes[1]) == 1000 and sizes[1][0] > sizes[1][1]  # landscape


def test_pages_are_rendered_lazily_one_at_a_time():
    data = pdf_bytes([small_page() for _ in range(4)])
    with open_document(data, LIMITS) as document:
        pages = document.pages([2, 4])
        first = next(pages)
        assert first.number == 2
        assert [page.number for page in pages] == [4]


def test_large_images_are_scaled_down_not_up():
    assert fit_long_edge(small_page(size=(3000, 1500)), 1000).size == (1000, 500)
    assert fit_long_edge(small_page(size=(300, 150)), 1000).size == (300, 150)
    assert fit_long_edge(small_page(size=(4000, 2)), 1000).size == (1000, 64)  # a sliver is padded


@pytest.mark.parametrize(
    "spec,expected",
    [(None, [1, 2, 3, 4, 5]), ("", [1, 2, 3, 4, 5]), ("2", [2]), ("1-3,5", [1, 2, 3, 5]),
     ("4-", [4, 5]), ("3,1,3", [1, 3]), (" 2 - 3 ", [2, 3])],
)
def test_page_ranges(spec, expected):
    assert parse_page_range(spec, 5) == expected


@pytest.mark.parametrize("spec", ["0", "3-2", "6", "1-9", "a", "1,,2", "-2", "1-2-3"])
def test_bad_page_ranges_are_refused(spec):
    with pytest.raises(BadPageRange):
        parse_page_range(spec, 5)


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes([small_page()]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def zero_page_pdf() -> bytes:
    from pypdf import PdfWriter

    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "make,limits,error,words",
    [
        (lambda: b"", LIMITS, EmptyDocument, "empty"),
        (lambda: b"just some text, not a document", LIMITS, UnsupportedType, "unsupported"),
        (lambda: b"PK\x03\x04" + b"\0" * 100, LIMITS, UnsupportedType, "unsupported"),
        (lambda: pdf_bytes([small_page()])[:400], LIMITS, CorruptDocument, "cannot be read"),
        (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 8, LIMITS, CorruptDocument, "cannot be read"),
        (lambda: image_bytes(small_page(), "PNG")[:60], LIMITS, CorruptDocument, "cannot"),
        (encrypted_pdf, LIMITS, EncryptedDocument, "encrypted"),
        (zero_page_pdf, LIMITS, EmptyDocument, "no pages"),
        (lambda: pdf_bytes([small_page()] * 3), Limits(10_000_000, 2, 50_000_000, 1000), TooManyPages, "3 pages"),
        (lambda: tiff_bytes([small_page()] * 3), Limits(10_000_000, 2, 50_000_000, 1000), TooManyPages, "3 frames"),
        (lambda: image_bytes(small_page(size=(400, 300)), "PNG"), Limits(10_000_000, 2, 100_000, 1000), TooManyPixels, "400x300"),
        (lambda: image_bytes(small_page(), "PNG"), Limits(100, 2, 50_000_000, 1000), TooLarge, "limit is 100"),
    ],
    ids=["empty", "text", "zip", "truncated-pdf", "garbage-pdf", "truncated-png", "encrypted", "zero-pages",
         "too-many-pages", "too-many-frames", "too-many-pixels", "too-many-bytes"],
)
def test_each_bad_input_has_its_own_clear_error(make, limits, error, words):
    with pytest.raises(error) as caught:
        with open_document(make(), limits) as document:
            list(document.pages())
    assert words in caught.value.message
    assert caught.value.permanent


def test_a_huge_pdf_page_renders_at_the_long_edge_not_its_point_size():
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=20000, height=20000)
    buffer = io.BytesIO()
    writer.write(buffer)
    with open_document(buffer.getvalue(), LIMITS) as document:
        (page,) = list(document.pages())
    assert page.image.size == (1000, 1000)
