# The deployment's decisions, computed from the root's variables and nothing else: which services
# exist, which run the vlm engine (so get the GPU image and the model cache), how each is sized,
# and the guards that refuse what Cloud Run would refuse later or what cannot work. No provider
# and no resource, so tests/test_infra_plan.py runs it with a bare `terraform plan`, offline.

terraform {
  required_version = ">= 1.5"
}

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name_prefix" {
  type = string
}

variable "bucket_prefix" {
  description = "null: \"<project_id>-<name_prefix>\"."
  type        = string
  default     = null
}

variable "ocr_engine" {
  description = "OCR_ENGINE of runtime_env.json (auto, lite or vlm)."
  type        = string

  validation {
    condition     = contains(["auto", "lite", "vlm"], var.ocr_engine)
    error_message = "OCR_ENGINE in runtime_env.json must be auto, lite or vlm."
  }
}

variable "tasks_enabled" {
  description = "Fan pages out on Cloud Tasks to the worker service (issue 12); false: the on-upload service OCRs in-process."
  type        = bool
}

variable "gpu_type" {
  type = string

  validation {
    condition     = var.gpu_type == "nvidia-l4"
    error_message = "gpu_type: only nvidia-l4 is sized and tested here (the images' CUDA build is chosen for the L4's driver)."
  }
}

variable "gpu_quota" {
  description = "Cloud Run L4 GPUs granted to the project in the region (quota 'Total Nvidia L4 GPU allocation, per project per region'); 0 until requested."
  type        = number
}

variable "services" {
  description = "Sizing per service (upload, http, worker), with the root's defaults already applied."
  type = map(object({
    gpu             = bool
    cpu             = optional(string)
    memory          = optional(string)
    timeout_seconds = number
    concurrency     = number
    min_instances   = number
    max_instances   = number
  }))

  validation {
    condition = alltrue([
      for s in values(var.services) :
      s.timeout_seconds >= 1 && s.timeout_seconds <= 3600 && s.concurrency >= 1 &&
      s.min_instances >= 0 && s.min_instances <= s.max_instances
    ])
    error_message = "Each service: timeout_seconds 1..3600, concurrency >= 1, 0 <= min_instances <= max_instances."
  }

  validation {
    # Eventarc delivers through a Pub/Sub push subscription whose acknowledgement deadline is at
    # most 600 s; a delivery still running then is delivered again while the first one goes on.
    condition     = !contains(keys(var.services), "upload") || var.services["upload"].timeout_seconds <= 600
    error_message = "upload.timeout_seconds must be <= 600: Eventarc redelivers an event whose delivery takes longer than the 600 s acknowledgement deadline."
  }

  validation {
    condition = alltrue([
      for s in values(var.services) :
      (s.cpu == null || can(tonumber(s.cpu))) && (s.memory == null || can(regex("^[0-9]+(Mi|Gi)$", s.memory)))
    ])
    error_message = "cpu is a number of vCPUs (\"4\"), memory a size in Mi or Gi (\"16Gi\")."
  }

  validation {
    # Cloud Run refuses a GPU instance below 4 vCPU / 16 GiB (Cloud Run GPU docs).
    condition = alltrue([
      for s in values(var.services) : !s.gpu || (
        (s.cpu == null ? true : tonumber(s.cpu) >= 4) &&
        (s.memory == null ? true : (
          endswith(s.memory, "Gi") ? tonumber(trimsuffix(s.memory, "Gi")) >= 16 : tonumber(trimsuffix(s.memory, "Mi")) >= 16384
        ))
      )
    ])
    error_message = "A service with gpu = true needs at least 4 CPU and 16Gi of memory (Cloud Run's minimum for an L4)."
  }
}

variable "image_digests" {
  description = "Image references by digest, as infra/deploy.sh writes them: cpu (lite, no torch) and gpu (torch for the L4)."
  type = object({
    cpu = optional(string)
    gpu = optional(string)
  })
  default = {}

  validation {
    condition = alltrue([
      for ref in [var.image_digests.cpu, var.image_digests.gpu] :
      ref == null || can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[^@]+@sha256:[0-9a-f]{64}$", ref))
    ])
    error_message = "image_digests: Artifact Registry references by digest (REGION-docker.pkg.dev/PROJECT/REPO/NAME@sha256:<64 hex>), as infra/deploy.sh writes them."
  }
}

