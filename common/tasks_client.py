"""Creating Cloud Tasks HTTP tasks for the worker (``main.ocr_worker``).

Each task is a POST of a small JSON payload to ``TASKS_WORKER_URL + path`` with a dispatch
deadline of ``TASKS_DISPATCH_DEADLINE_SECONDS`` and, when ``TASKS_SERVICE_ACCOUNT`` is set, an
OIDC token for that account whose audience is ``TASKS_WORKER_URL`` (the worker is a private
Cloud Run service that only that account may invoke; the worker checks the token too).

Tasks are unnamed: correctness never depends on the queue de-duplicating task names (the local
emulator does not), only on chunks being idempotent. With ``TASKS_EMULATOR_HOST`` the client talks
plain gRPC to gcloud-tasks-emulator, with no credentials.
"""

from __future__ import annotations

import functools
import json
import logging

from common.config import Settings

log = logging.getLogger("gnosis.tasks")

CHUNK_PATH = "/tasks/chunk"
CALLBACK_PATH = "/tasks/callback"


@functools.lru_cache(maxsize=4)
def _client(emulator_host: str):
    from google.cloud import tasks_v2

    if emulator_host:
        import grpc
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(emulator_host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel,
                                                                          credentials=AnonymousCredentials()))
    return tasks_v2.CloudTasksClient()


def client(settings: Settings):
    """One client per process (per emulator host)."""
    return _client(settings.tasks_emulator_host)


def enqueue(settings: Settings, path: str, payload: dict) -> str:
    """Create one HTTP task POSTing ``payload`` to the worker's ``path``; returns the task's name."""
    from google.cloud import tasks_v2
    from google.protobuf import duration_pb2

    if not settings.tasks_worker_url:
        raise RuntimeError("TASKS_QUEUE is set but TASKS_WORKER_URL is not: the queue would not know where to send tasks")
    audience = settings.tasks_worker_url
    request = tasks_v2.HttpRequest(
        http_method=tasks_v2.HttpMethod.POST,
        url=audience + path,
        headers={"Content-Type": "application/json"},
        body=json.dumps(payload).encode(),
    )
    if settings.tasks_service_account:
        request.oidc_token = tasks_v2.OidcToken(service_account_email=settings.tasks_service_account, audience=audience)
    task = tasks_v2.Task(
        http_request=request,
        dispatch_deadline=duration_pb2.Duration(seconds=settings.tasks_dispatch_deadline_seconds),
    )
    created = client(settings).create_task(parent=settings.tasks_queue, task=task, timeout=30)
    log.info("enqueued %s %s", path, json.dumps(payload), extra={"fields": {"task": created.name}})
    return created.name


def create_queue(settings: Settings) -> None:
    """Create TASKS_QUEUE (emulator only: a deployment's queue comes from Terraform)."""
    from google.cloud import tasks_v2

    parent = settings.tasks_queue.rsplit("/queues/", 1)[0]
    client(settings).create_queue(parent=parent, queue=tasks_v2.Queue(name=settings.tasks_queue))
