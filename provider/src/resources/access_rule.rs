//! `jit_access_rule`: a network-ACL entry that lives for a TTL.
//!
//! Lifecycle: create adds the entry (never replacing one) and a tag on the ACL recording the
//! grant; once `expires_at` passes, the plan shows `status: "active" -> "expired"` and apply
//! deletes the entry and its tag while the resource stays in state, so the next plan is
//! empty. A grant revoked early by `jitctl` reads as `"revoked"` and is not re-created. An
//! entry that vanished before its expiry with no revoke marker is drift, and is re-created.

use async_trait::async_trait;
use ipnet::IpNet;
use time::OffsetDateTime;

use crate::aws::nacl::{AclView, CreateOutcome};
use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::config::{RULE_NUMBER_MAX, RULE_NUMBER_MIN, Settings};
use crate::duration::{Ttl, parse_ttl};
use crate::grant::{
    Direction, EntrySpec, Grant, Ports, Protocol, RuleAction, TAGS_PER_RESOURCE_MAX, tag_key,
};
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::tf::value::Reader;
use crate::tf::{AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Schema, Type, Value};

pub const TYPE_NAME: &str = "jit_access_rule";

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_EXPIRED: &str = "expired";
pub const STATUS_REVOKED: &str = "revoked";

/// Attributes whose change means a different entry, so a new grant.
const REPLACING: [&str; 7] = [
    "network_acl_id",
    "cidr_block",
    "protocol",
    "from_port",
    "to_port",
    "egress",
    "rule_action",
];

pub struct AccessRule;

fn path(name: &str) -> AttrPath {
    AttrPath::root(name)
}

/// The grant's arguments, validated and parsed. Built only when every argument is known.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    acl_id: String,
    entry_cidr: IpNet,
    protocol: Protocol,
    ports: Option<Ports>,
    direction: Direction,
    action: RuleAction,
    /// The number the user asked for, if any.
    rule_number: Option<i32>,
    ttl: Ttl,
    ttl_text: String,
    reason: Option<String>,
    requested_by: Option<String>,
}

impl Args {
    fn spec(&self, rule_number: i32) -> EntrySpec {
        EntrySpec {
            direction: self.direction,
            rule_number,
            cidr: self.entry_cidr,
            protocol: self.protocol,
            ports: self.ports,
            action: self.action,
        }
    }

    fn grant(&self, rule_number: i32, created_at: OffsetDateTime) -> Grant {
        Grant {
            entry: self.spec(rule_number),
            created_at,
            expires_at: created_at + self.ttl.as_time(),
            ttl: self.ttl_text.clone(),
            requested_by: self.requested_by.clone(),
            reason: self.reason.clone(),
            revoked_at: None,
        }
    }
}

/// Valid network ACL ids: `acl-` and 8 or 17 lowercase hex digits.
pub fn valid_acl_id(id: &str) -> bool {
    id.strip_prefix("acl-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Parses and checks every argument that is known. With `settings`, also the checks that
/// depend on the provider configuration (plan and apply time). Returns the parsed arguments
/// only when all are known and valid.
fn check(v: &Value, settings: Option<&Settings>, diags: &mut Diagnostics) -> Option<Args> {
    let mut r = Reader::new(v);
    let acl: Known<String> = r.get(diags, &path("network_acl_id"));
    let cidr: Known<String> = r.get(diags, &path("cidr_block"));
    let protocol: Known<String> = r.get(diags, &path("protocol"));
    let action: Known<String> = r.get(diags, &path("rule_action"));
    let ttl: Known<String> = r.get(diags, &path("ttl"));
    let reason: Known<String> = r.get(diags, &path("reason"));
    let requested_by: Known<String> = r.get(diags, &path("requested_by"));
    let from_port: Known<i64> = r.get(diags, &path("from_port"));
    let to_port: Known<i64> = r.get(diags, &path("to_port"));
    let rule_number: Known<i64> = r.get(diags, &path("rule_number"));
    let egress: Known<bool> = r.get(diags, &path("egress"));
    let errors_before = diags.0.len();

    if let Known::Value(id) = &acl
        && !valid_acl_id(id)
    {
        diags.push(Diagnostic::invalid(
            path("network_acl_id"),
            format!("{id:?} is not a network ACL id; expected \"acl-\" followed by 8 or 17 hex digits, e.g. \"acl-0123456789abcdef0\""),
        ));
    }
    let parsed_cidr = match &cidr {
        Known::Value(c) => match jitlint::cidr::parse_cidr(c) {
            Ok(net) => Some(net),
            Err(e) => {
                diags.push(Diagnostic::invalid(path("cidr_block"), e.to_string()));
                None
            }
        },
        _ => None,
    };
    let parsed_protocol = match &protocol {
        Known::Value(p) => match Protocol::parse(p) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(Diagnostic::invalid(path("protocol"), e));
                None
            }
        },
        _ => None,
    };
    if let (Some(p), Some(net)) = (parsed_protocol, parsed_cidr) {
        match (p, net) {
            (Protocol::ICMP, IpNet::V6(_)) => diags.push(Diagnostic::invalid(
                path("protocol"),
                format!("\"icmp\" does not apply to the IPv6 block {net}; use \"icmpv6\""),
            )),
            (Protocol::ICMPV6, IpNet::V4(_)) => diags.push(Diagnostic::invalid(
                path("protocol"),
                format!("\"icmpv6\" does not apply to the IPv4 block {net}; use \"icmp\""),
            )),
            _ => {}
        }
    }
    let mut ports = None;
    if let Some(p) = parsed_protocol {
        if p.has_ports() {
            let port = |diags: &mut Diagnostics, name: &str, n: i64| -> Option<u16> {
                match u16::try_from(n) {
                    Ok(port) => Some(port),
                    Err(_) => {
                        diags.push(Diagnostic::invalid(
                            path(name),
                            format!("{n} is not a port; ports are 0-65535"),
                        ));
                        None
                    }
                }
            };
            match (&from_port, &to_port) {
                (Known::Null, _) => diags.push(Diagnostic::invalid(
                    path("from_port"),
                    format!(
                        "from_port is required for protocol {p}; set it (and to_port for a range)"
                    ),
                )),
                (Known::Value(f), to) => {
                    let from = port(diags, "from_port", *f);
                    let to = match to {
                        Known::Value(t) => port(diags, "to_port", *t),
                        _ => from,
                    };
                    if let (Some(from), Some(to)) = (from, to) {
                        if from > to {
                            diags.push(Diagnostic::invalid(
                                path("to_port"),
                                format!("to_port ({to}) is lower than from_port ({from})"),
                            ));
                        } else {
                            ports = Some(Ports { from, to });
                        }
                    }
                }
                _ => {}
            }
        } else {
            for (name, val) in [("from_port", &from_port), ("to_port", &to_port)] {
                if let Known::Value(n) = val {
                    diags.push(Diagnostic::invalid(
                        path(name),
                        format!("{name} = {n} can't be used with protocol {p}, which has no ports; remove it"),
                    ));
                }
            }
        }
    }
    let parsed_action = match &action {
        Known::Value(a) => match RuleAction::parse(a) {
            Some(a) => Some(a),
            None => {
                diags.push(Diagnostic::invalid(
                    path("rule_action"),
                    format!("{a:?} is not \"allow\" or \"deny\""),
                ));
                None
            }
        },
        Known::Null => Some(RuleAction::Allow),
        Known::Unknown => None,
    };
    let parsed_rule_number = match rule_number {
        Known::Value(n)
            if (i64::from(RULE_NUMBER_MIN)..=i64::from(RULE_NUMBER_MAX)).contains(&n) =>
        {
            Some(n as i32)
        }
        Known::Value(n) => {
            diags.push(Diagnostic::invalid(
                path("rule_number"),
                format!("{n} is outside {RULE_NUMBER_MIN}-{RULE_NUMBER_MAX}, the numbers AWS allows for NACL entries"),
            ));
            None
        }
        _ => None,
    };
    let parsed_ttl = match &ttl {
        Known::Value(t) => match parse_ttl(t) {
            Ok(d) if d.seconds() == 0 => {
                diags.push(Diagnostic::invalid(
                    path("ttl"),
                    format!("{t:?} is zero; a grant needs a positive TTL such as \"2h\""),
                ));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                diags.push(Diagnostic::invalid(path("ttl"), e));
                None
            }
        },
        _ => None,
    };
    if let Known::Value(r) = &reason
        && r.trim().is_empty()
    {
        diags.push(Diagnostic::invalid(
            path("reason"),
            "reason is empty; omit it or say why the access is needed",
        ));
    }

    if let Some(s) = settings {
        if let Some(t) = parsed_ttl
            && t > s.max_ttl
        {
            diags.push(Diagnostic::invalid(
                path("ttl"),
                format!("{:?} ({t}) is longer than the provider's max_ttl ({}); shorten it, or raise max_ttl in the provider block", ttl.value().map(String::as_str).unwrap_or_default(), s.max_ttl),
            ));
        }
        if s.require_reason && reason.is_null() {
            diags.push(Diagnostic::invalid(
                path("reason"),
                "this provider is configured with require_reason = true; say why the access is needed",
            ));
        }
        if let (Some(net), Some(RuleAction::Allow)) = (parsed_cidr, parsed_action) {
            let (min, name) = match net {
                IpNet::V4(_) => (s.min_prefix_v4, "min_prefix_length_ipv4"),
                IpNet::V6(_) => (s.min_prefix_v6, "min_prefix_length_ipv6"),
            };
            if net.prefix_len() < min {
                diags.push(Diagnostic::invalid(
                    path("cidr_block"),
                    format!("{net} opens /{} but the provider allows at most /{min} for allow rules; narrow it, or lower {name} in the provider block", net.prefix_len()),
                ));
            }
        }
    }

    if diags.0.len() > errors_before || !r.complete {
        return None;
    }
    let args = Args {
        acl_id: acl.into_value()?,
        entry_cidr: parsed_cidr?,
        protocol: parsed_protocol?,
        ports,
        direction: Direction::from_egress(egress.into_value().unwrap_or(false)),
        action: parsed_action?,
        rule_number: parsed_rule_number,
        ttl: parsed_ttl?,
        ttl_text: ttl.into_value()?,
        reason: reason.into_value(),
        requested_by: requested_by.into_value(),
    };
    // The tag must hold the whole grant. Check with a 10-digit epoch, as stored until 2286.
    let probe = args.grant(
        args.rule_number.unwrap_or(RULE_NUMBER_MAX),
        OffsetDateTime::from_unix_timestamp(2_000_000_000).expect("valid"),
    );
    let room = probe.tag_room();
    if room < 0 {
        let over = -room;
        let target = if args.reason.is_some() {
            "reason"
        } else {
            "requested_by"
        };
        diags.push(Diagnostic::invalid(
            path(target),
            format!("the grant's details are {over} character(s) too long for its AWS tag (256 characters, shared by reason, requested_by and the rule); shorten {target}"),
        ));
        return None;
    }
    Some(args)
}

