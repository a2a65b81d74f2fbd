# The functions are built from this repository by Cloud Run's source build (Google Cloud's Python
# buildpack + functions-framework), the same way `gcloud run deploy --source . --function T` does.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.terraform/gnosis-ocr-source.zip"
  # Only what the runtime needs: main.py, functions/, common/, requirements.txt.
  excludes = [
    ".git",
    ".git/**",
    ".venv/**",
    ".venv-tools/**",
    "infra/**",
    "tests/**",
    "bench/**",
    "out/**",
    "**/__pycache__/**",
    "**/*.pyc",
    ".pytest_cache/**",
  ]
}

resource "google_storage_bucket_object" "source" {
  # Named by content so that a changed repository means a new object, hence a new build.
  name   = "gnosis-ocr-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_artifact_registry_repository" "images" {
  repository_id = "${local.name_prefix}-images"
  location      = var.region
  format        = "DOCKER"
  description   = "Function images built from the gnosis-ocr source"
  labels        = local.labels

  # Every deploy adds a multi-GB image (torch); keep a few for rollback, not all of them.
  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.images_to_keep
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "604800s"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  account_id   = "${local.name_prefix}-build"
  display_name = "gnosis-ocr: builds the function images"
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build_pushes_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# Build logs are written at project level; there is no narrower place to grant it.
resource "google_project_iam_member" "build_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}
