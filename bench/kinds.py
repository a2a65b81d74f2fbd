"""Drawn pages of the kinds issue 16 measured on real documents, each with the words it holds.

A one-page statement, a flowchart, numbered testimony, a report with a table beside its prose
and a sidebar, a table of product codes, a small form and a receipt. Each is a PIL image and the
list of words drawn on it (the ground truth for bag-of-words recall).
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)
from tests.pages import font

A4 = (1240, 1754)
WORDS = ("gold mining company operations Canada Australia mines produced ounce costs shaft schedule "
         "output capital spending rating target market growth reserves quarter results dividend "
         "balance revenue income expenses cash flow debt equity shares price earnings").split()


class Sheet:
    def __init__(self, size=A4):
        self.image = Image.new("RGB", size, "white")
        self.pen = ImageDraw.Draw(self.image)
        self.words: list[str] = []

    def text(self, text: str, x: int, y: int, size: int = 28) -> None:
        self.pen.text((x, y), text, fill="black", font=font(size))
        self.words += text.split()

    def box(self, x: int, y: int, w: int, h: int) -> None:
        self.pen.rectangle([x, y, x + w, y + h], outline="black", width=3)


def prose(rng: random.Random, lines: int, words: int = 7) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(lines)]


def statement() -> Sheet:
    sheet = Sheet()
    sheet.text("First Example Bank", 100, 60, 40)
    sheet.text("Account 12345678 statement for March 2024", 100, 140)
    for i in range(24):
        y = 220 + i * 56
        sheet.text(f"{i + 1:02d}/03", 100, y)
        sheet.text(f"Card payment shop {i + 1}", 260, y)
        sheet.text(f"-{i + 3}.20", 1000, y)
    sheet.text("Interest paid", 700, 1640)
    sheet.text("0.42", 1060, 1640)
    sheet.text("Closing balance", 700, 1686)
    sheet.text("1,149.53", 1010, 1686)
    return sheet


def flowchart() -> Sheet:
    sheet = Sheet()
    for row, labels in enumerate([("Start", "Check ID", "Get forms"), ("Assess", "Approve", "Reject"),
                                  ("Notify", "Archive", "Close file"), ("Pay out", "Audit", "End")]):
        for col, label in enumerate(labels):
            x, y = 120 + col * 360, 60 + row * 420
            sheet.box(x - 20, y - 20, 280, 90)
            sheet.text(label, x, y, 32)
    return sheet


def testimony() -> Sheet:
    sheet = Sheet()
    rng = random.Random(3)
    for n in range(1, 26):
        y = 80 + (n - 1) * 64
        sheet.text(str(n), 80, y)
        sheet.text(("Q. " if n % 2 else "A. ") + " ".join(rng.choice(WORDS) for _ in range(7)), 160, y)
    return sheet


def report() -> Sheet:
    sheet = Sheet()
    rng = random.Random(5)
    sheet.text("Year", 60, 300)
    sheet.text("2018", 300, 300)
    sheet.text("2019", 400, 300)
    for i, label in enumerate(["Revenue", "Costs", "EBIT", "Net income", "EPS", "Dividend", "Net cash", "Capex"]):
        y = 300 + (i + 1) * 44
        sheet.text(label, 60, y, 26)
        sheet.text(f"{rng.randint(100, 999)}", 300, y, 26)
        sheet.text(f"{rng.randint(100, 999)}", 400, y, 26)
    for i, text in enumerate(prose(rng, 26, 5)):
        sheet.text(text, 520, 300 + i * 44, 26)
    sheet.text("Valuation Data", 60, 800, 26)
    for i, (key, value) in enumerate([("Market cap", "4.2bn"), ("P/E", "12.3x"), ("Yield", "1.4%")]):
        sheet.text(key, 60, 850 + i * 44, 26)
        sheet.text(value, 320, 850 + i * 44, 26)
    return sheet


def codes() -> Sheet:
    sheet = Sheet()
    for i in range(30):
        y = 100 + i * 52
        sheet.text(f"PRD-{2024}-{i + 1:05d}", 60, y, 26)
        sheet.text(f"Hex bolt zinc M{i % 9 + 4} x {i + 20} mm", 400, y, 26)
        sheet.text(str(3 * i + 1), 930, y, 26)
        sheet.text(f"{0.35 * (i + 1):.2f}", 1060, y, 26)
    return sheet


def form() -> Sheet:
    """A small form: a handful of labelled fields on a half page."""
    sheet = Sheet((1240, 877))
    sheet.text("Change of address", 80, 60, 40)
    for i, label in enumerate(["Name", "Customer number", "Old address", "New address", "Date", "Signature"]):
        y = 160 + i * 110
        sheet.text(label, 80, y)
        sheet.box(420, y - 14, 720, 64)
    return sheet


def receipt() -> Sheet:
    sheet = Sheet((600, 1100))
    sheet.text("CORNER CAFE", 170, 40, 36)
    for i, (item, price) in enumerate([("Espresso", "2.40"), ("Croissant", "2.10"), ("Orange juice", "3.50"),
                                       ("Water", "1.20"), ("Total", "9.20"), ("Card", "9.20")]):
        y = 160 + i * 60
        sheet.text(item, 40, y)
        sheet.text(price, 460, y)
    sheet.text("Thank you for your visit", 90, 600)
    return sheet


def dense() -> Sheet:
    sheet = Sheet()
    rng = random.Random(7)
    for i, text in enumerate(prose(rng, 44, 9)):
        sheet.text(text, 80, 60 + i * 37, 24)
    return sheet


KINDS = {"statement": statement, "flowchart": flowchart, "testimony": testimony, "report": report,
         "codes": codes, "form": form, "receipt": receipt, "dense": dense}
