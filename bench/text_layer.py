"""Born-digital PDFs: the text-layer path against OCR of the same pages, in one run.

    python bench/text_layer.py [--pages-per-pdf N] [--keep DIR]

Pages:
(a) the olmOCR-Bench sample (``shared/bench/olmocr-sample``, first pages): the ones whose text
    layer the pipeline finds usable are its born-digital pages;
(b) two real born-digital PDFs that Debian ships as documentation (``libtasn1-doc``: the GNU
    Libtasn1 manual, Texinfo/pdfTeX, 36 pages; ``shared-mime-info``: the Shared MIME-info spec,
    LaTeX/pdfTeX, 17 pages), N evenly spaced pages of each. Fair: made by common toolchains that
    no one here controls, prose with code listings, tables, running headers and page numbers.

For each page, timed around the pipeline's own page-reading stage (``ocr_pages``, document open
excluded, the lite engine built and warmed up beforehand):
- ``auto``: PDF_TEXT_LAYER=auto (text layer where usable, else OCR);
- ``off``: PDF_TEXT_LAYER=off (the lite engine on the page rendered at RENDER_LONG_EDGE).

Word recall against a reference extraction by a different library (pypdf's ``extract_text``):
the share of the reference's words (lower case, letters and digits) that each path returns,
counting repeats, header and footer lines included. Then the olmOCR sample's text rules
(``shared/tools/olmbench_text.py``) for auto and off; the two real PDFs whole through the text
path; and every born-digital page rasterised at 150 dpi (a scan of it) judged again under auto:
each must be OCR'd (one is read in full).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

from _common import machine, shared_dir

from common.config import Settings
from common.documents import Limits, open_document
from common.engines.lite import LiteEngine
from common.pipeline import PageResult, choose_text_layer, ocr_pages, to_markdown
from tests.pdf_builder import rasterised

REAL_PDFS = (
    Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
    Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
)


def words(text: str) -> Counter:
    return Counter(re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower()))


def recall(reference: Counter, got: Counter) -> tuple[int, int]:
    return sum((reference & got).values()), sum(reference.values())


def reference_text(data: bytes, number: int) -> str:
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(data)).pages[number - 1].extract_text() or ""


def whole(page: PageResult) -> str:
    return "\n".join([*page.header, page.text, *page.footer])


def read_page(data: bytes, number: int, engine, settings: Settings) -> tuple[PageResult, float]:
    with open_document(data, Limits.from_settings(settings)) as document:
        started = time.perf_counter()
        [page] = ocr_pages(document, [number], engine, settings=settings)
        return page, time.perf_counter() - started


def spaced(count: int, n: int) -> list[int]:
    return sorted({1 + round(i * (count - 1) / max(n - 1, 1)) for i in range(n)}) if count > 1 else [1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages-per-pdf", type=int, default=5, help="pages of each real PDF (default 5)")
    parser.add_argument("--keep", type=Path, help="write the markdown of both runs under this folder")
    args = parser.parse_args()

    sample = shared_dir() / "bench" / "olmocr-sample"
    if not (sample / "dataset.jsonl").is_file():
        sys.exit(f"no olmOCR-Bench sample at {sample}: put the shared folder at ../shared or set GNOSIS_SHARED")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from quality import load_scorer, sample_pdfs, score, write

    auto = Settings.from_env({"OCR_ENGINE": "lite", "PDF_TEXT_LAYER": "auto"})
    off = Settings.from_env({"OCR_ENGINE": "lite", "PDF_TEXT_LAYER": "off"})
    engine = LiteEngine(auto)
    outdir = args.keep or Path(tempfile.mkdtemp(prefix="gnosis-textlayer-"))

    jobs: list[tuple[str, str, bytes, int]] = []  # (set, label, pdf bytes, page)
    for pdf in sample_pdfs(sample / "dataset.jsonl"):
        jobs.append(("olmocr", pdf, (sample / "pdfs" / pdf).read_bytes(), 1))
    for path in REAL_PDFS:
        if not path.is_file():
            print(f"skipped {path}: not installed (apt-get install {path.parts[4]})")
            continue
        data = path.read_bytes()
        with open_document(data, Limits.from_settings(auto)) as document:
            count = document.page_count
        for number in spaced(count, args.pages_per_pdf):
            jobs.append(("debian", f"{path.name} p{number}", data, number))

    read_page(jobs[0][2], 1, engine, off)  # the first OCR call builds ONNX caches: not timed
    rows = []
    for index, (group, label, data, number) in enumerate(jobs):
        # Alternate which goes first so that neither always gets the warmer caches.
        order = ("auto", "off") if index % 2 else ("off", "auto")
        results = {name: read_page(data, number, engine, auto if name == "auto" else off) for name in order}
        rows.append((group, label, data, number, results))
        if group == "olmocr":
            for name, (page, _) in results.items():
                write(outdir / name, label, to_markdown([page]))

    print(f"{machine()}; rapidocr {engine.revision}, RENDER_LONG_EDGE {auto.render_long_edge}")
    print("\nper page (born-digital = read from the text layer under auto):")
    print(f"{'set':7} {'page':44} {'auto source':12} {'auto s':>7} {'off s':>7} {'ratio':>7} "
          f"{'recall auto':>11} {'recall off':>10}")
    totals: dict[str, dict[str, float]] = {}
    for group, label, data, number, results in rows:
        page, auto_seconds = results["auto"]
        off_page, off_seconds = results["off"]
        if page.source != "text_layer":
            print(f"{group:7} {label[:44]:44} {'ocr':12} {auto_seconds:7.2f} {off_seconds:7.2f}   "
                  f"{'':>5} {'':>11} {'':>10}  {page.source_reason.split(':')[0]}")
            continue
        reference = words(reference_text(data, number))
        hit_auto, total = recall(reference, words(whole(page)))
        hit_off, _ = recall(reference, words(whole(off_page)))
        t = totals.setdefault(group, Counter())
        t.update(pages=1, auto=auto_seconds, off=off_seconds, hit_auto=hit_auto, hit_off=hit_off, words=total)
        print(f"{group:7} {label[:44]:44} {'text_layer':12} {auto_seconds:7.3f} {off_seconds:7.2f} "
              f"{off_seconds / auto_seconds:7.0f} {hit_auto / max(total, 1):11.3f} {hit_off / max(total, 1):10.3f}")

    print("\nborn-digital pages, text layer (auto) vs OCR (off) of the same pages:")
    print(f"{'set':7} {'pages':>5} {'auto s/page':>11} {'off s/page':>10} {'off/auto':>9} "
          f"{'recall auto':>11} {'recall off':>10}")
    for group, t in [*totals.items(), ("all", sum(totals.values(), Counter()))]:
        print(f"{group:7} {t['pages']:5.0f} {t['auto'] / t['pages']:11.3f} {t['off'] / t['pages']:10.2f} "
              f"{t['off'] / t['auto']:9.0f} {t['hit_auto'] / t['words']:11.3f} {t['hit_off'] / t['words']:10.3f}")

    dataset = sample / "dataset.jsonl"
    scorer = load_scorer(shared_dir())
    print("\nolmOCR-Bench sample, text rules (first pages):")
    for name in ("auto", "off"):
        passed, total, _ = score(scorer, dataset, outdir / name)
        seconds = sum(results[name][1] for group, *_, results in rows if group == "olmocr")
        pages = sum(1 for group, *_ in rows if group == "olmocr")
        print(f"  {name:5} {passed}/{total} ({100 * passed / total:.1f}%), {seconds / pages:.2f} s/page")

    print("\nthe real PDFs whole, text path only (no OCR):")
    for path in REAL_PDFS:
        if not path.is_file():
            continue
        data = path.read_bytes()
        with open_document(data, Limits.from_settings(auto)) as document:
            count = document.page_count
        seconds, hit, total, sources = 0.0, 0, 0, Counter()
        for number in range(1, count + 1):
            page, took = read_page(data, number, engine, auto)
            seconds += took
            sources[page.source] += 1
            got, words_total = recall(words(reference_text(data, number)), words(whole(page)))
            hit, total = hit + got, total + words_total
        print(f"  {path.name}: {count} pages, {dict(sources)}, {seconds / count:.3f} s/page, "
              f"word recall {hit / total:.3f} of {total} words")

    born = [(label, data, number) for group, label, data, number, results in rows
            if results["auto"][0].source == "text_layer"]
    reasons = Counter()
    for label, data, number in born:
        with open_document(rasterised(one_page(data, number)), Limits.from_settings(auto)) as scan:
            text, reason = choose_text_layer(scan, 1, auto, "lite")
        reasons[reason.split(":")[0] if text is None else "text_layer"] += 1
    print(f"\nthe same born-digital pages rasterised at 150 dpi, under auto: "
          f"{len(born) - reasons['text_layer']} of {len(born)} OCR'd ({dict(reasons)})")
    label, data, number = born[-1]
    page, seconds = read_page(rasterised(one_page(data, number)), 1, engine, auto)
    hit, total = recall(words(reference_text(data, number)), words(whole(page)))
    print(f"  read in full: {label}: source {page.source} by {page.engine}, {seconds:.2f} s, "
          f"word recall {hit / total:.3f}")
    if args.keep:
        print(f"markdown under {outdir}/auto and {outdir}/off")


def one_page(data: bytes, number: int) -> bytes:
    """Page ``number`` of ``data`` as a PDF of its own."""
    import pypdfium2 as pdfium

    source, single = pdfium.PdfDocument(data), pdfium.PdfDocument.new()
    try:
        single.import_pages(source, [number - 1])
        buffer = io.BytesIO()
        single.save(buffer)
        return buffer.getvalue()
    finally:
        single.close()
        source.close()


if __name__ == "__main__":
    main()
