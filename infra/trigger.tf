# Object finalize on the uploads bucket -> the on-upload service, through Eventarc.
# Retries are on: no retry_policy is set, so Eventarc's Pub/Sub subscription redelivers with
# exponential backoff (10 s to 600 s) for 24 hours. (retry_policy.max_attempts can only be 1,
# which would turn them off.) The handler acknowledges documents that can never succeed and
# raises on transient faults, so only the latter come back.

resource "google_service_account" "trigger" {
  account_id   = "${local.name_prefix}-trigger"
  display_name = "gnosis-ocr: Eventarc delivery to the on-upload function"
  depends_on   = [google_project_service.apis]
}

resource "google_cloud_run_v2_service_iam_member" "trigger_invokes_upload" {
  name     = google_cloud_run_v2_service.fn["upload"].name
  location = google_cloud_run_v2_service.fn["upload"].location
  role     = "roles/run.invoker"
  member   = google_service_account.trigger.member
}

# Eventarc only grants this role at project level.
resource "google_project_iam_member" "trigger_receives_events" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.trigger.member
}

# Cloud Storage publishes its notifications to Eventarc's Pub/Sub topic as its own service agent.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_project_iam_member" "gcs_publishes_events" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = data.google_storage_project_service_account.gcs.member
}

resource "google_eventarc_trigger" "upload" {
  name            = "${local.name_prefix}-upload"
  location        = var.region # must be the uploads bucket's location
  service_account = google_service_account.trigger.email
  labels          = local.labels

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }

  # The uploads bucket only: results go to their own bucket, so writing them raises no event here.
  matching_criteria {
    attribute = "bucket"
    value     = google_storage_bucket.uploads.name
  }

  destination {
    cloud_run_service {
      service = google_cloud_run_v2_service.fn["upload"].name
      region  = var.region
      path    = "/"
    }
  }

  depends_on = [
    google_project_iam_member.trigger_receives_events,
    google_project_iam_member.gcs_publishes_events,
    google_cloud_run_v2_service_iam_member.trigger_invokes_upload,
  ]
}
