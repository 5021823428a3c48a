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
//!
//! The file reads top to bottom: the schema, the arguments and their checks (`validate`), the
//! resource's operations, then the steps of plan, apply, read and import, and last the typed
//! state. Tests are in `source_ip_policy/tests.rs`.

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
    Fit, MANAGED_POLICY_SIZE_LIMIT, Spec, Temporary, fit, has_lapsed, policy_size, same_document,
};
use crate::policy::guardrail::{self, Treatment};
use crate::policy::revoke::{self, Marker};
use crate::resource::{ApplyRequest, Env, Plan, PlanRequest, Resource};
use crate::resources::common::{
    self, STATUS_EXPIRED, STATUS_REVOKED, StateReader, Status as EntryStatus, Wording, aws_error,
};
use crate::tf::{
    AttrPath, Attribute, Block, Diagnostic, Diagnostics, Known, Mode, Nesting, Reader, Schema,
    Step, Type, Value,
};

pub const TYPE_NAME: &str = "jit_source_ip_policy";

pub const DEFAULT_PATH: &str = "/";
pub const DEFAULT_DENY_ACTIONS: &str = "*";

/// Attributes IAM can't change on an existing policy.
const REPLACING: [&str; 3] = ["name", "path", "description"];
/// IAM allows 50 tags per policy; jit's own take two (`jit:managed`, `jit:create-id`).
const USER_TAGS_MAX: usize = MAX_TAGS - 2;

pub struct SourceIpPolicy;

/// How the shared argument rules name a temporary entry.
const WORDING: Wording = Wording {
    noun: "a temporary entry",
    ttl_example: "8h",
    prefix_scope: "temporary access",
};

// Schema.

