# The three functions-framework targets of main.py, each a Cloud Run service running an image
# built from this repository (images.tf), by digest. All get the same environment
# (local.runtime_env, from runtime_env.json) and differ in target, identity, ingress, sizing and
# image; only the services that run the vlm engine mount the model cache (modules/plan decides).

locals {
  functions = {
    upload = {
      target         = "ocr_on_upload"
      signature_type = "cloudevent"
      account        = google_service_account.upload.email
      # Eventarc deliveries count as internal traffic; nothing else needs to reach it.
      ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"
    }
    http = {
      target         = "ocr_http"
      signature_type = "http"
      account        = google_service_account.http.email
      # Reachable from anywhere, but only by callers holding roles/run.invoker (see iam.tf).
      ingress = var.http_ingress
    }
    worker = {
      target         = "ocr_worker"
      signature_type = "http"
      account        = google_service_account.worker.email
      # Cloud Tasks in the same project counts as internal traffic; only the tasks account may invoke it.
      ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"
    }
  }

  services = { for key, plan in module.plan.services : key => merge(local.functions[key], plan) }

  # Cloud Run's deterministic URL, known before the service exists: the services that enqueue
  # tasks need it in their environment, and the worker needs its own (callback tasks).
  worker_name = "${local.name_prefix}-worker"
  worker_url  = "https://${local.worker_name}-${data.google_project.this.number}.${var.region}.run.app"
}

resource "google_cloud_run_v2_service" "fn" {
  for_each = local.services

  name                = "${local.name_prefix}-${each.key}"
  location            = var.region
  ingress             = each.value.ingress
  labels              = local.labels
  deletion_protection = false # stateless; the data lives in the buckets
  # The tasks' OIDC tokens name TASKS_WORKER_URL as their audience; accept it whatever URL form.
  custom_audiences = each.key == "worker" ? [local.worker_url] : null

  template {
    service_account                  = each.value.account
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2" # Cloud Storage volumes need gen2
    timeout                          = "${each.value.timeout_seconds}s"
    max_instance_request_concurrency = each.value.concurrency
    gpu_zonal_redundancy_disabled    = each.value.gpu ? !var.gpu_zonal_redundancy : null
    labels                           = local.labels

    scaling {
      min_instance_count = each.value.min_instances
      max_instance_count = each.value.max_instances
    }

    dynamic "node_selector" {
      for_each = each.value.gpu ? [var.gpu_type] : []
      content {
        accelerator = node_selector.value
      }
    }

    containers {
      # By digest: a new build is a new digest, hence a new revision; an unchanged one changes nothing.
      image = each.value.image
      # The image's entrypoint is functions-framework (../Dockerfile); the target is per service.
      args = ["--target=${each.value.target}", "--signature-type=${each.value.signature_type}"]

      resources {
        limits = merge(
          { cpu = each.value.cpu, memory = each.value.memory },
          each.value.gpu ? { "nvidia.com/gpu" = "1" } : {}
        )
        # A GPU instance must keep its CPU between requests; a CPU-only one may idle.
        cpu_idle          = !each.value.gpu
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

      # Secrets (runtime_env.json "from_secret"), read by Cloud Run from Secret Manager at start;
      # only the HTTP service checks API_TOKEN.
      dynamic "env" {
        for_each = each.key == "http" ? local.secret_env : {}
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = each.value.runs_vlm ? ["model-cache"] : []
        content {
          name       = volume_mounts.value
          mount_path = local.cache_mount_path
        }
      }
    }

    dynamic "volumes" {
      for_each = each.value.runs_vlm ? ["model-cache"] : []
      content {
        name = volumes.value
        gcs {
          bucket    = google_storage_bucket.model_cache.name
          read_only = false
          # implicit-dirs: folders written through the storage API (not the mount) are visible.
          mount_options = ["implicit-dirs"]
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = each.value.image != null
      error_message = "No ${each.value.image_kind} image digest for the ${each.key} service: run infra/deploy.sh, which builds the images and passes their digests (image_digests)."
    }
  }

  depends_on = [
    terraform_data.runtime_env_guard,
    google_storage_bucket_iam_member.cache_rw,
    google_secret_manager_secret_iam_member.http_reads_token,
  ]
}
