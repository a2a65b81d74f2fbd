"""The laptop loop with the queue: `local_loop.py --queue` starts gcloud-tasks-emulator and a worker,
and the on-upload function enqueues chunks instead of OCR'ing in line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from scripts.local_loop import _client
from tests.gcs_emulator import free_port
from tests.upload_helpers import REPO, TEST_ENV, make_pdf


def _ctrl_c_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_file_dropped_in_is_ocrd_by_the_worker(tmp_path):
    gcs_port, function_port, worker_port = free_port(), free_port(), free_port()
    inbox, log_path = tmp_path / "inbox", tmp_path / "loop.log"
    env = {**os.environ, **TEST_ENV, "PYTHONUNBUFFERED": "1", "PAGES_PER_CHUNK": "1"}
    env.pop("STORAGE_EMULATOR_HOST", None)
    command = [sys.executable, "scripts/local_loop.py", "--gcs-port", str(gcs_port), "run", "--queue",
               "--worker-port", str(worker_port), "--function-port", str(function_port), "--inbox", str(inbox),
               "--poll", "0.2"]
    with open(log_path, "wb") as log:
        # Ctrl-C reaches the loop as from a terminal, even where this run inherited SIGINT ignored
        # (a background job of a non-interactive shell: Python then keeps it ignored).
        loop = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_ctrl_c_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 90
        while not inbox.is_dir():
            assert loop.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        (inbox / "memo.pdf").write_bytes(make_pdf(2))
        client = _client(f"http://127.0.0.1:{gcs_port}")
        while not any(b.name.endswith("/result.json") for b in client.list_blobs("uploads", prefix="ocr-results/")):
            assert loop.poll() is None and time.monotonic() < deadline + 90, log_path.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(loop.pid, signal.SIGINT)  # Ctrl-C: the loop stops the emulators, the function and the worker
        try:
            loop.wait(timeout=60)  # stop() allows each server 2 x 10 s grace; a loaded machine can use it
        except subprocess.TimeoutExpired:
            os.killpg(loop.pid, signal.SIGKILL)
            raise
    for port in (gcs_port, function_port, worker_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"

    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    accepted = [e for e in entries if e["message"].startswith("accepted:")]
    assert len(accepted) == 1 and "(queue)" in accepted[0]["message"] and accepted[0]["chunks"] == 2
    assert sorted(e["page"] for e in entries if e["message"].endswith(" done") and "page" in e) == [1, 2]
    assert all(e["logger"] == "gnosis.jobs" for e in entries if e["message"].endswith(" done") and "page" in e)
