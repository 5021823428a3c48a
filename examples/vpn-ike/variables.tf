variable "network_acl_id" {
  description = "The network ACL of the VPN endpoint's subnet (acl-...)."
  type        = string
}

variable "client_ip" {
  description = "The public IPv4 address the VPN client connects from (see https://checkip.amazonaws.com)."
  type        = string
  default     = "203.0.113.7"
}

variable "ttl" {
  description = "How long the grant lasts (Go duration: \"2h\", \"90m\")."
  type        = string
  default     = "2h"
}

variable "reason" {
  description = "Why the access is needed; stored with the grant."
  type        = string
  default     = "VPN from hotel"
}

variable "requested_by" {
  description = "Who asked for the access; stored with the grant."
  type        = string
  default     = "alice"
}

variable "region" {
  description = "The AWS region of the network ACL."
  type        = string
  default     = "us-east-1"
}
