"""The README tells the truth: its configuration table is common.config.VARIABLES, its commands exist."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from common.config import VARIABLES
from tests.gcs_emulator import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def readme_config_rows() -> list[tuple[str, str, str]]:
    table = README.split("<!-- config-table", 1)[1].split("<!-- /config-table -->", 1)[0]
    rows = []
    for line in table.splitlines():
        match = re.match(r"^\| `([A-Z_0-9]+)` \| (.*?) \| (.*) \|$", line)
        if match:
            default = match.group(2)
            default = "" if default == "(empty)" else default.strip("`")
            rows.append((match.group(1), default, match.group(3)))
    return rows


def test_configuration_table_matches_the_settings():
    assert readme_config_rows() == [(v.name, v.default, v.description) for v in VARIABLES]


def test_the_two_commands_are_the_make_targets_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "samples/sample.pdf" in makefile and (ROOT / "samples" / "sample.pdf").is_file()
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# What a reader of samples/sample.pdf sees on its two pages, written down by hand.
SAMPLE_TEXT = [
    "Gnosis OCR sample document",
    "Serverless OCR on Google Cloud turns scanned pages into markdown text.",
    "Each page is read in order and the results land in a bucket.",
    "Second page",
    "Drop a PDF into the uploads bucket and its pages appear as markdown.",
]


def demo_command() -> tuple[dict[str, str], list[str]]:
    """The Makefile's `demo` recipe as (environment, argv), with $(PY) the interpreter running us."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(.+)$", makefile, re.M).group(1)
    words = shlex.split(recipe.replace("$(PY)", sys.executable))
    env = {}
    while re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def _offline_prefix() -> list[str]:
    """A network namespace with no interface up (not even loopback), where we may make one."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which("unshare") and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def test_make_demo_reads_the_sample_offline_and_downloads_nothing(tmp_path):
    env, argv = demo_command()
    assert env == {"OCR_ENGINE": "lite"} and argv[1:] == ["main.py", "ocr", "samples/sample.pdf"]
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    environment = {**os.environ, **env, "HF_ENDPOINT": closed, "HTTP_PROXY": closed, "HTTPS_PROXY": closed,
                   "ALL_PROXY": closed, "http_proxy": closed, "https_proxy": closed, "NO_PROXY": "", "no_proxy": "",
                   "HF_HOME": str(tmp_path / "cache"), "MODEL_CACHE_PATH": str(tmp_path / "cache"),
                   "HOME": str(tmp_path / "home")}
    for name in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "STORAGE_EMULATOR_HOST"):
        environment.pop(name, None)
    # No network at all where the machine lets us unshare it; proxies at a closed port otherwise.
    done = subprocess.run([*_offline_prefix(), *argv], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    assert "engine: lite" in done.stderr
    text = " ".join(done.stdout.split())
    positions = [text.find(line) for line in SAMPLE_TEXT]
    assert -1 not in positions and positions == sorted(positions), done.stdout
    assert not (tmp_path / "cache").exists()  # nothing fetched or cached
