"""Born-digital PDFs: each kind of page takes its documented path (text layer or OCR, and why).

Every PDF is written by tests/pdf_builder.py: real text in a real PDF font, real page images, an
invisible OCR layer, fonts with broken ToUnicode maps. OCR is the real lite engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import Settings
from common.documents import Limits, open_document
from common.engines.lite import LiteEngine
from common.pipeline import choose_text_layer, ocr_document, ocr_pages, render
from tests.pages import text_page
from tests.pdf_builder import PdfPage, build_pdf, merge_pdfs, rasterised

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings.from_env({"OCR_ENGINE": "lite", "RENDER_LONG_EDGE": "1400"})

BODY = [
    "The harbour master counted seven boats at dawn, each one",
    "returning with a full catch after the long winter storms.",
    "Their crews unloaded the nets while the market opened.",
]


@pytest.fixture(scope="module")
def engine():
    return LiteEngine(SETTINGS)


class CountingFactory:
    """The engine factory the pipeline calls when a page needs OCR; counts the calls."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0

    def __call__(self):
        self.calls += 1
        return self.engine


def read(data: bytes, factory, settings: Settings = SETTINGS):
    with open_document(data, Limits.from_settings(settings)) as document:
        return list(ocr_pages(document, range(1, document.page_count + 1), factory, settings=settings))


def born_digital_page(number: int, body=BODY) -> PdfPage:
    page = PdfPage()
    page.text(72, 50, "Quarterly Harbour Report", size=9).text(460, 50, "March 2026", size=9)
    page.text(72, 130, "Fishing season opens", size=18)
    page.lines(72, 170, body, size=12)
    page.text(300, 760, str(number), size=9)
    return page


def test_a_born_digital_page_is_read_from_its_text_layer_without_any_engine(engine):
    factory = CountingFactory(engine)
    [page] = read(build_pdf([born_digital_page(1)]), factory)
    assert factory.calls == 0
    assert (page.source, page.engine, page.source_reason, page.error) == ("text_layer", None, None, None)
    assert page.text.startswith("Fishing season opens\n\nThe harbour master counted seven boats")
    # wrapped lines are joined into one paragraph, exactly as typeset
    assert "at dawn, each one returning with a full catch" in page.text
    assert page.header == ["Quarterly Harbour Report March 2026"] and page.footer == ["1"]


def test_a_scanned_page_is_ocrd(engine):
    factory = CountingFactory(engine)
    [page] = read(rasterised(build_pdf([born_digital_page(1)])), factory)
    assert factory.calls == 1
    assert (page.source, page.engine) == ("ocr", "lite")
    assert page.source_reason.startswith("no_text:")
    assert "seven boats" in page.text


def invisible_layer_pdf() -> bytes:
    """A scanner's output: the page image, and an invisible text layer (render mode 3) over it
    whose words differ from the image's, so the test can tell which one was read."""
    image = text_page(["Lighthouse keepers logbook", "Winds from the north east"], size=(1275, 1650),
                      top=200, left=150, font_size=48)
    page = PdfPage().image(image, 0, 0, 612, 792)
    page.lines(72, 110, ["Invisible layer says otter meadow", "and nothing about the sea"], size=20,
               invisible=True)
    return build_pdf([page])


def test_an_invisible_ocr_layer_is_redone_by_default(engine):
    factory = CountingFactory(engine)
    [page] = read(invisible_layer_pdf(), factory)
    assert factory.calls == 1 and page.source == "ocr"
    assert page.source_reason.startswith("invisible_ocr_layer:")
    assert "Lighthouse keepers" in page.text and "otter" not in page.text


def test_an_invisible_ocr_layer_is_read_when_trusted(engine):
    factory = CountingFactory(engine)
    settings = Settings.from_env({"OCR_ENGINE": "lite", "PDF_OCR_LAYER": "trust"})
    [page] = read(invisible_layer_pdf(), factory, settings)
    assert factory.calls == 0 and page.source == "text_layer"
    assert page.text == "Invisible layer says otter meadow and nothing about the sea"


@pytest.mark.parametrize("ocr_layer", ["redo", "trust"])
def test_invisible_text_without_a_page_image_is_not_read(ocr_layer):
    # Hidden text on a born-digital page (search keywords, a watermark trick) is not what a reader
    # sees, nor an OCR layer: the page is read from its visible text only.
    settings = Settings.from_env({"OCR_ENGINE": "lite", "PDF_OCR_LAYER": ocr_layer})
    page = born_digital_page(1).text(72, 400, "secret keywords nobody sees", invisible=True)
    [result] = read(build_pdf([page]), CountingFactory(None), settings)
    assert result.source == "text_layer" and "secret" not in result.text and "seven boats" in result.text


