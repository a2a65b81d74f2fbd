"""Figure 5, function overhead: both functions end to end against the pipeline alone, same document.

    .venv/bin/python bench/function_overhead.py [--rounds 3] [--pages 2] [--quick]

One PDF made here (tests/upload_helpers.make_pdf: one phrase per page, so OCR time is small and
the functions' own overhead shows as much as it can). Lite engine, default settings otherwise.

- pipeline: ``common.pipeline.ocr_document`` in a worker process with the engine already loaded
  (timed inside the worker).
- on-upload: a real ``functions-framework --target=ocr_on_upload`` subprocess
  (scripts/local_loop.start_function) and a real fake-gcs-server (tests/gcs_emulator.py). Each
  round uploads the document under a new name (untimed), then times the binary CloudEvent POST
  until the function answers 200; by then pages, document.md and result.json are in the emulator
  (checked after the clock stops).
- POST /ocr: a real ``functions-framework --target=ocr_http`` subprocess, the PDF as the raw body,
  format=json.

All three run in processes of their own session: with the kernel's autogroup scheduling (on
here), a busy shared machine gives each session an equal share of the CPU, so a process that
shared this script's session would be measured at a disadvantage.

Both functions first get one untimed request (it loads the engine; its time is printed as the
first-request figure). The rounds then run the three in a rotating order. Printed: medians, the
ratios to the pipeline, and the time each path spends outside the engine's OCR calls (end-to-end
time minus the per-page OCR seconds the function itself reports in the same request), which
shows the overhead without most of a busy machine's noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, median  # noqa: E402

ENV = {"OCR_ENGINE": "lite", "LOG_FORMAT": "json"}

WORKER = r"""
import json, sys, time
from common.config import Settings
from common.engines import get_engine
from common.pipeline import ocr_document
data = open(sys.argv[1], "rb").read()
settings = Settings.from_env()
engine = get_engine(settings)
engine.load()
ocr_document(data, settings, engine=engine)  # the functions get one untimed request too
print("READY", flush=True)
for _ in sys.stdin:
    began = time.perf_counter()
    result = ocr_document(data, settings, engine=engine)
    print(json.dumps([time.perf_counter() - began, sum(page.seconds for page in result.pages)]), flush=True)
"""


def start_http(port: int, log) -> subprocess.Popen:
    """functions-framework serving ocr_http, in a session of its own, once it answers /healthz."""
    import requests

    process = subprocess.Popen(
        [sys.executable, "-m", "functions_framework", "--target=ocr_http", "--signature-type=http",
         f"--source={ROOT / 'main.py'}", "--host=127.0.0.1", f"--port={port}"],
        cwd=ROOT, env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the HTTP function exited with {process.returncode}")
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the HTTP function did not start in 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=2, help="pages of the document (1-3)")
    parser.add_argument("--quick", action="store_true", help="2 rounds, 1 page")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.pages = 2, 1

    import requests

    from scripts.local_loop import start_function, stop
    from tests.gcs_emulator import GcsEmulator, free_port
    from tests.upload_helpers import finalized_event, make_pdf, post_event, read_json, upload

    document = make_pdf(args.pages)

    with tempfile.TemporaryDirectory(prefix="bench-function-") as tmp:
        work = Path(tmp)
        emulator = GcsEmulator().start()
        on_upload = http = worker = None
        (work / "doc.pdf").write_bytes(document)
        upload_log, http_log = open(work / "on_upload.log", "wb"), open(work / "http.log", "wb")
        try:
            bucket = emulator.client().create_bucket("bench-uploads")
            port, http_port = free_port(), free_port()
            on_upload = start_function(port, emulator.url, ENV, log=upload_log)
            upload_url = f"http://127.0.0.1:{port}/"
            http = start_http(http_port, http_log)
            http_url = f"http://127.0.0.1:{http_port}"
            worker = subprocess.Popen([sys.executable, "-c", WORKER, str(work / "doc.pdf")], cwd=ROOT,
                                      env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)}, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
            if worker.stdout.readline().strip() != "READY":
                raise SystemExit("the pipeline worker did not start")

            uploaded = 0

            def run_upload() -> tuple[float, float]:
                nonlocal uploaded
                uploaded += 1
                blob = upload(bucket, f"bench/doc-{uploaded}.pdf", document, "application/pdf")
                event = finalized_event(blob)
                began = time.perf_counter()
                status = post_event(upload_url, event, mode="binary")
                seconds = time.perf_counter() - began
                result = read_json(bucket, f"ocr-results/{blob.name}/{blob.generation}/result.json")
                if status != 200 or result.get("status") != "done":
                    raise SystemExit(f"on-upload answered {status}, result {result}")
                return seconds, sum(page["seconds"] for page in result["pages"])

            def run_http() -> tuple[float, float]:
                began = time.perf_counter()
                response = requests.post(http_url + "/ocr?format=json", data=document,
                                         headers={"Content-Type": "application/pdf"}, timeout=600)
                seconds = time.perf_counter() - began
                response.raise_for_status()
                return seconds, sum(page["seconds"] for page in response.json()["pages"])

            def run_pipeline() -> tuple[float, float]:
                worker.stdin.write("go\n")
                worker.stdin.flush()
                return tuple(json.loads(worker.stdout.readline()))

            first = {"on-upload": run_upload()[0], "POST /ocr": run_http()[0]}
            runners = {"pipeline": run_pipeline, "on-upload": run_upload, "POST /ocr": run_http}
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
            names = list(runners)
            for round_ in range(args.rounds):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    times[name].append(runners[name]())
        finally:
            if worker is not None:
                worker.stdin.close()
                worker.wait(timeout=30)
            for process in (http, on_upload):
                if process is not None:
                    stop(process)
            upload_log.close()
            http_log.close()
            emulator.stop()

    med = {name: median(total for total, _ in values) for name, values in times.items()}
    # Time outside the engine's OCR calls, from the same request: the machine's noise mostly
    # lands in the OCR, so this isolates what the function adds far better than two medians do.
    outside = {name: median(total - ocr for total, ocr in values) for name, values in times.items()}
    print(f"machine: {machine()}")
    print(f"document: {args.pages}-page PDF, {len(document)} bytes; lite engine; {args.rounds} rounds, rotating order; medians")
    print("| path | end to end | outside the engine's OCR calls | rounds (end to end) |")
    print("|---|---|---|---|")
    for name in names:
        rounds = ", ".join(f"{total:.2f}" for total, _ in times[name])
        print(f"| {name} | {med[name]:.2f} s | {outside[name] * 1000:.0f} ms | {rounds} |")
    for name in ("on-upload", "POST /ocr"):
        paired = median(fn[0] / pipe[0] for fn, pipe in zip(times[name], times["pipeline"]))
        added = outside[name] - outside["pipeline"]
        print(f"{name} / pipeline: {med[name] / med['pipeline']:.2f} (ratio of medians); {paired:.2f} (median of "
              f"same-round ratios); {1 + added / med['pipeline']:.3f} (pipeline + the {added * 1000:.0f} ms the "
              f"function adds outside OCR)")
    print("first request to each function (loads the engine in that process): "
          + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in first.items()))


if __name__ == "__main__":
    main()
