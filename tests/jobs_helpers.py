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


class _LocalServer:
    """A real HTTP server on a free loopback port, serving ``handler`` on a thread while in ``with``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], path: str = ""):
        handler.log_message = lambda *args: None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class CallbackReceiver(_LocalServer):
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

        super().__init__(Handler, "/hook")


def wait_for(condition, timeout: float = 120, pause: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(pause)


# --- real functions-framework processes --------------------------------------------------------

import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.gcs_emulator import free_port  # noqa: E402
from tests.upload_helpers import TEST_ENV  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


class Service:
    """One functions-framework process (its own process group) on 127.0.0.1:port; JSON logs to a file."""

    def __init__(self, target: str, signature: str, env: dict, log_path: Path, port: int | None = None):
        self.target, self.signature, self.log_path = target, signature, log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **TEST_ENV, "PYTHONUNBUFFERED": "1", **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Service":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "functions_framework", f"--target={self.target}",
                 f"--signature-type={self.signature}", f"--source={REPO / 'main.py'}", "--host=127.0.0.1",
                 f"--port={self.port}"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        import requests

        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.target} exited: {self.log_path.read_text()[-3000:]}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return self
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"{self.target} did not start"
                time.sleep(0.1)

    def entries(self) -> list[dict]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def pages_done(self) -> list[int]:
        return [e["page"] for e in self.entries() if re.fullmatch(r"page \d+ done", e.get("message", ""))]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def services(tmp_path):
    """``services(target, signature, label, port=None, **env)`` starts one; all are stopped at the end."""
    started: list[Service] = []

    def start(target: str, signature: str, label: str, port: int | None = None, **env) -> Service:
        service = Service(target, signature, env, tmp_path / f"{label}.log", port)
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def tasks_queue():
    """A gcloud-tasks-emulator per test: ``tasks_queue(max_retries=-1)``; stopped at the end."""
    from tests.tasks_emulator import TasksEmulator

    started = []

    def start(max_retries: int = -1) -> TasksEmulator:
        emulator = TasksEmulator(max_retries=max_retries)
        started.append(emulator)
        return emulator.start()

    yield start
    for emulator in started:
        emulator.stop()


class NotFoundServer(_LocalServer):
    """A real HTTP server that answers 404 to everything (a hub that does not have the model)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET

        super().__init__(Handler)
