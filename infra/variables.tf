# Deployment settings. The runtime environment of the functions is not here: it is
# runtime_env.json (see README.md).

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the services, buckets, queue and trigger. With a GPU it must offer Cloud Run L4 GPUs (modules/plan lists them)."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of service, service account, trigger and repository names."
  type        = string
  default     = "gnosis-ocr"

  validation {
    # Service account ids are at most 30 characters and the longest suffix here is "-trigger".
    condition     = can(regex("^[a-z][a-z0-9-]{2,21}$", var.name_prefix))
    error_message = "name_prefix: 3 to 22 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "bucket_prefix" {
  description = "Prefix of the bucket names (globally unique, at most 51 characters so that \"-model-cache\" fits in 63); null means \"<project_id>-<name_prefix>\"."
  type        = string
  default     = null
}

variable "labels" {
  description = "Extra labels on every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the uploads, results and model-cache buckets with their objects."
  type        = bool
  default     = false
}

variable "upload_retention_days" {
  description = "Uploaded documents are deleted this many days after upload."
  type        = number
  default     = 30
}

variable "result_retention_days" {
  description = "OCR results are deleted this many days after they are written."
  type        = number
  default     = 90
}

variable "noncurrent_retention_days" {
  description = "Overwritten or deleted object versions are kept this many days."
  type        = number
  default     = 7
}

variable "images_to_keep" {
  description = "Built images kept per kind (cpu, gpu) in Artifact Registry (for rollback)."
  type        = number
  default     = 3
}

variable "image_digests" {
  description = "The images to run, by digest: { cpu = \"REGION-docker.pkg.dev/P/R/cpu@sha256:...\", gpu = ... }. infra/deploy.sh builds them and writes images.auto.tfvars.json; only the kinds a service needs must be set."
  type = object({
    cpu = optional(string)
    gpu = optional(string)
  })
  default = {}
}

variable "upload" {
  description = "Sizing of the on-upload service. cpu/memory null: 4 CPU / 16Gi where it runs vlm or has a GPU, else 2 / 4Gi. timeout_seconds <= 600 (Eventarc's acknowledgement deadline)."
  type = object({
    gpu             = optional(bool, false)
    cpu             = optional(string)
    memory          = optional(string)
    timeout_seconds = optional(number, 600)
    concurrency     = optional(number, 1)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 3)
  })
  default = {}
}

variable "http" {
  description = "Sizing of the HTTP service (same fields as upload)."
  type = object({
    gpu             = optional(bool, false)
    cpu             = optional(string)
    memory          = optional(string)
    timeout_seconds = optional(number, 300)
    concurrency     = optional(number, 4)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 3)
  })
  default = {}
}

variable "worker" {
  description = "Sizing of the private worker service that OCRs chunk tasks (only with tasks.enabled). Its timeout is each task's dispatch deadline (at most 1800 s)."
  type = object({
    gpu             = optional(bool, false)
    cpu             = optional(string)
    memory          = optional(string)
    timeout_seconds = optional(number, 1800)
    concurrency     = optional(number, 1)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 3)
  })
  default = {}
}

variable "tasks" {
  description = "The Cloud Tasks queue that fans pages out to the worker (issue 12). enabled = false: on-upload OCRs in-process and no queue or worker is deployed."
  type = object({
    enabled                   = optional(bool, true)
    max_dispatches_per_second = optional(number, 5)
    max_concurrent_dispatches = optional(number, 10)
    max_attempts              = optional(number, 10)
    min_backoff_seconds       = optional(number, 10)
    max_backoff_seconds       = optional(number, 600)
  })
  default = {}

  validation {
    condition = (
      var.tasks.max_dispatches_per_second > 0 && var.tasks.max_dispatches_per_second <= 500 &&
      var.tasks.max_concurrent_dispatches >= 1 && var.tasks.max_concurrent_dispatches <= 5000 &&
      var.tasks.max_attempts >= 1 &&
      var.tasks.min_backoff_seconds >= 0 && var.tasks.min_backoff_seconds <= var.tasks.max_backoff_seconds
    )
    error_message = "tasks: 0 < max_dispatches_per_second <= 500, 1 <= max_concurrent_dispatches <= 5000, max_attempts >= 1 (a chunk out of attempts is recorded as failed), 0 <= min_backoff_seconds <= max_backoff_seconds."
  }
}

variable "gpu_quota" {
  description = "Cloud Run L4 GPUs granted to the project in var.region (quota \"Total Nvidia L4 GPU allocation, per project per region\", to request before the first GPU deploy). The GPU services' max_instances must fit in it."
  type        = number
  default     = 0
}

variable "api_token_secret" {
  description = "Secret Manager secret (id in this project) holding API_TOKEN. Set: the HTTP service requires the token, and the warm-up job sends it in X-Api-Key. null: no token (Cloud Run IAM alone guards the HTTP service)."
  type        = string
  default     = null
}

variable "api_token_secret_version" {
  description = "Version of api_token_secret that the HTTP service and the warm-up job use. Pin a number to roll a new token out deliberately."
  type        = string
  default     = "latest"
}

variable "gpu_type" {
  description = "Cloud Run accelerator for services with gpu = true."
  type        = string
  default     = "nvidia-l4"
}

variable "gpu_zonal_redundancy" {
  description = "Pay for GPU zonal redundancy (capacity reserved in other zones). false is cheaper, and needs the non-redundant GPU quota."
  type        = bool
  default     = false
}

variable "http_ingress" {
  description = "Who may reach the HTTP function at the network level; IAM (http_invokers) still decides who may call it."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.http_ingress)
    error_message = "http_ingress: INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "http_invokers" {
  description = "Members granted roles/run.invoker on the HTTP function, e.g. \"user:ana@example.com\", \"serviceAccount:...\". Empty: nobody but the warm-up job."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.http_invokers, "allUsers") && !contains(var.http_invokers, "allAuthenticatedUsers")
    error_message = "http_invokers: the HTTP function is private; name the callers instead of allUsers/allAuthenticatedUsers."
  }
}

variable "warmup_schedule" {
  description = "Cron schedule of the /warmup ping (e.g. \"*/10 7-19 * * 1-5\"); null turns the job off."
  type        = string
  default     = null
}

variable "warmup_time_zone" {
  description = "Time zone of warmup_schedule."
  type        = string
  default     = "Etc/UTC"
}
