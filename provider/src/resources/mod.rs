//! One file per resource, and the argument rules they share (`common`).

pub mod access_rule;
pub mod client_vpn_grant;
pub mod common;
pub mod source_ip_policy;
