//! Builders shared by the policy modules' unit tests.

use ipnet::IpNet;
use time::OffsetDateTime;

use super::document::{Spec, Temporary};
use crate::clock::parse_rfc3339;

fn n(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub fn t(s: &str) -> OffsetDateTime {
    parse_rfc3339(s).unwrap()
}

/// A temporary CIDR expiring at an RFC 3339 time.
pub fn tmp(cidr: &str, at: &str) -> Temporary {
    Temporary {
        cidr: n(cidr),
        expires_at: t(at),
    }
}

/// A policy spec denying every action outside the CIDRs, with AWS services exempt.
pub fn spec(allowed: &[&str], temporary: Vec<Temporary>) -> Spec {
    Spec {
        allowed: allowed.iter().map(|a| n(a)).collect(),
        temporary,
        deny_actions: vec!["*".into()],
        exempt_aws_services: true,
    }
}
