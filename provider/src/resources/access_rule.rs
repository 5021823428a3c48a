//! `jit_access_rule`: a network-ACL entry that lives for a TTL.
//!
//! Lifecycle: create adds the entry (never replacing one) and a tag on the ACL recording the
//! grant; once `expires_at` passes, the plan shows `status: "active" -> "expired"` and apply
//! deletes the entry and its tag while the resource stays in state, so the next plan is
//! empty. A grant revoked early by `jitctl` reads as `"revoked"` and is not re-created. An
//! entry that vanished before its expiry with no revoke marker is drift, and is re-created.
//!
//! The file reads top to bottom: the schema, the arguments and their checks (`validate`), the
//! resource's operations, then the steps of plan, apply and read, and last the typed state.
//! The writes go through the write protocol (`protocol::nacl`); tests are in `access_rule/tests.rs`.

use async_trait::async_trait;
use ipnet::IpNet;
use time::OffsetDateTime;

use crate::clock::format_rfc3339;
use crate::config::Settings;
use crate::duration::Ttl;
use crate::grant::lifecycle::{self, State};
use crate::grant::{
    AclView, Direction, EntrySpec, Grant, GrantId, Ports, Protocol, RULE_NUMBER_MAX,
    RULE_NUMBER_MIN, Record, RuleAction, address, parse_address, record, valid_acl_id,
};
use crate::protocol::nacl::{self as protocol, CreateError, Guard, NewGrant, Numbering, Updated};
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::resources::common::{
    self, STATUS_ACTIVE, STATUS_EXPIRED, STATUS_REVOKED, StateReader, Terms, Wording, aws_error,
    write_error,
};
use crate::tf::{
    AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Reader, Schema, Type, Value,
};

pub const TYPE_NAME: &str = "jit_access_rule";

pub const STATUS_UNRECORDED: &str = "unrecorded";
pub const STATUS_MISSING: &str = "missing";
pub const STATUS_REVOKING: &str = "revoking";

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

/// How the shared argument rules name a network-ACL grant.
const WORDING: Wording = Wording {
    noun: "a grant",
    ttl_example: "2h",
    prefix_scope: "allow rules",
};

// Schema.

pub fn schema_block() -> Block {
    Block {
        description: "A network-ACL entry that opens (or blocks) access for one CIDR for a limited time. \
                      The grant is recorded as a tag on the ACL; once it expires the next apply removes \
                      the entry, and `jitctl sweep` removes it without Terraform. If the ACL is also managed by the AWS \
                      provider with `tags`, give that provider `ignore_tags { key_prefixes = [\"jit:\"] }`, or its \
                      applies remove the grants' records."
            .into(),
        attributes: [
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
        ]
        .into_iter()
        .chain(Terms::schema(""))
        .chain([Attribute::computed("status", Type::String, "`active` while the entry exists, `expired` once the TTL has passed (the next apply removes the entry), `revoked` when `jitctl revoke` ended it early (it is not re-created), `unrecorded` when the entry is there but its record tag vanished (the next apply writes it again), `missing` when the entry vanished before the expiry (the next apply replaces the grant), `revoking` when a `jitctl revoke` was cut short before it removed the entry (the next apply removes it).")])
        .collect(),
        blocks: vec![],
    }
}

// Arguments.

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

/// The arguments as Terraform sent them, read but not yet checked.
struct Raw {
    acl_id: Known<String>,
    cidr: Known<String>,
    protocol: Known<String>,
    action: Known<String>,
    ttl: Known<String>,
    reason: Known<String>,
    requested_by: Known<String>,
    from_port: Known<i64>,
    to_port: Known<i64>,
    rule_number: Known<i64>,
    egress: Known<bool>,
}

impl Raw {
    /// Reads every argument; a value of the wrong type is a diagnostic and reads as null.
    fn read(r: &mut Reader, diags: &mut Diagnostics) -> Raw {
        Raw {
            acl_id: r.get(diags, &path("network_acl_id")),
            cidr: r.get(diags, &path("cidr_block")),
            protocol: r.get(diags, &path("protocol")),
            action: r.get(diags, &path("rule_action")),
            ttl: r.get(diags, &path("ttl")),
            reason: r.get(diags, &path("reason")),
            requested_by: r.get(diags, &path("requested_by")),
            from_port: r.get(diags, &path("from_port")),
            to_port: r.get(diags, &path("to_port")),
            rule_number: r.get(diags, &path("rule_number")),
            egress: r.get(diags, &path("egress")),
        }
    }
}

