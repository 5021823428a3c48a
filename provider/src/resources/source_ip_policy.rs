//! `jit_source_ip_policy`: an IAM managed policy that denies requests from outside an IP
//! allowlist, whose temporary entries expire inside AWS itself.
//!
//! Lifecycle: each temporary entry gets `created_at` at the first apply that adds it and
//! `expires_at = created_at + ttl`, both kept in state; a new `ttl` moves `expires_at` (from
//! `created_at`). The rendered document (see `policy::document`) makes AWS deny an entry once
//! `aws:CurrentTime` passes its expiry, so nothing has to run for access to end. The next plan
//! after an expiry shows the entry's `status: "active" -> "expired"` and the document without it
//! (an in-place update, with a warning); apply writes that as a new default version. An expired
//! entry stays in state until it is removed from the configuration; a new `ttl` grants it again
//! from the apply.
//!
//! Versions: a new document becomes a new default version; when five exist the oldest
//! non-default one is deleted first (`Policies::publish`, which also finishes what a lost
//! response or a kill left behind). Read compares AWS's default document with the state's by
//! meaning, so a hand edit is drift and the next apply restores the rendered document.
//!
//! Revokes: `jitctl revoke` tags the policy with a marker (`policy::revoke`) and publishes the
//! document without the range. Read reports such an entry as `revoked`, and apply reads the tags
//! again right before it writes, so an apply planned before the revoke leaves the range out too
//! (and says so with an error, since it did not do what the plan showed).

use std::collections::BTreeMap;

use async_trait::async_trait;
use ipnet::IpNet;
use time::OffsetDateTime;

use crate::aws::iam::{
    CREATE_ID_TAG_KEY, CreatePolicyOutcome, MANAGED_TAG_KEY, MANAGED_TAG_VALUE, MAX_TAGS,
    NewPolicy, PolicyInfo, PolicyView, PublishError, RESERVED_TAG_PREFIX, legal_tag_key,
    legal_tag_value, may_have_acted,
};
use crate::clock::{format_rfc3339, parse_rfc3339};
use crate::config::Settings;
use crate::duration::{Ttl, parse_ttl};
use crate::policy::cidrs::AddrSet;
use crate::policy::document::{
    Fit, MANAGED_POLICY_SIZE_LIMIT, Spec, Temporary, fit, policy_size, same_document,
};
use crate::policy::revoke::{self, Marker};
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::tf::diag::Step;
use crate::tf::value::Reader;
use crate::tf::{
    AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Mode, Nesting, Schema, Type, Value,
};

pub const TYPE_NAME: &str = "jit_source_ip_policy";

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_EXPIRED: &str = "expired";
pub const STATUS_REVOKED: &str = "revoked";

pub const DEFAULT_PATH: &str = "/";
pub const DEFAULT_DENY_ACTIONS: &str = "*";

/// Attributes IAM can't change on an existing policy.
const REPLACING: [&str; 3] = ["name", "path", "description"];
/// IAM allows 50 tags per policy; jit's own take two (`jit:managed`, `jit:create-id`).
const USER_TAGS_MAX: usize = MAX_TAGS - 2;

pub struct SourceIpPolicy;

fn path(name: &str) -> AttrPath {
    AttrPath::root(name)
}

fn index_path(name: &str, i: usize) -> AttrPath {
    AttrPath(vec![Step::Attr(name.into()), Step::Index(i as i64)])
}

fn entry_path(key: &str) -> AttrPath {
    path("temporary_cidrs").key(key)
}

/// One temporary entry of the configuration.
#[derive(Debug, Clone, PartialEq)]
struct EntryArgs {
    /// The map key as written (state and diagnostics use it).
    key: String,
    cidr: IpNet,
    ttl: Ttl,
}

/// The arguments, validated and parsed. Built only when every argument is known.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    name: String,
    path: String,
    description: Option<String>,
    allowed: Vec<IpNet>,
    temporary: Vec<EntryArgs>,
    deny_actions: Vec<String>,
    exempt_aws_services: bool,
    tags: BTreeMap<String, String>,
}

/// IAM policy names: 1-128 of letters, digits and `+=,.@_-`.
fn valid_policy_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// IAM paths: `/` or `/a/b/`, at most 512 printable ASCII characters.
fn valid_policy_path(p: &str) -> bool {
    p.len() <= 512
        && p.starts_with('/')
        && p.ends_with('/')
        && p.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// `*`, or `service:Action` where the action may use `*` and `?`.
fn valid_action(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    let Some((service, action)) = a.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !action.is_empty()
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
}

/// Why an allowlist range is too wide to be a fence, if it is. Uses jitlint's JIT006
/// thresholds, so a document jit renders never trips that rule.
fn too_wide(net: &IpNet) -> Option<String> {
    let lint = jitlint::Config::default();
    let (min, everything) = match net {
        IpNet::V4(_) => (lint.source_ip_min_prefix_v4, "0.0.0.0/0"),
        IpNet::V6(_) => (lint.source_ip_min_prefix_v6, "::/0"),
    };
    if net.prefix_len() == 0 {
        Some(format!(
            "{everything} is every address, so the policy would deny nothing; list the networks people actually come from"
        ))
    } else if net.prefix_len() < min {
        Some(format!(
            "{net} is shorter than /{min} and admits (nearly) everyone (jitlint JIT006); list narrower ranges"
        ))
    } else {
        None
    }
}

/// Parses and checks every argument that is known. With `settings`, also the checks that
/// depend on the provider configuration. Returns the parsed arguments only when all are known
/// and valid.
fn check(v: &Value, settings: Option<&Settings>, diags: &mut Diagnostics) -> Option<Args> {
    let mut r = Reader::new(v);
    let errors_before = diags
        .0
        .iter()
        .filter(|d| d.severity == crate::tf::Severity::Error)
        .count();

    let name = r.get::<String>(diags, &path("name"));
    if let Known::Value(n) = &name
        && !valid_policy_name(n)
    {
        diags.push(Diagnostic::invalid(
            path("name"),
            format!("{n:?} is not an IAM policy name: use 1-128 letters, digits and +=,.@_-"),
        ));
    }
    let policy_path = match r.get::<String>(diags, &path("path")) {
        Known::Null => Known::Value(DEFAULT_PATH.to_string()),
        k => k,
    };
    if let Known::Value(p) = &policy_path
        && !valid_policy_path(p)
    {
        diags.push(Diagnostic::invalid(
            path("path"),
            format!("{p:?} is not an IAM path: it must begin and end with \"/\" (e.g. \"/jit/\"), with at most 512 printable characters and no spaces"),
        ));
    }
    let description = r.get::<String>(diags, &path("description"));
    if let Known::Value(d) = &description
        && d.chars().count() > 1000
    {
        diags.push(Diagnostic::invalid(
            path("description"),
            format!("is {} characters long; IAM allows 1000", d.chars().count()),
        ));
    }

    // Permanent ranges.
    let mut allowed = Vec::new();
    let mut allowed_at: BTreeMap<IpNet, usize> = BTreeMap::new();
    match v.get("allowed_cidrs") {
        Value::List(items) if items.is_empty() => diags.push(Diagnostic::invalid(
            path("allowed_cidrs"),
            "is empty: the policy would deny every request from everywhere; list at least one permanent range (the office, the VPN's egress)",
        )),
        Value::List(items) => {
            for i in 0..items.len() {
                let p = index_path("allowed_cidrs", i);
                let Known::Value(text) = r.get::<String>(diags, &p) else {
                    continue;
                };
                match jitlint::cidr::parse_cidr(&text) {
                    Err(e) => diags.push(Diagnostic::invalid(p, e.to_string())),
                    Ok(net) => {
                        if let Some(why) = too_wide(&net) {
                            diags.push(Diagnostic::invalid(p, why));
                        } else if let Some(j) = allowed_at.get(&net) {
                            diags.push(Diagnostic::invalid(
                                p,
                                format!("{net} is listed twice (also at index {j}); remove one"),
                            ));
                        } else {
                            allowed_at.insert(net, i);
                            allowed.push(net);
                        }
                    }
                }
            }
        }
        Value::Unknown => r.complete = false,
        _ => {}
    }

    // Temporary ranges.
    let mut temporary = Vec::new();
    match v.get("temporary_cidrs") {
        Value::Map(entries) => {
            let mut seen: BTreeMap<IpNet, &str> = BTreeMap::new();
            for key in entries.keys() {
                let p = entry_path(key);
                let cidr = match jitlint::cidr::parse_cidr(key) {
                    Err(e) => {
                        diags.push(Diagnostic::invalid(p.clone(), e.to_string()));
                        None
                    }
                    Ok(net) if net.prefix_len() == 0 => {
                        diags.push(Diagnostic::invalid(
                            p.clone(),
                            format!("{net} is every address; grant the one address that needs access, e.g. \"203.0.113.7/32\""),
                        ));
                        None
                    }
                    Ok(net) => {
                        if let Some(other) = seen.insert(net, key) {
                            diags.push(Diagnostic::invalid(
                                p.clone(),
                                format!("{key:?} is the same network as {other:?}; keep one"),
                            ));
                        }
                        Some(net)
                    }
                };
                let ttl_text = r.get::<String>(diags, &p.attr("ttl"));
                let ttl = match &ttl_text {
                    Known::Value(t) => match parse_ttl(t) {
                        Ok(d) if d.seconds() == 0 => {
                            diags.push(Diagnostic::invalid(
                                p.attr("ttl"),
                                format!("{t:?} is zero; a temporary entry needs a positive TTL such as \"8h\""),
                            ));
                            None
                        }
                        Ok(d) => Some(d),
                        Err(e) => {
                            diags.push(Diagnostic::invalid(p.attr("ttl"), e));
                            None
                        }
                    },
                    Known::Null => {
                        diags.push(Diagnostic::invalid(
                            p.attr("ttl"),
                            "every temporary entry needs a ttl, e.g. \"8h\"",
                        ));
                        None
                    }
                    Known::Unknown => None,
                };
                let reason = r.get::<String>(diags, &p.attr("reason"));
                if let Known::Value(text) = &reason
                    && text.trim().is_empty()
                {
                    diags.push(Diagnostic::invalid(
                        p.attr("reason"),
                        "reason is empty; omit it or say why the access is needed",
                    ));
                }
                if let Some(s) = settings {
                    if let Some(t) = ttl
                        && t > s.max_ttl
                    {
                        diags.push(Diagnostic::invalid(
                            p.attr("ttl"),
                            format!("{:?} ({t}) is longer than the provider's max_ttl ({}); shorten it, or raise max_ttl in the provider block", ttl_text.value().map(String::as_str).unwrap_or_default(), s.max_ttl),
                        ));
                    }
                    if s.require_reason && reason.is_null() {
                        diags.push(Diagnostic::invalid(
                            p.attr("reason"),
                            "this provider is configured with require_reason = true; say why the access is needed",
                        ));
                    }
                    if let Some(net) = cidr {
                        let (min, setting) = match net {
                            IpNet::V4(_) => (s.min_prefix_v4, "min_prefix_length_ipv4"),
                            IpNet::V6(_) => (s.min_prefix_v6, "min_prefix_length_ipv6"),
                        };
                        if net.prefix_len() < min {
                            diags.push(Diagnostic::invalid(
                                p.clone(),
                                format!("{net} opens /{} but the provider allows at most /{min} for temporary access; narrow it, or lower {setting} in the provider block", net.prefix_len()),
                            ));
                        }
                    }
                }
                if let (Some(cidr), Some(ttl)) = (cidr, ttl) {
                    temporary.push(EntryArgs {
                        key: key.clone(),
                        cidr,
                        ttl,
                    });
                }
            }
        }
        Value::Unknown => r.complete = false,
        _ => {}
    }

    // What to deny.
    let deny_actions = match v.get("deny_actions") {
        Value::Null => vec![DEFAULT_DENY_ACTIONS.to_string()],
        Value::List(items) if items.is_empty() => {
            diags.push(Diagnostic::invalid(
                path("deny_actions"),
                "is empty, so the policy would deny nothing; use [\"*\"] (the default) or list actions such as \"s3:*\"",
            ));
            Vec::new()
        }
        Value::List(items) => {
            let mut actions = Vec::new();
            for i in 0..items.len() {
                let p = index_path("deny_actions", i);
                if let Known::Value(a) = r.get::<String>(diags, &p) {
                    if valid_action(&a) {
                        actions.push(a);
                    } else {
                        diags.push(Diagnostic::invalid(
                            p,
                            format!("{a:?} is not an IAM action; use \"service:Action\" such as \"s3:GetObject\" or \"ec2:*\", or \"*\""),
                        ));
                    }
                }
            }
            actions
        }
        Value::Unknown => {
            r.complete = false;
            Vec::new()
        }
        _ => Vec::new(),
    };
    let exempt_aws_services = match r.get::<bool>(diags, &path("exempt_aws_services")) {
        Known::Value(b) => b,
        _ => true,
    };

    let mut tags = BTreeMap::new();
    match v.get("tags") {
        Value::Map(map) => {
            if map.len() > USER_TAGS_MAX {
                diags.push(Diagnostic::invalid(
                    path("tags"),
                    format!("has {} tags; IAM allows {MAX_TAGS} per policy and jit uses two (\"{MANAGED_TAG_KEY}\", \"{CREATE_ID_TAG_KEY}\"), so at most {USER_TAGS_MAX}", map.len()),
                ));
            }
            for key in map.keys() {
                let p = path("tags").key(key);
                if key.starts_with(RESERVED_TAG_PREFIX) {
                    diags.push(Diagnostic::invalid(
                        p.clone(),
                        format!("tag keys starting with {RESERVED_TAG_PREFIX:?} are jit's own; rename {key:?}"),
                    ));
                } else if !legal_tag_key(key) {
                    diags.push(Diagnostic::invalid(
                        p.clone(),
                        format!("{key:?} is not an IAM tag key: use 1-128 letters, digits, spaces and _ . : / = + - @, not starting with \"aws:\""),
                    ));
                }
                if let Known::Value(value) = r.get::<String>(diags, &p) {
                    if !legal_tag_value(&value) {
                        diags.push(Diagnostic::invalid(
                            p,
                            format!("{value:?} is not an IAM tag value: use at most 256 letters, digits, spaces and _ . : / = + - @"),
                        ));
                    }
                    tags.insert(key.clone(), value);
                }
            }
        }
        Value::Unknown => r.complete = false,
        _ => {}
    }

    let errors = diags
        .0
        .iter()
        .filter(|d| d.severity == crate::tf::Severity::Error)
        .count();
    if errors > errors_before || !r.complete {
        return None;
    }
    Some(Args {
        name: name.into_value()?,
        path: policy_path.into_value()?,
        description: description.into_value(),
        allowed,
        temporary,
        deny_actions,
        exempt_aws_services,
        tags,
    })
}

/// A temporary entry as recorded in state.
#[derive(Debug, Clone, PartialEq)]
struct PriorEntry {
    /// Null for entries that came in by import (AWS records only the expiry).
    ttl: Option<Ttl>,
    created_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    /// Ended: expired, or revoked by `jitctl`.
    expired: bool,
    revoked: bool,
}

fn prior_entries(state: &Value) -> BTreeMap<String, PriorEntry> {
    let Value::Map(map) = state.get("temporary_cidrs") else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(key, e)| {
            let time = |name: &str| match e.get(name) {
                Value::String(s) => parse_rfc3339(s).ok(),
                _ => None,
            };
            let entry = PriorEntry {
                ttl: match e.get("ttl") {
                    Value::String(s) => parse_ttl(s).ok(),
                    _ => None,
                },
                created_at: time("created_at"),
                expires_at: time("expires_at"),
                expired: matches!(e.get("status").value_str(), STATUS_EXPIRED | STATUS_REVOKED),
                revoked: e.get("status").value_str() == STATUS_REVOKED,
            };
            (key.clone(), entry)
        })
        .collect()
}

