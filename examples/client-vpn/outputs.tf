output "client_vpn_endpoint_id" {
  description = "The endpoint; `jitctl list` shows its grants."
  value       = aws_ec2_client_vpn_endpoint.vpn.id
}

output "grants" {
  description = "The grants' ids (`jitctl revoke <id>` ends one now) and expiries."
  value = {
    for name, g in { laptop = jit_client_vpn_grant.laptop, hotel = jit_client_vpn_grant.hotel } :
    name => { id = g.id, expires_at = g.expires_at, status = g.status }
  }
}

output "notifications_topic_arn" {
  description = "Subscribe to it (e-mail, chat) for one message per connection attempt."
  value       = aws_sns_topic.connections.arn
}
