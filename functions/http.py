"""The HTTP function: POST /ocr, the job routes, GET /healthz, GET|POST /warmup (Cloud Scheduler pings).

Routing and reply shaping only: inputs are parsed in ``functions.http_input``, job routes live in
``functions.jobs_http``, the web page in ``functions.webui`` and its page images in
``functions.page_image_http``; the OCR is ``common.pipeline.ocr_document`` and the model load is the
engine's own once-per-process ``load``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from common import engines
from common.config import Settings
from common.errors import BadRequest, Busy, DeadlineExceeded, OcrError, PageBudget
from common.logs import log_context, setup_logging
from common.pipeline import FORMATS, load_engine, ocr_document, render
from functions import jobs_http, page_image_http, webui
from functions.http_input import check_token, read_document

log = logging.getLogger("gnosis.http")

# How long a request waits at most for a model that is still loading (here or on another instance)
# before answering 503 with Retry-After; the load goes on. POST /ocr's deadline (derived from
# REQUEST_TIMEOUT_SECONDS) and MODEL_WAIT_SECONDS, if lower, win, so callers get the documented 503,
# not the platform's 504.
REQUEST_MODEL_WAIT_SECONDS = 240

_settings: Settings | None = None
_slots: threading.BoundedSemaphore | None = None
_init_lock = threading.Lock()


def settings() -> Settings:
    """Read once per instance: a bad variable fails the first request loudly, naming it."""
    global _settings, _slots
    with _init_lock:
        if _settings is None:
            _settings = Settings.from_env()
            setup_logging(_settings.log_format)
            _slots = threading.BoundedSemaphore(_settings.max_concurrent_documents)
    return _settings


def configure(new_settings: Settings) -> None:
    """Use these settings instead of the environment's (tests; embedding in another server)."""
    global _settings, _slots
    with _init_lock:
        _settings = new_settings
        _slots = threading.BoundedSemaphore(new_settings.max_concurrent_documents)


@functions_framework.http
def ocr_http(request: flask.Request):
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
    route = request.path.rstrip("/") or "/"
    with log_context(request_id=request_id, path=route):
        try:
            handler, methods, arguments = _route(route)
            if handler is None:
                return _error(404, "not_found", f"no route {route}; try POST /ocr, POST /jobs, GET /healthz, POST /warmup")
            if request.method not in methods:
                return _error(405, "method_not_allowed", f"{route} accepts {', '.join(methods)}", Allow=", ".join(methods))
            return handler(request, settings(), *arguments)
        except HTTPException as exc:  # werkzeug's own refusals (malformed forms, ...), as JSON
            return _error(exc.code or 400, "bad_request", exc.description or exc.name)
        except OcrError as exc:
            log.info("request refused: %s", exc.message, extra={"fields": {"code": exc.code, "status": exc.status}})
            retry = getattr(exc, "retry_after_seconds", None)
            response = flask.jsonify(exc.to_json())
            response.status_code = exc.status
            if retry:
                response.headers["Retry-After"] = str(retry)
            return response
        except Exception:
            log.exception("request failed")
            return _error(500, "internal", f"internal error (request id {request_id})")


def healthz(request: flask.Request, settings: Settings):
    return flask.jsonify(status="ok", engines_loaded=engines.loaded_engine_names())


def warmup(request: flask.Request, settings: Settings):
    check_token(request, settings)
    engine = engines.get_engine(settings)
    body = {"engine": engine.name, "model": engine.model, **_as_dict(load_engine(engine, _model_wait(settings)))}
    body["revision"] = engine.revision  # a vlm engine knows its commit only once loaded
    log.info("warm-up: %s ready", engine.name, extra={"fields": body})
    return flask.jsonify(body)


