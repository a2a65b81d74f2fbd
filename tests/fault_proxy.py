"""A fault-injecting HTTP proxy for storage tests: put it between the client and fake-gcs-server.

On a chosen fraction of requests it answers 503 or 429, or drops the connection without an answer;
the rest it forwards unchanged. A fixed seed makes a run repeatable. ``stop_upstream()``-style
outages are simulated with ``down = True`` (every request dropped).

Mode ``403`` (forced through ``before`` only) answers as storage does to a caller whose account
may not read the object. Opt-in mode ``lost`` forwards the request and then drops the connection instead of relaying the
reply: the write happened, the client cannot know it (the case that makes retried conditional
writes meet their own object). Hooks let a test watch or steer single requests: ``before(method,
path, body)`` may return a mode to force on this request; ``after(method, path, body, status)``
sees each answer from upstream before it is relayed (or lost).
"""

from __future__ import annotations

import http.client
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # dropped connections are the point, not news


class FaultProxy:
    def __init__(self, upstream: str, fail_fraction: float = 0.0, seed: int = 1234,
                 modes: tuple[str, ...] = ("503", "429", "drop")):
        target = urlsplit(upstream)
        self.upstream_host, self.upstream_port = target.hostname, target.port
        self.fail_fraction = fail_fraction
        self.modes = modes
        self.down = False
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.forwarded = 0
        self.injected: dict[str, int] = {mode: 0 for mode in ("503", "429", "403", "drop", "lost")}
        self.before = None
        self.after = None
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def faults(self) -> int:
        return sum(self.injected.values())

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _choose_fault(self, forced: str | None = None) -> str | None:
        with self._lock:
            if forced:
                self.injected[forced] += 1
                return forced
            if self.down:
                self.injected["drop"] += 1
                return "drop"
            if self._random.random() < self.fail_fraction:
                mode = self._random.choice(self.modes)
                self.injected[mode] += 1
                return mode
            self.forwarded += 1
            return None

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Status line, headers and body go out in separate writes: without TCP_NODELAY each
            # reply waits out the client's delayed ACK (about 40 ms a request).
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet: the tests count, they do not read logs
                pass

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                forced = proxy.before(self.command, self.path, body) if proxy.before else None
                fault = proxy._choose_fault(forced)
                if fault == "drop":
                    # Close without a status line: the client sees a dropped connection.
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault in ("503", "429", "403"):
                    payload = b'{"error": {"code": %s, "message": "injected fault"}}' % fault.encode()
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                if proxy.after:
                    proxy.after(self.command, self.path, body, response.status)
                if fault == "lost":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

        return Handler
