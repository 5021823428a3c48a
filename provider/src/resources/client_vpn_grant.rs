//! `jit_client_vpn_grant`: who may connect to a Client VPN endpoint, from where, for a TTL.
//!
//! The grant is one tag on the endpoint (`grant::client_vpn`), which jit's client-connect
//! handler (`jit-client-vpn-handler`) reads on every new connection. Lifecycle as for
//! `jit_access_rule`: once `expires_at` passes the plan shows `status: "active" -> "expired"`,
//! and apply removes the tag and terminates the connections the grant alone admitted, while the
//! resource stays in state; a grant revoked by `jitctl` reads as `"revoked"` and is never
//! re-created; a tag removed by hand before its expiry is drift, and is created again.

use async_trait::async_trait;
use ipnet::IpNet;
use time::OffsetDateTime;

use crate::clock::format_rfc3339;
use crate::config::Settings;
use crate::duration::Ttl;
use crate::grant::GrantId;
use crate::grant::client_vpn::{
    Grant, Identity, Record, State, address, parse_address, valid_endpoint_id,
};
use crate::protocol::client_vpn::{self as protocol, CreateError, Updated};
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::resources::common::{
    self, STATUS_ACTIVE, STATUS_EXPIRED, StateReader, Status, Terms, Wording, write_error,
};
use crate::tf::{
    AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Reader, Schema, Type, Value,
};

pub const TYPE_NAME: &str = "jit_client_vpn_grant";

/// The identity attributes: exactly one is set.
const IDENTITIES: [&str; 3] = ["username", "common_name", "group"];

/// Attributes whose change means a different grant.
const REPLACING: [&str; 5] = [
    "client_vpn_endpoint_id",
    "username",
    "common_name",
    "group",
    "cidr_block",
];

pub struct ClientVpnGrant;

fn path(name: &str) -> AttrPath {
    AttrPath::root(name)
}

/// The grant's arguments, validated and parsed. Built only when every argument is known.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    endpoint_id: String,
    identity: Identity,
    cidr: Option<IpNet>,
    ttl: Ttl,
    ttl_text: String,
    reason: Option<String>,
    requested_by: Option<String>,
}

impl Args {
    fn grant(&self, created_at: OffsetDateTime) -> Grant {
        Grant {
            identity: self.identity.clone(),
            cidr: self.cidr,
            created_at,
            expires_at: created_at + self.ttl.as_time(),
            ttl: self.ttl_text.clone(),
            requested_by: self.requested_by.clone(),
            reason: self.reason.clone(),
            revoked_at: None,
        }
    }
}

/// How the shared argument rules ([`common`]) name what this resource grants.
const WORDING: Wording = Wording {
    noun: "a grant",
    ttl_example: "2h",
    prefix_scope: "Client VPN grants (omit cidr_block to admit the identity from anywhere)",
};

