# One identity per function, each holding only what its handler does:
#   upload: read uploads, write results, read/write the model cache
#   http:   read uploads (gs:// requests, limited to it by ALLOWED_BUCKETS), read/write the model cache
# No project-level roles. objectUser = get/list/create/update/delete objects, no IAM or bucket admin.

resource "google_service_account" "upload" {
  account_id   = "${local.name_prefix}-upload"
  display_name = "gnosis-ocr: on-upload function"
}

resource "google_service_account" "http" {
  account_id   = "${local.name_prefix}-http"
  display_name = "gnosis-ocr: HTTP function"
}

resource "google_storage_bucket_iam_member" "uploads_read" {
  for_each = {
    upload = google_service_account.upload.member
    http   = google_service_account.http.member
  }

  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

resource "google_storage_bucket_iam_member" "results_write" {
  bucket = google_storage_bucket.results.name
  # Not objectCreator: retries read result.json and per-page checkpoints, and overwrite claims.
  role   = "roles/storage.objectUser"
  member = google_service_account.upload.member
}

resource "google_storage_bucket_iam_member" "cache_rw" {
  for_each = {
    upload = google_service_account.upload.member
    http   = google_service_account.http.member
  }

  bucket = google_storage_bucket.model_cache.name
  # Whichever instance misses first downloads the model into the mount and takes the lock object.
  role   = "roles/storage.objectUser"
  member = each.value
}

# The HTTP function is private: only these members (and the warm-up job, scheduler.tf) may call it.
resource "google_cloud_run_v2_service_iam_member" "http_invokers" {
  for_each = toset(var.http_invokers)

  name     = google_cloud_run_v2_service.fn["http"].name
  location = google_cloud_run_v2_service.fn["http"].location
  role     = "roles/run.invoker"
  member   = each.value
}