/// The state object for a grant.
fn state(acl_id: &str, g: &Grant, status: &str, protocol_text: &str, cidr_text: &str) -> Value {
    let (from, to) = match g.entry.ports {
        Some(p) => (Value::from(i64::from(p.from)), Value::from(i64::from(p.to))),
        None => (Value::Null, Value::Null),
    };
    Value::object([
        (
            "id",
            Value::from(grant_id(acl_id, g.entry.direction, g.entry.rule_number)),
        ),
        ("network_acl_id", Value::from(acl_id)),
        ("cidr_block", Value::from(cidr_text)),
        ("protocol", Value::from(protocol_text)),
        ("from_port", from),
        ("to_port", to),
        ("egress", Value::from(g.entry.direction.is_egress())),
        ("rule_action", Value::from(g.entry.action.as_str())),
        ("rule_number", Value::from(i64::from(g.entry.rule_number))),
        ("ttl", Value::from(g.ttl.as_str())),
        ("reason", Value::from(g.reason.clone())),
        ("requested_by", Value::from(g.requested_by.clone())),
        ("created_at", Value::from(format_rfc3339(g.created_at))),
        ("expires_at", Value::from(format_rfc3339(g.expires_at))),
        ("status", Value::from(status)),
    ])
}

/// `acl-…:ingress:200`: the resource id and the import id.
pub fn grant_id(acl_id: &str, direction: Direction, rule_number: i32) -> String {
    format!("{acl_id}:{direction}:{rule_number}")
}

/// Parses `acl-…:ingress:200`.
pub fn parse_grant_id(id: &str) -> Result<(String, Direction, i32), String> {
    let usage = || {
        format!(
            "{id:?} is not a grant id; expected \"acl-0123456789abcdef0:ingress:200\" (or :egress:)"
        )
    };
    let mut parts = id.split(':');
    let (Some(acl), Some(dir), Some(num), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(usage());
    };
    if !valid_acl_id(acl) {
        return Err(usage());
    }
    let direction = Direction::parse(dir).ok_or_else(usage)?;
    let n: i32 = num.parse().map_err(|_| usage())?;
    if !(RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(&n) {
        return Err(usage());
    }
    Ok((acl.to_string(), direction, n))
}

/// The grant recorded in a state object (every attribute is known in state).
fn grant_from_state(v: &Value) -> Result<(String, Grant, String), Diagnostic> {
    let bad = |what: &str| {
        Diagnostic::error(
            "Corrupt jit_access_rule state",
            format!(
                "{what} is missing or invalid; remove the resource from state and import it again"
            ),
        )
    };
    let s = |name: &str| v.get(name).clone();
    let text = |name: &str| match s(name) {
        Value::String(x) => Some(x),
        _ => None,
    };
    let num = |name: &str| match s(name) {
        Value::Number(crate::tf::value::Number::Int(n)) => Some(n),
        _ => None,
    };
    let acl = text("network_acl_id").ok_or_else(|| bad("network_acl_id"))?;
    let cidr = text("cidr_block")
        .and_then(|c| c.parse::<IpNet>().ok())
        .ok_or_else(|| bad("cidr_block"))?;
    let protocol = text("protocol")
        .and_then(|p| Protocol::parse(&p).ok())
        .ok_or_else(|| bad("protocol"))?;
    let ports = match (num("from_port"), num("to_port")) {
        (Some(f), Some(t)) => Some(Ports {
            from: u16::try_from(f).map_err(|_| bad("from_port"))?,
            to: u16::try_from(t).map_err(|_| bad("to_port"))?,
        }),
        _ => None,
    };
    let g = Grant {
        entry: EntrySpec {
            direction: Direction::from_egress(matches!(s("egress"), Value::Bool(true))),
            rule_number: num("rule_number")
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| bad("rule_number"))?,
            cidr,
            protocol,
            ports,
            action: text("rule_action")
                .and_then(|a| RuleAction::parse(&a))
                .ok_or_else(|| bad("rule_action"))?,
        },
        created_at: text("created_at")
            .and_then(|t| parse_rfc3339(&t).ok())
            .ok_or_else(|| bad("created_at"))?,
        expires_at: text("expires_at")
            .and_then(|t| parse_rfc3339(&t).ok())
            .ok_or_else(|| bad("expires_at"))?,
        ttl: text("ttl").ok_or_else(|| bad("ttl"))?,
        requested_by: text("requested_by"),
        reason: text("reason"),
        revoked_at: None,
    };
    let status = text("status").ok_or_else(|| bad("status"))?;
    Ok((acl, g, status))
}

