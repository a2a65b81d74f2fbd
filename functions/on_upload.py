"""ocr_on_upload: the CloudEvent target for ``google.cloud.storage.object.v1.finalized``.

Structured and binary CloudEvents arrive as they are; functions-framework turns the legacy
background-event shape (``google.storage.object.finalize``) into the same CloudEvent first.
Returning acknowledges the event; raising makes the platform retry it (see common.upload_job).
"""

from __future__ import annotations

import logging

import functions_framework

from common.config import Settings
from common.logs import setup_logging
from common.upload_job import FINALIZED, process_object

log = logging.getLogger("gnosis.on_upload")


@functions_framework.cloud_event
def ocr_on_upload(cloud_event) -> None:
    # Read per event (microseconds): a bad variable fails the event loudly, naming the variable.
    settings = Settings.from_env()
    setup_logging(settings.log_format)
    if cloud_event["type"] != FINALIZED:  # Eventarc filters by type; a misrouted event is not ours
        log.warning("ignored an event of type %s (id %s): this function handles %s only",
                    cloud_event["type"], cloud_event["id"], FINALIZED)
        return
    data = cloud_event.data if isinstance(cloud_event.data, dict) else {}
    process_object(
        bucket=data.get("bucket"),
        name=data.get("name"),
        generation=data.get("generation"),
        size=data.get("size"),
        content_type=data.get("contentType"),
        event_time=cloud_event.get("time") or data.get("timeCreated"),
        settings=settings,
    )
