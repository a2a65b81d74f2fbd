"""Checks of infra/ against the code, without a terraform binary or provider downloads.

infra/runtime_env.json is the one place the functions' runtime environment is written; the
Terraform in infra/ loads it, adds the bucket names it owns and sets the result on both Cloud Run
services. This module parses that Terraform (python-hcl2) and that file, and says in plain words
what contradicts the rules below. Each ``check_*`` returns a list of problems (empty: fine), so a
test can show all of them at once, and a test on a mutated copy of infra/ can prove it catches one.

The rules:

- no ``*_OFFLINE`` variable anywhere in infra/ (huggingface's offline switches: the loader decides
  offline per call, a global switch means the model can never be downloaded);
- MODEL_CACHE_PATH, HF_HOME and HF_HUB_CACHE are set in the env file, agree (HF_HOME =
  MODEL_CACHE_PATH, HF_HUB_CACHE = MODEL_CACHE_PATH/hub) and lie under the path where the
  model-cache bucket is mounted;
- every variable the code reads (common.config.VARIABLES plus HF_HOME/HF_HUB_CACHE) is set, by the
  env file, by Terraform or from a secret, or listed in the env file's ``left_to_default`` with a reason; every
  variable set is one the code reads; none is in two of those places; Settings accepts the result;
- the services take their environment only from that merged map (no hand-written ``env`` block;
  secrets only through ``value_source``), mount the model-cache bucket (where they run vlm) at the
  env file's mount path, and are the three main.py targets;
- the upload trigger watches the uploads bucket for object finalize, with retries left on, and
  that bucket is neither the results bucket nor the model cache;
- the HTTP function is private: no public invoker, and callers are granted explicitly;
- secrets (API_TOKEN) come from Secret Manager by reference, never as a value in the env file, and
  the warm-up job sends the token in X-Api-Key when one is configured;
- the worker service (issue 12) has internal ingress and the tasks account as its only invoker,
  behind a queue with retry and rate limits.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import hcl2

from common.config import HF_CACHE_VARIABLES, VARIABLES, ConfigError, Settings

INFRA_DIR = Path(__file__).resolve().parent.parent / "infra"
ENV_FILE = "runtime_env.json"

# The cache variables must be written out in the env file, where the tests can compare them.
CACHE_VARIABLES = ("MODEL_CACHE_PATH", *HF_CACHE_VARIABLES)
FUNCTION_TARGETS = {"ocr_on_upload": "cloudevent", "ocr_http": "http", "ocr_worker": "http"}
FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}

_OFFLINE = re.compile(r"\b[A-Z0-9_]*_OFFLINE\b", re.IGNORECASE)


def code_variables() -> set[str]:
    """Every environment variable gnosis-ocr reads (besides the platform's own)."""
    return {v.name for v in VARIABLES} | set(HF_CACHE_VARIABLES)


@dataclass
class Infra:
    root: Path
    env_file: dict[str, Any]
    tf: dict[str, dict[str, Any]]  # file name -> python-hcl2 tree
    texts: dict[str, str] = field(default_factory=dict)  # every text file under root

    # --- the env file -------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        return dict(self.env_file.get("env", {}))

    @property
    def from_terraform(self) -> dict[str, str]:
        return dict(self.env_file.get("from_terraform", {}))

    @property
    def from_secret(self) -> dict[str, str]:
        return dict(self.env_file.get("from_secret", {}))

    @property
    def left_to_default(self) -> dict[str, str]:
        return dict(self.env_file.get("left_to_default", {}))

    @property
    def mount_path(self) -> str | None:
        return self.env_file.get("cache_volume_mount_path")

    def production_env(self) -> dict[str, str]:
        """The environment both services get, with placeholder bucket names for Terraform's part."""
        # Terraform injects names and URLs, and the timeouts it derives as whole seconds.
        placeholders = {
            "TASKS_QUEUE": "projects/example/locations/europe-west1/queues/example",
            "TASKS_WORKER_URL": "https://example-worker-123.europe-west1.run.app",
            "TASKS_SERVICE_ACCOUNT": "tasks@example.iam.gserviceaccount.com",
            "TASKS_MAX_ATTEMPTS": "10",
        }
        env = {name: placeholders.get(name) or ("300" if name.endswith("_SECONDS") else "example-bucket")
               for name in self.from_terraform}
        env.update({name: "example-secret" for name in self.from_secret})
        env.update(self.env)
        return env

    # --- the Terraform ------------------------------------------------------------------------
    def blocks(self, kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(type, name, body) of every ``resource`` or ``data`` block, across all files."""
        for tree in self.tf.values():
            for entry in tree.get(kind, []):
                for block_type, named in entry.items():
                    for name, body in named.items():
                        yield unquote(block_type), unquote(name), body

    def resources(self, block_type: str) -> dict[str, dict[str, Any]]:
        return {name: body for kind, name, body in self.blocks("resource") if kind == block_type}

    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for tree in self.tf.values():
            for entry in tree.get("locals", []):
                merged.update({k: v for k, v in entry.items() if not k.startswith("__")})
        return merged

    def variables(self) -> dict[str, dict[str, Any]]:
        found = {}
        for tree in self.tf.values():
            for entry in tree.get("variable", []):
                for name, body in entry.items():
                    found[unquote(name)] = body
        return found


def load(root: Path = INFRA_DIR) -> Infra:
    root = Path(root)
    env_file = json.loads((root / ENV_FILE).read_text())
    tf = {path.name: hcl2.loads(path.read_text()) for path in sorted(root.glob("*.tf"))}
    texts = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and ".terraform" not in relative.parts:
            texts[str(relative)] = path.read_text(errors="replace")
    return Infra(root=root, env_file=env_file, tf=tf, texts=texts)


# --- python-hcl2 8 values: '"text"' is a string literal, '${expr}' an expression -------------


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def expression(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return None


def _blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dynamic(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = []
    for entry in _blocks(body, "dynamic"):
        for label, content in entry.items():
            if unquote(label) == name:
                found.append(content)
    return found


def _dynamic_label(block: dict[str, Any], name: str) -> str:
    """The one name a dynamic block's for_each yields, as in ``for_each = cond ? ["model-cache"] : []``."""
    match = re.search(r'\[\s*"([^"]+)"\s*\]', expression(block.get("for_each")) or "")
    return match.group(1) if match else name


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, unquote(key)))
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, path)


