"""Running headers and footers leave the body only on evidence (issue 16, item 1).

Evidence is a page number (not a column of line numbers), document furniture (a URL, a download
stamp, a copyright line, a date in a left/centre/right row), or a page that carries a page number
in its margin. Content at the top or bottom of a single page is not evidence by itself: the last
rows of a statement, the first boxes of a flowchart, numbered testimony lines stay in the body.
"""

from __future__ import annotations

from common.layout import assemble_page
from tests.layout_boxes import HEIGHT, WIDTH, column, line, row


def statement(footer: list | None = None) -> list:
    lines = [line("First Example Bank - Account statement", 80, 60, height=28)]
    lines += column(["Account 12345678, period 1 March to 31 March 2024,",
                     "all amounts in euros."], 80, 140, 840)
    for i in range(36):
        y = 220 + i * 28
        lines += row([(f"{i % 28 + 1:02d}/03", 80), (f"Card payment shop {i}", 200), (f"-{i + 3}.20", 760)], y)
    # The closing rows sit at the foot of the page, a little apart from the transactions.
    lines += row([("Interest paid", 600), ("0.42", 860)], 1290)
    lines += row([("Closing balance", 600), ("1,149.53", 830)], 1320)
    return lines + (footer or [])


def test_last_rows_of_a_single_page_statement_stay_in_the_body():
    page = assemble_page(statement(), WIDTH, HEIGHT)
    assert "Closing balance" in page.text and "1,149.53" in page.text
    assert "Interest paid" in page.text
    assert page.footer == []


def test_statement_with_a_page_number_keeps_its_closing_rows_and_drops_the_number():
    page = assemble_page(statement([line("Page 1 of 1", 450, 1368, height=16)]), WIDTH, HEIGHT)
    assert "Closing balance 1,149.53" in page.text
    assert page.footer == ["Page 1 of 1"]


def test_boxes_at_the_top_of_a_flowchart_stay_in_the_body():
    boxes = row([("Start", 120), ("Check ID", 420)], 50) + row([("Get forms", 120), ("Assess", 420)], 80)
    lower = []
    for i, (left, right) in enumerate([("Approve", "Reject"), ("Notify", "Archive"), ("Pay out", "Close file")]):
        lower += row([(left, 120), (right, 420), (f"Step {i + 5}", 760)], 400 + i * 200)
    page = assemble_page(boxes + lower, WIDTH, HEIGHT)
    assert page.header == []
    for word in ("Start", "Check ID", "Get forms", "Assess", "Approve", "Close file"):
        assert word in page.text


def test_numbered_testimony_lines_stay_in_the_body():
    said = [f"Q. Question number {n} about the night of the accident?" if n % 2 else
            f"A. Answer number {n}, as far as I remember it now." for n in range(1, 26)]
    lines = []
    for n, text in enumerate(said, start=1):
        y = 60 + (n - 1) * 52
        lines += [line(str(n), 60, y), line(text, 120, y)]
    page = assemble_page(lines, WIDTH, HEIGHT)
    assert page.header == [] and page.footer == []
    assert "Question number 1 " in page.text and "Answer number 24" in page.text
    assert "Question number 25" in page.text


def test_title_set_apart_at_the_top_of_a_single_page_is_body():
    title = [line("APPLICATION FOR A FISHING LICENCE", 250, 40, height=20)]
    body = column(["Fill in every field of this form in capital letters and",
                   "sign it at the bottom before you send it to us."], 80, 200, 840)
    page = assemble_page(title + body, WIDTH, HEIGHT)
    assert page.header == []
    assert page.text.startswith("APPLICATION FOR A FISHING LICENCE")


def test_download_stamp_and_url_footer_leave_the_body_without_a_page_number():
    body = column(["The article text fills the page from the top margin down",
                   "to the bottom where the repository stamp sits."], 80, 200, 840)
    footer = [line("Downloaded from https://repository.example.org on 3 May 2021", 200, 1340, height=16)]
    page = assemble_page(body + footer, WIDTH, HEIGHT)
    assert page.footer == ["Downloaded from https://repository.example.org on 3 May 2021"]
    assert "Downloaded" not in page.text


def test_running_header_of_a_paginated_page_leaves_the_body():
    header = [line("Journal of Examples", 80, 40, height=16), line("Vol. 7", 860, 40, height=16)]
    body = column(["Body text of the page begins here", "and goes on until it stops."], 80, 300, 840)
    page = assemble_page(header + body + [line("17", 490, 1340, height=16)], WIDTH, HEIGHT)
    assert page.header == ["Journal of Examples Vol. 7"]
    assert page.footer == ["17"]


def test_left_right_header_leaves_the_body_only_when_the_page_is_numbered():
    header = [line("Annual Report 2024", 80, 40, height=16), line("Chapter Two", 820, 40, height=16)]
    body = column(["Body text of the page begins here", "and goes on until it stops."], 80, 300, 840)
    numbered = assemble_page(header + body + [line("Page 3 of 10", 450, 1340, height=16)], WIDTH, HEIGHT)
    assert numbered.header == ["Annual Report 2024 Chapter Two"]
    single = assemble_page(header + body + [line("Page 1 of 1", 450, 1340, height=16)], WIDTH, HEIGHT)
    assert single.header == [] and single.text.startswith("Annual Report 2024")


def test_banner_of_a_stamped_repository_copy_is_a_header():
    banner = [line("TILBURG UNIVERSITY", 380, 40, height=24)]
    body = column(["Digital rights management in information publishing,",
                   "a paper given at a conference on law and technology."], 80, 200, 840)
    stamp = [line("Download date: 15. Sep. 2023", 80, 1340, height=16)]
    page = assemble_page(banner + body + stamp, WIDTH, HEIGHT)
    assert page.header == ["TILBURG UNIVERSITY"] and page.footer == ["Download date: 15. Sep. 2023"]
    assert page.text.startswith("Digital rights")
