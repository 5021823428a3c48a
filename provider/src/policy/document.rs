//! What a `jit_source_ip_policy` document says, how it is written, and how it is read back.
//!
//! A [`Spec`] is the allowlist: permanent ranges, temporary ranges with their expiry, the
//! actions to deny and whether AWS services acting for the user are exempt. [`Spec::render`]
//! writes it as an IAM policy whose temporary entries expire inside AWS:
//!
//! - `DenyOutsideAllowlist` denies the actions unless `aws:SourceIp` is in the permanent ranges
//!   or any temporary one (`NotIpAddress`).
//! - For each expiry instant `e`, `ExpireAt<e>` denies, once `aws:CurrentTime` is past `e`
//!   (`DateGreaterThan`), the ranges expiring at `e` minus the permanent ranges and minus the
//!   temporary ranges that expire later: exactly the addresses that nothing admits after `e`.
//!
//! Temporary ranges that add nothing (inside a permanent range, or inside ranges that expire no
//! earlier) are left out, so every temporary range in the fence is cut by its own `ExpireAt`
//! statement. That makes the document self-describing: [`Spec::decode`] recovers the allowlist
//! from it (a range is temporary iff an `ExpireAt` statement overlaps it, and its expiry is the
//! earliest such statement), which is how `jitctl` prunes and revokes entries without Terraform.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::cidrs::{covered, difference, overlaps};
use crate::clock::{format_rfc3339, parse_rfc3339};

pub const POLICY_LANGUAGE_VERSION: &str = "2012-10-17";
/// Sid of the statement that denies everything outside the allowlist.
pub const FENCE_SID: &str = "DenyOutsideAllowlist";
/// Sid prefix of the statements that close temporary ranges (`ExpireAt20261124T080000Z`).
pub const EXPIRY_SID_PREFIX: &str = "ExpireAt";
/// IAM's limit for a customer managed policy, in characters without whitespace.
pub const MANAGED_POLICY_SIZE_LIMIT: usize = 6_144;

/// A temporary range and the instant after which AWS denies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Temporary {
    pub cidr: IpNet,
    pub expires_at: OffsetDateTime,
}

/// An allowlist, as rendered into one policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Permanent ranges, in the user's order.
    pub allowed: Vec<IpNet>,
    pub temporary: Vec<Temporary>,
    /// IAM actions (with wildcards) denied outside the allowlist.
    pub deny_actions: Vec<String>,
    /// Adds `"Bool": {"aws:ViaAWSService": "false"}` to every statement.
    pub exempt_aws_services: bool,
}

