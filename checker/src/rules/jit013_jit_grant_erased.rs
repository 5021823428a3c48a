//! ## What it does
//! Finds resources in a plan (or state) that will delete `jit_access_rule` grants behind jit's
//! back, on the network ACL the grants are on:
//!
//! - an `aws_network_acl` with inline `ingress` or `egress` blocks (also `ingress = []`): the
//!   AWS provider makes the ACL's entries exactly those blocks, so each apply deletes jit's;
//! - an `aws_default_network_acl`: it manages every entry of a VPC's default ACL, blocks or not;
//! - an `aws_network_acl` or `aws_default_network_acl` that manages tags (`tags`, or its
//!   provider's `default_tags`) while its AWS provider's `ignore_tags { key_prefixes = […] }`
//!   does not cover `jit:`: each apply removes the grant records (`jit:grant:<id>` tags). Also
//!   any plan that shows `jit:` tags of an ACL being removed.
//!
//! A grant is on the ACL when its `network_acl_id` is the ACL's known id, or refers to the ACL
//! resource in the configuration (`aws_network_acl.admin.id`, through module variables and
//! outputs, `count` and `for_each` instances), or both name the same VPC's
//! `default_network_acl_id`. An ACL whose tags in state hold jit's records is treated as
//! holding grants even when the grants are in another configuration, so the configuration that
//! manages the ACL is warned too.
//!
//! When the plan cannot tell (an id unknown until apply, a provider configured in a way the
//! plan does not show, `ignore_tags` from a variable, a state without its configuration), the
//! finding is `low` and says what to check. A plan with grants but without any ACL resource
//! says nothing: the ACL is managed elsewhere, or not by Terraform; lint that configuration's
//! plan too.
//!
//! Security groups: jit has no security-group grants yet. Once it has, this rule will also
//! cover inline `ingress`/`egress` on `aws_security_group` and
//! `aws_vpc_security_group_rules_exclusive`, which reconcile a group's rules the same way.
//!
//! ## Why is this bad?
//! jit's promise is that every entry it opens closes again on time. An apply of the ACL's own
//! configuration that deletes the entries closes them early, which is an outage for whoever
//! was granted access, and the next apply of the grants re-creates them: the two configurations
//! fight forever. Removing the records is worse: the entry stays, but nothing says any more
//! when it ends, so neither `jitctl sweep` nor the provider expires it, and a temporary hole
//! becomes a permanent one.
//!
//! ## Example
//! ```hcl
//! resource "aws_network_acl" "admin" {
//!   vpc_id = aws_vpc.main.id
//!   ingress {
//!     rule_no    = 100
//!     action     = "allow"
//!     protocol   = "tcp"
//!     from_port  = 443
//!     to_port    = 443
//!     cidr_block = "10.0.0.0/8"
//!   }
//!   tags = { Name = "admin" }
//! }
//!
//! resource "jit_access_rule" "vpn" {
//!   network_acl_id = aws_network_acl.admin.id
//!   cidr_block     = "203.0.113.7/32"
//!   protocol       = "udp"
//!   from_port      = 500
//!   ttl            = "2h"
//! }
//! ```
//!
//! ## Fix
//! Move the ACL's own rules out of the ACL resource into `aws_network_acl_rule` resources
//! (which manage one entry each, and leave jit's alone), and do not manage a default ACL that
//! holds grants with `aws_default_network_acl`. Give the AWS provider that manages the ACL
//! ```hcl
//! provider "aws" {
//!   ignore_tags { key_prefixes = ["jit:"] }
//! }
//! ```

use crate::json::Node;
use crate::plan::{Plan, Resolved, Seg};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;
use crate::rules::scope::attr_scope;