/// Parses and checks every argument that is known. With `settings`, also the checks that depend
/// on the provider configuration. Returns the arguments only when all are known and valid.
fn check(v: &Value, settings: Option<&Settings>, diags: &mut Diagnostics) -> Option<Args> {
    let mut r = Reader::new(v);
    let endpoint: Known<String> = r.get(diags, &path("client_vpn_endpoint_id"));
    let identities: Vec<(&str, Known<String>)> = IDENTITIES
        .iter()
        .map(|name| (*name, r.get(diags, &path(name))))
        .collect();
    let cidr: Known<String> = r.get(diags, &path("cidr_block"));
    let ttl: Known<String> = r.get(diags, &path("ttl"));
    let reason: Known<String> = r.get(diags, &path("reason"));
    let requested_by: Known<String> = r.get(diags, &path("requested_by"));
    let errors_before = diags.0.len();

    if let Known::Value(id) = &endpoint
        && !valid_endpoint_id(id)
    {
        diags.push(Diagnostic::invalid(
            path("client_vpn_endpoint_id"),
            format!("{id:?} is not a Client VPN endpoint id; expected \"cvpn-endpoint-\" followed by 17 hex digits, e.g. \"cvpn-endpoint-0123456789abcdef0\""),
        ));
    }
    let set: Vec<&(&str, Known<String>)> =
        identities.iter().filter(|(_, k)| !k.is_null()).collect();
    let all_known = identities.iter().all(|(_, k)| !k.is_unknown());
    if all_known && set.len() != 1 {
        let (at, detail) = match set.as_slice() {
            [] => (
                "username",
                "set exactly one of username, common_name or group: who the grant lets connect"
                    .to_string(),
            ),
            many => (
                many[1].0,
                format!(
                    "{} are set; a grant names exactly one of username, common_name or group (one resource per identity)",
                    many.iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ),
        };
        diags.push(Diagnostic::invalid(path(at), detail));
    }
    for (name, value) in &identities {
        if let Known::Value(v) = value
            && v.trim().is_empty()
        {
            diags.push(Diagnostic::invalid(
                path(name),
                format!("{name} is empty; AWS passes an empty {name} when the client has none, so an empty one would match nobody or everybody: name who may connect"),
            ));
        }
    }
    let parsed_cidr = match &cidr {
        Known::Value(c) => common::cidr(diags, &path("cidr_block"), c).inspect(|net| {
            if let Some(s) = settings {
                common::cidr_within_min_prefix(diags, &path("cidr_block"), *net, s, WORDING);
            }
        }),
        _ => None,
    };
    let parsed_ttl = common::ttl(diags, &path("ttl"), &ttl, WORDING);
    if let (Some(t), Known::Value(text), Some(s)) = (parsed_ttl, &ttl, settings) {
        common::ttl_within_max(diags, &path("ttl"), text, t, s);
    }
    common::reason(diags, &path("reason"), &reason);
    if let Some(s) = settings {
        common::reason_if_required(diags, &path("reason"), &reason, s);
    }

    if diags.0.len() > errors_before || !r.complete {
        return None;
    }
    let identity = identities.into_iter().find_map(|(name, k)| {
        k.into_value().map(|v| match name {
            "username" => Identity::Username(v),
            "common_name" => Identity::CommonName(v),
            _ => Identity::Group(v),
        })
    })?;
    let args = Args {
        endpoint_id: endpoint.into_value()?,
        identity,
        cidr: match cidr {
            Known::Null => None,
            _ => Some(parsed_cidr?),
        },
        ttl: parsed_ttl?,
        ttl_text: ttl.into_value()?,
        reason: reason.into_value(),
        requested_by: requested_by.into_value(),
    };
    // The tag must hold the whole grant. Checked with 10-digit epochs, as stored until 2286.
    let probe = Record {
        id: GrantId::parse("aaaaaaaaaaaa").expect("a valid id"),
        grant: args.grant(OffsetDateTime::from_unix_timestamp(2_000_000_000).expect("valid")),
    };
    let room = probe.tag_room();
    if room < 0 {
        let target = if args.reason.is_some() {
            "reason"
        } else if args.requested_by.is_some() {
            "requested_by"
        } else {
            args.identity.attribute()
        };
        diags.push(Diagnostic::invalid(
            path(target),
            format!("the grant's details are {} character(s) too long for its AWS tag (256 characters, shared by the identity, reason, requested_by and the ttl); shorten {target}", -room),
        ));
        return None;
    }
    Some(args)
}

/// One grant's state as Terraform stores it: every attribute of the schema, typed. The only way
/// the resource reads or writes state (`schema_accepts_every_state` checks the two agree).
#[derive(Debug, Clone, PartialEq)]
struct GrantState {
    grant_id: GrantId,
    endpoint_id: String,
    /// `cidr_block` exactly as configured.
    cidr_text: Option<String>,
    grant: Grant,
    status: Status,
}

impl GrantState {
    fn to_value(&self) -> Value {
        let g = &self.grant;
        let identity = |name: &str| {
            if g.identity.attribute() == name {
                Value::from(g.identity.value())
            } else {
                Value::Null
            }
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
                Value::from(address(&self.endpoint_id, &self.grant_id)),
            ),
            ("grant_id", Value::from(self.grant_id.as_str())),
            (
                "client_vpn_endpoint_id",
                Value::from(self.endpoint_id.as_str()),
            ),
            ("username", identity("username")),
            ("common_name", identity("common_name")),
            ("group", identity("group")),
            ("cidr_block", Value::from(self.cidr_text.clone())),
            ("status", Value::from(self.status.as_str())),
        ];
        Value::object(attributes.into_iter().chain(terms.attributes()))
    }

    /// Reads a state object (every attribute is known in state).
    fn from_value(v: &Value) -> Result<GrantState, Diagnostic> {
        let state = StateReader::new(TYPE_NAME, v);
        let bad = |what: &str| state.bad(what);
        let text = |name: &str| state.text(name);
        let identity = match (text("username"), text("common_name"), text("group")) {
            (Some(u), None, None) => Identity::Username(u),
            (None, Some(n), None) => Identity::CommonName(n),
            (None, None, Some(g)) => Identity::Group(g),
            _ => {
                return Err(bad(
                    "the identity (exactly one of username, common_name, group)",
                ));
            }
        };
        let cidr_text = text("cidr_block");
        let cidr = cidr_text
            .as_deref()
            .map(|c| c.parse::<IpNet>().map_err(|_| bad("cidr_block")))
            .transpose()?;
        let Terms {
            ttl,
            reason,
            requested_by,
            created_at,
            expires_at,
        } = Terms::read(&state)?;
        let grant = Grant {
            identity,
            cidr,
            created_at,
            expires_at,
            ttl,
            requested_by,
            reason,
            revoked_at: None,
        };
        Ok(GrantState {
            grant_id: text("grant_id")
                .and_then(|g| GrantId::parse(&g))
                .filter(|g| !g.is_legacy())
                .ok_or_else(|| bad("grant_id"))?,
            endpoint_id: text("client_vpn_endpoint_id")
                .filter(|e| valid_endpoint_id(e))
                .ok_or_else(|| bad("client_vpn_endpoint_id"))?,
            cidr_text,
            grant,
            status: text("status")
                .and_then(|s| Status::parse(&s))
                .ok_or_else(|| bad("status"))?,
        })
    }
}

