"""A real headless browser for the web page's tests: Debian's chromium driven by Playwright.

Playwright's Python client is pointed at the system browser (``make browser`` installs it with
apt), so nothing downloads a browser at run time. Without chromium the tests skip on a laptop and
fail under CI (``CI=true``), so a CI run cannot pass by not testing the page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
WIDE = {"width": 1400, "height": 1000}
NARROW = {"width": 390, "height": 844}  # a phone


# Where Debian's package puts it, for a PATH that lacks /usr/bin.
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def chromium_path() -> str:
    path = shutil.which("chromium") or (str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.exists() else None)
    if path:
        return path
    message = "Debian's chromium is not installed: run `make browser` (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """One page in a fresh browser context, recording every console error and uncaught exception."""

    def __init__(self, browser, viewport: dict):
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def open(self, url: str) -> "Tab":
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready=true]")
        return self

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser):
    """A wide tab; ``tab.page`` is the Playwright page."""
    opened = Tab(browser, WIDE)
    try:
        yield opened
    finally:
        opened.close()