const NACL: &str = "aws_network_acl";
const DEFAULT_NACL: &str = "aws_default_network_acl";
/// What a grant's `network_acl_id` may refer to.
const ACL_SOURCES: [&str; 3] = [NACL, DEFAULT_NACL, "aws_vpc"];
const GRANT_ACL: [Seg<'static>; 1] = [Seg::Key("network_acl_id")];
const DEFAULT_ACL_ID: [Seg<'static>; 1] = [Seg::Key("default_network_acl_id")];
/// The tag prefix of every record jit writes.
const PREFIX: &str = "jit:";
const FIX_TAGS: &str =
    "give the AWS provider that manages the ACL `ignore_tags { key_prefixes = [\"jit:\"] }`";

/// Whether a grant is on an ACL resource's network ACL.
enum Same {
    Yes,
    No,
    /// The plan cannot tell; why.
    Unknown(String),
}

/// Whether the ACL's provider leaves `jit:` tags alone.
enum Coverage {
    Covered,
    /// It does not; why (for the message).
    NotCovered(String),
    /// The plan cannot tell; what to check.
    Unknown(String),
}

pub(crate) fn check_plan(sink: &mut Sink<'_>, plan: &Plan<'_>) {
    if !sink.enabled(Rule::JitGrantErased) {
        return;
    }
    let grants: Vec<AclOf<'_>> = plan
        .of_type("jit_access_rule")
        .map(|g| AclOf::grant(plan, g))
        .collect();
    let acls: Vec<usize> = plan
        .of_type(NACL)
        .chain(plan.of_type(DEFAULT_NACL))
        .collect();
    for a in acls {
        let acl = AclOf::acl(plan, a);
        let mut on = Vec::new();
        let mut maybe = None;
        for grant in &grants {
            match same_acl(grant, a, &acl) {
                Same::Yes => on.push(grant.address),
                Same::No => {}
                Same::Unknown(why) => {
                    maybe.get_or_insert(why);
                }
            }
        }
        let records = jit_tags(plan.instances[a].before.or(plan.instances[a].values));
        let holds = if on.is_empty() {
            records.first().map(|key| {
                format!(
                    "the jit grants recorded on it (tag {key:?}{})",
                    if records.len() > 1 { " and others" } else { "" }
                )
            })
        } else {
            Some(grant_list(&on))
        };
        let check = AclCheck {
            plan,
            a,
            holds,
            maybe,
        };
        check.entries(sink);
        check.tags(sink, !records.is_empty());
    }
}

/// One ACL resource and what the plan says about the grants on it.
struct AclCheck<'p, 'n> {
    plan: &'p Plan<'n>,
    a: usize,
    /// The grants known to be on it, for messages (`None`: none known).
    holds: Option<String>,
    /// Why a grant may be on it (the first such grant), when none is known to be.
    maybe: Option<String>,
}

impl AclCheck<'_, '_> {
    fn address(&self) -> &str {
        &self.plan.instances[self.a].address
    }

    fn is_default(&self) -> bool {
        self.plan.instances[self.a].rtype == DEFAULT_NACL
    }

    /// Reports one way the resource erases grants (`harm`: "deletes the entries of"), for the
    /// grants known to be on it (high) or that may be (low).
    fn report(&self, sink: &mut Sink<'_>, attr: &'static str, what: &str, harm: &str, fix: &str) {
        let (level, message) = match (&self.holds, &self.maybe) {
            (Some(holds), _) => (
                Level::Default,
                format!(
                    "{} {what}, so each apply {harm} {holds}; {fix}",
                    self.address()
                ),
            ),
            (None, Some(why)) => (
                Level::Unchecked,
                format!(
                    "could not tell whether jit grants are on the network ACL of {addr} ({why}); \
                     if they are, {addr} {what}, so each apply {harm} those grants: check that \
                     network_acl_id is another ACL, or {fix}",
                    addr = self.address()
                ),
            ),
            (None, None) => return,
        };
        self.emit(sink, attr, level, message);
    }

    fn emit(&self, sink: &mut Sink<'_>, attr: &'static str, level: Level, message: String) {
        let path = [Seg::Key(attr)];
        let span = self.plan.attr_span(self.a, &path);
        let scope = Scope {
            anchor: None,
            ..attr_scope(self.plan, self.a, &path)
        };
        sink.report(
            &scope,
            Report {
                rule: Rule::JitGrantErased,
                level,
                span,
                statement: None,
                sid: None,
                key: attr.to_string(),
                message,
            },
        );
    }

    /// Inline `ingress`/`egress`, or a default ACL: the resource owns every entry.
    fn entries(&self, sink: &mut Sink<'_>) {
        const FIX: &str = "manage the ACL's own rules as aws_network_acl_rule resources instead";
        if self.is_default() {
            self.report(
                sink,
                "default_network_acl_id",
                "manages every entry of the VPC's default network ACL (it removes all that are \
                 not in its ingress/egress blocks)",
                "deletes the entries of",
                "do not grant on a default ACL that aws_default_network_acl manages, or stop \
                 managing it with aws_default_network_acl",
            );
            return;
        }
        let mut inline = Vec::new();
        for block in ["ingress", "egress"] {
            match self.plan.configures(self.a, block) {
                Some(true) => inline.push(block),
                Some(false) => {}
                None => {
                    // A state: whether the entries come from inline blocks is in the
                    // configuration, which a state does not hold.
                    if self.holds.is_some() && !self.plan.has_configuration() {
                        self.unknown_entries(sink);
                    }
                    return;
                }
            }
        }
        if let Some(&first) = inline.first() {
            let what = format!(
                "has inline {} blocks (the AWS provider makes the ACL's entries exactly those)",
                inline.join(" and ")
            );
            self.report(sink, first, &what, "deletes the entries of", FIX);
        }
    }

    fn unknown_entries(&self, sink: &mut Sink<'_>) {
        let Some(holds) = &self.holds else { return };
        let message = format!(
            "could not tell whether {} has inline ingress/egress blocks (a state does not show \
             its configuration); if it has, each apply deletes the entries of {holds}: check \
             its configuration, and manage the ACL's own rules as aws_network_acl_rule resources",
            self.address()
        );
        self.emit(sink, "ingress", Level::Unchecked, message);
    }

    /// `tags` (or `default_tags`) without `ignore_tags` for `jit:`, or a plan that removes them.
    fn tags(&self, sink: &mut Sink<'_>, records_in_state: bool) {
        let plan = self.plan;
        let inst = &plan.instances[self.a];
        let provider = provider_block(plan, self.a);
        let manages = match plan.configures(self.a, "tags") {
            Some(true) => Some("manages the tags of its network ACL (`tags`)".to_string()),
            Some(false) if provider.as_ref().is_some_and(|p| has_default_tags(p.1)) => {
                Some(format!(
                    "manages the tags of its network ACL (`default_tags` of provider {})",
                    provider.as_ref().map_or("aws", |p| p.0.as_str())
                ))
            }
            _ => None,
        };
        // The plan itself removes jit's records: the planned tags lack keys the state has.
        let removed: Vec<&str> = match (inst.before, inst.values) {
            // Only when the plan says what the tags become (known, possibly null).
            (Some(before), Some(after))
                if after.get("tags").is_some()
                    && inst.unknown.is_none_or(|u| u.get("tags").is_none()) =>
            {
                let kept = tag_keys(after.get("tags"));
                jit_tags(Some(before))
                    .into_iter()
                    .filter(|k| !kept.contains(k))
                    .collect()
            }
            _ => Vec::new(),
        };
        if let Some(key) = removed.first() {
            let message = format!(
                "this plan removes jit's grant records from the tags of {} ({key:?}{}), after \
                 which neither jitctl sweep nor the provider can expire those grants' entries; \
                 {FIX_TAGS}",
                self.address(),
                match removed.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                },
            );
            self.emit(sink, "tags", Level::Default, message);
            return;
        }
        let harm = "removes the records (jit:grant:… tags) of";
        let consequence = "without them, neither jitctl sweep nor the provider can expire the \
                           entries";
        match (manages, coverage(plan, provider.as_ref(), records_in_state)) {
            (_, Coverage::Covered) => {}
            (Some(manages), Coverage::NotCovered(why)) => {
                let what = format!("{manages} and {why}");
                self.report(
                    sink,
                    "tags",
                    &what,
                    harm,
                    &format!("{consequence}; {FIX_TAGS}"),
                );
            }
            (Some(manages), Coverage::Unknown(check)) => {
                if let Some(holds) = &self.holds {
                    let message = format!(
                        "could not tell whether the AWS provider of {} ignores jit's tags ({check}); \
                         it {manages}, so unless it does, each apply {harm} {holds} ({consequence}): \
                         make sure it has `ignore_tags {{ key_prefixes = [\"jit:\"] }}`",
                        self.address()
                    );
                    self.emit(sink, "tags", Level::Unchecked, message);
                }
            }
            (None, Coverage::NotCovered(_)) if records_in_state && !plan.has_configuration() => {
                let message = format!(
                    "the state holds jit's grant records in the tags of {}, so its AWS provider \
                     does not ignore `jit:` tags; if its configuration sets `tags` or \
                     `default_tags`, the next apply removes them ({consequence}): check the \
                     configuration, and {FIX_TAGS}",
                    self.address()
                );
                self.emit(sink, "tags", Level::Unchecked, message);
            }
            (None, _) => {}
        }
    }
}

/// `the grant jit_access_rule.a` / `the grants jit_access_rule.a, jit_access_rule.b`.
fn grant_list(addresses: &[&str]) -> String {
    const SHOWN: usize = 3;
    match addresses {
        [one] => format!("the grant {one}"),
        few if few.len() <= SHOWN => format!("the grants {}", few.join(", ")),
        many => format!(
            "the grants {} and {} more",
            many[..SHOWN].join(", "),
            many.len() - SHOWN
        ),
    }
}

fn tag_keys<'n>(tags: Option<&'n Node<'n>>) -> Vec<&'n str> {
    tags.and_then(Node::as_object)
        .unwrap_or(&[])
        .iter()
        .map(|m| &*m.key)
        .collect()
}

/// The `jit:` keys in a resource's known `tags`/`tags_all`.
fn jit_tags<'n>(values: Option<&'n Node<'n>>) -> Vec<&'n str> {
    let Some(values) = values else {
        return Vec::new();
    };
    let mut out: Vec<&str> = tag_keys(values.get("tags"))
        .into_iter()
        .chain(tag_keys(values.get("tags_all")))
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The network ACL id an ACL resource manages, as far as the plan knows it.
fn acl_id<'n>(plan: &Plan<'n>, a: usize) -> Option<Resolved<'n>> {
    let id = plan.attr(a, &[Seg::Key("id")]);
    if plan.instances[a].rtype == DEFAULT_NACL
        && !matches!(id, Some(Resolved::Known(_)))
        && let Some(adopted) = plan.attr(a, &DEFAULT_ACL_ID)
    {
        return Some(adopted);
    }
    id
}

