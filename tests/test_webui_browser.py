"""The web page end to end in chromium: a real functions-framework process with fake-gcs-server,
a multi-page PDF dropped through the file input, its progress, each page's text beside its image,
the downloads; rejected uploads and the token, in a phone-sized window.

``WEBUI_SCREENSHOT=docs/web-page.png`` also saves the finished page as the README shows it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from PIL import ImageDraw

from tests.browser import NARROW, WIDE, Tab, browser  # noqa: F401  (fixtures)
from tests.http_client import FunctionProcess
from tests.jobs_helpers import wait_for
from tests.pages import font, image_bytes, pdf_bytes, text_page

WORDS = {1: ("Walrus", "harbour"), 2: ("Copper", "kettle"), 3: ("Lantern", "orchard")}
TOKEN = "page-token-7f3a"
HEADER = "Harbour Survey 2026"


def document(path: Path) -> Path:
    """Three pages of known words under a running header and over a page-number footer."""
    pages = []
    for number, (first, second) in WORDS.items():
        page = text_page([f"{first} {second}", f"Chapter {number} begins here"], size=(900, 1200), top=260)
        draw = ImageDraw.Draw(page)
        draw.text((90, 50), HEADER, fill="black", font=font(26))
        draw.text((420, 1120), f"Page {number}", fill="black", font=font(26))
        pages.append(page)
    path.write_bytes(pdf_bytes(pages))
    return path


@pytest.fixture(scope="module")
def bucket(gcs_emulator):
    import uuid

    return gcs_emulator.client().create_bucket(f"webui-{uuid.uuid4().hex[:10]}")


def start(bucket, tmp_path_factory, **env) -> FunctionProcess:
    return FunctionProcess("ocr_http", "http", {
        "RESULTS_BUCKET": bucket.name, "PAGES_PER_CHUNK": "1", "RENDER_LONG_EDGE": "1200", "STORAGE_EMULATOR_HOST": os.environ["STORAGE_EMULATOR_HOST"],
        **env,
    }, tmp_path_factory.mktemp("webui") / "function.log")


@pytest.fixture(scope="module")
def service(bucket, tmp_path_factory):
    process = start(bucket, tmp_path_factory)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def guarded(bucket, tmp_path_factory):
    """API_TOKEN set and a small MAX_UPLOAD_BYTES, for the token and the refusals."""
    process = start(bucket, tmp_path_factory, API_TOKEN=TOKEN, MAX_UPLOAD_BYTES="60000")
    try:
        yield process
    finally:
        process.stop()


def open_tab(browser, url, viewport) -> Tab:
    return Tab(browser, viewport).open(url + "/")


def test_a_dropped_pdf_is_read_page_by_page_beside_its_images(browser, service, bucket, tmp_path):
    tab = open_tab(browser, service.url, WIDE)
    page = tab.page
    try:
        page.keyboard.press("Tab")  # the file picker is the first thing the keyboard reaches
        assert page.evaluate("() => document.activeElement.id") == "file-input"
        assert page.locator("#token-form").is_hidden()

        seen = []
        page.on("response", lambda r: "/jobs/" in r.url and r.request.method == "GET" and seen.append(r.url))
        page.set_input_files("#file-input", str(document(tmp_path / "walrus.pdf")))
        page.wait_for_selector("#result:not([hidden])", timeout=120_000)

        for number, words in WORDS.items():
            text = page.inner_text(f"#page-{number} .rendered")
            assert all(word in text for word in words) and HEADER not in text, (number, text)
            # Running header and footer: apart from the body, and dimmed.
            assert HEADER in page.inner_text(f"#page-{number} .running.header")
            assert f"Page {number}" in page.inner_text(f"#page-{number} .running.footer")
        assert float(page.eval_on_selector("#page-1 .running.header", "e => getComputedStyle(e).opacity")) < 1
        assert page.eval_on_selector("#progress", "p => [p.value, p.max]") == [3, 3]
        assert page.inner_text("#progress-label") == "Done: 3 of 3 pages"
        job_id = next(url.split("/jobs/")[1].split("/")[0].split("?")[0] for url in seen)

        result = requests.get(f"{service.url}/jobs/{job_id}/result?format=json", timeout=30).json()
        meta = page.inner_text("#result-meta")
        assert all(str(result[key]) in meta for key in ("engine", "model", "revision"))

        # Page 1's image, rendered by the function and cached beside the job's results.
        width = wait_for(lambda: page.eval_on_selector("#page-1 img", "i => i.complete && i.naturalWidth"),
                           what="page 1's image")
        assert width == 750  # 900 x 1200 points, long edge 1000 px
        assert any(blob.name.endswith("/images/0001.png") for blob in bucket.list_blobs())
        image, text = (page.locator(f"#page-1 {part}").bounding_box() for part in (".page-image", ".page-text"))
        assert image["x"] + image["width"] <= text["x"] and abs(image["y"] - text["y"]) < 2  # side by side

        for fmt, extension in (("markdown", "md"), ("text", "txt"), ("json", "json")):
            with page.expect_download() as download:
                page.click(f"#download-{fmt}")
            assert download.value.suggested_filename == f"walrus.{extension}"
            expected = requests.get(f"{service.url}/jobs/{job_id}/result?format={fmt}", timeout=30).text
            assert Path(download.value.path()).read_text() == expected and "Lantern" in expected

        page.click("#raw-toggle")
        assert page.locator("#page-2 .raw").is_visible() and page.locator("#page-2 .rendered").is_hidden()
        assert page.inner_text("#page-2 .raw") == next(p["text"] for p in result["pages"] if p["number"] == 2)
        page.click("#raw-toggle")

        if os.environ.get("WEBUI_SCREENSHOT"):
            page.mouse.move(0, 0)
            page.set_viewport_size({"width": 1400, "height": 1250})
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=os.environ["WEBUI_SCREENSHOT"])
        assert tab.errors == []
    finally:
        tab.close()


def refusal(tab: Tab, path: Path) -> str:
    tab.page.set_input_files("#file-input", str(path))
    tab.page.wait_for_selector("#job-error:not([hidden])", timeout=60_000)
    return tab.page.inner_text("#job-error")


def test_on_a_phone_the_token_is_asked_once_and_refusals_show_the_apis_message(browser, guarded, tmp_path):
    tab = open_tab(browser, guarded.url, NARROW)
    page = tab.page
    try:
        assert page.locator("#token-form").is_visible() and page.locator("#upload").is_hidden()
        page.fill("#token-input", "wrong-token")
        page.press("#token-input", "Enter")
        notes = tmp_path / "notes.txt"
        notes.write_text("not a document")
        message = refusal(tab, notes)
        assert message.startswith("The access token was refused.")
        assert page.locator("#token-form").is_visible()  # asked again

        page.fill("#token-input", TOKEN)
        page.press("#token-input", "Enter")
        message = refusal(tab, notes)
        assert message.startswith("This type of file is not supported. Unsupported Content-Type 'text/plain'"), message

        big = tmp_path / "big.pdf"
        big.write_bytes(b"%PDF-1.4\n" + b"0" * 70_000)
        message = refusal(tab, big)
        assert message.startswith("The document is too large.") and "60000" in message, message

        broken = tmp_path / "broken.pdf"
        broken.write_bytes(b"%PDF-1.4 not really")
        message = refusal(tab, broken)
        assert message.startswith("The document cannot be read."), message

        # A PNG on a phone: the page's image stacks above its text, nothing scrolls sideways.
        photo = tmp_path / "note.png"
        photo.write_bytes(image_bytes(text_page(["Quartz pelican"], size=(800, 500), top=200, font_size=48), "PNG"))
        page.set_input_files("#file-input", str(photo))
        page.wait_for_selector("#result:not([hidden])", timeout=120_000)
        assert "Quartz pelican" in page.inner_text("#page-1 .rendered") and page.locator("#job-error").is_hidden()
        wait_for(lambda: page.eval_on_selector("#page-1 img", "i => i.complete && i.naturalWidth"), what="the image")
        image, text = (page.locator(f"#page-1 {part}").bounding_box() for part in (".page-image", ".page-text"))
        assert image["y"] + image["height"] <= text["y"]
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert page.evaluate("() => sessionStorage.length") == 1  # the token, for this tab only
        # The browser itself logs each refused request; nothing else may reach the console.
        assert all("Failed to load resource: the server responded with a status of" in e for e in tab.errors), tab.errors
        assert len(tab.errors) == 4
    finally:
        tab.close()
