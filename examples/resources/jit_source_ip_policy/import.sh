# A policy is imported by its ARN. Only documents jit rendered can be imported: they carry each temporary
# entry's expiry. The first apply afterwards takes ttl and reason from the configuration, without a new version.
terraform import jit_source_ip_policy.remote arn:aws:iam::123456789012:policy/source-ip-restriction
