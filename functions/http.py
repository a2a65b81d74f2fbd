"""The HTTP function: POST /ocr, GET /healthz, GET|POST /warmup (Cloud Scheduler pings).

Routing, input parsing and reply shaping only; the OCR is ``common.pipeline.ocr_document`` and
the model load is the engine's own once-per-process ``load``.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from common import engines
from common.config import Settings
from common.documents import CONTENT_TYPES
from common.errors import (
    BadRequest,
    BucketNotAllowed,
    Busy,
    LengthRequired,
    OcrError,
    StorageUnavailable,
    TooLarge,
    Unauthorized,
    UnsupportedType,
)
from common.logs import log_context, setup_logging
from common.pipeline import FORMATS, ocr_document, render
from common.storage import GcsStore, parse_gs_uri
from functions import webui

log = logging.getLogger("gnosis.http")

# How long POST /ocr retries a failing gs:// read before answering 503 with Retry-After.
GCS_READ_RETRY_SECONDS = 15
# Room for multipart framing and form fields around a document of MAX_UPLOAD_BYTES.
_FORM_OVERHEAD = 64 * 1024

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
            handler, methods = ROUTES.get(route, (None, ()))
            if handler is None:
                return _error(404, "not_found", f"no route {route}; try POST /ocr, GET /healthz, POST /warmup")
            if request.method not in methods:
                return _error(405, "method_not_allowed", f"{route} accepts {', '.join(methods)}", Allow=", ".join(methods))
            return handler(request, settings())
        except HTTPException as exc:  # werkzeug's own refusals (malformed forms, ...), as JSON
            return _error(exc.code or 400, "bad_request", exc.description or exc.name)
        except OcrError as exc:
            log.info("request refused: %s", exc.message, extra={"fields": {"code": exc.code, "status": exc.status}})
            retry = getattr(exc, "retry_after_seconds", None)
            return _error(exc.status, exc.code, exc.message, **({"Retry-After": str(retry)} if retry else {}))
        except Exception:
            log.exception("request failed")
            return _error(500, "internal", f"internal error (request id {request_id})")


def healthz(request: flask.Request, settings: Settings):
    return flask.jsonify(status="ok", engines_loaded=engines.loaded_engine_names())


def warmup(request: flask.Request, settings: Settings):
    _check_token(request, settings)
    engine = engines.get_engine(settings)
    body = {"engine": engine.name, "model": engine.model, **_as_dict(engine.load())}
    body["revision"] = engine.revision  # a vlm engine knows its commit only once loaded
    log.info("warm-up: %s ready", engine.name, extra={"fields": body})
    return flask.jsonify(body)


def ocr(request: flask.Request, settings: Settings):
    _check_token(request, settings)
    data, options = _read_document(request, settings)
    fmt = options.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    with _ocr_slot(settings):
        result = ocr_document(data, settings, pages=options.get("pages"))
    log.info("ocr done", extra={"fields": {"pages": len(result.pages), **result.timings}})
    if fmt == "json":
        return flask.jsonify(result.to_json())
    mimetype = "text/markdown" if fmt == "markdown" else "text/plain"
    headers = {"X-OCR-Engine": result.engine, "X-OCR-Model": result.model, "X-OCR-Revision": result.revision}
    return flask.Response(render(result, fmt), mimetype=f"{mimetype}; charset=utf-8", headers=headers)


ROUTES = {
    "/ocr": (ocr, ("POST",)),
    "/healthz": (healthz, ("GET",)),
    "/warmup": (warmup, ("GET", "POST")),
    **webui.ROUTES,  # GET / (the web page) and its files under /ui/
}


def _read_document(request: flask.Request, settings: Settings) -> tuple[bytes, dict]:
    """The document's bytes and the options (pages, format), from any of the three input forms."""
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + _FORM_OVERHEAD:
        raise TooLarge(f"the request is {request.content_length} bytes; the limit is {limit} (MAX_UPLOAD_BYTES)")
    options = {key: request.args.get(key) for key in ("pages", "format") if request.args.get(key)}
    mimetype = request.mimetype or ""
    if mimetype == "application/json":
        try:
            body = json.loads(_limited(request.stream, limit))
        except ValueError:
            body = None
        if not isinstance(body, dict) or "gcs_uri" not in body:
            raise BadRequest('a JSON body must be an object like {"gcs_uri": "gs://bucket/object"}')
        options.update({key: str(body[key]) for key in ("pages", "format") if body.get(key) is not None})
        bucket, name = parse_gs_uri(body["gcs_uri"])
        if bucket not in settings.allowed_buckets:
            # Refused before any read: the function must not expose every bucket its account sees.
            raise BucketNotAllowed(f"bucket {bucket!r} is not in ALLOWED_BUCKETS")
        return _read_gcs(bucket, name, limit), options
    if mimetype == "multipart/form-data":
        if request.content_length is None:
            # The form parser cannot stop part-way through a chunked body: ask for its length.
            raise LengthRequired("multipart uploads must carry a Content-Length header (curl -F does)")
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("multipart requests carry the document in the field 'file'")
        for key in ("pages", "format"):
            if request.form.get(key):
                options[key] = request.form[key]
        return _limited(upload.stream, limit), options
    if mimetype not in CONTENT_TYPES and mimetype != "application/octet-stream":
        raise UnsupportedType(
            f"unsupported Content-Type {mimetype or '(none)'!r}: send a PDF or image "
            "(application/pdf, image/png, image/jpeg, image/tiff, image/webp, image/bmp), "
            "multipart field 'file', or JSON {\"gcs_uri\": ...}"
        )
    return _limited(request.stream, limit), options


