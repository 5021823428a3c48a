//! ## What it does
//! Checks the grants of jit's own resources in a plan against the configured caps
//! (`[grants]` in `jitlint.toml`; defaults match the provider's: `max-ttl = "12h"`,
//! `min-prefix-ipv4 = 24`, `min-prefix-ipv6 = 48`):
//!
//! - `jit_access_rule`: `ttl` above the cap, or an allow rule whose `cidr_block` is wider than
//!   the minimum prefix (deny rules, temporary blocks, may be wide);
//! - `jit_source_ip_policy`: each entry of `temporary_cidrs` (keyed by CIDR) with a `ttl` above
//!   the cap or a CIDR wider than the minimum prefix.
//!
//! Values unknown at plan time give a `low` finding that says what could not be checked.
//!
//! ## Why is this bad?
//! A just-in-time grant is only as small as its TTL and its address range. A grant that lasts a
//! week or opens a /8 is a standing rule with extra steps, and the provider's own caps can be
//! raised in one place for everyone: this rule lets a repository hold itself to a stricter
//! standard in review.
//!
//! ## Example
//! ```hcl
//! resource "jit_access_rule" "vpn" {
//!   network_acl_id = "acl-0123456789abcdef0"
//!   cidr_block     = "203.0.0.0/16"
//!   protocol       = "udp"
//!   from_port      = 500
//!   to_port        = 500
//!   ttl            = "72h"
//! }
//! ```
//!
//! ## Fix
//! Grant the one address that needs access (`203.0.113.7/32`) for the time it is needed
//! (`ttl = "2h"`), and grant again tomorrow.

use crate::cidr::parse_ip_or_cidr;
use crate::duration::{format_duration, parse_duration};
use crate::json::Span;
use crate::plan::{Plan, Resolved, Seg};
use crate::report::{Level, Report, Sink};
use crate::rules::Rule;
use crate::rules::scope::attr_scope;

fn report(
    sink: &mut Sink<'_>,
    plan: &Plan<'_>,
    i: usize,
    path: &[Seg<'_>],
    span: Span,
    level: Level,
    message: String,
) {
    // The attribute path (scope context) tells findings of one grant apart.
    let mut scope = attr_scope(plan, i, path);
    scope.anchor = None;
    sink.report(
        &scope,
        Report {
            rule: Rule::JitGrantTooLong,
            level,
            span,
            statement: None,
            sid: None,
            key: String::new(),
            message,
        },
    );
}

fn check_ttl(sink: &mut Sink<'_>, plan: &Plan<'_>, i: usize, path: &[Seg<'_>], what: &str) {
    let cap = sink.config.grant_max_ttl_seconds;
    let span = plan.attr_span(i, path);
    match plan.attr(i, path) {
        Some(Resolved::Known(v)) => {
            let Some(ttl) = v.as_str() else { return };
            // Unparseable TTLs are the provider's to refuse, with its own message.
            let Ok(secs) = parse_duration(ttl) else {
                return;
            };
            if secs > cap {
                let message = format!(
                    "ttl {ttl:?} of {what} exceeds the cap of {}",
                    format_duration(cap)
                );
                report(sink, plan, i, path, span, Level::Default, message);
            }
        }
        Some(Resolved::Unknown(why)) => {
            let message = format!("could not check the ttl of {what}: ttl {why}");
            report(sink, plan, i, path, span, Level::Unchecked, message);
        }
        None => {}
    }
}

fn check_cidr(
    sink: &mut Sink<'_>,
    plan: &Plan<'_>,
    i: usize,
    path: &[Seg<'_>],
    cidr: &str,
    span: Span,
    label: &str,
) {
    let Ok(net) = parse_ip_or_cidr(cidr) else {
        return;
    };
    let min = match net {
        ipnet::IpNet::V4(_) => sink.config.grant_min_prefix_v4,
        ipnet::IpNet::V6(_) => sink.config.grant_min_prefix_v6,
    };
    if net.prefix_len() < min {
        let message = format!("{label} {net} is wider than the minimum prefix /{min} for grants");
        report(sink, plan, i, path, span, Level::Default, message);
    }
}

pub(crate) fn check_plan(sink: &mut Sink<'_>, plan: &Plan<'_>) {
    if !sink.enabled(Rule::JitGrantTooLong) {
        return;
    }
    {
        for r in plan.of_type("jit_access_rule") {
            check_ttl(sink, plan, r, &[Seg::Key("ttl")], "the grant");
            let deny = plan
                .known_str(r, &[Seg::Key("rule_action")])
                .is_some_and(|a| a.eq_ignore_ascii_case("deny"));
            let path = [Seg::Key("cidr_block")];
            match plan.attr(r, &path) {
                Some(Resolved::Known(v)) if !deny => {
                    if let Some(cidr) = v.as_str() {
                        check_cidr(sink, plan, r, &path, cidr, v.span, "cidr_block");
                    }
                }
                Some(Resolved::Unknown(why)) if !deny => {
                    let message =
                        format!("could not check how wide the grant is: cidr_block {why}");
                    report(
                        sink,
                        plan,
                        r,
                        &path,
                        plan.attr_span(r, &path),
                        Level::Unchecked,
                        message,
                    );
                }
                _ => {}
            }
        }
        for p in plan.of_type("jit_source_ip_policy") {
            let path = [Seg::Key("temporary_cidrs")];
            match plan.attr(p, &path) {
                Some(Resolved::Known(map)) => {
                    for m in map.as_object().unwrap_or(&[]) {
                        let entry = [Seg::Key("temporary_cidrs"), Seg::Key(&m.key)];
                        check_cidr(sink, plan, p, &entry, &m.key, m.key_span, "temporary entry");
                        let what = format!("temporary entry {}", m.key);
                        check_ttl(sink, plan, p, &[entry[0], entry[1], Seg::Key("ttl")], &what);
                    }
                }
                Some(Resolved::Unknown(why)) => {
                    let message =
                        format!("could not check the temporary grants: temporary_cidrs {why}");
                    report(
                        sink,
                        plan,
                        p,
                        &path,
                        plan.attr_span(p, &path),
                        Level::Unchecked,
                        message,
                    );
                }
                None => {}
            }
        }
    }
}
