//! ## What it does
//! Flags an IP allowlist that admits everyone: `0.0.0.0/0`, `::/0`, or a prefix shorter than the
//! configured minimum (default /8 for IPv4, /32 for IPv6; `[source-ip]` in `jitlint.toml`) under
//! `aws:SourceIp` / `aws:VpcSourceIp` in the `NotIpAddress` condition of a `Deny`, or in the
//! `IpAddress` condition of an `Allow`. In Terraform plans it also checks the permanent
//! `allowed_cidrs` of `jit_source_ip_policy`.
//!
//! ## Why is this bad?
//! The statement looks like a fence and is none: a `Deny` unless the caller is in `0.0.0.0/0`
//! never denies, and an `Allow` if the caller is in `0.0.0.0/0` allows the world. Such entries
//! usually come from a debugging session or a variable left at its default.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "*",
//!   "Resource": "*",
//!   "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24", "0.0.0.0/0"]}}
//! }
//! ```
//!
//! ## Fix
//! List only the networks people actually come from, and grant temporary ones with
//! `jit_source_ip_policy`'s `temporary_cidrs`, which expire inside AWS.

use ipnet::IpNet;

use super::jit005_source_ip_invalid::{IP_KEYS, is_ip_operator};
use crate::cidr::{CidrError, parse_ip_or_cidr};
use crate::config::Config;
use crate::json::Span;
use crate::plan::{Plan, Resolved, Seg};
use crate::policy::{Effect, Policy};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;
use crate::rules::scope::attr_scope;

/// Parses an allowlist entry, taking the network of a value with host bits set.
pub(crate) fn allowlist_net(text: &str) -> Option<IpNet> {
    match parse_ip_or_cidr(text) {
        Ok(net) => Some(net),
        Err(CidrError::HostBitsSet { network, .. }) => Some(network),
        Err(_) => None,
    }
}

/// Why `net` is too broad for an allowlist, if it is.
pub(crate) fn too_broad(net: &IpNet, config: &Config) -> Option<String> {
    let min = match net {
        IpNet::V4(_) => config.source_ip_min_prefix_v4,
        IpNet::V6(_) => config.source_ip_min_prefix_v6,
    };
    if net.prefix_len() == 0 {
        Some(format!("{net} is every address"))
    } else if net.prefix_len() < min {
        Some(format!("{net} is shorter than the minimum prefix /{min}"))
    } else {
        None
    }
}

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>) {
    if !sink.enabled(Rule::SourceIpTooBroad) {
        return;
    }
    for stmt in &policy.statements {
        for cond in &stmt.conditions {
            let op = cond.base_operator();
            let relevant = match stmt.effect {
                Effect::Deny => op == "NotIpAddress",
                Effect::Allow => op == "IpAddress",
            };
            if !relevant || !is_ip_operator(op) || !IP_KEYS.iter().any(|k| cond.key_is(k)) {
                continue;
            }
            for value in &cond.values {
                let Some(text) = value.known() else { continue };
                let Some(why) = allowlist_net(text).and_then(|n| too_broad(&n, sink.config)) else {
                    continue;
                };
                let consequence = match stmt.effect {
                    Effect::Deny => "this Deny exempts (nearly) every caller",
                    Effect::Allow => "this Allow is open to (nearly) everyone",
                };
                let message = format!("{} allowlist entry {why}: {consequence}", cond.key);
                report(
                    sink,
                    scope,
                    value.span,
                    Some((stmt.index, stmt.sid)),
                    format!("{}|{}", cond.key, text),
                    message,
                );
            }
        }
    }
}

/// Reports one too-broad entry (also used for `jit_source_ip_policy.allowed_cidrs`).
pub(crate) fn report(
    sink: &mut Sink<'_>,
    scope: &Scope,
    span: Span,
    statement: Option<(usize, Option<&str>)>,
    key: String,
    message: String,
) {
    sink.report(
        scope,
        Report {
            rule: Rule::SourceIpTooBroad,
            level: Level::Default,
            span,
            statement: statement.map(|s| s.0),
            sid: statement.and_then(|s| s.1),
            key,
            message,
        },
    );
}

/// The permanent ranges of `jit_source_ip_policy` in a plan.
pub(crate) fn check_plan(sink: &mut Sink<'_>, plan: &Plan<'_>) {
    if !sink.enabled(Rule::SourceIpTooBroad) {
        return;
    }
    for p in plan.of_type("jit_source_ip_policy") {
        let path = [Seg::Key("allowed_cidrs")];
        let Some(Resolved::Known(list)) = plan.attr(p, &path) else {
            continue;
        };
        for v in list.as_array().unwrap_or(&[]) {
            let Some(text) = v.as_str() else { continue };
            let Some(why) = allowlist_net(text).and_then(|n| too_broad(&n, sink.config)) else {
                continue;
            };
            let scope = Scope {
                anchor: None,
                ..attr_scope(plan, p, &path)
            };
            let message =
                format!("allowed_cidrs entry {why}: the allowlist admits (nearly) everyone");
            report(
                sink,
                &scope,
                v.span,
                None,
                format!("allowed_cidrs|{text}"),
                message,
            );
        }
    }
}
