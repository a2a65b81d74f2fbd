"""A real gcloud-tasks-emulator on 127.0.0.1, driven through the real google-cloud-tasks client.

It runs from its own venv, ``.venv-tasks`` (its protobuf pin clashes with the runtime's; ``make
install-dev`` creates it from tests/requirements-tasks-emulator.txt). What it does and does not do,
read from its source (gcloud_tasks_emulator/server.py, 0.6.2), and why it matters here:

- it POSTs an HTTP task to the task's own URL; headers X-CloudTasks-TaskName/-TaskRetryCount/
  -TaskExecutionCount as Cloud Tasks does; no OIDC token, no dispatch deadline (urlopen without a
  timeout): a hung worker holds the queue;
- one task at a time per queue, and its API serves two calls at a time: correctness must not
  depend on either (tests that need two chunks at once call the worker themselves);
- a failed task (4xx/5xx or no connection) goes straight to the back of the queue, with no backoff;
  ``--max-retries R`` gives up silently after R + 1 attempts (Cloud Tasks' max_attempts = R + 1);
- task names are not de-duplicated.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.gcs_emulator import free_port

REPO = Path(__file__).resolve().parent.parent
BINARY = REPO / ".venv-tasks" / "bin" / "gcloud-tasks-emulator"
QUEUE = "projects/local/locations/here/queues/chunks"


class TasksEmulator:
    def __init__(self, max_retries: int = -1, queue: str = QUEUE):
        self.port, self.queue, self.max_retries = free_port(), queue, max_retries
        self.host = f"127.0.0.1:{self.port}"
        self._workdir = tempfile.TemporaryDirectory(prefix="tasks-emulator-")
        self.log_path = Path(self._workdir.name) / "emulator.log"
        self._process: subprocess.Popen | None = None

    @property
    def max_attempts(self) -> int:
        """What Cloud Tasks would call max_attempts for this emulator (TASKS_MAX_ATTEMPTS)."""
        return self.max_retries + 1 if self.max_retries >= 0 else 1000

    def env(self, worker_url: str) -> dict[str, str]:
        """The variables that make a service enqueue on this emulator for ``worker_url``."""
        return {"TASKS_QUEUE": self.queue, "TASKS_EMULATOR_HOST": self.host, "TASKS_WORKER_URL": worker_url,
                "TASKS_MAX_ATTEMPTS": str(self.max_attempts)}

    def start(self) -> "TasksEmulator":
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run `make install-dev` (it creates .venv-tasks)")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [str(BINARY), "start", f"--port={self.port}", f"--default-queue={self.queue}",
                 f"--max-retries={self.max_retries}"],
                stdout=log, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gcloud-tasks-emulator exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gcloud-tasks-emulator did not start in 30 s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None

    def __enter__(self) -> "TasksEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
