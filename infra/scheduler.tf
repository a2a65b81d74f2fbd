# Optional warm-up: a Cloud Scheduler job POSTs /warmup on the HTTP function with an OIDC token,
# so an instance loads the model before users arrive. Off unless var.warmup_schedule is set.
# With an API token (var.api_token_secret) the job also sends it in X-Api-Key: the Authorization
# header carries the OIDC token that Cloud Run checks, so the function reads X-Api-Key first.

locals {
  warmup_enabled = var.warmup_schedule != null
  warmup_token   = local.warmup_enabled && var.api_token_secret != null
}

resource "google_service_account" "warmup" {
  count = local.warmup_enabled ? 1 : 0

  account_id   = "${local.name_prefix}-warmup"
  display_name = "gnosis-ocr: Cloud Scheduler warm-up pings"
  depends_on   = [google_project_service.apis]
}

resource "google_cloud_run_v2_service_iam_member" "warmup_invokes_http" {
  count = local.warmup_enabled ? 1 : 0

  name     = google_cloud_run_v2_service.fn["http"].name
  location = google_cloud_run_v2_service.fn["http"].location
  role     = "roles/run.invoker"
  member   = google_service_account.warmup[0].member
}

# Cloud Scheduler has no secret references for headers: the token is read here, at apply time,
# and stored in the job (and in Terraform's state, which must be guarded like the secret). Rotate
# the secret, then apply again.
data "google_secret_manager_secret_version" "api_token" {
  count = local.warmup_token ? 1 : 0

  project = var.project_id
  secret  = var.api_token_secret
  version = var.api_token_secret_version
}

resource "google_cloud_scheduler_job" "warmup" {
  count = local.warmup_enabled ? 1 : 0

  name      = "${local.name_prefix}-warmup"
  region    = var.region
  schedule  = var.warmup_schedule
  time_zone = var.warmup_time_zone
  # Scheduler accepts 15 s to 30 min; a cold model load may need all of the HTTP timeout.
  attempt_deadline = "${module.plan.scheduler_attempt_deadline_seconds}s"

  retry_config {
    # A missed ping is not worth a retry: the next one comes on schedule.
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.fn["http"].uri}/warmup"
    headers     = local.warmup_token ? { "X-Api-Key" = data.google_secret_manager_secret_version.api_token[0].secret_data } : {}

    oidc_token {
      service_account_email = google_service_account.warmup[0].email
      audience              = google_cloud_run_v2_service.fn["http"].uri
    }
  }

  depends_on = [
    google_project_service.apis,
    google_cloud_run_v2_service_iam_member.warmup_invokes_http,
  ]
}