/// Semantic equality of two configuration values of a replacing attribute.
fn same_meaning(name: &str, a: &Value, b: &Value) -> bool {
    match (name, a, b) {
        ("cidr_block", Value::String(x), Value::String(y)) => common::same_cidr(x, y),
        _ => a == b,
    }
}

/// A warning for connections that a removal could not terminate (the tag is gone, so the
/// handler admits no new ones; the next `jitctl sweep` ends them).
fn termination_warnings(ended: &[protocol::Termination]) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for t in ended.iter().filter(|t| t.error.is_some()) {
        diags.push(Diagnostic::warning(
            "Connection not terminated",
            format!(
                "the grant is removed, but its connection {} could not be terminated: {}. The next `jitctl sweep` (or the scheduled sweeper) ends it",
                t.connection_id,
                t.error.as_deref().unwrap_or_default()
            ),
        ));
    }
    diags
}

#[async_trait]
impl Resource for ClientVpnGrant {
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
        let mut planned = req.proposed;
        let args = check(&planned, Some(&env.settings), &mut plan.diags);
        if plan.diags.has_errors() {
            plan.planned = planned;
            return plan;
        }
        let now = env.clock.now();
        if !req.prior.is_null() {
            let prior = match GrantState::from_value(&req.prior) {
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
            let live = prior.status == Status::Active;
            // An ended grant can't be extended in place: its tag is gone. A new TTL means a new grant.
            if !live && req.prior.get("ttl") != planned.get("ttl") {
                plan.requires_replace.push(path("ttl"));
            }
            if plan.requires_replace.is_empty() {
                let (expires_at, expired) = common::expiry_in_place(
                    planned.get("ttl"),
                    args.as_ref().map(|a| a.ttl),
                    prior.grant.created_at,
                    prior.grant.expires_at,
                    now,
                );
                planned.set("expires_at", expires_at);
                if live && expired {
                    planned.set("status", Value::from(STATUS_EXPIRED));
                    plan.diags.push(Diagnostic::warning(
                        "Grant expired",
                        format!("{} expired at {}; this apply removes its tag from the endpoint and terminates the connections it alone admitted. Use `terraform apply -replace` for a fresh grant.",
                            req.prior.get("id").value_str(), planned.get("expires_at").value_str()),
                    ));
                }
                plan.planned = planned;
                return plan;
            }
        }
        // A new grant (create or replacement).
        for name in ["id", "grant_id", "created_at", "expires_at"] {
            planned.set(name, Value::Unknown);
        }
        planned.set("status", Value::from(STATUS_ACTIVE));
        if let Some(args) = &args {
            match env.client_vpns.view(&args.endpoint_id).await {
                Ok(Some(_)) => {}
                Ok(None) => plan.diags.push(Diagnostic::invalid(
                    path("client_vpn_endpoint_id"),
                    CreateError::EndpointMissing.message(&args.endpoint_id),
                )),
                Err(e) => plan.diags.push(
                    Diagnostic::error("Could not read the Client VPN endpoint", e.to_string())
                        .at(path("client_vpn_endpoint_id")),
                ),
            }
        }
        plan.planned = planned;
        plan
    }

    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
        if req.planned.is_null() {
            // Destroy: the tag by its own key, then the connections it alone admitted.
            let prior = match GrantState::from_value(&req.prior) {
                Ok(x) => x,
                Err(d) => return (req.prior, d.into()),
            };
            return match protocol::remove(
                &env.client_vpns,
                &prior.endpoint_id,
                &prior.grant_id,
                env.clock.now(),
            )
            .await
            {
                Ok(ended) => (Value::Null, termination_warnings(&ended)),
                Err(e) => (
                    req.prior,
                    write_error("Could not remove the grant", e).into(),
                ),
            };
        }
        let mut diags = Diagnostics::default();
        if req.prior.is_null() {
            let Some(args) = check(&req.planned, Some(&env.settings), &mut diags) else {
                if !diags.has_errors() {
                    diags.push(Diagnostic::error(
                        "Arguments still unknown at apply",
                        "every argument of jit_client_vpn_grant must be known when it is created",
                    ));
                }
                return (Value::Null, diags);
            };
            let id = match GrantId::random() {
                Ok(id) => id,
                Err(e) => {
                    return (
                        Value::Null,
                        Diagnostic::error("Could not create the grant", e).into(),
                    );
                }
            };
            let record = Record {
                id,
                grant: args.grant(env.clock.now()),
            };
            let state = GrantState {
                grant_id: record.id.clone(),
                endpoint_id: args.endpoint_id.clone(),
                cidr_text: match req.planned.get("cidr_block") {
                    Value::String(c) => Some(c.clone()),
                    _ => None,
                },
                grant: record.grant.clone(),
                status: Status::Active,
            };
            return match protocol::create(&env.client_vpns, &args.endpoint_id, &record).await {
                Ok(()) => (state.to_value(), diags),
                Err(e) => {
                    let message = e.message(&args.endpoint_id);
                    match e {
                        CreateError::EndpointMissing => {
                            diags
                                .push(Diagnostic::invalid(path("client_vpn_endpoint_id"), message));
                            (Value::Null, diags)
                        }
                        CreateError::TagsFull => {
                            diags.push(Diagnostic::error(
                                "Client VPN endpoint has no room for another grant",
                                message,
                            ));
                            (Value::Null, diags)
                        }
                        // The tag may have landed: the grant stays in state (Terraform taints it),
                        // and the next apply removes it by its key before creating a fresh one.
                        CreateError::Aws(_) => {
                            diags.push(Diagnostic::error("Could not create the grant", message));
                            (state.to_value(), diags)
                        }
                    }
                }
            };
        }
        // In-place update: expiry, a new TTL, reason or requester.
        let prior = match GrantState::from_value(&req.prior) {
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
        let mut next = match GrantState::from_value(&planned) {
            Ok(x) => x,
            Err(d) => return (req.prior, d.into()),
        };
        let now = env.clock.now();
        let live = prior.status == Status::Active;
        if live && (next.status == Status::Expired || now >= next.grant.expires_at) {
            match protocol::remove(&env.client_vpns, &prior.endpoint_id, &prior.grant_id, now).await
            {
                Ok(ended) => diags.extend(termination_warnings(&ended)),
                Err(e) => {
                    return (
                        req.prior,
                        write_error("Could not remove the expired grant", e).into(),
                    );
                }
            }
            next.status = Status::Expired;
        } else if next.status == Status::Active
            && (next.grant.ttl != prior.grant.ttl
                || next.grant.expires_at != prior.grant.expires_at
                || next.grant.reason != prior.grant.reason
                || next.grant.requested_by != prior.grant.requested_by)
        {
            match protocol::update(
                &env.client_vpns,
                &prior.endpoint_id,
                &prior.grant_id,
                &next.grant,
            )
            .await
            {
                Ok(Updated::Written(_)) => {}
                Ok(Updated::Revoked(at)) => {
                    next.status = Status::Revoked;
                    diags.push(Diagnostic::warning(
                        "Grant revoked",
                        format!("{} was revoked at {} (jitctl revoke) after this plan was made; its tag was left as it is and the grant stays revoked", req.prior.get("id").value_str(), format_rfc3339(at)),
                    ));
                }
                Err(e) => {
                    return (
                        req.prior,
                        write_error("Could not update the grant's tag", e).into(),
                    );
                }
            }
        }
        (next.to_value(), diags)
    }

