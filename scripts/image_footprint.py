"""What pip installs into each image, and how many MB of wheels that is (the README's figures).

    .venv/bin/python scripts/image_footprint.py requirements.txt
    .venv/bin/python scripts/image_footprint.py requirements-gpu.txt --torch-from-pypi

Runs `pip install --dry-run --report` for the image's platform (Linux x86_64, CPython 3.11, wheels
only) against PyPI alone (--isolated: no local wheel folder or constraints), then reads each
wheel's size from the index's JSON listing (PEP 691, the format pip itself reads). Nothing is
installed; metadata is fetched lazily where the index has no separate metadata file.

--torch-from-pypi: the GPU set's torch comes from download.pytorch.org, which this machine cannot
reach; count PyPI's torch wheel of the same release instead, without the CUDA libraries it requires
on Linux (listed, not counted: PyPI as seen from here lacks some of their pinned releases).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

# python:3.11-slim-bookworm has glibc 2.36: every manylinux tag up to 2_28 installs there.
_TAGS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
PLATFORM = [arg for tag in _TAGS for arg in ("--platform", tag)] + ["--python-version", "3.11", "--implementation", "cp", "--only-binary", ":all:"]


# torch's Linux-only requirements (the CUDA libraries and triton), left out of the sum in
# --torch-from-pypi mode: seen from here PyPI does not hold all of their pinned releases.
UNCOUNTED: list[str] = []


def _pip_report(lines: list[str], tmp: Path, *extra: str) -> list[dict]:
    req, report = tmp / "set.txt", tmp / "report.json"
    req.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--use-feature=fast-deps", "--target", str(tmp / "t"), *PLATFORM, *extra, "--report", str(report), "-r", str(req)],
        check=True,
    )
    return json.loads(report.read_text())["install"]


def _expand(requirements: Path) -> list[str]:
    """The set's lines with its -r includes inlined."""
    lines = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            lines += _expand(requirements.resolve().parent / line[3:].strip())
        elif line:
            lines.append(line)
    return lines


def resolve(requirements: Path, torch_from_pypi: bool) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lines, torch_pin = [], None
        for line in _expand(requirements):
            if torch_from_pypi and (line.startswith("--extra-index-url") or line.startswith("torch==")):
                if line.startswith("torch=="):
                    torch_pin = line.split("+")[0]
                continue
            lines.append(line)
        torch_rows: list[dict] = []
        if torch_pin is not None:
            # torch's own wheel, then its Linux dependencies next to the rest of the set.
            (torch,) = _pip_report([torch_pin], tmp, "--no-deps")
            torch_rows.append(torch)
            for spec in torch["metadata"].get("requires_dist", []):
                requirement, _, marker = spec.partition(";")
                if "extra ==" in marker:
                    continue
                if "platform_system" in marker:
                    UNCOUNTED.append(requirement.strip())
                    continue
                lines.append(requirement.strip())
        installed = torch_rows + _pip_report(lines, tmp)
    return [(i["metadata"]["name"], i["metadata"]["version"], i["download_info"]["url"]) for i in installed]


def wheel_size(name: str, url: str) -> int:
    request = urllib.request.Request(f"https://pypi.org/simple/{name.lower()}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    filename = url.rsplit("/", 1)[-1].split("#")[0]
    return next(f["size"] for f in files if f["filename"] == filename)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requirements", type=Path)
    parser.add_argument("--torch-from-pypi", action="store_true")
    args = parser.parse_args()
    rows = [(name, version, wheel_size(name, url)) for name, version, url in resolve(args.requirements, args.torch_from_pypi)]
    rows.sort(key=lambda row: -row[2])
    for name, version, size in rows:
        print(f"{size / 2**20:9.1f} MB  {name}=={version}")
    total = sum(size for _, _, size in rows)
    note = ", torch's wheel from PyPI, its Linux-only CUDA requirements not counted" if args.torch_from_pypi else ""
    print(f"{total / 2**20:9.1f} MB  in {len(rows)} wheels ({args.requirements.name}{note})")
    if UNCOUNTED:
        print("not counted: " + "; ".join(UNCOUNTED))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
