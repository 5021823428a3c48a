//! One file per resource, what they share (`common`), and their tests' shared scaffolding
//! (`testing`).

pub mod access_rule;
pub mod client_vpn_grant;
pub mod common;
pub mod source_ip_policy;

#[cfg(test)]
pub(crate) mod testing;
