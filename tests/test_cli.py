"""`python main.py ocr`: the command a newcomer runs first, driven as a real subprocess."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample.pdf"


def run_cli(*args: str, stderr=subprocess.PIPE, env=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OCR_ENGINE": "lite", **(env or {})}
    return subprocess.run([sys.executable, "main.py", "ocr", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=180, env=environment)


def words_in_order(text: str, words: list[str]) -> bool:
    position = 0
    lowered = text.lower()
    for word in words:
        found = lowered.find(word.lower(), position)
        if found < 0:
            return False
        position = found + len(word)
    return True


def test_the_sample_prints_its_markdown_in_reading_order():
    done = run_cli(str(SAMPLE))
    assert done.returncode == 0, done.stderr
    assert words_in_order(done.stdout, ["Gnosis", "sample", "Serverless", "Google Cloud", "markdown", "bucket",
                                        "Second page", "uploads bucket", "markdown"])
    assert "engine: lite" in done.stderr


def test_json_has_a_per_page_list_and_pages_selects(tmp_path):
    done = run_cli(str(SAMPLE), "--format", "json", "--pages", "2")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["page_count"] == 2
    assert [page["number"] for page in result["pages"]] == [1 + 1]
    assert "uploads bucket" in result["pages"][0]["text"]
    assert "Gnosis" not in result["text"]
    assert (result["engine"], result["model"]) == ("lite", "rapidocr")


def test_out_writes_the_results_layout(tmp_path):
    done = run_cli(str(SAMPLE), "--format", "text", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".meta")) == [
        "document.md", "pages/0001.md", "pages/0002.md", "result.json"]
    manifest = json.loads((tmp_path / "result.json").read_text())
    assert manifest["status"] == "done" and manifest["page_count"] == 2
    assert "Second page" in (tmp_path / "pages" / "0002.md").read_text()
    assert words_in_order((tmp_path / "document.md").read_text(), ["Gnosis", "Second page"])


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty"), (b"hello, not a document", "unsupported document type"), (b"%PDF-1.4\n\x00\x01garbage", "cannot be read")],
)
def test_unreadable_files_exit_non_zero_with_one_line(tmp_path, content, reason):
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    done = run_cli(str(path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and reason in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_and_bad_range_are_one_line_errors(tmp_path):
    done = run_cli(str(tmp_path / "nope.pdf"))
    assert done.returncode == 1 and "No such file" in done.stderr
    done = run_cli(str(SAMPLE), "--pages", "3")
    assert done.returncode == 1 and "past the last page (2)" in done.stderr


def test_progress_bar_only_on_a_terminal():
    controller, terminal = pty.openpty()
    # A new pty is 0x0; a real terminal has a size, which tqdm needs to draw.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = run_cli(str(SAMPLE), stderr=terminal)
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0
    assert b"2/2" in shown and b"page" in shown
    assert "2/2" not in run_cli(str(SAMPLE), "--pages", "1-2").stderr  # piped stderr: no bar


def test_the_lite_path_never_imports_torch_or_transformers():
    script = ("import sys, main\n"
              "code = main.main(['ocr', 'samples/sample.pdf', '--engine', 'lite', '--pages', '1'])\n"
              "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
              "print('HEAVY', heavy, file=sys.stderr)\n"
              "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr
