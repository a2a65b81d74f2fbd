"""What pip installs into each image, and how many MB of wheels that is (the README's figures).

    .venv/bin/python scripts/image_footprint.py requirements.txt
    .venv/bin/python scripts/image_footprint.py requirements-gpu.txt --torch-from-pypi

Runs `pip install --dry-run --report` for the image's platform (Linux x86_64, CPython 3.11, wheels
only) against PyPI alone (--isolated: no local wheel folder or constraints), then reads each
wheel's size from the index's JSON listing (PEP 691, the format pip itself reads). Nothing is
installed; metadata is fetched lazily where the index has no separate metadata file.

--torch-from-pypi: the GPU set's torch comes from download.pytorch.org, which this machine cannot
reach; measure PyPI's torch of the same release instead (a CUDA 13 build, similar in size) and say so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

# python:3.11-slim-bookworm has glibc 2.36: every manylinux tag up to 2_28 installs there.
_TAGS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
PLATFORM = [arg for tag in _TAGS for arg in ("--platform", tag)] + ["--python-version", "3.11", "--implementation", "cp", "--only-binary", ":all:"]


def resolve(requirements: Path, torch_from_pypi: bool) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "set.txt"
        lines = []
        for line in requirements.read_text().splitlines():
            if torch_from_pypi and (line.startswith("--extra-index-url") or line.startswith("torch==") and "+" in line):
                continue
            lines.append(line.replace("-r ", f"-r {requirements.resolve().parent}/", 1) if line.startswith("-r ") else line)
        req.write_text("\n".join(lines) + "\n")
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--use-feature=fast-deps", "--target", str(Path(tmp) / "t"), *PLATFORM, "--report", str(report), "-r", str(req)],
            check=True,
        )
        data = json.loads(report.read_text())
    return [(i["metadata"]["name"], i["metadata"]["version"], i["download_info"]["url"]) for i in data["install"]]


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
    print(f"{total / 2**20:9.1f} MB  in {len(rows)} wheels ({args.requirements.name}{', torch from PyPI' if args.torch_from_pypi else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