/// Parses and checks every argument that is known. With `settings`, also the checks that
/// depend on the provider configuration (plan and apply time). Returns the parsed arguments
/// only when all are known and valid.
fn check(v: &Value, settings: Option<&Settings>, diags: &mut Diagnostics) -> Option<Args> {
    let mut r = Reader::new(v);
    let raw = Raw::read(&mut r, diags);
    let errors_before = diags.0.len();

    check_acl_id(&raw.acl_id, diags);
    let cidr = raw
        .cidr
        .value()
        .and_then(|c| common::cidr(diags, &path("cidr_block"), c));
    let protocol = check_protocol(&raw.protocol, cidr, diags);
    let ports = protocol.and_then(|p| check_ports(p, &raw.from_port, &raw.to_port, diags));
    let action = check_action(&raw.action, diags);
    let rule_number = check_rule_number(&raw.rule_number, diags);
    let ttl = common::ttl(diags, &path("ttl"), &raw.ttl, WORDING);
    common::reason(diags, &path("reason"), &raw.reason);

    if let Some(s) = settings {
        if let (Some(t), Known::Value(text)) = (ttl, &raw.ttl) {
            common::ttl_within_max(diags, &path("ttl"), text, t, s);
        }
        common::reason_if_required(diags, &path("reason"), &raw.reason, s);
        if let (Some(net), Some(RuleAction::Allow)) = (cidr, action) {
            common::cidr_within_min_prefix(diags, &path("cidr_block"), net, s, WORDING);
        }
    }

    if diags.0.len() > errors_before || !r.complete {
        return None;
    }
    let args = Args {
        acl_id: raw.acl_id.into_value()?,
        entry_cidr: cidr?,
        protocol: protocol?,
        ports,
        direction: Direction::from_egress(raw.egress.into_value().unwrap_or(false)),
        action: action?,
        rule_number,
        ttl: ttl?,
        ttl_text: raw.ttl.into_value()?,
        reason: raw.reason.into_value(),
        requested_by: raw.requested_by.into_value(),
    };
    fits_in_its_tag(&args, diags).then_some(args)
}

fn check_acl_id(acl_id: &Known<String>, diags: &mut Diagnostics) {
    if let Known::Value(id) = acl_id
        && !valid_acl_id(id)
    {
        diags.push(Diagnostic::invalid(
            path("network_acl_id"),
            format!("{id:?} is not a network ACL id; expected \"acl-\" followed by 8 or 17 hex digits, e.g. \"acl-0123456789abcdef0\""),
        ));
    }
}

/// `protocol`: a name or number, and (once `cidr` is known) of the block's address family.
fn check_protocol(
    protocol: &Known<String>,
    cidr: Option<IpNet>,
    diags: &mut Diagnostics,
) -> Option<Protocol> {
    let p = match Protocol::parse(protocol.value()?) {
        Ok(p) => p,
        Err(e) => {
            diags.push(Diagnostic::invalid(path("protocol"), e));
            return None;
        }
    };
    match (p, cidr) {
        (Protocol::ICMP, Some(net @ IpNet::V6(_))) => diags.push(Diagnostic::invalid(
            path("protocol"),
            format!("\"icmp\" does not apply to the IPv6 block {net}; use \"icmpv6\""),
        )),
        (Protocol::ICMPV6, Some(net @ IpNet::V4(_))) => diags.push(Diagnostic::invalid(
            path("protocol"),
            format!("\"icmpv6\" does not apply to the IPv4 block {net}; use \"icmp\""),
        )),
        _ => {}
    }
    Some(p)
}

