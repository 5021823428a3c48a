variable "policy_name" {
  description = "Name of the IAM policy attached to the team's users."
  type        = string
  default     = "source-ip-restriction"
}

variable "office_cidrs" {
  description = "Permanent ranges: the office and the VPN's egress."
  type        = list(string)
  default     = ["198.51.100.0/24"]
}

variable "home_addresses" {
  description = "Today's public IPv4 address of each remote worker, by name (see https://checkip.amazonaws.com)."
  type        = map(string)
  default     = {}
}

variable "ttl" {
  description = "How long a home address is admitted (Go duration, at most the provider's max_ttl)."
  type        = string
  default     = "10h"
}

variable "region" {
  description = "The AWS region for the provider (IAM itself is global)."
  type        = string
  default     = "us-east-1"
}
