"""Hostile and broken documents, generated: each with the outcome the functions must give it.

``expected`` is the error code (``common.errors``) a document must be refused with, or ``None`` for
a document that must be OCR'd normally even though it looks odd (a wrong content type, a page of
20 000 x 20 000 points). Nothing here is hand-picked bytes from a file: every case is built from
its recipe, so the suite says what it covers.
"""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass

from PIL import Image

from tests.pages import image_bytes, pdf_bytes, text_page, tiff_bytes
from tests.pdf_builder import write_pdf


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    content_type: str
    expected: str | None  # error code, or None: must succeed
    words: str | None = None  # for a success: text that must come back (None for blank pages)
    page_count: int = 1  # for a success: the pages the document has
    failed_pages: tuple[int, ...] = ()  # for a success: the pages that cannot be read

    @property
    def http_status(self) -> int:
        return 200 if self.expected is None else _STATUS[self.expected]


_STATUS = {"unsupported_type": 415, "corrupt_document": 422, "encrypted_document": 422, "empty_document": 422,
           "too_many_pages": 422, "too_many_pixels": 422, "too_large": 413, "bad_request": 400}


def _good_pdf() -> bytes:
    return pdf_bytes([text_page(["Hostile suite"], size=(600, 300), top=40, left=40, font_size=40)])


def _blank(size=(300, 200)) -> Image.Image:
    return Image.new("RGB", size, "white")