/// Semantic equality of two configuration values of a replacing attribute.
fn same_meaning(name: &str, a: &Value, b: &Value) -> bool {
    match (name, a, b) {
        ("cidr_block", Value::String(x), Value::String(y)) => {
            match (x.parse::<IpNet>(), y.parse::<IpNet>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => x == y,
            }
        }
        ("protocol", Value::String(x), Value::String(y)) => {
            match (Protocol::parse(x), Protocol::parse(y)) {
                (Ok(x), Ok(y)) => x == y,
                _ => x == y,
            }
        }
        _ => a == b,
    }
}

/// Warnings for an entry that would never match because a lower-numbered entry of the opposite
/// action covers it (NACLs evaluate the lowest number first).
fn shadow_warnings(view: &AclView, spec: &EntrySpec, number_known: bool) -> Vec<Diagnostic> {
    view.entries
        .iter()
        .filter(|e| e.direction == spec.direction && e.action != spec.action)
        .filter(|e| !number_known || e.rule_number < spec.rule_number)
        .filter(|e| e.cidr.is_some_and(|c| c.contains(&spec.cidr)))
        .filter(|e| e.protocol == Protocol::ALL || e.protocol == spec.protocol)
        .filter(|e| match (e.ports, spec.ports) {
            (None, _) => true,
            (Some(_), None) => e.protocol != Protocol::ALL && !spec.protocol.has_ports(),
            (Some(ep), Some(sp)) => ep.from <= sp.from && sp.to <= ep.to,
        })
        .filter(|e| e.rule_number < RULE_NUMBER_MAX + 1)
        .map(|e| {
            let when = if number_known { "a lower-numbered" } else { "an existing" };
            Diagnostic::warning(
                "Grant is shadowed",
                format!(
                    "{when} entry on {} ({}) has the opposite action and covers {}: NACLs evaluate the lowest number first, so this grant would have no effect{}",
                    view.acl_id,
                    e.describe(),
                    spec.cidr,
                    if number_known { "; pick a rule_number below it" } else { "" }
                ),
            )
            .at(path("cidr_block"))
        })
        .collect()
}

fn aws_error(summary: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
}

/// Whether a jit tag at this number records a revoked grant.
fn holds_revoke_marker(view: &AclView, direction: Direction, n: i32) -> bool {
    let key = tag_key(direction, n);
    view.tags
        .get(&key)
        .is_some_and(|v| Grant::from_tag(&key, v).map_or(true, |g| g.revoked_at.is_some()))
}

/// What holds a rule number, for the "taken" error.
fn holder(view: &AclView, direction: Direction, n: i32) -> String {
    let entry = view.entry(direction, n).map(|e| e.describe());
    let tag = view
        .tags
        .get(&tag_key(direction, n))
        .and_then(|v| Grant::from_tag(&tag_key(direction, n), v).ok());
    match (entry, tag) {
        (Some(e), Some(g)) => format!(
            "{e}, a jit grant{} expiring {}",
            g.requested_by
                .map(|b| format!(" for {b}"))
                .unwrap_or_default(),
            format_rfc3339(g.expires_at)
        ),
        (Some(e), None) => format!("{e}, not managed by jit"),
        (None, _) => "an entry created concurrently".into(),
    }
}

impl AccessRule {
    /// Creates the entry and its tag; on any failure after the entry exists, removes it again.
    async fn create(&self, env: &Env, args: &Args) -> Result<Grant, Diagnostics> {
        let created_at = env.clock.now();
        let view = env
            .nacls
            .view_uncached(&args.acl_id)
            .await
            .map_err(|e| aws_error("Could not read the network ACL", e))?
            .ok_or_else(|| {
                Diagnostic::invalid(
                    path("network_acl_id"),
                    format!(
                        "network ACL {} does not exist in this account and region",
                        args.acl_id
                    ),
                )
            })?;
        let jit_tags = view.tags.len();
        if jit_tags >= TAGS_PER_RESOURCE_MAX {
            return Err(Diagnostic::error(
                "Network ACL has no room for another grant",
                format!("{} already carries {jit_tags} tags, AWS's maximum; each jit grant needs one. Let grants expire or run `jitctl sweep`", args.acl_id),
            ).into());
        }
        let number = match args.rule_number {
            Some(n) => match env.nacls.create_entry(&args.acl_id, &args.spec(n)).await {
                Ok(CreateOutcome::Created) => n,
                Ok(CreateOutcome::NumberTaken) => {
                    let view = env
                        .nacls
                        .view_uncached(&args.acl_id)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    return Err(Diagnostic::invalid(
                        path("rule_number"),
                        format!("rule number {n} ({}) on {} is already taken by {}; jit never replaces an entry. Pick another rule_number, or omit it to use the next free one in the provider's rule_numbers range", args.direction, args.acl_id, holder(&view, args.direction, n)),
                    ).into());
                }
                Err(e) => return Err(aws_error("Could not create the network ACL entry", e).into()),
            },
            None => self.create_numbered(env, args).await?,
        };
        let grant = args.grant(number, created_at);
        if let Err(e) = env
            .nacls
            .put_tag(&args.acl_id, &grant.tag_key(), &grant.tag_value())
            .await
        {
            // Nothing half-applied: an entry without its tag would be a grant nobody expires.
            let rollback = env
                .nacls
                .delete_entry(&args.acl_id, args.direction, number)
                .await;
            let mut d = Diagnostics::from(aws_error(
                "Could not tag the network ACL with the grant; the entry was removed again",
                e,
            ));
            if let Err(r) = rollback {
                d.push(aws_error(&format!("Could not remove entry {number} after the failed tag write; delete it by hand"), r));
            }
            return Err(d);
        }
        Ok(grant)
    }

