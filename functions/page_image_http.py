"""GET /jobs/<id>/pages/<n>.png: a job's page as an image, for the web page to show beside its text.

Rendered on first request from the job's own document and cached in the job's folder
(``common.page_images``); the browser never renders PDFs itself.
"""

from __future__ import annotations

import re

import flask

from common.config import Settings
from common.documents import Limits
from common.errors import JobNotFound
from common.job_record import read_record
from common.page_images import Source, page_png
from common.storage import GcsStore
from functions.http_input import check_token
from functions.jobs_http import locate_job, storage_faults


def page_image(request: flask.Request, settings: Settings, job_id: str, number: str):
    check_token(request, settings)
    store, prefix = locate_job(settings, job_id)
    with storage_faults():
        record = read_record(store, prefix)
        if record is None:  # an HTTP job has its record from the moment its id is given out
            raise JobNotFound(f"no job {job_id}")
        same_bucket = record.source_bucket == record.results_bucket
        source = Source(store if same_bucket else GcsStore(record.source_bucket), record.source_name,
                        record.source_generation)
        png = page_png(source, store, prefix, int(number), Limits.from_settings(settings))
    # A page's image never changes: the job's document is pinned.
    return flask.Response(png, mimetype="image/png", headers={
        "Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})


PATTERNS = [(re.compile(r"/jobs/([^/]+)/pages/(\d{1,6})\.png"), page_image, ("GET",))]
