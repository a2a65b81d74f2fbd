"""Page layout on synthetic line boxes: reading order, paragraphs, hyphens, headers and footers.

Pages are 1000 x 1400 px with 20 px lines, about what rapidocr reports for a 10-11 pt page
rendered at 2000 px; every box is laid out by hand, so each test pins one behaviour.
"""

from __future__ import annotations

import pytest

from common.layout import Line, assemble_page, is_page_number
from tests.layout_boxes import HEIGHT, PITCH, WIDTH, column, in_order, line


LEFT = [
    "Left column opens the story with",
    "a first line and then wraps onto",
    "a second line before it ends here.",
]
RIGHT = [
    "Right column carries on the tale",
    "and its own lines wrap as well as",
    "the left ones did in the first.",
]


def two_columns(top: float = 200) -> list[Line]:
    return column(LEFT, 80, top, 400) + column(RIGHT, 540, top, 400)


def test_two_columns_read_column_by_column():
    # Lines of both columns share their heights, as typeset columns do: a row-wise sort would
    # interleave them.
    page = assemble_page(two_columns(), WIDTH, HEIGHT)
    assert in_order(page.text, "Left column opens", "wraps onto", "ends here.", "Right column", "the first.")


def test_two_columns_given_in_any_order():
    lines = two_columns()
    page = assemble_page(lines[::-1], WIDTH, HEIGHT)
    assert page.text == assemble_page(lines, WIDTH, HEIGHT).text


def test_wrapped_lines_join_into_one_paragraph_and_paragraphs_are_separated():
    first = column(["The quick brown fox jumps over", "the lazy dog and runs away."], 80, 200, 600)
    second = column(["A second paragraph starts after", "a blank gap between them."], 80, 280, 600)
    page = assemble_page(first + second, WIDTH, HEIGHT)
    assert page.text == (
        "The quick brown fox jumps over the lazy dog and runs away.\n\n"
        "A second paragraph starts after a blank gap between them."
    )


def test_first_line_indent_starts_a_paragraph():
    lines = column(["One paragraph ends right at the", "margin of its column here."], 80, 200, 600)
    lines += [line("Indented start of the next one", 120, 200 + 2 * PITCH, width=560)]
    lines += [line("which wraps back to the margin.", 80, 200 + 3 * PITCH)]
    page = assemble_page(lines, WIDTH, HEIGHT)
    assert page.text.split("\n\n") == [
        "One paragraph ends right at the margin of its column here.",
        "Indented start of the next one which wraps back to the margin.",
    ]


@pytest.mark.parametrize(
    "first, second, joined",
    [
        ("this is an exam-", "ple of mending", "this is an example of mending"),
        ("the non-", "governmental groups", "the non-governmental groups"),  # a compound prefix
        ("cases of COVID-", "19 were seen", "cases of COVID-19 were seen"),  # not a syllable
        ("a well-to-", "do family", "a well-to-do family"),  # already a compound
        ("ends with a dash—", "and goes on", "ends with a dash—and goes on"),
        ("a minus sign -", "in the text", "a minus sign - in the text"),
    ],
)
def test_line_end_hyphens(first, second, joined):
    lines = column([first, second], 80, 200, 600)
    assert assemble_page(lines, WIDTH, HEIGHT).text == joined


def test_hyphen_kept_when_the_page_spells_the_compound_elsewhere():
    lines = column(
        ["a data-driven method and another data-", "driven one, unlike a syllab-", "le break."],
        80, 200, 600,
    )
    text = assemble_page(lines, WIDTH, HEIGHT).text
    assert text == "a data-driven method and another data-driven one, unlike a syllable break."


def page_with_margins(header: list[Line], footer: list[Line]) -> list[Line]:
    body = column(
        ["Body text of the page begins here", "and goes on for a while until it", "stops."],
        80, 300, 840,
    )
    return header + body + footer


def test_running_header_footer_and_page_number_leave_the_body():
    header = [line("Journal of Examples", 80, 40, height=16), line("Vol. 7", 860, 40, height=16)]
    footer = [line("Page 3 of 10", 450, 1340, height=16)]
    page = assemble_page(page_with_margins(header, footer), WIDTH, HEIGHT)
    assert page.text == "Body text of the page begins here and goes on for a while until it stops."
    assert page.header == ["Journal of Examples Vol. 7"]
    assert page.footer == ["Page 3 of 10"]


@pytest.mark.parametrize("number", ["3", "- 3 -", "Page 3 of 10", "iii", "xiv", "[12]", "12 / 40"])
def test_page_numbers_at_the_bottom_are_footer(number):
    footer = [line(number, 480, 1330)]
    page = assemble_page(page_with_margins([], footer), WIDTH, HEIGHT)
    assert page.footer == [number]
    assert number not in page.text


def test_page_number_in_the_header_row_even_close_to_the_body():
    # An old book: "400  BRITISH HUSBANDRY.  [Ch. XIX." sits one line above the text.
    header = [line("400", 80, 120), line("BRITISH HUSBANDRY.", 400, 120), line("[Ch. XIX.", 830, 120)]
    body = column(["The text starts at once below the", "running head and goes on."], 80, 146, 840)
    page = assemble_page(header + body, WIDTH, HEIGHT)
    assert page.header == ["400 BRITISH HUSBANDRY. [Ch. XIX."]
    assert page.text == "The text starts at once below the running head and goes on."


