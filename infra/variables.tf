# Deployment settings. The runtime environment of the functions is not here: it is
# runtime_env.json (see README.md).

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the services, buckets and trigger. With a GPU it must offer Cloud Run L4 GPUs (e.g. us-central1, europe-west1, europe-west4, asia-southeast1)."
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
  description = "Prefix of the bucket names (globally unique); null means \"<project_id>-<name_prefix>\"."
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
  description = "Built function images kept per function in Artifact Registry (for rollback)."
  type        = number
  default     = 3
}

variable "python_runtime" {
  description = "Google Cloud buildpack runtime the functions are built on."
  type        = string
  default     = "python311"
}

variable "upload" {
  description = "Sizing of the on-upload function. cpu/memory null: 8 CPU / 32Gi with a GPU, else 2 / 4Gi."
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

  validation {
    condition = (
      var.upload.timeout_seconds >= 1 && var.upload.timeout_seconds <= 3600 &&
      var.upload.concurrency >= 1 &&
      var.upload.min_instances >= 0 && var.upload.min_instances <= var.upload.max_instances
    )
    error_message = "upload: timeout_seconds 1..3600, concurrency >= 1, 0 <= min_instances <= max_instances."
  }
}

variable "http" {
  description = "Sizing of the HTTP function. cpu/memory null: 8 CPU / 32Gi with a GPU, else 2 / 4Gi."
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

  validation {
    condition = (
      var.http.timeout_seconds >= 1 && var.http.timeout_seconds <= 3600 &&
      var.http.concurrency >= 1 &&
      var.http.min_instances >= 0 && var.http.min_instances <= var.http.max_instances
    )
    error_message = "http: timeout_seconds 1..3600, concurrency >= 1, 0 <= min_instances <= max_instances."
  }
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
