# Issue 12's fan-out: accepting a job (an upload event, or POST /jobs) enqueues one task per chunk
# of pages on this queue; each task is an HTTP POST to the private worker service
# (<TASKS_WORKER_URL>/tasks/chunk or /tasks/callback) with an OIDC token of the tasks account.
# The queue owns retries with backoff and the rate limits that bound how many worker instances
# OCR at once; each task's dispatch deadline is TASKS_DISPATCH_DEADLINE_SECONDS (runtime_env.tf).
# Off with tasks.enabled = false: no queue, no worker, chunks run in-process in on-upload.

resource "google_cloud_tasks_queue" "chunks" {
  count = local.tasks_enabled ? 1 : 0

  name     = "${local.name_prefix}-chunks"
  location = var.region

  rate_limits {
    # Together these bound the worker instances busy at once (worker concurrency 1 by default).
    max_dispatches_per_second = var.tasks.max_dispatches_per_second
    max_concurrent_dispatches = var.tasks.max_concurrent_dispatches
  }

  retry_config {
    # A chunk that crashed resumes at its first missing page; one on its last attempt records its
    # unfinished pages as failed (TASKS_MAX_ATTEMPTS is this same value), so the job still ends.
    # No max_retry_duration: a task given up on by age would never know it had its last attempt.
    max_attempts  = var.tasks.max_attempts
    min_backoff   = "${var.tasks.min_backoff_seconds}s"
    max_backoff   = "${var.tasks.max_backoff_seconds}s"
    max_doublings = 5
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.apis]
}

# The identity the queue signs each task's OIDC token as: the worker's only invoker.
resource "google_service_account" "tasks" {
  count = local.tasks_enabled ? 1 : 0

  account_id   = "${local.name_prefix}-tasks"
  display_name = "gnosis-ocr: Cloud Tasks delivery to the worker"
  depends_on   = [google_project_service.apis]
}

resource "google_cloud_run_v2_service_iam_member" "tasks_invoke_worker" {
  count = local.tasks_enabled ? 1 : 0

  name     = google_cloud_run_v2_service.fn["worker"].name
  location = google_cloud_run_v2_service.fn["worker"].location
  role     = "roles/run.invoker"
  member   = google_service_account.tasks[0].member
}

locals {
  # Who creates tasks: the accepting services (upload, http) for chunks, the worker for callbacks.
  enqueuers = local.tasks_enabled ? local.deployed_members : {}
}

resource "google_cloud_tasks_queue_iam_member" "enqueue" {
  for_each = local.enqueuers

  name     = google_cloud_tasks_queue.chunks[0].name
  location = google_cloud_tasks_queue.chunks[0].location
  role     = "roles/cloudtasks.enqueuer"
  member   = each.value
}

# Creating a task that carries the tasks account's OIDC token needs actAs on that account.
resource "google_service_account_iam_member" "enqueuers_act_as_tasks" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks[0].name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