    async fn read(&self, env: &Env, current: Value) -> (Value, Diagnostics) {
        let mut state = match GrantState::from_value(&current) {
            Ok(x) => x,
            Err(d) => return (current, d.into()),
        };
        if matches!(state.status, Status::Expired | Status::Revoked) {
            return (current, Diagnostics::default());
        }
        let view = match env.client_vpns.view(&state.endpoint_id).await {
            Ok(v) => v.map(|v| (*v).clone()).unwrap_or_default(),
            Err(e) => {
                return (
                    current,
                    Diagnostic::error("Could not read the Client VPN endpoint", e.to_string())
                        .into(),
                );
            }
        };
        let now = env.clock.now();
        let (records, _) = view.records();
        state.status = match records.iter().find(|r| r.id == state.grant_id) {
            Some(r) => match r.grant.state(now) {
                State::Revoked => Status::Revoked,
                // Still on the endpoint, even past its expiry: the plan shows `expired`, and the
                // apply removes the tag.
                State::Active | State::Expired => Status::Active,
            },
            None if crate::grant::lifecycle::has_ended(state.grant.expires_at, now) => {
                Status::Expired
            }
            // Gone before its time with no revoke marker: drift, so the plan creates it again.
            None => return (Value::Null, Diagnostics::default()),
        };
        (state.to_value(), Diagnostics::default())
    }

