variable "region" {
  description = "Region of the EKS cluster and of the Lambda."
  type        = string
}

variable "cluster_name" {
  description = "Name of the EKS cluster (authenticationMode API or API_AND_CONFIG_MAP)."
  type        = string
}

variable "name" {
  description = "Name of the function and prefix of the other resources."
  type        = string
  default     = "snatguard"
}

variable "package_path" {
  description = "The zip that `npm run package` produces (handler index.handler)."
  type        = string
  default     = "../../../dist/package/snatguard-lambda.zip"
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression: rate(...) or a 6-field cron(...) without seconds."
  type        = string
  default     = "rate(5 minutes)"
}

variable "mode" {
  description = "dry-run reports only; restart patches workloads (rollout restart) within the safety rails."
  type        = string
  default     = "dry-run"

  validation {
    condition     = contains(["dry-run", "restart"], var.mode)
    error_message = "mode must be dry-run or restart."
  }
}

variable "namespace" {
  description = "Namespace holding the run Lease and the state ConfigMap."
  type        = string
  default     = "snatguard"
}

variable "max_restarts_per_run" {
  description = "Safety rail: at most this many restarts per run."
  type        = number
  default     = 1
}

variable "cooldown_minutes" {
  description = "Safety rail: minutes before the same workload may be restarted again."
  type        = number
  default     = 60
}

variable "timeout_seconds" {
  description = "Lambda timeout; the run's deadline comes from the remaining time, so it ends with a report before this."
  type        = number
  default     = 240
}

variable "memory_size" {
  description = "Lambda memory (MB)."
  type        = number
  default     = 512
}

variable "architecture" {
  description = "Lambda architecture (the bundle is plain JavaScript)."
  type        = string
  default     = "arm64"
}

variable "log_retention_days" {
  description = "Days the CloudWatch log group keeps the function's logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}

variable "create_agent_config" {
  description = "Store the CloudWatch agent config for ENA conntrack metrics as SSM parameter AmazonCloudWatch-<name>-ena."
  type        = bool
  default     = true
}
