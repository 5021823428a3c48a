variable "region" {
  description = "Region to deploy the sweeper in (and, unless `regions` says otherwise, the one it sweeps)."
  type        = string
  default     = "us-east-1"
}

variable "regions" {
  description = "Regions to sweep. Empty: the function's own region."
  type        = list(string)
  default     = []
}

variable "network_acl_ids" {
  description = "Network ACLs (in `region`) that hold jit grants; each gets the tag jit:managed = \"network-acl\" that the sweeper's policy requires."
  type        = list(string)
}

variable "client_vpn_endpoint_ids" {
  description = "Client VPN endpoints (in `region`) that hold jit_client_vpn_grant grants; each gets the tag jit:managed = \"client-vpn\" that the sweeper's policy requires to remove grant tags and terminate connections."
  type        = list(string)
  default     = []
}

variable "package" {
  description = "Path of the released Lambda bundle jitctl-lambda_VERSION_ARCH.zip (its `bootstrap` is jitctl-lambda for provided.al2023), with ARCH the `architecture` below."
  type        = string

  validation {
    # A release's bundles are named after the architecture they run on: catch the wrong one before Lambda does.
    condition     = !can(regex("_(x86_64|arm64)\\.zip$", var.package)) || endswith(var.package, "_${var.architecture}.zip")
    error_message = "package ${var.package} is a bundle for another architecture than \"${var.architecture}\": use jitctl-lambda_VERSION_${var.architecture}.zip, or set architecture to match the bundle."
  }
}

variable "architecture" {
  description = "CPU architecture of the package (the ARCH in its name): arm64 or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "schedule" {
  description = "How often to sweep, as an EventBridge schedule expression. A grant stays open at most this long past its expiry."
  type        = string
  default     = "rate(5 minutes)"
}

variable "log_retention_days" {
  description = "How long to keep the sweeper's logs."
  type        = number
  default     = 30
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) to notify when a sweep fails."
  type        = list(string)
  default     = []
}