/// The ACL or VPC resource an attribute's configuration refers to.
fn referenced(plan: &Plan<'_>, i: usize, path: &[Seg<'_>]) -> Option<usize> {
    plan.plain_target(i, path, &ACL_SOURCES)
        .or_else(|| plan.reference_target(i, path, &ACL_SOURCES))
}

/// What the plan says about the network ACL a grant or an ACL resource is on, read once per
/// resource so that comparing every grant with every ACL stays cheap.
struct AclOf<'n> {
    address: &'n str,
    /// The ACL (or, for a grant, the VPC) resource its configuration refers to.
    target: Option<usize>,
    /// The ACL id, as far as it is known.
    id: Option<Resolved<'n>>,
    default: bool,
}

impl<'n> AclOf<'n> {
    fn grant(plan: &'n Plan<'n>, g: usize) -> AclOf<'n> {
        AclOf {
            address: &plan.instances[g].address,
            target: referenced(plan, g, &GRANT_ACL),
            id: plan.attr(g, &GRANT_ACL),
            default: false,
        }
    }

    fn acl(plan: &'n Plan<'n>, a: usize) -> AclOf<'n> {
        let default = plan.instances[a].rtype == DEFAULT_NACL;
        AclOf {
            address: &plan.instances[a].address,
            target: default
                .then(|| referenced(plan, a, &DEFAULT_ACL_ID))
                .flatten(),
            id: acl_id(plan, a),
            default,
        }
    }
}