def _under(path: str, mount: str) -> bool:
    path, mount = posixpath.normpath(path), posixpath.normpath(mount)
    return path == mount or path.startswith(mount.rstrip("/") + "/")


# --- the checks ----------------------------------------------------------------------------


def check_no_offline(infra: Infra) -> list[str]:
    problems = []
    for name, text in infra.texts.items():
        for lineno, line in enumerate(text.splitlines(), 1):
            for match in _OFFLINE.finditer(line):
                problems.append(f"infra/{name}:{lineno}: {match.group(0)} must never be set (the loader decides offline per call)")
    return problems


def check_cache_paths(infra: Infra) -> list[str]:
    env, mount = infra.env, infra.mount_path
    problems = [f"{name} is not set in {ENV_FILE} env" for name in CACHE_VARIABLES if not env.get(name)]
    if not mount or not str(mount).startswith("/"):
        problems.append(f"{ENV_FILE}: cache_volume_mount_path must be an absolute path, not {mount!r}")
    if problems:
        return problems
    cache = posixpath.normpath(env["MODEL_CACHE_PATH"])
    expected = {"HF_HOME": cache, "HF_HUB_CACHE": posixpath.join(cache, "hub")}
    for name, want in expected.items():
        if posixpath.normpath(env[name]) != want:
            problems.append(f"{name}={env[name]!r} disagrees with MODEL_CACHE_PATH={env['MODEL_CACHE_PATH']!r} (expected {want!r})")
    for name in CACHE_VARIABLES:
        if not _under(env[name], mount):
            problems.append(f"{name}={env[name]!r} is not under the model-cache mount {mount!r}: the cache would not be shared or kept")
    return problems