    /// Automatic numbering: the lowest free number in the range. Numbers held by an entry or
    /// by a revoke marker (it outlives its entry, so the provider can report `revoked`) are
    /// skipped; a number that someone takes between look-up and create moves us on to the
    /// next one. A jit tag with neither entry nor marker is a leftover (an entry deleted by
    /// hand, or an expiry nobody swept): the number is free and the new grant's tag replaces it.
    async fn create_numbered(&self, env: &Env, args: &Args) -> Result<i32, Diagnostics> {
        let _lock = env.nacls.allocation_lock(&args.acl_id).await;
        let (from, to) = env.settings.rule_numbers;
        let mut lost_races = std::collections::BTreeSet::new();
        loop {
            let view = env
                .nacls
                .view(&args.acl_id)
                .await
                .map_err(|e| aws_error("Could not read the network ACL", e))?
                .unwrap_or_default();
            let free = (from..=to).find(|n| {
                view.entry(args.direction, *n).is_none()
                    && !holds_revoke_marker(&view, args.direction, *n)
                    && !lost_races.contains(n)
            });
            let Some(n) = free else {
                return Err(Diagnostic::error(
                    "No free rule number",
                    format!("every {} rule number in the provider's rule_numbers range {from}-{to} on {} is taken; widen the range, set rule_number explicitly, or let grants expire", args.direction, args.acl_id),
                ).into());
            };
            match env.nacls.create_entry(&args.acl_id, &args.spec(n)).await {
                Ok(CreateOutcome::Created) => return Ok(n),
                Ok(CreateOutcome::NumberTaken) => {
                    lost_races.insert(n);
                }
                Err(e) => return Err(aws_error("Could not create the network ACL entry", e).into()),
            }
        }
    }

    /// Removes the entry (only if it is still the one the grant describes) and the grant's tag.
    async fn remove(&self, env: &Env, acl: &str, g: &Grant) -> Result<(), Diagnostic> {
        let Some(view) = env
            .nacls
            .view_uncached(acl)
            .await
            .map_err(|e| aws_error("Could not read the network ACL", e))?
        else {
            return Ok(());
        };
        if let Some(e) = view.entry(g.entry.direction, g.entry.rule_number)
            && e.matches(&g.entry)
        {
            env.nacls
                .delete_entry(acl, g.entry.direction, g.entry.rule_number)
                .await
                .map_err(|e| aws_error("Could not delete the network ACL entry", e))?;
        }
        // Only the value seen here: a tag rewritten meanwhile belongs to a newer grant.
        if let Some(value) = view.tags.get(&g.tag_key()) {
            env.nacls
                .delete_tag(acl, &g.tag_key(), value)
                .await
                .map_err(|e| aws_error("Could not delete the grant's tag", e))?;
        }
        Ok(())
    }
}

fn with_defaults(mut v: Value) -> Value {
    if v.get("egress").is_null() {
        v.set("egress", Value::from(false));
    }
    if v.get("rule_action").is_null() {
        v.set("rule_action", Value::from("allow"));
    }
    if v.get("to_port").is_null() && !v.get("from_port").is_null() {
        let from = v.get("from_port").clone();
        v.set("to_port", from);
    }
    v
}

#[async_trait]
impl Resource for AccessRule {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            block: schema_block(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::default();
        check(config, None, &mut diags);
        diags
    }

