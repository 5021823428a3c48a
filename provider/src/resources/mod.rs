//! One file per resource.

pub mod access_rule;