/// Why a document is not one that jit renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl Spec {
    /// Whether the allowlist admits `ip` at `at`: the meaning every rendering must have.
    /// AWS compares with `DateGreaterThan`, so a range still admits at its expiry instant.
    pub fn admits(&self, ip: IpAddr, at: OffsetDateTime) -> bool {
        let host = IpNet::from(ip);
        self.allowed.iter().any(|n| n.contains(&host))
            || self
                .temporary
                .iter()
                .any(|t| t.cidr.contains(&host) && at <= t.expires_at)
    }

    /// Removes the temporary ranges AWS already denies at `now` (past their expiry) and returns
    /// them.
    pub fn prune(&mut self, now: OffsetDateTime) -> Vec<Temporary> {
        let (expired, live) = self
            .temporary
            .drain(..)
            .partition(|t: &Temporary| now > t.expires_at);
        self.temporary = live;
        expired
    }

    /// The temporary ranges that make a difference, ordered by address. Processed from the
    /// latest expiry down (wider first on ties), a range is kept unless the permanent ranges
    /// and the ranges kept so far already cover it: those admit it at least as long.
    pub fn effective_temporary(&self) -> Vec<Temporary> {
        let mut order: Vec<&Temporary> = self.temporary.iter().collect();
        order.sort_by(|a, b| {
            b.expires_at
                .cmp(&a.expires_at)
                .then(a.cidr.prefix_len().cmp(&b.cidr.prefix_len()))
                .then(a.cidr.cmp(&b.cidr))
        });
        let mut cover = self.allowed.clone();
        let mut kept = Vec::new();
        for t in order {
            if !covered(&t.cidr, &cover) {
                cover.push(t.cidr);
                kept.push(t.clone());
            }
        }
        kept.sort_by_key(|t| t.cidr);
        kept
    }

    /// The policy document, as compact JSON (IAM counts characters without whitespace).
    pub fn render(&self) -> String {
        let temporary = self.effective_temporary();
        let mut fence: Vec<IpNet> = Vec::new();
        for net in self.allowed.iter().chain(temporary.iter().map(|t| &t.cidr)) {
            if !fence.contains(net) {
                fence.push(*net);
            }
        }
        let mut statements = vec![self.statement(
            FENCE_SID.to_string(),
            [("NotIpAddress", ip_condition(&fence))],
        )];
        let mut groups: BTreeMap<OffsetDateTime, Vec<IpNet>> = BTreeMap::new();
        for t in &temporary {
            groups.entry(t.expires_at).or_default().push(t.cidr);
        }
        for (expiry, members) in &groups {
            let mut holes = self.allowed.clone();
            holes.extend(
                temporary
                    .iter()
                    .filter(|t| t.expires_at > *expiry)
                    .map(|t| t.cidr),
            );
            let denied = difference(members, &holes);
            // Never empty for kept ranges (see `effective_temporary`); guard anyway, since
            // IAM refuses an empty condition list.
            if denied.is_empty() {
                continue;
            }
            statements.push(self.statement(
                format!("{EXPIRY_SID_PREFIX}{}", sid_stamp(*expiry)),
                [
                    (
                        "DateGreaterThan",
                        json!({"aws:CurrentTime": format_rfc3339(*expiry)}),
                    ),
                    ("IpAddress", ip_condition(&denied)),
                ],
            ));
        }
        json!({"Version": POLICY_LANGUAGE_VERSION, "Statement": statements}).to_string()
    }

    fn statement<const N: usize>(&self, sid: String, conditions: [(&str, Value); N]) -> Value {
        let mut condition = Map::new();
        for (operator, block) in conditions {
            condition.insert(operator.to_string(), block);
        }
        if self.exempt_aws_services {
            condition.insert("Bool".into(), json!({"aws:ViaAWSService": "false"}));
        }
        json!({
            "Sid": sid,
            "Effect": "Deny",
            "Action": self.deny_actions,
            "Resource": "*",
            "Condition": condition,
        })
    }

    /// Recovers the allowlist from a document jit rendered. Anything else (another shape, or a
    /// jit document edited by hand) is refused rather than guessed at, because the result is
    /// written back to AWS.
    pub fn decode(text: &str) -> Result<Spec, DecodeError> {
        let err = |m: String| DecodeError(m);
        let doc: Value =
            serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let statements: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return Err(err("it has no Statement list".into())),
        };
        let mut fence = None;
        let mut expiries: Vec<(OffsetDateTime, Vec<IpNet>)> = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            let sid = s.get("Sid").and_then(Value::as_str).unwrap_or_default();
            let condition = s.get("Condition");
            if sid == FENCE_SID {
                let actions = strings(s.get("Action"))
                    .ok_or_else(|| err(format!("statement {i} ({sid}) has no Action list")))?;
                let nets = ip_list(condition, "NotIpAddress")
                    .map_err(|m| err(format!("statement {i} ({sid}): {m}")))?;
                let exempt = condition
                    .and_then(|c| c.get("Bool"))
                    .and_then(|b| b.get("aws:ViaAWSService"))
                    .is_some_and(|v| v == "false");
                fence = Some((actions, nets, exempt));
            } else if sid.starts_with(EXPIRY_SID_PREFIX) {
                let at = condition
                    .and_then(|c| c.get("DateGreaterThan"))
                    .and_then(|d| d.get("aws:CurrentTime"))
                    .and_then(Value::as_str)
                    .and_then(|t| parse_rfc3339(t).ok())
                    .ok_or_else(|| {
                        err(format!(
                            "statement {i} ({sid}) has no DateGreaterThan aws:CurrentTime"
                        ))
                    })?;
                let nets = ip_list(condition, "IpAddress")
                    .map_err(|m| err(format!("statement {i} ({sid}): {m}")))?;
                expiries.push((at, nets));
            } else {
                return Err(err(format!(
                    "statement {i} (Sid {sid:?}) is not one jit renders"
                )));
            }
        }
        let (deny_actions, nets, exempt_aws_services) =
            fence.ok_or_else(|| err(format!("it has no {FENCE_SID} statement")))?;
        let mut spec = Spec {
            allowed: Vec::new(),
            temporary: Vec::new(),
            deny_actions,
            exempt_aws_services,
        };
        for net in nets {
            let closing = expiries
                .iter()
                .filter(|(_, denied)| denied.iter().any(|d| overlaps(d, &net)))
                .map(|(at, _)| *at)
                .min();
            match closing {
                Some(expires_at) => spec.temporary.push(Temporary {
                    cidr: net,
                    expires_at,
                }),
                None => spec.allowed.push(net),
            }
        }
        if !same_document(&spec.render(), text) {
            return Err(err(
                "it differs from what jit renders for the allowlist it describes (edited by hand?)"
                    .into(),
            ));
        }
        Ok(spec)
    }
}

