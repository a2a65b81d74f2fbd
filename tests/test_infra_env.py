"""infra/ against the code: one environment, written once, that the code accepts.

The rules live in tests/infra_model.py. The first tests hold the real infra/ to them; the rest
break a copy of infra/ the way deploy scripts used to break, and prove each break is caught.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import infra_model
from tests.infra_model import CHECKS, INFRA_DIR


@pytest.fixture(scope="module")
def infra():
    return infra_model.load()


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_infra_passes(infra, check):
    assert check(infra) == []


def test_rules_cover_every_variable_the_code_reads(infra):
    # Sanity of the model itself: the three places together are exactly the code's variables.
    accounted = set(infra.env) | set(infra.from_terraform) | set(infra.left_to_default)
    assert accounted == infra_model.code_variables()
    assert {"HF_HOME", "HF_HUB_CACHE", "MODEL_CACHE_PATH"} <= set(infra.env)


# --- mutations: each must be caught ------------------------------------------------------


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "infra"
    shutil.copytree(INFRA_DIR, target, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    return target


def edit_env(root: Path, change) -> None:
    path = root / infra_model.ENV_FILE
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def edit_tf(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text()
    assert old in text, f"mutation target not found in {name}: {old!r}"
    path.write_text(text.replace(old, new, 1))


def caught(root: Path, check, *words: str) -> list[str]:
    found = check(infra_model.load(root))
    assert any(all(word in problem for word in words) for problem in found), found
    return found


def test_catches_an_offline_variable_in_the_env_file(copy):
    edit_env(copy, lambda d: d["env"].update(HF_HUB_OFFLINE="1"))
    caught(copy, infra_model.check_no_offline, "HF_HUB_OFFLINE")
    caught(copy, infra_model.check_variables, "HF_HUB_OFFLINE", "not a variable the code reads")


def test_catches_an_offline_variable_written_into_terraform(copy):
    edit_tf(
        copy, "run.tf",
        '      dynamic "env" {',
        '      env {\n        name  = "TRANSFORMERS_OFFLINE"\n        value = "1"\n      }\n      dynamic "env" {',
    )
    caught(copy, infra_model.check_no_offline, "run.tf", "TRANSFORMERS_OFFLINE")
    caught(copy, infra_model.check_env_wiring, "hand-written env block")


def test_catches_an_offline_variable_in_tfvars(copy):
    (copy / "terraform.tfvars").write_text('project_id = "p"\nextra = { HF_DATASETS_OFFLINE = "1" }\n')
    caught(copy, infra_model.check_no_offline, "terraform.tfvars", "HF_DATASETS_OFFLINE")


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("HF_HOME", "/cache", ("HF_HOME", "disagrees")),  # the original bug: /cache vs /cache/huggingface
        ("HF_HUB_CACHE", "/cache/huggingface", ("HF_HUB_CACHE", "disagrees")),
        ("MODEL_CACHE_PATH", "/cache/hf", ("disagrees with MODEL_CACHE_PATH",)),
    ],
)
def test_catches_cache_paths_that_disagree(copy, name, value, words):
    edit_env(copy, lambda d: d["env"].update({name: value}))
    caught(copy, infra_model.check_cache_paths, *words)


def test_catches_a_cache_outside_the_mounted_volume(copy):
    edit_env(copy, lambda d: d.update(cache_volume_mount_path="/models"))
    caught(copy, infra_model.check_cache_paths, "not under the model-cache mount")


def test_catches_a_cache_path_left_unset(copy):
    edit_env(copy, lambda d: d["env"].pop("HF_HOME"))
    caught(copy, infra_model.check_cache_paths, "HF_HOME is not set")
    caught(copy, infra_model.check_variables, "HF_HOME is read by the code")


def test_catches_a_variable_neither_set_nor_left_to_default(copy):
    edit_env(copy, lambda d: d["left_to_default"].pop("MAX_PAGES"))
    caught(copy, infra_model.check_variables, "MAX_PAGES is read by the code")


def test_catches_a_variable_the_code_does_not_read(copy):
    edit_env(copy, lambda d: d["env"].update(MODEL_CACHE_DIR="/cache/huggingface"))
    caught(copy, infra_model.check_variables, "MODEL_CACHE_DIR", "not a variable the code reads")


def test_catches_a_variable_written_twice(copy):
    edit_env(copy, lambda d: d["env"].update(MAX_PAGES="100"))
    caught(copy, infra_model.check_variables, "MAX_PAGES is in both")


def test_catches_a_value_the_code_refuses(copy):
    edit_env(copy, lambda d: d["env"].update(OCR_ENGINE="gpu"))
    caught(copy, infra_model.check_variables, "Settings refuses", "OCR_ENGINE")


def test_catches_terraform_injecting_a_variable_the_env_file_does_not_name(copy):
    edit_tf(
        copy, "runtime_env.tf",
        "    ALLOWED_BUCKETS    = google_storage_bucket.uploads.name\n",
        "    ALLOWED_BUCKETS    = google_storage_bucket.uploads.name\n    HF_HOME = \"/cache\"\n",
    )
    caught(copy, infra_model.check_env_wiring, "local.terraform_env sets")


def test_catches_the_cache_mounted_at_a_hand_written_path(copy):
    edit_tf(copy, "run.tf", "mount_path = local.cache_mount_path", 'mount_path = "/cache/huggingface/hub"')
    caught(copy, infra_model.check_env_wiring, "model cache is mounted at")


def test_catches_a_trigger_on_the_results_bucket(copy):
    edit_tf(
        copy, "trigger.tf",
        "value     = google_storage_bucket.uploads.name",
        "value     = google_storage_bucket.results.name",
    )
    caught(copy, infra_model.check_trigger, "results or model-cache bucket")


def test_catches_results_defaulting_to_the_watched_bucket(copy):
    edit_tf(copy, "runtime_env.tf", "    RESULTS_BUCKET     = google_storage_bucket.results.name\n", "")
    edit_env(copy, lambda d: d["from_terraform"].pop("RESULTS_BUCKET"))
    caught(copy, infra_model.check_trigger, "RESULTS_BUCKET is not injected")


def test_catches_retries_turned_off(copy):
    edit_tf(copy, "trigger.tf", "  destination {", "  retry_policy {\n    max_attempts = 1\n  }\n\n  destination {")
    caught(copy, infra_model.check_trigger, "turns retries off")


def test_catches_a_public_http_function(copy):
    edit_tf(copy, "iam.tf", "member   = each.value\n}", 'member   = "allUsers"\n}')
    caught(copy, infra_model.check_http_private, "allUsers")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary (CI has none); the checks above do not need it")
def test_terraform_fmt():
    # fmt needs no providers, so it runs wherever a terraform binary does: syntax and layout.
    run = subprocess.run(["terraform", "fmt", "-check", "-diff", "."], cwd=INFRA_DIR, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_branch_as_model_revision_is_refused_at_plan_time(infra):
    # The shipped runtime_env.json names a branch until an operator writes the commit to deploy;
    # the precondition in runtime_env.tf is what stops `terraform plan`, and it refuses branch names.
    pattern = infra_model.revision_guard_pattern(infra)
    assert pattern, "runtime_env.tf has no precondition on MODEL_REVISION"
    for refused in ("main", "v1.0", "refs/pr/1", "0" * 39, "A" * 40):
        assert not re.fullmatch(pattern, refused), refused
    assert re.fullmatch(pattern, "3baa2d7e4f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c")


def test_catches_a_branch_revision_with_the_guard_removed(copy):
    text = (copy / "runtime_env.tf").read_text()
    start = text.index("    precondition {\n      # A branch (main)")
    end = text.index("    }\n", start) + len("    }\n")
    (copy / "runtime_env.tf").write_text(text[:start] + text[end:])
    caught(copy, infra_model.check_model_revision_pinned, "MODEL_REVISION='main'", "not a commit hash")


def test_a_commit_hash_needs_no_guard(copy):
    edit_env(copy, lambda d: d["env"].update(MODEL_REVISION="3baa2d7e4f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c"))
    assert infra_model.check_model_revision_pinned(infra_model.load(copy)) == []