def _pdf_with(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF from raw object bodies, with a correct xref table (so only the content is hostile)."""
    return write_pdf(objects, root)


def _pdf_declaring_pages(count: int) -> bytes:
    return _pdf_with([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
                      b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"])


def _pdf_page_of(width: int, height: int) -> bytes:
    return _pdf_with([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>" % (width, height)])


def _zero_page_pdf() -> bytes:
    return _pdf_with([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def _encrypted_pdf(algorithm: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_good_pdf())))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG header claiming width x height, with a tiny compressed body: Pillow must refuse to decode it."""
    import struct

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = compressor.compress(row * 64) + compressor.flush()  # a few rows; the rest is missing
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _tiff_bomb(width: int, height: int) -> bytes:
    """A one-strip TIFF whose header claims width x height pixels."""
    small = io.BytesIO()
    Image.new("1", (64, 64)).save(small, format="TIFF")
    data = bytearray(small.getvalue())
    # Rewrite ImageWidth (256) and ImageLength (257) in the first IFD.
    ifd = int.from_bytes(data[4:8], "little")
    entries = int.from_bytes(data[ifd:ifd + 2], "little")
    for index in range(entries):
        at = ifd + 2 + 12 * index
        tag = int.from_bytes(data[at:at + 2], "little")
        kind = int.from_bytes(data[at + 2:at + 4], "little")
        if tag in (256, 257):
            value = width if tag == 256 else height
            size = 2 if kind == 3 else 4
            data[at + 8:at + 8 + size] = value.to_bytes(size, "little")
    return bytes(data)


def _jpeg_bomb(width: int, height: int) -> bytes:
    """A real small JPEG whose start-of-frame marker is rewritten to claim width x height."""
    data = bytearray(image_bytes(_blank((64, 64)), "JPEG"))
    at = data.index(b"\xff\xc0")  # SOF0: marker, length (2), precision (1), height (2), width (2)
    data[at + 5:at + 7] = height.to_bytes(2, "big")
    data[at + 7:at + 9] = width.to_bytes(2, "big")
    return bytes(data)


def cases() -> list[Hostile]:
    good = _good_pdf()
    png = image_bytes(text_page(["Odd label"], size=(500, 200), top=40, left=40), "PNG")
    jpeg = image_bytes(text_page(["Odd label"], size=(500, 200), top=40, left=40), "JPEG")
    rng = random.Random(20261128)
    out: list[Hostile] = []
    add = out.append

    # Truncated PDFs: cut through the header, the body, the xref and the trailer.
    for fraction in (0.02, 0.1, 0.3, 0.5, 0.7, 0.9):
        add(Hostile(f"pdf-truncated-{int(fraction * 100)}pct", good[: max(9, int(len(good) * fraction))],
                    "application/pdf", "corrupt_document"))
    add(Hostile("pdf-header-only", b"%PDF-1.7\n", "application/pdf", "corrupt_document"))
    add(Hostile("pdf-header-then-zeros", b"%PDF-1.4\n" + b"\x00" * 4096, "application/pdf", "corrupt_document"))
    add(Hostile("pdf-header-then-random", b"%PDF-1.5\n" + rng.randbytes(5000), "application/pdf", "corrupt_document"))
    add(Hostile("pdf-bad-xref", good.replace(b"xref", b"xrf!"), "application/pdf", None, "Hostile suite"))  # pdfium rebuilds xref
    add(Hostile("pdf-encrypted-rc4", _encrypted_pdf("RC4-128"), "application/pdf", "encrypted_document"))
    add(Hostile("pdf-encrypted-rc4-40", _encrypted_pdf("RC4-40"), "application/pdf", "encrypted_document"))
    add(Hostile("pdf-zero-pages", _zero_page_pdf(), "application/pdf", "empty_document"))
    add(Hostile("pdf-declares-100000-pages", _pdf_declaring_pages(100_000), "application/pdf", "too_many_pages"))
    add(Hostile("pdf-declares-501-pages", _pdf_declaring_pages(501), "application/pdf", "too_many_pages"))
    # Page 1 is real, pages 2-3 are not: a partial result, the missing pages recorded as failed.
    add(Hostile("pdf-declares-3-pages-has-1", _pdf_declaring_pages(3), "application/pdf", None,
                page_count=3, failed_pages=(2, 3)))
    add(Hostile("pdf-page-20000pt", _pdf_page_of(20_000, 20_000), "application/pdf", None))
    add(Hostile("pdf-page-14400x1pt", _pdf_page_of(14_400, 1), "application/pdf", None))
    add(Hostile("empty-body", b"", "application/pdf", "bad_request"))  # on upload: skipped, 0 bytes
    add(Hostile("one-byte", b"%", "application/pdf", "unsupported_type"))

    # Decompression bombs: small files that claim huge pixel counts.
    add(Hostile("png-bomb-30000x30000", _png_bomb(30_000, 30_000), "image/png", "too_many_pixels"))
    add(Hostile("png-bomb-100000x2000", _png_bomb(100_000, 2_000), "image/png", "too_many_pixels"))
    add(Hostile("tiff-bomb-30000x30000", _tiff_bomb(30_000, 30_000), "image/tiff", "too_many_pixels"))
    add(Hostile("tiff-bomb-65000x65000", _tiff_bomb(65_000, 65_000), "image/tiff", "too_many_pixels"))
    add(Hostile("jpeg-bomb-60000x60000", _jpeg_bomb(60_000, 60_000), "image/jpeg", "too_many_pixels"))
    add(Hostile("tiff-600-frames", tiff_bytes([_blank((16, 16))] * 600), "image/tiff", "too_many_pages"))

    # Broken images.
    for fraction in (0.05, 0.3, 0.6):
        add(Hostile(f"png-truncated-{int(fraction * 100)}pct", png[: max(20, int(len(png) * fraction))], "image/png",
                    "corrupt_document"))
    add(Hostile("jpeg-truncated-header", jpeg[:40], "image/jpeg", "corrupt_document"))
    add(Hostile("png-signature-then-random", b"\x89PNG\r\n\x1a\n" + rng.randbytes(2000), "image/png", "corrupt_document"))
    add(Hostile("bmp-signature-then-random", b"BM" + rng.randbytes(2000), "image/bmp", "corrupt_document"))
    add(Hostile("webp-signature-then-random", b"RIFF\x00\x10\x00\x00WEBPVP8 " + rng.randbytes(500), "image/webp",
                "corrupt_document"))
    add(Hostile("tiff-signature-then-zeros", b"II*\x00" + b"\x00" * 64, "image/tiff", "corrupt_document"))

    # Wrong labels: the bytes decide, not the name or the content type.
    add(Hostile("png-labelled-jpeg", png, "image/jpeg", None, "Odd label"))
    add(Hostile("jpeg-labelled-pdf", jpeg, "application/pdf", None, "Odd label"))
    add(Hostile("pdf-labelled-png", good, "image/png", None, "Hostile suite"))
    add(Hostile("pdf-labelled-octet-stream", good, "application/octet-stream", None, "Hostile suite"))
    add(Hostile("pdf-with-leading-junk", b"junk before the header\n" + good, "application/pdf", None, "Hostile suite"))

    # Not documents at all.
    for index, size in enumerate((16, 1000, 65_536)):
        add(Hostile(f"random-bytes-{size}", rng.randbytes(size), "application/octet-stream", "unsupported_type"))
    for name, data in (
        ("gif", b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;"),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg"><text>hi</text></svg>'),
        ("html", b"<!doctype html><html><body>a page</body></html>"),
        ("zip", b"PK\x03\x04" + rng.randbytes(200)),
        ("gzip", zlib.compress(b"hello" * 100)),
        ("utf16-text", "not a document".encode("utf-16")),
        ("json", b'{"gcs_uri": "gs://b/o"}'),
        ("nul-bytes", b"\x00" * 1024),
        ("elf", b"\x7fELF" + rng.randbytes(500)),
    ):
        add(Hostile(f"not-a-document-{name}", data, "application/pdf", "unsupported_type"))
    return out