/// `20261124T080000Z`: an expiry as Sids allow it (alphanumerics only).
fn sid_stamp(t: OffsetDateTime) -> String {
    format_rfc3339(t).replace(['-', ':'], "")
}

fn ip_condition(nets: &[IpNet]) -> Value {
    let list: Vec<String> = nets.iter().map(ToString::to_string).collect();
    json!({ "aws:SourceIp": list })
}

/// A string or a list of strings.
fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn ip_list(condition: Option<&Value>, operator: &str) -> Result<Vec<IpNet>, String> {
    let values = strings(
        condition
            .and_then(|c| c.get(operator))
            .and_then(|o| o.get("aws:SourceIp")),
    )
    .ok_or_else(|| format!("no {operator} aws:SourceIp list"))?;
    values
        .iter()
        .map(|v| jitlint::cidr::parse_ip_or_cidr(v).map_err(|e| e.to_string()))
        .collect()
}

/// Whether two policy documents mean the same, ignoring whitespace, key order, the order of
/// statements and of values in lists, and `"x"` versus `["x"]`. Text that is not JSON is
/// compared as is.
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => canonical(&x) == canonical(&y),
        _ => a == b,
    }
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_cached_key(Value::to_string);
            items.dedup();
            if items.len() == 1 {
                items.pop().expect("one item")
            } else {
                Value::Array(items)
            }
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        other => other.clone(),
    }
}

/// Characters without whitespace, as IAM measures a policy.
pub fn policy_size(text: &str) -> usize {
    jitlint::count_non_whitespace(text)
}

/// How to bring an oversized allowlist under `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Fits,
    /// Removing this many temporary ranges is enough.
    DropTemporary(usize),
    /// Even without temporary ranges it is too large: remove this many permanent ones.
    DropAllowed(usize),
}

/// Whether the rendered document fits, and if not, how many entries to remove. Entries are
/// removed greedily, the one saving the most characters first, and the result is re-rendered
/// to confirm the count.
pub fn fit(spec: &Spec, limit: usize) -> Fit {
    if policy_size(&spec.render()) <= limit {
        return Fit::Fits;
    }
    let mut without_temporary = spec.clone();
    without_temporary.temporary.clear();
    if policy_size(&without_temporary.render()) <= limit {
        let n = spec.temporary.len();
        return Fit::DropTemporary(drop_count(n, limit, |keep| Spec {
            temporary: keep.iter().map(|&i| spec.temporary[i].clone()).collect(),
            ..spec.clone()
        }));
    }
    let n = without_temporary.allowed.len();
    Fit::DropAllowed(drop_count(n, limit, |keep| Spec {
        allowed: keep.iter().map(|&i| without_temporary.allowed[i]).collect(),
        ..without_temporary.clone()
    }))
}

