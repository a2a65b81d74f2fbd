"""A small HuggingFace-hub look-alike on 127.0.0.1, so the real huggingface_hub download path runs.

It serves what ``huggingface_hub.snapshot_download`` and ``hf_hub_download`` ask for:

- ``GET /api/models/{repo}/revision/{rev}``: model info (the commit ``sha`` and ``siblings``);
- ``GET /api/models/{repo}/tree/{rev}``: the file listing with sizes (LFS entries for weights);
- ``HEAD|GET /{repo}/resolve/{rev}/{path}``: the file, with ``X-Repo-Commit``, ``ETag`` and
  ``Content-Length`` (and ``Range`` for resumed downloads).

Every request is recorded with the instance that made it (the loader puts
``gnosis-ocr-instance/<id>`` in its User-Agent), so tests can count requests and bytes per process.
Knobs let a test slow the hub down, take it down, hold a file until released (a download as long
as the test needs), stall a transfer half-way (to kill a downloader mid-file), advertise a size that
the served file does not have (a cache that cannot be repaired) or serve a file's bytes corrupted at
its listed size and hash. ``add_folder`` again on the same repo publishes a new commit and moves the
branch, as a push does; older commits stay served by hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin")
_INSTANCE = re.compile(r"gnosis-ocr-instance/([\w.\-]+)")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes]  # of the latest commit
    commit: str  # the latest commit
    refs: dict[str, str]
    history: dict[str, dict[str, bytes]] = field(default_factory=dict)  # every commit's files

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES)

    def etag(self, path: str, data: bytes | None = None) -> str:
        data = self.files[path] if data is None else data
        return hashlib.sha256(data).hexdigest() if self.is_lfs(path) else git_blob_sha1(data)

    def files_at(self, commit: str) -> dict[str, bytes]:
        return self.history.get(commit, self.files if commit == self.commit else {})


@dataclass
class Request:
    method: str
    path: str
    instance: str | None
    status: int
    body_bytes: int

    @property
    def is_file_get(self) -> bool:
        return self.method == "GET" and "/resolve/" in self.path


@dataclass
class HubKnobs:
    delay_seconds: float = 0.0  # before serving each file body: widens the window where others wait
    down: bool = False  # answer every request with 503
    stall: set[str] = field(default_factory=set)  # file paths whose GET stops half-way until released
    hold: set[str] = field(default_factory=set)  # file paths whose GET waits for release, then completes
    held: threading.Event = field(default_factory=threading.Event)  # set once a held GET is waiting
    advertised_sizes: dict[str, int] = field(default_factory=dict)  # tree listing lies about these sizes
    corrupt: set[str] = field(default_factory=set)  # served with flipped bytes (same size, same ETag)
    stalled: threading.Event = field(default_factory=threading.Event)  # set once a stalled GET is under way
    release: threading.Event = field(default_factory=threading.Event)


class HubServer:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.knobs = HubKnobs()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- content -------------------------------------------------------------------------------
    def add_folder(self, repo_id: str, folder: str | Path, branch: str = "main") -> str:
        """Publish every file under ``folder`` as ``repo_id`` at a new commit that ``branch`` then
        points to (earlier commits stay downloadable by their hash); returns the commit hash."""
        folder = Path(folder)
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        commit = hashlib.sha1(json.dumps({k: git_blob_sha1(v) for k, v in files.items()}, sort_keys=True).encode()).hexdigest()
        previous = self.repos.get(repo_id)
        history = dict(previous.history) if previous else {}
        history[commit] = files
        refs = {**(previous.refs if previous else {}), branch: commit}
        self.repos[repo_id] = Repo(files=files, commit=commit, refs=refs, history=history)
        return commit

    # -- counting ------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        self.knobs = HubKnobs()

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def file_gets(self) -> dict[str, int]:
        """How many times each file body was requested (the path after /resolve/<rev>/)."""
        counts: dict[str, int] = {}
        for request in self.snapshot():
            if request.is_file_get:
                name = request.path.split("/resolve/", 1)[1].split("/", 1)[1]
                counts[name] = counts.get(name, 0) + 1
        return counts

    def bytes_served(self) -> int:
        return sum(r.body_bytes for r in self.snapshot() if r.is_file_get)

    def by_instance(self) -> dict[str | None, list[Request]]:
        grouped: dict[str | None, list[Request]] = {}
        for request in self.snapshot():
            grouped.setdefault(request.instance, []).append(request)
        return grouped

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "HubServer":
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.knobs.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real hub; every reply carries Content-Length
    server_hub: HubServer

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests read the request list instead
        pass

    def do_HEAD(self):
        self._dispatch(head=True)

    def do_GET(self):
        self._dispatch(head=False)

    # -- routing -------------------------------------------------------------------------------
    def _dispatch(self, head: bool) -> None:
        hub = self.server_hub
        path = unquote(urlsplit(self.path).path)
        agent = self.headers.get("User-Agent", "")
        match = _INSTANCE.search(agent)
        self._record = Request(self.command, path, match.group(1) if match else None, 0, 0)
        with hub._lock:
            hub.requests.append(self._record)
        if hub.knobs.down:
            return self._json(503, {"error": "hub is down (test knob)"}, head)
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/(.+)", path):
            return self._model_info(m.group(1), m.group(2), head)
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
            return self._tree(m.group(1), m.group(2), head)
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(m.group(1), m.group(2), m.group(3), head)
        return self._json(404, {"error": f"no route for {path}"}, head)

    def _repo_and_commit(self, repo_id: str, revision: str, head: bool) -> tuple[Repo, str] | None:
        repo = self.server_hub.repos.get(repo_id)
        if repo is None:
            self._json(404, {"error": "Repository not found"}, head, {"X-Error-Code": "RepoNotFound"})
            return None
        commit = repo.refs.get(revision, revision if repo.files_at(revision) else None)
        if commit is None:
            self._json(404, {"error": f"Invalid rev id: {revision}"}, head, {"X-Error-Code": "RevisionNotFound"})
            return None
        return repo, commit

    def _model_info(self, repo_id: str, revision: str, head: bool) -> None:
        found = self._repo_and_commit(repo_id, revision, head)
        if found:
            repo, commit = found
            self._json(200, {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                             "siblings": [{"rfilename": name} for name in repo.files_at(commit)]}, head)

    def _tree(self, repo_id: str, revision: str, head: bool) -> None:
        found = self._repo_and_commit(repo_id, revision, head)
        if not found:
            return
        repo, commit = found
        entries = []
        for name, data in repo.files_at(commit).items():
            size = self.server_hub.knobs.advertised_sizes.get(name, len(data))
            entry = {"type": "file", "oid": git_blob_sha1(data), "size": size, "path": name}
            if repo.is_lfs(name):
                entry["lfs"] = {"oid": repo.etag(name, data), "size": size, "pointerSize": 134}
            entries.append(entry)
        self._json(200, entries, head)

    def _resolve(self, repo_id: str, revision: str, name: str, head: bool) -> None:
        found = self._repo_and_commit(repo_id, revision, head)
        if not found:
            return
        repo, commit = found
        files = repo.files_at(commit)
        if name not in files:
            return self._json(404, {"error": "Entry not found"}, head, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
        data = files[name]
        etag = repo.etag(name, data)
        if name in self.server_hub.knobs.corrupt:
            data = bytes(b ^ 0xFF for b in data)
        start = 0
        status = 200
        headers = {"X-Repo-Commit": commit, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if (rng := self.headers.get("Range")) and (m := re.fullmatch(r"bytes=(\d+)-", rng.strip())):
            start = min(int(m.group(1)), len(data))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        knobs = self.server_hub.knobs
        if not head and knobs.delay_seconds:
            time.sleep(knobs.delay_seconds)
        if not head and name in knobs.hold:
            knobs.held.set()
            knobs.release.wait(timeout=120)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._record.status = status
        if head:
            return
        if name in knobs.stall:
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            self._record.body_bytes = half
            knobs.stalled.set()
            knobs.release.wait(timeout=60)
            self.close_connection = True
            return
        self.wfile.write(body)
        self._record.body_bytes = len(body)

    def _json(self, status: int, payload, head: bool, extra: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._record.status = status
        if not head:
            self.wfile.write(body)
