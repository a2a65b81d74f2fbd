"""The helpers that start processes leave nothing running, also when a start fails or a process
dies in a way that leaves part of its group behind (a gunicorn worker whose master was killed)."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from scripts.local_loop import start_function, stop
from tests.gcs_emulator import GcsEmulator, free_port
from tests.http_client import FunctionProcess
from tests.process_guard import marked_processes
from tests.upload_helpers import TEST_ENV

PROBE = "GNOSIS_CLEANUP_PROBE"


@pytest.fixture
def probe(monkeypatch):
    """A mark only the processes this test starts carry (children inherit our environment)."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(PROBE, value)
    yield value
    survivors = marked_processes(value, PROBE)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)


def _left(value: str) -> dict[int, str]:
    """What still runs of this test's processes: nothing, once a stop or a failed start returned."""
    return marked_processes(value, PROBE)


def test_start_function_that_times_out_leaves_nothing(probe, gcs_emulator):
    with pytest.raises(RuntimeError, match="did not start"):
        start_function(free_port(), gcs_emulator.url, TEST_ENV, timeout=0.2)
    assert _left(probe) == {}


def test_function_process_that_times_out_leaves_nothing(probe, tmp_path):
    with pytest.raises(RuntimeError, match="did not start"):
        FunctionProcess("ocr_http", "http", {}, tmp_path / "function.log", timeout=0.2)
    assert _left(probe) == {}


def test_emulator_that_times_out_leaves_nothing(probe):
    with pytest.raises(RuntimeError, match="did not start"):
        GcsEmulator().start(timeout=0)
    assert _left(probe) == {}


def test_stop_ends_a_worker_whose_master_was_killed(probe, gcs_emulator, tmp_path):
    with open(tmp_path / "function.log", "wb") as log:
        process = start_function(free_port(), gcs_emulator.url, TEST_ENV, log=log)
        try:
            workers = set(marked_processes(probe, PROBE)) - {process.pid}
            assert workers, "gunicorn serves from a worker beside its master"
            os.kill(process.pid, signal.SIGKILL)  # the master only: its worker is orphaned
            process.wait()
        finally:
            stop(process)
    assert _left(probe) == {}


def test_function_process_stop_ends_master_and_worker(probe, tmp_path):
    function = FunctionProcess("ocr_http", "http", {}, tmp_path / "function.log")
    try:
        assert len(marked_processes(probe, PROBE)) >= 2  # master and worker
    finally:
        function.stop()
    assert _left(probe) == {}


def test_the_session_guard_fails_a_run_that_leaves_a_process_running(tmp_path):
    """A test that starts a process in a session of its own and forgets it: the run fails, the
    process is named, and it is ended."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "test_forgetful.py").write_text(
        "import subprocess, sys\n"
        "def test_forgets_its_process():\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)  # forgotten'],\n"
        "                     start_new_session=True)\n")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           f"--rootdir={tmp_path}", "-c", "/dev/null", str(tmp_path / "test_forgetful.py")],
                          cwd=root, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "LEFT RUNNING" in done.stdout and "# forgotten" in done.stdout
    forgotten = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"# forgotten" in cmdline.read_bytes():
                forgotten.append(cmdline.parent.name)
        except OSError:
            pass
    assert forgotten == [], "the guard named the process but did not end it"