locals {
  # Regions that offer Cloud Run L4 GPUs, from Cloud Run's "GPU support for services" page
  # (asia-south1 is by invitation only). infra/README.md names the source.
  l4_regions = ["us-central1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1", "asia-south1"]

  # With the queue, on-upload only accepts jobs and the worker OCRs; without it, on-upload OCRs.
  ocr_services = var.tasks_enabled ? ["http", "worker"] : ["upload", "http"]
  deployed     = var.tasks_enabled ? ["upload", "http", "worker"] : ["upload", "http"]

  runs_vlm = {
    for key in local.deployed : key => contains(local.ocr_services, key) && (
      var.ocr_engine == "vlm" || (var.ocr_engine == "auto" && var.services[key].gpu)
    )
  }

  services = {
    for key in local.deployed : key => {
      gpu             = var.services[key].gpu
      runs_vlm        = local.runs_vlm[key]
      image_kind      = local.runs_vlm[key] ? "gpu" : "cpu"
      image           = local.runs_vlm[key] ? var.image_digests.gpu : var.image_digests.cpu
      cpu             = coalesce(var.services[key].cpu, var.services[key].gpu ? "4" : (local.runs_vlm[key] ? "4" : "2"))
      memory          = coalesce(var.services[key].memory, var.services[key].gpu ? "16Gi" : (local.runs_vlm[key] ? "16Gi" : "4Gi"))
      timeout_seconds = var.services[key].timeout_seconds
      concurrency     = var.services[key].concurrency
      min_instances   = var.services[key].min_instances
      max_instances   = var.services[key].max_instances
    }
  }

  gpu_services  = [for key, s in local.services : key if s.gpu]
  gpu_instances = sum(concat([0], [for key in local.gpu_services : local.services[key].max_instances]))

  bucket_prefix = coalesce(var.bucket_prefix, "${var.project_id}-${var.name_prefix}")
  bucket_names = {
    uploads     = "${local.bucket_prefix}-uploads"
    results     = "${local.bucket_prefix}-results"
    model_cache = "${local.bucket_prefix}-model-cache"
    build       = "${local.bucket_prefix}-build"
  }
}

output "services" {
  description = "Per deployed service: sizing, whether it runs vlm, which image."
  value       = local.services

  precondition {
    condition     = length(local.gpu_services) == 0 || contains(local.l4_regions, var.region)
    error_message = "region ${var.region} offers no Cloud Run L4 GPU; use one of ${join(", ", local.l4_regions)} or set gpu = false."
  }
  precondition {
    condition     = local.gpu_instances <= var.gpu_quota
    error_message = "The GPU services may run ${local.gpu_instances} instances at once (sum of their max_instances) but gpu_quota is ${var.gpu_quota}: request the Cloud Run quota 'Total Nvidia L4 GPU allocation, per project per region' (see infra/README.md), then set gpu_quota to what was granted, or lower max_instances."
  }
  precondition {
    condition     = alltrue([for key in local.gpu_services : contains(local.ocr_services, key)])
    error_message = "gpu = true on a service that does no OCR (with the queue on, on-upload only accepts jobs: put the GPU on worker)."
  }
  precondition {
    condition     = var.ocr_engine != "lite" || length(local.gpu_services) == 0
    error_message = "OCR_ENGINE=lite in runtime_env.json never uses a GPU; set gpu = false or OCR_ENGINE to auto/vlm."
  }
}

output "images_needed" {
  description = "The images the deployed services use (infra/deploy.sh builds these only)."
  value       = sort(distinct([for s in values(local.services) : s.image_kind]))
}

output "bucket_names" {
  value = local.bucket_names

  precondition {
    condition     = alltrue([for name in values(local.bucket_names) : length(name) <= 63 && can(regex("^[a-z0-9][a-z0-9._-]*[a-z0-9]$", name))])
    error_message = "Bucket names are at most 63 characters of a-z, 0-9, '-', '_', '.': \"${local.bucket_names.model_cache}\" is not; set bucket_prefix (at most 51 characters)."
  }
}

output "scheduler_attempt_deadline_seconds" {
  description = "Cloud Scheduler accepts 15 s to 30 min; a cold model load may need all of the HTTP timeout."
  value       = max(15, min(var.services["http"].timeout_seconds, 1800))
}

output "dispatch_deadline_seconds" {
  description = "Each task's dispatch deadline: the worker's request timeout, at most Cloud Tasks' 1800 s."
  value       = var.tasks_enabled ? min(var.services["worker"].timeout_seconds, 1800) : 1800
}

output "cache_users" {
  description = "Services that run vlm: only these mount the model cache and may write it."
  value       = sort([for key, s in local.services : key if s.runs_vlm])
}