/// `from_port`/`to_port`: required (`to_port` defaulting to `from_port`) for a protocol with
/// ports, refused for one without. Returns the range when known and valid.
fn check_ports(
    p: Protocol,
    from_port: &Known<i64>,
    to_port: &Known<i64>,
    diags: &mut Diagnostics,
) -> Option<Ports> {
    if !p.has_ports() {
        for (name, val) in [("from_port", from_port), ("to_port", to_port)] {
            if let Known::Value(n) = val {
                diags.push(Diagnostic::invalid(
                    path(name),
                    format!("{name} = {n} can't be used with protocol {p}, which has no ports; remove it"),
                ));
            }
        }
        return None;
    }
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
    let f = match from_port {
        Known::Null => {
            diags.push(Diagnostic::invalid(
                path("from_port"),
                format!("from_port is required for protocol {p}; set it (and to_port for a range)"),
            ));
            return None;
        }
        Known::Unknown => return None,
        Known::Value(f) => *f,
    };
    let from = port(diags, "from_port", f);
    let to = match to_port {
        Known::Value(t) => port(diags, "to_port", *t),
        _ => from,
    };
    let (from, to) = (from?, to?);
    if from > to {
        diags.push(Diagnostic::invalid(
            path("to_port"),
            format!("to_port ({to}) is lower than from_port ({from})"),
        ));
        return None;
    }
    Some(Ports { from, to })
}

/// `rule_action`: `allow` (the default) or `deny`.
fn check_action(action: &Known<String>, diags: &mut Diagnostics) -> Option<RuleAction> {
    match action {
        Known::Value(a) => {
            let parsed = RuleAction::parse(a);
            if parsed.is_none() {
                diags.push(Diagnostic::invalid(
                    path("rule_action"),
                    format!("{a:?} is not \"allow\" or \"deny\""),
                ));
            }
            parsed
        }
        Known::Null => Some(RuleAction::Allow),
        Known::Unknown => None,
    }
}

