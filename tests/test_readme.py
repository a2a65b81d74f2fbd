"""The README tells the truth: its configuration table is common.config.VARIABLES, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from common.config import VARIABLES

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