    async fn plan(&self, env: &Env, req: PlanRequest) -> Plan {
        let mut plan = Plan::default();
        if req.proposed.is_null() {
            return plan; // destroy
        }
        let mut planned = with_defaults(req.proposed);
        let args = check(&planned, Some(&env.settings), &mut plan.diags);
        if plan.diags.has_errors() {
            plan.planned = planned;
            return plan;
        }
        let now = env.clock.now();
        if !req.prior.is_null() {
            let (_, prior, status) = match grant_from_state(&req.prior) {
                Ok(x) => x,
                Err(d) => {
                    plan.diags.push(d);
                    return plan;
                }
            };
            for name in REPLACING {
                if !same_meaning(name, req.prior.get(name), planned.get(name)) {
                    plan.requires_replace.push(path(name));
                }
            }
            let explicit = req.config.get("rule_number");
            if !explicit.is_null() && explicit != req.prior.get("rule_number") {
                plan.requires_replace.push(path("rule_number"));
            }
            // An ended grant can't be extended in place: its entry is gone. A new TTL means a new grant.
            if status != STATUS_ACTIVE && req.prior.get("ttl") != planned.get("ttl") {
                plan.requires_replace.push(path("ttl"));
            }
            if plan.requires_replace.is_empty() {
                let expires_at = match args.as_ref().map(|a| a.ttl) {
                    Some(ttl) => prior.created_at + ttl.as_time(),
                    None => prior.expires_at,
                };
                planned.set("expires_at", Value::from(format_rfc3339(expires_at)));
                if status == STATUS_ACTIVE && now >= expires_at {
                    planned.set("status", Value::from(STATUS_EXPIRED));
                    plan.diags.push(Diagnostic::warning(
                        "Grant expired",
                        format!("{} expired at {}; this apply removes the network ACL entry and its tag. Use `terraform apply -replace` for a fresh grant.",
                            req.prior.get("id").value_str(), format_rfc3339(expires_at)),
                    ));
                }
                plan.planned = planned;
                return plan;
            }
        }
        // A new grant (create or replacement): AWS decides the rest at apply.
        for name in ["id", "created_at", "expires_at"] {
            planned.set(name, Value::Unknown);
        }
        if req.config.get("rule_number").is_null() {
            planned.set("rule_number", Value::Unknown);
        }
        planned.set("status", Value::from(STATUS_ACTIVE));
        if let Some(args) = &args {
            match env.nacls.view(&args.acl_id).await {
                Ok(Some(view)) => {
                    let spec = args.spec(args.rule_number.unwrap_or(0));
                    if let Some(n) = args.rule_number
                        && let Some(e) = view.entry(args.direction, n)
                        // Replacing our own entry at the same number: it is deleted before the new one is created.
                        && (req.prior.get("rule_number") != &Value::from(i64::from(n))
                            || plan.requires_replace.is_empty())
                    {
                        plan.diags.push(Diagnostic::invalid(
                            path("rule_number"),
                            format!("rule number {n} ({}) on {} is already taken by {}; jit never replaces an entry. Pick another rule_number, or omit it to use the next free one", args.direction, args.acl_id, holder(&view, args.direction, e.rule_number)),
                        ));
                    }
                    plan.diags
                        .0
                        .extend(shadow_warnings(&view, &spec, args.rule_number.is_some()));
                }
                Ok(None) => plan.diags.push(Diagnostic::invalid(
                    path("network_acl_id"),
                    format!(
                        "network ACL {} does not exist in this account and region",
                        args.acl_id
                    ),
                )),
                Err(e) => plan
                    .diags
                    .push(aws_error("Could not read the network ACL", e)),
            }
        }
        plan.planned = planned;
        plan
    }

    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
        if req.planned.is_null() {
            // Destroy. An entry that is already gone is fine.
            return match grant_from_state(&req.prior) {
                Ok((acl, g, _)) => match self.remove(env, &acl, &g).await {
                    Ok(()) => (Value::Null, Diagnostics::default()),
                    Err(d) => (req.prior, d.into()),
                },
                Err(d) => (req.prior, d.into()),
            };
        }
        let mut diags = Diagnostics::default();
        if req.prior.is_null() {
            // `rule_number` is unknown in the plan when jit picks it; the configuration says
            // whether the user asked for one.
            let mut wanted = req.planned.clone();
            wanted.set("rule_number", req.config.get("rule_number").clone());
            let Some(args) = check(&wanted, Some(&env.settings), &mut diags) else {
                if !diags.has_errors() {
                    diags.push(Diagnostic::error(
                        "Arguments still unknown at apply",
                        "every argument of jit_access_rule must be known when it is created",
                    ));
                }
                return (Value::Null, diags);
            };
            return match self.create(env, &args).await {
                Ok(g) => {
                    let protocol = req.planned.get("protocol").value_str().to_string();
                    let cidr = req.planned.get("cidr_block").value_str().to_string();
                    (
                        state(&args.acl_id, &g, STATUS_ACTIVE, &protocol, &cidr),
                        diags,
                    )
                }
                Err(d) => {
                    diags.extend(d);
                    (Value::Null, diags)
                }
            };
        }
        // In-place update: expiry, a new TTL, reason or requester.
        let (acl, prior, prior_status) = match grant_from_state(&req.prior) {
            Ok(x) => x,
            Err(d) => return (req.prior, d.into()),
        };
        let (_, next, next_status) = match grant_from_state(&req.planned) {
            Ok(x) => x,
            Err(d) => return (req.prior, d.into()),
        };
        if prior_status == STATUS_ACTIVE && next_status == STATUS_EXPIRED {
            if let Err(d) = self.remove(env, &acl, &prior).await {
                return (req.prior, d.into());
            }
        } else if next_status == STATUS_ACTIVE
            && (next.ttl != prior.ttl
                || next.reason != prior.reason
                || next.requested_by != prior.requested_by)
            && let Err(e) = env
                .nacls
                .put_tag(&acl, &next.tag_key(), &next.tag_value())
                .await
        {
            return (
                req.prior,
                aws_error("Could not update the grant's tag", e).into(),
            );
        }
        (req.planned, diags)
    }

    async fn read(&self, env: &Env, current: Value) -> (Value, Diagnostics) {
        let (acl, g, status) = match grant_from_state(&current) {
            Ok(x) => x,
            Err(d) => return (current, d.into()),
        };
        let view = match env.nacls.view(&acl).await {
            Ok(v) => v,
            Err(e) => {
                return (
                    current,
                    aws_error("Could not read the network ACL", e).into(),
                );
            }
        };
        let entry_present = view
            .as_ref()
            .and_then(|v| v.entry(g.entry.direction, g.entry.rule_number))
            .is_some_and(|e| e.matches(&g.entry));
        let revoked = view
            .as_ref()
            .and_then(|v| v.tags.get(&g.tag_key()))
            .and_then(|t| Grant::from_tag(&g.tag_key(), t).ok())
            .is_some_and(|t| t.revoked_at.is_some() && t.entry == g.entry);
        let next_status = if status != STATUS_ACTIVE {
            status.as_str()
        } else if entry_present {
            STATUS_ACTIVE
        } else if revoked {
            STATUS_REVOKED
        } else if env.clock.now() >= g.expires_at {
            STATUS_EXPIRED
        } else {
            // Gone before its time with no revoke marker: drift, so the plan re-creates it.
            return (Value::Null, Diagnostics::default());
        };
        let mut next = current;
        next.set("status", Value::from(next_status));
        (next, Diagnostics::default())
    }

    async fn import(&self, env: &Env, id: &str) -> Result<Value, Diagnostics> {
        let (acl, direction, number) =
            parse_grant_id(id).map_err(|e| Diagnostic::error("Invalid import id", e))?;
        let view = env
            .nacls
            .view(&acl)
            .await
            .map_err(|e| aws_error("Could not read the network ACL", e))?
            .ok_or_else(|| {
                Diagnostic::error(
                    "Cannot import",
                    format!("network ACL {acl} does not exist in this account and region"),
                )
            })?;
        let key = tag_key(direction, number);
        let Some(raw) = view.tags.get(&key) else {
            let what = view
                .entry(direction, number)
                .map_or_else(|| "no entry".to_string(), |e| e.describe());
            return Err(Diagnostic::error(
                "Not a jit grant",
                format!("{acl} has {what} at {direction} {number} but no jit tag {key:?}; jit imports only grants it created, because only those have an expiry. Create the grant with jit_access_rule instead"),
            ).into());
        };
        let g = Grant::from_tag(&key, raw)
            .map_err(|e| Diagnostic::error("Cannot import", e.to_string()))?;
        let status = if g.revoked_at.is_some() {
            STATUS_REVOKED
        } else {
            STATUS_ACTIVE
        };
        // `read` follows and settles `active` vs `expired` from the entry and the clock.
        Ok(state(
            &acl,
            &g,
            status,
            &g.entry.protocol.to_string(),
            &g.entry.cidr.to_string(),
        ))
    }
}

