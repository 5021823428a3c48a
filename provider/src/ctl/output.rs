//! `jitctl`'s two output formats: an aligned table for people and JSON for scripts. Both are
//! built as strings, so the formats are tested without running a command.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Inventory;
use super::acl::{Outcome, Revoked, Row, State, SweepResult};
use super::client_vpn::{Row as ClientVpnRow, State as ClientVpnState};
use super::policy::{PolicyRow, PolicyState};
use crate::clock::format_rfc3339;
use crate::duration::Ttl;
use crate::grant::client_vpn::Identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// Time left as a short duration (`1h59m`); negative when past (`-5m`).
pub fn format_left(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    // Minutes are precise enough for anything longer than an hour.
    let abs = seconds.unsigned_abs() as i64;
    let shown = if abs >= 3600 { abs - abs % 60 } else { abs };
    format!("{sign}{}", Ttl(shown))
}

/// Columns padded to their widest cell; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut s = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn or_dash(s: Option<String>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into())
}

/// The fields a row shows: from the grant's tag, or for an untagged entry from the entry.
struct Shown {
    cidr: Option<String>,
    protocol: Option<String>,
    ports: Option<(u16, u16)>,
    action: Option<&'static str>,
}

fn shown(row: &Row) -> Shown {
    if let Some(g) = row.grant() {
        return Shown {
            cidr: Some(g.entry.cidr.to_string()),
            protocol: Some(g.entry.protocol.to_string()),
            ports: g.entry.ports.map(|p| (p.from, p.to)),
            action: Some(g.entry.action.as_str()),
        };
    }
    match &row.entry {
        Some(e) => Shown {
            cidr: e.cidr.map(|c| c.to_string()),
            protocol: Some(e.protocol.to_string()),
            ports: e.ports.map(|p| (p.from, p.to)),
            action: Some(e.action.as_str()),
        },
        None => Shown {
            cidr: None,
            protocol: None,
            ports: None,
            action: None,
        },
    }
}

fn row_json(row: &Row, now: OffsetDateTime) -> Value {
    let s = shown(row);
    let g = row.grant();
    json!({
        "kind": "network_acl",
        "region": row.region,
        "id": row.id,
        "grant_id": row.grant_id().map(|g| g.as_str()),
        "state": row.state.as_str(),
        "network_acl_id": row.acl_id,
        "vpc_id": row.vpc_id,
        "direction": row.slot.map(|(d, _)| d.as_str()),
        "rule_number": row.slot.map(|(_, n)| n),
        "cidr": s.cidr,
        "protocol": s.protocol,
        "from_port": s.ports.map(|p| p.0),
        "to_port": s.ports.map(|p| p.1),
        "action": s.action,
        "requested_by": g.and_then(|g| g.requested_by.clone()),
        "reason": g.and_then(|g| g.reason.clone()),
        "ttl": g.map(|g| g.ttl.clone()),
        "created_at": g.map(|g| format_rfc3339(g.created_at)),
        "expires_at": g.map(|g| format_rfc3339(g.expires_at)),
        "seconds_left": g.map(|g| (g.expires_at - now).whole_seconds()),
        "revoked_at": g.and_then(|g| g.revoked_at).map(format_rfc3339),
        "entry": row.entry.as_ref().map(|e| e.describe()),
        "note": row.note(),
    })
}

fn policy_json(row: &PolicyRow, now: OffsetDateTime) -> Value {
    json!({
        "kind": "source_ip_policy",
        "region": super::policy::GLOBAL,
        "id": row.id,
        "state": row.state.as_str(),
        "policy_arn": row.arn,
        "policy_name": row.name,
        "cidr": row.cidr.map(|c| c.to_string()),
        "expires_at": row.expires_at.map(format_rfc3339),
        "seconds_left": row.expires_at.map(|e| (e - now).whole_seconds()),
        "revoked_at": row.revoked_at.map(format_rfc3339),
        "note": row.problem,
    })
}

fn client_vpn_json(row: &ClientVpnRow, now: OffsetDateTime) -> Value {
    let g = row.grant.as_ref();
    json!({
        "kind": "client_vpn",
        "region": row.region,
        "id": row.id,
        "grant_id": row.grant_id.as_ref().map(|g| g.as_str()),
        "state": row.state.as_str(),
        "client_vpn_endpoint_id": row.endpoint_id,
        "username": g.and_then(|g| matches!(g.identity, Identity::Username(_)).then(|| g.identity.value())),
        "common_name": g.and_then(|g| matches!(g.identity, Identity::CommonName(_)).then(|| g.identity.value())),
        "group": g.and_then(|g| matches!(g.identity, Identity::Group(_)).then(|| g.identity.value())),
        "cidr": g.and_then(|g| g.cidr).map(|c| c.to_string()),
        "requested_by": g.and_then(|g| g.requested_by.clone()),
        "reason": g.and_then(|g| g.reason.clone()),
        "ttl": g.map(|g| g.ttl.clone()),
        "created_at": g.map(|g| format_rfc3339(g.created_at)),
        "expires_at": g.map(|g| format_rfc3339(g.expires_at)),
        "seconds_left": g.map(|g| (g.expires_at - now).whole_seconds()),
        "revoked_at": g.and_then(|g| g.revoked_at).map(format_rfc3339),
        "note": row.problem,
    })
}

