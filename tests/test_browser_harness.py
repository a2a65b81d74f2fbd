"""The browser tests cannot pass by not running: without chromium they fail under CI, and the
scripted install step that CI runs (make test -> install-dev -> browser) puts chromium there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import browser

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser, "DEBIAN_CHROMIUM", tmp_path / "chromium")


def test_without_chromium_ci_fails(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make browser"):
        browser.chromium_path()


def test_without_chromium_a_laptop_skips(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        browser.chromium_path()


def test_make_test_installs_debians_chromium_and_nothing_downloads_a_browser():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^install-dev:.*\bbrowser\b", makefile, re.M)
    recipe = makefile.split("\nbrowser:", 1)[1].split("\n\n", 1)[0]
    assert "apt-get install" in recipe and re.search(r"\bchromium\b", recipe)
    assert not re.search(r"^\t.*playwright install", makefile, re.M)  # no recipe downloads one
    assert re.search(r"^playwright==\d", (ROOT / "requirements-dev.txt").read_text(), re.M)
