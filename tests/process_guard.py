"""The suite leaves nothing running: every process a test starts carries a mark in its environment
(inherited from ours, and passed on to its own children), and at the end of the session any process
that still carries it fails the run, listed by command line, and is then killed.

Processes started in a session of their own (functions-framework, the local loop) stay out of
reach of Ctrl-C and of their parent's death, so the mark, not the process tree, is what finds them:
an orphan adopted by init still has it.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

MARK = "GNOSIS_TEST_RUN"


def mark_this_run() -> str:
    """Set the mark in our environment (children inherit it); returns its value."""
    value = f"{os.getpid()}-{uuid.uuid4().hex}"
    os.environ[MARK] = value
    return value


def marked_processes(value: str, mark: str = MARK) -> dict[int, str]:
    """pid -> command line of every live process other than us whose environment has mark=value."""
    wanted = f"{mark}={value}".encode()
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, only not reaped yet
            found[pid] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return found


def leftovers(value: str, grace: float = 5.0) -> dict[int, str]:
    """The marked processes still alive after ``grace`` seconds (time for a SIGTERM just sent to land)."""
    deadline = time.monotonic() + grace
    found = marked_processes(value)
    while found and time.monotonic() < deadline:
        time.sleep(0.1)
        found = marked_processes(value)
    return found


def kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
