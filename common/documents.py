"""Bytes to page images: PDFs through pypdfium2, images through Pillow, with limits.

Pages are rendered one at a time as they are iterated, so a 500-page PDF never holds more than
the batch its consumer keeps. Every limit has its own error: bytes (TooLarge), pages
(TooManyPages), pixels of an input image (TooManyPixels, the decompression-bomb guard).
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from dataclasses import dataclass
from typing import Iterator

import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

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

# Magic bytes -> (kind, content type). Detection trusts content, never names or headers.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpeg", "image/jpeg"),
    (b"II*\x00", "tiff", "image/tiff"),
    (b"MM\x00*", "tiff", "image/tiff"),
    (b"BM", "bmp", "image/bmp"),
)
CONTENT_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/tiff": "tiff",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/x-ms-bmp": "bmp",
}
EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")

_FPDF_ERR_PASSWORD = 4
# pdfium is not thread-safe: every call into it holds this lock.
_PDFIUM_LOCK = threading.RLock()


def sniff_kind(data: bytes) -> str:
    """'pdf', 'png', 'jpeg', 'tiff', 'webp' or 'bmp', from the first bytes; else UnsupportedType."""
    if not data:
        raise EmptyDocument("the document is empty (0 bytes)")
    head = data[:1024]
    # PDFs may carry junk before the header; readers accept it within the first KiB.
    if b"%PDF-" in head:
        return "pdf"
    for magic, kind, _ in _SIGNATURES[1:]:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    raise UnsupportedType(
        "unsupported document type: expected a PDF or a PNG, JPEG, TIFF, WEBP or BMP image"
    )


def is_supported_content_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in CONTENT_TYPES


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int
    max_image_pixels: int
    render_long_edge: int

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        return cls(
            max_bytes=settings.max_upload_bytes,
            max_pages=settings.max_pages,
            max_image_pixels=settings.max_image_pixels,
            render_long_edge=settings.render_long_edge,
        )


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    image: Image.Image


class Document:
    """An opened document: its kind and page count are known, pages render on demand."""

    def __init__(self, kind: str, page_count: int, limits: Limits):
        self.kind = kind
        self.page_count = page_count
        self.limits = limits

    def render(self, number: int) -> Image.Image:  # pragma: no cover - abstract
        raise NotImplementedError

    def text_layer(self, number: int):
        """The page's own text layer (a ``common.text_layer.PageLayer``), or None: images have none."""
        return None

    def pages(self, numbers: list[int] | None = None) -> Iterator[Page]:
        """Render the given 1-based page numbers (default: all), one at a time, in order."""
        for number in numbers or range(1, self.page_count + 1):
            yield Page(number, self.render(number))

    def close(self) -> None:
        pass

    def __enter__(self) -> "Document":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PdfDocument(Document):
    def __init__(self, data: bytes, limits: Limits):
        with _PDFIUM_LOCK:
            try:
                self._pdf = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                # pdfium's error code can be left over from an earlier call on this thread,
                # so the bytes must agree with it.
                code = getattr(exc, "err_code", None)
                if code == _FPDF_ERR_PASSWORD and b"/Encrypt" in data:
                    raise EncryptedDocument("the PDF is encrypted (password protected)") from None
                if re.search(rb"/Count\s+0\b", data) and not re.search(rb"/Count\s+[1-9]", data):
                    # pdfium refuses a document whose page tree is empty.
                    raise EmptyDocument("the PDF has no pages") from None
                raise CorruptDocument(f"the PDF cannot be read ({exc})") from None
            count = len(self._pdf)
        if count == 0:
            self.close()
            raise EmptyDocument("the PDF has no pages")
        if count > limits.max_pages:
            self.close()
            raise TooManyPages(f"the PDF has {count} pages; the limit is {limits.max_pages} (MAX_PAGES)")
        super().__init__("pdf", count, limits)

    def render(self, number: int) -> Image.Image:
        with _PDFIUM_LOCK:
            try:
                page = self._pdf[number - 1]
                try:
                    width, height = page.get_size()
                    if width <= 0 or height <= 0:
                        raise CorruptDocument(f"page {number} has no area")
                    # Scale so the long edge is render_long_edge pixels, whatever the page size
                    # in points: a 20000-point page renders as small as a letter page.
                    scale = self.limits.render_long_edge / max(width, height)
                    bitmap = page.render(scale=scale, draw_annots=True)
                    try:
                        return fit_long_edge(bitmap.to_pil().convert("RGB"), self.limits.render_long_edge)
                    finally:
                        bitmap.close()
                finally:
                    page.close()
            except pdfium.PdfiumError as exc:
                raise CorruptDocument(f"page {number} of the PDF cannot be rendered ({exc})") from None

    def text_layer(self, number: int):
        from common.text_layer import read_layer

        with _PDFIUM_LOCK:
            try:
                page = self._pdf[number - 1]
                try:
                    return read_layer(page)
                finally:
                    page.close()
            except pdfium.PdfiumError as exc:
                raise CorruptDocument(f"the text of page {number} of the PDF cannot be read ({exc})") from None

    def close(self) -> None:
        pdf = getattr(self, "_pdf", None)
        if pdf is not None:
            with _PDFIUM_LOCK:
                pdf.close()
            self._pdf = None


