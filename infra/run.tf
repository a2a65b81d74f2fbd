# The two functions-framework targets of main.py, each a Cloud Run service built from source.
# Both get the same environment (local.runtime_env, from runtime_env.json) and the same model
# cache volume; they differ in trigger, identity, ingress and sizing.

locals {
  functions = {
    upload = {
      target         = "ocr_on_upload"
      signature_type = "cloudevent"
      sizing         = var.upload
      account        = google_service_account.upload.email
      # Eventarc deliveries count as internal traffic; nothing else needs to reach it.
      ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"
    }
    http = {
      target         = "ocr_http"
      signature_type = "http"
      sizing         = var.http
      account        = google_service_account.http.email
      # Reachable from anywhere, but only by callers holding roles/run.invoker (see iam.tf).
      ingress = var.http_ingress
    }
  }

  image_base = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
  base_image = "${var.region}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/${var.python_runtime}"
}

resource "google_cloud_run_v2_service" "fn" {
  for_each = local.functions

  name                = "${local.name_prefix}-${each.key}"
  location            = var.region
  ingress             = each.value.ingress
  labels              = local.labels
  deletion_protection = false # stateless; the data lives in the buckets

  build_config {
    source_location = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
    function_target = each.value.target
    image_uri       = "${local.image_base}/${each.key}:latest"
    base_image      = local.base_image
    service_account = google_service_account.build.id
    # Build-time only (the buildpack bakes it into the image); not part of the runtime environment.
    environment_variables = {
      GOOGLE_FUNCTION_SIGNATURE_TYPE = each.value.signature_type
    }
  }

  template {
    service_account                  = each.value.account
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2" # Cloud Storage volumes need gen2
    timeout                          = "${each.value.sizing.timeout_seconds}s"
    max_instance_request_concurrency = each.value.sizing.concurrency
    gpu_zonal_redundancy_disabled    = each.value.sizing.gpu ? !var.gpu_zonal_redundancy : null
    labels                           = local.labels

    scaling {
      min_instance_count = each.value.sizing.min_instances
      max_instance_count = each.value.sizing.max_instances
    }

    dynamic "node_selector" {
      for_each = each.value.sizing.gpu ? [var.gpu_type] : []
      content {
        accelerator = node_selector.value
      }
    }

    containers {
      # Placeholder until the first build finishes; Cloud Run then serves the image built from
      # build_config, and lifecycle.ignore_changes keeps Terraform from putting this one back.
      image          = "us-docker.pkg.dev/cloudrun/container/hello"
      base_image_uri = local.base_image

      resources {
        limits = merge(
          {
            cpu    = coalesce(each.value.sizing.cpu, each.value.sizing.gpu ? "8" : "2")
            memory = coalesce(each.value.sizing.memory, each.value.sizing.gpu ? "32Gi" : "4Gi")
          },
          each.value.sizing.gpu ? { "nvidia.com/gpu" = "1" } : {}
        )
        # A GPU instance must keep its CPU between requests; a CPU-only one may idle.
        cpu_idle          = !each.value.sizing.gpu
        startup_cpu_boost = true
      }

      # The whole runtime environment, from runtime_env.json via runtime_env.tf. Do not add
      # env blocks here: tests/test_infra_env.py fails on any other source of variables.
      dynamic "env" {
        for_each = local.runtime_env
        content {
          name  = env.key
          value = env.value
        }
      }

      volume_mounts {
        name       = "model-cache"
        mount_path = local.cache_mount_path
      }
    }

    volumes {
      name = "model-cache"
      gcs {
        bucket    = google_storage_bucket.model_cache.name
        read_only = false
        # implicit-dirs: folders written through the storage API (not the mount) are visible.
        mount_options = ["implicit-dirs"]
      }
    }
  }

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [
    terraform_data.runtime_env_guard,
    google_storage_bucket_iam_member.build_reads_source,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.build_writes_logs,
    google_storage_bucket_iam_member.cache_rw,
  ]
}
