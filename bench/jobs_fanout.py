"""Issue 12's three figures: event acknowledged, time to result with K workers, fan-out overhead.

    .venv/bin/python bench/jobs_fanout.py [--part ack|workers|overhead] [--pages 200] [--latency 1.5]

Real peers throughout: fake-gcs-server (tests/gcs_emulator.py), gcloud-tasks-emulator
(tests/tasks_emulator.py, from .venv-tasks) and a real functions-framework process.

1. **Event acknowledged** (``ack``): the on-upload function as a functions-framework process with
   TASKS_QUEUE set; the time from POSTing the finalized CloudEvent to its 200, for a 1-page and a
   200-page PDF (median of 3 uploads each). The queue's tasks point at an address where nothing
   listens and are dropped (the emulator with --max-retries=0): only accepting is measured.
2. **Time to result with K workers** (``workers``): a 200-page job is accepted through the real
   ``common.job_accept.accept`` and its chunk plan, then *this script plays the queue's dispatcher*:
   K threads pull the chunk indexes from one list and each runs ``ChunkRunner.run`` (what the
   worker's /tasks/chunk does) against fake-gcs-server. The gcloud-tasks-emulator cannot be used
   for this: it dispatches one task at a time. On 2 cores the OCR would measure the CPU, not the
   orchestration, so the engine here is a stand-in with a fixed latency per page (``--latency``,
   it sleeps; rendering and storage are real); PAGES_PER_CHUNK=5 so that 40 chunks divide evenly
   over 1, 2, 4 and 8 workers. Printed: seconds and speed-up against one worker (goal >= 0.8 x K).
3. **Fan-out overhead** (``overhead``): the lite engine (real OCR) on a ``--overhead-pages`` PDF;
   worker seconds summed over every chunk run (download, open, claims, OCR, writes) divided by the
   seconds of the same document accepted in-process (one delivery, the document opened once).
   Goal <= 1.10.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine  # noqa: E402

ENV = {"OCR_ENGINE": "lite", "LOG_FORMAT": "json", "RENDER_LONG_EDGE": "1000", "LITE_THREADS": "2"}


def _pdf(pages: int) -> bytes:
    from tests.jobs_helpers import make_long_pdf

    return make_long_pdf(pages)


class FixedLatencyEngine:
    """Bench-only stand-in: 'reads' every page in exactly ``latency`` seconds (sleeping)."""

    name, model, revision, batch_size = "fixed-latency", "none", "0", 1

    def __init__(self, latency: float):
        self.latency = latency

    def load(self, wait_seconds: float | None = None) -> dict:
        return {}

    def ocr_pages(self, images):
        from common.engines.base import PageText

        time.sleep(self.latency * len(images))
        return [PageText(f"page of {image.size[0]}x{image.size[1]}") for image in images]


def part_ack(gcs, bucket) -> dict:
    from tests.gcs_emulator import free_port
    from tests.jobs_helpers import Service
    from tests.tasks_emulator import TasksEmulator
    from tests.upload_helpers import finalized_event, post_event, upload

    figures = {}
    with TasksEmulator(max_retries=0) as queue, _tempdir() as logs:
        env = {**ENV, **queue.env(f"http://127.0.0.1:{free_port()}"), "STORAGE_EMULATOR_HOST": gcs.url}
        front = Service("ocr_on_upload", "cloudevent", env, Path(logs) / "on-upload.log").start()
        try:
            for pages in (1, 200):
                data, times = _pdf(pages), []
                for round_ in range(4):
                    blob = upload(bucket, f"ack/{pages}-{round_}-{uuid.uuid4().hex[:6]}.pdf", data, "application/pdf")
                    started = time.perf_counter()
                    assert post_event(front.url + "/", finalized_event(blob)) == 200
                    if round_:  # the first one also builds the tasks client: reported apart
                        times.append(time.perf_counter() - started)
                    else:
                        figures[f"first_{pages}"] = time.perf_counter() - started
                figures[pages] = statistics.median(times)
                print(f"  ack {pages:>3} pages: median {figures[pages]:.2f} s over {len(times)} "
                      f"(first event {figures[f'first_{pages}']:.2f} s); PDF {len(data) // 1024} KiB", flush=True)
        finally:
            front.stop()
    print(f"FIGURE ack: 1 page {figures[1]:.2f} s, 200 pages {figures[200]:.2f} s "
          f"(goal: both <= 5 s); ratio 200/1 = {figures[200] / figures[1]:.2f}")
    return figures


def _accept(bucket, name: str, data: bytes, settings, dispatcher):
    from common.job_accept import Source, accept
    from common.job_layout import results_prefix
    from common.storage import GcsStore
    from tests.upload_helpers import upload

    blob = upload(bucket, name, data, "application/pdf")
    store = GcsStore(bucket.name)
    source = Source(GcsStore(bucket.name), bucket.name, blob.name, blob.generation)
    return store, accept(store, results_prefix(settings, blob.name, blob.generation), source, settings, dispatcher)


class _Recorder:
    """A dispatcher that only records: the bench dispatches the chunks itself."""

    queued, background = True, False

    def start(self, store, record, **_):
        self.record = record
        return []

    def completed(self, record):
        pass


def _dispatch(store, record, settings, workers: int, engine) -> tuple[float, float]:
    """K threads pull chunk indexes and run them; returns (wall seconds, summed chunk seconds)."""
    from common.job_chunk import ChunkRunner

    pending, lock, busy = list(range(len(record.chunks))), threading.Lock(), []

    def work():
        while True:
            with lock:
                if not pending:
                    return
                index = pending.pop(0)
            started = time.perf_counter()
            runner = ChunkRunner(store, record, settings, engine=engine)
            try:
                runner.run(index)
            finally:
                runner.close()
            with lock:
                busy.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(busy)


def part_workers(bucket, pages: int, latency: float) -> dict:
    from common.config import Settings

    settings = Settings.from_env({**ENV, "PAGES_PER_CHUNK": "5", "RENDER_LONG_EDGE": "300"})
    engine, data, figures = FixedLatencyEngine(latency), _pdf(pages), {}
    for workers in (1, 2, 4, 8):
        recorder = _Recorder()
        store, outcome = _accept(bucket, f"workers/{workers}-{uuid.uuid4().hex[:6]}.pdf", data, settings, recorder)
        seconds, _ = _dispatch(store, recorder.record, settings, workers, engine)
        assert store.exists(f"{outcome.prefix}/result.json")
        figures[workers] = seconds
        speedup = figures[1] / seconds
        print(f"  {workers} worker(s): {seconds:6.1f} s to result.json; speed-up {speedup:.2f} "
              f"= {speedup / workers:.2f} x workers", flush=True)
    print("FIGURE workers: " + ", ".join(f"{k}: {figures[1] / v:.2f}x ({figures[1] / v / k:.2f} x K)"
                                          for k, v in figures.items())
          + f" ({pages} pages, {latency} s fixed latency per page, the bench dispatching; goal >= 0.8 x K)")
    return figures


def part_overhead(bucket, pages: int) -> dict:
    from common.config import Settings
    from common.dispatch import InProcess

    settings = Settings.from_env({**ENV, "PAGES_PER_CHUNK": "8"})
    data = _pdf(pages)
    _accept(bucket, f"overhead/warm-{uuid.uuid4().hex[:6]}.pdf", _pdf(1), settings, InProcess(settings))  # engine load
    started = time.perf_counter()
    _accept(bucket, f"overhead/inline-{uuid.uuid4().hex[:6]}.pdf", data, settings, InProcess(settings))
    inline = time.perf_counter() - started
    recorder = _Recorder()
    store, _ = _accept(bucket, f"overhead/fanout-{uuid.uuid4().hex[:6]}.pdf", data, settings, recorder)
    _, summed = _dispatch(store, recorder.record, settings, 1, None)
    ratio = summed / inline
    print(f"FIGURE overhead: chunk seconds summed {summed:.1f} s / in-process {inline:.1f} s = {ratio:.3f} "
          f"({pages} pages in {len(recorder.record.chunks)} chunks, lite engine; goal <= 1.10)")
    return {"inline": inline, "summed": summed, "ratio": ratio}


class _tempdir:
    def __enter__(self):
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="jobs-bench-")
        return self._dir.name

    def __exit__(self, *exc):
        self._dir.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("ack", "workers", "overhead", "all"), default="all")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.5,
                        help="seconds per page of the stand-in engine (1.5: within real OCR's 1-3 s per page)")
    parser.add_argument("--overhead-pages", type=int, default=24)
    args = parser.parse_args()
    os.chdir(ROOT)
    from tests.gcs_emulator import GcsEmulator

    print(f"machine: {machine()}", flush=True)
    gcs = GcsEmulator().start()
    os.environ["STORAGE_EMULATOR_HOST"] = gcs.url
    try:
        bucket = gcs.client().create_bucket(f"bench-{uuid.uuid4().hex[:8]}")
        if args.part in ("ack", "all"):
            part_ack(gcs, bucket)
        if args.part in ("workers", "all"):
            part_workers(bucket, args.pages, args.latency)
        if args.part in ("overhead", "all"):
            part_overhead(bucket, args.overhead_pages)
    finally:
        gcs.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