def ocr(request: flask.Request, settings: Settings):
    started = time.monotonic()
    deadline = started + settings.sync_deadline_seconds
    check_token(request, settings)
    document = read_document(request, settings)
    fmt = document.options.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    with _ocr_slot(settings, deadline):
        result = ocr_document(document.data, settings, pages=document.options.get("pages"),
                              check_pages=_page_budget(settings), on_page=_deadline(settings, deadline),
                              model_wait_seconds=_model_wait(settings))
    log.info("ocr done", extra={"fields": {"pages": len(result.pages), **result.timings}})
    if fmt == "json":
        return flask.jsonify(result.to_json())
    mimetype = "text/markdown" if fmt == "markdown" else "text/plain"
    headers = {"X-OCR-Engine": result.engine, "X-OCR-Model": result.model, "X-OCR-Revision": result.revision}
    return flask.Response(render(result, fmt), mimetype=f"{mimetype}; charset=utf-8", headers=headers)


ROUTES = {
    "/ocr": (ocr, ("POST",)),
    "/jobs": (jobs_http.create, ("POST",)),
    "/healthz": (healthz, ("GET",)),
    "/warmup": (warmup, ("GET", "POST")),
    **webui.ROUTES,  # GET / (the web page) and its files under /ui/
}
# Routes with a path parameter: (pattern, handler, methods); the groups are passed to the handler.
PATTERNS = [
    (re.compile(r"/jobs/([^/]+)"), jobs_http.get_status, ("GET",)),
    (re.compile(r"/jobs/([^/]+)/result"), jobs_http.get_result, ("GET",)),
    *page_image_http.PATTERNS,  # GET /jobs/<id>/pages/<n>.png (the web page's page images)
]


def _route(route: str):
    if route in ROUTES:
        return (*ROUTES[route], ())
    for pattern, handler, methods in PATTERNS:
        match = pattern.fullmatch(route)
        if match:
            return handler, methods, match.groups()
    return None, (), ()


def _page_budget(settings: Settings):
    def check(numbers: list[int]) -> None:
        if len(numbers) > settings.sync_max_pages:
            raise PageBudget(f"{len(numbers)} pages is over SYNC_MAX_PAGES={settings.sync_max_pages} for POST /ocr; "
                             "send the document to POST /jobs and poll GET /jobs/<job_id>")
    return check


def _deadline(settings: Settings, deadline: float):
    """Stop between pages when the next page would likely end past the deadline."""
    ocr_started = time.monotonic()

    def on_page(page, total: int, done=[0]) -> None:  # noqa: B006 - one counter per request
        done[0] += 1
        now = time.monotonic()
        per_page = (now - ocr_started) / done[0]
        if done[0] < total and now + per_page > deadline:
            raise DeadlineExceeded(
                f"stopped after {done[0]} of {total} pages: the next would end past this request's deadline "
                f"({settings.sync_deadline_seconds:.0f} s, from REQUEST_TIMEOUT_SECONDS={settings.request_timeout_seconds}); "
                "send the document to POST /jobs")
    return on_page


class _ocr_slot:
    """At most MAX_CONCURRENT_DOCUMENTS OCR at once; others wait QUEUE_WAIT_SECONDS (never past the
    request's deadline), then 503."""

    def __init__(self, settings: Settings, deadline: float):
        self.wait = max(0.0, min(settings.queue_wait_seconds, deadline - time.monotonic()))
        self.slots = _slots  # the one we release, even if configure() replaces it meanwhile

    def __enter__(self):
        started = time.monotonic()
        if not self.slots.acquire(timeout=self.wait):
            raise Busy(f"all OCR slots stayed busy for {self.wait:.0f} s; retry later")
        waited = time.monotonic() - started
        if waited > 1:
            log.info("waited %.1f s for an OCR slot", waited)

    def __exit__(self, *exc):
        self.slots.release()


def _model_wait(settings: Settings) -> float:
    return min(settings.model_wait_seconds, REQUEST_MODEL_WAIT_SECONDS, settings.sync_deadline_seconds)


def _as_dict(report) -> dict:
    # The lite engine reports a dict; the vlm engine a model_cache.CacheReport.
    return report if isinstance(report, dict) else report.as_dict()


def _error(status: int, code: str, message: str, **headers):
    response = flask.jsonify(error={"code": code, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response
