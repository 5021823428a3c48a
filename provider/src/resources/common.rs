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
//!
//! The state every grant kind keeps alike lives here too: the `status` values they share
//! ([`Status`]), the grant's terms as state attributes ([`Terms`]: `ttl`, `reason`,
//! `requested_by`, `created_at`, `expires_at`), the reading of a state object with its one
//! "corrupt state" message ([`StateReader`]), and the diagnostics of a failed AWS call.

use ipnet::IpNet;
use time::OffsetDateTime;

use crate::aws::nacl::AwsError;
use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::config::Settings;
use crate::duration::{Ttl, parse_ttl};
use crate::grant::lifecycle::has_ended;
use crate::tf::value::Number;
use crate::tf::{AttrPath, Attribute, Diagnostic, Diagnostics, Known, Type, Value};

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

/// Semantic equality of two `cidr_block` texts: the same block however it is written
/// (`2001:DB8::/32` and `2001:db8::/32`); texts that are no block compare as text.
pub fn same_cidr(a: &str, b: &str) -> bool {
    match (a.parse::<IpNet>(), b.parse::<IpNet>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The `expires_at` a grant updated in place plans, and whether the grant has ended by it at
/// `now` (the one expiry rule, [`has_ended`]): `created_at` plus the new `ttl`, or the prior
/// expiry when the arguments did not check (`ttl: None`); unknown while `ttl_value` is.
pub fn expiry_in_place(
    ttl_value: &Value,
    ttl: Option<Ttl>,
    created_at: OffsetDateTime,
    prior_expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> (Value, bool) {
    if ttl_value.is_unknown() {
        return (Value::Unknown, false);
    }
    let text = format_rfc3339(ttl.map_or(prior_expires_at, |t| created_at + t.as_time()));
    // As state will hold it (whole seconds).
    let ended = parse_rfc3339(&text).is_ok_and(|t| has_ended(t, now));
    (Value::from(text), ended)
}

/// At apply, the planned state of an update in place with its `expires_at` settled: a plan
/// leaves it unknown while the `ttl` comes from another resource, and it is `created_at` plus
/// the `ttl` known now (`ttl`: the checked arguments' `ttl`, or the check's errors).
pub fn settled_expiry(
    planned: &Value,
    created_at: OffsetDateTime,
    ttl: impl FnOnce() -> Result<Ttl, Diagnostics>,
) -> Result<Value, Diagnostics> {
    let mut planned = planned.clone();
    if planned.get("expires_at").is_unknown() {
        let ttl = ttl()?;
        planned.set(
            "expires_at",
            Value::from(format_rfc3339(created_at + ttl.as_time())),
        );
    }
    Ok(planned)
}

// State.

/// `status`: a grant that is in force.
pub const STATUS_ACTIVE: &str = "active";
/// `status`: a grant past its `expires_at` (the next apply removes it).
pub const STATUS_EXPIRED: &str = "expired";
/// `status`: a grant ended early by `jitctl revoke`, never granted again.
pub const STATUS_REVOKED: &str = "revoked";

/// The `status` values every grant kind has. `jit_client_vpn_grant` and the entries of
/// `jit_source_ip_policy` have exactly these; `jit_access_rule` has more, written with the same
/// constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Expired,
    /// Ended early by `jitctl revoke`.
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => STATUS_ACTIVE,
            Status::Expired => STATUS_EXPIRED,
            Status::Revoked => STATUS_REVOKED,
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Active, Status::Expired, Status::Revoked]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A grant's terms, as every grant kind keeps them in state: `ttl` as written, `reason` and
/// `requested_by` (null when not given), and `created_at`/`expires_at` in RFC 3339.
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    pub ttl: String,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Terms {
    /// The terms' attributes in a grant's schema; `expires_at_note` ends the description of
    /// `expires_at` with what the grant's end means for its kind (`""`: nothing more).
    pub fn schema(expires_at_note: &str) -> [Attribute; 5] {
        [
            Attribute::required(
                "ttl",
                Type::String,
                "How long the grant lasts from `created_at`, as a Go duration (`\"2h\"`, `\"90m\"`, `\"1h30m\"`). Positive and at most the provider's `max_ttl`. Changing it moves `expires_at` in place.",
            ),
            Attribute::optional(
                "reason",
                Type::String,
                "Why the access is needed. Stored with the grant in AWS; required when the provider sets `require_reason`.",
            ),
            Attribute::optional(
                "requested_by",
                Type::String,
                "Who asked for the access. Stored with the grant in AWS.",
            ),
            Attribute::computed(
                "created_at",
                Type::String,
                "When the grant was created (RFC 3339, UTC).",
            ),
            Attribute::computed(
                "expires_at",
                Type::String,
                &format!(
                    "When the grant ends: `created_at` + `ttl` (RFC 3339, UTC).{expires_at_note}"
                ),
            ),
        ]
    }

    /// The state attributes of the terms.
    pub fn attributes(self) -> [(&'static str, Value); 5] {
        [
            ("ttl", Value::from(self.ttl)),
            ("reason", Value::from(self.reason)),
            ("requested_by", Value::from(self.requested_by)),
            ("created_at", Value::from(format_rfc3339(self.created_at))),
            ("expires_at", Value::from(format_rfc3339(self.expires_at))),
        ]
    }

    /// Reads the terms from a state object.
    pub fn read(state: &StateReader) -> Result<Terms, Diagnostic> {
        Ok(Terms {
            created_at: state.time("created_at")?,
            expires_at: state.time("expires_at")?,
            ttl: state.required("ttl")?,
            requested_by: state.text("requested_by"),
            reason: state.text("reason"),
        })
    }
}

/// Reads one resource's state object (every attribute is known in state); whatever is missing
/// or malformed is the one "corrupt state" error, which says how to recover.
#[derive(Debug, Clone, Copy)]
pub struct StateReader<'v> {
    type_name: &'static str,
    value: &'v Value,
}

impl<'v> StateReader<'v> {
    pub fn new(type_name: &'static str, value: &'v Value) -> Self {
        StateReader { type_name, value }
    }

    /// A reader of an object nested in this state (an element of a map attribute).
    pub fn nested(&self, value: &'v Value) -> StateReader<'v> {
        StateReader::new(self.type_name, value)
    }

    /// The error for `what` (an attribute, or where it sits) being missing or invalid.
    pub fn bad(&self, what: &str) -> Diagnostic {
        Diagnostic::error(
            format!("Corrupt {} state", self.type_name),
            format!(
                "{what} is missing or invalid; remove the resource from state and import it again"
            ),
        )
    }

    /// A string attribute; `None` when null (or not a string).
    pub fn text(&self, name: &str) -> Option<String> {
        string(self.value.get(name))
    }

    /// A string attribute that must be there.
    pub fn required(&self, name: &str) -> Result<String, Diagnostic> {
        self.text(name).ok_or_else(|| self.bad(name))
    }

    /// A whole-number attribute; `None` when null (or not a whole number).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.value.get(name) {
            Value::Number(Number::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// An RFC 3339 time that must be there.
    pub fn time(&self, name: &str) -> Result<OffsetDateTime, Diagnostic> {
        self.text(name)
            .and_then(|t| parse_rfc3339(&t).ok())
            .ok_or_else(|| self.bad(name))
    }

    /// An RFC 3339 time or null; anything else is `what` being invalid.
    pub fn optional_time(
        &self,
        name: &str,
        what: &str,
    ) -> Result<Option<OffsetDateTime>, Diagnostic> {
        match self.value.get(name) {
            Value::Null => Ok(None),
            Value::String(s) => parse_rfc3339(s).map(Some).map_err(|_| self.bad(what)),
            _ => Err(self.bad(what)),
        }
    }
}

/// A string value's text; `None` for anything else.
pub fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// An AWS call failed: the summary says what jit was doing, the detail is AWS's answer.
pub fn aws_error(summary: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
}

/// A step of a write protocol failed: which step (`"delete the tag"`) and AWS's answer.
pub fn write_error(summary: &str, (step, e): (String, AwsError)) -> Diagnostic {
    Diagnostic::error(summary, format!("could not {step}: {e}"))
}

#[cfg(test)]
mod tests;