pub fn schema_block() -> Block {
    Block {
        description: format!(
            "An IAM managed policy that denies requests from outside an IP allowlist. Permanent ranges \
                      stay; each temporary range is closed by AWS itself once its `expires_at` passes (an \
                      `aws:CurrentTime` condition in the policy), with no cleanup job. The next apply prunes \
                      expired entries from the document. Attach the policy to users, groups or roles with the \
                      usual `aws_iam_*_policy_attachment` resources.\n\n\
                      Every document is checked with all of jitlint's rules at plan time, before it is \
                      written. Findings of {} are errors (the document is not written); `JIT007` \
                      (source-ip-deny-blocks-aws-services) is a warning on `exempt_aws_services = false`; \
                      findings of any other rule, such as one added to jitlint after this version, are \
                      warnings.",
            guardrail::enforced_list()
        ),
        attributes: vec![
            Attribute::computed("id", Type::String, "The policy's ARN. Also the import id."),
            Attribute::computed("arn", Type::String, "The policy's ARN."),
            Attribute::computed(
                "policy_id",
                Type::String,
                "The policy's unique id (`ANPA…`).",
            ),
            Attribute::required(
                "name",
                Type::String,
                "Name of the managed policy (1-128 letters, digits and `+=,.@_-`). Changing it creates a new policy.",
            ),
            Attribute::optional_computed(
                "path",
                Type::String,
                "IAM path of the policy, beginning and ending with `/`. Defaults to `/`. Changing it creates a new policy.",
            ),
            Attribute::optional(
                "description",
                Type::String,
                "Description of the policy (at most 1000 characters). Changing it creates a new policy.",
            ),
            Attribute::required(
                "allowed_cidrs",
                Type::List(Box::new(Type::String)),
                "Permanent ranges (the office, the VPN's egress) as IPv4 or IPv6 CIDR blocks with host bits clear. At least one; `0.0.0.0/0` and prefixes shorter than /8 (IPv6: /32) are refused.",
            ),
            Attribute::nested(
                "temporary_cidrs",
                Nesting::Map,
                Mode::Optional,
                vec![
                    Attribute::required(
                        "ttl",
                        Type::String,
                        "How long the range is admitted from `created_at`, as a Go duration (`\"8h\"`, `\"90m\"`). Positive and at most the provider's `max_ttl`. Changing it moves `expires_at`; on an expired entry it grants the range again from the apply.",
                    ),
                    Attribute::optional(
                        "reason",
                        Type::String,
                        "Why the access is needed (kept in state); required when the provider sets `require_reason`.",
                    ),
                    Attribute::computed(
                        "created_at",
                        Type::String,
                        "When the entry was first applied (RFC 3339, UTC).",
                    ),
                    Attribute::computed(
                        "expires_at",
                        Type::String,
                        "`created_at` + `ttl` (RFC 3339, UTC). AWS denies the range after this instant.",
                    ),
                    Attribute::computed(
                        "status",
                        Type::String,
                        "`active` until `expires_at`, then `expired`: the next apply removes the range from the document (AWS already denies it). `revoked` when `jitctl revoke` ended it early: it stays out of the document until it gets a new `ttl`.",
                    ),
                ],
                "Temporary ranges, keyed by CIDR block (e.g. `\"203.0.113.7/32\"`), each admitted until its `expires_at`. \
                 Prefixes shorter than the provider's `min_prefix_length_ipv4`/`ipv6` are refused.",
            ),
            Attribute::optional_computed(
                "deny_actions",
                Type::List(Box::new(Type::String)),
                "IAM actions denied outside the allowlist (`\"service:Action\"`, wildcards allowed). Defaults to `[\"*\"]`.",
            ),
            Attribute::optional_computed(
                "exempt_aws_services",
                Type::Bool,
                "Whether calls an AWS service makes for the user (CloudFormation, Athena, …) are exempt, via `\"Bool\": {\"aws:ViaAWSService\": \"false\"}`. Defaults to `true`; without it, those calls come from AWS addresses and are denied.",
            ),
            Attribute::optional(
                "tags",
                Type::Map(Box::new(Type::String)),
                "Tags for the policy. Keys starting with `jit:` are reserved: jit tags its policies `jit:managed = source-ip-policy` so that `jitctl` finds them.",
            ),
            Attribute::computed(
                "document",
                Type::String,
                "The policy document jit renders and keeps as the default version (compact JSON).",
            ),
            Attribute::computed(
                "default_version_id",
                Type::String,
                "The policy's default version (`v1`, `v2`, …). jit keeps at most five versions, deleting the oldest non-default one before it writes a new one.",
            ),
            Attribute::computed(
                "next_expiry",
                Type::String,
                "The earliest `expires_at` of the active temporary entries (RFC 3339), or null when there are none.",
            ),
        ],
        blocks: vec![],
    }
}