/// A Client VPN grant in the table: CIDR is where from (`any`), PROTOCOL `client-vpn`, ACTION
/// who may connect.
fn client_vpn_cells(row: &ClientVpnRow, now: OffsetDateTime) -> Vec<String> {
    let g = row.grant.as_ref();
    let left = match (g, row.state) {
        (Some(g), ClientVpnState::Grant(s)) if s != crate::grant::client_vpn::State::Revoked => {
            format_left((g.expires_at - now).whole_seconds())
        }
        _ => "-".into(),
    };
    let note = match (g, &row.problem) {
        (_, Some(p)) => p.clone(),
        (Some(g), None) => {
            let mut text = g.reason.clone().unwrap_or_default();
            if let Some(at) = g.revoked_at {
                if !text.is_empty() {
                    text.push_str(" — ");
                }
                text.push_str(&format!("revoked {}", format_rfc3339(at)));
            }
            text
        }
        (None, None) => String::new(),
    };
    vec![
        row.region.clone(),
        row.id.clone(),
        row.state.as_str().to_uppercase(),
        g.map_or_else(
            || "-".into(),
            |g| g.cidr.map_or_else(|| "any".into(), |c| c.to_string()),
        ),
        "client-vpn".into(),
        "-".into(),
        or_dash(g.map(|g| g.identity.to_string())),
        or_dash(g.and_then(|g| g.requested_by.clone())),
        or_dash(g.map(|g| format_rfc3339(g.expires_at))),
        left,
        or_dash(Some(note)),
    ]
}

fn policy_cells(row: &PolicyRow, now: OffsetDateTime) -> Vec<String> {
    let left = match (row.expires_at, row.state) {
        (Some(e), PolicyState::Active | PolicyState::Expired) => {
            format_left((e - now).whole_seconds())
        }
        _ => "-".into(),
    };
    let note = match (&row.problem, row.revoked_at) {
        (Some(p), _) => p.clone(),
        (None, Some(at)) => format!(
            "source-IP allowlist {}; revoked {}",
            row.name,
            format_rfc3339(at)
        ),
        (None, None) => format!("source-IP allowlist {}", row.name),
    };
    vec![
        super::policy::GLOBAL.into(),
        row.id.clone(),
        row.state.as_str().to_uppercase(),
        or_dash(row.cidr.map(|c| c.to_string())),
        "-".into(),
        "-".into(),
        "allow".into(),
        "-".into(),
        or_dash(row.expires_at.map(format_rfc3339)),
        left,
        note,
    ]
}

/// `jitctl list`: every network-ACL row, then every policy row, plus what could not be read.
pub fn list(inv: &Inventory, now: OffsetDateTime, f: Format) -> String {
    if f == Format::Json {
        let grants = inv
            .acls
            .iter()
            .map(|r| row_json(r, now))
            .chain(inv.policies.iter().map(|r| policy_json(r, now)))
            .chain(inv.client_vpn.iter().map(|r| client_vpn_json(r, now)));
        let doc = json!({
            "now": format_rfc3339(now),
            "grants": grants.collect::<Vec<_>>(),
            "errors": inv.errors
                .iter()
                .map(|(region, message)| json!({"region": region, "message": message}))
                .collect::<Vec<_>>(),
            "warnings": inv.warnings
                .iter()
                .map(|(region, message)| json!({"region": region, "message": message}))
                .collect::<Vec<_>>(),
        });
        return format!("{doc:#}\n");
    }
    if inv.acls.is_empty() && inv.policies.is_empty() && inv.client_vpn.is_empty() {
        return "No jit grants found.\n".into();
    }
    let mut cells: Vec<Vec<String>> = inv
        .acls
        .iter()
        .map(|r| {
            let s = shown(r);
            let g = r.grant();
            let left = match (g, r.state) {
                (Some(g), State::ACTIVE | State::EXPIRED | State::MISSING | State::REUSED) => {
                    format_left((g.expires_at - now).whole_seconds())
                }
                _ => "-".into(),
            };
            let mut text = g.and_then(|g| g.reason.clone()).unwrap_or_default();
            if let Some(note) = r.note() {
                if !text.is_empty() {
                    text.push_str(" — ");
                }
                text.push_str(&note);
            }
            vec![
                r.region.clone(),
                r.id.clone(),
                r.state.as_str().to_uppercase(),
                or_dash(s.cidr),
                or_dash(s.protocol),
                s.ports.map_or_else(
                    || "-".into(),
                    |(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    },
                ),
                or_dash(s.action.map(str::to_string)),
                or_dash(g.and_then(|g| g.requested_by.clone())),
                or_dash(g.map(|g| format_rfc3339(g.expires_at))),
                left,
                or_dash(Some(text)),
            ]
        })
        .collect();
    cells.extend(inv.policies.iter().map(|r| policy_cells(r, now)));
    cells.extend(inv.client_vpn.iter().map(|r| client_vpn_cells(r, now)));
    table(
        &[
            "REGION",
            "GRANT",
            "STATE",
            "CIDR",
            "PROTOCOL",
            "PORTS",
            "ACTION",
            "REQUESTED BY",
            "EXPIRES",
            "LEFT",
            "REASON / NOTE",
        ],
        &cells,
    )
}

