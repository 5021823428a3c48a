# Every argument is optional. Without any, the provider uses the standard AWS credential chain and region
# (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/config, instance roles, ...) and the defaults shown below.
provider "jit" {
  # The AWS region of the network ACLs.
  region = "eu-west-1"

  # A named profile from the shared AWS config files.
  profile = "network-admin"

  # Endpoints to use instead of AWS's public ones (a VPC endpoint, or a local AWS for testing).
  endpoints {
    ec2 = "https://ec2.eu-west-1.amazonaws.com"
    iam = "https://iam.amazonaws.com"
  }

  # The longest ttl any grant may ask for. Default "12h".
  max_ttl = "8h"

  # Whether every grant must give a reason. Default false.
  require_reason = true

  # The rule numbers used for grants without an explicit rule_number: the lowest free one is taken.
  # Default { from = 100, to = 199 }.
  rule_numbers = { from = 100, to = 199 }

  # The widest CIDR an allow rule may open, per address family. Defaults 24 and 48; set 0 to permit the
  # whole internet.
  min_prefix_length_ipv4 = 24
  min_prefix_length_ipv6 = 48
}
