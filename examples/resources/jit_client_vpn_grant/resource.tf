# Let alice connect to the Client VPN endpoint from her hotel's network for two hours. The endpoint's
# client-connect handler must be jit-client-vpn-handler (see examples/client-vpn).
resource "jit_client_vpn_grant" "alice" {
  client_vpn_endpoint_id = "cvpn-endpoint-0123456789abcdef0"
  username               = "alice"          # or common_name (mutual authentication), or group
  cidr_block             = "203.0.113.0/24" # optional: from anywhere when omitted
  ttl                    = "2h"
  reason                 = "on call from the hotel"
  requested_by           = "bob"
}