/// Whether grant `g` (read as `grant`) is on ACL resource `a` (read as `acl`).
fn same_acl(grant: &AclOf<'_>, a: usize, acl: &AclOf<'_>) -> Same {
    if let Some(t) = grant.target
        && (t == a || acl.target == Some(t))
    {
        return Same::Yes;
    }
    match (&grant.id, &acl.id) {
        (None, _) => Same::No,
        (Some(Resolved::Known(id)), Some(Resolved::Known(other))) => {
            if id.as_str().is_some() && id.as_str() == other.as_str() {
                Same::Yes
            } else {
                Same::No
            }
        }
        // A new aws_network_acl gets a new id, which no known id can be.
        (Some(Resolved::Known(_)), _) if !acl.default => Same::No,
        (Some(Resolved::Known(_)), Some(Resolved::Unknown(why))) => {
            Same::Unknown(format!("the ACL id of {} {why}", acl.address))
        }
        (Some(Resolved::Known(_)), None) => Same::No,
        // It refers to another ACL resource of this plan.
        (Some(Resolved::Unknown(_)), _) if grant.target.is_some() => Same::No,
        (Some(Resolved::Unknown(why)), _) => {
            Same::Unknown(format!("network_acl_id of {} {why}", grant.address))
        }
    }
}

/// The provider block that configures an ACL resource: (its key, its `provider_config` entry),
/// following module inheritance (`module.net:aws` without a block of its own uses its parent's).
/// `None` when no block is visible.
fn provider_block<'n>(plan: &Plan<'n>, a: usize) -> Option<(String, &'n Node<'n>)> {
    let configs = plan.provider_config()?;
    let inst = &plan.instances[a];
    let mut key = inst
        .config
        .and_then(|c| c.get("provider_config_key"))
        .and_then(Node::as_str)
        .unwrap_or("aws")
        .to_string();
    for _ in 0..=inst.modules.len() + 2 {
        // Terraform before 1.1 wrote `net:aws` in resources and `module.net:aws` in the map.
        let entry = configs.get(&key).or_else(|| {
            let (module, name) = key.split_once(':')?;
            (!module.starts_with("module."))
                .then(|| {
                    let full = module
                        .split('.')
                        .map(|m| format!("module.{m}"))
                        .collect::<Vec<_>>()
                        .join(".");
                    configs.get(&format!("{full}:{name}"))
                })
                .flatten()
        })?;
        if entry.get("expressions").is_some() || entry.get("module_address").is_none() {
            return Some((key, entry));
        }
        if let Some(parent) = entry.get("parent_key").and_then(Node::as_str) {
            key = parent.to_string();
            continue;
        }
        // A module's requirement without a block of its own: the parent module's provider
        // (or one the module call passes in, which the plan does not show).
        let module = entry.get("module_address").and_then(Node::as_str)?;
        let name = key.rsplit(':').next().unwrap_or("aws").to_string();
        key = match module.rfind(".module.") {
            Some(cut) => format!("{}:{name}", &module[..cut]),
            None => name,
        };
    }
    None
}