@pytest.mark.parametrize("font, reason", [
    ("broken_pua", "bad_unicode: "),  # every code mapped into the private-use area
    ("broken_symbols", "bad_unicode: only 0 of"),  # every code mapped to arrows: valid, meaningless
])
def test_a_broken_tounicode_map_is_ocrd(engine, font, reason):
    page = PdfPage().text(72, 130, "Fishing season opens", size=18, font=font)
    page.lines(72, 170, BODY, size=12, font=font)
    with open_document(build_pdf([page]), Limits.from_settings(SETTINGS)) as document:
        layer = document.text_layer(1)
    assert "seven" not in " ".join(line.text for line in layer.visible)  # the layer is garbage
    factory = CountingFactory(engine)
    [result] = read(build_pdf([page]), factory)
    assert factory.calls == 1 and result.source == "ocr" and result.source_reason.startswith(reason)
    assert "seven boats" in result.text  # the glyphs themselves are fine: OCR reads them


def test_a_page_mostly_covered_by_an_image_of_text_is_ocrd_whole(engine):
    # Page-level decision: the typed lines and the words in the picture both come back, in order.
    picture = text_page(["Signed in the presence of", "the harbour council"], size=(1200, 900), top=250,
                        left=120, font_size=64)
    page = PdfPage().lines(72, 80, ["Agreement between the parties below"], size=14)
    page.image(picture, 40, 200, 532, 500)
    factory = CountingFactory(engine)
    [result] = read(build_pdf([page]), factory)
    assert factory.calls == 1 and result.source == "ocr"
    assert result.source_reason.startswith("images_cover_page:")
    text = result.text
    assert "Agreement between" in text and "harbour council" in text
    assert text.index("Agreement") < text.index("harbour council")


def test_a_small_picture_leaves_the_page_to_its_text_layer():
    picture = text_page(["LOGO"], size=(300, 150), top=40, left=40, font_size=60)
    page = born_digital_page(1).image(picture, 450, 90, 100, 50)
    [result] = read(build_pdf([page]), CountingFactory(None))
    assert result.source == "text_layer" and "LOGO" not in result.text


def test_a_mixed_document_keeps_page_order_and_running_headers_across_both_kinds(engine):
    bodies = [
        ["Page one tells of the northern harbour and its", "fleet of small wooden boats."],
        ["Page two was scanned: it tells of the southern", "market and the fish sold there."],
        ["Page three returns to the lighthouse on the", "rocks beyond the harbour wall."],
    ]
    born = [build_pdf([born_digital_page(n, body)]) for n, body in enumerate(bodies, start=1)]
    factory = CountingFactory(engine)
    pages = read(merge_pdfs([born[0], rasterised(born[1]), born[2]]), factory)
    assert [p.number for p in pages] == [1, 2, 3]
    assert [p.source for p in pages] == ["text_layer", "ocr", "text_layer"]
    assert factory.calls == 1
    for number, page in enumerate(pages, start=1):
        assert [h.replace(" ", "").lower() for h in page.header] == ["quarterlyharbourreportmarch2026"], page
        assert page.footer == [str(number)], page
        assert "Quarterly" not in page.text and page.text.startswith("Fishing season opens")
    assert "southern market" in pages[1].text.replace("\n", " ")


def test_off_ocrs_every_pdf_page_and_says_so(engine):
    factory = CountingFactory(engine)
    settings = Settings.from_env({"OCR_ENGINE": "lite", "PDF_TEXT_LAYER": "off"})
    [page] = read(build_pdf([born_digital_page(1)]), factory, settings)
    assert factory.calls == 1 and page.source == "ocr" and page.engine == "lite"
    assert page.source_reason == "text_layer_off: PDF_TEXT_LAYER=off"
    assert "seven boats" in page.text


def test_the_vlm_engine_ocrs_every_page_under_auto():
    # Chosen for vlm users: the model's markdown has the tables and equations a text layer lacks.
    with open_document(build_pdf([born_digital_page(1)]), Limits.from_settings(SETTINGS)) as document:
        assert choose_text_layer(document, 1, SETTINGS, "lite")[0] is not None
        page, reason = choose_text_layer(document, 1, SETTINGS, "vlm")
    assert page is None and reason.startswith("vlm:")


