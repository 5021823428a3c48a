//! The argument rules every grant kind shares, in one place: `ttl`, `reason`, `requested_by` and
//! the granted CIDR block. Each resource reads its arguments and calls these, at the attribute
//! path where the argument sits (`ttl` on `jit_access_rule`, `temporary_cidrs["…"].ttl` on
//! `jit_source_ip_policy`), so the same input gets the same message everywhere.
//!
//! The rules come in two phases, as a resource checks them: what needs nothing but the value
//! (`validate`, plan and apply), then what depends on the provider block ([`Settings`]: plan
//! and apply only). Unknown and null values pass: the caller knows whether an argument is
//! required.
//!
//! | attribute | on its own | against the provider block |
//! |---|---|---|
//! | `ttl` | [`ttl`]: a Go duration, positive | [`ttl_within_max`]: at most `max_ttl` |
//! | `reason` | [`reason`]: not blank when set | [`reason_if_required`]: set when `require_reason` |
//! | `requested_by` | free text: no rule of its own | none |
//! | CIDR block | [`cidr`]: a canonical block ([`jitlint::cidr::parse_cidr`]) | [`cidr_within_min_prefix`]: no wider than `min_prefix_length_ipv4`/`ipv6` |
//!
//! Where a grant is stored in a tag (`jit_access_rule`'s record), `reason` and `requested_by`
//! must also fit in it: that check belongs to the store, not here.

use ipnet::IpNet;

use crate::config::Settings;
use crate::duration::{Ttl, parse_ttl};
use crate::tf::{AttrPath, Diagnostic, Diagnostics, Known};

/// How a resource names what it grants, in the messages of these rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wording {
    /// What needs a TTL: `"a grant"`, `"a temporary entry"`.
    pub noun: &'static str,
    /// A TTL that suits it, for the advice: `"2h"`.
    pub ttl_example: &'static str,
    /// What the provider's minimum prefix lengths limit: `"allow rules"`, `"temporary access"`.
    pub prefix_scope: &'static str,
}

/// `ttl`: a Go duration (`"2h"`, `"1h30m"`), and not zero. Returns it when known and valid.
pub fn ttl(
    diags: &mut Diagnostics,
    at: &AttrPath,
    value: &Known<String>,
    w: Wording,
) -> Option<Ttl> {
    let Known::Value(text) = value else {
        return None;
    };
    match parse_ttl(text) {
        Ok(d) if d.seconds() == 0 => {
            diags.push(Diagnostic::invalid(
                at.clone(),
                format!(
                    "{text:?} is zero; {} needs a positive TTL such as {:?}",
                    w.noun, w.ttl_example
                ),
            ));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            diags.push(Diagnostic::invalid(at.clone(), e));
            None
        }
    }
}

/// `ttl` (`text` as written, parsed to `ttl`) is at most the provider's `max_ttl`.
pub fn ttl_within_max(
    diags: &mut Diagnostics,
    at: &AttrPath,
    text: &str,
    ttl: Ttl,
    settings: &Settings,
) {
    if ttl > settings.max_ttl {
        diags.push(Diagnostic::invalid(
            at.clone(),
            format!(
                "{text:?} ({ttl}) is longer than the provider's max_ttl ({}); shorten it, or raise max_ttl in the provider block",
                settings.max_ttl
            ),
        ));
    }
}

/// `reason`: optional, but when set it says something.
pub fn reason(diags: &mut Diagnostics, at: &AttrPath, value: &Known<String>) {
    if let Known::Value(r) = value
        && r.trim().is_empty()
    {
        diags.push(Diagnostic::invalid(
            at.clone(),
            "reason is empty; omit it or say why the access is needed",
        ));
    }
}

/// `reason` is set when the provider is configured with `require_reason = true`.
pub fn reason_if_required(
    diags: &mut Diagnostics,
    at: &AttrPath,
    value: &Known<String>,
    settings: &Settings,
) {
    if settings.require_reason && value.is_null() {
        diags.push(Diagnostic::invalid(
            at.clone(),
            "this provider is configured with require_reason = true; say why the access is needed",
        ));
    }
}

/// A CIDR block: IPv4 or IPv6, host bits clear, in canonical form. The message says what is
/// wrong and, where there is one, the block that was probably meant.
pub fn cidr(diags: &mut Diagnostics, at: &AttrPath, text: &str) -> Option<IpNet> {
    match jitlint::cidr::parse_cidr(text) {
        Ok(net) => Some(net),
        Err(e) => {
            diags.push(Diagnostic::invalid(at.clone(), e.to_string()));
            None
        }
    }
}

/// A granted block is no wider than the provider's `min_prefix_length_ipv4` (or `_ipv6`).
pub fn cidr_within_min_prefix(
    diags: &mut Diagnostics,
    at: &AttrPath,
    net: IpNet,
    settings: &Settings,
    w: Wording,
) {
    let (min, setting) = match net {
        IpNet::V4(_) => (settings.min_prefix_v4, "min_prefix_length_ipv4"),
        IpNet::V6(_) => (settings.min_prefix_v6, "min_prefix_length_ipv6"),
    };
    if net.prefix_len() < min {
        diags.push(Diagnostic::invalid(
            at.clone(),
            format!(
                "{net} opens /{} but the provider allows at most /{min} for {}; narrow it, or lower {setting} in the provider block",
                net.prefix_len(),
                w.prefix_scope
            ),
        ));
    }
}

#[cfg(test)]
mod tests;
