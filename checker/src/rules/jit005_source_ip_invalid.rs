//! ## What it does
//! Checks every value under `aws:SourceIp` or `aws:VpcSourceIp` in an `IpAddress` /
//! `NotIpAddress` condition (with or without `IfExists` and set prefixes). A value that is not an
//! IPv4 or IPv6 address or CIDR block (`123.456.789.0/24`, `[office IP]/32`, `10.0.0.0/33`) is
//! high; a CIDR block with host bits set (`203.0.113.7/24`) is medium, and the message names the
//! network that was probably meant.
//!
//! Access Analyzer reports the first kind as `TYPE_MISMATCH_IP`; JIT104 reports it for the other
//! condition keys of `IpAddress`/`NotIpAddress`.
//!
//! ## Why is this bad?
//! An allowlist entry that is not an address matches nothing, so the person it was meant for is
//! locked out, or, in a `Deny … NotIpAddress`, the fence is not where it was meant to be. AWS does
//! not always refuse such values, and other checkers accept `123.456.789.0/24`, which one of the
//! seed articles uses verbatim. Host bits usually mean a typo in the prefix length.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "*",
//!   "Resource": "*",
//!   "Condition": {"NotIpAddress": {"aws:SourceIp": ["123.456.789.0/24", "203.0.113.7/24"]}}
//! }
//! ```
//!
//! ## Fix
//! Write real addresses, with the host bits cleared:
//! `"aws:SourceIp": ["198.51.100.0/24", "203.0.113.0/24"]`.

use crate::cidr::{CidrError, parse_ip_or_cidr};
use crate::policy::{Policy, Term};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;

/// The condition keys that hold IP addresses.
pub(crate) const IP_KEYS: [&str; 2] = ["aws:SourceIp", "aws:VpcSourceIp"];

/// `IpAddress` / `NotIpAddress`, whatever the prefixes and suffixes.
pub(crate) fn is_ip_operator(base_operator: &str) -> bool {
    base_operator == "IpAddress" || base_operator == "NotIpAddress"
}

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>) {
    if !sink.enabled(Rule::SourceIpInvalid) {
        return;
    }
    for stmt in &policy.statements {
        for cond in &stmt.conditions {
            if !is_ip_operator(cond.base_operator()) || !IP_KEYS.iter().any(|k| cond.key_is(k)) {
                continue;
            }
            for value in &cond.values {
                let (level, message) = match &value.term {
                    Term::Unknown(why) => (
                        Level::Unchecked,
                        format!(
                            "could not check the {} values of {}: {why}",
                            cond.key, cond.operator
                        ),
                    ),
                    Term::Known(text) => match parse_ip_or_cidr(text) {
                        Ok(_) => continue,
                        Err(
                            e @ (CidrError::HostBitsSet { .. } | CidrError::LeadingZero { .. }),
                        ) => (Level::Lowered, format!("{} value {e}", cond.key)),
                        Err(e @ CidrError::Ipv4AsIpv6 { .. }) => {
                            (Level::Default, format!("{} value {e}", cond.key))
                        }
                        Err(_) => (
                            Level::Default,
                            format!(
                                "{} value {text:?} is not an IPv4 or IPv6 address or CIDR block, so this {} condition cannot match what was meant",
                                cond.key, cond.operator
                            ),
                        ),
                    },
                };
                sink.report(
                    scope,
                    Report {
                        rule: Rule::SourceIpInvalid,
                        level,
                        span: value.span,
                        statement: Some(stmt.index),
                        sid: stmt.sid,
                        key: format!(
                            "{}|{}|{}",
                            cond.operator,
                            cond.key,
                            value.known().unwrap_or("?")
                        ),
                        message,
                    },
                );
            }
        }
    }
}
