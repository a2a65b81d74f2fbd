# One identity per service, each holding only what its handler does:
#   upload: read uploads; write results (job records, and pages when it OCRs in-process)
#   http:   read uploads (gs:// requests, limited to it by ALLOWED_BUCKETS); with the queue, write
#           results too (POST /jobs stores the document and the job record, GET /jobs reads them)
#   worker: read uploads; write results (pages, document.md, result.json)
# and the model cache only where the service runs the vlm engine (module.plan.cache_users).
# No project-level roles. objectUser = get/list/create/update/delete objects, no IAM or bucket admin.
# Service accounts wait for the IAM API: on a fresh project the first apply would otherwise race it.

resource "google_service_account" "upload" {
  account_id   = "${local.name_prefix}-upload"
  display_name = "gnosis-ocr: on-upload function"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "http" {
  account_id   = "${local.name_prefix}-http"
  display_name = "gnosis-ocr: HTTP function"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "worker" {
  account_id   = "${local.name_prefix}-worker"
  display_name = "gnosis-ocr: worker (chunk and callback tasks)"
  depends_on   = [google_project_service.apis]
}

locals {
  runtime_members = {
    upload = google_service_account.upload.member
    http   = google_service_account.http.member
    worker = google_service_account.worker.member
  }
  # Only the deployed services' accounts get data access.
  deployed_members = { for key in keys(module.plan.services) : key => local.runtime_members[key] }
  results_writers  = { for key, member in local.deployed_members : key => member if key != "http" || local.tasks_enabled }
}

resource "google_storage_bucket_iam_member" "uploads_read" {
  for_each = local.deployed_members

  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

resource "google_storage_bucket_iam_member" "results_write" {
  for_each = local.results_writers

  bucket = google_storage_bucket.results.name
  # Not objectCreator: retries read result.json and per-page checkpoints, and overwrite claims.
  role   = "roles/storage.objectUser"
  member = each.value
}

resource "google_storage_bucket_iam_member" "cache_rw" {
  for_each = toset(module.plan.cache_users)

  bucket = google_storage_bucket.model_cache.name
  # Whichever instance misses first downloads the model into the mount and takes the lock object.
  role   = "roles/storage.objectUser"
  member = local.runtime_members[each.key]
}

# The HTTP function is private: only these members (and the warm-up job, scheduler.tf) may call it.
resource "google_cloud_run_v2_service_iam_member" "http_invokers" {
  for_each = toset(var.http_invokers)

  name     = google_cloud_run_v2_service.fn["http"].name
  location = google_cloud_run_v2_service.fn["http"].location
  role     = "roles/run.invoker"
  member   = each.value
}

# API_TOKEN: only the HTTP service reads it, and only this one secret.
resource "google_secret_manager_secret_iam_member" "http_reads_token" {
  count = var.api_token_secret == null ? 0 : 1

  project   = var.project_id
  secret_id = var.api_token_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.http.member

  depends_on = [google_project_service.apis]
}
