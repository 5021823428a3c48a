# A grant is imported by "<network ACL id>:<ingress|egress>:<rule number>". The entry must carry jit's grant tag
# on the ACL: entries jit did not create are refused.
terraform import jit_access_rule.vpn acl-0123456789abcdef0:ingress:200
