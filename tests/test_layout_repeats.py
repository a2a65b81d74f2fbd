"""A paragraph that repeats at the top or bottom of the pages of a document is running matter
(issue 16, item 1: evidence from repetition), even with no page number or furniture on it.

One page is no evidence, and a paragraph that repeats in the middle of pages is content. The
pass runs on the whole document: ``main.py ocr`` (CLI, POST /ocr) once every page is read, and a
job's completion (document.md, result.json, GET /jobs/<id>/result), while a job's pages/NNNN.md
keep the page-level view.
"""

from __future__ import annotations

import json

from common.layout.repeats import move_repeated_edges
from common.pipeline import PageResult, to_markdown, to_text
from tests.http_client import http_client
from tests.jobs_helpers import wait_for
from tests.pdf_builder import PdfPage, build_pdf, rasterised
from tests.test_cli import run_cli
from tests.upload_helpers import (  # noqa: F401  (fixtures)
    TEST_ENV, counting, finalized_event, function_client, post_event, read_json, upload, upload_env,
)

TITLE = "Northwind Traders Quarterly Review"
NOTE = "Figures are in thousands of euros unless noted."
# Words of each page's own paragraphs: page n has the n-th row.
OWN = [("Alpha", "Bravo", "Charlie"), ("Delta", "Echo", "Foxtrot"), ("Golf", "Hotel", "India")]


def report(pages: int = 3) -> bytes:
    """Pages with the same title line at the top (no page number, no URL, no date) and the same
    note in the middle, between paragraphs of their own."""
    built = []
    for first, second, third in OWN[:pages]:
        page = PdfPage()
        page.text(72, 60, TITLE, size=11)
        page.lines(72, 140, [f"The {first} division sold more this quarter than", "in any quarter before it."])
        page.text(72, 250, NOTE)
        page.lines(72, 330, [f"The {second} division opened two new shops and", "closed one in the old town."])
        page.lines(72, 440, [f"The {third} division kept its prices where they", "were at the start of the year."])
        built.append(page)
    return build_pdf(built)


def pages_of(*bodies: str, header=None) -> list[PageResult]:
    return [PageResult(n, body, header=list(header or [])) for n, body in enumerate(bodies, 1)]


def test_a_title_on_top_of_every_page_becomes_their_header():
    pages = move_repeated_edges(pages_of(*(f"{TITLE}\n\nPage {word} text.\n\n{NOTE}\n\nMore {word}." for word in "ABC")))
    assert [page.header for page in pages] == [[TITLE]] * 3
    assert TITLE not in to_markdown(pages) and to_markdown(pages).count(NOTE) == 3


def test_digits_are_folded_and_a_footer_repeats_at_the_bottom():
    bodies = [f"Own text {word}.\n\nMore {word} text.\n\nAnnual Report 2024 - section {n}" for n, word in enumerate("ABC", 1)]
    pages = move_repeated_edges(pages_of(*bodies))
    assert [page.footer for page in pages] == [[f"Annual Report 2024 - section {n}"] for n in (1, 2, 3)]
    assert [page.text for page in pages] == [f"Own text {w}.\n\nMore {w} text." for w in "ABC"]


def test_one_page_is_no_evidence_and_a_middle_repeat_is_content():
    alone = pages_of(f"{TITLE}\n\nBody.")
    assert move_repeated_edges(alone) == alone
    twice = pages_of(*[f"{TITLE}\n\nThe same page, scanned twice.\n\nIts end."] * 2)
    assert move_repeated_edges(twice) == twice
    middle = pages_of(*(f"Own {word}.\n\nMore {word}.\n\n{NOTE}\n\nEven more {word}.\n\nLast {word}." for word in "ABC"))
    assert move_repeated_edges(middle) == middle


def test_a_long_document_needs_half_its_pages_and_a_header_elsewhere_counts():
    words = "one two three four five six".split()
    bodies = [f"{TITLE}\n\nOwn {w}." if w in ("one", "two") else f"Own {w}.\n\nMore {w}." for w in words]
    assert move_repeated_edges(pages_of(*bodies)) == pages_of(*bodies)  # 2 of 6 pages
    bodies[2] = f"{TITLE}\n\nOwn three."
    assert [page.header for page in move_repeated_edges(pages_of(*bodies))][:3] == [[TITLE]] * 3
    # The layout set the title apart on page 2 (a numbered page); page 1 kept it in its body.
    pages = [PageResult(1, f"{TITLE}\n\nOwn one."), PageResult(2, "Own two.", header=[TITLE])]
    assert move_repeated_edges(pages)[0].header == [TITLE]


def test_table_rows_and_bare_numbers_stay():
    table = "| Item | Price |\n|---|---|\n| a | 1 |\n| b | 2 |\n| c | 3 |"
    pages = pages_of(*(f"{table}\n\nOwn {w}.\n\n42" for w in "ABC"))
    assert move_repeated_edges(pages) == pages


def test_cli_text_and_document_md_leave_the_repeated_title_out(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(report(3))
    done = run_cli(str(path), "--format", "text", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    document = (tmp_path / "out" / "document.md").read_text()
    for text in (done.stdout, document):
        assert TITLE not in text
        assert text.count(NOTE) == 3  # the middle repeat is content
        assert all(f"The {first} division" in text for first, _, _ in OWN)
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert [page["header"] for page in result["pages"]] == [[TITLE]] * 3


def test_cli_single_page_keeps_its_title(tmp_path):
    path = tmp_path / "one.pdf"
    path.write_bytes(report(1))
    done = run_cli(str(path), "--format", "text")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(TITLE)


def test_lite_ocr_of_a_scanned_report_leaves_the_title_out(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(rasterised(report(3), dpi=110))
    done = run_cli(str(path), "--format", "text", env={"LITE_THREADS": "2"})
    assert done.returncode == 0, done.stderr
    assert "northwind" not in done.stdout.lower()
    assert done.stdout.lower().count("thousands of euros") == 3
    assert all(f"{first} division".lower() in done.stdout.lower() for first, _, _ in OWN)


def test_a_jobs_document_md_and_result_leave_it_out_while_its_pages_keep_it(gcs_bucket, function_client, counting):
    blob = upload(gcs_bucket, "report.pdf", report(3), "application/pdf")
    assert post_event(function_client, finalized_event(blob)) == 200
    prefix = f"ocr-results/report.pdf/{blob.generation}"
    document = gcs_bucket.blob(f"{prefix}/document.md").download_as_text()
    assert TITLE not in document and document.count(NOTE) == 3
    assert TITLE in gcs_bucket.blob(f"{prefix}/pages/0001.md").download_as_text()  # the page-level view
    result = read_json(gcs_bucket, f"{prefix}/result.json")
    assert [page["header"] for page in result["pages"]] == [[TITLE]] * 3
    assert TITLE not in to_text([PageResult(1, document)])


def test_get_jobs_result_leaves_it_out(gcs_bucket, counting):
    client = http_client(**{**TEST_ENV, "RESULTS_BUCKET": gcs_bucket.name, "PAGES_PER_CHUNK": "2"})
    job = client.post("/jobs", data=report(3), content_type="application/pdf").json
    wait_for(lambda: client.get(job["status_url"]).json["status"] == "done", what="job end")
    text = client.get(job["result_url"] + "?format=text").get_data(as_text=True)
    assert TITLE not in text and text.count(NOTE) == 3
    assert [page["header"] for page in client.get(job["result_url"]).json["pages"]] == [[TITLE]] * 3