fn has_default_tags(entry: &Node<'_>) -> bool {
    entry
        .get("expressions")
        .and_then(|e| e.get("default_tags"))
        .and_then(Node::as_array)
        .is_some_and(|blocks| {
            blocks
                .iter()
                .any(|b| b.get("tags").is_some_and(|t| !t.is_null()))
        })
}

/// Whether the provider's `ignore_tags` covers every `jit:` key.
fn coverage(
    plan: &Plan<'_>,
    provider: Option<&(String, &Node<'_>)>,
    records_in_state: bool,
) -> Coverage {
    if records_in_state {
        // The AWS provider reads ignored tags out of the state: these were not ignored.
        return Coverage::NotCovered(
            "its AWS provider does not ignore `jit:` tags (the state holds jit's records)".into(),
        );
    }
    let Some((key, entry)) = provider else {
        return Coverage::Unknown(
            "the plan shows no provider \"aws\" block for it; check the provider configuration \
             that applies it"
                .into(),
        );
    };
    let blocks = entry
        .get("expressions")
        .and_then(|e| e.get("ignore_tags"))
        .and_then(Node::as_array)
        .unwrap_or(&[]);
    let mut unknown = None;
    for block in blocks {
        let Some(expr) = block.get("key_prefixes") else {
            continue;
        };
        let value = match expr.get("constant_value") {
            Some(v) => Some(v),
            None => {
                // `key_prefixes = var.x` in the root module, when the plan knows the variable.
                let refs: Vec<&str> = expr
                    .get("references")
                    .and_then(Node::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Node::as_str)
                    .collect();
                match (refs.as_slice(), key.contains(':')) {
                    ([var], false) => var.strip_prefix("var.").and_then(|v| plan.root_variable(v)),
                    _ => None,
                }
            }
        };
        match value.and_then(Node::as_array) {
            Some(prefixes) => {
                if prefixes
                    .iter()
                    .filter_map(Node::as_str)
                    .any(|p| PREFIX.starts_with(p))
                {
                    return Coverage::Covered;
                }
            }
            None => {
                unknown = Some(format!(
                    "ignore_tags.key_prefixes of provider {key} is not known at plan time; check \
                     that it contains \"jit:\""
                ));
            }
        }
    }
    match unknown {
        Some(check) => Coverage::Unknown(check),
        None if blocks.is_empty() => {
            Coverage::NotCovered(format!("its provider ({key}) has no `ignore_tags`"))
        }
        None => Coverage::NotCovered(format!(
            "the `ignore_tags` of its provider ({key}) do not cover the prefix \"jit:\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, LintOptions, Origin, lint_text};

    /// A plan with one existing ACL that manages tags, in module `net`, configured by the
    /// resource's `provider_config_key`, the given `provider_config` and a grant on it.
    fn plan(key: &str, providers: &str) -> String {
        format!(
            r#"{{"format_version":"1.2",
            "resource_changes":[
              {{"address":"module.net.aws_network_acl.a","module_address":"module.net","mode":"managed","type":"aws_network_acl","name":"a",
                "change":{{"actions":["no-op"],"after":{{"id":"acl-1","tags":{{"Name":"a"}}}},"after_unknown":{{}}}}}},
              {{"address":"jit_access_rule.g","mode":"managed","type":"jit_access_rule","name":"g",
                "change":{{"actions":["create"],"after":{{"network_acl_id":"acl-1"}},"after_unknown":{{}}}}}}],
            "configuration":{{"provider_config":{providers},"root_module":{{"module_calls":{{"net":{{"module":{{"resources":[
              {{"address":"aws_network_acl.a","mode":"managed","type":"aws_network_acl","name":"a","provider_config_key":"{key}",
                "expressions":{{"tags":{{"constant_value":{{"Name":"a"}}}}}}}}]}}}}}}}}}}}}"#
        )
    }

    fn severities(text: &str) -> Vec<String> {
        let report = lint_text(
            "p.json",
            text,
            Origin::Explicit,
            &Config::default(),
            LintOptions::default(),
        );
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule.code(), f.severity))
            .collect()
    }

    fn root(prefixes: &str) -> String {
        format!(
            r#"{{"aws":{{"name":"aws","expressions":{{"ignore_tags":[{{"key_prefixes":{{"constant_value":{prefixes}}}}}]}}}}}}"#
        )
    }

    #[test]
    fn a_prefix_covers_jit_only_if_every_jit_key_starts_with_it() {
        for covering in [r#"["jit:"]"#, r#"["jit"]"#, r#"["x", "j"]"#] {
            assert!(
                severities(&plan("aws", &root(covering))).is_empty(),
                "{covering}"
            );
        }
        for not_covering in [r#"["jit:grant:"]"#, r#"["JIT:"]"#, r#"[]"#] {
            assert_eq!(
                severities(&plan("aws", &root(not_covering))),
                ["JIT013 high"],
                "{not_covering}"
            );
        }
    }

    /// Terraform before 1.1 keys a module's resources `net:aws` and the map `module.net:aws`;
    /// later versions write `parent_key`. A module's entry without a block of its own inherits
    /// the root's.
    #[test]
    fn module_providers_are_followed_in_every_key_format() {
        let inherited = r#""module.net:aws":{"name":"aws","module_address":"module.net"}"#;
        let covered = root(r#"["jit:"]"#);
        let root_entry = &covered[1..covered.len() - 1];
        for key in ["net:aws", "module.net:aws"] {
            let providers = format!("{{{root_entry},{inherited}}}");
            assert!(severities(&plan(key, &providers)).is_empty(), "{key}");
        }
        let with_parent = format!(
            r#"{{{root_entry},"module.net:aws":{{"name":"aws","module_address":"module.net","parent_key":"aws"}}}}"#
        );
        assert!(severities(&plan("module.net:aws", &with_parent)).is_empty());
        // The module's own provider block, without ignore_tags, is the one that applies.
        let own = format!(
            r#"{{{root_entry},"module.net:aws":{{"name":"aws","module_address":"module.net","expressions":{{}}}}}}"#
        );
        assert_eq!(severities(&plan("module.net:aws", &own)), ["JIT013 high"]);
        // No block at all: cannot tell.
        assert_eq!(severities(&plan("aws", "{}")), ["JIT013 low"]);
    }
}
