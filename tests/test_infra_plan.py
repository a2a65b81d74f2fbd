"""infra/modules/plan under a real terraform, offline: the GPU guards, least privilege per
configuration, which image each service runs, and the small limits of issue 13.

The module has no provider and no resource, so `terraform init` needs no download and
`terraform plan` evaluates its variable validations, output preconditions and outputs exactly as
a deploy would. Each test writes a tiny root module that calls it with one configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra_model import INFRA_DIR

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="no terraform binary; infra/modules/plan needs it (no provider, no network)"
)

CPU = "us-central1-docker.pkg.dev/p/gnosis-ocr-images/cpu@sha256:" + "a" * 64
GPU = "us-central1-docker.pkg.dev/p/gnosis-ocr-images/gpu@sha256:" + "b" * 64


def sizing(**fields):
    base = {"gpu": False, "timeout_seconds": 300, "concurrency": 1, "min_instances": 0, "max_instances": 3}
    base.update(fields)
    return base


def config(**overrides):
    inputs = {
        "project_id": "my-project",
        "region": "us-central1",
        "name_prefix": "gnosis-ocr",
        "bucket_prefix": None,
        "ocr_engine": "auto",
        "tasks_enabled": True,
        "gpu_type": "nvidia-l4",
        "gpu_quota": 0,
        "image_digests": {"cpu": CPU, "gpu": GPU},
        "services": {"upload": sizing(timeout_seconds=600), "http": sizing(), "worker": sizing(timeout_seconds=1800)},
    }
    inputs.update(overrides)
    return inputs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    shutil.copytree(INFRA_DIR / "modules" / "plan", root / "plan")
    return root


def run_plan(workdir: Path, inputs: dict) -> tuple[bool, dict | str]:
    """(True, outputs) when terraform accepts the configuration, else (False, its error text)."""
    (workdir / "main.tf").write_text(
        'variable "inputs" {\n  type = any\n}\n'
        'module "plan" {\n  source = "./plan"\n'
        + "".join(f"  {key} = var.inputs.{key}\n" for key in inputs)
        + "}\n"
        'output "plan" {\n  value = module.plan\n}\n'
    )
    (workdir / "terraform.tfvars.json").write_text(json.dumps({"inputs": inputs}))
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    if not (workdir / ".terraform").exists():
        init = subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stdout + init.stderr
    for stale in workdir.glob("terraform.tfstate*"):
        stale.unlink()
    apply = subprocess.run(
        ["terraform", "apply", "-input=false", "-no-color", "-auto-approve"], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    if apply.returncode != 0:
        return False, " ".join((apply.stdout + apply.stderr).split())
    shown = subprocess.run(["terraform", "output", "-json", "plan"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    return True, json.loads(shown.stdout)


def accepted(workdir, **overrides) -> dict:
    ok, result = run_plan(workdir, config(**overrides))
    assert ok, result
    return result


def refused(workdir, *words, **overrides) -> str:
    ok, result = run_plan(workdir, config(**overrides))
    assert not ok, f"accepted: {result}"
    assert all(word in result for word in words), result
    return result


# --- GPU sizing, region and quota -------------------------------------------------------------


def test_a_gpu_with_2_cpu_and_8_gib_is_refused(workdir):
    services = config()["services"] | {"worker": sizing(gpu=True, cpu="2", memory="8Gi", timeout_seconds=1800, max_instances=1)}
    refused(workdir, "at least 4 CPU and 16Gi", services=services, gpu_quota=1)


@pytest.mark.parametrize("cpu, memory", [("2", "16Gi"), ("4", "8Gi"), ("4", "16000Mi")])
def test_a_gpu_below_either_minimum_is_refused(workdir, cpu, memory):
    services = config()["services"] | {"worker": sizing(gpu=True, cpu=cpu, memory=memory, timeout_seconds=1800, max_instances=1)}
    refused(workdir, "at least 4 CPU and 16Gi", services=services, gpu_quota=1)


def test_a_gpu_in_a_region_without_l4_is_refused(workdir):
    services = config()["services"] | {"worker": sizing(gpu=True, timeout_seconds=1800, max_instances=1)}
    refused(workdir, "region us-west2 offers no Cloud Run L4 GPU", region="us-west2", services=services, gpu_quota=1)


def test_a_gpu_beyond_the_granted_quota_is_refused(workdir):
    services = config()["services"] | {"worker": sizing(gpu=True, timeout_seconds=1800, max_instances=3)}
    refused(workdir, "gpu_quota is 2", "Total Nvidia L4 GPU allocation", services=services, gpu_quota=2)
    # The quota counts every GPU service's instances together.
    services["http"] = sizing(gpu=True, max_instances=1)
    refused(workdir, "may run 4 instances", services=services, gpu_quota=3)


def test_a_gpu_on_the_on_upload_service_with_the_queue_on_is_refused(workdir):
    services = config()["services"] | {"upload": sizing(gpu=True, timeout_seconds=600, max_instances=1)}
    refused(workdir, "does no OCR", services=services, gpu_quota=1)


def test_a_valid_gpu_worker_gets_the_minimum_size_and_the_gpu_image(workdir):
    services = config()["services"] | {"worker": sizing(gpu=True, timeout_seconds=1800, max_instances=2)}
    plan = accepted(workdir, services=services, gpu_quota=2, region="europe-west4")
    worker = plan["services"]["worker"]
    assert (worker["cpu"], worker["memory"], worker["image"], worker["runs_vlm"]) == ("4", "16Gi", GPU, True)
    assert plan["services"]["upload"]["image"] == CPU and plan["services"]["http"]["image"] == CPU
    assert plan["images_needed"] == ["cpu", "gpu"]


# --- least privilege: the model cache only where vlm runs -------------------------------------


@pytest.mark.parametrize(
    "overrides, cache_users, images",
    [
        ({}, [], ["cpu"]),  # auto, no GPU anywhere: lite everywhere, nobody touches the cache
        ({"ocr_engine": "lite"}, [], ["cpu"]),
        ({"ocr_engine": "vlm"}, ["http", "worker"], ["cpu", "gpu"]),  # upload only accepts jobs: cpu image
        ({"ocr_engine": "vlm", "tasks_enabled": False}, ["http", "upload"], ["gpu"]),
        ({"gpu_quota": 1, "services": {"upload": sizing(timeout_seconds=600), "http": sizing(),
                                       "worker": sizing(gpu=True, timeout_seconds=1800, max_instances=1)}}, ["worker"], ["cpu", "gpu"]),
        ({"gpu_quota": 1, "tasks_enabled": False, "services": {"upload": sizing(gpu=True, timeout_seconds=600, max_instances=1),
                                                               "http": sizing(), "worker": sizing()}}, ["upload"], ["cpu", "gpu"]),
    ],
    ids=["auto-cpu", "lite", "vlm-queue", "vlm-no-queue", "gpu-worker", "gpu-upload-no-queue"],
)
def test_the_model_cache_is_granted_only_where_vlm_runs(workdir, overrides, cache_users, images):
    plan = accepted(workdir, **overrides)
    assert plan["cache_users"] == cache_users
    assert sorted(k for k, s in plan["services"].items() if s["runs_vlm"]) == cache_users
    assert plan["images_needed"] == images
    for key, service in plan["services"].items():
        assert service["image"] == (GPU if key in cache_users else CPU)


def test_without_the_queue_there_is_no_worker(workdir):
    plan = accepted(workdir, tasks_enabled=False)
    assert sorted(plan["services"]) == ["http", "upload"]
    assert sorted(accepted(workdir)["services"]) == ["http", "upload", "worker"]


def test_only_the_needed_image_must_be_given(workdir):
    plan = accepted(workdir, image_digests={"cpu": CPU})
    assert plan["images_needed"] == ["cpu"]


@pytest.mark.parametrize("ref", ["us-docker.pkg.dev/cloudrun/container/hello", "us-central1-docker.pkg.dev/p/r/cpu:latest"])
def test_an_image_not_given_by_digest_is_refused(workdir, ref):
    refused(workdir, "by digest", image_digests={"cpu": ref})


# --- the smaller limits -------------------------------------------------------------------------


def test_upload_timeout_over_600_is_refused(workdir):
    services = config()["services"] | {"upload": sizing(timeout_seconds=601)}
    refused(workdir, "upload.timeout_seconds must be <= 600", services=services)
    services["upload"] = sizing(timeout_seconds=600)
    accepted(workdir, services=services)


@pytest.mark.parametrize("timeout, deadline", [(5, 15), (300, 300), (3600, 1800)])
def test_the_warmup_attempt_deadline_stays_within_15s_and_30min(workdir, timeout, deadline):
    services = config()["services"] | {"http": sizing(timeout_seconds=timeout)}
    assert accepted(workdir, services=services)["scheduler_attempt_deadline_seconds"] == deadline


def test_the_dispatch_deadline_is_the_worker_timeout_at_most_1800(workdir):
    services = config()["services"] | {"worker": sizing(timeout_seconds=900)}
    assert accepted(workdir, services=services)["dispatch_deadline_seconds"] == 900
    services["worker"] = sizing(timeout_seconds=3600)
    assert accepted(workdir, services=services)["dispatch_deadline_seconds"] == 1800


def test_a_bucket_name_over_63_characters_is_refused(workdir):
    long_project = "a-project-id-of-thirty-chars-x"  # 30, the longest project id
    refused(workdir, "at most 63 characters", "set bucket_prefix", project_id=long_project, name_prefix="a-long-name-prefix-22c")
    plan = accepted(workdir, project_id=long_project, name_prefix="a-long-name-prefix-22c", bucket_prefix="short")
    assert plan["bucket_names"]["model_cache"] == "short-model-cache"
