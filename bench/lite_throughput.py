"""Figure 3, lite engine throughput: the whole pipeline against the raw OCR library, and its settings.

    .venv/bin/python bench/lite_throughput.py [--rounds 1] [--quick]

Pages: single pages of the olmOCR-Bench sample ($GNOSIS_SHARED, else ../shared next to the repo:
bench/olmocr-sample/pdfs) plus synthetic text pages made here (tests/pages.py), each as a PDF.

- raw: ``rapidocr.RapidOCR()`` with its default settings, called on the page images the pipeline
  renders at the default RENDER_LONG_EDGE, rendered beforehand: rendering is not in its time.
- pipeline: ``common.pipeline.ocr_document(pdf bytes, settings, engine=LiteEngine(settings))``:
  open + render + OCR + assemble, for a grid of RENDER_LONG_EDGE and LITE_THREADS values.

Every configuration runs on every page in each round, in a rotating order, so drift in the
machine's load spreads over all of them. Printed: pages/s per configuration, its ratio to raw
(target for the default pipeline >= 1.0) and to the default pipeline, and how many of the pages'
text rules it passes (olmOCR-Bench present/absent/order rules scored by
$GNOSIS_SHARED/tools/olmbench_text.py; synthetic pages: each line present, first line before last),
so a faster setting that loses text shows it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, shared_dir  # noqa: E402

# Pages with the most text rules; a dense page at 2000 px takes rapidocr ~10 s on 2 busy cores.
SAMPLE_PAGES = ["multi_column_miss.pdf", "openstax_caculus_pg_273.pdf", "small_page_size.pdf"]
QUICK_PAGES = ["small_page_size.pdf"]
SYNTHETIC = [
    [f"Line {n:02d}: the quick brown fox jumps over the lazy dog {n * 37}" for n in range(1, 31)],
]


def load_scorer():
    path = shared_dir() / "tools" / "olmbench_text.py"
    spec = importlib.util.spec_from_file_location("olmbench_text", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run


def make_pages(quick: bool) -> list[dict]:
    """[{name, data (PDF bytes), rules}] for the sample pages and the synthetic ones."""
    from tests.pages import pdf_bytes, text_page

    sample = shared_dir() / "bench" / "olmocr-sample"
    rules: dict[str, list[dict]] = {}
    for line in (sample / "dataset.jsonl").read_text().splitlines():
        rule = json.loads(line)
        if rule["type"] in ("present", "absent", "order"):
            rules.setdefault(rule["pdf"], []).append(rule)
    pages = [{"name": name, "data": (sample / "pdfs" / name).read_bytes(), "rules": rules.get(name, [])}
             for name in (QUICK_PAGES if quick else SAMPLE_PAGES)]
    for index, lines in enumerate(SYNTHETIC):
        synthetic_rules = [{"type": "present", "text": line, "max_diffs": 1} for line in dict.fromkeys(lines)]
        synthetic_rules.append({"type": "order", "before": lines[0], "after": lines[-1], "max_diffs": 1})
        pages.append({"name": f"synthetic-{index + 1}", "rules": synthetic_rules,
                      "data": pdf_bytes([text_page(lines, font_size=30, spacing=1.5, top=120)])})
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 pages, a smaller grid")
    args = parser.parse_args()

    import numpy as np
    from rapidocr import RapidOCR

    from common.config import Settings
    from common.documents import Limits, open_document
    from common.engines.lite import LiteEngine
    from common.pipeline import ocr_document, to_markdown

    score = load_scorer()
    pages = make_pages(args.quick)
    default = Settings.from_env({})
    grid = [(default.render_long_edge, default.lite_threads)]
    grid += [(edge, default.lite_threads) for edge in (1500, 1000) if edge != default.render_long_edge]
    if not args.quick:
        grid.append((default.render_long_edge, 1))
    names = ["raw"] + [f"pipeline RENDER_LONG_EDGE={edge} LITE_THREADS={threads}" for edge, threads in grid]

    # Raw gets the very images the default pipeline renders.
    images = []
    for page in pages:
        with open_document(page["data"], Limits.from_settings(default)) as document:
            images.append(np.asarray(document.render(1)))

    raw = RapidOCR()  # the library's defaults, nothing set
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    engines = {}
    for (edge, threads), name in zip(grid, names[1:]):
        settings = Settings.from_env({"RENDER_LONG_EDGE": str(edge), "LITE_THREADS": str(threads)})
        engines[name] = (settings, LiteEngine(settings))

    def run(name: str, index: int) -> str:
        if name == "raw":
            output = raw(images[index])
            return "\n".join(output.txts or ())
        settings, engine = engines[name]
        return to_markdown(ocr_document(pages[index]["data"], settings, engine=engine).pages)

    # Warm-up on a small image: the first calls of an ONNX session are slower.
    from tests.pages import text_page

    small = text_page(["warm up"], size=(400, 200), top=60, left=40)
    raw(np.asarray(small))
    for _, engine in engines.values():
        engine.ocr_pages([small])

    seconds = {name: 0.0 for name in names}
    passed = {name: 0 for name in names}
    total_rules = sum(len(page["rules"]) for page in pages)
    started = time.perf_counter()
    for round_ in range(args.rounds):
        for index, page in enumerate(pages):
            shift = (round_ * len(pages) + index) % len(names)
            for name in names[shift:] + names[:shift]:
                began = time.perf_counter()
                text = run(name, index)
                seconds[name] += time.perf_counter() - began
                if round_ == 0:
                    passed[name] += sum(bool(score(rule, text)) for rule in page["rules"])
    page_count = len(pages) * args.rounds
    rate = {name: page_count / seconds[name] for name in names}
    baseline = names[1]

    print(f"machine: {machine()}; rapidocr {engines[baseline][1].revision}, "
          f"os.cpu_count() {os.cpu_count()}")
    print(f"pages: {len(pages)} ({', '.join(p['name'] for p in pages)}), {args.rounds} round(s), "
          f"{time.perf_counter() - started:.0f} s")
    print("| configuration | pages/s | vs raw | vs default pipeline | text rules passed |")
    print("|---|---|---|---|---|")
    for name in names:
        print(f"| {name}{' (default)' if name == baseline else ''} | {rate[name]:.3f} | {rate[name] / rate['raw']:.2f} | "
              f"{rate[name] / rate[baseline]:.2f} | {passed[name]}/{total_rules} |")
    print(f"pipeline (default settings) / raw rapidocr: {rate[baseline] / rate['raw']:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
