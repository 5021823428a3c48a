//! ## What it does
//! Flags a `Deny` statement with a `NotIpAddress` condition on `aws:SourceIp` whose allowed
//! ranges are all private: RFC 1918 (`10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`),
//! loopback (`127.0.0.0/8`, `::1`), link-local (`169.254.0.0/16`, `fe80::/10`) and unique-local
//! IPv6 (`fc00::/7`). Only a fence whose other conditions cannot exempt anyone is flagged (no
//! condition besides `aws:SourceIp` and `aws:ViaAWSService`): a Deny that also tests
//! `aws:SourceVpce` or `aws:SourceVpc` is the documented "only through my endpoint" pattern.
//!
//! Access Analyzer reports the same fence as `PRIVATE_NOT_IP_ADDRESS`.
//!
//! ## Why is this bad?
//! `aws:SourceIp` never carries a private address. A request from the internet carries its
//! public address, which is outside every private range; a request through a VPC endpoint
//! carries no `aws:SourceIp` at all (its private address is in `aws:VpcSourceIp`), and a negated
//! operator is true for a missing key. The Deny therefore matches every request: the policy
//! meant to admit the office network locks everyone out, including whoever would fix it.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "*",
//!   "Resource": "*",
//!   "Condition": {
//!     "NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
//!     "Bool": {"aws:ViaAWSService": "false"}
//!   }
//! }
//! ```
//!
//! ## Fix
//! For traffic through VPC endpoints, fence on the endpoint's view of the address, together with
//! the VPC or endpoint it must come through:
//! ```json
//! "Condition": {
//!   "NotIpAddressIfExists": {"aws:VpcSourceIp": ["10.0.0.0/8"]},
//!   "StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-0123456789abcdef0"},
//!   "Bool": {"aws:ViaAWSService": "false"}
//! }
//! ```
//! For traffic from the internet, list the public addresses your NAT gateway or office uses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::policy::{Effect, Policy};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;
use crate::rules::jit006_source_ip_too_broad::allowlist_net;

/// Whether every address of `net` is private (never the `aws:SourceIp` of a request).
fn is_private(net: &IpNet) -> bool {
    let private: [(IpAddr, u8); 8] = [
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
        (IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
        (IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
        (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
        (IpAddr::V4(Ipv4Addr::new(169, 254, 0, 0)), 16),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
        (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10),
        (IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
    ];
    private
        .iter()
        .any(|&(addr, len)| IpNet::new(addr, len).is_ok_and(|range| range.contains(net)))
}

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>) {
    if !sink.enabled(Rule::SourceIpFencePrivateOnly) {
        return;
    }
    for stmt in &policy.statements {
        if stmt.effect != Effect::Deny {
            continue;
        }
        let Some(fence) = stmt
            .conditions
            .iter()
            .find(|c| c.base_operator() == "NotIpAddress" && c.key_is("aws:SourceIp"))
        else {
            continue;
        };
        let others_exempt_nobody = stmt
            .conditions
            .iter()
            .all(|c| c.key_is("aws:SourceIp") || c.key_is("aws:ViaAWSService"));
        if !others_exempt_nobody || fence.values.is_empty() {
            continue;
        }
        let mut ranges = Vec::new();
        for v in &fence.values {
            match v.known().and_then(allowlist_net) {
                Some(net) if is_private(&net) => ranges.push(net.to_string()),
                // A public range (or one unknown or invalid, which JIT005 reports) may admit someone.
                _ => {
                    ranges.clear();
                    break;
                }
            }
        }
        if ranges.is_empty() {
            continue;
        }
        sink.report(
            scope,
            Report {
                rule: Rule::SourceIpFencePrivateOnly,
                level: Level::Default,
                span: fence.key_span,
                statement: Some(stmt.index),
                sid: stmt.sid,
                key: format!(
                    "{}|{}",
                    stmt.sid
                        .filter(|s| !s.is_empty())
                        .unwrap_or(&stmt.canonical),
                    ranges.join(",")
                ),
                message: format!(
                    "this Deny admits only private addresses ({}), which aws:SourceIp never carries \
                     (requests through a VPC endpoint have aws:VpcSourceIp instead), so it denies every request; \
                     fence on aws:VpcSourceIp with aws:SourceVpc/aws:SourceVpce, or list public addresses",
                    ranges.join(", ")
                ),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for p in [
            "10.1.2.0/24",
            "172.31.255.255/32",
            "192.168.0.0/16",
            "127.0.0.1/32",
            "169.254.169.254/32",
            "::1/128",
            "fe80::/64",
            "fd12:3456::/48",
        ] {
            assert!(is_private(&p.parse().unwrap()), "{p}");
        }
        for p in [
            "10.0.0.0/7",
            "172.32.0.0/16",
            "203.0.113.0/24",
            "2001:db8::/32",
            "0.0.0.0/0",
        ] {
            assert!(!is_private(&p.parse().unwrap()), "{p}");
        }
    }
}