fn drop_count(n: usize, limit: usize, build: impl Fn(&[usize]) -> Spec) -> usize {
    let all: Vec<usize> = (0..n).collect();
    let full = policy_size(&build(&all).render());
    let mut savings: Vec<(usize, usize)> = (0..n)
        .map(|i| {
            let keep: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
            (full.saturating_sub(policy_size(&build(&keep).render())), i)
        })
        .collect();
    savings.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut keep = all;
    for (dropped, (_, i)) in savings.iter().enumerate() {
        if policy_size(&build(&keep).render()) <= limit {
            return dropped;
        }
        keep.retain(|j| j != i);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::{spec, t, tmp};

    #[test]
    fn renders_the_fence_and_one_expiry_statement() {
        let s = spec(
            &["198.51.100.0/24"],
            vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")],
        );
        let doc: Value = serde_json::from_str(&s.render()).unwrap();
        assert_eq!(
            doc,
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyOutsideAllowlist",
                        "Effect": "Deny",
                        "Action": ["*"],
                        "Resource": "*",
                        "Condition": {
                            "NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24", "203.0.113.7/32"]},
                            "Bool": {"aws:ViaAWSService": "false"}
                        }
                    },
                    {
                        "Sid": "ExpireAt20261124T080000Z",
                        "Effect": "Deny",
                        "Action": ["*"],
                        "Resource": "*",
                        "Condition": {
                            "DateGreaterThan": {"aws:CurrentTime": "2026-11-24T08:00:00Z"},
                            "IpAddress": {"aws:SourceIp": ["203.0.113.7/32"]},
                            "Bool": {"aws:ViaAWSService": "false"}
                        }
                    }
                ]
            })
        );
        assert!(!s.render().contains(char::is_whitespace));
    }

    #[test]
    fn without_exemption_there_is_no_bool_condition() {
        let mut s = spec(&["198.51.100.0/24"], vec![]);
        s.exempt_aws_services = false;
        assert!(!s.render().contains("aws:ViaAWSService"));
    }

    #[test]
    fn a_range_inside_a_permanent_one_adds_nothing() {
        let s = spec(
            &["203.0.113.0/24"],
            vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")],
        );
        assert!(s.effective_temporary().is_empty());
        assert_eq!(s.render(), spec(&["203.0.113.0/24"], vec![]).render());
    }

    #[test]
    fn a_range_expires_minus_what_outlives_it() {
        // A /24 until 10:00 and one of its hosts until 12:00: the 10:00 statement must spare
        // the host, which its own statement closes at 12:00.
        let s = spec(
            &["198.51.100.0/24"],
            vec![
                tmp("203.0.113.0/24", "2026-11-24T10:00:00Z"),
                tmp("203.0.113.7/32", "2026-11-24T12:00:00Z"),
            ],
        );
        let doc: Value = serde_json::from_str(&s.render()).unwrap();
        let stmts = doc["Statement"].as_array().unwrap();
        assert_eq!(stmts.len(), 3);
        assert_eq!(stmts[1]["Sid"], "ExpireAt20261124T100000Z");
        let first = stmts[1]["Condition"]["IpAddress"]["aws:SourceIp"]
            .as_array()
            .unwrap();
        assert_eq!(first.len(), 8, "the /24 minus one host is eight blocks");
        assert!(!first.contains(&json!("203.0.113.7/32")));
        assert_eq!(
            stmts[2]["Condition"]["IpAddress"]["aws:SourceIp"],
            json!(["203.0.113.7/32"])
        );
    }

    #[test]
    fn a_range_inside_a_longer_lived_one_adds_nothing() {
        let s = spec(
            &["198.51.100.0/24"],
            vec![
                tmp("203.0.113.0/24", "2026-11-24T12:00:00Z"),
                tmp("203.0.113.7/32", "2026-11-24T10:00:00Z"),
            ],
        );
        assert_eq!(
            s.effective_temporary(),
            [tmp("203.0.113.0/24", "2026-11-24T12:00:00Z")]
        );
    }

    #[test]
    fn ranges_expiring_together_share_a_statement() {
        let s = spec(
            &["198.51.100.0/24"],
            vec![
                tmp("203.0.113.7/32", "2026-11-24T08:00:00Z"),
                tmp("2001:db8::/64", "2026-11-24T08:00:00Z"),
            ],
        );
        let doc: Value = serde_json::from_str(&s.render()).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(
            doc["Statement"][1]["Condition"]["IpAddress"]["aws:SourceIp"],
            json!(["203.0.113.7/32", "2001:db8::/64"])
        );
    }

    #[test]
    fn decode_recovers_what_render_wrote() {
        let s = spec(
            &["198.51.100.0/24", "2001:db8:1::/48"],
            vec![
                tmp("203.0.113.0/24", "2026-11-24T10:00:00Z"),
                tmp("203.0.113.7/32", "2026-11-24T12:00:00Z"),
                tmp("192.0.2.8/29", "2026-11-24T10:00:00Z"),
                tmp("2001:db8:2::/64", "2026-11-25T00:00:00Z"),
            ],
        );
        let text = s.render();
        let back = Spec::decode(&text).unwrap();
        assert_eq!(back.allowed, s.allowed);
        assert_eq!(back.temporary, s.effective_temporary());
        assert_eq!(back.render(), text);
    }

    #[test]
    fn decode_refuses_other_documents_and_hand_edits() {
        let seed = r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["123.123.123.123/32"]}}}]}"#;
        assert!(
            Spec::decode(seed)
                .unwrap_err()
                .0
                .contains("not one jit renders")
        );
        let text = spec(
            &["198.51.100.0/24"],
            vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")],
        )
        .render();
        let edited = text.replace(
            "\"IpAddress\":{\"aws:SourceIp\":[\"203.0.113.7/32\"]}",
            "\"IpAddress\":{\"aws:SourceIp\":[\"203.0.113.0/24\"]}",
        );
        assert_ne!(edited, text);
        assert!(Spec::decode(&edited).unwrap_err().0.contains("by hand"));
    }

    #[test]
    fn pruning_the_document_equals_rendering_the_pruned_allowlist() {
        let s = spec(
            &["198.51.100.0/24"],
            vec![
                tmp("203.0.113.0/24", "2026-11-24T10:00:00Z"),
                tmp("203.0.113.7/32", "2026-11-24T12:00:00Z"),
                tmp("192.0.2.0/28", "2026-11-24T11:00:00Z"),
            ],
        );
        let now = t("2026-11-24T11:30:00Z");
        let mut decoded = Spec::decode(&s.render()).unwrap();
        let gone = decoded.prune(now);
        assert_eq!(gone.len(), 2);
        let mut pruned = s.clone();
        pruned.prune(now);
        assert_eq!(decoded.render(), pruned.render());
    }

    #[test]
    fn prune_uses_aws_semantics_at_the_boundary() {
        let mut s = spec(&[], vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")]);
        assert!(s.prune(t("2026-11-24T08:00:00Z")).is_empty());
        assert_eq!(s.prune(t("2026-11-24T08:00:01Z")).len(), 1);
    }

    #[test]
    fn same_document_ignores_layout_and_order_but_not_content() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["1.2.3.4/32","5.6.7.0/24"]}}}]}"#;
        let b = r#"{
            "Statement": {"Condition": {"NotIpAddress": {"aws:SourceIp": ["5.6.7.0/24", "1.2.3.4/32"]}},
                          "Resource": ["*"], "Action": "*", "Effect": "Deny"},
            "Version": "2012-10-17"
        }"#;
        assert!(same_document(a, b));
        assert!(!same_document(a, &a.replace("5.6.7.0/24", "5.6.8.0/24")));
    }

    #[test]
    fn fit_says_how_many_entries_to_drop() {
        // Scattered hosts of equal length, so that neither list aggregates and every entry
        // costs the same.
        let n = 250;
        let hosts: Vec<Temporary> = (0..n)
            .map(|i| {
                tmp(
                    &format!("10.{}.{}.7/32", 100 + i / 100, 100 + i % 100),
                    "2026-11-24T08:00:00Z",
                )
            })
            .collect();
        let s = spec(&["198.51.100.0/24"], hosts);
        let Fit::DropTemporary(k) = fit(&s, MANAGED_POLICY_SIZE_LIMIT) else {
            panic!(
                "expected DropTemporary, got {:?}",
                fit(&s, MANAGED_POLICY_SIZE_LIMIT)
            );
        };
        assert!(k > 0 && k < n);
        let mut fewer = s.clone();
        fewer.temporary.truncate(n - k);
        assert!(policy_size(&fewer.render()) <= MANAGED_POLICY_SIZE_LIMIT);
        let mut one_more = s.clone();
        one_more.temporary.truncate(n - k + 1);
        assert!(policy_size(&one_more.render()) > MANAGED_POLICY_SIZE_LIMIT);
        assert_eq!(fit(&fewer, MANAGED_POLICY_SIZE_LIMIT), Fit::Fits);
    }

    #[test]
    fn fit_falls_back_to_permanent_ranges() {
        let allowed: Vec<String> = (0..600)
            .map(|i| format!("10.{}.{}.0/24", i / 250, i % 250))
            .collect();
        let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let s = spec(&refs, vec![tmp("203.0.113.7/32", "2026-11-24T08:00:00Z")]);
        assert!(matches!(fit(&s, MANAGED_POLICY_SIZE_LIMIT), Fit::DropAllowed(k) if k > 0));
    }
}
