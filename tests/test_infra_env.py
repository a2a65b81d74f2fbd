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
    # Sanity of the model itself: the four places together are exactly the code's variables.
    accounted = set(infra.env) | set(infra.from_terraform) | set(infra.from_secret) | set(infra.left_to_default)
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
        "    ALLOWED_BUCKETS                 = google_storage_bucket.uploads.name\n",
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
    edit_tf(copy, "runtime_env.tf", "    RESULTS_BUCKET                  = google_storage_bucket.results.name\n", "")
    edit_env(copy, lambda d: d["from_terraform"].pop("RESULTS_BUCKET"))
    caught(copy, infra_model.check_trigger, "RESULTS_BUCKET is not injected")


def test_catches_retries_turned_off(copy):
    edit_tf(copy, "trigger.tf", "  destination {", "  retry_policy {\n    max_attempts = 1\n  }\n\n  destination {")
    caught(copy, infra_model.check_trigger, "turns retries off")


def test_catches_a_public_http_function(copy):
    edit_tf(copy, "iam.tf", "member   = each.value\n}", 'member   = "allUsers"\n}')
    caught(copy, infra_model.check_http_private, "allUsers")


def test_catches_a_service_account_that_does_not_wait_for_the_iam_api(copy):
    edit_tf(copy, "iam.tf", '  display_name = "gnosis-ocr: HTTP function"\n  depends_on   = [google_project_service.apis]\n',
            '  display_name = "gnosis-ocr: HTTP function"\n')
    caught(copy, infra_model.check_accounts_wait_for_iam, "google_service_account.http")


def test_catches_an_accepting_service_that_cannot_enqueue(copy):
    edit_tf(copy, "tasks.tf", 'resource "google_cloud_tasks_queue_iam_member" "enqueue" {\n  for_each = local.enqueuers',
            'resource "google_cloud_tasks_queue_iam_member" "enqueue" {\n  for_each = { worker = google_service_account.worker.member }')
    caught(copy, infra_model.check_worker_private, "roles/cloudtasks.enqueuer")


def test_catches_an_unused_data_source(copy):
    # Issue 13: data "google_project" was declared and read nowhere.
    (copy / "extra.tf").write_text('data "google_client_config" "unused" {}\n')
    caught(copy, infra_model.check_no_unused_data, "data.google_client_config.unused")


def test_catches_an_api_token_written_into_the_env_file(copy):
    edit_env(copy, lambda d: (d["from_secret"].pop("API_TOKEN"), d["env"].update(API_TOKEN="hunter2")))
    caught(copy, infra_model.check_secrets, "API_TOKEN looks like a secret")


def test_catches_a_warmup_job_without_the_api_token(copy):
    # Issue 11 item 8: the job sent only its OIDC token, and the function answered 401.
    edit_tf(
        copy, "scheduler.tf",
        'headers     = local.warmup_token ? { "X-Api-Key" = data.google_secret_manager_secret_version.api_token[0].secret_data } : {}\n',
        "",
    )
    caught(copy, infra_model.check_secrets, "X-Api-Key")


def test_catches_a_worker_others_may_invoke(copy):
    (copy / "extra.tf").write_text(
        'resource "google_cloud_run_v2_service_iam_member" "oops" {\n'
        '  name   = google_cloud_run_v2_service.fn["worker"].name\n'
        '  role   = "roles/run.invoker"\n'
        '  member = google_service_account.http.member\n}\n'
    )
    caught(copy, infra_model.check_worker_private, "only IAM member")


def test_catches_a_worker_reachable_from_the_internet(copy):
    edit_tf(
        copy, "run.tf",
        '      # Cloud Tasks in the same project counts as internal traffic; only the tasks account may invoke it.\n'
        '      ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"',
        '      ingress = "INGRESS_TRAFFIC_ALL"',
    )
    caught(copy, infra_model.check_worker_private, "INGRESS_TRAFFIC_INTERNAL_ONLY")


def test_catches_a_secret_env_written_as_a_plain_value(copy):
    edit_tf(copy, "run.tf", "          value_source {\n            secret_key_ref {\n              secret  = env.value.secret\n"
            "              version = env.value.version\n            }\n          }\n", "          value = env.value.secret\n")
    caught(copy, infra_model.check_env_wiring, "only read local.secret_env", "value_source")


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
