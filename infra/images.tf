# The two images the services run are built from this repository by Cloud Build (../Dockerfile,
# ../cloudbuild.yaml), pushed here, and deployed by digest: infra/deploy.sh builds them and passes
# their digests in var.image_digests. Terraform builds nothing itself (a Cloud Run service's
# build_config is metadata only and starts no build).

resource "google_artifact_registry_repository" "images" {
  repository_id = "${local.name_prefix}-images"
  location      = var.region
  format        = "DOCKER"
  description   = "gnosis-ocr images (cpu: lite engine; gpu: torch for the L4) built from this repository"
  labels        = local.labels

  # The gpu image is several GB; keep a few of each for rollback, not all of them.
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

# Cloud Build runs as this account, not as the project's default build account (which holds
# broad project roles).
resource "google_service_account" "build" {
  account_id   = "${local.name_prefix}-build"
  display_name = "gnosis-ocr: builds the images"

  depends_on = [google_project_service.apis]
}

# gcloud builds submit stages the source here; the build reads it.
resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.build.name
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
