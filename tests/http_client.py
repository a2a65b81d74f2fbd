"""The HTTP function in process (functions-framework's own app) and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import functions_framework

from common.config import Settings
from scripts.local_loop import stop, wait_until_serving
from tests.gcs_emulator import free_port

ROOT = Path(__file__).resolve().parent.parent


def http_client(**env: str):
    """A test client for main.ocr_http configured from ``env`` (on top of the defaults)."""
    from functions import http

    http.configure(Settings.from_env({"OCR_ENGINE": "lite", **env}))
    app = functions_framework.create_app("ocr_http", str(ROOT / "main.py"), "http")
    return app.test_client()


class FunctionProcess:
    """`functions-framework --target=...` on a free port, in its own process group, its log in a file.
    A failed start leaves nothing running; ``stop`` ends the whole group (gunicorn's master and worker)."""

    def __init__(self, target: str, signature: str, env: dict[str, str], log_path: Path, timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environment = {**os.environ, "OCR_ENGINE": "lite", "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1", **env}
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "functions_framework", f"--target={target}", f"--signature-type={signature}",
                 f"--source={ROOT / 'main.py'}", "--host=127.0.0.1", f"--port={self.port}"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            wait_until_serving(self.process, self.url + "/healthz", timeout)
        except BaseException as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {self.log_path.read_text()[-3000:]}") from exc

    def pids(self) -> list[int]:
        """The functions-framework process and its descendants (gunicorn serves from a worker child)."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
        tree, frontier = [self.process.pid], [self.process.pid]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            tree += children
            frontier = children
        return tree

    def memory_mib(self, field: str = "VmRSS") -> float:
        """Sum over the process tree of a /proc status field: VmRSS (now) or VmHWM (peak)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        stop(self.process)
