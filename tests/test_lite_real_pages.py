"""The real lite engine on drawn pages of the kinds issue 16 found broken: a one-page statement
whose closing rows sit at the foot of the page, and a report with a table beside its prose.

One engine and one ``ocr_pages`` call for the module (a few seconds a page).
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from common.config import Settings
from common.engines.base import PageText
from tests.pages import font

WIDTH, HEIGHT = 1240, 1754
PROSE = [
    "Kirkland Lake Gold is a gold mining",
    "company with operations in Canada",
    "and Australia. Its two main mines",
    "produced more gold this year than",
    "in any year before, and costs per",
    "ounce came down as the new shaft",
    "opened on schedule at the larger one.",
]
TABLE = [("Revenue", "1,024", "1,380"), ("Costs", "(512)", "(601)"), ("Depreciation", "(148)", "(170)"),
         ("EBIT", "364", "609"), ("Net income", "250", "421"), ("Dividend", "0.16", "0.25")]


def draw(items: list[tuple[str, int, int]], size: int = 30) -> Image.Image:
    page = Image.new("RGB", (WIDTH, HEIGHT), "white")
    pen = ImageDraw.Draw(page)
    for text, x, y in items:
        pen.text((x, y), text, fill="black", font=font(size))
    return page


def statement() -> Image.Image:
    items = [("Account statement, March 2024", 100, 80)]
    for i in range(22):
        y = 220 + i * 58
        items += [(f"{i + 1:02d}/03", 100, y), (f"Card payment shop {i + 1}", 260, y), (f"-{i + 3}.20", 1000, y)]
    items += [("Interest paid", 700, 1640), ("0.42", 1060, 1640)]
    items += [("Closing balance", 700, 1686), ("1,149.53", 1010, 1686)]
    return draw(items)


def report() -> Image.Image:
    items = [("Year", 80, 300), ("2018", 340, 300), ("2019", 460, 300)]
    for i, (label, a, b) in enumerate(TABLE):
        y = 300 + (i + 1) * 46
        items += [(label, 80, y), (a, 340, y), (b, 460, y)]
    items += [(text, 640, 300 + i * 46) for i, text in enumerate(PROSE)]
    return draw(items, size=28)


@pytest.fixture(scope="module")
def pages() -> dict[str, PageText]:
    from common.engines.lite import LiteEngine

    engine = LiteEngine(Settings.from_env({}))
    statement_page, report_page = engine.ocr_pages([statement(), report()])
    return {"statement": statement_page, "report": report_page}


def squash(text: str) -> str:
    return " ".join(text.split()).lower()


def test_closing_rows_of_a_one_page_statement_stay_in_the_body(pages):
    text = squash(pages["statement"].text)
    assert "closing balance" in text and "1,149.53" in text and "interest paid" in text
    assert text.startswith("account statement, march 2024")  # a title with a date is content
    assert pages["statement"].footer == []


def test_table_beside_prose_is_not_glued_to_it(pages):
    text = pages["report"].text
    prose = squash(" ".join(PROSE))
    assert prose in squash(text)
    rows = text.splitlines()
    for label, a, b in TABLE:
        assert any(label in row and a in row and b in row for row in rows), label
