# Optional warm-up: a Cloud Scheduler job POSTs /warmup on the HTTP function with an OIDC token,
# so an instance loads the model before users arrive. Off unless var.warmup_schedule is set.

locals {
  warmup_enabled = var.warmup_schedule != null
}

resource "google_service_account" "warmup" {
  count = local.warmup_enabled ? 1 : 0

  account_id   = "${local.name_prefix}-warmup"
  display_name = "gnosis-ocr: Cloud Scheduler warm-up pings"
}

resource "google_cloud_run_v2_service_iam_member" "warmup_invokes_http" {
  count = local.warmup_enabled ? 1 : 0

  name     = google_cloud_run_v2_service.fn["http"].name
  location = google_cloud_run_v2_service.fn["http"].location
  role     = "roles/run.invoker"
  member   = google_service_account.warmup[0].member
}

resource "google_cloud_scheduler_job" "warmup" {
  count = local.warmup_enabled ? 1 : 0

  name      = "${local.name_prefix}-warmup"
  region    = var.region
  schedule  = var.warmup_schedule
  time_zone = var.warmup_time_zone
  # Scheduler allows at most 30 minutes; a cold model load may need all of the HTTP timeout.
  attempt_deadline = "${min(var.http.timeout_seconds, 1800)}s"

  retry_config {
    # A missed ping is not worth a retry: the next one comes on schedule.
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.fn["http"].uri}/warmup"

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