def check_variables(infra: Infra) -> list[str]:
    code = code_variables()
    places = {
        "env": set(infra.env),
        "from_terraform": set(infra.from_terraform),
        "from_secret": set(infra.from_secret),
        "left_to_default": set(infra.left_to_default),
    }
    problems = []
    for name in sorted(code - set().union(*places.values())):
        problems.append(f"{name} is read by the code but neither set ({ENV_FILE} env / from_terraform / from_secret) nor listed in left_to_default")
    for place, names in places.items():
        for name in sorted(names - code):
            problems.append(f"{ENV_FILE} {place}: {name} is not a variable the code reads (common.config.VARIABLES)")
    seen: dict[str, str] = {}
    for place, names in places.items():
        for name in sorted(names):
            if name in seen:
                problems.append(f"{name} is in both {seen[name]} and {place} of {ENV_FILE}; keep one")
            seen.setdefault(name, place)
    for name in CACHE_VARIABLES:
        if name in infra.left_to_default:
            problems.append(f"{name} may not be left to default: the cache path must be written out")
    for name, reason in infra.left_to_default.items():
        if not str(reason).strip():
            problems.append(f"{ENV_FILE} left_to_default: {name} needs a reason")
    for name, value in infra.env.items():
        if not isinstance(value, str):
            problems.append(f"{ENV_FILE} env: {name} must be a string, not {value!r}")
    if not problems:
        try:
            Settings.from_env(infra.production_env())
        except ConfigError as exc:
            problems.append(f"Settings refuses the production environment: {exc}")
    return problems


