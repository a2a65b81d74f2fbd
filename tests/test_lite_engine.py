"""The real lite engine (rapidocr's bundled models) on pages this test draws with Pillow.

One engine and one ``ocr_pages`` call for the module: rapidocr takes a second or two a page.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from common.config import Settings
from common.engines.base import PageText
from tests.pages import FONT_FILE

WIDTH, HEIGHT = 1000, 1300
DEJAVU = FONT_FILE  # shipped with the tests

ONE_COLUMN = [
    "The morning train left the station",
    "early and crossed the green valley",
    "before the farmers began their work.",
]
LEFT = ["Apples grow on the hills", "north of the old bridge", "where rain falls often."]
RIGHT = ["Boats wait in the harbour", "until the tide turns and", "the wind comes from west."]
BODY = ["Copper wire carries the signal", "across the field to the tower."]


def font(size: int):
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def draw_page(texts: list[tuple[str, int, int, int]]) -> Image.Image:
    """A white page with each (text, x, y, size) drawn in black."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    for text, x, y, size in texts:
        draw.text((x, y), text, fill="black", font=font(size))
    return image


def lines_at(texts: list[str], x: int, y: int, size: int = 30) -> list[tuple[str, int, int, int]]:
    return [(text, x, y + i * int(size * 1.4), size) for i, text in enumerate(texts)]


PAGES = {
    "one_column": lines_at(ONE_COLUMN, 80, 300),
    "two_columns": lines_at(LEFT, 60, 300, 26) + lines_at(RIGHT, 540, 300, 26),
    "header_footer": [
        ("Annual Report 2024", 60, 40, 22),
        ("Chapter Two", 760, 40, 22),
        *lines_at(BODY, 60, 300),
        ("Page 3 of 10", 430, 1240, 22),
    ],
}


@pytest.fixture(scope="module")
def pages() -> dict[str, PageText]:
    from common.engines.lite import LiteEngine

    engine = LiteEngine(Settings.from_env({}))
    results = engine.ocr_pages([draw_page(texts) for texts in PAGES.values()])
    return dict(zip(PAGES, results))


def words(text: str) -> list[str]:
    return [word.strip(".,").lower() for word in text.split()]


def in_order(text: str, expected: list[str]) -> bool:
    """``expected`` words appear in ``text`` in this order (other words may come between)."""
    found = iter(words(text))
    return all(any(word == seen for seen in found) for word in expected)


def test_one_column_reads_as_one_paragraph(pages):
    text = pages["one_column"].text
    assert in_order(text, ["morning", "train", "station", "early", "valley", "before", "farmers", "work"])
    assert "\n" not in text.strip()  # wrapped lines joined


def test_two_columns_read_column_by_column(pages):
    text = pages["two_columns"].text
    assert in_order(text, ["apples", "hills", "north", "bridge", "rain", "boats", "harbour", "tide", "wind", "west"])


def test_running_header_and_footer_go_to_their_fields(pages):
    page = pages["header_footer"]
    assert in_order(page.text, ["copper", "wire", "signal", "across", "field", "tower"])
    for word in ("annual", "report", "chapter", "page"):
        assert word not in words(page.text)
    assert in_order(" ".join(page.header), ["annual", "report", "2024", "chapter", "two"])
    assert in_order(" ".join(page.footer), ["page", "3", "of", "10"])


def test_lite_engine_never_imports_torch_or_transformers():
    code = (
        "import sys\n"
        "from common.config import Settings\n"
        "from common.engines.lite import LiteEngine\n"
        "LiteEngine(Settings.from_env({}))\n"
        "heavy = [name for name in ('torch', 'transformers') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=120)
