output "uploads_bucket" {
  description = "Drop documents here to have them OCR'd."
  value       = google_storage_bucket.uploads.name
}

output "results_bucket" {
  description = "Where the on-upload function writes <RESULTS_PREFIX>/<object>/<generation>/..."
  value       = google_storage_bucket.results.name
}

output "model_cache_bucket" {
  description = "The shared HuggingFace cache, mounted in the services that run vlm."
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

output "worker_url" {
  description = "URL of the private worker service (TASKS_WORKER_URL); null without the queue."
  value       = local.tasks_enabled ? local.worker_url : null
}

output "tasks_queue" {
  description = "The Cloud Tasks queue (TASKS_QUEUE); null without the queue."
  value       = one(google_cloud_tasks_queue.chunks[*].id)
}

output "images" {
  description = "The image (by digest) each service runs."
  value       = { for key, service in local.services : key => service.image }
}

output "image_repository" {
  description = "Artifact Registry path the images are pushed to (infra/deploy.sh)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "build_bucket" {
  description = "Where gcloud builds submit stages the source (infra/deploy.sh)."
  value       = google_storage_bucket.build.name
}

output "service_accounts" {
  description = "Identities of the services, the trigger, the queue, the warm-up job and the build."
  value = {
    upload  = google_service_account.upload.email
    http    = google_service_account.http.email
    worker  = google_service_account.worker.email
    tasks   = one(google_service_account.tasks[*].email)
    trigger = google_service_account.trigger.email
    warmup  = one(google_service_account.warmup[*].email)
    build   = google_service_account.build.email
  }
}

output "runtime_env" {
  description = "The environment the services run with (runtime_env.json plus what Terraform injects)."
  value       = local.runtime_env
}
