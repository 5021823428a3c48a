//! One file per resource.

pub mod access_rule;
pub mod source_ip_policy;
