"""The documented laptop loop: a file copied into the inbox gets its results, and the events the
results raise in the same bucket cause no work."""

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


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_copy_a_file_in_get_results_and_no_echo(tmp_path):
    gcs_port, function_port = free_port(), free_port()
    inbox, log_path = tmp_path / "inbox", tmp_path / "loop.log"
    env = {**os.environ, **TEST_ENV, "PYTHONUNBUFFERED": "1"}
    env.pop("STORAGE_EMULATOR_HOST", None)
    command = [sys.executable, "scripts/local_loop.py", "--gcs-port", str(gcs_port), "run",
               "--function-port", str(function_port), "--inbox", str(inbox), "--poll", "0.2"]
    with open(log_path, "wb") as log:
        loop = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def wait_for(condition) -> None:
        # No deadline of our own (a loaded machine is slow, not wrong): the loop must stay up, and
        # pytest's timeout ends a hang.
        while not condition():
            assert loop.poll() is None, log_path.read_text()
            time.sleep(0.2)

    try:
        wait_for(lambda: "function http://" in log_path.read_text() and inbox.is_dir())
        assert _port_open(function_port)
        (inbox / "memo.pdf").write_bytes(make_pdf(2))

        client = _client(f"http://127.0.0.1:{gcs_port}")
        outputs: list[str] = []

        def finished() -> bool:
            outputs[:] = [blob.name for blob in client.list_blobs("uploads", prefix="ocr-results/")]
            return any(name.endswith("/result.json") for name in outputs)

        wait_for(finished)
        # Wait until the event of every output has been delivered and answered.
        wait_for(lambda: all(f"delivered gs://uploads/{name}#" in log_path.read_text() for name in outputs))
    finally:
        # SIGTERM to the loop's own group only: the function runs in a session of its own, so
        # the loop itself must stop it, as it does on Ctrl-C.
        os.killpg(loop.pid, signal.SIGTERM)
        returncode = loop.wait(timeout=60)

    assert returncode == 0, log_path.read_text()
    assert not _port_open(function_port), "the function outlived the local loop"
    assert not _port_open(gcs_port), "the emulator outlived the local loop"
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert [e["page"] for e in entries if e["message"].endswith(" done") and "page" in e] == [1, 2]
    downloads = [e["object"] for e in entries if e["message"].startswith("downloaded")]
    assert downloads == ["memo.pdf"]  # the outputs' events caused no download
    skipped = {e["object"] for e in entries if "under the results prefix" in e["message"]}
    assert {name for name in outputs if not name.split("/")[-2] == "claims"} <= skipped
    assert any(name.endswith("/result.json") for name in skipped)
