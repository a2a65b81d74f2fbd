"""The lite engine against Tesseract on the same pages, in one run (issue 16).

    make bench-setup                       # once: Debian's tesseract-ocr (apt)
    .venv/bin/python bench/vs_tesseract.py [--threads 2] [--repeats 2] [--sample 20] [--levers]
    .venv/bin/python bench/vs_tesseract.py --only drawn:flowchart,drawn:form,drawn:receipt   # short run

Pages: the first page of each olmOCR-Bench sample PDF ($GNOSIS_SHARED or ../shared:
bench/olmocr-sample), rendered once by ``common.documents`` at RENDER_LONG_EDGE, and the drawn
pages of ``bench/kinds.py`` (statement, flowchart, testimony, report with table and sidebar,
product codes, small form, receipt, dense text). Both engines read the same PNG of each page.

- lite: ``LiteEngine.ocr_pages`` in this process, warm (as in the HTTP and on-upload services),
  with ``LITE_THREADS`` = --threads. Its time includes the layout step.
- tesseract: ``tesseract page.png stdout -l eng`` (Tesseract 5, one process per page, as its CLI
  is used), with ``OMP_THREAD_LIMIT`` = ``OMP_NUM_THREADS`` = --threads.
- lite CLI: ``python main.py ocr page.png --engine lite`` in a fresh process, on the small pages
  only: what one command-line call costs, process start and engine load included.

Engines alternate page by page (which goes first flips every time) and each page is read
--repeats times by each; the figure is the median per page. The machine may be shared: compare
the ratios, which come from runs side by side.

Printed per page: words drawn (or ruled) / recall of each engine / seconds of each / ratio
lite ÷ tesseract; then per page size (small: under 60 words, medium: up to 250, dense: more)
the mean recall and s/page of both and the ratio; then olmOCR text rules passed by both.
Recall is bag-of-words: the share of the page's words (drawn pages: every word drawn; sample
pages: the words of its present/order rules) found in the engine's text, counted with
multiplicity, case-insensitive, punctuation stripped. --levers times the lite engine's levers
(detection sizes, reading height and squeeze) on the lever pages, or on the --only pages (bench/RESULTS.md 9d).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, shared_dir, words  # noqa: E402
import kinds  # noqa: E402

SMALL, MEDIUM = 60, 250
LEVER_PAGES = ("drawn:form", "drawn:flowchart", "drawn:report", "drawn:dense")


def recall(truth: list[str], text: str) -> float:
    want, got = words(" ".join(truth)), words(text)
    total = sum(want.values())
    return sum(min(n, got[w]) for w, n in want.items()) / total if total else 1.0


def load_rules() -> tuple[Path, dict[str, list[dict]], object]:
    shared = shared_dir()
    sample = shared / "bench" / "olmocr-sample"
    spec = importlib.util.spec_from_file_location("olmbench_text", shared / "tools" / "olmbench_text.py")
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    rules: dict[str, list[dict]] = {}
    for line in (sample / "dataset.jsonl").read_text().splitlines():
        if line.strip():
            rule = json.loads(line)
            rules.setdefault(rule["pdf"], []).append(rule)
    return sample, rules, scorer


def rule_words(rules: list[dict]) -> list[str]:
    texts = [r["text"] for r in rules if r["type"] == "present"]
    texts += [r[k] for r in rules if r["type"] == "order" for k in ("before", "after")]
    return " ".join(texts).split()


def make_pages(folder: Path, sample_count: int, settings) -> list[dict]:
    from common.documents import Limits, open_document

    pages = []
    for name, draw in kinds.KINDS.items():
        sheet = draw()
        pages.append({"name": f"drawn:{name}", "image": sheet.image, "truth": sheet.words, "rules": []})
    sample, rules, _ = load_rules()
    for pdf in list(rules)[:sample_count]:
        with open_document((sample / "pdfs" / pdf).read_bytes(), Limits.from_settings(settings)) as document:
            image = document.render(1)
        pages.append({"name": pdf, "image": image, "truth": rule_words(rules[pdf]), "rules": rules[pdf]})
    for index, page in enumerate(pages):
        page["png"] = folder / f"{index:03d}.png"
        page["image"].convert("RGB").save(page["png"])
    return pages


def tesseract(png: Path, threads: int) -> str:
    env = {**os.environ, "OMP_THREAD_LIMIT": str(threads), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(["tesseract", str(png), "stdout", "-l", "eng"], env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout


def lite_cli(png: Path, threads: int) -> str:
    env = {**os.environ, "LITE_THREADS": str(threads), "OCR_ENGINE": "lite"}
    done = subprocess.run([sys.executable, "main.py", "ocr", str(png), "--engine", "lite", "--format", "text"],
                          env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stdout


def timed(run) -> tuple[float, str]:
    started = time.perf_counter()
    text = run()
    return time.perf_counter() - started, text


def size_of(page: dict) -> str:
    count = len(page["truth"]) if not page["rules"] else page["lite_words"]
    return "small" if count < SMALL else "medium" if count <= MEDIUM else "dense"


def levers(pages: list[dict], threads: int) -> None:
    """The lite engine's levers (detection sizes, reading height and squeeze) timed against its defaults and
    Tesseract, interleaved, on the same pages."""
    from common.config import Settings
    from common.engines.lite import LiteEngine

    settings = Settings.from_env({"LITE_THREADS": str(threads)})
    grid = {
        "default (ink only; body text at its letters' size; read at 20 px, squeeze 2.0)": {},
        "always 1280 (one look)": {"detect": (1280,)},
        "always 640 (one look)": {"detect": (640,)},
        "read at 32 px, squeeze 1.15 (RESULTS 9e)": {"height": 32, "squeeze": 1.15},
        "read at 48 px, squeeze 0.7 (RESULTS 9d)": {"height": 48, "squeeze": 0.7},
        "read at 16 px, squeeze 2.3": {"height": 16, "squeeze": 2.3},
    }
    engines = {name: LiteEngine(settings, **levers) for name, levers in grid.items()}
    # Tesseract in the same rotation: each setting's time against it, side by side.
    runs = {name: (lambda page, engine=engine: engine.ocr_pages([page["image"]])[0].text)
            for name, engine in engines.items()}
    runs["tesseract"] = lambda page: tesseract(page["png"], threads)
    grid = list(runs)
    for engine in engines.values():
        engine.ocr_pages([pages[0]["image"]])  # first ONNX calls build caches: not timed
    seconds = {name: [] for name in grid}
    found = {name: [] for name in grid}
    for index, page in enumerate(pages):
        names = list(grid)[index % len(grid):] + list(grid)[:index % len(grid)]
        for name in names:
            spent, result = timed(lambda: runs[name](page))
            seconds[name].append(spent)
            found[name].append(recall(page["truth"], result))
    base = sum(seconds[grid[0]])
    print(f"\nlevers on {len(pages)} page reads ({', '.join(p['name'] for p in pages)}), one rotation each:")
    print("| setting | s/page | vs default | vs tesseract | recall |")
    print("|---|---|---|---|---|")
    for name in grid:
        total = sum(seconds[name])
        print(f"| {name} | {total / len(pages):.2f} | {total / base:.2f} | {total / sum(seconds['tesseract']):.2f} | "
              f"{100 * statistics.mean(found[name]):.1f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20, help="how many olmOCR sample PDFs (first page each)")
    parser.add_argument("--levers", action="store_true", help="also time the lite engine's levers")
    parser.add_argument("--levers-only", action="store_true", help="only time the lite engine's levers")
    parser.add_argument("--no-cli", action="store_true", help="skip the lite command-line timing")
    parser.add_argument("--only", default="", help="comma-separated page names (e.g. drawn:form,drawn:receipt): a short run")
    args = parser.parse_args()
    if shutil.which("tesseract") is None:
        sys.exit("tesseract is not installed: run `make bench-setup` (Debian's tesseract-ocr)")

    from common.config import Settings
    from common.engines.lite import LiteEngine

    settings = Settings.from_env({"LITE_THREADS": str(args.threads)})
    folder = Path(tempfile.mkdtemp(prefix="gnosis-vs-tesseract-"))
    pages = make_pages(folder, args.sample, settings)
    if args.only:
        pages = [page for page in pages if page["name"] in args.only.split(",")]
    if args.levers_only:
        print(f"machine: {machine()}; threads: {args.threads}")
        levers([p for p in pages if args.only or p["name"] in LEVER_PAGES] * args.repeats, args.threads)
        return
    engine = LiteEngine(settings)
    engine.ocr_pages([pages[0]["image"]])  # first ONNX calls build caches: not timed
    tesseract(pages[0]["png"], args.threads)
    _, rules, scorer = load_rules()
    started = time.perf_counter()
    print(f"machine: {machine()}; threads per engine: {args.threads}; repeats: {args.repeats}")
    print(f"tesseract: {subprocess.run(['tesseract', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}; "
          f"lite: rapidocr {engine.revision}, LITE_SCRIPT={settings.lite_script}")
    print("| page | size | words | recall lite | recall tesseract | s lite | s tesseract | lite / tesseract | s lite CLI |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    groups: dict[str, list[dict]] = {}
    for index, page in enumerate(pages):
        runs = {
            "lite": lambda: engine.ocr_pages([page["image"]])[0].text,
            "tesseract": lambda: tesseract(page["png"], args.threads),
        }
        page["seconds"] = {name: [] for name in runs}
        for repeat in range(args.repeats):
            order = ["lite", "tesseract"] if (index + repeat) % 2 else ["tesseract", "lite"]
            for name in order:
                spent, text = timed(runs[name])
                page["seconds"][name].append(spent)
                page[f"{name}_text"] = text
        page["lite_words"] = sum(words(page["lite_text"]).values())
        if not args.no_cli and size_of(page) == "small":
            page["seconds"]["lite CLI"] = [timed(lambda: lite_cli(page["png"], args.threads))[0]]
        median = {name: statistics.median(values) for name, values in page["seconds"].items()}
        page["median"] = median
        page["recall"] = {name: recall(page["truth"], page[f"{name}_text"]) for name in ("lite", "tesseract")}
        groups.setdefault(size_of(page), []).append(page)
        cli = f"{median['lite CLI']:.2f}" if "lite CLI" in median else ""
        print(f"| {page['name']} | {size_of(page)} | {len(page['truth'])} | {100 * page['recall']['lite']:.1f}% | "
              f"{100 * page['recall']['tesseract']:.1f}% | {median['lite']:.2f} | {median['tesseract']:.2f} | "
              f"{median['lite'] / median['tesseract']:.2f} | {cli} |", flush=True)
    print(f"{time.perf_counter() - started:.0f} s")
    print("\n| page size | pages | recall lite | recall tesseract | s/page lite | s/page tesseract | lite / tesseract |")
    print("|---|---|---|---|---|---|---|")
    for size in ("small", "medium", "dense"):
        group = groups.get(size, [])
        if not group:
            continue
        lite_s = statistics.mean(p["median"]["lite"] for p in group)
        tess_s = statistics.mean(p["median"]["tesseract"] for p in group)
        print(f"| {size} | {len(group)} | {100 * statistics.mean(p['recall']['lite'] for p in group):.1f}% | "
              f"{100 * statistics.mean(p['recall']['tesseract'] for p in group):.1f}% | {lite_s:.2f} | {tess_s:.2f} | "
              f"{lite_s / tess_s:.2f} |")
    sample_pages = [p for p in pages if p["rules"]]
    for name in ("lite", "tesseract"):
        passed = sum(bool(scorer.run(rule, p[f"{name}_text"])) for p in sample_pages for rule in p["rules"]
                     if rule["type"] in ("present", "absent", "order"))
        total = sum(rule["type"] in ("present", "absent", "order") for p in sample_pages for rule in p["rules"])
        print(f"olmOCR sample text rules, {name}: {passed}/{total}")
    if args.levers:
        levers([p for p in pages if p["name"] in LEVER_PAGES], args.threads)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
