"""Job callbacks: only to allow-listed hosts, POSTed when the job ends, recorded once delivered.

``CALLBACK_ALLOWED_HOSTS`` lists the host names a ``callback_url`` may name (empty: none may), so
the service cannot be made to reach internal addresses (metadata server, private services). The
URL is checked when the job is accepted and again before each delivery; redirects are not followed
(a redirect could lead anywhere). A delivery that gets a 2xx writes ``callback.json`` (if absent);
a later duplicate of the callback task finds it and sends nothing.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from common import job_layout
from common.config import Settings
from common.errors import BadRequest
from common.job_record import JobRecord, status
from common.storage import ObjectStore

log = logging.getLogger("gnosis.jobs")

TIMEOUT_SECONDS = 10


def check_callback_url(url: str, settings: Settings) -> str:
    """The URL if it may be called back; BadRequest (400) otherwise."""
    if not settings.callback_allowed_hosts:
        raise BadRequest("callback_url is not accepted here: CALLBACK_ALLOWED_HOSTS is empty")
    parts = urlsplit(url if isinstance(url, str) else "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("callback_url must be an http(s) URL")
    if parts.username or parts.password:
        raise BadRequest("callback_url must not carry credentials")
    if parts.hostname.lower() not in settings.callback_allowed_hosts:
        raise BadRequest(f"callback_url host {parts.hostname!r} is not in CALLBACK_ALLOWED_HOSTS")
    return url


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def deliver(store: ObjectStore, record: JobRecord, settings: Settings) -> bool:
    """POST the job's status to its callback_url once. True when delivered (now or before)."""
    url = record.callback_url
    record_name = f"{record.prefix}/{job_layout.CALLBACK}"
    if not url or store.exists(record_name):
        return True
    check_callback_url(url, settings)
    body = {"job_id": record.job_id, **(status(store, record.prefix) or {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "gnosis-ocr"})
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except OSError as exc:
        log.warning("callback to %s failed: %s; it is retried", url, exc)
        return False
    if not 200 <= code < 300:
        log.warning("callback to %s answered %d; it is retried", url, code)
        return False
    store.write(record_name, json.dumps({"url": url, "status_code": code, "delivered_at": time.time()}).encode(),
                "application/json", if_absent=True)
    log.info("callback delivered to %s (%d)", url, code)
    return True
