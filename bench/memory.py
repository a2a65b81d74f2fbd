"""Figure 6, memory: pages are rendered one at a time, so peak RSS must not grow with page count.

    python bench/memory.py [--pages 200] [--requests 100] [--part all|cli|http]

1. Peak RSS of `python main.py ocr` (lite) on a 1-page and on an N-page PDF made here: the ratio
   should stay near 1 (target <= 1.2).
2. RSS of a real functions-framework process serving POST /ocr after 1 request and after M: no
   growth (target ratio <= 1.2).
Both measured in this one run; the figures are ratios, so the machine's speed does not matter.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.http_client import FunctionProcess  # noqa: E402
from tests.pages import pdf_bytes, text_page  # noqa: E402


def make_pdf(path: Path, pages: int) -> None:
    # One image object repeated: the PDF has N pages without this script holding N images.
    image = text_page(["A page of the memory test", "a short line of body text"], size=(1240, 1754))
    path.write_bytes(pdf_bytes([image] * pages))


def peak_rss_of_cli(pdf: Path) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one `main.py ocr` run."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "main.py", "ocr", str(pdf), "--engine", "lite"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"main.py ocr {pdf} failed with status {status}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def http_rss(requests_count: int, workdir: Path) -> tuple[float, float]:
    import requests

    document = pdf_bytes([text_page(["Memory probe", "for the HTTP function"], size=(900, 600))])
    function = FunctionProcess("ocr_http", "http", {}, workdir / "http.log")
    try:
        def post():
            response = requests.post(function.url + "/ocr", data=document,
                                     headers={"Content-Type": "application/pdf"}, timeout=120)
            response.raise_for_status()

        post()
        after_one = function.memory_mib()
        checkpoints = {}
        for done in range(2, requests_count + 1):
            post()
            if done in (10, 25, 50, 75):
                checkpoints[done] = round(function.memory_mib())
        after_many = function.memory_mib()
        print(f"http RSS along the way (MiB): {checkpoints}")
    finally:
        function.stop()
    return after_one, after_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--part", choices=("all", "cli", "http"), default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.part in ("all", "cli"):
            one, many = work / "one.pdf", work / f"{args.pages}.pdf"
            make_pdf(one, 1)
            make_pdf(many, args.pages)
            rss_one, seconds_one = peak_rss_of_cli(one)
            rss_many, seconds_many = peak_rss_of_cli(many)
            print(f"cli peak RSS: 1 page {rss_one:.0f} MiB ({seconds_one:.1f} s), {args.pages} pages "
                  f"{rss_many:.0f} MiB ({seconds_many:.1f} s); ratio {rss_many / rss_one:.2f} (target <= 1.2)")
        if args.part == "cli":
            return
        after_one, after_many = http_rss(args.requests, work)
        print(f"http RSS: after 1 request {after_one:.0f} MiB, after {args.requests} {after_many:.0f} MiB; "
              f"ratio {after_many / after_one:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
