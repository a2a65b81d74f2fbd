"""The page's markdown renderer (functions/ui/markdown.js), run in chromium: it renders what the
engines write, and text that looks like HTML stays text, whatever it tries."""

from __future__ import annotations

import pytest

from tests.browser import WIDE, Tab, browser  # noqa: F401  (fixtures)
from tests.http_client import FunctionProcess

ALLOWED_TAGS = {"P", "H1", "H2", "H3", "H4", "H5", "H6", "UL", "OL", "LI", "STRONG", "EM", "CODE", "PRE",
                "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "DIV", "BLOCKQUOTE", "HR"}
ALLOWED_ATTRIBUTES = {"class", "colspan", "rowspan", "start"}

RENDER = """async (text) => {
  const { renderMarkdown } = await import("/ui/markdown.js");
  const box = document.createElement("div");
  box.className = "rendered-case";
  box.append(renderMarkdown(text));
  document.body.append(box);
  await new Promise((resolve) => setTimeout(resolve, 50));  // let anything that would load, load
  const nodes = [...box.querySelectorAll("*")];
  return {
    html: box.innerHTML,
    text: box.textContent,
    tags: [...new Set(nodes.map((node) => node.tagName))],
    attributes: [...new Set(nodes.flatMap((node) => [...node.attributes].map((a) => a.name)))],
    pwned: window.pwned === true,
  };
}"""


@pytest.fixture(scope="module")
def tab(browser, tmp_path_factory):
    """One tab on the page served by a real functions-framework process, for every case."""
    process = FunctionProcess("ocr_http", "http", {}, tmp_path_factory.mktemp("markdown") / "function.log")
    opened = None
    try:
        opened = Tab(browser, WIDE).open(process.url + "/")
        yield opened
    finally:
        if opened:
            opened.close()
        process.stop()


def render(tab, text: str) -> dict:
    tab.page.evaluate("() => document.querySelectorAll('body > .rendered-case').forEach((n) => n.remove())")
    return tab.page.evaluate(RENDER, text)


def test_what_the_engines_write_renders_as_markdown(tab):
    text = (
        "# Annual report\n\nFirst *paragraph* with **bold**, _italic_ and `code`\nwrapped here.\n\n"
        "## Items\n\n- one\n- two\n  - two a\n\n3. third\n4. fourth\n\n"
        "| Item | Qty |\n|:---|---:|\n| **Bolts** | 12 |\n| Nuts \\| washers | 4 |\n\n"
        "<table><tr><th>Year</th><th colspan=\"2\">Sales</th></tr><tr><td>2025</td><td>1 &amp; 2</td><td>3</td></tr></table>\n\n"
        "> quoted\n\n---\n\n```\nx = 1 * 2 * 3\n```\n"
    )
    out = render(tab, text)
    assert out["html"] == (
        "<h1>Annual report</h1>"
        "<p>First <em>paragraph</em> with <strong>bold</strong>, <em>italic</em> and <code>code</code>\nwrapped here.</p>"
        "<h2>Items</h2>"
        "<ul><li>one</li><li>two<ul><li>two a</li></ul></li></ul>"
        '<ol start="3"><li>third</li><li>fourth</li></ol>'
        '<div><table><thead><tr><th>Item</th><th class="align-right">Qty</th></tr></thead>'
        '<tbody><tr><td><strong>Bolts</strong></td><td class="align-right">12</td></tr>'
        '<tr><td>Nuts | washers</td><td class="align-right">4</td></tr></tbody></table></div>'
        '<div><table><tr><th>Year</th><th colspan="2">Sales</th></tr><tr><td>2025</td><td>1 &amp; 2</td><td>3</td></tr></table></div>'
        "<blockquote><p>quoted</p></blockquote><hr><pre><code>x = 1 * 2 * 3</code></pre>"
    )
    assert tab.errors == []


HOSTILE = [
    "<script>window.pwned = true</script>",
    '<img src=x onerror="window.pwned = true">',
    '**<svg onload="window.pwned = true">**',
    "[click](javascript:window.pwned=true)",
    '| a | b |\n|---|---|\n| <iframe src="javascript:window.pwned=true"></iframe> | <b onmouseover=x>b</b> |',
    '<table onclick="window.pwned=true"><tr><td colspan="2" onclick="window.pwned=true">'
    '<img src=x onerror="window.pwned=true">cell<script>window.pwned=true</script></td></tr></table>',
    "# <style>body{display:none}</style>\n\n- <a href=\"javascript:window.pwned=true\">x</a>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_html_in_a_page_stays_text(tab, text):
    out = render(tab, text)
    assert not out["pwned"]
    assert set(out["tags"]) <= ALLOWED_TAGS, out["html"]
    assert set(out["attributes"]) <= ALLOWED_ATTRIBUTES, out["html"]
    if "<table" not in text:  # outside an HTML table, every character of markup is shown
        for piece in ("<script>", "<img src=x", "<svg", "javascript:", "<iframe", "<style>", "<a href"):
            if piece in text:
                assert piece in out["text"], out["text"]
    assert tab.errors == []
