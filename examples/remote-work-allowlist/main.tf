# Remote work behind an IP allowlist, without a cleanup job. Every IAM user of the team carries a "deny unless
# from these addresses" policy. The office range is permanent; each remote worker's address of the day is a
# temporary entry that AWS itself stops admitting after its ttl (an aws:CurrentTime condition in the policy),
# whether or not anyone runs terraform again.
#
# This replaces "a public API Gateway + Lambda appends today's IP, a nightly Lambda resets the policy from a copy
# in S3": there is no open endpoint that can rewrite IAM, no five-version juggling (jit deletes the oldest
# non-default version itself, never the default), and no reset job that breaks when someone deletes a version.
#
#   terraform apply -var 'home_addresses={ alice = "203.0.113.7" }'
#
# Tomorrow, apply with the new address: yesterday's entry leaves the policy. An entry left in the configuration
# past its ttl is already denied by AWS; the next plan shows it as expired and the apply prunes it. Attach the
# policy to the team as usual, e.g. with the AWS provider:
#
#   resource "aws_iam_group_policy_attachment" "remote" {
#     group      = "developers"
#     policy_arn = jit_source_ip_policy.remote.arn
#   }

terraform {
  required_version = ">= 1.11"
  required_providers {
    jit = {
      source  = "jit-access/jit"
      version = "~> 0.2"
    }
  }
}

provider "jit" {
  region = var.region
}

resource "jit_source_ip_policy" "remote" {
  name          = var.policy_name
  description   = "Office range plus each remote worker's address of the day"
  allowed_cidrs = var.office_cidrs

  temporary_cidrs = {
    for person, address in var.home_addresses : "${address}/32" => {
      ttl    = var.ttl
      reason = "${person} working from home"
    }
  }

  tags = {
    purpose = "remote-work"
  }
}
