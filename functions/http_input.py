"""What a request to the HTTP function carries: its token, and its document in one of three forms.

POST /ocr and POST /jobs take the same inputs: a raw body with its Content-Type, a multipart field
``file``, or JSON ``{"gcs_uri": "gs://b/o"}`` (a bucket in ALLOWED_BUCKETS); options as query
parameters, form fields or JSON keys.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass

import flask

from common.config import Settings
from common.documents import CONTENT_TYPES
from common.errors import (
    BadRequest, BucketNotAllowed, LengthRequired, StorageUnavailable, TooLarge, Unauthorized, UnsupportedType,
)
from common.storage import GcsStore, StoredObject, parse_gs_uri

log = logging.getLogger("gnosis.http")

# How long a gs:// read retries a failing storage call before answering 503 with Retry-After.
GCS_READ_RETRY_SECONDS = 15
# Room for multipart framing and form fields around a document of MAX_UPLOAD_BYTES.
_FORM_OVERHEAD = 64 * 1024


@dataclass
class DocumentInput:
    data: bytes
    options: dict
    content_type: str
    gcs: StoredObject | None = None  # the object read, for a gs:// input (its generation pinned)
    gcs_bucket: str | None = None


def read_document(request: flask.Request, settings: Settings, option_keys=("pages", "format")) -> DocumentInput:
    """The document's bytes and the options, from any of the three input forms."""
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + _FORM_OVERHEAD:
        raise TooLarge(f"the request is {request.content_length} bytes; the limit is {limit} (MAX_UPLOAD_BYTES)")
    options = {key: request.args.get(key) for key in option_keys if request.args.get(key)}
    mimetype = request.mimetype or ""
    if mimetype == "application/json":
        try:
            body = json.loads(_limited(request.stream, limit))
        except ValueError:
            body = None
        if not isinstance(body, dict) or "gcs_uri" not in body:
            raise BadRequest('a JSON body must be an object like {"gcs_uri": "gs://bucket/object"}')
        options.update({key: str(body[key]) for key in option_keys if body.get(key) is not None})
        bucket, name = parse_gs_uri(body["gcs_uri"])
        if bucket not in settings.allowed_buckets:
            # Refused before any read: the function must not expose every bucket its account sees.
            raise BucketNotAllowed(f"bucket {bucket!r} is not in ALLOWED_BUCKETS")
        stored = read_gcs(bucket, name, limit)
        return DocumentInput(stored.data, options, "application/octet-stream", stored, bucket)
    if mimetype == "multipart/form-data":
        if request.content_length is None:
            # The form parser cannot stop part-way through a chunked body: ask for its length.
            raise LengthRequired("multipart uploads must carry a Content-Length header (curl -F does)")
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("multipart requests carry the document in the field 'file'")
        for key in option_keys:
            if request.form.get(key):
                options[key] = request.form[key]
        return DocumentInput(_limited(upload.stream, limit), options, upload.mimetype or "application/octet-stream")
    if mimetype not in CONTENT_TYPES and mimetype != "application/octet-stream":
        raise UnsupportedType(
            f"unsupported Content-Type {mimetype or '(none)'!r}: send a PDF or image "
            "(application/pdf, image/png, image/jpeg, image/tiff, image/webp, image/bmp), "
            "multipart field 'file', or JSON {\"gcs_uri\": ...}"
        )
    return DocumentInput(_limited(request.stream, limit), options, mimetype)


def read_gcs(bucket: str, name: str, limit: int) -> StoredObject:
    """The object; storage faults become a 403 (IAM) or a 503 to retry, never a 500."""
    from google.api_core import exceptions as gcs_errors
    from google.api_core.exceptions import RetryError
    from google.auth.exceptions import TransportError
    from google.cloud.storage.retry import DEFAULT_RETRY

    try:
        # A caller is waiting: retry storage faults for a while, then answer 503 rather than hang.
        store = GcsStore(bucket, retry=DEFAULT_RETRY.with_timeout(GCS_READ_RETRY_SECONDS))
        return store.read(name, max_bytes=limit)
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


def check_token(request: flask.Request, settings: Settings) -> None:
    """With API_TOKEN set, the request must carry it as 'X-Api-Key: <token>' or 'Authorization:
    Bearer <token>' (the scheme in any case, RFC 7235); either one matching is enough.

    Both are looked at because on Cloud Run the Authorization header often carries something else:
    the Google OIDC token of the Cloud Scheduler warm-up job (or any caller of a private service),
    which Cloud Run checks and passes on. Such callers send the API token in X-Api-Key.
    """
    if not settings.api_token:
        return
    supplied = [request.headers.get("X-Api-Key", "").strip()]
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        supplied.append(credentials.strip())
    expected = settings.api_token.encode()
    # Every candidate is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(token.encode(), expected) for token in supplied if token]
    if not any(matches):
        raise Unauthorized("missing or wrong token: send 'X-Api-Key: <API_TOKEN>' or 'Authorization: Bearer <API_TOKEN>'")