/// A temporary entry's computed attributes; `None` is unknown until apply.
#[derive(Debug, Clone, PartialEq)]
struct EntryPlan {
    created_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    expired: bool,
    /// Ended early by `jitctl revoke` (implies `expired`).
    revoked: bool,
    /// Active in the prior state, expired now: the plan prunes it.
    newly_expired: bool,
}

/// The computed attributes of an entry at `now`. At plan time a new entry's times are unknown
/// (`apply_now` is `None`); at apply they start at `apply_now`.
fn plan_entry(
    e: &EntryArgs,
    prior: Option<&PriorEntry>,
    now: OffsetDateTime,
    apply_now: Option<OffsetDateTime>,
) -> EntryPlan {
    let fresh = || EntryPlan {
        created_at: apply_now,
        expires_at: apply_now.map(|t| t + e.ttl.as_time()),
        expired: false,
        revoked: false,
        newly_expired: false,
    };
    let Some(p) = prior else {
        return fresh();
    };
    let (created_at, expires_at) = match (p.ttl, p.created_at, p.expires_at) {
        // Imported: AWS knew only the expiry; created_at follows from the configured ttl.
        (None, _, Some(expires)) => (Some(expires - e.ttl.as_time()), expires),
        // Expired entries stay expired; a new ttl grants the range again from the apply.
        (Some(ttl), _, _) if p.expired && ttl != e.ttl => return fresh(),
        (Some(_), Some(created), _) if !p.expired => (Some(created), created + e.ttl.as_time()),
        (_, created, Some(expires)) => (created, expires),
        _ => return fresh(),
    };
    let expired = p.expired || now > expires_at;
    EntryPlan {
        created_at,
        expires_at: Some(expires_at),
        expired,
        revoked: p.revoked,
        newly_expired: expired && !p.expired,
    }
}

/// The allowlist the entries describe, with `probe` standing in for unknown expiries (for
/// size checks); `None` when an active entry's expiry is unknown and there is no probe.
fn spec_of(args: &Args, plans: &[EntryPlan], probe: Option<OffsetDateTime>) -> Option<Spec> {
    let mut temporary = Vec::new();
    for (e, p) in args.temporary.iter().zip(plans) {
        if p.expired {
            continue;
        }
        let expires_at = p
            .expires_at
            .or_else(|| probe.map(|t| t + e.ttl.as_time()))?;
        temporary.push(Temporary {
            cidr: e.cidr,
            expires_at,
        });
    }
    Some(Spec {
        allowed: args.allowed.clone(),
        temporary,
        deny_actions: args.deny_actions.clone(),
        exempt_aws_services: args.exempt_aws_services,
    })
}

/// Renders the allowlist, refusing documents IAM would refuse (size) or jitlint would flag,
/// and returns the document when it may be written. A JIT007 finding is only a warning when the
/// user turned `exempt_aws_services` off on purpose.
///
/// The cost is bounded by the size quota, whatever the number of entries: an allowlist whose
/// [`Spec::min_size`] (a sort, no set algebra) is already over the quota is refused without
/// being rendered, and the advice on how many entries to drop (`fit`) probes a logarithmic
/// number of candidate allowlists, each refused by the same bound or rendered in near-linear time.
fn render_checked(spec: &Spec, diags: &mut Diagnostics) -> Option<String> {
    let bound = spec.min_size();
    let doc = (bound <= MANAGED_POLICY_SIZE_LIMIT).then(|| spec.render());
    let size = doc.as_deref().map(policy_size);
    let Some(doc) = doc.filter(|_| size.is_some_and(|s| s <= MANAGED_POLICY_SIZE_LIMIT)) else {
        refuse_size(spec, size, bound, diags);
        return None;
    };
    lint_document(spec, &doc, diags);
    Some(doc)
}

/// The error for an allowlist over IAM's size quota: the size (or, when it was refused before
/// rendering, the lower bound), how much over, and how many entries to drop.
fn refuse_size(spec: &Spec, size: Option<usize>, bound: usize, diags: &mut Diagnostics) {
    let (target, advice) = match fit(spec, MANAGED_POLICY_SIZE_LIMIT) {
        Fit::DropTemporary(k) => (
            "temporary_cidrs",
            format!(
                "remove {k} of the {} active temporary_cidrs entries",
                spec.temporary.len()
            ),
        ),
        Fit::DropAllowed(k) => (
            "allowed_cidrs",
            format!(
                "even without temporary entries it is too large: remove {k} of the {} allowed_cidrs entries, or aggregate them into wider ranges",
                spec.allowed.len()
            ),
        ),
        Fit::Fits => ("temporary_cidrs", "remove some entries".to_string()),
    };
    let limit = MANAGED_POLICY_SIZE_LIMIT;
    let measured = match size {
        Some(size) => format!(
            "the rendered policy has {} characters without whitespace ({} over)",
            jitlint::thousands(size),
            jitlint::thousands(size.saturating_sub(limit))
        ),
        None => format!(
            "the rendered policy would have at least {} characters without whitespace ({} over at least)",
            jitlint::thousands(bound),
            jitlint::thousands(bound.saturating_sub(limit))
        ),
    };
    diags.push(Diagnostic::invalid(
        path(target),
        format!(
            "{measured}; IAM allows {} for a managed policy: {advice}",
            jitlint::thousands(limit)
        ),
    ));
}

