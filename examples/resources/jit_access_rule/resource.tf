# Let one address reach the VPN's IKE port (UDP 500) for two hours.
resource "jit_access_rule" "vpn" {
  network_acl_id = "acl-0123456789abcdef0"
  cidr_block     = "203.0.113.7/32"
  protocol       = "udp"
  from_port      = 500
  to_port        = 500
  ttl            = "2h"
  reason         = "VPN from hotel"
  requested_by   = "alice"

  # Optional:
  # egress      = false   # true for an outbound rule
  # rule_action = "allow" # "deny" for a temporary block
  # rule_number = 200     # default: the lowest free number in the provider's rule_numbers range
}