// Arguments.

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
    let errors = |diags: &Diagnostics| {
        diags
            .0
            .iter()
            .filter(|d| d.severity == crate::tf::Severity::Error)
            .count()
    };
    let errors_before = errors(diags);

    let name = check_name(&mut r, diags);
    let policy_path = check_policy_path(&mut r, diags);
    let description = check_description(&mut r, diags);
    let allowed = check_allowed(&mut r, v.get("allowed_cidrs"), diags);
    let temporary = check_temporary(&mut r, v.get("temporary_cidrs"), settings, diags);
    let deny_actions = check_deny_actions(&mut r, v.get("deny_actions"), diags);
    let exempt_aws_services = match r.get::<bool>(diags, &path("exempt_aws_services")) {
        Known::Value(b) => b,
        _ => true,
    };
    let tags = check_tags(&mut r, v.get("tags"), diags);

    if errors(diags) > errors_before || !r.complete {
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

fn check_name(r: &mut Reader, diags: &mut Diagnostics) -> Known<String> {
    let name = r.get::<String>(diags, &path("name"));
    if let Known::Value(n) = &name
        && !valid_policy_name(n)
    {
        diags.push(Diagnostic::invalid(
            path("name"),
            format!("{n:?} is not an IAM policy name: use 1-128 letters, digits and +=,.@_-"),
        ));
    }
    name
}

/// `path`, `/` when not set.
fn check_policy_path(r: &mut Reader, diags: &mut Diagnostics) -> Known<String> {
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
    policy_path
}

fn check_description(r: &mut Reader, diags: &mut Diagnostics) -> Known<String> {
    let description = r.get::<String>(diags, &path("description"));
    if let Known::Value(d) = &description
        && d.chars().count() > 1000
    {
        diags.push(Diagnostic::invalid(
            path("description"),
            format!("is {} characters long; IAM allows 1000", d.chars().count()),
        ));
    }
    description
}

/// `allowed_cidrs`: at least one range, none too wide to be a fence, none twice.
fn check_allowed(r: &mut Reader, value: &Value, diags: &mut Diagnostics) -> Vec<IpNet> {
    let mut allowed = Vec::new();
    let mut allowed_at: BTreeMap<IpNet, usize> = BTreeMap::new();
    match value {
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
                let Some(net) = common::cidr(diags, &p, &text) else {
                    continue;
                };
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
        Value::Unknown => r.complete = false,
        _ => {}
    }
    allowed
}

/// `temporary_cidrs`: each key a distinct, granted block, each entry with a ttl (see
/// [`check_entry`]).
fn check_temporary(
    r: &mut Reader,
    value: &Value,
    settings: Option<&Settings>,
    diags: &mut Diagnostics,
) -> Vec<EntryArgs> {
    let entries = match value {
        Value::Map(entries) => entries,
        Value::Unknown => {
            r.complete = false;
            return Vec::new();
        }
        _ => return Vec::new(),
    };
    let mut seen: BTreeMap<IpNet, &str> = BTreeMap::new();
    let mut temporary = Vec::new();
    for key in entries.keys() {
        let p = entry_path(key);
        let cidr = match common::cidr(diags, &p, key) {
            None => None,
            Some(net) if net.prefix_len() == 0 => {
                diags.push(Diagnostic::invalid(
                    p.clone(),
                    format!("{net} is every address; grant the one address that needs access, e.g. \"203.0.113.7/32\""),
                ));
                None
            }
            Some(net) => {
                if let Some(other) = seen.insert(net, key) {
                    diags.push(Diagnostic::invalid(
                        p.clone(),
                        format!("{key:?} is the same network as {other:?}; keep one"),
                    ));
                }
                Some(net)
            }
        };
        let ttl = check_entry(r, &p, cidr, settings, diags);
        if let (Some(cidr), Some(ttl)) = (cidr, ttl) {
            temporary.push(EntryArgs {
                key: key.clone(),
                cidr,
                ttl,
            });
        }
    }
    temporary
}

/// One temporary entry at `p` (of block `cidr`, when valid): the shared rules for its `ttl`,
/// `reason` and block. Returns its TTL when known and valid.
fn check_entry(
    r: &mut Reader,
    p: &AttrPath,
    cidr: Option<IpNet>,
    settings: Option<&Settings>,
    diags: &mut Diagnostics,
) -> Option<Ttl> {
    let ttl_text = r.get::<String>(diags, &p.attr("ttl"));
    let ttl = common::ttl(diags, &p.attr("ttl"), &ttl_text, WORDING);
    if ttl_text.is_null() {
        diags.push(Diagnostic::invalid(
            p.attr("ttl"),
            "every temporary entry needs a ttl, e.g. \"8h\"",
        ));
    }
    let reason = r.get::<String>(diags, &p.attr("reason"));
    common::reason(diags, &p.attr("reason"), &reason);
    if let Some(s) = settings {
        if let (Some(t), Known::Value(text)) = (ttl, &ttl_text) {
            common::ttl_within_max(diags, &p.attr("ttl"), text, t, s);
        }
        common::reason_if_required(diags, &p.attr("reason"), &reason, s);
        if let Some(net) = cidr {
            common::cidr_within_min_prefix(diags, p, net, s, WORDING);
        }
    }
    ttl
}

/// `deny_actions`: IAM actions, `["*"]` when not set, never empty.
fn check_deny_actions(r: &mut Reader, value: &Value, diags: &mut Diagnostics) -> Vec<String> {
    match value {
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
    }
}

/// `tags`: what IAM accepts, within its count once jit's own two are added, none of jit's keys.
fn check_tags(r: &mut Reader, value: &Value, diags: &mut Diagnostics) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let map = match value {
        Value::Map(map) => map,
        Value::Unknown => {
            r.complete = false;
            return tags;
        }
        _ => return tags,
    };
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
                format!(
                    "tag keys starting with {RESERVED_TAG_PREFIX:?} are jit's own; rename {key:?}"
                ),
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
    tags
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

    /// Name, path and description are fixed in IAM (a change is a new policy); everything
    /// else is a new default version, planned with its document when every entry's expiry is
    /// known, and only when the meaning changed.
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
        let Some(args) = check(&planned, Some(&env.settings), &mut plan.diags) else {
            // Something is invalid or not yet known: leave what depends on it to apply.
            plan.planned = unknown_until_apply(planned, &req.prior);
            return plan;
        };
        let now = env.clock.now();
        let priors = prior_entries(&req.prior);
        let plans: Vec<EntryPlan> = args
            .temporary
            .iter()
            .map(|e| plan_entry(e, priors.get(&e.key), now, None))
            .collect();
        plan.diags.0.extend(entry_warnings(&args, &plans));
        planned.set("temporary_cidrs", entries_value(&planned, &args, &plans));
        planned.set("next_expiry", next_expiry(&plans));
        let replacing = !creating && !plan.requires_replace.is_empty();
        let (document, version) = match spec_of(&args, &plans, None) {
            Some(spec) => match render_checked(&spec, &mut plan.diags) {
                None => (Value::Unknown, Value::Unknown),
                Some(doc) => {
                    let prior_doc = req.prior.get("document");
                    if !creating && !replacing && same_document(&doc, prior_doc.value_str()) {
                        (
                            prior_doc.clone(),
                            req.prior.get("default_version_id").clone(),
                        )
                    } else {
                        (Value::from(doc), Value::Unknown)
                    }
                }
            },
            None => {
                // New entries start at apply; check the size with their expiry as if now.
                if let Some(spec) = spec_of(&args, &plans, Some(now)) {
                    render_checked(&spec, &mut plan.diags);
                }
                (Value::Unknown, Value::Unknown)
            }
        };
        planned.set("document", document);
        planned.set("default_version_id", version);
        plan.planned = planned;
        plan
    }

    /// Re-reads the policy's revoke markers right before writing, then creates the policy or
    /// reconciles its tags and default version.
    async fn apply(&self, env: &Env, req: ApplyRequest) -> (Value, Diagnostics) {
        if req.planned.is_null() {
            return match destroy(env, &req.prior).await {
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
        let mut plans = settle_entries(&args, &req, env.clock.now());
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
        let applied = |ids| applied_state(&req.planned, &args, &plans, &document, ids);
        let Some(view) = view else {
            return match create(env, &args, &document).await {
                Ok(p) => {
                    let ids = (
                        p.arn.as_str(),
                        p.policy_id.as_str(),
                        p.default_version_id.as_str(),
                    );
                    (applied(ids).to_value(), diags)
                }
                Err(d) => {
                    diags.extend(d);
                    (Value::Null, diags)
                }
            };
        };
        let changed = !revoked_since_plan.is_empty()
            || req.prior.get("document") != req.planned.get("document");
        let version = match update(env, &view, &args, changed.then_some(document.as_str())).await {
            Ok(Some(version)) => version,
            // The plan kept the document, and with it the version it had.
            Ok(None) => req
                .planned
                .get("default_version_id")
                .value_str()
                .to_string(),
            Err(d) => {
                diags.extend(d);
                return (req.prior, diags);
            }
        };
        let planned = |name| req.planned.get(name).value_str();
        let state = applied((planned("arn"), planned("policy_id"), version.as_str()));
        diags.0.extend(revoked_during_apply(revoked_since_plan));
        (state.to_value(), diags)
    }

    async fn read(&self, env: &Env, current: Value) -> (Value, Diagnostics) {
        let mut state = match PolicyState::from_value(&current) {
            Ok(s) => s,
            Err(d) => return (current, d.into()),
        };
        let view = match env.policies.view(&state.arn).await {
            Ok(Some(v)) => v,
            Ok(None) => return (Value::Null, Diagnostics::default()),
            Err(e) => return (current, aws_error("Could not read the policy", e).into()),
        };
        state.policy_id = view.policy.policy_id.clone();
        state.default_version_id = view.policy.default_version_id.clone();
        // Same meaning, same text in state: only a real change is drift.
        if !same_document(&view.document, &state.document) {
            state.document = view.document.clone();
        }
        let tags = user_tags(&view.policy.tags);
        if !(tags.is_empty() && state.tags.is_none()) {
            state.tags = Some(tags);
        }
        if let Some(entries) = &mut state.temporary_cidrs {
            mark_revoked(entries, &view.policy.tags);
        }
        (state.to_value(), Diagnostics::default())
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
        // AWS records only each entry's expiry: `ttl` and `created_at` come with the first apply.
        let temporary: BTreeMap<String, EntryState> = spec
            .temporary
            .iter()
            .map(|t| {
                let status = if has_lapsed(t.expires_at, now) {
                    EntryStatus::Expired
                } else {
                    EntryStatus::Active
                };
                let entry = EntryState {
                    ttl: None,
                    reason: None,
                    created_at: None,
                    expires_at: Some(t.expires_at),
                    status,
                };
                (t.cidr.to_string(), entry)
            })
            .collect();
        let next_expiry = spec
            .temporary
            .iter()
            .filter(|t| now <= t.expires_at)
            .map(|t| t.expires_at)
            .min();
        let tags = user_tags(&view.policy.tags);
        let p = &view.policy;
        Ok(PolicyState {
            arn: p.arn.clone(),
            policy_id: p.policy_id.clone(),
            name: p.name.clone(),
            path: p.path.clone(),
            description: p.description.clone(),
            allowed_cidrs: spec.allowed.iter().map(ToString::to_string).collect(),
            temporary_cidrs: (!temporary.is_empty()).then_some(temporary),
            deny_actions: spec.deny_actions.clone(),
            exempt_aws_services: spec.exempt_aws_services,
            tags: (!tags.is_empty()).then_some(tags),
            document: view.document.clone(),
            default_version_id: p.default_version_id.clone(),
            next_expiry,
        }
        .to_value())
    }
}

// Plan.

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

/// The plan of a configuration that is invalid or not yet known: what depends on it is
/// unknown until apply, except the times of entries whose ttl is unchanged.
fn unknown_until_apply(mut planned: Value, prior: &Value) -> Value {
    for name in ["document", "default_version_id", "next_expiry"] {
        planned.set(name, Value::Unknown);
    }
    if let Value::Map(entries) = planned.get("temporary_cidrs").clone() {
        let priors = prior_entries(prior);
        let kept = entries.into_iter().map(|(k, mut e)| {
            let same = priors.get(&k).is_some_and(|p| {
                p.ttl.is_some() && e.get("ttl") == prior.get("temporary_cidrs").get(&k).get("ttl")
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
    planned
}

/// Warnings about entries: one that expires with this plan, one that the permanent ranges
/// already admit.
fn entry_warnings(args: &Args, plans: &[EntryPlan]) -> Vec<Diagnostic> {
    let permanent = AddrSet::new(&args.allowed);
    let mut out = Vec::new();
    for (e, p) in args.temporary.iter().zip(plans) {
        if p.newly_expired {
            out.push(
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
            out.push(
                Diagnostic::warning(
                    "Temporary CIDR has no effect",
                    format!("{} is {within}, which admits it permanently; the entry adds nothing to the policy", e.key),
                )
                .at(entry_path(&e.key)),
            );
        }
    }
    out
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
    let expired = p.expired || has_lapsed(expires_at, now);
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

/// Runs jitlint over a document jit is about to write; findings become errors or warnings as
/// [`guardrail`] says.
fn lint_document(spec: &Spec, doc: &str, diags: &mut Diagnostics) {
    let findings = match guardrail::lint(doc) {
        Ok(findings) => findings,
        Err(e) => {
            diags.push(Diagnostic::error(
                "The rendered policy fails jitlint",
                format!("jitlint could not read it ({e}); this is a bug in jit, please report it"),
            ));
            return;
        }
    };
    for f in findings {
        let text = format!("{} ({}): {}", f.rule.code(), f.rule.name(), f.message);
        let chosen = f.rule == jitlint::Rule::SourceIpDenyBlocksAwsServices;
        if chosen && !spec.exempt_aws_services {
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
        } else if chosen || guardrail::treatment(f.rule) == Treatment::Error {
            diags.push(Diagnostic::error(
                "The rendered policy fails jitlint",
                format!("{text}. jit never writes a policy jitlint flags; this is a bug in jit, please report it"),
            ));
        } else {
            diags.push(Diagnostic::warning(
                "jitlint reports the rendered policy",
                format!("{text}. This provider version does not enforce {} (see the resource's documentation), so the policy is written; please report it", f.rule.code()),
            ));
        }
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
                (
                    e.key.clone(),
                    Value::object([
                        ("ttl", c.get("ttl").clone()),
                        ("reason", c.get("reason").clone()),
                        ("created_at", time_value(p.created_at)),
                        ("expires_at", time_value(p.expires_at)),
                        ("status", Value::from(entry_status(p).as_str())),
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

// Apply.

/// The entries' computed attributes at apply: what the plan decided stands, and only its
/// unknowns (the times of entries new in this apply) are settled now.
fn settle_entries(args: &Args, req: &ApplyRequest, now: OffsetDateTime) -> Vec<EntryPlan> {
    let priors = prior_entries(&req.prior);
    let planned_entries = prior_entries(&req.planned);
    args.temporary
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
        .collect()
}

/// The state after a successful apply: the planned arguments, the entries as settled, the
/// document written, and the policy's ARN, id and default version.
fn applied_state(
    planned: &Value,
    args: &Args,
    plans: &[EntryPlan],
    document: &str,
    (arn, policy_id, version): (&str, &str, &str),
) -> PolicyState {
    let temporary_cidrs = (!planned.get("temporary_cidrs").is_null()).then(|| {
        args.temporary
            .iter()
            .zip(plans)
            .map(|(e, p)| {
                let c = planned.get("temporary_cidrs").get(&e.key);
                let entry = EntryState {
                    ttl: Some(c.get("ttl").value_str().to_string()),
                    reason: match c.get("reason") {
                        Value::String(r) => Some(r.clone()),
                        _ => None,
                    },
                    created_at: p.created_at,
                    expires_at: p.expires_at,
                    status: entry_status(p),
                };
                (e.key.clone(), entry)
            })
            .collect()
    });
    let allowed_cidrs = match planned.get("allowed_cidrs") {
        Value::List(items) => items.iter().map(|i| i.value_str().to_string()).collect(),
        _ => Vec::new(),
    };
    PolicyState {
        arn: arn.to_string(),
        policy_id: policy_id.to_string(),
        name: args.name.clone(),
        path: args.path.clone(),
        description: args.description.clone(),
        allowed_cidrs,
        temporary_cidrs,
        deny_actions: args.deny_actions.clone(),
        exempt_aws_services: args.exempt_aws_services,
        tags: (!planned.get("tags").is_null()).then(|| args.tags.clone()),
        document: document.to_string(),
        default_version_id: version.to_string(),
        next_expiry: plans
            .iter()
            .filter(|p| !p.expired)
            .filter_map(|p| p.expires_at)
            .min(),
    }
}

/// Errors for entries revoked between plan and apply: the apply did not do what the plan showed
/// (Terraform then keeps the new state without insisting that it match the plan).
fn revoked_during_apply(revoked: Vec<(String, Marker)>) -> Vec<Diagnostic> {
    revoked
        .into_iter()
        .map(|(key, m)| {
            Diagnostic::error(
                "Temporary CIDR revoked during this apply",
                format!(
                    "{key} was revoked by `jitctl revoke` at {}, after this plan was made. jit kept it out of the policy and records it as revoked; the rest of the change was applied. The next plan shows no change for it; give it a new ttl to grant it again.",
                    format_rfc3339(m.revoked_at)
                ),
            )
            .at(entry_path(&key))
        })
        .collect()
}

/// Deletes the policy, refusing while it is attached (AWS would refuse too, but not every
/// IAM endpoint does, and jit must not orphan attachments).
async fn destroy(env: &Env, state: &Value) -> Result<(), Diagnostics> {
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
async fn create(env: &Env, args: &Args, document: &str) -> Result<PolicyInfo, Diagnostics> {
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

/// 128 random bits as 32 hex digits, from the TLS stack's system random source.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
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

// Read and import.

/// Sets `status = "revoked"` on active entries that carry `jitctl`'s revoke marker for their
/// current expiry (a marker for an earlier grant of the same range does not count).
fn mark_revoked(entries: &mut BTreeMap<String, EntryState>, tags: &BTreeMap<String, String>) {
    let markers = revoke::markers(tags);
    for (key, entry) in entries.iter_mut() {
        let Ok(cidr) = key.parse::<IpNet>() else {
            continue;
        };
        if entry.status == EntryStatus::Active
            && entry
                .expires_at
                .is_some_and(|x| markers.get(&cidr).is_some_and(|m| m.revokes(cidr, x)))
        {
            entry.status = EntryStatus::Revoked;
        }
    }
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

// State.

/// A temporary entry's `status`, as its plan decided it.
fn entry_status(p: &EntryPlan) -> EntryStatus {
    if p.revoked {
        EntryStatus::Revoked
    } else if p.expired {
        EntryStatus::Expired
    } else {
        EntryStatus::Active
    }
}

/// One `temporary_cidrs` entry as state holds it.
#[derive(Debug, Clone, PartialEq)]
struct EntryState {
    /// As configured; null for an entry that came in by import (AWS records only the expiry)
    /// until the first apply.
    ttl: Option<String>,
    reason: Option<String>,
    created_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    status: EntryStatus,
}

/// The policy's state as Terraform stores it: every attribute of the schema, typed. Every state
/// the resource returns is built as one (`schema_accepts_every_state` checks the two agree).
#[derive(Debug, Clone, PartialEq)]
struct PolicyState {
    /// Also the `id`.
    arn: String,
    policy_id: String,
    name: String,
    path: String,
    description: Option<String>,
    /// As configured (the texts, in order).
    allowed_cidrs: Vec<String>,
    /// Keyed as configured; null when the configuration has none.
    temporary_cidrs: Option<BTreeMap<String, EntryState>>,
    deny_actions: Vec<String>,
    exempt_aws_services: bool,
    /// Without jit's own; null when the configuration sets none.
    tags: Option<BTreeMap<String, String>>,
    document: String,
    default_version_id: String,
    next_expiry: Option<OffsetDateTime>,
}

fn time_or_null(t: Option<OffsetDateTime>) -> Value {
    Value::from(t.map(format_rfc3339))
}

fn strings_value(items: &[String]) -> Value {
    Value::List(items.iter().map(|s| Value::from(s.as_str())).collect())
}

impl EntryState {
    fn to_value(&self) -> Value {
        Value::object([
            ("ttl", Value::from(self.ttl.clone())),
            ("reason", Value::from(self.reason.clone())),
            ("created_at", time_or_null(self.created_at)),
            ("expires_at", time_or_null(self.expires_at)),
            ("status", Value::from(self.status.as_str())),
        ])
    }
}

impl PolicyState {
    fn to_value(&self) -> Value {
        Value::object([
            ("id", Value::from(self.arn.as_str())),
            ("arn", Value::from(self.arn.as_str())),
            ("policy_id", Value::from(self.policy_id.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("path", Value::from(self.path.as_str())),
            ("description", Value::from(self.description.clone())),
            ("allowed_cidrs", strings_value(&self.allowed_cidrs)),
            (
                "temporary_cidrs",
                self.temporary_cidrs.as_ref().map_or(Value::Null, |m| {
                    Value::Map(m.iter().map(|(k, e)| (k.clone(), e.to_value())).collect())
                }),
            ),
            ("deny_actions", strings_value(&self.deny_actions)),
            ("exempt_aws_services", Value::from(self.exempt_aws_services)),
            ("tags", self.tags.as_ref().map_or(Value::Null, tags_value)),
            ("document", Value::from(self.document.as_str())),
            (
                "default_version_id",
                Value::from(self.default_version_id.as_str()),
            ),
            ("next_expiry", time_or_null(self.next_expiry)),
        ])
    }

    /// Reads a state object (every attribute is known in state).
    fn from_value(v: &Value) -> Result<PolicyState, Diagnostic> {
        let state = StateReader::new(TYPE_NAME, v);
        let bad = |what: &str| state.bad(what);
        let text = common::string;
        let required = |name: &str| state.required(name);
        let strings = |name: &str| {
            match v.get(name) {
                Value::List(items) => items.iter().map(text).collect::<Option<Vec<_>>>(),
                _ => None,
            }
            .ok_or_else(|| bad(name))
        };
        let temporary_cidrs = match v.get("temporary_cidrs") {
            Value::Null => None,
            Value::Map(entries) => {
                let mut out = BTreeMap::new();
                for (key, e) in entries {
                    let what = format!("temporary_cidrs[{key:?}]");
                    let e = state.nested(e);
                    let entry = EntryState {
                        ttl: e.text("ttl"),
                        reason: e.text("reason"),
                        created_at: e.optional_time("created_at", &what)?,
                        expires_at: e.optional_time("expires_at", &what)?,
                        status: e
                            .text("status")
                            .and_then(|s| EntryStatus::parse(&s))
                            .ok_or_else(|| bad(&what))?,
                    };
                    out.insert(key.clone(), entry);
                }
                Some(out)
            }
            _ => return Err(bad("temporary_cidrs")),
        };
        let tags = match v.get("tags") {
            Value::Null => None,
            Value::Map(m) => Some(
                m.iter()
                    .map(|(k, t)| text(t).map(|t| (k.clone(), t)))
                    .collect::<Option<BTreeMap<_, _>>>()
                    .ok_or_else(|| bad("tags"))?,
            ),
            _ => return Err(bad("tags")),
        };
        Ok(PolicyState {
            arn: required("arn")?,
            policy_id: required("policy_id")?,
            name: required("name")?,
            path: required("path")?,
            description: state.text("description"),
            allowed_cidrs: strings("allowed_cidrs")?,
            temporary_cidrs,
            deny_actions: strings("deny_actions")?,
            exempt_aws_services: match v.get("exempt_aws_services") {
                Value::Bool(b) => *b,
                _ => return Err(bad("exempt_aws_services")),
            },
            tags,
            document: required("document")?,
            default_version_id: required("default_version_id")?,
            next_expiry: state.optional_time("next_expiry", "next_expiry")?,
        })
    }
}

#[cfg(test)]
mod tests;
