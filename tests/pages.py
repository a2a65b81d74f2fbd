"""Documents the tests make themselves: pages of known words, rendered with a real font."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Shipped with the tests (tests/data/fonts, with its licence): the pages look the same everywhere.
FONT_FILE = Path(__file__).resolve().parent / "data" / "fonts" / "DejaVuSans.ttf"


def font(size: int = 36) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILE), size)


def text_page(lines: list[str], size=(1240, 1754), top: int = 160, left: int = 120, font_size: int = 40,
              spacing: float = 1.6) -> Image.Image:
    """A white page with one column of ``lines`` in black."""
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    face = font(font_size)
    y = top
    for line in lines:
        draw.text((left, y), line, fill="black", font=face)
        y += int(font_size * spacing)
    return page


def pdf_bytes(pages: list[Image.Image], resolution: float = 150.0) -> bytes:
    """A PDF with one image page per ``pages`` (what a scanner makes)."""
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:], resolution=resolution)
    return buffer.getvalue()


def image_bytes(page: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def tiff_bytes(pages: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    return buffer.getvalue()
