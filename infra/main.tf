# gnosis-ocr on Google Cloud: see README.md in this folder for what this deploys and how.

terraform {
  # optional object attributes with defaults; output preconditions (modules/plan).
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The oldest release whose schema has everything used here: Cloud Run v2 volumes.gcs
      # .mount_options went GA in 7.4.0 (beta-only before, "Unsupported argument" on 6.x-7.3);
      # GPU node_selector, gpu_zonal_redundancy_disabled and custom_audiences are older.
      # tests/test_infra_providers.py checks this range against those minimums.
      version = ">= 7.4.0, < 8.0.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# The project number names the worker's deterministic URL (run.tf) before the worker exists.
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  name_prefix = var.name_prefix
  labels      = merge({ app = "gnosis-ocr" }, var.labels)
}

# Every decision that follows from the variables alone (services, images, sizing, GPU guards,
# bucket names) is made in modules/plan, which tests run offline with a bare terraform.
module "plan" {
  source = "./modules/plan"

  project_id    = var.project_id
  region        = var.region
  name_prefix   = var.name_prefix
  bucket_prefix = var.bucket_prefix
  ocr_engine    = local.runtime.env.OCR_ENGINE
  tasks_enabled = var.tasks.enabled
  gpu_type      = var.gpu_type
  gpu_quota     = var.gpu_quota
  image_digests = var.image_digests
  services = {
    upload = var.upload
    http   = var.http
    worker = var.worker
  }
}

resource "google_project_service" "apis" {
  for_each = toset(concat(
    [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudscheduler.googleapis.com",
      "cloudtasks.googleapis.com",
      "eventarc.googleapis.com",
      "iam.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "storage.googleapis.com",
    ],
    var.api_token_secret == null ? [] : ["secretmanager.googleapis.com"],
  ))

  project = var.project_id
  service = each.value
  # Other things in the project may use these APIs; destroying this stack must not turn them off.
  disable_on_destroy = false
}
