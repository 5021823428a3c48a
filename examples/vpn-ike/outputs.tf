output "grants" {
  description = "The network ACL entries opened for the client, and when they close."
  value = {
    for name, grant in {
      ike           = jit_access_rule.ike
      nat_traversal = jit_access_rule.nat_traversal
      } : name => {
      id          = grant.id
      rule_number = grant.rule_number
      cidr_block  = grant.cidr_block
      port        = grant.from_port
      expires_at  = grant.expires_at
      status      = grant.status
    }
  }
}
