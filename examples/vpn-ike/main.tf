# Just-in-time VPN access: open IKE (UDP 500) and IPsec NAT traversal (UDP 4500) in a network ACL for one client
# address, for two hours. This replaces the "IoT button + Lambda + ReplaceNetworkAclEntry on rule 200" setup:
# jit never overwrites an existing rule, checks the address, and the grant expires on its own schedule.
#
#   terraform apply -var network_acl_id=acl-... -var client_ip=$(curl -s https://checkip.amazonaws.com)
#
# After the ttl, the next plan shows the grant as expired and apply removes the entries. A new grant for the
# same address is `terraform apply -replace=jit_access_rule.ike -replace=jit_access_rule.nat_traversal`; a
# new address replaces the grants by itself.
#
# jit records each grant as a tag on the network ACL. If the ACL itself is managed with the AWS provider and
# `tags = {...}`, that provider removes every tag it does not know at its next apply, and the grants lose their
# records. Tell it to leave jit's tags alone:
#
#   provider "aws" {
#     ignore_tags { key_prefixes = ["jit:"] }
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

resource "jit_access_rule" "ike" {
  network_acl_id = var.network_acl_id
  cidr_block     = "${var.client_ip}/32"
  protocol       = "udp"
  from_port      = 500
  to_port        = 500
  ttl            = var.ttl
  reason         = var.reason
  requested_by   = var.requested_by
}

resource "jit_access_rule" "nat_traversal" {
  network_acl_id = var.network_acl_id
  cidr_block     = "${var.client_ip}/32"
  protocol       = "udp"
  from_port      = 4500
  to_port        = 4500
  ttl            = var.ttl
  reason         = var.reason
  requested_by   = var.requested_by
}

# Network ACLs are stateless: the subnet's outbound rules must already let the VPN's replies reach the client
# (UDP to ports 500 and 4500, or the ephemeral range). Add `egress = true` grants here if they do not.
