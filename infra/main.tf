# gnosis-ocr on Google Cloud: see README.md in this folder for what this deploys and how.

terraform {
  # terraform_data and optional object attributes with defaults.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Cloud Run v2 build_config (source deploys), base_image_uri, GPU node_selector and
      # gpu_zonal_redundancy_disabled are all in 6.47+.
      version = ">= 6.47, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # Bucket names are global; the project id keeps them unique without asking the user.
  name_prefix   = var.name_prefix
  bucket_prefix = coalesce(var.bucket_prefix, "${var.project_id}-${var.name_prefix}")

  labels = merge({ app = "gnosis-ocr" }, var.labels)
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ])

  project = var.project_id
  service = each.value
  # Other things in the project may use these APIs; destroying this stack must not turn them off.
  disable_on_destroy = false
}
