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

use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::config::Settings;
use crate::duration::{Ttl, parse_ttl};
use crate::grant::lifecycle::{self, State};
use crate::grant::{
    AclView, Direction, EntrySpec, Grant, GrantId, Ports, Protocol, RULE_NUMBER_MAX,
    RULE_NUMBER_MIN, Record, RuleAction, address, parse_address, record, valid_acl_id,
};
use crate::protocol::nacl::{self as protocol, CreateError, Guard, NewGrant, Numbering, Updated};
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::tf::value::Reader;
use crate::tf::{AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Schema, Type, Value};

pub const TYPE_NAME: &str = "jit_access_rule";

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_EXPIRED: &str = "expired";
pub const STATUS_REVOKED: &str = "revoked";
pub const STATUS_UNRECORDED: &str = "unrecorded";

/// Version 1 added `grant_id`.
const SCHEMA_VERSION: i64 = 1;

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
    let probe = Record {
        id: GrantId::parse("aaaaaaaaaaaa").expect("a valid id"),
        grant: probe,
        pending: false,
    };
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

/// `status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Expired,
    Revoked,
    /// The entry is there, but its record tag vanished: the next apply writes it again.
    Unrecorded,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => STATUS_ACTIVE,
            Status::Expired => STATUS_EXPIRED,
            Status::Revoked => STATUS_REVOKED,
            Status::Unrecorded => STATUS_UNRECORDED,
        }
    }

    fn parse(s: &str) -> Option<Status> {
        [
            Status::Active,
            Status::Expired,
            Status::Revoked,
            Status::Unrecorded,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One grant's state as Terraform stores it: every attribute of the schema, typed. The only
/// way the resource reads or writes state (`schema_accepts_every_state` checks the two agree).
#[derive(Debug, Clone, PartialEq)]
struct RuleState {
    grant_id: GrantId,
    acl_id: String,
    /// `cidr_block` and `protocol` exactly as configured (`UDP`, not `17`).
    cidr_text: String,
    protocol_text: String,
    grant: Grant,
    status: Status,
}

impl RuleState {
    fn to_value(&self) -> Value {
        let g = &self.grant;
        let (from, to) = match g.entry.ports {
            Some(p) => (Value::from(i64::from(p.from)), Value::from(i64::from(p.to))),
            None => (Value::Null, Value::Null),
        };
        Value::object([
            (
                "id",
                Value::from(address(
                    &self.acl_id,
                    g.entry.direction,
                    g.entry.rule_number,
                )),
            ),
            ("grant_id", Value::from(self.grant_id.as_str())),
            ("network_acl_id", Value::from(self.acl_id.as_str())),
            ("cidr_block", Value::from(self.cidr_text.as_str())),
            ("protocol", Value::from(self.protocol_text.as_str())),
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
            ("status", Value::from(self.status.as_str())),
        ])
    }

    /// Reads a state object (every attribute is known in state).
    fn from_value(v: &Value) -> Result<RuleState, Diagnostic> {
        let bad = |what: &str| {
            Diagnostic::error(
                "Corrupt jit_access_rule state",
                format!(
                    "{what} is missing or invalid; remove the resource from state and import it again"
                ),
            )
        };
        let text = |name: &str| match v.get(name) {
            Value::String(x) => Some(x.clone()),
            _ => None,
        };
        let num = |name: &str| match v.get(name) {
            Value::Number(crate::tf::value::Number::Int(n)) => Some(*n),
            _ => None,
        };
        let cidr_text = text("cidr_block").ok_or_else(|| bad("cidr_block"))?;
        let protocol_text = text("protocol").ok_or_else(|| bad("protocol"))?;
        let ports = match (num("from_port"), num("to_port")) {
            (Some(f), Some(t)) => Some(Ports {
                from: u16::try_from(f).map_err(|_| bad("from_port"))?,
                to: u16::try_from(t).map_err(|_| bad("to_port"))?,
            }),
            _ => None,
        };
        let grant = Grant {
            entry: EntrySpec {
                direction: Direction::from_egress(matches!(v.get("egress"), Value::Bool(true))),
                rule_number: num("rule_number")
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| bad("rule_number"))?,
                cidr: cidr_text.parse::<IpNet>().map_err(|_| bad("cidr_block"))?,
                protocol: Protocol::parse(&protocol_text).map_err(|_| bad("protocol"))?,
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
        Ok(RuleState {
            grant_id: text("grant_id")
                .and_then(|g| GrantId::parse(&g))
                .ok_or_else(|| bad("grant_id"))?,
            acl_id: text("network_acl_id").ok_or_else(|| bad("network_acl_id"))?,
            cidr_text,
            protocol_text,
            grant,
            status: text("status")
                .and_then(|s| Status::parse(&s))
                .ok_or_else(|| bad("status"))?,
        })
    }
}

/// Schema version 0 (before grant ids) to 1: the grant id of a grant recorded before ids
/// existed is its direction and rule number, the key its record still has in AWS.
fn upgrade_v0(mut v: Value) -> Result<Value, Diagnostic> {
    let direction = Direction::from_egress(matches!(v.get("egress"), Value::Bool(true)));
    let rule_number = match v.get("rule_number") {
        Value::Number(crate::tf::value::Number::Int(n)) => i32::try_from(*n).ok(),
        _ => None,
    }
    .filter(|n| (RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(n))
    .ok_or_else(|| {
        Diagnostic::error(
            "Cannot upgrade jit_access_rule state",
            "the state written by an earlier jit has no valid rule_number; remove the resource from state and import it again",
        )
    })?;
    v.set(
        "grant_id",
        Value::from(GrantId::legacy(direction, rule_number).as_str()),
    );
    Ok(v)
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

fn write_error(summary: &str, (step, e): (String, crate::aws::nacl::AwsError)) -> Diagnostic {
    Diagnostic::error(summary, format!("could not {step}: {e}"))
}

impl AccessRule {
    /// Creates the grant through the write protocol, which leaves nothing half-applied. On an
    /// error after which the grant may exist in part, also returns its record, to keep in state.
    async fn create(
        &self,
        env: &Env,
        args: &Args,
    ) -> Result<Record, (Diagnostics, Option<Record>)> {
        let new = NewGrant {
            acl_id: args.acl_id.clone(),
            entry: args.spec(args.rule_number.unwrap_or(RULE_NUMBER_MIN)),
            numbering: match args.rule_number {
                Some(n) => Numbering::Explicit(n),
                None => Numbering::Lowest(env.settings.rule_numbers.0, env.settings.rule_numbers.1),
            },
            ttl: args.ttl,
            ttl_text: args.ttl_text.clone(),
            requested_by: args.requested_by.clone(),
            reason: args.reason.clone(),
        };
        protocol::create(&env.nacls, env.clock.as_ref(), &new)
            .await
            .map_err(|e| {
                let message = e.message(&new);
                let d = match &e {
                    CreateError::AclMissing => Diagnostic::invalid(path("network_acl_id"), message),
                    CreateError::Taken(..) => Diagnostic::invalid(path("rule_number"), message),
                    CreateError::NoFreeNumber(..) => {
                        Diagnostic::error("No free rule number", message)
                    }
                    CreateError::TagsFull(_) => {
                        Diagnostic::error("Network ACL has no room for another grant", message)
                    }
                    CreateError::Quota(_) => Diagnostic::error("Network ACL is full", message),
                    _ => Diagnostic::error("Could not create the grant", message),
                };
                let left = match e {
                    CreateError::Aws { left, .. } => left.map(|r| *r),
                    _ => None,
                };
                (d.into(), left)
            })
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
            version: SCHEMA_VERSION,
            block: schema_block(),
        }
    }

    fn upgrade(&self, version: i64, state: Value) -> Result<Value, Diagnostics> {
        match version {
            0 => upgrade_v0(state).map_err(Diagnostics::from),
            _ => Ok(state),
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
            let prior = match RuleState::from_value(&req.prior) {
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
            let live = matches!(prior.status, Status::Active | Status::Unrecorded);
            // An ended grant can't be extended in place: its entry is gone. A new TTL means a new grant.
            if !live && req.prior.get("ttl") != planned.get("ttl") {
                plan.requires_replace.push(path("ttl"));
            }
            if plan.requires_replace.is_empty() {
                // Unknown until apply when the ttl comes from another resource.
                let expires_at = match (&args, planned.get("ttl").is_unknown()) {
                    (_, true) => Value::Unknown,
                    (Some(a), false) => {
                        Value::from(format_rfc3339(prior.grant.created_at + a.ttl.as_time()))
                    }
                    (None, false) => Value::from(format_rfc3339(prior.grant.expires_at)),
                };
                let expired = match &expires_at {
                    Value::String(t) => parse_rfc3339(t).is_ok_and(|t| now >= t),
                    _ => false,
                };
                planned.set("expires_at", expires_at);
                if live && expired {
                    planned.set("status", Value::from(STATUS_EXPIRED));
                    plan.diags.push(Diagnostic::warning(
                        "Grant expired",
                        format!("{} expired at {}; this apply removes the network ACL entry and its tag. Use `terraform apply -replace` for a fresh grant.",
                            req.prior.get("id").value_str(), planned.get("expires_at").value_str()),
                    ));
                } else if prior.status == Status::Unrecorded {
                    planned.set("status", Value::from(STATUS_ACTIVE));
                    plan.diags.push(Diagnostic::warning(
                        "Grant record missing",
                        format!("the record of {} (tag {:?} on {}) is gone while its entry is still there; this apply writes it again. The usual cause is an aws_network_acl resource that manages `tags` on this ACL: give its provider `ignore_tags {{ key_prefixes = [\"jit:\"] }}`",
                            req.prior.get("id").value_str(), record::tag_key(&prior.grant_id), prior.acl_id),
                    ));
                }
                plan.planned = planned;
                return plan;
            }
        }
        // A new grant (create or replacement): AWS decides the rest at apply.
        for name in ["id", "grant_id", "created_at", "expires_at"] {
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
                        && view.entry(args.direction, n).is_some()
                        // Replacing our own entry at the same number: it is deleted before the new one is created.
                        && (req.prior.get("rule_number") != &Value::from(i64::from(n))
                            || plan.requires_replace.is_empty())
                    {
                        plan.diags.push(Diagnostic::invalid(
                            path("rule_number"),
                            format!("rule number {n} ({}) on {} is already taken by {}; jit never replaces an entry. Pick another rule_number, or omit it to use the next free one", args.direction, args.acl_id, protocol::holder(&view, args.direction, n)),
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
                Err(e) => plan.diags.push(
                    aws_error("Could not read the network ACL", e).at(path("network_acl_id")),
                ),
            }
        }
        plan.planned = planned;
        plan
    }

    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
        if req.planned.is_null() {
            // Destroy. An entry that is already gone is fine.
            let prior = match RuleState::from_value(&req.prior) {
                Ok(x) => x,
                Err(d) => return (req.prior, d.into()),
            };
            let g = &prior.grant;
            return match protocol::remove(
                &env.nacls,
                &prior.acl_id,
                &prior.grant_id,
                &g.entry,
                true,
                Guard::NONE,
            )
            .await
            {
                Ok(_) => (Value::Null, Diagnostics::default()),
                Err(e) => (
                    req.prior,
                    write_error("Could not remove the grant", e).into(),
                ),
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
            let state = |r: Record| RuleState {
                grant_id: r.id,
                acl_id: args.acl_id.clone(),
                cidr_text: req.planned.get("cidr_block").value_str().to_string(),
                protocol_text: req.planned.get("protocol").value_str().to_string(),
                grant: r.grant,
                status: Status::Active,
            };
            return match self.create(env, &args).await {
                Ok(r) => (state(r).to_value(), diags),
                Err((d, left)) => {
                    diags.extend(d);
                    // A grant that may exist in part stays in state; Terraform taints it, and
                    // the next apply removes it before creating a fresh one.
                    (left.map_or(Value::Null, |r| state(r).to_value()), diags)
                }
            };
        }
        // In-place update: expiry, a new TTL, reason or requester, or a record written again.
        let prior = match RuleState::from_value(&req.prior) {
            Ok(x) => x,
            Err(d) => return (req.prior, d.into()),
        };
        let mut planned = req.planned.clone();
        if planned.get("expires_at").is_unknown() {
            // The ttl became known only now.
            let mut d = Diagnostics::default();
            if let Some(ttl) = check(&req.config, Some(&env.settings), &mut d).map(|a| a.ttl) {
                planned.set(
                    "expires_at",
                    Value::from(format_rfc3339(prior.grant.created_at + ttl.as_time())),
                );
            } else {
                diags.extend(d);
                return (req.prior, diags);
            }
        }
        let mut next = match RuleState::from_value(&planned) {
            Ok(x) => x,
            Err(d) => return (req.prior, d.into()),
        };
        let live = matches!(prior.status, Status::Active | Status::Unrecorded);
        if live && (next.status == Status::Expired || env.clock.now() >= next.grant.expires_at) {
            if let Err(e) = protocol::remove(
                &env.nacls,
                &prior.acl_id,
                &prior.grant_id,
                &prior.grant.entry,
                true,
                Guard::NONE,
            )
            .await
            {
                return (
                    req.prior,
                    write_error("Could not remove the expired grant", e).into(),
                );
            }
            next.status = Status::Expired;
        } else if next.status == Status::Active
            && (next.grant.ttl != prior.grant.ttl
                || next.grant.expires_at != prior.grant.expires_at
                || next.grant.reason != prior.grant.reason
                || next.grant.requested_by != prior.grant.requested_by
                || prior.status == Status::Unrecorded)
        {
            match protocol::update(&env.nacls, &prior.acl_id, &prior.grant_id, &next.grant).await {
                Ok(Updated::Written(_)) => {}
                Ok(Updated::Revoked(at)) => {
                    next.status = Status::Revoked;
                    diags.push(Diagnostic::warning(
                        "Grant revoked",
                        format!("{} was revoked at {} (jitctl revoke) after this plan was made; its record was left as it is and the grant stays revoked", req.prior.get("id").value_str(), format_rfc3339(at)),
                    ));
                }
                Err(e) => {
                    return (
                        req.prior,
                        write_error("Could not update the grant's record", e).into(),
                    );
                }
            }
        }
        (next.to_value(), diags)
    }

    async fn read(&self, env: &Env, current: Value) -> (Value, Diagnostics) {
        let mut state = match RuleState::from_value(&current) {
            Ok(x) => x,
            Err(d) => return (current, d.into()),
        };
        let view = match env.nacls.view(&state.acl_id).await {
            Ok(v) => v.map(|v| (*v).clone()).unwrap_or_default(),
            Err(e) => {
                return (
                    current,
                    aws_error("Could not read the network ACL", e).into(),
                );
            }
        };
        if matches!(state.status, Status::Expired | Status::Revoked) {
            return (current, Diagnostics::default());
        }
        let now = env.clock.now();
        let records = view.records();
        let spec = &state.grant.entry;
        let next = match records.iter().find(|r| r.id == state.grant_id) {
            Some(r) => match lifecycle::state(r, &view, &records, now) {
                _ if lifecycle::owns(&view, &records, r) => Status::Active,
                State::Revoked => Status::Revoked,
                // A create that failed part-way (kept in state, tainted): the next apply's
                // destroy removes its intent.
                State::Pending | State::Abandoned => state.status,
                _ if lifecycle::is_expired(&state.grant, now) => Status::Expired,
                // Gone before its time with no revoke marker: drift, so the plan re-creates it.
                _ => return (Value::Null, Diagnostics::default()),
            },
            None => {
                let unrecorded =
                    lifecycle::owner(&view, &records, spec.direction, spec.rule_number).is_none()
                        && view
                            .entry(spec.direction, spec.rule_number)
                            .is_some_and(|e| e.matches(spec));
                if unrecorded {
                    Status::Unrecorded
                } else if lifecycle::is_expired(&state.grant, now) {
                    Status::Expired
                } else {
                    return (Value::Null, Diagnostics::default());
                }
            }
        };
        state.status = next;
        (state.to_value(), Diagnostics::default())
    }

    async fn import(&self, env: &Env, id: &str) -> Result<Value, Diagnostics> {
        let (acl, direction, number) =
            parse_address(id).map_err(|e| Diagnostic::error("Invalid import id", e))?;
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
        let records = view.records();
        // The grant that owns the entry there; else the newest one recorded at that number.
        let found = lifecycle::owner(&view, &records, direction, number).or_else(|| {
            records
                .iter()
                .filter(|r| {
                    !r.pending
                        && r.grant.entry.direction == direction
                        && r.grant.entry.rule_number == number
                })
                .max_by_key(|r| r.grant.created_at)
        });
        let Some(r) = found.filter(|r| !r.pending) else {
            let what = view
                .entry(direction, number)
                .map_or_else(|| "no entry".to_string(), |e| e.describe());
            return Err(Diagnostic::error(
                "Not a jit grant",
                format!("{acl} has {what} at {direction} {number} but no jit grant record (a `jit:grant:` tag); jit imports only grants it created, because only those have an expiry. Create the grant with jit_access_rule instead"),
            ).into());
        };
        let state = RuleState {
            grant_id: r.id.clone(),
            acl_id: acl,
            cidr_text: r.grant.entry.cidr.to_string(),
            protocol_text: r.grant.entry.protocol.to_string(),
            grant: Grant {
                revoked_at: None,
                ..r.grant.clone()
            },
            status: if r.grant.revoked_at.is_some() {
                Status::Revoked
            } else {
                Status::Active
            },
        };
        // `read` follows and settles `active` vs `expired` from the entry and the clock.
        Ok(state.to_value())
    }
}

pub fn schema_block() -> Block {
    Block {
        description: "A network-ACL entry that opens (or blocks) access for one CIDR for a limited time. \
                      The grant is recorded as a tag on the ACL; once it expires the next apply removes \
                      the entry, and `jitctl sweep` removes it without Terraform. If the ACL is also managed by the AWS \
                      provider with `tags`, give that provider `ignore_tags { key_prefixes = [\"jit:\"] }`, or its \
                      applies remove the grants' records."
            .into(),
        attributes: vec![
            Attribute::computed("id", Type::String, "Where the grant sits: `<network_acl_id>:<ingress|egress>:<rule_number>`. Also the import id."),
            Attribute::computed("grant_id", Type::String, "The grant's unique identity, recorded in its tag on the ACL (`jit:grant:<grant_id>`). jit changes or removes an entry or a record only when it belongs to this id, so one grant never touches another's, even at a reused rule number."),
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
            Attribute::computed("status", Type::String, "`active` while the entry exists, `expired` once the TTL has passed (the next apply removes the entry), `revoked` when `jitctl revoke` ended it early (it is not re-created), `unrecorded` when the entry is there but its record tag vanished (the next apply writes it again)."),
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
            client_vpns: crate::aws::client_vpn::ClientVpns::new(Arc::new(
                crate::aws::client_vpn::fake::FakeClientVpn::default(),
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

    /// The record in the fake of the grant in `state`.
    fn record_of(fake: &FakeNacl, state: &Value) -> Record {
        let id = GrantId::parse(state.get("grant_id").value_str()).expect("a grant id in state");
        let key = record::tag_key(&id);
        Record::from_tag(&key, &fake.get(ACL).tags[&key]).unwrap()
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
        assert_eq!(acl.tags.len(), 1);
        let r = record_of(&fake, &state);
        assert!(!r.pending, "committed");
        let g = r.grant;
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
        let g = record_of(&fake, &applied).grant;
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
        let mut r = record_of(&fake, &state);
        r.grant.revoked_at = Some(t("2026-11-23T12:30:00Z"));
        fake.update(ACL, |acl| {
            acl.tags.insert(r.tag_key(), r.tag_value());
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
    async fn a_recreated_drifted_grant_replaces_its_leftover_record_but_not_a_revoke_marker() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        create(&env, config(&[])).await;
        fake.update(ACL, |acl| acl.entries.clear());
        let (again, _) = create(&env, config(&[])).await;
        assert_eq!(again.get("rule_number"), &Value::from(100i64));
        assert_eq!(fake.get(ACL).tags.len(), 1, "one record per grant, no leak");
        // A revoked grant's record stays (it says `revoked` until its expiry), but no longer
        // holds its number: each grant's record has its own key.
        let mut r = record_of(&fake, &again);
        r.grant.revoked_at = Some(t("2026-11-23T12:01:00Z"));
        fake.update(ACL, |acl| {
            acl.entries.clear();
            acl.tags.insert(r.tag_key(), r.tag_value());
        });
        let later = self::env(&fake, "2026-11-23T12:02:00Z");
        let (third, _) = create(&later, config(&[])).await;
        assert_eq!(third.get("rule_number"), &Value::from(100i64));
        let tags = fake.get(ACL).tags;
        assert_eq!(tags.len(), 2);
        assert!(
            tags[&r.tag_key()].contains(";x="),
            "the revoke marker survives"
        );
        let (read, _) = AccessRule
            .read(&env, {
                let mut s = again.clone();
                s.set("status", Value::from(STATUS_ACTIVE));
                s
            })
            .await;
        assert_eq!(read.get("status"), &Value::from(STATUS_REVOKED));
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
    async fn destroy_keeps_the_record_of_a_grant_numbered_after_its_entry_went() {
        let fake = FakeNacl::with_acl(ACL);
        let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
        let mut newer = record_of(&fake, &state);
        newer.id = GrantId::parse("nnnnnnnnnnnn").unwrap();
        newer.grant.created_at = t("2026-11-23T12:09:00Z");
        let n2 = newer.clone();
        fake.after_next_delete(move |acl| {
            acl.entries.push(AclEntry::from(&n2.grant.entry));
            acl.tags.insert(n2.tag_key(), n2.tag_value());
        });
        let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), state).await;
        assert!(gone.is_null() && d.0.is_empty(), "{d:?}");
        let after = fake.get(ACL);
        assert_eq!(
            after.entries,
            [AclEntry::from(&newer.grant.entry)],
            "the newer grant's entry survives"
        );
        assert_eq!(
            after.tags.keys().collect::<Vec<_>>(),
            [&newer.tag_key()],
            "and its record"
        );
    }

    /// Regression: ownership was judged by an entry's shape, so a second workspace's grant of
    /// the same CIDR at a reused number lost its entry to the first workspace's destroy.
    #[tokio::test]
    async fn destroy_leaves_an_identical_newer_grant_alone() {
        let fake = FakeNacl::with_acl(ACL);
        let (first, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
        // The first grant's entry goes (a sweep cut short before its record), and a second
        // workspace grants the same address at the same number.
        fake.update(ACL, |acl| acl.entries.clear());
        let (second, _) = create(&env(&fake, "2026-11-23T12:05:00Z"), config(&[])).await;
        assert_eq!(second.get("rule_number"), first.get("rule_number"));
        let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), first).await;
        assert!(gone.is_null() && d.0.is_empty(), "{d:?}");
        let after = fake.get(ACL);
        assert_eq!(after.entries.len(), 1, "the second grant's entry survives");
        assert_eq!(
            record_of(&fake, &second).grant.expires_at,
            t("2026-11-23T14:05:00Z")
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
        assert!(err.0[0].detail.contains("no jit grant record"), "{err:?}");
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

    async fn plan_update(env: &Env, prior: &Value, cfg: Value) -> Plan {
        AccessRule
            .plan(
                env,
                PlanRequest {
                    prior: prior.clone(),
                    proposed: {
                        let mut p = prior.clone();
                        for (k, v) in [("ttl", cfg.get("ttl")), ("reason", cfg.get("reason"))] {
                            p.set(k, v.clone());
                        }
                        p
                    },
                    config: cfg,
                },
            )
            .await
    }

    async fn apply_update(env: &Env, prior: Value, plan: Plan, cfg: Value) -> (Value, Diagnostics) {
        AccessRule
            .apply(
                env,
                ApplyRequest {
                    prior,
                    planned: plan.planned,
                    config: cfg,
                },
            )
            .await
    }

    /// Regression: a `jitctl revoke` between plan and apply was undone by the in-place update,
    /// which rewrote the tag without the marker, and the next plan re-created the grant.
    #[tokio::test]
    async fn a_revoke_between_plan_and_apply_survives_an_update() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = create(&env, config(&[])).await;
        let cfg = config(&[("reason", Value::from("longer stay"))]);
        let plan = plan_update(&env, &state, cfg.clone()).await;
        assert!(
            plan.requires_replace.is_empty() && !plan.diags.has_errors(),
            "{plan:?}"
        );
        // jitctl revoke runs now.
        let mut r = record_of(&fake, &state);
        r.grant.revoked_at = Some(t("2026-11-23T12:00:30Z"));
        fake.update(ACL, |acl| {
            acl.entries.clear();
            acl.tags.insert(r.tag_key(), r.tag_value());
        });
        let (after, d) = apply_update(&env, state, plan, cfg).await;
        assert_eq!(after.get("status"), &Value::from(STATUS_REVOKED), "{d:?}");
        assert!(d.0.iter().any(|d| d.summary == "Grant revoked"), "{d:?}");
        let kept = record_of(&fake, &after);
        assert!(kept.grant.revoked_at.is_some(), "the marker stays");
        assert!(fake.get(ACL).entries.is_empty(), "and nothing is re-opened");
    }

    /// The usual cause: an `aws_network_acl` with `tags = {…}` and no `ignore_tags`.
    #[tokio::test]
    async fn a_vanished_record_is_read_as_unrecorded_and_repaired_in_place() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = create(&env, config(&[])).await;
        fake.update(ACL, |acl| acl.tags.clear());
        let (read, _) = AccessRule.read(&env, state.clone()).await;
        assert_eq!(read.get("status"), &Value::from(STATUS_UNRECORDED));
        let plan = plan_update(&env, &read, config(&[])).await;
        assert!(plan.requires_replace.is_empty(), "{plan:?}");
        assert_eq!(plan.planned.get("status"), &Value::from(STATUS_ACTIVE));
        assert!(plan.diags.0[0].detail.contains("ignore_tags"), "{plan:?}");
        let (after, d) = apply_update(&env, read, plan, config(&[])).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(after, state, "the same grant, recorded again");
        assert_eq!(
            record_of(&fake, &after).grant.expires_at,
            t("2026-11-23T14:00:00Z")
        );
    }

    /// Regression: with a ttl unknown at plan (from another resource), the plan kept
    /// `expires_at` known and Terraform failed with "Provider produced inconsistent final plan".
    #[tokio::test]
    async fn an_unknown_ttl_leaves_expires_at_unknown_until_apply() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = create(&env, config(&[])).await;
        let unknown = config(&[("ttl", Value::Unknown)]);
        let plan = plan_update(&env, &state, unknown).await;
        assert!(plan.planned.get("expires_at").is_unknown(), "{plan:?}");
        let known = config(&[("ttl", Value::from("3h"))]);
        let mut planned = plan.planned.clone();
        planned.set("ttl", Value::from("3h"));
        let (after, d) = apply_update(
            &env,
            state,
            Plan {
                planned,
                ..Plan::default()
            },
            known,
        )
        .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(
            after.get("expires_at"),
            &Value::from("2026-11-23T15:00:00Z")
        );
    }

    /// A state written by jit before grant ids (schema version 0), as today's release writes it.
    fn v0_state() -> Value {
        Value::from_json(
            br#"{"id":"acl-0123456789abcdef0:ingress:100","network_acl_id":"acl-0123456789abcdef0","cidr_block":"203.0.113.7/32","protocol":"udp","from_port":500,"to_port":500,"egress":false,"rule_action":"allow","rule_number":100,"ttl":"2h","reason":null,"requested_by":"alice","created_at":"2026-11-23T12:00:00Z","expires_at":"2026-11-23T14:00:00Z","status":"active"}"#,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_version_0_state_upgrades_to_its_legacy_grant_id_and_keeps_working() {
        let up = AccessRule.upgrade(0, v0_state()).unwrap();
        assert_eq!(up.get("grant_id"), &Value::from("ingress:100"));
        schema_block().check_state(&up).unwrap();
        // Its record in AWS, as that release wrote it.
        let fake = FakeNacl::with_acl(ACL);
        fake.update(ACL, |acl| {
            acl.tags.insert(
                "jit:grant:ingress:100".into(),
                "v=1;c=1795435200;e=1795442400;t=2h;n=203.0.113.7/32;p=17;r=500-500;a=allow;by=alice".into(),
            );
            acl.entries.push(AclEntry {
                direction: Direction::Ingress,
                rule_number: 100,
                protocol: Protocol::UDP,
                action: RuleAction::Allow,
                cidr: Some("203.0.113.7/32".parse().unwrap()),
                ports: Some(Ports { from: 500, to: 500 }),
            });
        });
        let env = env(&fake, "2026-11-23T13:00:00Z");
        let (read, _) = AccessRule.read(&env, up.clone()).await;
        assert_eq!(read, up);
        let (gone, d) = destroy(&env, read).await;
        assert!(gone.is_null() && !d.has_errors(), "{d:?}");
        let acl = fake.get(ACL);
        assert!(acl.entries.is_empty() && acl.tags.is_empty(), "{acl:?}");
        // A state without a usable rule number is refused, not guessed.
        let mut bad = v0_state();
        bad.set("rule_number", Value::Null);
        assert!(AccessRule.upgrade(0, bad).is_err());
    }

    /// Every state the resource produces (create, each read status, import, upgrade, update)
    /// matches the schema, so a drift between the two fails here and not in a user's apply.
    #[tokio::test]
    async fn schema_accepts_every_state() {
        let fake = FakeNacl::with_acl(ACL);
        let env = env(&fake, "2026-11-23T12:00:00Z");
        let block = schema_block();
        let mut states = Vec::new();
        let (active, _) = create(&env, config(&[("reason", Value::from("why"))])).await;
        states.push(active.clone());
        states.push(
            AccessRule
                .import(&env, &format!("{ACL}:ingress:100"))
                .await
                .unwrap(),
        );
        states.push(AccessRule.upgrade(0, v0_state()).unwrap());
        let later = self::env(&fake, "2026-11-23T15:00:00Z");
        let (expired, _) = AccessRule
            .read(&later, {
                fake.update(ACL, |a| a.entries.clear());
                active.clone()
            })
            .await;
        states.push(expired);
        fake.update(ACL, |a| a.tags.clear());
        let (tcp, _) = create(
            &env,
            config(&[("protocol", Value::from("all")), ("from_port", Value::Null)]),
        )
        .await;
        states.push(tcp.clone());
        fake.update(ACL, |a| a.tags.clear());
        states.push(AccessRule.read(&env, tcp).await.0);
        for s in &states {
            assert!(!s.is_null());
            block
                .check_state(s)
                .unwrap_or_else(|e| panic!("{e}\n{s:?}"));
        }
        let statuses: std::collections::BTreeSet<&str> =
            states.iter().map(|s| s.get("status").value_str()).collect();
        assert_eq!(
            statuses.into_iter().collect::<Vec<_>>(),
            [STATUS_ACTIVE, STATUS_EXPIRED, STATUS_UNRECORDED]
        );
    }
}