def check_env_wiring(infra: Infra) -> list[str]:
    """The services' environment is the env file plus Terraform's bucket names, and nothing else."""
    problems = []
    local = infra.locals()
    runtime = expression(local.get("runtime")) or ""
    if "jsondecode(file(" not in runtime or ENV_FILE not in runtime:
        problems.append(f"local.runtime must be jsondecode(file(\"${{path.module}}/{ENV_FILE}\")), not {local.get('runtime')!r}")
    terraform_env = local.get("terraform_env")
    if not isinstance(terraform_env, dict):
        problems.append("local.terraform_env (the bucket names Terraform injects) must be an object literal")
        terraform_env = {}
    if set(terraform_env) != set(infra.from_terraform):
        problems.append(f"local.terraform_env sets {sorted(terraform_env)} but {ENV_FILE} from_terraform names {sorted(infra.from_terraform)}")
    if expression(local.get("runtime_env")) != "merge(local.runtime.env, local.terraform_env)":
        problems.append(f"local.runtime_env must be merge(local.runtime.env, local.terraform_env), not {local.get('runtime_env')!r}")
    if expression(local.get("cache_mount_path")) != "local.runtime.cache_volume_mount_path":
        problems.append(f"local.cache_mount_path must come from {ENV_FILE} (local.runtime.cache_volume_mount_path)")

    # No environment variable is written by hand anywhere: no static env block, no other map.
    for kind, name, body in infra.blocks("resource"):
        for path, node in _walk(body):
            if path and path[-1] == "env" and isinstance(node, list) and "dynamic" not in path:
                problems.append(f"{kind}.{name}: hand-written env block; the environment comes from {ENV_FILE} only")
            if path and path[-1] in ("environment_variables", "env_vars") and "build_config" not in path:
                problems.append(f"{kind}.{name}: {path[-1]} sets runtime variables outside {ENV_FILE}")

    services = infra.resources("google_cloud_run_v2_service")
    cache_bucket = expression(terraform_env.get("MODEL_CACHE_BUCKET"))
    if not services:
        problems.append("no google_cloud_run_v2_service in infra/")
    for name, body in services.items():
        for template in _blocks(body, "template"):
            volumes = {unquote(v.get("name")): v for v in _blocks(template, "volumes")}
            if not _blocks(template, "containers"):
                problems.append(f"google_cloud_run_v2_service.{name}: write the container as a literal block, so its environment can be checked")
            for volume in _dynamic(template, "volumes"):
                for content in _blocks(volume, "content"):
                    volumes[str(content.get("name"))] = content
                    volumes[_dynamic_label(volume, "volumes")] = content
            for container in _blocks(template, "containers"):
                envs = _dynamic(container, "env")
                runtime_envs = [e for e in envs if expression(e.get("for_each")) == "local.runtime_env"]
                if len(runtime_envs) != 1:
                    problems.append(f"google_cloud_run_v2_service.{name}: the container needs exactly one dynamic \"env\" over local.runtime_env")
                for other in envs:
                    if other in runtime_envs:
                        continue
                    contents = _blocks(other, "content")
                    if "local.secret_env" not in (expression(other.get("for_each")) or "") or any(
                        "value" in c or not _blocks(c, "value_source") for c in contents
                    ):
                        problems.append(
                            f"google_cloud_run_v2_service.{name}: a dynamic \"env\" other than local.runtime_env may only "
                            f"read local.secret_env ({ENV_FILE} from_secret) through value_source"
                        )
                mounts = _blocks(container, "volume_mounts")
                for dynamic_mount in _dynamic(container, "volume_mounts"):
                    for content in _blocks(dynamic_mount, "content"):
                        content = dict(content)
                        if content.get("name") == "${volume_mounts.value}":
                            content["name"] = _dynamic_label(dynamic_mount, "volume_mounts")
                        mounts.append(content)
                cache_mounts = [
                    m for m in mounts
                    if any(expression(g.get("bucket")) == cache_bucket for g in _blocks(volumes.get(unquote(m.get("name")), {}), "gcs"))
                ]
                if not cache_mounts:
                    problems.append(f"google_cloud_run_v2_service.{name}: the model-cache bucket ({cache_bucket}) is not mounted")
                for mount in cache_mounts:
                    if expression(mount.get("mount_path")) != "local.cache_mount_path":
                        problems.append(
                            f"google_cloud_run_v2_service.{name}: the model cache is mounted at {mount.get('mount_path')!r}, "
                            f"not at local.cache_mount_path ({ENV_FILE} cache_volume_mount_path)"
                        )
    targets = {}
    functions = local.get("functions")
    for key, spec in (functions or {}).items():
        if isinstance(spec, dict):
            targets[unquote(spec.get("target"))] = unquote(spec.get("signature_type"))
    if targets != FUNCTION_TARGETS:
        problems.append(f"local.functions deploys {targets}, expected the main.py targets {FUNCTION_TARGETS}")
    return problems


def _function_key(reference: str | None) -> str | None:
    match = re.fullmatch(r'google_cloud_run_v2_service\.fn\["(\w+)"\]\.name', reference or "")
    return match.group(1) if match else None


def check_trigger(infra: Infra) -> list[str]:
    problems = []
    local = infra.locals()
    terraform_env = local.get("terraform_env") if isinstance(local.get("terraform_env"), dict) else {}
    results = expression(terraform_env.get("RESULTS_BUCKET"))
    cache = expression(terraform_env.get("MODEL_CACHE_BUCKET"))
    if results is None:
        problems.append("RESULTS_BUCKET is not injected by Terraform: results would default to the watched uploads bucket")
    triggers = infra.resources("google_eventarc_trigger")
    if len(triggers) != 1:
        problems.append(f"expected one google_eventarc_trigger, found {sorted(triggers)}")
    for name, body in triggers.items():
        criteria = {unquote(c.get("attribute")): c.get("value") for c in _blocks(body, "matching_criteria")}
        if unquote(criteria.get("type")) != FINALIZED:
            problems.append(f"google_eventarc_trigger.{name}: event type must be {FINALIZED}, not {criteria.get('type')!r}")
        bucket = expression(criteria.get("bucket"))
        if not bucket or not bucket.startswith("google_storage_bucket."):
            problems.append(f"google_eventarc_trigger.{name}: must watch a bucket of this stack, not {criteria.get('bucket')!r}")
        elif bucket in (results, cache):
            problems.append(f"google_eventarc_trigger.{name}: watches {bucket}, which is the results or model-cache bucket")
        for policy in _blocks(body, "retry_policy"):
            if policy.get("max_attempts") == 1:
                problems.append(f"google_eventarc_trigger.{name}: retry_policy max_attempts = 1 turns retries off")
        for destination in _blocks(body, "destination"):
            for run in _blocks(destination, "cloud_run_service"):
                key = _function_key(expression(run.get("service")))
                spec = (local.get("functions") or {}).get(key or "", {})
                if unquote(spec.get("target") if isinstance(spec, dict) else None) != "ocr_on_upload":
                    problems.append(f"google_eventarc_trigger.{name}: delivers to {run.get('service')!r}, not the ocr_on_upload service")
    return problems


