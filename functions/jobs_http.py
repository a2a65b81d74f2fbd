"""The job routes of the HTTP function: POST /jobs, GET /jobs/<id>, GET /jobs/<id>/result.

Where HTTP jobs live: in RESULTS_BUCKET, under ``<RESULTS_PREFIX>/jobs/<job_id>/`` (see
common.job_layout). A raw or multipart body is stored there first as ``source``; a gs:// input is
read where it is, at the generation read when the job was accepted. The job id is 32 random hex
digits: it maps to that folder and nothing else, so a client can read only jobs whose id it holds.
"""

from __future__ import annotations

import logging

import flask

from common import job_layout
from common.callbacks import check_callback_url
from common.config import Settings
from common.dispatch import dispatcher_for
from common.errors import BadRequest, JobNotDone, JobNotFound, NotConfigured, OcrError, StorageUnavailable
from common.job_accept import Source, accept
from common.job_record import read_record, read_result, status
from common.layout.repeats import move_repeated_edges
from common.pipeline import FORMATS, DocumentResult, render
from common.results import read_page
from common.storage import GcsStore
from functions.http_input import check_token, read_document

log = logging.getLogger("gnosis.http")

OPTIONS = ("pages", "format", "callback_url")


def create(request: flask.Request, settings: Settings):
    check_token(request, settings)
    if not settings.results_bucket:
        raise NotConfigured("POST /jobs needs RESULTS_BUCKET: jobs and their results are kept there")
    document = read_document(request, settings, OPTIONS)
    options = document.options
    fmt = options.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    callback = options.get("callback_url")
    if callback:
        check_callback_url(callback, settings)
    job_id = job_layout.new_job_id()
    prefix = job_layout.http_job_prefix(settings, job_id)
    store = GcsStore(settings.results_bucket)
    with storage_faults():
        if document.gcs is not None:
            source = Source(GcsStore(document.gcs_bucket), document.gcs_bucket, document.gcs.name,
                            document.gcs.generation, data=document.data)
        else:
            name = f"{prefix}/{job_layout.SOURCE}"
            store.write(name, document.data, document.content_type, if_absent=True)
            source = Source(store, settings.results_bucket, name, None, data=document.data)
        try:
            accept(store, prefix, source, settings, dispatcher_for(settings, background=True),
                   pages=options.get("pages"), job_id=job_id, record_failures=False,
                   options={"format": fmt, "callback_url": callback})
        except OcrError:
            if document.gcs is None:
                store.delete(source.name)  # no job was made: do not keep its document
            raise
    log.info("job %s accepted", job_id, extra={"fields": {"job_id": job_id}})
    urls = {"status_url": f"/jobs/{job_id}", "result_url": f"/jobs/{job_id}/result"}
    response = flask.jsonify(job_id=job_id, **urls)
    response.status_code = 202
    response.headers["Location"] = urls["status_url"]
    return response


def _status_or_404(store, prefix: str, job_id: str) -> dict:
    body = status(store, prefix)
    if body is None:
        raise JobNotFound(f"no job {job_id}")
    return body


def get_status(request: flask.Request, settings: Settings, job_id: str):
    check_token(request, settings)
    store, prefix = locate_job(settings, job_id)
    with storage_faults():
        body = _status_or_404(store, prefix, job_id)
    return flask.jsonify(job_id=job_id, **body)


def get_result(request: flask.Request, settings: Settings, job_id: str):
    check_token(request, settings)
    store, prefix = locate_job(settings, job_id)
    with storage_faults():
        body = _status_or_404(store, prefix, job_id)
        if body["status"] != "done":
            raise JobNotDone(f"job {job_id} is {body['status']}; its result exists once it is done", {"job_id": job_id, **body})
        record, result = read_record(store, prefix), read_result(store, prefix)
        fmt = request.args.get("format") or record.options.get("format") or "json"
        if fmt not in FORMATS:
            raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
        document = DocumentResult(
            page_count=record.page_count, pages=move_repeated_edges([read_page(store, prefix, n) for n in record.pages]),
            engine=result["engine"], model=result["model"], revision=result["revision"], timings=result["timings"],
        )
    if fmt == "json":
        return flask.jsonify(job_id=job_id, **document.to_json())
    mimetype = "text/markdown" if fmt == "markdown" else "text/plain"
    headers = {"X-OCR-Engine": document.engine, "X-OCR-Model": document.model, "X-OCR-Revision": document.revision}
    return flask.Response(render(document, fmt), mimetype=f"{mimetype}; charset=utf-8", headers=headers)


def locate_job(settings: Settings, job_id: str):
    if not settings.results_bucket or not job_layout.is_job_id(job_id):
        raise JobNotFound(f"no job {job_id}")
    return GcsStore(settings.results_bucket), job_layout.http_job_prefix(settings, job_id)


class storage_faults:
    """Storage that does not answer is a 503 to retry, not a 500."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        from google.api_core import exceptions as gcs_errors
        from google.api_core.exceptions import RetryError

        if exc is not None and isinstance(exc, (gcs_errors.GoogleAPICallError, RetryError, ConnectionError)) \
                and not isinstance(exc, OcrError):
            log.warning("storage fault: %s", exc)
            raise StorageUnavailable("storage or the task queue did not answer; retry later") from None
        return False