/// `rule_number`, when given: one AWS allows for a custom entry.
fn check_rule_number(rule_number: &Known<i64>, diags: &mut Diagnostics) -> Option<i32> {
    let n = *rule_number.value()?;
    match i32::try_from(n) {
        Ok(n) if (RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(&n) => Some(n),
        _ => {
            diags.push(Diagnostic::invalid(
                path("rule_number"),
                format!("{n} is outside {RULE_NUMBER_MIN}-{RULE_NUMBER_MAX}, the numbers AWS allows for NACL entries"),
            ));
            None
        }
    }
}

/// Whether the grant's record fits in its AWS tag (256 characters shared by the rule, `reason`
/// and `requested_by`); if not, says by how much on the free text. Checked with a 10-digit
/// epoch, as stored until 2286.
fn fits_in_its_tag(args: &Args, diags: &mut Diagnostics) -> bool {
    let probe = Record {
        id: GrantId::parse("aaaaaaaaaaaa").expect("a valid id"),
        grant: args.grant(
            args.rule_number.unwrap_or(RULE_NUMBER_MAX),
            OffsetDateTime::from_unix_timestamp(2_000_000_000).expect("valid"),
        ),
        pending: false,
    };
    let room = probe.tag_room();
    if room >= 0 {
        return true;
    }
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
    false
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

    /// An unchanged grant, or one whose `ttl`, `reason` or `requested_by` changed, is updated
    /// in place (which is also how expiry and a lost record show); anything else that changed
    /// is a new grant.
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
        if !req.prior.is_null() {
            let prior = match RuleState::from_value(&req.prior) {
                Ok(x) => x,
                Err(d) => {
                    plan.diags.push(d);
                    return plan;
                }
            };
            plan.requires_replace = replacements(&prior, &req.prior, &planned, &req.config);
            if prior.status == Status::Missing {
                plan.diags.push(Diagnostic::warning(
                    "Grant entry missing",
                    format!("the network ACL entry of {} is gone before the grant's expiry (removed outside jit, or a removal cut short); this apply replaces the grant",
                        req.prior.get("id").value_str()),
                ));
            }
            if plan.requires_replace.is_empty() {
                let now = env.clock.now();
                plan_in_place(
                    now,
                    &prior,
                    &req.prior,
                    args.as_ref(),
                    &mut planned,
                    &mut plan.diags,
                );
                plan.planned = planned;
                return plan;
            }
        }
        plan_new_grant(
            env,
            &req.prior,
            &req.config,
            args.as_ref(),
            &mut planned,
            &mut plan,
        )
        .await;
        plan.planned = planned;
        plan
    }

    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
        if req.planned.is_null() {
            destroy(env, req.prior).await
        } else if req.prior.is_null() {
            create(env, &req).await
        } else {
            update(env, req).await
        }
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
        match status_now(&state, &view, env.clock.now()) {
            Some(status) => {
                state.status = status;
                (state.to_value(), Diagnostics::default())
            }
            // Gone before its time with no revoke marker: drift, so the plan re-creates it.
            None => (Value::Null, Diagnostics::default()),
        }
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

// Plan.

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

/// The attributes whose change makes the planned grant a new one.
fn replacements(
    prior: &RuleState,
    prior_value: &Value,
    planned: &Value,
    config: &Value,
) -> Vec<AttrPath> {
    let mut out: Vec<AttrPath> = REPLACING
        .into_iter()
        .filter(|name| !same_meaning(name, prior_value.get(name), planned.get(name)))
        .map(path)
        .collect();
    let explicit = config.get("rule_number");
    if !explicit.is_null() && explicit != prior_value.get("rule_number") {
        out.push(path("rule_number"));
    }
    // An ended grant can't be extended in place: its entry is gone. A new TTL means a new grant.
    if !prior.status.is_live() && prior_value.get("ttl") != planned.get("ttl") {
        out.push(path("ttl"));
    }
    // An entry gone before its time (drift, or a removal cut short): a new grant, whose
    // predecessor's removal deletes the record left behind.
    if prior.status == Status::Missing {
        out.push(path("status"));
    }
    out
}

/// Semantic equality of two configuration values of a replacing attribute.
fn same_meaning(name: &str, a: &Value, b: &Value) -> bool {
    match (name, a, b) {
        ("cidr_block", Value::String(x), Value::String(y)) => common::same_cidr(x, y),
        ("protocol", Value::String(x), Value::String(y)) => {
            match (Protocol::parse(x), Protocol::parse(y)) {
                (Ok(x), Ok(y)) => x == y,
                _ => x == y,
            }
        }
        _ => a == b,
    }
}

/// The same grant, updated in place: `expires_at` follows a new `ttl` (from `created_at`), a
/// live grant past it plans `status = "expired"`, and an unrecorded one the record's repair.
fn plan_in_place(
    now: OffsetDateTime,
    prior: &RuleState,
    prior_value: &Value,
    args: Option<&Args>,
    planned: &mut Value,
    diags: &mut Diagnostics,
) {
    // Unknown until apply when the ttl comes from another resource.
    let (expires_at, expired) = common::expiry_in_place(
        planned.get("ttl"),
        args.map(|a| a.ttl),
        prior.grant.created_at,
        prior.grant.expires_at,
        now,
    );
    planned.set("expires_at", expires_at);
    if prior.status.is_live() && expired {
        planned.set("status", Value::from(STATUS_EXPIRED));
        diags.push(Diagnostic::warning(
            "Grant expired",
            format!("{} expired at {}; this apply removes the network ACL entry and its tag. Use `terraform apply -replace` for a fresh grant.",
                prior_value.get("id").value_str(), planned.get("expires_at").value_str()),
        ));
    } else if prior.status == Status::Revoking {
        planned.set("status", Value::from(STATUS_REVOKED));
        diags.push(Diagnostic::warning(
            "Grant revoke unfinished",
            format!("{} was revoked by jitctl, but its network ACL entry is still there (the revoke was cut short); this apply removes the entry",
                prior_value.get("id").value_str()),
        ));
    } else if prior.status == Status::Unrecorded {
        planned.set("status", Value::from(STATUS_ACTIVE));
        diags.push(Diagnostic::warning(
            "Grant record missing",
            format!("the record of {} (tag {:?} on {}) is gone while its entry is still there; this apply writes it again. The usual cause is an aws_network_acl resource that manages `tags` on this ACL: give its provider `ignore_tags {{ key_prefixes = [\"jit:\"] }}`",
                prior_value.get("id").value_str(), record::tag_key(&prior.grant_id), prior.acl_id),
        ));
    }
}

/// A new grant (create or replacement): AWS decides the identity, number and times at apply.
/// Checks the ACL as it is now: it exists, an explicit number is free, nothing shadows it.
async fn plan_new_grant(
    env: &Env,
    prior: &Value,
    config: &Value,
    args: Option<&Args>,
    planned: &mut Value,
    plan: &mut Plan,
) {
    for name in ["id", "grant_id", "created_at", "expires_at"] {
        planned.set(name, Value::Unknown);
    }
    if config.get("rule_number").is_null() {
        planned.set("rule_number", Value::Unknown);
    }
    planned.set("status", Value::from(STATUS_ACTIVE));
    let Some(args) = args else { return };
    match env.nacls.view(&args.acl_id).await {
        Ok(Some(view)) => {
            let spec = args.spec(args.rule_number.unwrap_or(0));
            if let Some(n) = args.rule_number
                && view.entry(args.direction, n).is_some()
                // Replacing our own entry at the same number: it is deleted before the new one is created.
                && (prior.get("rule_number") != &Value::from(i64::from(n))
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
        Err(e) => plan
            .diags
            .push(aws_error("Could not read the network ACL", e).at(path("network_acl_id"))),
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

// Apply.

/// Removes the grant (an entry that is already gone is fine); on an error it stays in state.
async fn destroy(env: &Env, prior_value: Value) -> (Value, Diagnostics) {
    let prior = match RuleState::from_value(&prior_value) {
        Ok(x) => x,
        Err(d) => return (prior_value, d.into()),
    };
    let g = &prior.grant;
    match protocol::remove(
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
            prior_value,
            write_error("Could not remove the grant", e).into(),
        ),
    }
}

/// Creates the planned grant.
async fn create(env: &Env, req: &ApplyRequest) -> (Value, Diagnostics) {
    let mut diags = Diagnostics::default();
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
    match create_grant(env, &args).await {
        Ok(r) => (state(r).to_value(), diags),
        Err((d, left)) => {
            diags.extend(d);
            // A grant that may exist in part stays in state; Terraform taints it, and
            // the next apply removes it before creating a fresh one.
            (left.map_or(Value::Null, |r| state(r).to_value()), diags)
        }
    }
}

/// Creates the grant through the write protocol, which leaves nothing half-applied. On an
/// error after which the grant may exist in part, also returns its record, to keep in state.
async fn create_grant(env: &Env, args: &Args) -> Result<Record, (Diagnostics, Option<Record>)> {
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
                CreateError::NoFreeNumber(..) => Diagnostic::error("No free rule number", message),
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

/// In-place update: expiry (the entry and record go, the resource stays), a new TTL, reason or
/// requester, or a record written again.
async fn update(env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
    let mut diags = Diagnostics::default();
    let prior = match RuleState::from_value(&req.prior) {
        Ok(x) => x,
        Err(d) => return (req.prior, d.into()),
    };
    // The ttl becomes known only now when it comes from another resource.
    let ttl = || {
        let mut d = Diagnostics::default();
        let args = check(&req.config, Some(&env.settings), &mut d);
        args.map(|a| a.ttl).ok_or(d)
    };
    let planned = match common::settled_expiry(&req.planned, prior.grant.created_at, ttl) {
        Ok(p) => p,
        Err(d) => {
            diags.extend(d);
            return (req.prior, diags);
        }
    };
    let mut next = match RuleState::from_value(&planned) {
        Ok(x) => x,
        Err(d) => return (req.prior, d.into()),
    };
    if prior.status == Status::Revoking {
        // Finish the revoke as the sweep would: the entry goes while the grant owns it; the
        // marked record stays until the grant's expiry.
        let now = env.clock.now();
        if let Err(e) =
            protocol::sweep_one(&env.nacls, &prior.acl_id, &prior.grant_id, now, Guard::NONE).await
        {
            return (
                req.prior,
                write_error("Could not finish the grant's revoke", e).into(),
            );
        }
        next.status = Status::Revoked;
        return (next.to_value(), diags);
    }
    if prior.status.is_live()
        && (next.status == Status::Expired || env.clock.now() >= next.grant.expires_at)
    {
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

// Read.

/// A live grant's status on a fresh view of its ACL; `None` when both its entry and its record
/// are gone before its time with no revoke marker (drift).
fn status_now(state: &RuleState, view: &AclView, now: OffsetDateTime) -> Option<Status> {
    let records = view.records();
    let spec = &state.grant.entry;
    match records.iter().find(|r| r.id == state.grant_id) {
        Some(r) => match lifecycle::state(r, view, &records, now) {
            State::Revoking => Some(Status::Revoking),
            _ if lifecycle::owns(view, &records, r) => Some(Status::Active),
            State::Revoked => Some(Status::Revoked),
            // A create that failed part-way (kept in state, tainted): the next apply's
            // destroy removes its intent.
            State::Pending | State::Abandoned => Some(state.status),
            _ if lifecycle::is_expired(&state.grant, now) => Some(Status::Expired),
            // The record outlived its entry: the plan replaces the grant, whose removal deletes
            // the record.
            _ => Some(Status::Missing),
        },
        None => {
            let unrecorded = lifecycle::owner(view, &records, spec.direction, spec.rule_number)
                .is_none()
                && view
                    .entry(spec.direction, spec.rule_number)
                    .is_some_and(|e| e.matches(spec));
            if unrecorded {
                Some(Status::Unrecorded)
            } else if lifecycle::is_expired(&state.grant, now) {
                Some(Status::Expired)
            } else {
                None
            }
        }
    }
}

// State.

/// `status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Expired,
    Revoked,
    /// The entry is there, but its record tag vanished: the next apply writes it again.
    Unrecorded,
    /// The record is there, but its entry vanished before the grant's expiry (removed by hand,
    /// or a removal cut short): the next apply replaces the grant, removing the record first.
    Missing,
    /// `jitctl revoke` marked the grant, but its entry is still there (the revoke was cut short):
    /// the next apply removes the entry.
    Revoking,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => STATUS_ACTIVE,
            Status::Expired => STATUS_EXPIRED,
            Status::Revoked => STATUS_REVOKED,
            Status::Unrecorded => STATUS_UNRECORDED,
            Status::Missing => STATUS_MISSING,
            Status::Revoking => STATUS_REVOKING,
        }
    }

    /// Whether the grant's entry should be there: active, or active with its record lost.
    fn is_live(self) -> bool {
        matches!(self, Status::Active | Status::Unrecorded)
    }

    fn parse(s: &str) -> Option<Status> {
        [
            Status::Active,
            Status::Expired,
            Status::Revoked,
            Status::Unrecorded,
            Status::Missing,
            Status::Revoking,
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
        let terms = Terms {
            ttl: g.ttl.clone(),
            reason: g.reason.clone(),
            requested_by: g.requested_by.clone(),
            created_at: g.created_at,
            expires_at: g.expires_at,
        };
        let attributes = [
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
            ("status", Value::from(self.status.as_str())),
        ];
        Value::object(attributes.into_iter().chain(terms.attributes()))
    }

    /// Reads a state object (every attribute is known in state).
    fn from_value(v: &Value) -> Result<RuleState, Diagnostic> {
        let state = StateReader::new(TYPE_NAME, v);
        let bad = |what: &str| state.bad(what);
        let cidr_text = state.required("cidr_block")?;
        let protocol_text = state.required("protocol")?;
        let ports = match (state.int("from_port"), state.int("to_port")) {
            (Some(f), Some(t)) => Some(Ports {
                from: u16::try_from(f).map_err(|_| bad("from_port"))?,
                to: u16::try_from(t).map_err(|_| bad("to_port"))?,
            }),
            _ => None,
        };
        let entry = EntrySpec {
            direction: Direction::from_egress(matches!(v.get("egress"), Value::Bool(true))),
            rule_number: state
                .int("rule_number")
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| bad("rule_number"))?,
            cidr: cidr_text.parse::<IpNet>().map_err(|_| bad("cidr_block"))?,
            protocol: Protocol::parse(&protocol_text).map_err(|_| bad("protocol"))?,
            ports,
            action: state
                .text("rule_action")
                .and_then(|a| RuleAction::parse(&a))
                .ok_or_else(|| bad("rule_action"))?,
        };
        let Terms {
            ttl,
            reason,
            requested_by,
            created_at,
            expires_at,
        } = Terms::read(&state)?;
        let grant = Grant {
            entry,
            created_at,
            expires_at,
            ttl,
            requested_by,
            reason,
            revoked_at: None,
        };
        Ok(RuleState {
            grant_id: state
                .text("grant_id")
                .and_then(|g| GrantId::parse(&g))
                .ok_or_else(|| bad("grant_id"))?,
            acl_id: state.required("network_acl_id")?,
            cidr_text,
            protocol_text,
            grant,
            status: state
                .text("status")
                .and_then(|s| Status::parse(&s))
                .ok_or_else(|| bad("status"))?,
        })
    }
}

/// Schema version 0 (before grant ids) to 1: the grant id of a grant recorded before ids
/// existed is its direction and rule number, the key its record still has in AWS.
fn upgrade_v0(mut v: Value) -> Result<Value, Diagnostic> {
    let direction = Direction::from_egress(matches!(v.get("egress"), Value::Bool(true)));
    let rule_number = StateReader::new(TYPE_NAME, &v)
        .int("rule_number")
        .and_then(|n| i32::try_from(n).ok())
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

#[cfg(test)]
mod tests;