def check_http_private(infra: Infra) -> list[str]:
    problems = []
    for kind, name, body in infra.blocks("resource"):
        if "_iam_" not in kind:
            continue
        members = body.get("members", []) if isinstance(body.get("members"), list) else []
        for member in [body.get("member"), *members]:
            if unquote(member) in PUBLIC_MEMBERS:
                problems.append(f"{kind}.{name}: grants {unquote(member)}; the functions are private")
    invokers = infra.variables().get("http_invokers", {})
    if invokers.get("default") != []:
        problems.append(f"variable http_invokers must default to [] (private by default), not {invokers.get('default')!r}")
    schedule = infra.variables().get("warmup_schedule", {})
    if schedule.get("default") is not None:
        problems.append("variable warmup_schedule must default to null (the warm-up job is off by default)")
    for name, body in infra.resources("google_cloud_scheduler_job").items():
        for target in _blocks(body, "http_target"):
            if unquote(target.get("http_method")) != "POST" or not str(target.get("uri", "")).rstrip('"').endswith("/warmup"):
                problems.append(f"google_cloud_scheduler_job.{name}: must POST .../warmup")
            if not _blocks(target, "oidc_token"):
                problems.append(f"google_cloud_scheduler_job.{name}: needs an oidc_token to call the private HTTP function")
    return problems


_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY)")


def check_secrets(infra: Infra) -> list[str]:
    """Secrets come from Secret Manager by reference; the warm-up job sends the API token too."""
    problems = []
    for name in sorted(infra.env):
        if _SECRET_NAME.search(name):
            problems.append(f"{ENV_FILE} env: {name} looks like a secret; read it from Secret Manager (from_secret), never write its value here")
    secret_env = infra.locals().get("secret_env")
    if set(infra.from_secret) and "var.api_token_secret" not in str(secret_env):
        problems.append("local.secret_env must map API_TOKEN to var.api_token_secret (runtime_env.json from_secret)")
    for name, body in infra.resources("google_cloud_scheduler_job").items():
        for target in _blocks(body, "http_target"):
            headers = str(target.get("headers", ""))
            if "API_TOKEN" in set(infra.from_secret) and not ("X-Api-Key" in headers and "api_token" in headers):
                problems.append(
                    f"google_cloud_scheduler_job.{name}: with an API token the HTTP function answers 401 to the warm-up "
                    "ping unless it sends the token in X-Api-Key (its Authorization header carries the OIDC token)"
                )
    return problems