/// Runs jitlint over a document jit is about to write.
fn lint_document(spec: &Spec, doc: &str, diags: &mut Diagnostics) {
    match jitlint::lint_policy_document(doc, &jitlint::Config::default()) {
        Ok(findings) => {
            for f in findings {
                let text = format!("{} ({}): {}", f.rule.code(), f.rule.name(), f.message);
                if f.rule == jitlint::Rule::SourceIpDenyBlocksAwsServices
                    && !spec.exempt_aws_services
                {
                    diags.push(
                        Diagnostic::warning(
                            "AWS services acting for the user are denied too",
                            format!("exempt_aws_services = false: {text}"),
                        )
                        .at(path("exempt_aws_services")),
                    );
                } else if f.rule == jitlint::Rule::SourceIpFencePrivateOnly {
                    // Input, not a jit bug: only private ranges are allowed.
                    diags.push(
                        Diagnostic::error(
                            "The allowlist admits only private addresses",
                            format!("{text}. aws:SourceIp never carries a private address, so this policy would deny every request that does not come through a VPC endpoint; allow the public addresses your users come from"),
                        )
                        .at(path("allowed_cidrs")),
                    );
                } else {
                    diags.push(Diagnostic::error(
                        "The rendered policy fails jitlint",
                        format!("{text}. jit never writes a policy jitlint flags; this is a bug in jit, please report it"),
                    ));
                }
            }
        }
        Err(e) => diags.push(Diagnostic::error(
            "The rendered policy fails jitlint",
            format!("jitlint could not read it ({e}); this is a bug in jit, please report it"),
        )),
    }
}

fn time_value(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Unknown, |t| Value::from(format_rfc3339(t)))
}

/// `temporary_cidrs` of the planned or applied state: the configuration's `ttl`/`reason` plus
/// the computed attributes.
fn entries_value(config: &Value, args: &Args, plans: &[EntryPlan]) -> Value {
    if config.get("temporary_cidrs").is_null() {
        return Value::Null;
    }
    Value::Map(
        args.temporary
            .iter()
            .zip(plans)
            .map(|(e, p)| {
                let c = config.get("temporary_cidrs").get(&e.key);
                let status = if p.revoked {
                    STATUS_REVOKED
                } else if p.expired {
                    STATUS_EXPIRED
                } else {
                    STATUS_ACTIVE
                };
                (
                    e.key.clone(),
                    Value::object([
                        ("ttl", c.get("ttl").clone()),
                        ("reason", c.get("reason").clone()),
                        ("created_at", time_value(p.created_at)),
                        ("expires_at", time_value(p.expires_at)),
                        ("status", Value::from(status)),
                    ]),
                )
            })
            .collect(),
    )
}

/// The earliest expiry among active entries: null when there are none, unknown when one of
/// them is unknown.
fn next_expiry(plans: &[EntryPlan]) -> Value {
    let active: Vec<&EntryPlan> = plans.iter().filter(|p| !p.expired).collect();
    if active.iter().any(|p| p.expires_at.is_none()) {
        return Value::Unknown;
    }
    active
        .iter()
        .filter_map(|p| p.expires_at)
        .min()
        .map_or(Value::Null, |t| Value::from(format_rfc3339(t)))
}

/// The configuration with the provider's defaults filled in.
fn with_defaults(mut v: Value) -> Value {
    if v.get("path").is_null() {
        v.set("path", Value::from(DEFAULT_PATH));
    }
    if v.get("deny_actions").is_null() {
        v.set(
            "deny_actions",
            Value::List(vec![Value::from(DEFAULT_DENY_ACTIONS)]),
        );
    }
    if v.get("exempt_aws_services").is_null() {
        v.set("exempt_aws_services", Value::from(true));
    }
    v
}

fn aws_error(summary: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
}

/// Sets `status = "revoked"` on active entries that carry `jitctl`'s revoke marker for their
/// current expiry (a marker for an earlier grant of the same range does not count).
fn mark_revoked(state: &mut Value, tags: &BTreeMap<String, String>) {
    let markers = revoke::markers(tags);
    if markers.is_empty() {
        return;
    }
    let Value::Map(state) = state else { return };
    let Some(Value::Map(entries)) = state.get_mut("temporary_cidrs") else {
        return;
    };
    for (key, entry) in entries.iter_mut() {
        let Ok(cidr) = key.parse::<IpNet>() else {
            continue;
        };
        let expiry = match entry.get("expires_at") {
            Value::String(t) => parse_rfc3339(t).ok(),
            _ => None,
        };
        if entry.get("status").value_str() == STATUS_ACTIVE
            && expiry.is_some_and(|x| markers.get(&cidr).is_some_and(|m| m.revokes(cidr, x)))
        {
            entry.set("status", Value::from(STATUS_REVOKED));
        }
    }
}

/// Marks as revoked the entries the plan keeps active whose grant a revoke marker in `tags`
/// ends, and returns them (key and marker): revoked after the plan was made.
fn revoke_since_plan(
    args: &Args,
    plans: &mut [EntryPlan],
    tags: &BTreeMap<String, String>,
) -> Vec<(String, Marker)> {
    let markers = revoke::markers(tags);
    let mut revoked = Vec::new();
    for (e, p) in args.temporary.iter().zip(plans.iter_mut()) {
        let Some(m) = markers.get(&e.cidr) else {
            continue;
        };
        if !p.expired && p.expires_at.is_some_and(|x| m.revokes(e.cidr, x)) {
            p.expired = true;
            p.revoked = true;
            revoked.push((e.key.clone(), m.clone()));
        }
    }
    revoked
}

fn user_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| !k.starts_with(RESERVED_TAG_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// `arn:aws:iam::123456789012:policy/path/name`.
fn valid_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), [ "arn", partition, "iam", "", account, resource ]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("policy/").is_some_and(|r| !r.is_empty() && !r.ends_with('/')))
}

impl SourceIpPolicy {
    /// Deletes the policy, refusing while it is attached (AWS would refuse too, but not every
    /// IAM endpoint does, and jit must not orphan attachments).
    async fn destroy(&self, env: &Env, state: &Value) -> Result<(), Diagnostics> {
        let arn = state.get("arn").value_str();
        if env
            .policies
            .view_uncached(arn)
            .await
            .map_err(|e| aws_error("Could not read the policy", e))?
            .is_none()
        {
            return Ok(());
        }
        let attached = env
            .policies
            .attachments(arn)
            .await
            .map_err(|e| aws_error("Could not list the policy's attachments", e))?;
        if !attached.is_empty() {
            return Err(Diagnostic::error(
                "Policy is still attached",
                format!("{arn} is attached to {}; jit does not delete a policy that is in use. Detach it first (remove the aws_iam_*_policy_attachment resources, or `aws iam detach-user-policy`), then destroy again", attached.describe()),
            )
            .into());
        }
        env.policies
            .delete(arn)
            .await
            .map_err(|e| aws_error("Could not delete the policy", e).into())
    }

    /// Creates the policy, tagged `jit:managed = source-ip-policy` and `jit:create-id = <id>`,
    /// where `<id>` is 128 random bits drawn for this call.
    ///
    /// A lost `CreatePolicy` response is recovered, soundly. When the answer is
    /// `EntityAlreadyExists` (the SDK retried a request whose first attempt created the policy)
    /// or a failure that may have happened after IAM acted (a timeout), the policy under this
    /// name is read, and adopted only if it carries this call's id: the id was drawn in memory
    /// for this request and sent nowhere else, so only this request can have created that
    /// policy. The document alone would not prove it: an allowlist without temporary entries
    /// renders the same text for every configuration that lists the same ranges, so two
    /// workspaces using one name would silently share one policy, and destroying either would
    /// delete the other's. Anything else under the name is refused with an error on `name`
    /// (an interrupted earlier apply cannot be told from another configuration: importing it
    /// is the fix). If the adopted policy's default document is no longer this one (a writer
    /// in the milliseconds since), this one is published.
    async fn create(
        &self,
        env: &Env,
        args: &Args,
        document: &str,
    ) -> Result<PolicyInfo, Diagnostics> {
        let create_id = random_id().ok_or_else(|| {
            Diagnostic::error(
                "Could not create the policy",
                "the system's random number generator failed; nothing was created. Try again",
            )
        })?;
        let mut tags = args.tags.clone();
        tags.insert(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into());
        tags.insert(CREATE_ID_TAG_KEY.into(), create_id.clone());
        let new = NewPolicy {
            name: args.name.clone(),
            path: args.path.clone(),
            description: args.description.clone(),
            document: document.to_string(),
            tags,
        };
        let failure = match env.policies.create(&new).await {
            Ok(CreatePolicyOutcome::Created(p)) => return Ok(p),
            Ok(CreatePolicyOutcome::TooLarge { limit }) => {
                return Err(Diagnostic::error(
                    "Could not create the policy",
                    format!(
                        "IAM refused the document as too large: it has {} characters without whitespace, and IAM allows {} for a managed policy; remove entries from temporary_cidrs or allowed_cidrs",
                        jitlint::thousands(policy_size(document)),
                        jitlint::thousands(limit)
                    ),
                )
                .into());
            }
            Ok(CreatePolicyOutcome::NameTaken) => None,
            Err(e) if may_have_acted(&e) => Some(e),
            Err(e) => return Err(aws_error("Could not create the policy", e).into()),
        };
        let found = match env.policies.find(&args.name, &args.path).await {
            Ok(found) => found,
            Err(e) => {
                let first = failure.map_or_else(
                    || "IAM answered that the name is taken".to_string(),
                    |f| f.to_string(),
                );
                return Err(aws_error(
                    "Could not create the policy",
                    format!("{first}; reading the policy under that name failed too: {e}"),
                )
                .into());
            }
        };
        match (found, failure) {
            (Some(view), _)
                if view.policy.is_jit_managed()
                    && view.policy.tags.get(CREATE_ID_TAG_KEY) == Some(&create_id) =>
            {
                let mut policy = view.policy.clone();
                if !same_document(&view.document, document) {
                    let published = env.policies.publish(&policy.arn, document).await.map_err(|e| {
                        aws_error("Could not write the policy's document", e)
                    })?;
                    policy.default_version_id = published.version_id;
                }
                Ok(policy)
            }
            // Nothing under the name: the failure happened before IAM acted.
            (None, Some(e)) => Err(aws_error("Could not create the policy", e).into()),
            (Some(view), _) => {
                let whose = if view.policy.is_jit_managed() {
                    "a jit_source_ip_policy that this apply did not create (another configuration's, or one an interrupted earlier apply created but could not record)"
                } else {
                    "not one jit manages"
                };
                Err(Diagnostic::invalid(
                    path("name"),
                    format!(
                        "a policy named {:?} already exists in this account ({}), and it is {whose}; pick another name, or bring it under Terraform with `terraform import <address> {}`",
                        args.name, view.policy.arn, view.policy.arn
                    ),
                )
                .into())
            }
            (None, None) => Err(Diagnostic::invalid(
                path("name"),
                format!(
                    "a policy named {:?} already exists in this account (at another path than {:?}); IAM policy names are unique per account, so pick another name, or import that policy",
                    args.name, args.path
                ),
            )
            .into()),
        }
    }

