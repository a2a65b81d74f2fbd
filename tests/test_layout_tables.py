"""Tables and sidebars beside prose (issue 16, items 2 and 3).

A table next to a column of prose is its own block, read row by row, and the prose is read
after it, not glued to its rows line by line; a table whose first column holds codes keeps each
code on its row; a table with clear columns comes out as a markdown table.
"""

from __future__ import annotations

from common.layout import assemble_page
from tests.layout_boxes import HEIGHT, WIDTH, column, in_order, line, row

PROSE = [
    "Kirkland Lake Gold is a gold mining company with",
    "operations in Canada and Australia. Its two main",
    "mines produced more gold this year than in any",
    "year before, and costs per ounce came down as the",
    "new shaft at the larger mine opened on schedule.",
    "We expect output to grow again next year while",
    "capital spending stays near this year's level.",
    "Our rating stays at buy with a higher target.",
]
FINANCIALS = [("Revenue (US$)", "1,024", "1,380"), ("Operating costs", "(512)", "(601)"),
              ("Depr. & amort.", "(148)", "(170)"), ("EBIT (US$)", "364", "609"),
              ("Net income", "250", "421"), ("EPS (US$)", "1.19", "2.01"),
              ("Dividend", "0.16", "0.25"), ("Net cash", "233", "580")]


def financials_table(x: float, y: float) -> list:
    lines = row([("Year", x), ("2018", x + 200), ("2019", x + 300)], y)
    for i, (label, a, b) in enumerate(FINANCIALS):
        lines += row([(label, x), (a, x + 200), (b, x + 300)], y + (i + 1) * 26)
    return lines


def test_table_beside_prose_is_read_apart_from_it():
    page = assemble_page(financials_table(60, 300) + column(PROSE, 500, 300, 440), WIDTH, HEIGHT)
    text = page.text
    # No table row is glued to a line of prose, and the prose reads as one paragraph.
    assert " ".join(PROSE) in text
    assert in_order(text, "Revenue (US$)", "Depr. & amort.", "EBIT (US$)", "Net cash")
    for label, a, b in FINANCIALS:
        assert any(label in part and a in part and b in part for part in text.splitlines()), label


def test_sidebar_beside_the_main_column_is_not_interleaved():
    main = column(PROSE + PROSE[:4], 60, 200, 560)
    sidebar = [line("Valuation Data", 700, 200)]
    for i, (key, value) in enumerate([("Market cap", "US$4.2bn"), ("P/E 2019", "12.3x"),
                                      ("EV/EBITDA", "6.1x"), ("Dividend yield", "1.4%"),
                                      ("Net cash", "US$580m"), ("Shares out", "210m")]):
        sidebar += row([(key, 700), (value, 860)], 226 + i * 26)
    text = assemble_page(main + sidebar, WIDTH, HEIGHT).text
    assert " ".join(PROSE + PROSE[:4]) in text
    assert "Market cap" in text and "Shares out" in text


def test_codes_in_the_first_column_stay_on_their_rows():
    items = [(f"PRD-2024-{n:05d}", f"Hex bolt zinc plated M{n % 9 + 4} x {n + 20} mm", f"{n * 3}", f"{n * 0.35:.2f}")
             for n in range(1, 21)]
    lines = row([("Code", 60), ("Description", 260), ("Qty", 720), ("Price", 840)], 200)
    for i, (code, description, qty, price) in enumerate(items):
        lines += row([(code, 60), (description, 260), (qty, 720), (price, 840)], 232 + i * 30)
    text = assemble_page(lines, WIDTH, HEIGHT).text
    for code, description, qty, price in items:
        assert any(code in part and description in part and price in part for part in text.splitlines()), code


def test_a_table_with_clear_columns_is_a_markdown_table():
    rows = [("Item", "2023", "2024"), ("Revenue", "1,200", "1,350"), ("Costs", "800", "640"), ("Profit", "400", "710")]
    lines = []
    for i, cells in enumerate(rows):
        lines += row(list(zip(cells, (100, 500, 700))), 300 + i * 30)
    assert assemble_page(lines, WIDTH, HEIGHT).text == (
        "| Item | 2023 | 2024 |\n"
        "|---|---|---|\n"
        "| Revenue | 1,200 | 1,350 |\n"
        "| Costs | 800 | 640 |\n"
        "| Profit | 400 | 710 |"
    )


def test_text_format_drops_the_table_markup():
    from common.pipeline import PageResult, to_text

    table = "Rates:\n\n| Item | 2023 |\n|---|---|\n| Rate a\\|b | 7% |"
    assert to_text([PageResult(1, table)]) == "Rates:\n\nItem 2023\nRate a|b 7%\n"
