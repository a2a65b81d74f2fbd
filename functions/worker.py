"""ocr_worker: the private HTTP target that Cloud Tasks calls. Routes: POST /tasks/chunk, POST /tasks/callback.

Deployed as its own Cloud Run service whose only invoker is TASKS_SERVICE_ACCOUNT (Cloud Run
checks the queue's OIDC token first). When TASKS_SERVICE_ACCOUNT is set the worker also checks
the token itself: a Google-signed ID token, audience TASKS_WORKER_URL, email TASKS_SERVICE_ACCOUNT;
anything else is 401. Locally (emulator, tests) the variable is empty and no token is sent.

Answers: 200 when the task is done with (including a chunk whose pages were recorded as failed on
its last attempt); 503 for a transient fault, so the queue retries with backoff.
"""

from __future__ import annotations

import logging

import flask
import functions_framework

from common.callbacks import deliver
from common.config import Settings
from common.dispatch import CloudTasks, dispatcher_for
from common.errors import BadRequest, OcrError, Unauthorized
from common.job_chunk import ChunkRunner
from common.job_record import read_record
from common.logs import log_context, setup_logging
from common.storage import GcsStore

log = logging.getLogger("gnosis.worker")

_settings: Settings | None = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
        setup_logging(_settings.log_format)
    return _settings


@functions_framework.http
def ocr_worker(request: flask.Request):
    current = settings()
    route = request.path.rstrip("/")
    handler = {"/tasks/chunk": chunk, "/tasks/callback": callback}.get(route)
    if handler is None:
        return _reply(404, error={"code": "not_found", "message": f"no route {route}"})
    if request.method != "POST":
        return _reply(405, error={"code": "method_not_allowed", "message": f"{route} accepts POST"})
    try:
        verify_token(request, current)
        payload = _payload(request, current)
        with log_context(task=request.headers.get("X-CloudTasks-TaskName", ""), job=payload["prefix"]):
            return handler(payload, request, current)
    except OcrError as exc:
        if exc.permanent:
            return _reply(exc.status, error={"code": exc.code, "message": exc.message})
        log.warning("task failed, to be retried: %s", exc.message)
        return _reply(503, error={"code": exc.code, "message": exc.message})
    except Exception as exc:  # noqa: BLE001 - anything else: the queue retries
        log.exception("task failed, to be retried")
        return _reply(503, error={"code": "internal", "message": f"{type(exc).__name__}: {exc}"})


def chunk(payload: dict, request: flask.Request, current: Settings):
    store = GcsStore(payload["bucket"])
    record = read_record(store, payload["prefix"])
    if record is None or not isinstance(payload.get("chunk"), int) or not 0 <= payload["chunk"] < len(record.chunks):
        log.error("a chunk task for no such job or chunk: %s; dropped", payload)
        return _reply(200, status="no_such_chunk")
    attempt = _attempt(request)
    final = isinstance(dispatcher_for(current), CloudTasks) and attempt >= current.tasks_max_attempts
    runner = ChunkRunner(store, record, current, on_completed=dispatcher_for(current).completed)
    try:
        completion = runner.run(payload["chunk"], final_attempt=final, attempt=attempt)
    finally:
        runner.close()
    return _reply(200, status=completion, pages_ocrd=runner.ocrd, attempt=attempt)


def callback(payload: dict, request: flask.Request, current: Settings):
    store = GcsStore(payload["bucket"])
    record = read_record(store, payload["prefix"])
    if record is None:
        return _reply(200, status="no_such_job")
    if deliver(store, record, current):
        return _reply(200, status="delivered")
    return _reply(503, error={"code": "callback_failed", "message": f"{record.callback_url} did not take it; retried"})


def verify_token(request: flask.Request, current: Settings) -> None:
    account = current.tasks_service_account
    if not account:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a task must carry the queue's OIDC token (Authorization: Bearer ...)")
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_oauth2_token(token.strip(), google_requests.Request(), audience=current.tasks_worker_url)
    except Exception as exc:  # noqa: BLE001 - malformed, expired, wrong audience or signature
        raise Unauthorized(f"the OIDC token was refused: {exc}") from None
    if claims.get("email") != account or not claims.get("email_verified"):
        raise Unauthorized("the OIDC token is not TASKS_SERVICE_ACCOUNT's")


def _payload(request: flask.Request, current: Settings) -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("bucket"), str) or not isinstance(payload.get("prefix"), str):
        raise BadRequest('a task body is JSON {"bucket", "prefix"[, "chunk"]}')
    prefix = current.results_prefix
    if prefix and not payload["prefix"].startswith(prefix + "/"):
        raise BadRequest(f"a job lives under RESULTS_PREFIX={prefix}/")
    return payload


def _attempt(request: flask.Request) -> int:
    try:
        return int(request.headers.get("X-CloudTasks-TaskRetryCount", "0")) + 1
    except ValueError:
        return 1


def _reply(http_status: int, /, **body):
    response = flask.jsonify(body)
    response.status_code = http_status
    return response