fn count(results: &[SweepResult], o: Outcome) -> usize {
    results.iter().filter(|r| r.outcome == o).count()
}

/// `jitctl sweep` (and the Lambda handler's answer).
pub fn sweep_json(results: &[SweepResult], dry_run: bool) -> Value {
    json!({
        "dry_run": dry_run,
        "removed": count(results, Outcome::Removed),
        "left_alone": count(results, Outcome::LeftAlone),
        "failed": count(results, Outcome::Failed),
        "results": results
            .iter()
            .map(|r| json!({
                "region": r.region,
                "id": r.id,
                "outcome": r.outcome.as_str(dry_run),
                "detail": r.detail,
            }))
            .collect::<Vec<_>>(),
    })
}

pub fn sweep(results: &[SweepResult], dry_run: bool, f: Format) -> String {
    if f == Format::Json {
        return format!("{:#}\n", sweep_json(results, dry_run));
    }
    let mut out = if results.is_empty() {
        String::new()
    } else {
        let cells: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                vec![
                    r.outcome.as_str(dry_run).to_uppercase(),
                    r.region.clone(),
                    r.id.clone(),
                    r.detail.clone(),
                ]
            })
            .collect();
        table(&["OUTCOME", "REGION", "GRANT", "DETAIL"], &cells)
    };
    let (removed, alone, failed) = (
        count(results, Outcome::Removed),
        count(results, Outcome::LeftAlone),
        count(results, Outcome::Failed),
    );
    out.push_str(&if dry_run {
        format!("Dry run: {removed} would be removed, {alone} left alone; nothing was changed.\n")
    } else {
        format!("{removed} removed, {alone} left alone, {failed} failed.\n")
    });
    out
}

