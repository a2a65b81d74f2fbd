"""Logging: JSON lines that Cloud Logging parses on Cloud Run, plain text on a terminal.

Context that belongs to a whole request or event (request id, bucket, object, generation) is set
once with ``log_context(...)`` and added to every line logged inside it. Per-line fields go in
``extra={"fields": {...}}``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
import threading
import time

_configured: tuple[str, int] | None = None
_setup_lock = threading.Lock()
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("log_context", default={})


@contextlib.contextmanager
def log_context(**fields):
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line with Cloud Logging's special keys (severity, message, time)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "logger": record.name,
            **_context.get(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {**_context.get(), **getattr(record, "fields", {})}
        suffix = " ".join(f"{key}={value}" for key, value in fields.items())
        line = f"{record.levelname.lower()}: {record.getMessage()}" + (f" [{suffix}]" if suffix else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(log_format: str = "auto", level: int = logging.INFO) -> None:
    """Send our logs to stderr as JSON (Cloud Run, or LOG_FORMAT=json) or text. Idempotent."""
    global _configured
    if log_format == "auto":
        log_format = "json" if os.environ.get("K_SERVICE") else "text"
    with _setup_lock:  # the first events of an instance may arrive on several threads at once
        if _configured == (log_format, level):
            return
        _configured = (log_format, level)
        _install_handler(log_format, level)


def _install_handler(log_format: str, level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_gnosis", False):
            root.removeHandler(existing)
    handler._gnosis = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "google", "filelock", "httpx", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