def test_left_centre_right_footer_without_gap():
    footer = [line("Revision: 2.4", 80, 1250), line("P/N 119-036", 450, 1250), line("10 June 2019", 830, 1250)]
    body = column(["A disclaimer paragraph ends the page", "just above the footer line."], 80, 1190, 840)
    page = assemble_page(body + footer, WIDTH, HEIGHT)
    assert page.footer == ["Revision: 2.4 P/N 119-036 10 June 2019"]
    assert "Revision" not in page.text and "disclaimer" in page.text


def test_body_near_the_page_edges_stays_body():
    # Normal line spacing, no page number, long lines: text that merely reaches the edge bands.
    lines = column(["Text that starts high on the page and", "keeps going line after line."], 80, 60, 840)
    lines += column(["More text runs down to the very", "bottom of the page like this."], 80, 1330, 840)
    lines += column([f"Middle line number {i} of the body." for i in range(3)], 80, 600, 840)
    page = assemble_page(lines, WIDTH, HEIGHT)
    assert page.header == [] and page.footer == []
    assert in_order(page.text, "starts high", "Middle line number 0", "bottom of the page")


def test_lone_page_number_below_a_short_page():
    lines = column(["A short last page of a chapter with", "only a few lines on it."], 80, 200, 840)
    lines.append(line("62", 490, 420))
    page = assemble_page(lines, WIDTH, HEIGHT)
    assert page.footer == ["62"]
    assert "62" not in page.text


def test_vertical_stamp_in_the_side_margin_is_not_body():
    stamp = Line("Downloaded from example.org on 1 May 2020", 10, 300, 40, 1100)
    page = assemble_page(page_with_margins([], []) + [stamp], WIDTH, HEIGHT)
    assert "Downloaded" not in page.text
    assert page.header == ["Downloaded from example.org on 1 May 2020"]


def test_full_width_title_above_two_columns():
    title = [line("A Title That Spans Both Columns Of The Page", 150, 100, height=40, width=700)]
    page = assemble_page(two_columns(top=200) + title, WIDTH, HEIGHT)
    assert in_order(page.text, "A Title That Spans", "Left column opens", "ends here.", "Right column")
    assert page.header == []


def test_full_width_block_between_two_column_sections():
    top = two_columns(top=200)
    figure = [line("Figure 1: a caption that runs across the whole page width.", 80, 320, width=860)]
    bottom = column(["Lower left column text goes here", "and finishes."], 80, 400, 400)
    bottom += column(["Lower right column text follows on", "to the end."], 540, 400, 400)
    page = assemble_page(top + figure + bottom, WIDTH, HEIGHT)
    assert in_order(page.text, "ends here.", "Right column", "the first.", "Figure 1", "Lower left", "Lower right")


def test_two_columns_with_a_shared_paragraph_gap_still_read_column_by_column():
    # Both columns break a paragraph at the same height: one horizontal gap crosses the page.
    left = column(LEFT, 80, 200, 400) + column(["Left again after the gap."], 80, 300, 400)
    right = column(RIGHT, 540, 200, 400) + column(["Right again after the gap."], 540, 300, 400)
    page = assemble_page(left + right, WIDTH, HEIGHT)
    assert in_order(page.text, "Left column opens", "Left again", "Right column", "Right again")


def test_table_rows_are_not_read_column_by_column():
    rows = [("Item", "2023", "2024"), ("Revenue", "1,200", "1,350"), ("Costs", "800", "640"), ("Profit", "400", "710")]
    lines = []
    for i, (label, a, b) in enumerate(rows):
        y = 300 + i * 30
        lines += [line(label, 100, y), line(a, 500, y), line(b, 700, y)]
    page = assemble_page(lines, WIDTH, HEIGHT)
    assert in_order(page.text, "| Item | 2023 | 2024 |", "| Revenue | 1,200 | 1,350 |", "| Costs | 800 | 640 |",
                    "| Profit | 400 | 710 |")


def test_label_left_of_its_line_stays_on_that_line():
    # "a." set a little higher than its text, as in exercise lists.
    lines = [line("Use the graph to determine", 140, 500, width=500), line("a.", 100, 503, height=16)]
    lines += [line("the intervals of growth.", 140, 526)]
    assert assemble_page(lines, WIDTH, HEIGHT).text == "a. Use the graph to determine the intervals of growth."


def test_drop_cap_joins_its_word():
    cap = Line("O", 60, 300, 110, 360)
    lines = [cap] + column(["ver the past decades the text", "went on."], 115, 302, 500)
    assert assemble_page(lines, WIDTH, HEIGHT).text.startswith("Over the past decades")


def test_empty_page():
    assert assemble_page([], WIDTH, HEIGHT).text == ""
    assert assemble_page([line("   ", 10, 10)], WIDTH, HEIGHT).text == ""


@pytest.mark.parametrize("text", ["7", "- 12 -", "Page 4", "page 4 of 9", "iv", "XII", "(3)"])
def test_page_number_patterns(text):
    assert is_page_number(text)


@pytest.mark.parametrize("text", ["2024 results", "Chapter 3", "mild", "12.5%", "Figure 2"])
def test_not_page_numbers(text):
    assert not is_page_number(text)
