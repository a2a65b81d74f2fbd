"""The images: built from this repository, deployed by digest, a CPU image without torch and a GPU
image whose torch runs on Cloud Run's L4 driver (infra/README.md, "The images")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests import image_sets, infra_model
from tests.image_sets import CPU_SET, GPU_ONLY, GPU_SET, ROOT, VLM_SET
from tests.infra_model import INFRA_DIR, expression

PLACEHOLDER = "us-docker.pkg.dev/cloudrun/container/hello"
# Cloud Run's L4: NVIDIA driver 535.x, CUDA 12.2 (Cloud Run "GPU support for services"). CUDA
# minor-version compatibility runs any 12.x build on it; a CUDA 13 build needs driver >= 580.
DRIVER_CUDA_MAJOR = 12


@pytest.fixture(scope="module")
def infra():
    return infra_model.load()


# --- Terraform deploys what was built ------------------------------------------------------------


def test_no_service_runs_the_placeholder_or_a_literal_image(infra):
    assert not any(PLACEHOLDER in text for text in infra.texts.values()), "the placeholder hello image is still named in infra/"
    services = infra.resources("google_cloud_run_v2_service")
    assert services
    for name, body in services.items():
        for template in body.get("template", []):
            for container in template.get("containers", []):
                # The image is the digest modules/plan chose for this service, never a literal.
                assert expression(container.get("image")) == "each.value.image", (name, container.get("image"))
        assert "build_config" not in body, f"{name}: build_config starts no build; the image must be built and passed by digest"
        assert "base_image_uri" not in str(body), f"{name}: base_image_uri applies only to images built for automatic base-image updates"
        for lifecycle in body.get("lifecycle", []):
            assert "image" not in str(lifecycle.get("ignore_changes", "")), f"{name}: ignoring image changes keeps an old image running"


def test_the_images_come_from_this_repository_by_digest():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S))
    assert set(stages) == {"base", "cpu", "gpu"}, sorted(stages)
    assert re.findall(r"pip install -r (\S+)", stages["cpu"]) == ["requirements.txt"]
    assert re.findall(r"pip install -r (\S+)", stages["gpu"]) == ["requirements-gpu.txt"]
    for stage in ("cpu", "gpu"):
        copied = set(re.findall(r"^COPY (\S+)", stages[stage], re.M))
        assert {"main.py", "functions/", "common/"} <= copied, (stage, copied)
        assert 'ENTRYPOINT ["functions-framework"]' in stages[stage]
    cloudbuild = (ROOT / "cloudbuild.yaml").read_text()
    assert '"--target", "${_TARGET}"' in cloudbuild and '"${_IMAGE}"' in cloudbuild
    deploy = (INFRA_DIR / "deploy.sh").read_text()
    assert "gcloud builds submit" in deploy and "images.auto.tfvars.json" in deploy


def test_each_service_passes_its_own_functions_framework_target(infra):
    body = infra.resources("google_cloud_run_v2_service")["fn"]
    args = body["template"][0]["containers"][0]["args"]
    assert args == ['"--target=${each.value.target}"', '"--signature-type=${each.value.signature_type}"']
    targets = {infra_model.unquote(spec["target"]) for spec in infra.locals()["functions"].values()}
    import main

    assert targets == {"ocr_on_upload", "ocr_http", "ocr_worker"}
    assert all(callable(getattr(main, target, None)) for target in targets)


# --- the requirement sets ------------------------------------------------------------------------


def test_the_cpu_set_keeps_torch_and_transformers_out():
    cpu = image_sets.closure(CPU_SET)
    assert {"rapidocr", "onnxruntime", "functions-framework", "google-cloud-storage"} <= set(cpu)
    leaked = sorted(name for name in cpu if GPU_ONLY.match(name))
    assert leaked == [], f"requirements.txt pulls {leaked} into the CPU image"


def test_the_cpu_image_is_a_fraction_of_the_gpu_one():
    # Installed here, the GPU set's torch is the CPU build, far smaller than the CUDA one the
    # GPU image gets: the GPU figure is a lower bound, so the ratio only overstates the CPU share.
    cpu = image_sets.installed_bytes(image_sets.closure(CPU_SET))
    gpu_lower_bound = image_sets.installed_bytes(image_sets.closure(VLM_SET))
    print(f"installed: cpu set {cpu / 2**20:.0f} MB, vlm set with CPU torch {gpu_lower_bound / 2**20:.0f} MB")
    assert cpu < 0.5 * gpu_lower_bound, (cpu, gpu_lower_bound)


def test_the_vlm_set_is_the_cpu_set_plus_the_engine():
    cpu_pins, _ = image_sets.read_set(CPU_SET)
    vlm_pins, _ = image_sets.read_set(VLM_SET)
    assert cpu_pins.items() <= vlm_pins.items()
    assert {"torch", "transformers", "tokenizers", "safetensors", "huggingface-hub"} <= set(vlm_pins)
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^-r requirements-vlm\.txt$", dev, re.M), "the test suite needs the vlm engine's packages"


def test_the_gpu_set_pins_a_cuda_build_that_runs_on_cloud_runs_l4_driver():
    gpu_pins, options = image_sets.read_set(GPU_SET)
    vlm_pins, _ = image_sets.read_set(VLM_SET)
    match = re.fullmatch(r"(\d+\.\d+\.\d+)\+cu(\d\d)(\d)", gpu_pins["torch"])
    assert match, f"requirements-gpu.txt must pin torch's CUDA build (torch==X+cuNNN), not {gpu_pins['torch']!r}"
    release, cuda_major, cuda_minor = match.group(1), int(match.group(2)), int(match.group(3))
    assert release == vlm_pins["torch"], "the GPU image and the tests must run the same torch release"
    assert cuda_major == DRIVER_CUDA_MAJOR, f"CUDA {cuda_major}.{cuda_minor} does not run on the L4's driver (CUDA {DRIVER_CUDA_MAJOR}.x)"
    assert f"--extra-index-url https://download.pytorch.org/whl/cu{cuda_major}{cuda_minor}" in options
    # Everything else is the vlm set unchanged.
    assert {k: v for k, v in gpu_pins.items() if k != "torch"} == {k: v for k, v in vlm_pins.items() if k != "torch"}
    readme = (INFRA_DIR / "README.md").read_text()
    assert "535" in readme and "CUDA 12.2" in readme and f"cu{cuda_major}{cuda_minor}" in readme


def test_every_runtime_import_of_the_cpu_image_is_in_its_set():
    """`main.py ocr samples/sample.pdf` with the lite engine, in a process that can import only
    the standard library, this repository and what requirements.txt installs: the CPU image's
    virtualenv, without building it."""
    allowed = sorted(image_sets.top_level_modules(set(image_sets.closure(CPU_SET))))
    blocker = textwrap.dedent(
        """
        import importlib.abc, json, runpy, sys
        allowed = set(json.loads(sys.argv.pop(1))) | set(sys.stdlib_module_names) | {"main", "common", "functions"}

        class OnlyTheCpuSet(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                top = name.partition(".")[0]
                if top not in allowed and not top.startswith("_"):
                    raise ModuleNotFoundError(f"No module named {top!r} (not in the CPU image)", name=top)
                return None

        sys.meta_path.insert(0, OnlyTheCpuSet())
        try:
            runpy.run_path("main.py", run_name="__main__")
        finally:
            heavy = sorted(m for m in sys.modules if m.partition(".")[0] in ("torch", "transformers"))
            print("HEAVY:" + json.dumps(heavy), file=sys.stderr)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCR_", "MODEL_"))}
    env["OCR_ENGINE"] = "lite"
    run = subprocess.run(
        [sys.executable, "-c", blocker, json.dumps(allowed), "ocr", "samples/sample.pdf", "--format", "text"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.stdout.split()) > 20, run.stdout
    assert "HEAVY:[]" in run.stderr


def test_the_blocker_would_catch_a_missing_package():
    # The same harness, with numpy taken out of the set: the lite engine cannot start.
    allowed = sorted(image_sets.top_level_modules(set(image_sets.closure(CPU_SET))) - {"numpy"})
    code = (
        "import importlib.abc, json, sys\n"
        "allowed = set(json.loads(sys.argv[1])) | set(sys.stdlib_module_names)\n"
        "class B(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] not in allowed: raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, B())\n"
        "import numpy\n"
    )
    run = subprocess.run([sys.executable, "-c", code, json.dumps(allowed)], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "ModuleNotFoundError" in run.stderr
