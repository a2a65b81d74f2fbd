"""Shared pieces of the job tests: a callback receiver, polling a job, documents of N known pages."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.upload_helpers import page_image

# Words the lite engine reads back reliably, one set per page (pages repeat them cyclically).
WORDS = ["Alpha Bravo Charlie", "Delta Echo Foxtrot", "Golf Hotel India", "Kilo Lima Mike"]


def make_long_pdf(pages: int) -> bytes:
    """``pages`` pages, page i carrying WORDS[i % 4] and its number: 'Page 7 Golf Hotel India'."""
    images = [page_image(f"{n} {WORDS[(n - 1) % len(WORDS)]}") for n in range(1, pages + 1)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


class CallbackReceiver:
    """A real HTTP server that records the JSON bodies POSTed to it (answers ``status``)."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def wait_for(condition, timeout: float = 120, pause: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(pause)
