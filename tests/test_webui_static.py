"""The web page's files: served by the HTTP function itself, under a strict CSP, loading nothing
from elsewhere, with no inline script or style for the CSP to have to allow."""

from __future__ import annotations

import re

import pytest

from functions import webui
from tests.http_client import http_client

UI_FILES = sorted(path for path in webui.UI_DIR.iterdir() if path.is_file())


@pytest.fixture
def client():
    return http_client()


def test_the_page_is_served_at_the_root_with_a_strict_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.data == (webui.UI_DIR / "index.html").read_bytes()
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == csp["script-src"] == csp["style-src"] == csp["connect-src"] == "'self'"
    assert csp["img-src"] == "'self' blob:" and csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_file_the_page_names_is_served_from_ui_with_its_type(client):
    html = (webui.UI_DIR / "index.html").read_text()
    named = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert named and all(url.startswith("/ui/") for url in named)
    imported = re.findall(r'from "\./([^"]+)"', (webui.UI_DIR / "app.js").read_text())
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for url in named + [f"/ui/{name}" for name in imported]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == types[url[url.rindex("."):]], url
        assert "Content-Security-Policy" in response.headers


def test_no_inline_script_or_style_and_nothing_loaded_from_elsewhere():
    for path in UI_FILES:
        text = path.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script>"
            assert "<style" not in text and " style=" not in text and not re.search(r"\son[a-z]+=", text)
        if path.suffix == ".js":
            # Document text reaches the page as text nodes only.
            assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", text), path.name


def test_revalidation_answers_304_and_unknown_files_404_json(client):
    first = client.get("/ui/app.js")
    assert first.headers["Cache-Control"] == "no-cache" and first.headers["ETag"]
    again = client.get("/ui/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    missing = client.get("/ui/nope.js")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert client.post("/").status_code == 405


def test_config_says_whether_a_token_is_needed_and_never_carries_it():
    assert http_client().get("/ui/config.json").json["token_required"] is False
    response = http_client(API_TOKEN="s3cret-token").get("/ui/config.json")
    assert response.status_code == 200  # the page must learn this before it has a token
    assert response.json["token_required"] is True and "s3cret-token" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_page_itself_needs_no_token_but_the_api_still_does():
    client = http_client(API_TOKEN="s3cret-token")
    assert client.get("/").status_code == 200 and client.get("/ui/app.js").status_code == 200
    assert client.post("/ocr", data=b"%PDF-1.4", content_type="application/pdf").status_code == 401
