# A grant is imported by "<Client VPN endpoint id>:<grant id>" (`jitctl list` shows both). Only grants jit created
# (a jit:grant: tag on the endpoint) can be imported.
terraform import jit_client_vpn_grant.alice cvpn-endpoint-0123456789abcdef0:abcdefgh2345