    /// Reconciles the tags and, when `document` is given, makes it the default version unless
    /// AWS already has one that means the same. Returns the default version id then. `view` is
    /// the policy as read right before.
    async fn update(
        &self,
        env: &Env,
        view: &PolicyView,
        args: &Args,
        document: Option<&str>,
    ) -> Result<Option<String>, Diagnostics> {
        let arn = view.policy.arn.as_str();
        let mut wanted = args.tags.clone();
        wanted.insert(MANAGED_TAG_KEY.into(), MANAGED_TAG_VALUE.into());
        let put: BTreeMap<String, String> = wanted
            .iter()
            .filter(|(k, v)| view.policy.tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<String> = view
            .policy
            .tags
            .keys()
            .filter(|k| !wanted.contains_key(*k) && !k.starts_with(RESERVED_TAG_PREFIX))
            .cloned()
            .collect();
        env.policies
            .set_tags(arn, &put, &remove)
            .await
            .map_err(|e| aws_error("Could not update the policy's tags", e))?;
        match document {
            Some(doc) if !same_document(doc, &view.document) => env
                .policies
                .publish(arn, doc)
                .await
                .map(|p| Some(p.version_id))
                .map_err(|e| {
                    let fix = match e {
                        PublishError::TooLarge { .. } => "; nothing was written: remove entries from temporary_cidrs or allowed_cidrs",
                        PublishError::Aws(_) => "",
                    };
                    aws_error("Could not write the new policy version", format!("{e}{fix}")).into()
                }),
            Some(_) => Ok(Some(view.policy.default_version_id.clone())),
            None => Ok(None),
        }
    }
}

/// 128 random bits as 32 hex digits, from the TLS stack's system random source.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[async_trait]
impl Resource for SourceIpPolicy {
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
            return plan; // destroy: attachments are checked at apply, against AWS as it is then
        }
        let mut planned = with_defaults(req.proposed);
        let creating = req.prior.is_null();
        if !creating {
            for name in REPLACING {
                if req.prior.get(name) != planned.get(name) {
                    plan.requires_replace.push(path(name));
                }
            }
        }
        if creating || !plan.requires_replace.is_empty() {
            for name in ["id", "arn", "policy_id"] {
                planned.set(name, Value::Unknown);
            }
        }
        let args = check(&planned, Some(&env.settings), &mut plan.diags);
        let Some(args) = args else {
            // Something is invalid or not yet known: leave what depends on it to apply.
            for name in ["document", "default_version_id", "next_expiry"] {
                planned.set(name, Value::Unknown);
            }
            if let Value::Map(entries) = planned.get("temporary_cidrs").clone() {
                let priors = prior_entries(&req.prior);
                let kept = entries.into_iter().map(|(k, mut e)| {
                    let same = priors.get(&k).is_some_and(|p| {
                        p.ttl.is_some()
                            && e.get("ttl") == req.prior.get("temporary_cidrs").get(&k).get("ttl")
                    });
                    if !same {
                        for name in ["created_at", "expires_at", "status"] {
                            e.set(name, Value::Unknown);
                        }
                    }
                    (k, e)
                });
                planned.set("temporary_cidrs", Value::Map(kept.collect()));
            }
            plan.planned = planned;
            return plan;
        };
        let now = env.clock.now();
        let priors = prior_entries(&req.prior);
        let plans: Vec<EntryPlan> = args
            .temporary
            .iter()
            .map(|e| plan_entry(e, priors.get(&e.key), now, None))
            .collect();
        let permanent = AddrSet::new(&args.allowed);
        for (e, p) in args.temporary.iter().zip(&plans) {
            if p.newly_expired {
                plan.diags.push(
                    Diagnostic::warning(
                        "Temporary CIDR expired",
                        format!("{} expired at {}; AWS already denies it, and this apply removes it from the policy document. Remove it from temporary_cidrs, or give it a new ttl to grant it again from the apply.",
                            e.key, p.expires_at.map(format_rfc3339).unwrap_or_default()),
                    )
                    .at(entry_path(&e.key)),
                );
            }
            if permanent.covers(&e.cidr) {
                let within = args
                    .allowed
                    .iter()
                    .find(|a| a.contains(&e.cidr))
                    .map_or_else(
                        || "within allowed_cidrs (several of its ranges together)".to_string(),
                        |outer| format!("inside {outer} from allowed_cidrs"),
                    );
                plan.diags.push(
                    Diagnostic::warning(
                        "Temporary CIDR has no effect",
                        format!("{} is {within}, which admits it permanently; the entry adds nothing to the policy", e.key),
                    )
                    .at(entry_path(&e.key)),
                );
            }
        }
        planned.set("temporary_cidrs", entries_value(&planned, &args, &plans));
        planned.set("next_expiry", next_expiry(&plans));
        let replacing = !creating && !plan.requires_replace.is_empty();
        match spec_of(&args, &plans, None) {
            Some(spec) => {
                let Some(doc) = render_checked(&spec, &mut plan.diags) else {
                    planned.set("document", Value::Unknown);
                    planned.set("default_version_id", Value::Unknown);
                    plan.planned = planned;
                    return plan;
                };
                let prior_doc = req.prior.get("document").value_str();
                if !creating && !replacing && same_document(&doc, prior_doc) {
                    planned.set("document", req.prior.get("document").clone());
                    planned.set(
                        "default_version_id",
                        req.prior.get("default_version_id").clone(),
                    );
                } else {
                    planned.set("document", Value::from(doc));
                    planned.set("default_version_id", Value::Unknown);
                }
            }
            None => {
                // New entries start at apply; check the size with their expiry as if now.
                if let Some(spec) = spec_of(&args, &plans, Some(now)) {
                    render_checked(&spec, &mut plan.diags);
                }
                planned.set("document", Value::Unknown);
                planned.set("default_version_id", Value::Unknown);
            }
        }
        plan.planned = planned;
        plan
    }

    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
        if req.planned.is_null() {
            return match self.destroy(env, &req.prior).await {
                Ok(()) => (Value::Null, Diagnostics::default()),
                Err(d) => (req.prior, d),
            };
        }
        let mut diags = Diagnostics::default();
        let fail = |prior: Value, d: Diagnostics| {
            let state = if prior.is_null() { Value::Null } else { prior };
            (state, d)
        };
        let Some(args) = check(&req.planned, Some(&env.settings), &mut diags) else {
            if !diags.has_errors() {
                diags.push(Diagnostic::error(
                    "Arguments still unknown at apply",
                    "every argument of jit_source_ip_policy must be known when it is applied",
                ));
            }
            return fail(req.prior, diags);
        };
        let now = env.clock.now();
        let priors = prior_entries(&req.prior);
        // What the plan already decided stands; only its unknowns are settled now.
        let planned_entries = prior_entries(&req.planned);
        let plans: Vec<EntryPlan> = args
            .temporary
            .iter()
            .map(|e| {
                let computed = plan_entry(e, priors.get(&e.key), now, Some(now));
                let planned = planned_entries.get(&e.key);
                let planned_status = req.planned.get("temporary_cidrs").get(&e.key).get("status");
                EntryPlan {
                    created_at: planned.and_then(|p| p.created_at).or(computed.created_at),
                    expires_at: planned.and_then(|p| p.expires_at).or(computed.expires_at),
                    expired: match planned_status {
                        Value::String(s) => s == STATUS_EXPIRED || s == STATUS_REVOKED,
                        _ => computed.expired,
                    },
                    revoked: planned_status.value_str() == STATUS_REVOKED,
                    newly_expired: false,
                }
            })
            .collect();
        let mut plans = plans;
        let mut view = None;
        let mut revoked_since_plan = Vec::new();
        if !req.prior.is_null() {
            // Read again right before writing: a `jitctl revoke` since the plan was made must
            // not be undone by writing the planned document.
            let arn = req.prior.get("arn").value_str();
            let fresh = match env.policies.view_uncached(arn).await {
                Ok(Some(v)) => v,
                Ok(None) => {
                    diags.push(Diagnostic::error(
                        "Policy is gone",
                        format!("{arn} no longer exists; run `terraform apply` again to create it"),
                    ));
                    return (req.prior, diags);
                }
                Err(e) => {
                    diags.push(aws_error("Could not read the policy", e));
                    return (req.prior, diags);
                }
            };
            revoked_since_plan = revoke_since_plan(&args, &mut plans, &fresh.policy.tags);
            view = Some(fresh);
        }
        let Some(spec) = spec_of(&args, &plans, None) else {
            diags.push(Diagnostic::error(
                "Expiry still unknown at apply",
                "a temporary entry has no expiry after apply; this is a bug in jit, please report it",
            ));
            return fail(req.prior, diags);
        };
        let document = match req.planned.get("document") {
            Value::String(d) if revoked_since_plan.is_empty() => d.clone(),
            _ => match render_checked(&spec, &mut diags) {
                Some(doc) => doc,
                None => return fail(req.prior, diags),
            },
        };
        let mut state = req.planned.clone();
        state.set(
            "temporary_cidrs",
            entries_value(&req.planned, &args, &plans),
        );
        state.set("next_expiry", next_expiry(&plans));
        state.set("document", Value::from(document.as_str()));
        let Some(view) = view else {
            match self.create(env, &args, &document).await {
                Ok(p) => {
                    state.set("id", Value::from(p.arn.as_str()));
                    state.set("arn", Value::from(p.arn.as_str()));
                    state.set("policy_id", Value::from(p.policy_id.as_str()));
                    state.set(
                        "default_version_id",
                        Value::from(p.default_version_id.as_str()),
                    );
                }
                Err(d) => {
                    diags.extend(d);
                    return (Value::Null, diags);
                }
            }
            return (state, diags);
        };
        let changed = !revoked_since_plan.is_empty()
            || req.prior.get("document") != req.planned.get("document");
        match self
            .update(env, &view, &args, changed.then_some(document.as_str()))
            .await
        {
            Ok(Some(version)) => state.set("default_version_id", Value::from(version)),
            // The plan kept the document, and with it the version it had.
            Ok(None) => {}
            Err(d) => {
                diags.extend(d);
                return (req.prior, diags);
            }
        }
        for (key, m) in revoked_since_plan {
            // An error, not a warning: the apply did not do what the plan showed (Terraform
            // then keeps the new state without insisting that it match the plan).
            diags.push(
                Diagnostic::error(
                    "Temporary CIDR revoked during this apply",
                    format!(
                        "{key} was revoked by `jitctl revoke` at {}, after this plan was made. jit kept it out of the policy and records it as revoked; the rest of the change was applied. The next plan shows no change for it; give it a new ttl to grant it again.",
                        format_rfc3339(m.revoked_at)
                    ),
                )
                .at(entry_path(&key)),
            );
        }
        (state, diags)
    }

    async fn read(&self, env: &Env, current: Value) -> (Value, Diagnostics) {
        let arn = current.get("arn").value_str().to_string();
        let view = match env.policies.view(&arn).await {
            Ok(Some(v)) => v,
            Ok(None) => return (Value::Null, Diagnostics::default()),
            Err(e) => return (current, aws_error("Could not read the policy", e).into()),
        };
        let mut next = current;
        next.set("policy_id", Value::from(view.policy.policy_id.as_str()));
        next.set(
            "default_version_id",
            Value::from(view.policy.default_version_id.as_str()),
        );
        // Same meaning, same text in state: only a real change is drift.
        if !same_document(&view.document, next.get("document").value_str()) {
            next.set("document", Value::from(view.document.as_str()));
        }
        let tags = user_tags(&view.policy.tags);
        if !(tags.is_empty() && next.get("tags").is_null()) {
            next.set("tags", tags_value(&tags));
        }
        mark_revoked(&mut next, &view.policy.tags);
        (next, Diagnostics::default())
    }

    async fn import(&self, env: &Env, id: &str) -> Result<Value, Diagnostics> {
        if !valid_policy_arn(id) {
            return Err(Diagnostic::error(
                "Invalid import id",
                format!("{id:?} is not a policy ARN; expected \"arn:aws:iam::123456789012:policy/source-ip-restriction\""),
            )
            .into());
        }
        let view = env
            .policies
            .view(id)
            .await
            .map_err(|e| aws_error("Could not read the policy", e))?
            .ok_or_else(|| {
                Diagnostic::error(
                    "Cannot import",
                    format!("{id} does not exist in this account"),
                )
            })?;
        let spec = Spec::decode(&view.document).map_err(|e| {
            Diagnostic::error(
                "Not a jit allowlist",
                format!("the default version ({}) of {id} is not a document jit renders: {e}. jit imports only policies it wrote, because only those carry their expiries; create a new jit_source_ip_policy and move the attachments to it", view.policy.default_version_id),
            )
        })?;
        let now = env.clock.now();
        let temporary: BTreeMap<String, Value> = spec
            .temporary
            .iter()
            .map(|t| {
                let status = if now > t.expires_at {
                    STATUS_EXPIRED
                } else {
                    STATUS_ACTIVE
                };
                (
                    t.cidr.to_string(),
                    Value::object([
                        ("ttl", Value::Null),
                        ("reason", Value::Null),
                        ("created_at", Value::Null),
                        ("expires_at", Value::from(format_rfc3339(t.expires_at))),
                        ("status", Value::from(status)),
                    ]),
                )
            })
            .collect();
        let next = spec
            .temporary
            .iter()
            .filter(|t| now <= t.expires_at)
            .map(|t| t.expires_at)
            .min();
        let tags = user_tags(&view.policy.tags);
        let p = &view.policy;
        Ok(Value::object([
            ("id", Value::from(p.arn.as_str())),
            ("arn", Value::from(p.arn.as_str())),
            ("policy_id", Value::from(p.policy_id.as_str())),
            ("name", Value::from(p.name.as_str())),
            ("path", Value::from(p.path.as_str())),
            ("description", Value::from(p.description.clone())),
            (
                "allowed_cidrs",
                Value::List(
                    spec.allowed
                        .iter()
                        .map(|n| Value::from(n.to_string()))
                        .collect(),
                ),
            ),
            (
                "temporary_cidrs",
                if temporary.is_empty() {
                    Value::Null
                } else {
                    Value::Map(temporary)
                },
            ),
            (
                "deny_actions",
                Value::List(
                    spec.deny_actions
                        .iter()
                        .map(|a| Value::from(a.as_str()))
                        .collect(),
                ),
            ),
            ("exempt_aws_services", Value::from(spec.exempt_aws_services)),
            (
                "tags",
                if tags.is_empty() {
                    Value::Null
                } else {
                    tags_value(&tags)
                },
            ),
            ("document", Value::from(view.document.as_str())),
            (
                "default_version_id",
                Value::from(p.default_version_id.as_str()),
            ),
            ("next_expiry", Value::from(next.map(format_rfc3339))),
        ]))
    }
}