pub fn schema_block() -> Block {
    Block {
        description: "A network-ACL entry that opens (or blocks) access for one CIDR for a limited time. \
                      The grant is recorded as a tag on the ACL; once it expires the next apply removes \
                      the entry, and `jitctl sweep` removes it without Terraform."
            .into(),
        attributes: vec![
            Attribute::computed("id", Type::String, "Grant id: `<network_acl_id>:<ingress|egress>:<rule_number>`. Also the import id."),
            Attribute::required("network_acl_id", Type::String, "Network ACL to add the entry to (`acl-…`). Changing it creates a new grant."),
            Attribute::required("cidr_block", Type::String, "IPv4 or IPv6 CIDR block the grant opens, e.g. `203.0.113.7/32`. Host bits must be clear. Changing it creates a new grant."),
            Attribute::required("protocol", Type::String, "`tcp`, `udp`, `icmp`, `icmpv6`, `all`, or an IANA protocol number. Changing it creates a new grant."),
            Attribute::optional("from_port", Type::Number, "First port (0-65535). Required for `tcp` and `udp`; not allowed for other protocols. Changing it creates a new grant."),
            Attribute::optional_computed("to_port", Type::Number, "Last port (0-65535, at least `from_port`). Defaults to `from_port`. Changing it creates a new grant."),
            Attribute::optional_computed("egress", Type::Bool, "Whether the entry is an egress (outbound) rule. Defaults to `false` (ingress). Changing it creates a new grant."),
            Attribute::optional_computed("rule_action", Type::String, "`allow` (default) or `deny` (a temporary block). Changing it creates a new grant."),
            Attribute::optional_computed("rule_number", Type::Number, "Rule number (1-32766). When omitted, jit picks the lowest free number in the provider's `rule_numbers` range. jit never replaces an existing entry."),
            Attribute::required("ttl", Type::String, "How long the grant lasts from `created_at`, as a Go duration (`\"2h\"`, `\"90m\"`, `\"1h30m\"`). Positive and at most the provider's `max_ttl`. Changing it moves `expires_at` in place."),
            Attribute::optional("reason", Type::String, "Why the access is needed. Stored with the grant in AWS; required when the provider sets `require_reason`."),
            Attribute::optional("requested_by", Type::String, "Who asked for the access. Stored with the grant in AWS."),
            Attribute::computed("created_at", Type::String, "When the grant was created (RFC 3339, UTC)."),
            Attribute::computed("expires_at", Type::String, "When the grant ends: `created_at` + `ttl` (RFC 3339, UTC)."),
            Attribute::computed("status", Type::String, "`active` while the entry exists, `expired` once the TTL has passed (the next apply removes the entry), `revoked` when `jitctl revoke` ended it early (it is not re-created)."),
        ],
        blocks: vec![],
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aws::nacl::fake::FakeNacl;
    use crate::aws::nacl::{AclEntry, Nacls};
    use crate::clock::FixedClock;
    use crate::tf::Severity;

    const ACL: &str = "acl-0123456789abcdef0";

    /// Someone else's entry at `n` on the test ACL (all protocols, ingress).
    fn foreign(n: i32, action: RuleAction, cidr: &str) -> AclEntry {
        AclEntry {
            direction: Direction::Ingress,
            rule_number: n,
            protocol: Protocol::ALL,
            action,
            cidr: Some(cidr.parse().unwrap()),
            ports: None,
        }
    }

    fn add_foreign(fake: &FakeNacl, n: i32, action: RuleAction, cidr: &str) {
        fake.update(ACL, |acl| acl.entries.push(foreign(n, action, cidr)));
    }

    fn t(s: &str) -> OffsetDateTime {
        parse_rfc3339(s).unwrap()
    }

    fn env(fake: &FakeNacl, now: &str) -> Env {
        Env {
            settings: Settings::default(),
            clock: Arc::new(FixedClock(t(now))),
            nacls: Nacls::new(Arc::new(fake.clone())),
            policies: crate::aws::iam::Policies::new(Arc::new(
                crate::aws::iam::fake::FakeIam::default(),
            )),
        }
    }

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::object([
            ("network_acl_id", Value::from(ACL)),
            ("cidr_block", Value::from("203.0.113.7/32")),
            ("protocol", Value::from("udp")),
            ("from_port", Value::from(500i64)),
            ("ttl", Value::from("2h")),
        ]);
        for name in [
            "id",
            "to_port",
            "egress",
            "rule_action",
            "rule_number",
            "reason",
            "requested_by",
            "created_at",
            "expires_at",
            "status",
        ] {
            v.set(name, Value::Null);
        }
        for (k, val) in pairs {
            v.set(k, val.clone());
        }
        v
    }

    async fn create(env: &Env, cfg: Value) -> (Value, Diagnostics) {
        let plan = AccessRule
            .plan(
                env,
                PlanRequest {
                    prior: Value::Null,
                    proposed: cfg.clone(),
                    config: cfg.clone(),
                },
            )
            .await;
        assert!(!plan.diags.has_errors(), "{:?}", plan.diags);
        AccessRule
            .apply(
                env,
                ApplyRequest {
                    prior: Value::Null,
                    planned: plan.planned,
                    config: cfg,
                },
            )
            .await
    }

    async fn destroy(env: &Env, state: Value) -> (Value, Diagnostics) {
        let req = ApplyRequest {
            prior: state,
            planned: Value::Null,
            config: Value::Null,
        };
        AccessRule.apply(env, req).await
    }

    fn error_paths(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
            .collect()
    }

    #[test]
    fn invalid_inputs_name_the_attribute() {
        type Case<'a> = (&'a [(&'a str, Value)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("cidr_block", Value::from("123.456.789.0/24"))],
                "cidr_block",
                "not a valid IPv4 or IPv6 CIDR",
            ),
            (
                &[("cidr_block", Value::from("203.0.113.7/24"))],
                "cidr_block",
                "did you mean 203.0.113.0/24?",
            ),
            (
                &[("from_port", Value::from(70000i64))],
                "from_port",
                "70000 is not a port",
            ),
            (
                &[
                    ("from_port", Value::from(600i64)),
                    ("to_port", Value::from(500i64)),
                ],
                "to_port",
                "lower than from_port",
            ),
            (
                &[("protocol", Value::from("all"))],
                "from_port",
                "has no ports",
            ),
            (
                &[("protocol", Value::from("bogus"))],
                "protocol",
                "\"bogus\" is not a protocol",
            ),
            (
                &[("protocol", Value::from("tcp")), ("from_port", Value::Null)],
                "from_port",
                "required for protocol tcp",
            ),
            (
                &[("rule_number", Value::from(0i64))],
                "rule_number",
                "outside 1-32766",
            ),
            (
                &[("rule_number", Value::from(40000i64))],
                "rule_number",
                "outside 1-32766",
            ),
            (
                &[("network_acl_id", Value::from("acl-xyz"))],
                "network_acl_id",
                "not a network ACL id",
            ),
            (&[("ttl", Value::from("0s"))], "ttl", "zero"),
            (&[("ttl", Value::from("-1h"))], "ttl", "negative"),
            (&[("ttl", Value::from("soon"))], "ttl", "not a duration"),
            (
                &[("rule_action", Value::from("maybe"))],
                "rule_action",
                "not \"allow\" or \"deny\"",
            ),
            (
                &[("reason", Value::from("x".repeat(300)))],
                "reason",
                "too long for its AWS tag",
            ),
            (
                &[
                    ("protocol", Value::from("icmp")),
                    ("from_port", Value::Null),
                    ("cidr_block", Value::from("2001:db8::/64")),
                ],
                "protocol",
                "use \"icmpv6\"",
            ),
        ];
        for (pairs, want_path, want_msg) in cases {
            let d = AccessRule.validate(&config(pairs));
            assert_eq!(error_paths(&d), [*want_path], "for {pairs:?}: {d:?}");
            assert!(
                d.0[0].detail.contains(want_msg),
                "for {pairs:?}: {}",
                d.0[0].detail
            );
        }
    }

    #[test]
    fn unknown_values_defer_validation() {
        let d = AccessRule.validate(&config(&[
            ("cidr_block", Value::Unknown),
            ("ttl", Value::Unknown),
        ]));
        assert!(d.0.is_empty(), "{d:?}");
    }

    #[tokio::test]
    async fn provider_limits_apply_at_plan() {
        let fake = FakeNacl::with_acl(ACL);
        let mut env = env(&fake, "2026-11-23T12:00:00Z");
        env.settings.require_reason = true;
        let cfg = config(&[
            ("cidr_block", Value::from("0.0.0.0/0")),
            ("ttl", Value::from("13h")),
        ]);
        let plan = AccessRule
            .plan(
                &env,
                PlanRequest {
                    prior: Value::Null,
                    proposed: cfg.clone(),
                    config: cfg,
                },
            )
            .await;
        assert_eq!(error_paths(&plan.diags), ["ttl", "reason", "cidr_block"]);
        assert!(plan.diags.0[0].detail.contains("max_ttl (12h)"));
        assert!(plan.diags.0[2].detail.contains("at most /24"));
    }

    #[tokio::test]
    async fn create_writes_entry_and_tag_with_times_from_the_clock() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let (state, d) = create(&env, config(&[("reason", Value::from("VPN from hotel"))])).await;
        assert!(d.0.is_empty(), "{d:?}");
        assert_eq!(state.get("id"), &Value::from(format!("{ACL}:ingress:100")));
        assert_eq!(
            state.get("expires_at"),
            &Value::from("2026-11-23T14:00:00Z")
        );
        assert_eq!(state.get("to_port"), &Value::from(500i64));
        let acl = fake.get(ACL);
        assert_eq!(acl.entries.len(), 1);
        let g =
            Grant::from_tag("jit:grant:ingress:100", &acl.tags["jit:grant:ingress:100"]).unwrap();
        assert_eq!(g.reason.as_deref(), Some("VPN from hotel"));
        assert_eq!(format_rfc3339(g.expires_at), "2026-11-23T14:00:00Z");
    }

    #[tokio::test]
    async fn concurrent_automatic_numbers_never_collide() {
        let fake = FakeNacl::with_acl(ACL);
        let env = Arc::new(env(&fake, "2026-11-23T12:00:00Z"));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let env = env.clone();
            tasks.push(tokio::spawn(async move {
                create(
                    &env,
                    config(&[("cidr_block", Value::from(format!("203.0.113.{i}/32")))]),
                )
                .await
            }));
        }
        let mut numbers = Vec::new();
        for t in tasks {
            let (state, d) = t.await.unwrap();
            assert!(!d.has_errors(), "{d:?}");
            numbers.push(state.get("rule_number").clone());
        }
        numbers.sort_by_key(|v| format!("{v:?}"));
        numbers.dedup();
        assert_eq!(numbers.len(), 20);
        assert_eq!(fake.get(ACL).entries.len(), 20);
        assert!(
            fake.get(ACL)
                .entries
                .iter()
                .all(|e| (100..=119).contains(&e.rule_number))
        );
    }

    #[tokio::test]
    async fn a_number_taken_between_lookup_and_create_moves_on() {
        let fake = FakeNacl::with_acl(ACL);
        fake.before_next_create(|acl| {
            acl.entries
                .push(foreign(100, RuleAction::Deny, "10.0.0.0/8"))
        });
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let (state, d) = create(&env, config(&[])).await;
        assert!(d.0.is_empty(), "{d:?}");
        assert_eq!(state.get("rule_number"), &Value::from(101i64));
        // the stolen entry was not touched
        assert_eq!(
            fake.get(ACL).entry(Direction::Ingress, 100).unwrap().action,
            RuleAction::Deny
        );
    }

    #[tokio::test]
    async fn an_explicit_taken_number_fails_and_says_what_holds_it() {
        let fake = FakeNacl::with_acl(ACL);
        add_foreign(&fake, 200, RuleAction::Allow, "10.0.0.0/8");
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let cfg = config(&[("rule_number", Value::from(200i64))]);
        let plan = AccessRule
            .plan(
                &env,
                PlanRequest {
                    prior: Value::Null,
                    proposed: cfg.clone(),
                    config: cfg.clone(),
                },
            )
            .await;
        assert_eq!(error_paths(&plan.diags), ["rule_number"]);
        assert!(
            plan.diags.0[0]
                .detail
                .contains("rule 200 (ingress): allow all 10.0.0.0/8, not managed by jit"),
            "{}",
            plan.diags.0[0].detail
        );
        // and at apply, if it was taken after the plan
        let fake2 = FakeNacl::with_acl(ACL);
        let env2 = crate::resources::access_rule::tests::env(&fake2, "2026-11-23T12:00:00Z");
        let plan = AccessRule
            .plan(
                &env2,
                PlanRequest {
                    prior: Value::Null,
                    proposed: cfg.clone(),
                    config: cfg.clone(),
                },
            )
            .await;
        fake2.put({
            let mut v = fake.get(ACL);
            v.tags.clear();
            v
        });
        let (state, d) = AccessRule
            .apply(
                &env2,
                ApplyRequest {
                    prior: Value::Null,
                    planned: plan.planned,
                    config: cfg,
                },
            )
            .await;
        assert!(state.is_null());
        assert_eq!(error_paths(&d), ["rule_number"]);
        assert_eq!(
            fake2.get(ACL).entries.len(),
            1,
            "nothing clobbered or added"
        );
    }

    #[tokio::test]
    async fn a_failed_tag_write_rolls_the_entry_back() {
        let fake = FakeNacl::with_acl(ACL);
        fake.fail_tag_writes();
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let (state, d) = create(&env, config(&[])).await;
        assert!(state.is_null());
        assert!(d.has_errors());
        assert!(fake.get(ACL).entries.is_empty(), "no half-applied grant");
    }

    #[tokio::test]
    async fn expiry_plans_an_update_and_apply_removes_entry_and_tag() {
        let fake = FakeNacl::with_acl(ACL);
        let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
        // one second before expiry: nothing to do
        let before = env(&fake, "2026-11-23T13:59:59Z");
        let (read, _) = AccessRule.read(&before, state.clone()).await;
        let plan = AccessRule
            .plan(
                &before,
                PlanRequest {
                    prior: read.clone(),
                    proposed: read.clone(),
                    config: config(&[]),
                },
            )
            .await;
        assert_eq!(plan.planned, read);
        // at expiry: status flips with a warning naming the time
        let after = env(&fake, "2026-11-23T14:00:00Z");
        let (read, _) = AccessRule.read(&after, state.clone()).await;
        assert_eq!(read.get("status"), &Value::from(STATUS_ACTIVE));
        let plan = AccessRule
            .plan(
                &after,
                PlanRequest {
                    prior: read.clone(),
                    proposed: read.clone(),
                    config: config(&[]),
                },
            )
            .await;
        assert_eq!(plan.planned.get("status"), &Value::from(STATUS_EXPIRED));
        assert!(plan.requires_replace.is_empty());
        assert_eq!(plan.diags.0[0].severity, Severity::Warning);
        assert!(
            plan.diags.0[0]
                .detail
                .contains("expired at 2026-11-23T14:00:00Z")
        );
        let (applied, d) = AccessRule
            .apply(
                &after,
                ApplyRequest {
                    prior: read,
                    planned: plan.planned.clone(),
                    config: config(&[]),
                },
            )
            .await;
        assert!(d.0.is_empty());
        assert!(fake.get(ACL).entries.is_empty() && fake.get(ACL).tags.is_empty());
        // the resource stays, and the next plan is empty
        let (read, _) = AccessRule.read(&after, applied.clone()).await;
        assert_eq!(read, applied);
        let plan = AccessRule
            .plan(
                &after,
                PlanRequest {
                    prior: read.clone(),
                    proposed: read.clone(),
                    config: config(&[]),
                },
            )
            .await;
        assert_eq!(plan.planned, read);
    }

    #[tokio::test]
    async fn ttl_change_moves_expiry_from_created_at_in_place() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:30:00Z");
        let (state, _) = create(
            &crate::resources::access_rule::tests::env(&fake, "2026-11-23T12:00:00Z"),
            config(&[]),
        )
        .await;
        let mut proposed = state.clone();
        proposed.set("ttl", Value::from("4h"));
        let plan = AccessRule
            .plan(
                &env,
                PlanRequest {
                    prior: state.clone(),
                    proposed,
                    config: config(&[("ttl", Value::from("4h"))]),
                },
            )
            .await;
        assert!(plan.requires_replace.is_empty());
        assert_eq!(
            plan.planned.get("expires_at"),
            &Value::from("2026-11-23T16:00:00Z")
        );
        let (applied, d) = AccessRule
            .apply(
                &env,
                ApplyRequest {
                    prior: state,
                    planned: plan.planned,
                    config: Value::Null,
                },
            )
            .await;
        assert!(d.0.is_empty());
        let g = Grant::from_tag(
            "jit:grant:ingress:100",
            &fake.get(ACL).tags["jit:grant:ingress:100"],
        )
        .unwrap();
        assert_eq!(format_rfc3339(g.expires_at), "2026-11-23T16:00:00Z");
        assert_eq!(g.ttl, "4h");
        assert_eq!(
            applied.get("expires_at"),
            &Value::from("2026-11-23T16:00:00Z")
        );
    }

    #[tokio::test]
    async fn read_tells_drift_from_expiry_and_revocation() {
        let fake = FakeNacl::with_acl(ACL);
        let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
        fake.update(ACL, |acl| acl.entries.clear());
        // gone before expiry, no marker: drift, removed from state so the plan re-creates it
        assert!(
            AccessRule
                .read(&env(&fake, "2026-11-23T13:00:00Z"), state.clone())
                .await
                .0
                .is_null()
        );
        // gone after expiry: expired
        let (after, _) = AccessRule
            .read(&env(&fake, "2026-11-23T15:00:00Z"), state.clone())
            .await;
        assert_eq!(after.get("status"), &Value::from(STATUS_EXPIRED));
        // gone with a revoke marker: revoked, and the plan keeps it that way
        let key = "jit:grant:ingress:100";
        let mut g = Grant::from_tag(key, &fake.get(ACL).tags[key]).unwrap();
        g.revoked_at = Some(t("2026-11-23T12:30:00Z"));
        fake.update(ACL, |acl| {
            acl.tags.insert(key.into(), g.tag_value());
        });
        let e = env(&fake, "2026-11-23T13:00:00Z");
        let (revoked, _) = AccessRule.read(&e, state.clone()).await;
        assert_eq!(revoked.get("status"), &Value::from(STATUS_REVOKED));
        let plan = AccessRule
            .plan(
                &e,
                PlanRequest {
                    prior: revoked.clone(),
                    proposed: revoked.clone(),
                    config: config(&[]),
                },
            )
            .await;
        assert_eq!(plan.planned, revoked);
        assert!(plan.requires_replace.is_empty());
    }

    #[tokio::test]
    async fn a_recreated_drifted_grant_reuses_its_leftover_tag_but_not_a_revoke_marker() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        create(&env, config(&[])).await;
        fake.update(ACL, |acl| acl.entries.clear());
        let (again, _) = create(&env, config(&[])).await;
        assert_eq!(again.get("rule_number"), &Value::from(100i64));
        assert_eq!(fake.get(ACL).tags.len(), 1, "one tag per grant, no leak");
        // a revoke marker at 100 keeps the number out of use
        let key = "jit:grant:ingress:100";
        let mut g = Grant::from_tag(key, &fake.get(ACL).tags[key]).unwrap();
        g.revoked_at = Some(t("2026-11-23T12:01:00Z"));
        fake.update(ACL, |acl| {
            acl.entries.clear();
            acl.tags.insert(key.into(), g.tag_value());
        });
        let (third, _) = create(&env, config(&[])).await;
        assert_eq!(third.get("rule_number"), &Value::from(101i64));
    }

    #[tokio::test]
    async fn destroy_leaves_a_reused_number_alone() {
        let fake = FakeNacl::with_acl(ACL);
        let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
        fake.update(ACL, |acl| acl.entries.clear());
        add_foreign(&fake, 100, RuleAction::Deny, "10.0.0.0/8");
        let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), state).await;
        assert!(gone.is_null() && d.0.is_empty());
        assert_eq!(
            fake.get(ACL).entries.len(),
            1,
            "someone else's entry at 100 survives"
        );
        assert!(fake.get(ACL).tags.is_empty(), "our tag is gone");
    }

    /// Regression: destroy deleted the grant's tag by key, so a new grant that another process
    /// numbered at the freed slot between our entry delete and tag delete lost its tag.
    #[tokio::test]
    async fn destroy_keeps_a_tag_rewritten_after_its_entry_went() {
        let fake = FakeNacl::with_acl(ACL);
        let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
        fake.after_next_delete(|acl| {
            acl.tags
                .insert(tag_key(Direction::Ingress, 100), "a newer grant".into());
        });
        let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), state).await;
        assert!(gone.is_null() && d.0.is_empty(), "{d:?}");
        assert!(fake.get(ACL).entries.is_empty(), "our entry is gone");
        assert_eq!(
            fake.get(ACL)
                .tags
                .get("jit:grant:ingress:100")
                .map(String::as_str),
            Some("a newer grant"),
            "the newer grant's tag survives"
        );
    }

    #[tokio::test]
    async fn import_needs_a_jit_tag() {
        let fake = FakeNacl::with_acl(ACL);
        add_foreign(&fake, 200, RuleAction::Allow, "10.0.0.0/8");
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let err = AccessRule
            .import(&env, &format!("{ACL}:ingress:200"))
            .await
            .unwrap_err();
        assert!(err.0[0].detail.contains("no jit tag"), "{err:?}");
        let (state, _) = create(&env, config(&[("requested_by", Value::from("alice"))])).await;
        let imported = AccessRule
            .import(&env, &format!("{ACL}:ingress:100"))
            .await
            .unwrap();
        let (read, _) = AccessRule.read(&env, imported).await;
        assert_eq!(read, state);
        assert!(AccessRule.import(&env, "acl-1:ingress:1").await.is_err());
    }

    #[tokio::test]
    async fn a_covering_lower_deny_is_a_shadow_warning() {
        let fake = FakeNacl::with_acl(ACL);
        add_foreign(&fake, 50, RuleAction::Deny, "203.0.113.0/24");
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let cfg = config(&[("rule_number", Value::from(120i64))]);
        let plan = AccessRule
            .plan(
                &env,
                PlanRequest {
                    prior: Value::Null,
                    proposed: cfg.clone(),
                    config: cfg,
                },
            )
            .await;
        assert!(!plan.diags.has_errors());
        assert_eq!(plan.diags.0.len(), 1);
        assert_eq!(plan.diags.0[0].summary, "Grant is shadowed");
        assert!(
            plan.diags.0[0]
                .detail
                .contains("rule 50 (ingress): deny all 203.0.113.0/24")
        );
    }

    #[tokio::test]
    async fn reads_of_one_acl_share_a_describe() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let mut states = Vec::new();
        for i in 0..5 {
            states.push(
                create(
                    &env,
                    config(&[("cidr_block", Value::from(format!("203.0.113.{i}/32")))]),
                )
                .await
                .0,
            );
        }
        let before = fake.describes();
        let reads = states.into_iter().map(|s| AccessRule.read(&env, s));
        for (v, _) in futures::future::join_all(reads).await {
            assert_eq!(v.get("status"), &Value::from(STATUS_ACTIVE));
        }
        assert_eq!(fake.describes() - before, 1);
    }
}
