"""Issue 11 item 2: object names users choose can reach below another document's results folder
(``report.pdf/<G>/claims/notes.pdf``); the job must list and delete only what it writes itself."""

from __future__ import annotations

from common.config import Settings
from common.upload_job import process_object
from tests.upload_helpers import (  # noqa: F401  (fixtures)
    PAGE_WORDS, counting, list_names, make_pdf, read_json, upload, upload_env,
)


def _process(bucket, blob, engine):
    return process_object(bucket=bucket.name, name=blob.name, generation=blob.generation, size=blob.size,
                          content_type=blob.content_type, settings=Settings.from_env(), engine=engine)


def test_finishing_a_document_keeps_results_named_inside_its_claims_folder(gcs_bucket, counting):
    report = upload(gcs_bucket, "report.pdf", make_pdf(2), "application/pdf")
    notes = upload(gcs_bucket, f"report.pdf/{report.generation}/claims/notes.pdf", make_pdf(1), "application/pdf")
    assert _process(gcs_bucket, notes, counting).status == "done"
    notes_prefix = f"ocr-results/{notes.name}/{notes.generation}"
    notes_results = list_names(gcs_bucket, notes_prefix + "/")
    assert f"{notes_prefix}/result.json" in notes_results

    assert _process(gcs_bucket, report, counting).status == "done"

    assert list_names(gcs_bucket, notes_prefix + "/") == notes_results  # nothing of notes.pdf deleted
    assert read_json(gcs_bucket, f"{notes_prefix}/result.json")["status"] == "done"
    assert read_json(gcs_bucket, f"ocr-results/report.pdf/{report.generation}/result.json")["page_count"] == 2


def test_results_named_inside_a_pages_folder_are_not_taken_for_pages(gcs_bucket, counting):
    memo = upload(gcs_bucket, "memo.pdf", make_pdf(3), "application/pdf")
    other = upload(gcs_bucket, f"memo.pdf/{memo.generation}/pages/x.pdf", make_pdf(1), "application/pdf")
    assert _process(gcs_bucket, other, counting).status == "done"

    outcome = _process(gcs_bucket, memo, counting)

    assert outcome.status == "done" and outcome.pages_ocrd == (1, 2, 3)
    result = read_json(gcs_bucket, f"ocr-results/memo.pdf/{memo.generation}/result.json")
    assert result["status"] == "done" and [p["number"] for p in result["pages"]] == [1, 2, 3]
    document = gcs_bucket.blob(f"ocr-results/memo.pdf/{memo.generation}/document.md").download_as_text().lower()
    assert all(words.lower() in document for words in PAGE_WORDS)
