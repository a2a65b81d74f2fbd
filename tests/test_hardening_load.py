"""Hardening 6: load on the HTTP function. N clients for D seconds against a real
functions-framework process with the lite engine: zero errors; p50/p99 latency and peak memory
are reported (printed), not asserted, since these machines are shared.

The default run is short (8 clients, 10 s); the full run (8 clients, 60 s) is `make test-slow`:
    .venv/bin/python -m pytest tests/test_hardening_load.py -m slow -s
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest
import requests

from tests.http_client import FunctionProcess
from tests.pages import pdf_bytes, text_page

DOCUMENT = pdf_bytes([text_page(["Load test page", "with two lines"], size=(700, 300), top=40, left=40)])


def run_load(tmp_path, clients: int, seconds: float) -> dict:
    function = FunctionProcess("ocr_http", "http", {"MAX_CONCURRENT_DOCUMENTS": "2", "QUEUE_WAIT_SECONDS": "120"},
                               tmp_path / "function.log")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = session.post(function.url + "/ocr?format=text", data=DOCUMENT,
                                        headers={"Content-Type": "application/pdf"}, timeout=180)
                ok = response.status_code == 200 and "Load test page" in response.text
                outcome = None if ok else f"{response.status_code}: {response.text[:200]}"
            except requests.RequestException as exc:
                outcome = repr(exc)
            with lock:
                if outcome:
                    errors.append(outcome)
                else:
                    latencies.append(time.monotonic() - started)

    try:
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = function.memory_mib("VmHWM")
    finally:
        function.stop()
    latencies.sort()
    figures = {
        "clients": clients, "seconds": seconds, "requests": len(latencies) + len(errors), "errors": len(errors),
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2) if latencies else None,
        "peak_rss_mib": round(peak),
    }
    print(f"\nload: {figures}")
    assert not errors, errors[:5]
    assert latencies
    return figures


def test_short_load_has_no_errors(tmp_path):
    run_load(tmp_path, clients=8, seconds=10)


@pytest.mark.slow
def test_sixty_seconds_of_eight_clients_has_no_errors(tmp_path):
    run_load(tmp_path, clients=8, seconds=60)
