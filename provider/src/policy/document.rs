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

use super::cidrs::{AddrSet, overlaps};
use crate::clock::{format_rfc3339, parse_rfc3339};

pub const POLICY_LANGUAGE_VERSION: &str = "2012-10-17";
/// Sid of the statement that denies everything outside the allowlist.
pub const FENCE_SID: &str = "DenyOutsideAllowlist";
/// Sid prefix of the statements that close temporary ranges (`ExpireAt20261124T080000Z`).
pub const EXPIRY_SID_PREFIX: &str = "ExpireAt";
/// IAM's limit for a customer managed policy, in characters without whitespace.
pub const MANAGED_POLICY_SIZE_LIMIT: usize = 6_144;

/// The allowlist's one expiry rule: AWS denies a temporary range once `aws:CurrentTime` is
/// greater than its expiry (`DateGreaterThan`), so the range has lapsed only *after*
/// `expires_at`, and admits at that instant. A network-ACL grant ends *at* its `expires_at`
/// ([`crate::grant::lifecycle::has_ended`]): its end is jit's own removal, not an AWS condition.
pub fn has_lapsed(expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    now > expires_at
}

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
                .any(|t| t.cidr.contains(&host) && !has_lapsed(t.expires_at, at))
    }

    /// Removes the temporary ranges AWS already denies at `now` (past their expiry) and returns
    /// them.
    pub fn prune(&mut self, now: OffsetDateTime) -> Vec<Temporary> {
        let (expired, live) = self
            .temporary
            .drain(..)
            .partition(|t: &Temporary| has_lapsed(t.expires_at, now));
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
        let mut cover = AddrSet::new(&self.allowed);
        let mut kept = Vec::new();
        for t in order {
            if !cover.covers(&t.cidr) {
                cover.insert(&t.cidr);
                kept.push(t.clone());
            }
        }
        kept.sort_by_key(|t| t.cidr);
        kept
    }

    /// The policy document, as compact JSON (IAM counts characters without whitespace).
    ///
    /// Near-linear in the number of ranges: the expiry statements are built from the latest
    /// expiry down, with one growing [`AddrSet`] of what outlives the current expiry (the
    /// permanent ranges and the later temporary ones), so each range is inserted once and each
    /// statement's ranges are cut against the set in a logarithmic lookup each.
    pub fn render(&self) -> String {
        let temporary = self.effective_temporary();
        let mut seen = std::collections::HashSet::new();
        let fence: Vec<IpNet> = self
            .allowed
            .iter()
            .chain(temporary.iter().map(|t| &t.cidr))
            .filter(|net| seen.insert(**net))
            .copied()
            .collect();
        let mut groups: BTreeMap<OffsetDateTime, Vec<IpNet>> = BTreeMap::new();
        for t in &temporary {
            groups.entry(t.expires_at).or_default().push(t.cidr);
        }
        let mut outlives = AddrSet::new(&self.allowed);
        let mut closing = Vec::new();
        for (expiry, members) in groups.iter().rev() {
            let pieces: Vec<IpNet> = members.iter().flat_map(|m| outlives.uncovered(m)).collect();
            let denied = IpNet::aggregate(&pieces);
            for m in members {
                outlives.insert(m);
            }
            // Never empty for kept ranges (see `effective_temporary`); guard anyway, since
            // IAM refuses an empty condition list.
            if denied.is_empty() {
                continue;
            }
            closing.push(self.statement(
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
        let mut statements = vec![self.statement(
            FENCE_SID.to_string(),
            [("NotIpAddress", ip_condition(&fence))],
        )];
        statements.extend(closing.into_iter().rev());
        json!({"Version": POLICY_LANGUAGE_VERSION, "Statement": statements}).to_string()
    }

    /// A lower bound on `policy_size(&self.render())`, without the set algebra: the fence lists
    /// blocks whose union is that of every permanent and temporary range, so it has at least as
    /// many entries as the aggregate of that union (sorting, `O(n log n)`), and each entry is at
    /// least as long as the shortest CIDR text of its family (`0.0.0.0/0`, `::/0`) plus its
    /// quotes and comma. Lets an allowlist that cannot fit be refused before it is rendered.
    pub fn min_size(&self) -> usize {
        let bare = Spec {
            allowed: Vec::new(),
            temporary: Vec::new(),
            ..self.clone()
        };
        let mut all = self.allowed.clone();
        all.extend(self.temporary.iter().map(|t| t.cidr));
        let blocks = IpNet::aggregate(&all);
        let texts: usize = blocks
            .iter()
            .map(|b| match b {
                IpNet::V4(_) => "0.0.0.0/0".len() + 2,
                IpNet::V6(_) => "::/0".len() + 2,
            })
            .sum();
        policy_size(&bare.render()) + texts + blocks.len().saturating_sub(1)
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

/// Whether `spec` renders within `limit`: first by [`Spec::min_size`], which refuses an
/// allowlist far too large without rendering it, then by rendering.
pub fn fits(spec: &Spec, limit: usize) -> bool {
    spec.min_size() <= limit && policy_size(&spec.render()) <= limit
}

/// Whether the rendered document fits, and if not, how many entries to remove.
///
/// Entries are ordered by what they cost (the length of their CIDR text, which the document
/// repeats), dearest first, and the smallest count of them whose removal makes the document fit
/// is found by bisection; each probe is checked with [`fits`], so a probe that keeps thousands of
/// entries is refused by the lower bound without being rendered. The count returned always fits
/// (removing every entry of the kind does, or the other kind is blamed), so the advice is never
/// short; it is the smallest one when entries cost alike.
pub fn fit(spec: &Spec, limit: usize) -> Fit {
    if fits(spec, limit) {
        return Fit::Fits;
    }
    let without_temporary = Spec {
        temporary: Vec::new(),
        ..spec.clone()
    };
    if fits(&without_temporary, limit) {
        let order = dearest_first(spec.temporary.iter().map(|t| t.cidr));
        return Fit::DropTemporary(drop_count(order.len(), limit, |k| Spec {
            temporary: keep(&spec.temporary, &order[..k]),
            ..spec.clone()
        }));
    }
    let order = dearest_first(without_temporary.allowed.iter().copied());
    Fit::DropAllowed(drop_count(order.len(), limit, |k| Spec {
        allowed: keep(&without_temporary.allowed, &order[..k]),
        ..without_temporary.clone()
    }))
}

/// Indexes of `nets`, longest text first (ties in input order).
fn dearest_first(nets: impl Iterator<Item = IpNet>) -> Vec<usize> {
    let mut order: Vec<(usize, usize)> = nets.map(|n| n.to_string().len()).enumerate().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    order.into_iter().map(|(i, _)| i).collect()
}

/// `items` without the ones at `dropped`, in order.
fn keep<T: Clone>(items: &[T], dropped: &[usize]) -> Vec<T> {
    let dropped: std::collections::HashSet<usize> = dropped.iter().copied().collect();
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, t)| t.clone())
        .collect()
}

/// The smallest `k` in `1..=n` for which `without(k)` (the spec minus the `k` dearest entries)
/// fits, by bisection; `n` is known to fit.
fn drop_count(n: usize, limit: usize, without: impl Fn(usize) -> Spec) -> usize {
    let (mut lo, mut hi) = (0, n); // `lo` does not fit, `hi` does
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(&without(mid), limit) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
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

    /// A pseudo-random number below `bound` (a fixed LCG, so failures reproduce).
    fn next(seed: &mut u64, bound: u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 33) % bound
    }

    /// A CIDR from a small space, so that random ones nest, touch and repeat.
    fn random_cidr(seed: &mut u64) -> String {
        match next(seed, 4) {
            0 => format!("10.0.{}.0/{}", 4 * next(seed, 4), 22 + next(seed, 3)),
            1 => format!("10.0.{}.{}/32", next(seed, 4), next(seed, 256)),
            2 => format!("2001:db8:{:x}::/{}", next(seed, 8), 48 + 16 * next(seed, 2)),
            _ => format!("198.51.100.{}/32", next(seed, 256)),
        }
    }

    #[test]
    fn the_size_bound_never_exceeds_the_size() {
        let mut seed: u64 = 0x5eed;
        for round in 0..300 {
            let n_allowed = next(&mut seed, 4);
            let mut allowed: Vec<String> = (0..n_allowed).map(|_| random_cidr(&mut seed)).collect();
            allowed.sort();
            allowed.dedup();
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            let n_temporary = next(&mut seed, 40);
            let temporary: Vec<Temporary> = (0..n_temporary)
                .map(|_| {
                    let c = random_cidr(&mut seed);
                    let at = format!("2026-11-24T{:02}:00:00Z", 8 + next(&mut seed, 4));
                    tmp(&c, &at)
                })
                .collect();
            let s = spec(&allowed, temporary);
            let size = policy_size(&s.render());
            assert!(
                s.min_size() <= size,
                "round {round}: {} > {size}",
                s.min_size()
            );
        }
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