def _read_gcs(bucket: str, name: str, limit: int) -> bytes:
    """The object's bytes; storage faults become a 403 (IAM) or a 503 to retry, never a 500."""
    from google.api_core import exceptions as gcs_errors
    from google.api_core.exceptions import RetryError
    from google.auth.exceptions import TransportError

    from google.cloud.storage.retry import DEFAULT_RETRY

    try:
        # A caller is waiting: retry storage faults for a while, then answer 503 rather than hang.
        store = GcsStore(bucket, retry=DEFAULT_RETRY.with_timeout(GCS_READ_RETRY_SECONDS))
        return store.read(name, max_bytes=limit).data
    except gcs_errors.Forbidden:
        raise BucketNotAllowed(f"this function's service account may not read gs://{bucket}/{name}") from None
    except (gcs_errors.GoogleAPICallError, RetryError, TransportError, ConnectionError) as exc:
        log.warning("reading gs://%s/%s failed: %s", bucket, name, exc)
        raise StorageUnavailable(f"storage did not answer for gs://{bucket}/{name}; retry later") from None


def _limited(stream, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"the document is over the limit of {limit} bytes (MAX_UPLOAD_BYTES)")
    if not data:
        raise BadRequest("the request carries no document")
    return data


class _ocr_slot:
    """At most MAX_CONCURRENT_DOCUMENTS OCR at once; others wait QUEUE_WAIT_SECONDS, then 503."""

    def __init__(self, settings: Settings):
        self.wait = settings.queue_wait_seconds
        self.slots = _slots  # the one we release, even if configure() replaces it meanwhile

    def __enter__(self):
        started = time.monotonic()
        if not self.slots.acquire(timeout=self.wait):
            raise Busy(f"all OCR slots stayed busy for {self.wait} s; retry later")
        waited = time.monotonic() - started
        if waited > 1:
            log.info("waited %.1f s for an OCR slot", waited)

    def __exit__(self, *exc):
        self.slots.release()


def _check_token(request: flask.Request, settings: Settings) -> None:
    if not settings.api_token:
        return
    # X-Api-Key too: a Cloud Scheduler job with an OIDC token already uses Authorization.
    supplied = request.headers.get("X-Api-Key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(supplied.strip().encode(), settings.api_token.encode()):
        raise Unauthorized("missing or wrong token: send 'Authorization: Bearer <API_TOKEN>' or 'X-Api-Key: <API_TOKEN>'")


def _as_dict(report) -> dict:
    # The lite engine reports a dict; the vlm engine a model_cache.CacheReport.
    return report if isinstance(report, dict) else report.as_dict()


def _error(status: int, code: str, message: str, **headers):
    response = flask.jsonify(error={"code": code, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response
