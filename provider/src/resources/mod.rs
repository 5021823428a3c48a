//! One file per resource.

pub mod access_rule;
pub mod client_vpn_grant;
pub mod source_ip_policy;
