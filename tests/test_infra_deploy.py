"""infra/deploy.sh: a redeploy of unchanged code builds nothing and deploys the same digests; a
changed source file builds new images. gcloud and terraform are stand-ins on PATH here (no
machine of this project reaches Google Cloud): each logs its arguments, the gcloud one keeps a
registry of built images in a folder, as Artifact Registry would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.image_sets import ROOT

TERRAFORM = r"""#!/usr/bin/env bash
echo "terraform $*" >> "$STUB_LOG"
if [[ "$1" == console ]]; then
  expr="$(cat)"
  case "$expr" in
    var.project_id) echo '"my-project"' ;;
    var.region) echo '"us-central1"' ;;
    format*) echo '"us-central1-docker.pkg.dev/my-project/gnosis-ocr-images"' ;;
    google_service_account.build.id) echo '"projects/my-project/serviceAccounts/b@x"' ;;
    google_storage_bucket.build.name) echo '"my-build"' ;;
    *images_needed*) echo "\"$STUB_IMAGES_NEEDED\"" ;;
    *) echo "unexpected console expression: $expr" >&2; exit 1 ;;
  esac
elif [[ "$1" == apply && "$*" != *-target* ]]; then
  cp images.auto.tfvars.json "$STUB_REGISTRY/deployed-$(date +%s%N).json"
fi
"""

GCLOUD = r"""#!/usr/bin/env bash
echo "gcloud $*" >> "$STUB_LOG"
if [[ "$1 $2 $3 $4" == "artifacts docker images describe" ]]; then
  key="$(echo "$5" | tr '/:' '__')"
  [[ -f "$STUB_REGISTRY/$key" ]] || { echo "not found" >&2; exit 1; }
  cat "$STUB_REGISTRY/$key"
elif [[ "$1 $2" == "builds submit" ]]; then
  for arg in "$@"; do
    case "$arg" in --substitutions=*) image="${arg#*_IMAGE=}" ;; esac
  done
  key="$(echo "$image" | tr '/:' '__')"
  echo "sha256:$(echo "$image $RANDOM $RANDOM" | sha256sum | cut -c1-64)" > "$STUB_REGISTRY/$key"
fi
"""


@pytest.fixture
def checkout(tmp_path):
    """A copy of what deploy.sh reads: the build inputs and infra/deploy.sh."""
    target = tmp_path / "repo"
    for name in ("Dockerfile", ".dockerignore", "cloudbuild.yaml", "requirements.txt", "requirements-vlm.txt",
                 "requirements-gpu.txt", "main.py"):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    for folder in ("functions", "common"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "infra").mkdir()
    shutil.copy2(ROOT / "infra" / "deploy.sh", target / "infra" / "deploy.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("terraform", TERRAFORM), ("gcloud", GCLOUD)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    registry = tmp_path / "registry"
    registry.mkdir()
    return target, bin_dir, registry, tmp_path / "calls.log"


def deploy(checkout, needed="cpu"):
    target, bin_dir, registry, log = checkout
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log), "STUB_REGISTRY": str(registry),
           "STUB_IMAGES_NEEDED": needed}
    run = subprocess.run(["bash", "infra/deploy.sh", "-auto-approve"], cwd=target, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    calls = log.read_text().splitlines()
    digests = json.loads((target / "infra" / "images.auto.tfvars.json").read_text())["image_digests"]
    return calls, digests


def builds(calls):
    return [c for c in calls if c.startswith("gcloud builds submit")]


def test_unchanged_code_builds_nothing_and_deploys_the_same_digests(checkout):
    calls, first = deploy(checkout)
    assert len(builds(calls)) == 1 and "_TARGET=cpu" in builds(calls)[0]
    assert set(first) == {"cpu"} and "@sha256:" in first["cpu"]
    # bootstrap apply (targeted), then the full apply with the digests
    applies = [c for c in calls if c.startswith("terraform apply")]
    assert len(applies) == 2 and "-target=google_artifact_registry_repository.images" in applies[0] and "-target" not in applies[1]
    calls, again = deploy(checkout)
    assert builds(calls) == [] and again == first


def test_a_changed_source_file_builds_and_deploys_new_images(checkout):
    _, first = deploy(checkout)
    target = checkout[0]
    (target / "common" / "pipeline.py").write_text((target / "common" / "pipeline.py").read_text() + "\n# changed\n")
    calls, second = deploy(checkout)
    assert len(builds(calls)) == 1 and second["cpu"] != first["cpu"]


def test_the_gpu_image_is_built_only_when_a_service_needs_it(checkout):
    calls, digests = deploy(checkout, needed="cpu gpu")
    assert sorted(c.split("_TARGET=")[1].split(",")[0] for c in builds(calls)) == ["cpu", "gpu"]
    assert set(digests) == {"cpu", "gpu"} and digests["gpu"].split("@")[0].endswith("/gpu")