def test_json_names_each_pages_source_and_the_document_engine():
    result = ocr_document(build_pdf([born_digital_page(1), born_digital_page(2)]), SETTINGS)
    body = json.loads(render(result, "json"))
    assert [p["source"] for p in body["pages"]] == ["text_layer", "text_layer"]
    assert body["engine"] == "text_layer" and body["model"] == "pypdfium2"
    assert body["text"].count("Fishing season opens") == 2 and "Quarterly" not in body["text"]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OCR_ENGINE": "lite", "RENDER_LONG_EDGE": "1000", **env}
    return subprocess.run([sys.executable, "main.py", "ocr", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env=environment)


def test_cli_reads_born_digital_pdfs_without_importing_an_ocr_library(tmp_path):
    path = tmp_path / "born.pdf"
    path.write_bytes(build_pdf([born_digital_page(1)]))
    code = ("import sys, main; status = main.main(['ocr', sys.argv[1], '--format', 'json']); "
            "sys.exit(90 if 'rapidocr' in sys.modules or 'onnxruntime' in sys.modules else status)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OCR_ENGINE": "lite"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pages"][0]["source"] == "text_layer"


def test_cli_text_layer_option_and_variable(tmp_path):
    path = tmp_path / "born.pdf"
    path.write_bytes(build_pdf([PdfPage(width=300, height=150).text(30, 80, "Harbour lights", size=24)]))
    off = run_cli(str(path), "--format", "json", "--text-layer", "off")
    assert off.returncode == 0, off.stderr
    page = json.loads(off.stdout)["pages"][0]
    assert (page["source"], page["text"]) == ("ocr", "Harbour lights")
    # the option wins over the variable
    on = run_cli(str(path), "--format", "json", "--text-layer", "auto", PDF_TEXT_LAYER="off")
    assert json.loads(on.stdout)["pages"][0]["source"] == "text_layer"
    bad = run_cli(str(path), PDF_TEXT_LAYER="sometimes")
    assert bad.returncode == 1 and "PDF_TEXT_LAYER" in bad.stderr


def test_out_records_how_each_page_was_read(tmp_path, engine):
    path = tmp_path / "mixed.pdf"
    small = [PdfPage(width=300, height=150).text(30, 80, words, size=24) for words in ("Harbour", "Lights")]
    path.write_bytes(merge_pdfs([build_pdf(small[:1]), rasterised(build_pdf(small[1:]))]))
    done = run_cli(str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "result.json").read_text())
    assert [(p["source"], p["engine"]) for p in manifest["pages"]] == [("text_layer", None), ("ocr", "lite")]
    assert manifest["pages"][1]["source_reason"].startswith("no_text:")
    assert manifest["engine"] == "lite"


def test_a_rotated_page_reads_as_displayed():
    # /Rotate 90 with text drawn turned the other way: upright on screen, and read that way.
    page = PdfPage(width=400, height=600, rotate=90)  # displayed 600 wide, 400 tall
    page.upright_text(40, 60, "Landscape tide table", size=16)
    for index, line in enumerate(BODY):
        page.upright_text(40, 110 + index * 16, line, size=12)
    page.upright_text(290, 380, "7", size=9)
    with open_document(build_pdf([page]), Limits.from_settings(SETTINGS)) as document:
        assert document.render(1).size[0] > document.render(1).size[1]  # landscape as displayed
    [result] = read(build_pdf([page]), CountingFactory(None))
    assert result.source == "text_layer"
    assert result.text.startswith("Landscape tide table\n\nThe harbour master counted seven boats at dawn, each one returning")
    assert result.footer == ["7"]


def test_an_index_page_of_dot_leaders_is_text_not_garbage():
    # Regression: the libtasn1 manual's index (dots outnumber letters) was judged bad_unicode.
    entries = [f"{name} {'. ' * 30}{page}" for name, page in
               (("asn1_array2tree", 9), ("asn1_bit_der", 17), ("asn1_copy_node", 11), ("asn1_der_coding", 12))]
    page = PdfPage().text(72, 80, "Function and Data Index", size=16).lines(72, 120, entries, size=10)
    [result] = read(build_pdf([page]), CountingFactory(None))
    assert result.source == "text_layer", result.source_reason
    assert "asn1_copy_node" in result.text


def test_accents_drawn_apart_from_their_letters_are_put_back():
    # Regression: TeX draws an accent as a glyph of its own over the letter ("Min\'a\v{c}"); the
    # text layer read "Min ´ a´c ˇ" where OCR read "Mináč". Helvetica widths place the accents.
    size, x = 12, 72.0
    width = {"A": 0.667, "c": 0.5, "a": 0.556, "f": 0.278, "e": 0.556, "o": 0.556, "r": 0.333, "n": 0.556,
             "i": 0.222, "v": 0.5, " ": 0.278,
             "\u00b4": 0.333, "\u00a8": 0.333}
    page = PdfPage().text(x, 100, "A cafe for naive", size)
    cafe_e = x + size * sum(width[c] for c in "A caf")
    naive_i = x + size * sum(width[c] for c in "A cafe for na")
    page.text(cafe_e + size * (width["e"] - width["\u00b4"]) / 2, 100, "\u00b4", size)
    page.text(naive_i + size * (width["i"] - width["\u00a8"]) / 2, 100, "\u00a8", size)
    page.text(x + size * sum(width[c] for c in "A cafe for naive "), 100, "readers", size)
    [result] = read(build_pdf([page]), CountingFactory(None))
    assert result.text == "A café for naïve readers"


def test_tex_double_quotes_made_of_two_single_ones_read_as_double_quotes():
    # Regression: the olmOCR sample's ‘‘corporate social responsibility’’ failed a rule that OCR
    # passed (OCR reads the pair as one double quote, as a reader does).
    page = PdfPage().text(72, 100, "The term \u2018\u2018corporate social responsibility\u2019\u2019 is in vogue", 12)
    [result] = read(build_pdf([page]), CountingFactory(None))
    assert result.text == "The term \u201ccorporate social responsibility\u201d is in vogue"
