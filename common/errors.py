"""Errors a user can act on. Each one knows its HTTP status, its JSON code and whether it is final.

``permanent`` errors describe the document or the request: retrying cannot help, so the on-upload
function records them in a ``failed`` result.json and acknowledges the event. Other errors are
transient (storage faults, a model that cannot be loaded right now): the platform should retry.
"""

from __future__ import annotations


class OcrError(Exception):
    status = 500
    code = "internal"
    permanent = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(OcrError):
    status, code, permanent = 400, "bad_request", True


class BadPageRange(BadRequest):
    code = "bad_page_range"


class LengthRequired(BadRequest):
    status, code = 411, "length_required"


class Unauthorized(OcrError):
    status, code, permanent = 401, "unauthorized", True


class BucketNotAllowed(OcrError):
    status, code, permanent = 403, "bucket_not_allowed", True


class ObjectNotFound(OcrError):
    status, code, permanent = 404, "not_found", True


class TooLarge(OcrError):
    status, code, permanent = 413, "too_large", True


class UnsupportedType(OcrError):
    status, code, permanent = 415, "unsupported_type", True


class UnreadableDocument(OcrError):
    """The bytes claim a supported type but cannot be turned into pages."""

    status, code, permanent = 422, "unreadable_document", True


class CorruptDocument(UnreadableDocument):
    code = "corrupt_document"


class EncryptedDocument(UnreadableDocument):
    code = "encrypted_document"


class EmptyDocument(UnreadableDocument):
    code = "empty_document"


class TooManyPages(UnreadableDocument):
    code = "too_many_pages"


class TooManyPixels(UnreadableDocument):
    code = "too_many_pixels"


class ModelUnavailable(OcrError):
    """The model cannot be loaded right now (download in progress elsewhere, hub unreachable)."""

    status, code, permanent = 503, "model_unavailable", False
    retry_after_seconds = 30


class StorageUnavailable(OcrError):
    """Cloud Storage failed or did not answer (after the client's own retries)."""

    status, code, permanent = 503, "storage_unavailable", False
    retry_after_seconds = 10


class Busy(OcrError):
    """Every OCR slot of this instance stayed taken for QUEUE_WAIT_SECONDS."""

    status, code, permanent = 503, "busy", False
    retry_after_seconds = 5


class ModelCacheDamaged(ModelUnavailable):
    """The model cache is damaged and a repair did not fix it (files still missing or of the wrong size).

    Still a 503: a later attempt may succeed (disk space freed, the hub fixed), but the message names
    the files, and a damaged snapshot is never loaded.
    """

    code = "model_cache_damaged"


class EngineFailed(OcrError):
    """The OCR engine failed (out of GPU memory, a model that will not load, a runtime crash).

    A fault of the server, not of the document: the request or event is retried, and no page is
    recorded as failed because of it.
    """

    status, code, permanent = 503, "engine_failed", False
    retry_after_seconds = 30
class PageBudget(OcrError):
    """More pages than one synchronous POST /ocr may OCR (SYNC_MAX_PAGES)."""

    status, code, permanent = 413, "too_many_pages_for_sync", True


class DeadlineExceeded(OcrError):
    """POST /ocr stopped between pages before the service's request timeout."""

    status, code, permanent = 504, "deadline_exceeded", False


class JobNotFound(OcrError):
    status, code, permanent = 404, "job_not_found", True


class JobNotDone(OcrError):
    """GET /jobs/<id>/result before the job is done; ``job`` is its status."""

    status, code, permanent = 409, "job_not_done", False

    def __init__(self, message: str, job: dict):
        super().__init__(message)
        self.job = job

    def to_json(self) -> dict:
        return {**super().to_json(), "job": self.job}


class NotConfigured(OcrError):
    """A route needs a variable this deployment did not set."""

    status, code, permanent = 503, "not_configured", False


class ChunksFailed(OcrError):
    """Every page of a job was given up by its chunk (out of retries, or its source gone)."""

    status, code, permanent = 500, "chunks_failed", True
