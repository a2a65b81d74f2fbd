output "uploads_bucket" {
  description = "Drop documents here to have them OCR'd."
  value       = google_storage_bucket.uploads.name
}

output "results_bucket" {
  description = "Where the on-upload function writes <RESULTS_PREFIX>/<object>/<generation>/..."
  value       = google_storage_bucket.results.name
}

output "model_cache_bucket" {
  description = "The shared HuggingFace cache, mounted in both services."
  value       = google_storage_bucket.model_cache.name
}

output "http_url" {
  description = "Base URL of the HTTP function (POST /ocr, GET /healthz, GET|POST /warmup); callers need an identity token."
  value       = google_cloud_run_v2_service.fn["http"].uri
}

output "upload_service" {
  description = "Name of the on-upload Cloud Run service."
  value       = google_cloud_run_v2_service.fn["upload"].name
}

output "service_accounts" {
  description = "Identities of the functions, the trigger and the warm-up job."
  value = {
    upload  = google_service_account.upload.email
    http    = google_service_account.http.email
    trigger = google_service_account.trigger.email
    warmup  = one(google_service_account.warmup[*].email)
    build   = google_service_account.build.email
  }
}

output "runtime_env" {
  description = "The environment both functions run with (runtime_env.json plus the bucket names)."
  value       = local.runtime_env
}
