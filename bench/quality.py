"""Quality on the olmOCR-Bench sample: raw rapidocr against the lite engine, in one run.

    python bench/quality.py [--render-long-edge N] [--detect N[,N]] [--height N] [--squeeze F] [--lite-only] [--keep DIR]

(a) raw: rapidocr's lines joined in detection order, the library on its own;
(b) lite: the project's pipeline: pages rendered by ``common.documents``,
    ``LiteEngine.ocr_pages``, the document text = page bodies (no running headers/footers).

Both read the same rendered image of each PDF's first page, so the difference is the layout
and the engine settings, not the rendering. Scores come from ``shared/tools/olmbench_text.py``
(present / absent / order rules), and, finer than 67 rules, from the words of the PDFs' own text
layers: on pages whose text layer has 30+ words in Latin letters, the share of those words
found (recall) and of the words read that are in it (precision), case and edge punctuation
aside. ``shared/`` is ``../shared`` from the repository root, or ``$GNOSIS_SHARED``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import shared_dir, words  # noqa: E402
from common.config import Settings  # noqa: E402
from common.documents import Limits, open_document  # noqa: E402
from common.engines.lite import LiteEngine  # noqa: E402
from common.pipeline import PageResult, to_markdown  # noqa: E402


def load_scorer(shared: Path):
    path = shared / "tools" / "olmbench_text.py"
    spec = importlib.util.spec_from_file_location("olmbench_text", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        sys.exit(f"the scorer {path} needs {exc.name}: pip install {exc.name}")
    return module


def sample_pdfs(dataset: Path) -> list[str]:
    """PDF paths with at least one rule, in the dataset's order."""
    seen: dict[str, None] = {}
    for line in dataset.read_text().splitlines():
        if line.strip():
            seen.setdefault(json.loads(line)["pdf"], None)
    return list(seen)


def first_page(path: Path, settings: Settings):
    with open_document(path.read_bytes(), Limits.from_settings(settings)) as document:
        return next(document.pages([1])).image


def raw_library():
    """rapidocr as it comes (its own defaults, every core), quiet."""
    from rapidocr import RapidOCR

    return RapidOCR(params={"Global.log_level": "warning"})


def raw_text(ocr, image) -> str:
    """The library alone: every line, in the order rapidocr detected it."""
    output = ocr(np.asarray(image.convert("RGB")))
    return "\n".join(output.txts or ())


def lite_text(engine: LiteEngine, image) -> str:
    page = engine.ocr_pages([image])[0]
    return to_markdown([PageResult(1, page.text, page.header, page.footer)])


def score(scorer, dataset: Path, outdir: Path) -> tuple[int, int, str]:
    """(passed, total, the scorer's report) for the markdown files under ``outdir``."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        scorer.main(str(dataset), str(outdir))
    last = report.getvalue().strip().splitlines()[-1]  # "text rules: P/N passed (X%)"
    passed, total = last.split(":")[1].split()[0].split("/")
    return int(passed), int(total), report.getvalue()


def text_layer_words(pdf: Path) -> Counter | None:
    """The words of the first page's text layer; None where it has too few, or not in Latin letters."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        found = words(document[0].get_textpage().get_text_range())
    finally:
        document.close()
    latin = sum(n for word, n in found.items() if re.fullmatch(r"[a-z0-9.,'\-]+", word))
    return found if sum(found.values()) >= 30 and latin >= 0.5 * sum(found.values()) else None


def against_text_layers(sample: Path, pdfs: list[str], outdir: Path) -> tuple[float, float, int]:
    """(recall, precision, pages) of the markdown under ``outdir`` against the PDFs' text layers."""
    hit = read = total = pages = 0
    for pdf in pdfs:
        truth = text_layer_words(sample / "pdfs" / pdf)
        if truth is None:
            continue
        got = words((outdir / f"{pdf}.md").read_text())
        hit += sum(min(n, got[word]) for word, n in truth.items())
        read += sum(got.values())
        total += sum(truth.values())
        pages += 1
    return hit / max(1, total), hit / max(1, read), pages


def write(outdir: Path, pdf: str, text: str) -> None:
    target = outdir / f"{pdf}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--render-long-edge", type=int, default=None, help="default: RENDER_LONG_EDGE")
    parser.add_argument("--detect", default=None,
                        help="the lite engine's detection sizes (long edge, px), e.g. 1280 or 640,1280 (default: the engine's own)")
    parser.add_argument("--height", type=int, default=None, help="the lite reader's line height, px (default: the engine's own)")
    parser.add_argument("--squeeze", type=float, default=None, help="the lite reader's line squeeze (default: the engine's own)")
    parser.add_argument("--lite-only", action="store_true", help="skip the raw library run (half the time)")
    parser.add_argument("--keep", type=Path, help="write the markdown of both runs under this folder")
    args = parser.parse_args()

    shared = shared_dir()
    sample = shared / "bench" / "olmocr-sample"
    if not (sample / "dataset.jsonl").is_file():
        sys.exit(
            f"no olmOCR-Bench sample at {sample}: put the shared folder at ../shared from the "
            "repository root, or point GNOSIS_SHARED at it"
        )
    scorer = load_scorer(shared)
    overrides = {"render_long_edge": args.render_long_edge} if args.render_long_edge else {}
    settings = Settings.from_env(**overrides)
    levers = {"detect": tuple(int(size) for size in args.detect.split(","))} if args.detect else {}
    levers |= {name: value for name, value in (("height", args.height), ("squeeze", args.squeeze)) if value}
    engine = LiteEngine(settings, **levers)
    readers = {"lite": (engine, lite_text)} if args.lite_only else {"raw": (raw_library(), raw_text), "lite": (engine, lite_text)}
    pdfs = sample_pdfs(sample / "dataset.jsonl")

    outdir = args.keep or Path(tempfile.mkdtemp(prefix="gnosis-quality-"))
    seconds = {"raw": 0.0, "lite": 0.0}
    warmup = first_page(sample / "pdfs" / pdfs[0], settings)
    for reader, run in readers.values():  # first calls build ONNX sessions' caches: not timed
        run(reader, warmup)
    for index, pdf in enumerate(pdfs):
        image = first_page(sample / "pdfs" / pdf, settings)
        # Alternate which goes first so that neither always gets the warmer caches.
        for name in [name for name in (("raw", "lite") if index % 2 else ("lite", "raw")) if name in readers]:
            reader, run = readers[name]
            started = time.perf_counter()
            text = run(reader, image)
            seconds[name] += time.perf_counter() - started
            write(outdir / name, pdf, text)

    print(f"olmOCR-Bench sample: {len(pdfs)} pages, render long edge {settings.render_long_edge} px, "
          f"{os.cpu_count()} CPUs, rapidocr {engine.revision}")
    print(f"{'':6} {'rules passed':>14} {'%':>7} {'s/page':>8}  words vs text layers: recall, precision")
    for name in readers:
        passed, total, _ = score(scorer, sample / "dataset.jsonl", outdir / name)
        recall, precision, pages = against_text_layers(sample, pdfs, outdir / name)
        print(f"{name:6} {passed:>8}/{total:<5} {100 * passed / total:>6.1f}% {seconds[name] / len(pdfs):>8.2f}"
              f"  {100 * recall:.2f}%, {100 * precision:.2f}% ({pages} pages)")
    if "raw" in readers:
        print(f"lite / raw time: {seconds['lite'] / seconds['raw']:.2f}")
    if args.keep:
        print(f"markdown under {outdir}/raw and {outdir}/lite")


if __name__ == "__main__":
    main()
