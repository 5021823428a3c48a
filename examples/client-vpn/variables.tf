variable "region" {
  description = "Region of the Client VPN endpoint and its handler (AWS requires both in one region and account)."
  type        = string
  default     = "us-east-1"
}

variable "server_certificate_arn" {
  description = "ACM ARN of the endpoint's server certificate."
  type        = string
}

variable "client_root_certificate_chain_arn" {
  description = "ACM ARN of the CA that signs the client certificates (mutual authentication: the certificate's common name identifies the device)."
  type        = string
}

variable "client_cidr_block" {
  description = "Range client addresses are assigned from, /12 to /22, not overlapping the VPC."
  type        = string
  default     = "10.100.0.0/22"
}

variable "package" {
  description = "Path of the deployment package: a zip holding the jit-client-vpn-handler binary named `bootstrap`."
  type        = string
  default     = "jit-client-vpn-handler.zip"
}

variable "architecture" {
  description = "CPU architecture the package was built for: arm64 or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "always_allow_cidrs" {
  description = "Standing ranges that may always connect (the office), comma-separated; empty for none. An invalid value makes the handler refuse every connection."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "How long to keep the handler's and the endpoint's connection logs."
  type        = number
  default     = 30
}
