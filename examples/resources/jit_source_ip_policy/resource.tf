# Deny every API call from outside the office, except from one home address for eight hours. AWS itself stops
# admitting the home address at its expires_at; the next apply prunes it from the document.
resource "jit_source_ip_policy" "remote" {
  name          = "source-ip-restriction"
  description   = "Office range plus temporary home addresses"
  allowed_cidrs = ["198.51.100.0/24"]

  temporary_cidrs = {
    "203.0.113.7/32" = { ttl = "8h", reason = "alice, home, 2026-11-24" }
  }

  tags = { team = "platform" }

  # Optional:
  # path                = "/"   # changing it creates a new policy
  # deny_actions        = ["*"]
  # exempt_aws_services = true  # keeps calls AWS services make for the users (CloudFormation, Athena, ...) working
}
