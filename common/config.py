"""Settings: every environment variable gnosis-ocr reads, its default and its validation.

This is the one place a variable is named. The README's configuration table, the deployed
environment in ``infra/runtime_env.json`` and the tests are all checked against ``VARIABLES``.

A bad value fails at start-up with a ``ConfigError`` that names the variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Callable, Mapping


class ConfigError(ValueError):
    """An environment variable has a value gnosis-ocr cannot use."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    description: str
    parse: Callable[[str], object]


def _text(value: str) -> str:
    return value.strip()


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be zero or a positive integer")
    return number


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _absolute_path(value: str) -> str:
    value = value.strip().rstrip("/") or "/"
    if not value.startswith("/"):
        raise ValueError("must be an absolute path")
    return value


def _queue_path(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"projects/[^/]+/locations/[^/]+/queues/[^/]+", value):
        raise ValueError("must be a full queue path projects/PROJECT/locations/LOCATION/queues/QUEUE")
    return value


def _dispatch_deadline(value: str) -> int:
    number = int(value)
    if not 15 <= number <= 1800:
        raise ValueError("must be between 15 and 1800 (Cloud Tasks' limits for HTTP tasks)")
    return number


VARIABLES: tuple[Variable, ...] = (
    Variable("MODEL_ID", "nanonets/Nanonets-OCR-s", "HuggingFace model the vlm engine loads.", _text),
    Variable("MODEL_REVISION", "main", "Branch, tag or commit hash of MODEL_ID (a commit hash needs no network to resolve).", _text),
    Variable("MODEL_CACHE_PATH", "/cache/huggingface", "Model cache root (the mounted volume); the hub cache is MODEL_CACHE_PATH/hub.", _absolute_path),
    Variable("MODEL_CACHE_BUCKET", "", "Bucket mounted at the cache path; when set, the cross-instance download lock is an object in it.", _text),
    Variable("MODEL_LOCK_TTL_SECONDS", "1800", "Age after which a download lock left by a crashed holder may be taken over.", _positive_int),
    Variable("MODEL_WAIT_SECONDS", "1800", "How long a caller waits for the model (another instance's download, or this process's own load) before a 503 / retry while the load goes on; HTTP requests wait at most 240 s.", _positive_int),
    Variable("OCR_ENGINE", "auto", "auto (vlm with a GPU, else lite), lite (CPU, bundled models) or vlm (MODEL_ID).", _choice("auto", "lite", "vlm")),
    Variable("RESULTS_BUCKET", "", "Bucket for on-upload results; empty means the uploads bucket itself.", _text),
    Variable("RESULTS_PREFIX", "ocr-results", "Prefix of result objects; uploads under it are never OCR'd.", lambda v: v.strip().strip("/")),
    Variable("ALLOWED_BUCKETS", "", "Comma-separated buckets POST /ocr may read gs:// URIs from; empty means none.", _csv),
    Variable("MAX_UPLOAD_BYTES", str(32 * 1024 * 1024), "Largest document accepted, by upload or gs:// read (bytes; an object stored gzip-encoded counts inflated, and is never inflated past it).", _positive_int),
    Variable("MAX_PAGES", "500", "Most pages a document may have.", _positive_int),
    Variable("MAX_IMAGE_PIXELS", "100000000", "Most pixels an input image (one frame) may decode to; guards against decompression bombs.", _positive_int),
    Variable("RENDER_LONG_EDGE", "2000", "Long edge, in pixels, that pages are rendered or scaled to before OCR.", _positive_int),
    Variable("PDF_TEXT_LAYER", "auto", "auto: read each PDF page from its own text layer where it is usable, OCR the others (with the lite engine; vlm OCRs every page); off: OCR every page.", _choice("auto", "off")),
    Variable("PDF_OCR_LAYER", "redo", "A PDF page whose text is an invisible OCR layer over a page image: redo (OCR the page again) or trust (read that layer).", _choice("redo", "trust")),
    Variable("LITE_THREADS", "0", "CPU threads for the lite engine; 0 means one per core.", _non_negative_int),
    Variable("LITE_SCRIPT", "latin", "lite: scripts the recogniser may output: latin (Latin letters, digits, punctuation, Greek and math symbols: its vocabulary is cut to these, docs/lite-engine.md) or all.", _choice("latin", "all")),
    Variable("MAX_NEW_TOKENS", "4096", "vlm: most tokens generated per page.", _positive_int),
    Variable("VLM_BATCH_SIZE", "4", "vlm: pages per generate call.", _positive_int),
    Variable("VLM_MAX_PIXELS", "1605632", "vlm: page images are scaled down to at most this many pixels (GPU memory guard).", _positive_int),
    Variable("API_TOKEN", "", "If set, POST /ocr and /warmup require 'X-Api-Key: <token>' or 'Authorization: Bearer <token>' (scheme in any case); callers whose Authorization carries a Google OIDC token (the warm-up job) send X-Api-Key.", _text),
    Variable("MAX_CONCURRENT_DOCUMENTS", "2", "HTTP: documents OCR'd at once per instance; more wait.", _positive_int),
    Variable("QUEUE_WAIT_SECONDS", "60", "HTTP: how long a request waits for a free slot before a 503.", _non_negative_int),
    Variable("MAX_EVENT_AGE_SECONDS", "86400", "On-upload: events older than this are dropped instead of retried.", _positive_int),
    Variable("CLAIM_TTL_SECONDS", "900", "Jobs: a page claim not refreshed for this long (its holder refreshes it every third of it) is presumed abandoned and may be taken over.", _positive_int),
    Variable("CLAIM_WAIT_SECONDS", "120", "Jobs: how long a chunk waits for pages another live worker claimed before failing so it is retried later.", _non_negative_int),
    Variable("PAGES_PER_CHUNK", "8", "Jobs: pages per chunk task (one task OCRs one chunk).", _positive_int),
    Variable("TASKS_QUEUE", "", "Jobs: Cloud Tasks queue projects/P/locations/L/queues/Q that receives chunk tasks; empty means chunks run in-process.", _queue_path),
    Variable("TASKS_WORKER_URL", "", "Jobs: base URL of the private worker service (main.ocr_worker) that chunk and callback tasks are POSTed to.", lambda v: v.strip().rstrip("/")),
    Variable("TASKS_SERVICE_ACCOUNT", "", "Jobs: email of the service account whose OIDC token the queue attaches; the worker then accepts only that account's tokens. Empty means no token.", _text),
    Variable("TASKS_EMULATOR_HOST", "", "Jobs: host:port of gcloud-tasks-emulator (local only); the tasks client then talks plain gRPC to it.", _text),
    Variable("TASKS_DISPATCH_DEADLINE_SECONDS", "1800", "Jobs: dispatch deadline of each task (15 to 1800 s); a chunk must finish well inside it.", _dispatch_deadline),
    Variable("TASKS_MAX_ATTEMPTS", "5", "Jobs: the queue's max attempts per task (must equal its retry_config); a chunk on its last attempt records its unfinished pages as failed.", _positive_int),
    Variable("CALLBACK_ALLOWED_HOSTS", "", "Jobs: comma-separated host names a job's callback_url may point to; empty means callback_url is refused (400).", lambda v: tuple(h.lower() for h in _csv(v))),
    Variable("SYNC_MAX_PAGES", "20", "POST /ocr: most pages one synchronous request may OCR; more get a 413 that points to POST /jobs.", _positive_int),
    Variable("REQUEST_TIMEOUT_SECONDS", "300", "The service's request timeout; POST /ocr stops between pages before it (10% margin, at most 30 s) and answers 504.", _positive_int),
    Variable("LOG_FORMAT", "auto", "json (Cloud Logging), text, or auto (json on Cloud Run, else text).", _choice("auto", "json", "text")),
)

