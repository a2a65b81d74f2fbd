"""The queue part of the local loop: gcloud-tasks-emulator plus the worker (main.ocr_worker).

``python scripts/local_loop.py --queue`` starts both next to the GCS emulator and passes the
on-upload function the variables that make it enqueue chunk tasks (TASKS_QUEUE,
TASKS_EMULATOR_HOST, TASKS_WORKER_URL) instead of OCR'ing in line. The emulator comes from
``.venv-tasks`` (``make install-dev`` creates it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class LocalQueue:
    """The emulator and one worker process; ``env`` is what the on-upload function needs."""

    def __init__(self, worker_port: int, emulator_url: str):
        from tests.tasks_emulator import TasksEmulator

        self.emulator = TasksEmulator()
        self.worker_port, self.storage_url = worker_port, emulator_url
        self.worker: subprocess.Popen | None = None
        self.worker_url = f"http://127.0.0.1:{worker_port}"
        self.env = self.emulator.env(self.worker_url)
        self.env["TASKS_MAX_ATTEMPTS"] = os.environ.get("TASKS_MAX_ATTEMPTS", "5")

    def start(self) -> "LocalQueue":
        self.emulator.start()
        env = {**os.environ, "STORAGE_EMULATOR_HOST": self.storage_url, "PYTHONPATH": str(REPO), **self.env}
        command = [os.path.join(os.path.dirname(sys.executable), "functions-framework"), "--target=ocr_worker",
                   f"--source={REPO / 'main.py'}", "--signature-type=http", "--host=127.0.0.1",
                   f"--port={self.worker_port}"]
        self.worker = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.worker.returncode}")
            try:
                urllib.request.urlopen(self.worker_url + "/", timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # it answers (404 for /): up
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the worker did not start in 60 s")

    def stop(self) -> None:
        from scripts.local_loop import stop

        try:
            if self.worker is not None:
                stop(self.worker)
        finally:
            self.emulator.stop()
