# The runtime environment of all services. Its one source is runtime_env.json; this file only
# adds what exists once the deployment does (bucket names, the queue, the worker's URL) and
# refuses a file that contradicts itself, so `terraform plan` stops before anything is deployed.

locals {
  runtime = jsondecode(file("${path.module}/runtime_env.json"))

  tasks_enabled = var.tasks.enabled

  # Names must match the keys of "from_terraform" in runtime_env.json (checked below and by the tests).
  terraform_env = {
    MODEL_CACHE_BUCKET              = google_storage_bucket.model_cache.name
    RESULTS_BUCKET                  = google_storage_bucket.results.name
    ALLOWED_BUCKETS                 = google_storage_bucket.uploads.name
    TASKS_QUEUE                     = local.tasks_enabled ? google_cloud_tasks_queue.chunks[0].id : ""
    TASKS_WORKER_URL                = local.tasks_enabled ? local.worker_url : ""
    TASKS_SERVICE_ACCOUNT           = local.tasks_enabled ? google_service_account.tasks[0].email : ""
    TASKS_DISPATCH_DEADLINE_SECONDS = tostring(module.plan.dispatch_deadline_seconds)
    REQUEST_TIMEOUT_SECONDS         = tostring(var.http.timeout_seconds)
    TASKS_MAX_ATTEMPTS              = tostring(var.tasks.max_attempts)
  }

  runtime_env = merge(local.runtime.env, local.terraform_env)

  # Names must match the keys of "from_secret" in runtime_env.json: Secret Manager references,
  # never values, so no secret lands in the service's configuration.
  secret_env = var.api_token_secret == null ? {} : {
    API_TOKEN = { secret = var.api_token_secret, version = var.api_token_secret_version }
  }

  cache_mount_path = local.runtime.cache_volume_mount_path
  model_cache_path = local.runtime.env.MODEL_CACHE_PATH
}

resource "terraform_data" "runtime_env_guard" {
  input = local.runtime_env

  lifecycle {
    precondition {
      condition     = toset(keys(local.terraform_env)) == toset(keys(local.runtime.from_terraform))
      error_message = "runtime_env.tf sets ${jsonencode(sort(keys(local.terraform_env)))} but runtime_env.json from_terraform names ${jsonencode(sort(keys(local.runtime.from_terraform)))}."
    }
    precondition {
      condition     = length(setsubtract(keys(local.secret_env), keys(local.runtime.from_secret))) == 0
      error_message = "runtime_env.tf reads ${jsonencode(sort(keys(local.secret_env)))} from Secret Manager but runtime_env.json from_secret names ${jsonencode(sort(keys(local.runtime.from_secret)))}."
    }
    precondition {
      condition     = length(setintersection(keys(local.runtime.env), keys(local.terraform_env))) == 0
      error_message = "A variable is both written in runtime_env.json env and injected by Terraform; keep one."
    }
    precondition {
      condition     = length(setintersection(keys(local.runtime_env), keys(local.runtime.left_to_default))) == 0
      error_message = "A variable listed in left_to_default is also set; remove it from one of the two."
    }
    precondition {
      condition = (
        trimsuffix(lookup(local.runtime.env, "HF_HOME", ""), "/") == trimsuffix(local.model_cache_path, "/") &&
        trimsuffix(lookup(local.runtime.env, "HF_HUB_CACHE", ""), "/") == "${trimsuffix(local.model_cache_path, "/")}/hub"
      )
      error_message = "HF_HOME must equal MODEL_CACHE_PATH and HF_HUB_CACHE must equal MODEL_CACHE_PATH/hub (runtime_env.json)."
    }
    precondition {
      condition = (
        trimsuffix(local.model_cache_path, "/") == trimsuffix(local.cache_mount_path, "/") ||
        startswith(local.model_cache_path, "${trimsuffix(local.cache_mount_path, "/")}/")
      )
      error_message = "MODEL_CACHE_PATH (${local.model_cache_path}) must lie under cache_volume_mount_path (${local.cache_mount_path}), or the model is cached on the instance's memory disk and lost."
    }
    precondition {
      # A branch (main) is resolved by whichever cold start downloads first: instances could serve
      # different commits. Deploy the commit: HfApi().model_info(MODEL_ID).sha prints main's.
      # Only where a service runs vlm: a CPU-only (lite) deployment never loads the model.
      condition     = length(module.plan.cache_users) == 0 || can(regex("^[0-9a-f]{40}$", lookup(local.runtime.env, "MODEL_REVISION", "")))
      error_message = "A service runs the vlm engine, so MODEL_REVISION in runtime_env.json must be a 40-character commit hash of MODEL_ID, not a branch or tag (it is ${jsonencode(lookup(local.runtime.env, "MODEL_REVISION", ""))}); see docs/model-cache.md."
    }
  }
}
