"""The documented laptop loop: a file copied into the inbox gets its results, and the events the
results raise in the same bucket cause no work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from scripts.local_loop import _client
from tests.gcs_emulator import free_port
from tests.upload_helpers import REPO, TEST_ENV, make_pdf


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
    try:
        deadline = time.monotonic() + 60
        while not inbox.is_dir():
            assert loop.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        (inbox / "memo.pdf").write_bytes(make_pdf(2))

        client = _client(f"http://127.0.0.1:{gcs_port}")
        outputs: list[str] = []
        while not any(name.endswith("/result.json") for name in outputs):
            assert loop.poll() is None and time.monotonic() < deadline + 60, log_path.read_text()
            time.sleep(0.2)
            outputs = [blob.name for blob in client.list_blobs("uploads", prefix="ocr-results/")]
        # Wait until the event of every output has been delivered and answered.
        while not all(f"delivered gs://uploads/{name}#" in log_path.read_text() for name in outputs):
            assert time.monotonic() < deadline + 90, log_path.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(loop.pid, 15)
        loop.wait(timeout=30)

    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert [e["page"] for e in entries if e["message"].endswith(" done") and "page" in e] == [1, 2]
    downloads = [e["object"] for e in entries if e["message"].startswith("downloaded")]
    assert downloads == ["memo.pdf"]  # the outputs' events caused no download
    skipped = {e["object"] for e in entries if "under the results prefix" in e["message"]}
    assert {name for name in outputs if not name.split("/")[-2] == "claims"} <= skipped
    assert any(name.endswith("/result.json") for name in skipped)