pub fn schema_block() -> Block {
    Block {
        description: "An IAM managed policy that denies requests from outside an IP allowlist. Permanent ranges \
                      stay; each temporary range is closed by AWS itself once its `expires_at` passes (an \
                      `aws:CurrentTime` condition in the policy), with no cleanup job. The next apply prunes \
                      expired entries from the document. Attach the policy to users, groups or roles with the \
                      usual `aws_iam_*_policy_attachment` resources."
            .into(),
        attributes: vec![
            Attribute::computed("id", Type::String, "The policy's ARN. Also the import id."),
            Attribute::computed("arn", Type::String, "The policy's ARN."),
            Attribute::computed("policy_id", Type::String, "The policy's unique id (`ANPA…`)."),
            Attribute::required("name", Type::String, "Name of the managed policy (1-128 letters, digits and `+=,.@_-`). Changing it creates a new policy."),
            Attribute::optional_computed("path", Type::String, "IAM path of the policy, beginning and ending with `/`. Defaults to `/`. Changing it creates a new policy."),
            Attribute::optional("description", Type::String, "Description of the policy (at most 1000 characters). Changing it creates a new policy."),
            Attribute::required("allowed_cidrs", Type::List(Box::new(Type::String)), "Permanent ranges (the office, the VPN's egress) as IPv4 or IPv6 CIDR blocks with host bits clear. At least one; `0.0.0.0/0` and prefixes shorter than /8 (IPv6: /32) are refused."),
            Attribute::nested(
                "temporary_cidrs",
                Nesting::Map,
                Mode::Optional,
                vec![
                    Attribute::required("ttl", Type::String, "How long the range is admitted from `created_at`, as a Go duration (`\"8h\"`, `\"90m\"`). Positive and at most the provider's `max_ttl`. Changing it moves `expires_at`; on an expired entry it grants the range again from the apply."),
                    Attribute::optional("reason", Type::String, "Why the access is needed (kept in state); required when the provider sets `require_reason`."),
                    Attribute::computed("created_at", Type::String, "When the entry was first applied (RFC 3339, UTC)."),
                    Attribute::computed("expires_at", Type::String, "`created_at` + `ttl` (RFC 3339, UTC). AWS denies the range after this instant."),
                    Attribute::computed("status", Type::String, "`active` until `expires_at`, then `expired`: the next apply removes the range from the document (AWS already denies it). `revoked` when `jitctl revoke` ended it early: it stays out of the document until it gets a new `ttl`."),
                ],
                "Temporary ranges, keyed by CIDR block (e.g. `\"203.0.113.7/32\"`), each admitted until its `expires_at`. \
                 Prefixes shorter than the provider's `min_prefix_length_ipv4`/`ipv6` are refused.",
            ),
            Attribute::optional_computed("deny_actions", Type::List(Box::new(Type::String)), "IAM actions denied outside the allowlist (`\"service:Action\"`, wildcards allowed). Defaults to `[\"*\"]`."),
            Attribute::optional_computed("exempt_aws_services", Type::Bool, "Whether calls an AWS service makes for the user (CloudFormation, Athena, …) are exempt, via `\"Bool\": {\"aws:ViaAWSService\": \"false\"}`. Defaults to `true`; without it, those calls come from AWS addresses and are denied."),
            Attribute::optional("tags", Type::Map(Box::new(Type::String)), "Tags for the policy. Keys starting with `jit:` are reserved: jit tags its policies `jit:managed = source-ip-policy` so that `jitctl` finds them."),
            Attribute::computed("document", Type::String, "The policy document jit renders and keeps as the default version (compact JSON)."),
            Attribute::computed("default_version_id", Type::String, "The policy's default version (`v1`, `v2`, …). jit keeps at most five versions, deleting the oldest non-default one before it writes a new one."),
            Attribute::computed("next_expiry", Type::String, "The earliest `expires_at` of the active temporary entries (RFC 3339), or null when there are none."),
        ],
        blocks: vec![],
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aws::iam::fake::{FakeIam, Loss};
    use crate::aws::iam::{Attachments, Policies};
    use crate::aws::nacl::{AclView, AwsError, CreateOutcome, NaclApi, Nacls};
    use crate::clock::FixedClock;
    use crate::grant::{Direction, EntrySpec};
    use crate::policy::eval::{Request, denied};
    use crate::tf::Severity;

    /// This resource never touches network ACLs.
    struct NoNacls;

    #[async_trait]
    impl NaclApi for NoNacls {
        async fn describe(&self, _: &str) -> Result<Option<AclView>, AwsError> {
            unreachable!()
        }
        async fn describe_tagged(
            &self,
            _: &str,
            _: Option<usize>,
        ) -> Result<Vec<AclView>, AwsError> {
            unreachable!()
        }
        async fn create_entry(&self, _: &str, _: &EntrySpec) -> Result<CreateOutcome, AwsError> {
            unreachable!()
        }
        async fn delete_entry(&self, _: &str, _: Direction, _: i32) -> Result<(), AwsError> {
            unreachable!()
        }
        async fn put_tag(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
            unreachable!()
        }
        async fn describe_all(&self) -> Result<Vec<AclView>, AwsError> {
            unreachable!()
        }
        async fn delete_tag(&self, _: &str, _: &str, _: Option<&str>) -> Result<(), AwsError> {
            unreachable!()
        }
    }

    const ARN: &str = "arn:aws:iam::123456789012:policy/remote";

    fn t(s: &str) -> OffsetDateTime {
        parse_rfc3339(s).unwrap()
    }

    fn env(fake: &Arc<FakeIam>, now: &str) -> Env {
        Env {
            settings: Settings::default(),
            clock: Arc::new(FixedClock(t(now))),
            nacls: Nacls::new(Arc::new(NoNacls)),
            policies: Policies::new(fake.clone()),
            client_vpns: crate::aws::client_vpn::ClientVpns::new(Arc::new(
                crate::aws::client_vpn::fake::FakeClientVpn::default(),
            )),
        }
    }

    const COMPUTED: [&str; 6] = [
        "id",
        "arn",
        "policy_id",
        "document",
        "default_version_id",
        "next_expiry",
    ];

    /// A configuration: one permanent range and the given temporary `(cidr, ttl)` entries.
    fn config(temporary: &[(&str, &str)]) -> Value {
        let mut v = Value::object([
            ("name", Value::from("remote")),
            ("path", Value::Null),
            ("description", Value::Null),
            (
                "allowed_cidrs",
                Value::List(vec![Value::from("198.51.100.0/24")]),
            ),
            ("deny_actions", Value::Null),
            ("exempt_aws_services", Value::Null),
            ("tags", Value::Null),
        ]);
        for name in COMPUTED {
            v.set(name, Value::Null);
        }
        v.set(
            "temporary_cidrs",
            if temporary.is_empty() {
                Value::Null
            } else {
                Value::Map(
                    temporary
                        .iter()
                        .map(|(cidr, ttl)| {
                            (
                                cidr.to_string(),
                                Value::object([
                                    ("ttl", Value::from(*ttl)),
                                    ("reason", Value::Null),
                                    ("created_at", Value::Null),
                                    ("expires_at", Value::Null),
                                    ("status", Value::Null),
                                ]),
                            )
                        })
                        .collect(),
                )
            },
        );
        v
    }

    /// What Terraform proposes: the configuration, with computed values carried over.
    fn proposed(config: &Value, prior: &Value) -> Value {
        let mut p = config.clone();
        for name in COMPUTED
            .iter()
            .chain(&["path", "deny_actions", "exempt_aws_services"])
        {
            if p.get(name).is_null() {
                p.set(name, prior.get(name).clone());
            }
        }
        p
    }

    async fn plan(env: &Env, prior: &Value, config: &Value) -> Plan {
        SourceIpPolicy
            .plan(
                env,
                PlanRequest {
                    prior: prior.clone(),
                    proposed: proposed(config, prior),
                    config: config.clone(),
                },
            )
            .await
    }

    /// Plans and applies like `terraform apply`, failing on any error.
    async fn converge(env: &Env, prior: &Value, config: &Value) -> (Value, Diagnostics) {
        let p = plan(env, prior, config).await;
        assert!(!p.diags.has_errors(), "plan: {:?}", p.diags);
        let (state, diags) = SourceIpPolicy
            .apply(
                env,
                ApplyRequest {
                    prior: prior.clone(),
                    planned: p.planned.clone(),
                    config: config.clone(),
                },
            )
            .await;
        assert!(!diags.has_errors(), "apply: {diags:?}");
        assert_consistent(&p.planned, &state);
        let mut all = p.diags;
        all.extend(diags);
        (state, all)
    }

    /// Terraform's rule: every value known in the plan comes out of apply unchanged.
    fn assert_consistent(planned: &Value, applied: &Value) {
        match (planned, applied) {
            (Value::Unknown, _) => {}
            (Value::Map(p), Value::Map(a)) => {
                assert_eq!(p.keys().collect::<Vec<_>>(), a.keys().collect::<Vec<_>>());
                for (k, v) in p {
                    assert_consistent(v, &a[k]);
                }
            }
            (p, a) => assert_eq!(p, a),
        }
    }

    fn entry<'v>(state: &'v Value, cidr: &str) -> &'v Value {
        state.get("temporary_cidrs").get(cidr)
    }

    fn is_denied(doc: &str, ip: &str, at: &str) -> bool {
        denied(
            doc,
            &Request {
                action: "s3:ListBuckets",
                source_ip: ip.parse().unwrap(),
                time: t(at),
                via_aws_service: false,
            },
        )
        .unwrap()
    }

    fn errors_at(diags: &Diagnostics) -> Vec<String> {
        diags
            .0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                format!(
                    "{}: {}",
                    d.path.as_ref().map(ToString::to_string).unwrap_or_default(),
                    d.detail
                )
            })
            .collect()
    }

    #[test]
    fn validation_names_the_attribute_and_the_fix() {
        let mut v = config(&[("203.0.113.7/24", "8h"), ("198.51.100.7/32", "1d")]);
        v.set(
            "allowed_cidrs",
            Value::List(vec![
                Value::from("198.51.100.7/24"),
                Value::from("0.0.0.0/0"),
                Value::from("123.456.789.0/24"),
            ]),
        );
        v.set(
            "deny_actions",
            Value::List(vec![Value::from("s3GetObject")]),
        );
        v.set("tags", Value::object([("jit:owner", Value::from("me"))]));
        let diags = SourceIpPolicy.validate(&v);
        let errors = errors_at(&diags);
        let has = |path: &str, text: &str| {
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{path}: ")) && e.contains(text))
        };
        assert!(
            has("allowed_cidrs[0]", "did you mean 198.51.100.0/24?"),
            "{errors:#?}"
        );
        assert!(has("allowed_cidrs[1]", "every address"), "{errors:#?}");
        assert!(has("allowed_cidrs[2]", "not a valid"), "{errors:#?}");
        assert!(
            has(
                "temporary_cidrs[\"203.0.113.7/24\"]",
                "did you mean 203.0.113.0/24?"
            ),
            "{errors:#?}"
        );
        assert!(
            has("temporary_cidrs[\"198.51.100.7/32\"].ttl", "uses days"),
            "{errors:#?}"
        );
        assert!(has("deny_actions[0]", "not an IAM action"), "{errors:#?}");
        assert!(has("tags[\"jit:owner\"]", "jit's own"), "{errors:#?}");
    }

    #[test]
    fn empty_allowlists_and_wide_ranges_are_refused() {
        let mut v = config(&[]);
        v.set("allowed_cidrs", Value::List(vec![]));
        assert!(errors_at(&SourceIpPolicy.validate(&v))[0].contains("deny every request"));
        v.set(
            "allowed_cidrs",
            Value::List(vec![Value::from("10.0.0.0/7")]),
        );
        assert!(errors_at(&SourceIpPolicy.validate(&v))[0].contains("JIT006"));
        v.set("allowed_cidrs", Value::List(vec![Value::from("::/0")]));
        assert!(errors_at(&SourceIpPolicy.validate(&v))[0].contains("every address"));
    }

    /// JIT012 on a rendered document is the user's input, not a jit bug: say so on the attribute.
    #[tokio::test]
    async fn an_allowlist_of_only_private_ranges_is_refused_on_allowed_cidrs() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let mut cfg = config(&[]);
        cfg.set(
            "allowed_cidrs",
            Value::List(vec![Value::from("10.1.2.0/24")]),
        );
        let p = plan(&e, &Value::Null, &cfg).await;
        let errors = errors_at(&p.diags);
        assert!(
            errors.iter().any(|e| e.starts_with("allowed_cidrs: ")
                && e.contains("private")
                && !e.contains("bug in jit")),
            "{errors:?}"
        );
    }

    #[tokio::test]
    async fn provider_settings_cap_ttl_and_prefix() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let p = plan(&e, &Value::Null, &config(&[("203.0.113.0/16", "13h")])).await;
        let errors = errors_at(&p.diags);
        assert!(errors.iter().any(|e| e.contains("host bits")), "{errors:?}");
        let p = plan(&e, &Value::Null, &config(&[("203.0.0.0/16", "13h")])).await;
        let errors = errors_at(&p.diags);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("temporary_cidrs[\"203.0.0.0/16\"].ttl: ")
                    && e.contains("max_ttl (12h)")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("temporary_cidrs[\"203.0.0.0/16\"]: ")
                    && e.contains("at most /24")),
            "{errors:?}"
        );
    }

    #[tokio::test]
    async fn a_jitctl_revoke_reads_as_revoked_and_is_not_granted_again() {
        let fake = Arc::new(FakeIam::default());
        let cfg = config(&[("203.0.113.7/32", "8h"), ("203.0.113.8/32", "8h")]);
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &cfg).await;
        let later = env(&fake, "2026-11-23T13:00:00Z");
        crate::ctl::policy::revoke(
            &later.policies,
            &format!("{ARN}#203.0.113.8/32"),
            t("2026-11-23T13:00:00Z"),
        )
        .await
        .unwrap();
        let (read, _) = SourceIpPolicy.read(&later, state.clone()).await;
        assert_eq!(
            entry(&read, "203.0.113.8/32").get("status"),
            &Value::from(STATUS_REVOKED)
        );
        assert_eq!(
            entry(&read, "203.0.113.7/32").get("status"),
            &Value::from(STATUS_ACTIVE)
        );
        // The plan keeps it revoked and out of the document: nothing to apply.
        let p = plan(&later, &read, &cfg).await;
        assert_eq!(p.planned, read);
        let doc = fake.state.lock().unwrap().document();
        assert!(is_denied(&doc, "203.0.113.8", "2026-11-23T13:00:01Z"));
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T13:00:01Z"));
        // A new ttl is a new grant, from the apply.
        let (renewed, _) = converge(
            &later,
            &read,
            &config(&[("203.0.113.7/32", "8h"), ("203.0.113.8/32", "2h")]),
        )
        .await;
        assert_eq!(
            entry(&renewed, "203.0.113.8/32").get("status"),
            &Value::from(STATUS_ACTIVE)
        );
        let doc = fake.state.lock().unwrap().document();
        assert!(!is_denied(&doc, "203.0.113.8", "2026-11-23T14:00:00Z"));
    }

    #[tokio::test]
    async fn create_then_plans_stay_empty_and_expiry_is_fixed() {
        let fake = Arc::new(FakeIam::default());
        let cfg = config(&[("203.0.113.7/32", "8h")]);
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let first = plan(&e, &Value::Null, &cfg).await;
        assert_eq!(
            first.planned.get("document"),
            &Value::Unknown,
            "expiry starts at apply"
        );
        let (state, _) = converge(&e, &Value::Null, &cfg).await;
        assert_eq!(state.get("arn"), &Value::from(ARN));
        assert_eq!(state.get("default_version_id"), &Value::from("v1"));
        assert_eq!(
            entry(&state, "203.0.113.7/32").get("created_at"),
            &Value::from("2026-11-23T12:00:00Z")
        );
        assert_eq!(
            entry(&state, "203.0.113.7/32").get("expires_at"),
            &Value::from("2026-11-23T20:00:00Z")
        );
        assert_eq!(
            state.get("next_expiry"),
            &Value::from("2026-11-23T20:00:00Z")
        );
        let tags = fake.state.lock().unwrap().tags();
        assert_eq!(
            tags.get(MANAGED_TAG_KEY).map(String::as_str),
            Some(MANAGED_TAG_VALUE)
        );

        // What AWS holds means the allowlist.
        let doc = fake.state.lock().unwrap().document();
        assert_eq!(Value::from(doc.as_str()), *state.get("document"));
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T19:59:59Z"));
        assert!(is_denied(&doc, "203.0.113.7", "2026-11-23T20:00:01Z"));
        assert!(is_denied(&doc, "192.0.2.1", "2026-11-23T12:00:00Z"));

        // Later plans, before the expiry, change nothing.
        for now in [
            "2026-11-23T12:00:01Z",
            "2026-11-23T19:00:00Z",
            "2026-11-23T20:00:00Z",
        ] {
            let (refreshed, _) = SourceIpPolicy.read(&env(&fake, now), state.clone()).await;
            assert_eq!(refreshed, state, "read at {now}");
            let p = plan(&env(&fake, now), &refreshed, &cfg).await;
            assert_eq!(p.planned, state, "plan at {now}");
            assert!(p.requires_replace.is_empty());
        }
    }

    #[tokio::test]
    async fn expired_entries_are_pruned_in_place_with_a_warning() {
        let fake = Arc::new(FakeIam::default());
        let cfg = config(&[("203.0.113.7/32", "2h"), ("192.0.2.8/32", "8h")]);
        let (state, _) = converge(&env(&fake, "2026-11-23T12:00:00Z"), &Value::Null, &cfg).await;
        let later = env(&fake, "2026-11-23T14:00:01Z");
        let p = plan(&later, &state, &cfg).await;
        assert!(p.requires_replace.is_empty());
        assert_eq!(
            entry(&p.planned, "203.0.113.7/32").get("status"),
            &Value::from(STATUS_EXPIRED)
        );
        assert_eq!(
            entry(&p.planned, "192.0.2.8/32").get("status"),
            &Value::from(STATUS_ACTIVE)
        );
        assert_eq!(
            p.planned.get("next_expiry"),
            &Value::from("2026-11-23T20:00:00Z")
        );
        let warning = p
            .diags
            .0
            .iter()
            .find(|d| d.summary == "Temporary CIDR expired")
            .unwrap();
        assert_eq!(warning.path, Some(entry_path("203.0.113.7/32")));
        let doc = p.planned.get("document").value_str().to_string();
        assert!(!doc.contains("203.0.113.7"), "{doc}");
        let (pruned, _) = converge(&later, &state, &cfg).await;
        assert_eq!(pruned.get("default_version_id"), &Value::from("v2"));
        assert_eq!(fake.state.lock().unwrap().document(), doc);
        // Pruned once; the next plan is quiet.
        let p = plan(&later, &pruned, &cfg).await;
        assert_eq!(p.planned, pruned);
        assert!(p.diags.0.is_empty(), "{:?}", p.diags);
    }

    #[tokio::test]
    async fn a_new_ttl_moves_the_expiry_from_created_at_and_renews_an_expired_entry() {
        let fake = Arc::new(FakeIam::default());
        let (state, _) = converge(
            &env(&fake, "2026-11-23T12:00:00Z"),
            &Value::Null,
            &config(&[("203.0.113.7/32", "2h")]),
        )
        .await;
        let (longer, _) = converge(
            &env(&fake, "2026-11-23T13:00:00Z"),
            &state,
            &config(&[("203.0.113.7/32", "4h")]),
        )
        .await;
        let e = entry(&longer, "203.0.113.7/32");
        assert_eq!(e.get("created_at"), &Value::from("2026-11-23T12:00:00Z"));
        assert_eq!(e.get("expires_at"), &Value::from("2026-11-23T16:00:00Z"));
        // Expire it, then ask again: a fresh grant from the apply.
        let late = env(&fake, "2026-11-23T17:00:00Z");
        let (expired, _) = converge(&late, &longer, &config(&[("203.0.113.7/32", "4h")])).await;
        assert_eq!(
            entry(&expired, "203.0.113.7/32").get("status"),
            &Value::from(STATUS_EXPIRED)
        );
        let (renewed, _) = converge(&late, &expired, &config(&[("203.0.113.7/32", "3h")])).await;
        let e = entry(&renewed, "203.0.113.7/32");
        assert_eq!(e.get("created_at"), &Value::from("2026-11-23T17:00:00Z"));
        assert_eq!(e.get("expires_at"), &Value::from("2026-11-23T20:00:00Z"));
        assert_eq!(e.get("status"), &Value::from(STATUS_ACTIVE));
    }

    #[tokio::test]
    async fn a_hand_edit_is_drift_and_apply_restores_the_document() {
        let fake = Arc::new(FakeIam::default());
        let cfg = config(&[("203.0.113.7/32", "8h")]);
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &cfg).await;
        let ours = state.get("document").value_str().to_string();

        // The same document, reformatted by hand: not drift.
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&ours).unwrap(),
        )
        .unwrap();
        fake.state
            .lock()
            .unwrap()
            .add_version(&pretty, true)
            .unwrap();
        let (refreshed, _) = SourceIpPolicy
            .read(&env(&fake, "2026-11-23T12:01:00Z"), state.clone())
            .await;
        assert_eq!(refreshed.get("document"), state.get("document"));
        assert_eq!(refreshed.get("default_version_id"), &Value::from("v2"));
        let p = plan(&e, &refreshed, &cfg).await;
        assert_eq!(p.planned, refreshed, "no change planned");

        // Someone widens the allowlist by hand.
        let edited = ours.replace("198.51.100.0/24", "0.0.0.0/0");
        fake.state
            .lock()
            .unwrap()
            .add_version(&edited, true)
            .unwrap();
        let (drifted, _) = SourceIpPolicy
            .read(&env(&fake, "2026-11-23T12:02:00Z"), refreshed.clone())
            .await;
        assert_eq!(drifted.get("document"), &Value::from(edited.as_str()));
        let p = plan(&e, &drifted, &cfg).await;
        assert_eq!(p.planned.get("document"), &Value::from(ours.as_str()));
        assert_eq!(p.planned.get("default_version_id"), &Value::Unknown);
        let (restored, _) = converge(&e, &drifted, &cfg).await;
        assert_eq!(fake.state.lock().unwrap().document(), ours);
        assert_eq!(restored.get("default_version_id"), &Value::from("v4"));
    }

    #[tokio::test]
    async fn twenty_updates_keep_five_versions_at_most() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (mut state, _) = converge(&e, &Value::Null, &config(&[])).await;
        for i in 0..20 {
            let cidr = format!("203.0.113.{}/32", i + 1);
            let (next, _) = converge(&e, &state, &config(&[(cidr.as_str(), "1h")])).await;
            state = next;
            let st = fake.state.lock().unwrap();
            assert!(st.versions.len() <= 5, "update {i}: {:?}", st.ids());
            assert_eq!(
                state.get("default_version_id"),
                &Value::from(st.policy.as_ref().unwrap().default_version_id.as_str())
            );
        }
    }

    #[tokio::test]
    async fn destroy_refuses_while_attached() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &config(&[])).await;
        fake.state.lock().unwrap().attachments = Attachments {
            users: vec!["alice".into()],
            groups: vec!["remote-workers".into()],
            roles: vec![],
        };
        let destroy = || ApplyRequest {
            prior: state.clone(),
            planned: Value::Null,
            config: Value::Null,
        };
        let (kept, diags) = SourceIpPolicy.apply(&e, destroy()).await;
        assert_eq!(kept, state, "nothing is lost from state");
        assert!(
            diags.0[0]
                .detail
                .contains("user alice, group remote-workers"),
            "{diags:?}"
        );
        assert!(fake.state.lock().unwrap().policy.is_some());
        fake.state.lock().unwrap().attachments = Attachments::default();
        let (gone, diags) = SourceIpPolicy.apply(&e, destroy()).await;
        assert_eq!(gone, Value::Null, "{diags:?}");
        assert!(fake.state.lock().unwrap().policy.is_none());
    }

    #[tokio::test]
    async fn import_recovers_the_allowlist_and_its_expiries() {
        let fake = Arc::new(FakeIam::default());
        let cfg = config(&[("203.0.113.7/32", "8h")]);
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &cfg).await;
        let later = env(&fake, "2026-11-23T13:00:00Z");
        let imported = SourceIpPolicy.import(&later, ARN).await.unwrap();
        let (imported, _) = SourceIpPolicy.read(&later, imported).await;
        assert_eq!(imported.get("allowed_cidrs"), state.get("allowed_cidrs"));
        assert_eq!(
            entry(&imported, "203.0.113.7/32").get("expires_at"),
            &Value::from("2026-11-23T20:00:00Z")
        );
        assert_eq!(entry(&imported, "203.0.113.7/32").get("ttl"), &Value::Null);
        // The first apply after import fills in ttl and created_at, without a new version.
        let (adopted, _) = converge(&later, &imported, &cfg).await;
        assert_eq!(
            entry(&adopted, "203.0.113.7/32"),
            entry(&state, "203.0.113.7/32")
        );
        assert_eq!(adopted.get("default_version_id"), &Value::from("v1"));
        assert_eq!(plan(&later, &adopted, &cfg).await.planned, adopted);

        let bad = SourceIpPolicy.import(&later, "remote").await.unwrap_err();
        assert!(bad.0[0].detail.contains("not a policy ARN"));
        fake.state.lock().unwrap().add_version(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, true).unwrap();
        let foreign = SourceIpPolicy
            .import(&env(&fake, "2026-11-23T13:00:10Z"), ARN)
            .await
            .unwrap_err();
        assert!(
            foreign.0[0].detail.contains("not a document jit renders"),
            "{foreign:?}"
        );
    }

    #[tokio::test]
    async fn oversized_documents_say_how_many_entries_to_drop() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let cidrs: Vec<String> = (0..250)
            .map(|i| format!("10.{}.{}.7/32", 100 + i / 100, 100 + i % 100))
            .collect();
        let entries: Vec<(&str, &str)> = cidrs.iter().map(|c| (c.as_str(), "1h")).collect();
        let p = plan(&e, &Value::Null, &config(&entries)).await;
        let errors = errors_at(&p.diags);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("temporary_cidrs: the rendered policy has "),
            "{errors:?}"
        );
        assert!(
            errors[0].contains("IAM allows 6,144") && errors[0].contains("remove "),
            "{errors:?}"
        );
    }

    #[tokio::test]
    async fn tags_are_reconciled_and_jits_marker_kept() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let mut cfg = config(&[]);
        cfg.set("tags", Value::object([("team", Value::from("platform"))]));
        let (state, _) = converge(&e, &Value::Null, &cfg).await;
        cfg.set("tags", Value::object([("owner", Value::from("alice"))]));
        let (state2, _) = converge(&e, &state, &cfg).await;
        let tags = fake.state.lock().unwrap().tags();
        assert_eq!(
            tags.keys().map(String::as_str).collect::<Vec<_>>(),
            [CREATE_ID_TAG_KEY, MANAGED_TAG_KEY, "owner"]
        );
        assert_eq!(
            state2.get("default_version_id"),
            &Value::from("v1"),
            "tags alone need no version"
        );
        let (refreshed, _) = SourceIpPolicy.read(&e, state2.clone()).await;
        assert_eq!(refreshed, state2);
    }

    /// Applies a plan made earlier, as `terraform apply tfplan` does.
    async fn apply_plan(
        env: &Env,
        prior: &Value,
        planned: &Plan,
        config: &Value,
    ) -> (Value, Diagnostics) {
        SourceIpPolicy
            .apply(
                env,
                ApplyRequest {
                    prior: prior.clone(),
                    planned: planned.planned.clone(),
                    config: config.clone(),
                },
            )
            .await
    }

    #[tokio::test]
    async fn a_lost_create_response_is_adopted_when_the_policy_carries_this_creates_id() {
        for loss in [Loss::Retried, Loss::Timeout] {
            let fake = Arc::new(FakeIam::default());
            fake.lose("CreatePolicy", loss);
            let e = env(&fake, "2026-11-23T12:00:00Z");
            let (state, _) = converge(&e, &Value::Null, &config(&[("203.0.113.7/32", "8h")])).await;
            assert_eq!(state.get("arn"), &Value::from(ARN), "{loss:?}");
            assert_eq!(state.get("default_version_id"), &Value::from("v1"));
            let st = fake.state.lock().unwrap();
            assert_eq!(st.ids(), ["v1"], "{loss:?}");
            assert_eq!(st.tags()[CREATE_ID_TAG_KEY].len(), 32);
            assert_eq!(Value::from(st.document().as_str()), *state.get("document"));
        }
    }

    #[tokio::test]
    async fn a_policy_under_the_name_that_this_create_did_not_make_is_refused_on_name() {
        let fake = Arc::new(FakeIam::default());
        let cfg = config(&[]);
        let e = env(&fake, "2026-11-23T12:00:00Z");
        // Another workspace's jit policy with this name and the very same allowlist: the same
        // document, the managed tag, but another create id.
        converge(&e, &Value::Null, &cfg).await;
        let writes = fake.writes().len();
        let p = plan(&e, &Value::Null, &cfg).await;
        let (state, diags) = apply_plan(&e, &Value::Null, &p, &cfg).await;
        assert_eq!(state, Value::Null);
        let errors = errors_at(&diags);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("name: ")
                && errors[0].contains("did not create")
                && errors[0].contains(&format!("terraform import <address> {ARN}")),
            "{errors:?}"
        );
        assert_eq!(
            fake.writes().len(),
            writes + 1,
            "only the refused CreatePolicy"
        );

        // A policy jit does not manage at all.
        fake.state
            .lock()
            .unwrap()
            .policy
            .as_mut()
            .unwrap()
            .tags
            .clear();
        let (_, diags) = apply_plan(&e, &Value::Null, &p, &cfg).await;
        assert!(
            errors_at(&diags)[0].contains("not one jit manages"),
            "{diags:?}"
        );
    }

    #[tokio::test]
    async fn a_lost_version_response_converges_on_the_next_apply_without_a_duplicate() {
        for loss in [Loss::Timeout, Loss::Retried] {
            let fake = Arc::new(FakeIam::default());
            let e = env(&fake, "2026-11-23T12:00:00Z");
            let (state, _) = converge(&e, &Value::Null, &config(&[])).await;
            for i in 0..3 {
                fake.state
                    .lock()
                    .unwrap()
                    .add_version(&format!("{{\"hand\":{i}}}"), false)
                    .unwrap();
            }
            // Four versions: the lost create takes the fifth slot.
            let cfg = config(&[("203.0.113.7/32", "8h")]);
            fake.lose("CreatePolicyVersion", loss);
            let p = plan(&e, &state, &cfg).await;
            let (after, diags) = apply_plan(&e, &state, &p, &cfg).await;
            let state = if diags.has_errors() {
                assert_eq!(loss, Loss::Timeout, "{diags:?}");
                assert_eq!(after, state, "a failed apply keeps the prior state");
                converge(&e, &after, &cfg).await.0
            } else {
                after
            };
            let st = fake.state.lock().unwrap();
            assert_eq!(st.ids(), ["v1", "v2", "v3", "v4", "v5"], "{loss:?}");
            assert_eq!(
                state.get("default_version_id"),
                &Value::from("v5"),
                "{loss:?}"
            );
            assert_eq!(Value::from(st.document().as_str()), *state.get("document"));
        }
    }

    #[tokio::test]
    async fn a_revoke_between_plan_and_apply_is_not_undone() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let two = config(&[("203.0.113.7/32", "8h"), ("203.0.113.8/32", "8h")]);
        let (state, _) = converge(&e, &Value::Null, &two).await;
        // Planned with the range active (a new entry besides), then revoked, then applied.
        let later = env(&fake, "2026-11-23T13:00:00Z");
        let three = config(&[
            ("203.0.113.7/32", "8h"),
            ("203.0.113.8/32", "8h"),
            ("192.0.2.1/32", "1h"),
        ]);
        let p = plan(&later, &state, &three).await;
        crate::ctl::policy::revoke(
            &later.policies,
            &format!("{ARN}#203.0.113.8/32"),
            t("2026-11-23T13:00:00Z"),
        )
        .await
        .unwrap();
        let (applied, diags) = apply_plan(&later, &state, &p, &three).await;
        let errors = errors_at(&diags);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("temporary_cidrs[\"203.0.113.8/32\"]: ")
                && errors[0].contains("revoked by `jitctl revoke` at 2026-11-23T13:00:00Z"),
            "{errors:?}"
        );
        assert_eq!(
            entry(&applied, "203.0.113.8/32").get("status"),
            &Value::from(STATUS_REVOKED)
        );
        let doc = fake.state.lock().unwrap().document();
        assert_eq!(Value::from(doc.as_str()), *applied.get("document"));
        assert!(
            is_denied(&doc, "203.0.113.8", "2026-11-23T13:00:01Z"),
            "kept out"
        );
        assert!(
            !is_denied(&doc, "192.0.2.1", "2026-11-23T13:00:01Z"),
            "the rest applied"
        );
        assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T13:00:01Z"));
        // The next plan is empty.
        let (read, _) = SourceIpPolicy.read(&later, applied.clone()).await;
        assert_eq!(read, applied);
        assert_eq!(plan(&later, &read, &three).await.planned, read);

        // A plan that changes only the tags keeps the planned document; the revoke is caught
        // all the same.
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &two).await;
        let later = env(&fake, "2026-11-23T13:00:00Z");
        let mut tagged = two.clone();
        tagged.set("tags", Value::object([("team", Value::from("platform"))]));
        let p = plan(&later, &state, &tagged).await;
        assert_eq!(p.planned.get("document"), state.get("document"));
        crate::ctl::policy::revoke(
            &later.policies,
            &format!("{ARN}#203.0.113.8/32"),
            t("2026-11-23T13:00:00Z"),
        )
        .await
        .unwrap();
        let (applied, diags) = apply_plan(&later, &state, &p, &tagged).await;
        assert_eq!(errors_at(&diags).len(), 1, "{diags:?}");
        assert_eq!(
            entry(&applied, "203.0.113.8/32").get("status"),
            &Value::from(STATUS_REVOKED)
        );
        let st = fake.state.lock().unwrap();
        assert_eq!(
            Value::from(st.document().as_str()),
            *applied.get("document")
        );
        assert_eq!(st.tags().get("team").map(String::as_str), Some("platform"));
        assert_eq!(st.ids(), ["v1", "v2"], "jitctl's version is already right");
    }

    #[tokio::test]
    async fn ten_thousand_entries_are_refused_on_the_attribute_without_the_set_algebra() {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let cidrs: Vec<String> = (0..10_000)
            .map(|i| format!("10.{}.{}.{}/32", i / 2000, (i / 8) % 250, 1 + (i % 8) * 2))
            .collect();
        let entries: Vec<(&str, &str)> = cidrs.iter().map(|c| (c.as_str(), "1h")).collect();
        let cfg = config(&entries);
        assert!(!SourceIpPolicy.validate(&cfg).has_errors());
        let p = plan(&e, &Value::Null, &cfg).await;
        let errors = errors_at(&p.diags);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("temporary_cidrs: the rendered policy would have at least ")
                && errors[0].contains("IAM allows 6,144")
                && errors[0].contains("of the 10000 active temporary_cidrs entries"),
            "{errors:?}"
        );
        // An update is refused the same way, before anything is written.
        let (prior, _) = converge(&e, &Value::Null, &config(&[])).await;
        let p = plan(&e, &prior, &cfg).await;
        assert!(p.diags.has_errors());
        assert!(
            fake.writes().iter().all(|w| *w == "CreatePolicy"),
            "{:?}",
            fake.writes()
        );
    }

    #[test]
    fn tags_iam_would_refuse_are_refused_at_validation() {
        let mut v = config(&[]);
        v.set(
            "tags",
            Value::object([
                ("note", Value::from("a;b")),
                ("aws:owner", Value::from("me")),
                ("fine", Value::from("x=1 y=2")),
            ]),
        );
        let errors = errors_at(&SourceIpPolicy.validate(&v));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("tags[\"note\"]: ") && e.contains("not an IAM tag value")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|e| e.starts_with("tags[\"aws:owner\"]: ") && e.contains("not an IAM tag key")), "{errors:?}");
    }

    #[test]
    fn every_attribute_is_documented() {
        assert!(schema_block().undocumented().is_empty());
    }
}