class ImageDocument(Document):
    """PNG, JPEG, WEBP, BMP (one page) or TIFF (one page per frame)."""

    def __init__(self, data: bytes, kind: str, limits: Limits):
        self.limits = limits
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._image = Image.open(io.BytesIO(data))
            self._check_pixels(self._image, 1)
            count = getattr(self._image, "n_frames", 1)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise CorruptDocument(f"the {kind.upper()} image cannot be read ({exc})") from None
        except Image.DecompressionBombError as exc:
            raise TooManyPixels(str(exc)) from None
        if count > limits.max_pages:
            raise TooManyPages(f"the image has {count} frames; the limit is {limits.max_pages} (MAX_PAGES)")
        super().__init__(kind, count, limits)

    def _check_pixels(self, image: Image.Image, number: int) -> None:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise CorruptDocument(f"page {number} has no pixels")
        limit = self.limits.max_image_pixels
        if width * height > limit:
            raise TooManyPixels(
                f"page {number} is {width}x{height} pixels; the limit is {limit} (MAX_IMAGE_PIXELS)"
            )

    def render(self, number: int) -> Image.Image:
        try:
            self._image.seek(number - 1)
            self._check_pixels(self._image, number)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                frame = ImageOps.exif_transpose(self._image.convert("RGB"))
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptDocument(f"page {number} of the image cannot be decoded ({exc})") from None
        except Image.DecompressionBombError as exc:
            raise TooManyPixels(str(exc)) from None
        return fit_long_edge(frame, self.limits.render_long_edge)

    def close(self) -> None:
        self._image.close()


# OCR engines upscale a page's short side to a minimum; a 2000 x 1 pixel sliver would become a
# gigapixel image. Slivers are padded with white to this many pixels instead.
MIN_SHORT_EDGE = 64


def fit_long_edge(image: Image.Image, long_edge: int) -> Image.Image:
    """Scale down (never up) so the long edge is at most ``long_edge`` pixels; pad slivers."""
    longest = max(image.size)
    if longest > long_edge:
        scale = long_edge / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.LANCZOS)
    if min(image.size) < MIN_SHORT_EDGE:
        canvas = Image.new("RGB", (max(image.width, MIN_SHORT_EDGE), max(image.height, MIN_SHORT_EDGE)), "white")
        canvas.paste(image, (0, 0))
        image = canvas
    return image


def open_document(data: bytes, limits: Limits) -> Document:
    """Check size and type, then open. Raises an OcrError subclass for every bad input."""
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the document is {len(data)} bytes; the limit is {limits.max_bytes} (MAX_UPLOAD_BYTES)")
    kind = sniff_kind(data)
    if kind == "pdf":
        return PdfDocument(data, limits)
    return ImageDocument(data, kind, limits)


_RANGE_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d*)\s*)?$")


def parse_page_range(spec: str | None, page_count: int) -> list[int]:
    """'1-3,5' -> [1, 2, 3, 5]; '4-' means 4 to the end; empty or None means every page.

    Raises BadPageRange for malformed specs and for pages the document does not have.
    """
    if spec is None or not spec.strip():
        return list(range(1, page_count + 1))
    numbers: set[int] = set()
    for part in spec.split(","):
        match = _RANGE_PART.match(part)
        if not match:
            raise BadPageRange(f"bad page range {spec!r}: use forms like 1-3,5 or 4-")
        first = int(match.group(1))
        if match.group(2) is None:
            last = first if "-" not in part else page_count
        else:
            last = int(match.group(2)) if match.group(2) else page_count
        if first < 1 or last < first:
            raise BadPageRange(f"bad page range {part.strip()!r}: pages count from 1, low to high")
        if last > page_count:
            raise BadPageRange(
                f"page range {part.strip()!r} goes past the last page ({page_count})"
            )
        numbers.update(range(first, last + 1))
    return sorted(numbers)