    async fn import(&self, env: &Env, id: &str) -> Result<Value, Diagnostics> {
        let (endpoint, grant_id) =
            parse_address(id).map_err(|e| Diagnostic::error("Invalid import id", e))?;
        let view = env
            .client_vpns
            .view(&endpoint)
            .await
            .map_err(|e| {
                Diagnostic::error("Could not read the Client VPN endpoint", e.to_string())
            })?
            .ok_or_else(|| {
                Diagnostic::error(
                    "Cannot import",
                    CreateError::EndpointMissing.message(&endpoint),
                )
            })?;
        let (records, unreadable) = view.records();
        let Some(r) = records.iter().find(|r| r.id == grant_id) else {
            let why = unreadable
                .iter()
                .find(|e| e.key == crate::grant::record::tag_key(&grant_id))
                .map_or_else(
                    || "has no jit grant with that id (a `jit:grant:<grant id>` tag)".to_string(),
                    |e| {
                        format!(
                            "has a tag for that grant that jit cannot read: {}",
                            e.reason
                        )
                    },
                );
            return Err(Diagnostic::error(
                "Not a jit grant",
                format!("{endpoint} {why}; jit imports only grants it created, because only those have an expiry. `jitctl list` shows the grants of an endpoint"),
            )
            .into());
        };
        let state = GrantState {
            grant_id: r.id.clone(),
            endpoint_id: endpoint,
            cidr_text: r.grant.cidr.map(|c| c.to_string()),
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
        // `read` follows and settles `active` vs `expired` from the tag and the clock.
        Ok(state.to_value())
    }
}

pub fn schema_block() -> Block {
    Block {
        description: "Lets one identity (a user, a client certificate, or a group) connect to an AWS Client VPN \
                      endpoint, optionally only from one CIDR, for a limited time. The grant is a tag on the endpoint \
                      that jit's client-connect handler (`jit-client-vpn-handler`, deployed as the endpoint's \
                      `AWSClientVPN-…` Lambda) reads on every new connection; once it expires the next apply removes \
                      it and terminates the connections it alone admitted, and `jitctl sweep` does so without \
                      Terraform. If the endpoint is also managed by the AWS provider with `tags`, give that provider \
                      `ignore_tags { key_prefixes = [\"jit:\"] }`, or its applies remove the grants."
            .into(),
        attributes: [
            Attribute::computed("id", Type::String, "`<client_vpn_endpoint_id>:<grant_id>`. Also the import id."),
            Attribute::computed("grant_id", Type::String, "The grant's unique identity, recorded in its tag on the endpoint (`jit:grant:<grant_id>`) and, for every connection it admits, as the connection's posture-compliance status, so the endpoint's connection log says which grant let a client in."),
            Attribute::required("client_vpn_endpoint_id", Type::String, "Client VPN endpoint to grant access to (`cvpn-endpoint-…`). Its client-connect handler must be `jit-client-vpn-handler`. Changing it creates a new grant."),
            Attribute::optional("username", Type::String, "Who may connect, by the `username` AWS passes for Active Directory or SAML authentication (compared exactly). Exactly one of `username`, `common_name` and `group`. Changing it creates a new grant."),
            Attribute::optional("common_name", Type::String, "Who may connect, by the common name of the client certificate (mutual authentication, where AWS passes no username). Exactly one of `username`, `common_name` and `group`. Changing it creates a new grant."),
            Attribute::optional("group", Type::String, "Who may connect, by an Active Directory or SAML group the connection carries (compared exactly; only the handler's schema-v2 events carry groups). Exactly one of `username`, `common_name` and `group`. Changing it creates a new grant."),
            Attribute::optional("cidr_block", Type::String, "IPv4 or IPv6 CIDR block the client's public address must lie in, e.g. `203.0.113.7/32`. Host bits must be clear, and it may be no wider than the provider's `min_prefix_length_ipv4`/`_ipv6`. Omit it to admit the identity from anywhere. Changing it creates a new grant."),
        ]
        .into_iter()
        .chain(Terms::schema(" From then on the handler refuses new connections."))
        .chain([Attribute::computed("status", Type::String, "`active` while the grant admits connections, `expired` once the TTL has passed (the next apply removes the tag and terminates its connections), `revoked` when `jitctl revoke` ended it early (it is not re-created).")])
        .collect(),
        blocks: vec![],
    }
}

#[cfg(test)]
mod tests;
