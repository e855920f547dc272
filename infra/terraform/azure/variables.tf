variable "subscription_id" {
  description = "Subscription that holds the Function App."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group created for the Function App and its resources."
  type        = string
  default     = "rg-snatguard"
}

variable "location" {
  description = "Region of the Function App."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "snatguard"
}

variable "cluster_subscription_id" {
  description = "Subscription of the AKS cluster (null: the same as subscription_id)."
  type        = string
  default     = null
}

variable "cluster_resource_group" {
  description = "Resource group of the AKS cluster."
  type        = string
}

variable "cluster_name" {
  description = "Name of the AKS cluster."
  type        = string
}

variable "cluster_location" {
  description = "Region of the AKS cluster (regional metrics endpoint); null: the same as location."
  type        = string
  default     = null
}

variable "node_resource_group" {
  description = "The cluster's node resource group (managedCluster.nodeResourceGroup, usually MC_<rg>_<cluster>_<region>)."
  type        = string
}

variable "network_resource_groups" {
  description = "Resource groups (in the cluster subscription) of a BYO VNet and a user-assigned NAT gateway, if any."
  type        = list(string)
  default     = []
}

variable "schedule" {
  description = "NCRONTAB schedule of the timer ({second} {minute} {hour} {day} {month} {day-of-week}, UTC)."
  type        = string
  default     = "0 */5 * * * *"
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

variable "notify_channels" {
  description = "Chat channels to turn on. Put each URL in Key Vault (see infra/README.md); Terraform never sees it."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notify_channels : contains(["slack", "teams", "discord", "webhook"], c)])
    error_message = "notify_channels may contain slack, teams, discord and webhook."
  }
}

variable "log_retention_days" {
  description = "Days of log retention in the Log Analytics workspace."
  type        = number
  default     = 30
}

variable "instance_memory_in_mb" {
  description = "Flex Consumption instance memory (2048 or 4096)."
  type        = number
  default     = 2048
}

variable "maximum_instance_count" {
  description = "Flex Consumption scale-out limit (the timer itself runs on one instance)."
  type        = number
  default     = 40
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