def check_worker_private(infra: Infra) -> list[str]:
    """The worker (issue 12) is reached only by the queue: internal ingress, the tasks account as its only invoker."""
    problems = []
    worker = (infra.locals().get("functions") or {}).get("worker")
    if not isinstance(worker, dict):
        return ["local.functions has no worker service (main.ocr_worker, issue 12)"]
    if unquote(worker.get("ingress")) != "INGRESS_TRAFFIC_INTERNAL_ONLY":
        problems.append(f"the worker's ingress must be INGRESS_TRAFFIC_INTERNAL_ONLY, not {worker.get('ingress')!r}")
    invokers = []
    for kind, name, body in infra.blocks("resource"):
        if kind == "google_cloud_run_v2_service_iam_member" and 'fn["worker"]' in str(body.get("name")):
            invokers.append((name, expression(body.get("member")), unquote(body.get("role"))))
    if [(member, role) for _, member, role in invokers] != [("google_service_account.tasks[0].member", "roles/run.invoker")]:
        problems.append(f"the worker's only IAM member must be the tasks account as roles/run.invoker, found {invokers}")
    grants = {
        unquote(body.get("role")): expression(body.get("for_each"))
        for kind, _, body in infra.blocks("resource")
        if kind in ("google_cloud_tasks_queue_iam_member", "google_service_account_iam_member")
    }
    for role in ("roles/cloudtasks.enqueuer", "roles/iam.serviceAccountUser"):
        if grants.get(role) != "local.enqueuers":
            problems.append(f"{role} must be granted to every service that enqueues (for_each = local.enqueuers), found {grants.get(role)!r}")
    queues = infra.resources("google_cloud_tasks_queue")
    for name, body in queues.items():
        if not _blocks(body, "retry_config") or not _blocks(body, "rate_limits"):
            problems.append(f"google_cloud_tasks_queue.{name}: needs retry_config and rate_limits")
    if not queues:
        problems.append("no google_cloud_tasks_queue in infra/")
    return problems


def check_accounts_wait_for_iam(infra: Infra) -> list[str]:
    """A first apply on a fresh project creates service accounts only once the IAM API is on."""
    return [
        f"google_service_account.{name}: depends_on must include google_project_service.apis (the IAM API)"
        for name, body in infra.resources("google_service_account").items()
        if "google_project_service.apis" not in str(body.get("depends_on", ""))
    ]


def check_no_unused_data(infra: Infra) -> list[str]:
    """Every data source is read somewhere: an unused one still needs its API and permissions at plan."""
    tf_text = "\n".join(text for name, text in infra.texts.items() if name.endswith(".tf"))
    return [
        f"data.{kind}.{name} is declared but never used"
        for kind, name, _ in infra.blocks("data")
        if f"data.{kind}.{name}" not in tf_text
    ]


def revision_guard_pattern(infra: Infra) -> str | None:
    """The regex a plan-time precondition holds MODEL_REVISION to, if runtime_env.tf has one."""
    for _, name, body in infra.blocks("resource"):
        for lifecycle in body.get("lifecycle", []):
            for precondition in lifecycle.get("precondition", []):
                condition = str(precondition.get("condition", ""))
                match = re.search(r'regex\("((?:[^"\\]|\\.)*)",\s*lookup\(local\.runtime\.env,\s*"MODEL_REVISION"', condition)
                if match:
                    return match.group(1).replace("\\\\", "\\")
    return None


def check_model_revision_pinned(infra: Infra) -> list[str]:
    """MODEL_REVISION is a commit hash, or the deployment refuses to plan until it is one: a branch is
    resolved by whichever cold start downloads first, and instances could serve different models."""
    from common.model_layout import is_commit_hash

    revision = infra.env.get("MODEL_REVISION", "")
    if is_commit_hash(revision):
        return []
    pattern = revision_guard_pattern(infra)
    if pattern and not re.fullmatch(pattern, revision) and re.fullmatch(pattern, "0" * 40):
        return []  # terraform plan stops with the precondition's message until a commit is written
    return [f"{ENV_FILE}: MODEL_REVISION={revision!r} is not a commit hash and no precondition in runtime_env.tf "
            "refuses it at plan time"]


CHECKS = (
    check_no_offline, check_no_unused_data, check_accounts_wait_for_iam, check_cache_paths, check_variables, check_env_wiring, check_trigger, check_http_private,
    check_secrets, check_worker_private, check_model_revision_pinned,
)


def problems(infra: Infra) -> list[str]:
    return [problem for check in CHECKS for problem in check(infra)]


if __name__ == "__main__":  # python -m tests.infra_model: the same checks, from the command line
    found = problems(load())
    print("\n".join(found) or "infra/: no problems")
    raise SystemExit(1 if found else 0)