/// `jitctl revoke`: the grants revoked, and those that could not be (id, error).
pub fn revoke(done: &[Revoked], failed: &[(String, String)], f: Format) -> String {
    if f == Format::Json {
        let doc = json!({
            "revoked": done
                .iter()
                .map(|r| json!({
                    "region": r.region,
                    "id": r.id,
                    "revoked_at": format_rfc3339(r.revoked_at),
                    "detail": r.detail,
                }))
                .collect::<Vec<_>>(),
            "failed": failed
                .iter()
                .map(|(id, error)| json!({"id": id, "error": error}))
                .collect::<Vec<_>>(),
        });
        return format!("{doc:#}\n");
    }
    done.iter()
        .map(|r| {
            format!(
                "revoked {} in {} at {}: {}\n",
                r.id,
                r.region,
                format_rfc3339(r.revoked_at),
                r.detail
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::RuleRange;
    use crate::ctl::acl::classify;
    use crate::ctl::testing::{acl_with, at, grant};
    use crate::grant::Direction;

    #[test]
    fn time_left_is_short_and_signed() {
        assert_eq!(format_left(7_170), "1h59m");
        assert_eq!(format_left(45), "45s");
        assert_eq!(format_left(0), "0s");
        assert_eq!(format_left(-300), "-5m");
        assert_eq!(format_left(90_061), "25h1m");
    }

    fn inventory(errors: Vec<(String, String)>) -> Inventory {
        Inventory {
            acls: rows(),
            errors,
            ..Inventory::default()
        }
    }

    fn rows() -> Vec<Row> {
        let g = grant(Direction::Ingress, 100, "203.0.113.7/32", 0, 7_200);
        let old = grant(Direction::Egress, 120, "2001:db8::/48", 0, 600);
        let mut view = acl_with("acl-0123456789abcdef0", &[&g, &old]);
        view.entries.push(crate::aws::nacl::AclEntry {
            direction: Direction::Ingress,
            rule_number: 150,
            protocol: crate::grant::Protocol::ALL,
            action: crate::grant::RuleAction::Deny,
            cidr: Some("198.51.100.0/24".parse().unwrap()),
            ports: None,
        });
        classify("us-east-1", &view, at(1_000), RuleRange::default())
    }

    #[test]
    fn list_table_aligns_and_flags() {
        let text = list(&inventory(Vec::new()), at(1_000), Format::Table);
        let expected = "\
REGION     GRANT                              STATE     CIDR             PROTOCOL  PORTS  ACTION  REQUESTED BY  EXPIRES               LEFT    REASON / NOTE
us-east-1  acl-0123456789abcdef0:ingress:100  ACTIVE    203.0.113.7/32   tcp       22     allow   alice         1970-01-01T02:00:00Z  1h43m   on call
us-east-1  acl-0123456789abcdef0:ingress:150  UNTAGGED  198.51.100.0/24  all       -      deny    -             -                     -       rule 150 (ingress): deny all 198.51.100.0/24; no jit record
us-east-1  acl-0123456789abcdef0:egress:120   EXPIRED   2001:db8::/48    tcp       22     allow   alice         1970-01-01T00:10:00Z  -6m40s  on call
";
        assert_eq!(text, expected);
        assert_eq!(
            list(&Inventory::default(), at(0), Format::Table),
            "No jit grants found.\n"
        );
    }

    #[test]
    fn list_json_has_every_field() {
        let mut inv = inventory(vec![("eu-west-1".into(), "denied".into())]);
        inv.policies.push(PolicyRow {
            arn: "arn:aws:iam::123456789012:policy/p".into(),
            name: "p".into(),
            id: "arn:aws:iam::123456789012:policy/p#203.0.113.9/32".into(),
            cidr: Some("203.0.113.9/32".parse().unwrap()),
            expires_at: Some(at(4_600)),
            revoked_at: None,
            state: PolicyState::Active,
            problem: None,
        });
        let text = list(&inv, at(1_000), Format::Json);
        let doc: Value = serde_json::from_str(&text).unwrap();
        let g = &doc["grants"][0];
        assert_eq!(g["id"], "acl-0123456789abcdef0:ingress:100");
        assert_eq!(g["state"], "active");
        assert_eq!(g["direction"], "ingress");
        assert_eq!(g["rule_number"], 100);
        assert_eq!(g["from_port"], 22);
        assert_eq!(g["seconds_left"], 6_200);
        assert_eq!(g["expires_at"], "1970-01-01T02:00:00Z");
        assert_eq!(g["requested_by"], "alice");
        assert_eq!(g["revoked_at"], Value::Null);
        assert_eq!(doc["grants"][1]["state"], "untagged");
        assert_eq!(doc["grants"][1]["requested_by"], Value::Null);
        assert_eq!(doc["grants"][2]["seconds_left"], -400);
        assert_eq!(doc["errors"][0]["region"], "eu-west-1");
        let p = &doc["grants"][3];
        assert_eq!(p["kind"], "source_ip_policy");
        assert_eq!(p["policy_arn"], "arn:aws:iam::123456789012:policy/p");
        assert_eq!(p["cidr"], "203.0.113.9/32");
        assert_eq!(p["seconds_left"], 3_600);
        let table = list(&inv, at(1_000), Format::Table);
        let last = table.lines().last().unwrap();
        assert!(
            last.starts_with(
                "global     arn:aws:iam::123456789012:policy/p#203.0.113.9/32  ACTIVE"
            ),
            "{last}"
        );
        assert!(
            last.contains(" 1h ") && last.ends_with("  source-IP allowlist p"),
            "{last}"
        );
        assert_eq!(doc["now"], "1970-01-01T00:16:40Z");
    }

    #[test]
    fn sweep_summaries() {
        let r = |outcome, id: &str| SweepResult {
            region: "us-east-1".into(),
            id: id.into(),
            outcome,
            detail: "d".into(),
        };
        let results = [r(Outcome::Removed, "a"), r(Outcome::Failed, "bb")];
        assert_eq!(
            sweep(&results, false, Format::Table),
            "OUTCOME  REGION     GRANT  DETAIL\nREMOVED  us-east-1  a      d\nFAILED   us-east-1  bb     d\n1 removed, 0 left alone, 1 failed.\n"
        );
        assert_eq!(
            sweep(&[], true, Format::Table),
            "Dry run: 0 would be removed, 0 left alone; nothing was changed.\n"
        );
        let doc: Value = serde_json::from_str(&sweep(&results[..1], true, Format::Json)).unwrap();
        assert_eq!(doc["results"][0]["outcome"], "would remove");
        assert_eq!(doc["removed"], 1);
        assert_eq!(doc["failed"], 0);
    }
}
