output "policy_arn" {
  description = "Attach this policy to the team's users or group."
  value       = jit_source_ip_policy.remote.arn
}

output "home_addresses" {
  description = "Each temporary entry, and when AWS stops admitting it."
  value = {
    for cidr, entry in coalesce(jit_source_ip_policy.remote.temporary_cidrs, {}) : cidr => {
      reason     = entry.reason
      expires_at = entry.expires_at
      status     = entry.status
    }
  }
}

output "next_expiry" {
  description = "The next time an address stops being admitted."
  value       = jit_source_ip_policy.remote.next_expiry
}