# Variables huggingface_hub reads itself; they must agree with MODEL_CACHE_PATH when set.
HF_CACHE_VARIABLES = ("HF_HOME", "HF_HUB_CACHE")
# Never set globally: offline is the loader's decision for each call.
FORBIDDEN_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@dataclass(frozen=True)
class Settings:
    model_id: str
    model_revision: str
    model_cache_path: str
    model_cache_bucket: str
    model_lock_ttl_seconds: int
    model_wait_seconds: int
    ocr_engine: str
    results_bucket: str
    results_prefix: str
    allowed_buckets: tuple[str, ...]
    max_upload_bytes: int
    max_pages: int
    max_image_pixels: int
    render_long_edge: int
    pdf_text_layer: str
    pdf_ocr_layer: str
    lite_threads: int
    lite_script: str
    max_new_tokens: int
    vlm_batch_size: int
    vlm_max_pixels: int
    api_token: str
    max_concurrent_documents: int
    queue_wait_seconds: int
    max_event_age_seconds: int
    claim_ttl_seconds: int
    claim_wait_seconds: int
    pages_per_chunk: int
    tasks_queue: str
    tasks_worker_url: str
    tasks_service_account: str
    tasks_emulator_host: str
    tasks_dispatch_deadline_seconds: int
    tasks_max_attempts: int
    callback_allowed_hosts: tuple[str, ...]
    sync_max_pages: int
    request_timeout_seconds: int
    log_format: str

    @property
    def sync_deadline_seconds(self) -> float:
        """POST /ocr's own deadline: the request timeout less a margin (10%, between 1 and 30 s)
        for the reply to get out before the platform cuts the request off."""
        margin = min(30.0, max(1.0, self.request_timeout_seconds * 0.1))
        return max(1.0, self.request_timeout_seconds - margin)

    @property
    def hub_cache_path(self) -> str:
        """The huggingface_hub cache folder (``HF_HUB_CACHE``) under the mounted volume."""
        return os.path.join(self.model_cache_path, "hub")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read and validate every variable; ``overrides`` (field names) win over the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for variable in VARIABLES:
            raw = environ.get(variable.name, variable.default)
            try:
                values[variable.name.lower()] = variable.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{variable.name}={raw!r}: {exc}") from None
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings._check_hf_environment(environ)
        return settings

    def _check_hf_environment(self, environ: Mapping[str, str]) -> None:
        for name in FORBIDDEN_OFFLINE_VARIABLES:
            if environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
                raise ConfigError(
                    f"{name}={environ[name]!r}: gnosis-ocr decides offline/online per call "
                    "(a complete cached model is loaded without network); unset it"
                )
        expected = {"HF_HOME": self.model_cache_path, "HF_HUB_CACHE": self.hub_cache_path}
        for name, path in expected.items():
            value = environ.get(name)
            if value and os.path.normpath(value) != os.path.normpath(path):
                raise ConfigError(
                    f"{name}={value!r} disagrees with MODEL_CACHE_PATH={self.model_cache_path!r} "
                    f"(expected {path!r}); set one cache path everywhere"
                )
