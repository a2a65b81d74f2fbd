"""The provider constraints in infra/main.tf admit only releases whose schema has what infra/ uses.

A lock file may pick any release the constraint allows; one whose schema lacks an attribute used
here fails `terraform validate` with "Unsupported argument". The minimums below are the releases
that added each attribute (issue 13, checked against the providers' schema sources):

- google: ``volumes.gcs.mount_options`` on ``google_cloud_run_v2_service`` is GA from 7.4.0
  (beta-only before);
- archive: glob patterns in ``archive_file.excludes`` match from 2.5.0 (2.4.x zips ``.venv``,
  ``.terraform`` and tests).
"""

from __future__ import annotations

import re

import pytest

from tests import infra_model
from tests.infra_model import INFRA_DIR, unquote

Version = tuple[int, int, int]

# (provider, what uses the feature, the first release that has it)
FEATURES = [
    ("google", "google_cloud_run_v2_service volumes.gcs.mount_options", (7, 4, 0)),
    ("archive", "archive_file excludes with glob patterns", (2, 5, 0)),
]


def parse_version(text: str) -> Version:
    parts = [int(p) for p in text.strip().split(".")]
    return tuple((parts + [0, 0, 0])[:3])  # type: ignore[return-value]


def admits(constraint: str, version: Version) -> bool:
    """Terraform's version constraint syntax: comma-separated =, !=, >, >=, <, <=, ~>."""
    for clause in constraint.split(","):
        match = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*([0-9.]+)\s*", clause)
        assert match, f"cannot read constraint clause {clause!r}"
        op, raw = match.group(1) or "=", match.group(2)
        bound = parse_version(raw)
        if op == "~>":
            # ~> 2.4 allows 2.x >= 2.4; ~> 2.4.1 allows 2.4.x >= 2.4.1.
            depth = len(raw.split("."))
            prefix = bound[: max(depth - 1, 1)]
            if version < bound or version[: len(prefix)] != prefix:
                return False
        elif not {"=": version == bound, "!=": version != bound, ">": version > bound, ">=": version >= bound,
                  "<": version < bound, "<=": version <= bound}[op]:
            return False
    return True


def below(minimum: Version) -> list[Version]:
    """Releases just under a minimum (and, for google 7.x, this repository's old floor 6.47)."""
    major, minor, patch = minimum
    probes = [(major - 1, 99, 99)] if major else []
    if minor:
        probes += [(major, minor - 1, 0), (major, minor - 1, 99)]
    if patch:
        probes.append((major, minor, patch - 1))
    return probes + ([(6, 47, 0)] if major == 7 else [])


def required_providers(infra) -> dict[str, str]:
    found = {}
    for tree in infra.tf.values():
        for block in tree.get("terraform", []):
            for entry in block.get("required_providers", []):
                for name, spec in entry.items():
                    if isinstance(spec, dict):
                        found[unquote(name)] = unquote(spec.get("version"))
    return found


def uses(infra, provider: str, feature: str) -> bool:
    if provider == "google":
        return any("mount_options" in str(body) for kind, _, body in infra.blocks("resource") if kind == "google_cloud_run_v2_service")
    if provider == "archive":
        return any(kind == "archive_file" and "*" in str(body.get("excludes", "")) for kind, _, body in infra.blocks("data"))
    raise AssertionError(feature)


@pytest.fixture(scope="module")
def infra():
    return infra_model.load()


def check_constraints(infra) -> list[str]:
    problems = []
    required = required_providers(infra)
    for provider, feature, minimum in FEATURES:
        if not uses(infra, provider, feature):
            continue
        constraint = required.get(provider)
        if constraint is None:
            problems.append(f"{feature} is used but {provider} has no version constraint")
            continue
        if not admits(constraint, minimum):
            problems.append(f"{provider} {constraint!r} refuses {'.'.join(map(str, minimum))}, the release that has {feature}")
        for old in below(minimum):
            if admits(constraint, old):
                problems.append(f"{provider} {constraint!r} admits {'.'.join(map(str, old))}, which lacks {feature}")
    return problems


def test_the_constraint_reader():
    assert admits(">= 7.4.0, < 8.0.0", (7, 4, 0)) and admits(">= 7.4.0, < 8.0.0", (7, 45, 1))
    assert not admits(">= 7.4.0, < 8.0.0", (7, 3, 99)) and not admits(">= 7.4.0, < 8.0.0", (8, 0, 0))
    assert admits("~> 2.4", (2, 9, 0)) and admits("~> 2.4", (2, 4, 0)) and not admits("~> 2.4", (3, 0, 0))
    assert admits("~> 2.4.1", (2, 4, 5)) and not admits("~> 2.4.1", (2, 5, 0))


def test_every_constraint_admits_only_releases_that_have_what_is_used(infra):
    assert uses(infra, "google", "mount_options"), "expected the model-cache volume's mount_options in run.tf"
    assert check_constraints(infra) == []


def test_every_required_provider_is_used_and_every_used_one_is_required(infra):
    used = {kind.split("_", 1)[0] for block in ("resource", "data") for kind, _, _ in infra.blocks(block)} - {"terraform"}
    used |= {"archive"} if any(kind == "archive_file" for kind, _, _ in infra.blocks("data")) else set()
    assert set(required_providers(infra)) == used


@pytest.mark.parametrize(
    "old, new, words",
    [
        ('version = ">= 7.4.0, < 8.0.0"', 'version = ">= 6.47, < 8.0"', ("admits 6.47.0", "mount_options")),
        ('version = ">= 7.4.0, < 8.0.0"', 'version = ">= 7.3.0, < 8.0.0"', ("admits 7.3.0",)),
    ],
)
def test_catches_a_google_constraint_below_7_4(tmp_path, old, new, words):
    import shutil

    shutil.copytree(INFRA_DIR, tmp_path / "infra", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    main = tmp_path / "infra" / "main.tf"
    assert old in main.read_text()
    main.write_text(main.read_text().replace(old, new))
    problems = check_constraints(infra_model.load(tmp_path / "infra"))
    assert any(all(w in p for w in words) for p in problems), problems


def test_catches_archive_excludes_globs_under_2_5(tmp_path):
    # The configuration before issue 13: archive ~> 2.4 zipping the repository with glob excludes.
    import shutil

    shutil.copytree(INFRA_DIR, tmp_path / "infra", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    main = tmp_path / "infra" / "main.tf"
    main.write_text(main.read_text().replace(
        "  required_providers {\n",
        '  required_providers {\n    archive = {\n      source  = "hashicorp/archive"\n      version = "~> 2.4"\n    }\n',
    ))
    (tmp_path / "infra" / "source.tf").write_text(
        'data "archive_file" "source" {\n  type        = "zip"\n  source_dir  = "${path.module}/.."\n'
        '  output_path = "${path.module}/.terraform/source.zip"\n  excludes    = [".venv/**", "**/__pycache__/**"]\n}\n'
    )
    problems = check_constraints(infra_model.load(tmp_path / "infra"))
    assert any("archive '~> 2.4' admits 2.4" in p for p in problems), problems
