"""checkov over infra/: no failed check, and every skipped one says why.

checkov pins versions that clash with the project's (it would downgrade packaging and networkx),
so it lives in its own virtual environment, .venv-tools/ at the repository root:

    python -m venv .venv-tools && .venv-tools/bin/pip install -r infra/requirements-checkov.txt

The version is pinned there and this test refuses another. CHECKOV may name another executable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra_model import INFRA_DIR

REPO = INFRA_DIR.parent
PIN = INFRA_DIR / "requirements-checkov.txt"
CHECKOV_VERSION = re.search(r"^checkov==(\S+)$", PIN.read_text(), re.MULTILINE).group(1)
CONFIG = INFRA_DIR / ".checkov.yaml"
CHECKOV = Path(os.environ.get("CHECKOV", REPO / ".venv-tools" / "bin" / "checkov"))


def test_every_skipped_check_has_a_reason():
    skips = []
    in_list = False
    for line in CONFIG.read_text().splitlines():
        if re.match(r"^[\w-]+:", line):
            in_list = line.startswith("skip-check:")
            continue
        match = re.match(r"^\s*-\s*(\S+)\s*(?:#\s*(.*))?$", line)
        if in_list and match:
            skips.append((match.group(1), (match.group(2) or "").strip()))
    assert skips, "expected the skip-check list in infra/.checkov.yaml"
    unexplained = [check for check, reason in skips if len(reason) < 20]
    assert not unexplained, f"skipped without a reason: {unexplained}"


@pytest.mark.skipif(
    not CHECKOV.exists(),
    reason=f"no checkov at {CHECKOV}: python -m venv .venv-tools && .venv-tools/bin/pip install -r infra/requirements-checkov.txt",
)
def test_checkov_finds_nothing():
    version = subprocess.run([str(CHECKOV), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == CHECKOV_VERSION, f"{CHECKOV} is checkov {version}, this test pins {CHECKOV_VERSION}"
    run = subprocess.run(
        [
            str(CHECKOV), "--directory", str(INFRA_DIR), "--config-file", str(CONFIG),
            "--framework", "terraform", "--quiet", "--compact", "--output", "json",
            "--skip-download",  # offline: no guideline or policy downloads
        ],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = {key: sum(r["summary"][key] for r in reports) for key in ("passed", "failed", "parsing_errors", "resource_count")}
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for r in reports for c in r["results"].get("failed_checks", [])
    ]
    assert failed == [], "\n".join(failed)
    assert summary["parsing_errors"] == 0, summary
    # Guards against a run that silently checked nothing (wrong folder, parser gave up).
    assert summary["resource_count"] >= 20 and summary["passed"] >= 20, summary
    assert run.returncode == 0, run.stderr[-2000:]
