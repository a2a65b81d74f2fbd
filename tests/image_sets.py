"""The images' requirement sets, read offline: what each pins and what pip would install for it.

``closure(path)`` follows the pins of a requirements file (and its ``-r`` includes) through the
Requires-Dist of the distributions installed in this virtualenv, the way pip resolves them on
Linux for this Python, so a test can say what an image built from that file contains without
downloading anything. It refuses to guess: a pin that differs from the installed version fails.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CPU_SET = ROOT / "requirements.txt"
VLM_SET = ROOT / "requirements-vlm.txt"
GPU_SET = ROOT / "requirements-gpu.txt"

# What must never reach the CPU image: the vlm engine and everything CUDA.
GPU_ONLY = re.compile(r"^(torch|torchvision|transformers|triton|nvidia-.*|cuda-.*|tokenizers|safetensors)$")


def read_set(path: Path) -> tuple[dict[str, str], list[str]]:
    """({name: pinned version}, [pip options such as --extra-index-url]) with -r includes followed."""
    pins: dict[str, str] = {}
    options: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            included, included_options = read_set(path.parent / line[3:].strip())
            pins.update(included)
            options += included_options
        elif line.startswith("-"):
            options.append(line)
        else:
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: pin exactly: {line}"
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins, options


def _installed_version(name: str) -> str:
    return metadata.version(name)


def closure(path: Path) -> dict[str, str]:
    """Every distribution pip installs for the set on this platform: {name: version}."""
    pins, _ = read_set(path)
    environment = {**default_environment(), "extra": ""}
    found: dict[str, str] = {}
    todo = list(pins)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        version = _installed_version(name)
        if name in pins:
            # A local label (+cpu, +cu126) names a build of the same release.
            assert version.split("+")[0] == pins[name].split("+")[0], f"{path.name} pins {name}=={pins[name]} but {version} is installed"
        found[name] = version
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(canonicalize_name(requirement.name))
    return found


def top_level_modules(distributions: set[str]) -> set[str]:
    """Importable top-level names that these distributions provide."""
    provided = set()
    for module, owners in metadata.packages_distributions().items():
        if any(canonicalize_name(owner) in distributions for owner in owners):
            provided.add(module)
    return provided


def installed_bytes(distributions) -> int:
    """Bytes the distributions occupy installed here (their RECORD files), a footprint measured offline."""
    return sum(f.size or 0 for name in distributions for f in (metadata.distribution(name).files or []))
