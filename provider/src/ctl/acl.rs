//! Network-ACL grants as `jitctl` sees them: what each jit record and jit-looking entry on an
//! ACL amounts to (classification), and the three operations on them: list, sweep and revoke.
//!
//! Classification is a pure function of one ACL snapshot and the time, built on the grant-state
//! machine of [`crate::grant::lifecycle`] (the provider's `read` uses the same), so the rules are
//! unit tested without AWS. Sweep and revoke act through the write protocol
//! ([`crate::protocol::nacl`]), which re-reads the ACL right before each write and acts on an
//! entry only while the grant being removed owns it, and on a record only by its grant's id.

use time::OffsetDateTime;

use crate::aws::nacl::{AclView, Nacls};
use crate::clock::format_rfc3339;
use crate::grant::acl::Tagged;
use crate::grant::lifecycle::{self, State as Lifecycle};
use crate::grant::{
    AclEntry, Direction, Grant, GrantId, Protocol, Record, RuleAction, address, parse_address,
};
use crate::protocol::nacl::{self as protocol, Guard, Swept};

use super::target::{RuleRange, Target};

/// What a jit record or a jit-looking entry amounts to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A grant record, in its lifecycle state.
    Grant(Lifecycle),
    /// An entry inside jit's rule-number range that no jit record owns (an orphaned entry, or
    /// someone else's). Never deleted.
    Untagged,
    /// A `jit:grant:` tag that cannot be read as a grant. Never acted on.
    Unreadable,
}

impl State {
    pub const ACTIVE: State = State::Grant(Lifecycle::Active);
    pub const EXPIRED: State = State::Grant(Lifecycle::Expired);
    pub const REVOKED: State = State::Grant(Lifecycle::Revoked);
    pub const REVOKING: State = State::Grant(Lifecycle::Revoking);
    pub const MISSING: State = State::Grant(Lifecycle::Missing);
    pub const REUSED: State = State::Grant(Lifecycle::Reused);

    pub fn as_str(self) -> &'static str {
        match self {
            State::Grant(s) => s.as_str(),
            State::Untagged => "untagged",
            State::Unreadable => "unreadable",
        }
    }
}

/// One line of the inventory: a jit record (with the entry at its number, if any), or a
/// jit-looking entry that no record owns.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub region: String,
    pub acl_id: String,
    pub vpc_id: Option<String>,
    /// `acl-…:ingress:200`; for a tag that cannot be read, `acl-…:<tag key>`.
    pub id: String,
    /// Direction and rule number, when known.
    pub slot: Option<(Direction, i32)>,
    pub state: State,
    /// The grant's record as read, for a jit record: its identity and the grant it holds.
    pub record: Option<Record>,
    /// The tag key and its raw value, exactly as read.
    pub tag: Option<(String, String)>,
    /// The entry at the grant's direction and number, if any.
    pub entry: Option<AclEntry>,
    /// Why an unreadable tag could not be read.
    pub problem: Option<String>,
}

impl Row {
    /// The grant's identity, for records.
    pub fn grant_id(&self) -> Option<&GrantId> {
        self.record.as_ref().map(|r| &r.id)
    }

    /// The grant as its record holds it.
    pub fn grant(&self) -> Option<&Grant> {
        self.record.as_ref().map(|r| &r.grant)
    }

    /// Whether the row records a grant whose expiry has passed.
    pub fn past_expiry(&self, now: OffsetDateTime) -> bool {
        self.grant().is_some_and(|g| lifecycle::is_expired(g, now))
    }

    /// A one-line explanation of a state that needs one (for `list` and `sweep` output).
    pub fn note(&self) -> Option<String> {
        match self.state {
            State::REUSED => self
                .entry
                .as_ref()
                .map(|e| format!("rule number now holds {}", e.describe())),
            State::Untagged => self
                .entry
                .as_ref()
                .map(|e| format!("{}; no jit record", e.describe())),
            State::Unreadable => self.problem.clone(),
            State::REVOKING => Some("revoke marker set, but the entry is still present".into()),
            State::MISSING => Some("entry is gone; the record remains".into()),
            State::Grant(Lifecycle::Pending) => {
                Some("being created: the record is written, the entry may not be yet".into())
            }
            State::Grant(Lifecycle::Abandoned) => Some(format!(
                "its creator stopped before finishing (intent older than {}); the sweep rolls it back",
                lifecycle::INTENT_GRACE
            )),
            _ => None,
        }
    }
}

/// AWS's own allow-everything rules of a default network ACL (rule 100 and, for IPv6, 101):
/// inside jit's default range, but never jit's.
fn is_aws_default_rule(e: &AclEntry) -> bool {
    e.action == RuleAction::Allow
        && e.protocol == Protocol::ALL
        && e.cidr.is_some_and(|c| c.prefix_len() == 0)
}

/// Classifies every jit tag of one ACL, and every entry inside `range` that no record owns.
pub fn classify(region: &str, view: &AclView, now: OffsetDateTime, range: RuleRange) -> Vec<Row> {
    let base = |id: String, slot, state| Row {
        region: region.to_string(),
        acl_id: view.acl_id.clone(),
        vpc_id: view.vpc_id.clone(),
        id,
        slot,
        state,
        record: None,
        tag: None,
        entry: None,
        problem: None,
    };
    let records = view.records();
    let mut rows = Vec::new();
    for tagged in view.jit_tags() {
        match tagged {
            Tagged::Unreadable {
                key,
                value,
                problem,
            } => {
                let mut row = base(format!("{}:{key}", view.acl_id), None, State::Unreadable);
                row.tag = Some((key, value));
                row.problem = Some(problem);
                rows.push(row);
            }
            Tagged::Record(r) => {
                let e = &r.grant.entry;
                let mut row = base(
                    address(&view.acl_id, e.direction, e.rule_number),
                    Some((e.direction, e.rule_number)),
                    State::Grant(lifecycle::state(&r, view, &records, now)),
                );
                row.entry = view.entry(e.direction, e.rule_number).cloned();
                row.tag = view
                    .tags
                    .get_key_value(&r.tag_key())
                    .map(|(k, v)| (k.clone(), v.clone()));
                row.record = Some(r);
                rows.push(row);
            }
        }
    }
    for e in &view.entries {
        let named = records.iter().any(|r| {
            r.grant.entry.direction == e.direction && r.grant.entry.rule_number == e.rule_number
        });
        if range.contains(e.rule_number) && !named && !is_aws_default_rule(e) {
            let mut row = base(
                address(&view.acl_id, e.direction, e.rule_number),
                Some((e.direction, e.rule_number)),
                State::Untagged,
            );
            row.entry = Some(e.clone());
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| {
        (&a.acl_id, a.slot, a.grant().map(|g| g.created_at), &a.id).cmp(&(
            &b.acl_id,
            b.slot,
            b.grant().map(|g| g.created_at),
            &b.id,
        ))
    });
    rows
}

/// The outcome of a sweep for one grant (or one failed look-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepResult {
    pub region: String,
    /// The grant's address, or the ACL id (or `*`) when a whole ACL or region could not be read.
    pub id: String,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Removed (or, with `--dry-run`, would be removed).
    Removed,
    /// Not removed on purpose: someone else's entry, a grant that changed under the sweep, a
    /// tag jit cannot read, an entry outside what a jit grant could have made.
    LeftAlone,
    /// Could not be removed: an AWS error. Makes `jitctl sweep` exit 1.
    Failed,
}

impl Outcome {
    pub fn as_str(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Outcome::Removed, false) => "removed",
            (Outcome::Removed, true) => "would remove",
            (Outcome::LeftAlone, _) => "left alone",
            (Outcome::Failed, _) => "failed",
        }
    }
}

/// What the sweep may delete: by default only what a real grant could have made, so that
/// someone who may only tag an ACL cannot make the sweeper delete a rule jit did not create by
/// writing a fake expired record at its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepScope {
    /// Rule numbers jit numbers grants in (`--rule-numbers`).
    pub range: RuleRange,
    /// Whether deny entries (temporary blocks) may be deleted (`--include-deny`).
    pub deny: bool,
}

impl SweepScope {
    fn guard(self) -> Guard {
        Guard {
            range: Some((self.range.from, self.range.to)),
            deny: self.deny,
        }
    }
}

/// Every ACL of one region: entries orphaned by a lost record can sit on ACLs that carry no
/// jit tag at all.
async fn all_acls(target: &Target) -> Result<Vec<AclView>, String> {
    target
        .nacls
        .all()
        .await
        .map_err(|e| format!("could not list network ACLs: {e}"))
}

/// Every jit grant (and jit-looking entry) in one region, on every ACL.
pub async fn list(
    target: &Target,
    now: OffsetDateTime,
    range: RuleRange,
) -> Result<Vec<Row>, String> {
    Ok(all_acls(target)
        .await?
        .iter()
        .flat_map(|v| classify(&target.region, v, now, range))
        .collect())
}

/// The record the sweep acts on in a row, judged on the listing; each is re-judged on a fresh
/// read right before anything is written.
fn sweep_candidate(row: &Row, now: OffsetDateTime) -> Option<&Record> {
    match (row.state, &row.record) {
        (State::Grant(state), Some(r)) if protocol::sweep_ends(state, r, now) => Some(r),
        _ => None,
    }
}

/// Removes every network-ACL grant of one region that has ended: expired, abandoned by a
/// creator that stopped, or (records whose entry is gone) past its expiry. With `dry_run`,
/// reports what it would remove and writes nothing. Untagged entries are reported, never
/// deleted.
pub async fn sweep(
    target: &Target,
    now: OffsetDateTime,
    dry_run: bool,
    scope: SweepScope,
) -> Vec<SweepResult> {
    let region = target.region.as_str();
    let result = |id: &str, outcome, detail: String| SweepResult {
        region: region.to_string(),
        id: id.to_string(),
        outcome,
        detail,
    };
    let views = match all_acls(target).await {
        Ok(v) => v,
        Err(e) => return vec![result("*", Outcome::Failed, e)],
    };
    let mut results = Vec::new();
    for view in &views {
        let records = view.records();
        for row in classify(region, view, now, scope.range) {
            let record = match row.state {
                State::Unreadable | State::Untagged => {
                    results.push(result(
                        &row.id,
                        Outcome::LeftAlone,
                        row.note().unwrap_or_default(),
                    ));
                    continue;
                }
                State::Grant(_) => match sweep_candidate(&row, now) {
                    Some(r) => r,
                    None => continue,
                },
            };
            let (outcome, detail) = if dry_run {
                // Decided as the sweep decides it on its fresh read (`protocol::sweep_one`), on
                // the listed snapshot.
                let owned = lifecycle::owns(view, &records, record);
                if owned && !scope.guard().allows(&record.grant.entry) {
                    (Outcome::LeftAlone, guarded(&row, scope))
                } else {
                    (outcome(row.state), describe(&row, owned))
                }
            } else {
                match sweep_row(&target.nacls, &row, record, now, scope).await {
                    Some(done) => done,
                    None => continue,
                }
            };
            results.push(result(&row.id, outcome, detail));
        }
    }
    results
}

/// Sweeps the grant of `row` on a fresh read; `None` when that read no longer warrants it.
async fn sweep_row(
    nacls: &Nacls,
    row: &Row,
    record: &Record,
    now: OffsetDateTime,
    scope: SweepScope,
) -> Option<(Outcome, String)> {
    Some(
        match protocol::sweep_one(nacls, &row.acl_id, &record.id, now, scope.guard()).await {
            Ok(Swept::Nothing) => return None,
            Ok(Swept::Removed(done, _, _)) if done.guarded => {
                (Outcome::LeftAlone, guarded(row, scope))
            }
            Ok(Swept::Removed(done, _, state)) => {
                (outcome(State::Grant(state)), describe(row, done.entry))
            }
            Err((step, e)) => (
                Outcome::Failed,
                format!(
                    "could not {step}: {e}{}{}",
                    denied_hint(e.code()),
                    if step.contains("entry") {
                        "; the grant is still open"
                    } else {
                        ""
                    }
                ),
            ),
        },
    )
}

/// A reused rule number is reported as left alone even though its stale record goes: the entry
/// at that number is what the operator needs to look at.
fn outcome(state: State) -> Outcome {
    match state {
        State::REUSED => Outcome::LeftAlone,
        _ => Outcome::Removed,
    }
}

/// `allow ingress tcp 203.0.113.7/32 port 22, expired 2026-…`
fn summary(row: &Row) -> String {
    let Some(g) = row.grant() else {
        return String::new();
    };
    match row.state {
        State::Grant(Lifecycle::Abandoned) => format!(
            "{}, abandoned by its creator (intent of {})",
            g.entry,
            format_rfc3339(g.created_at)
        ),
        _ => format!("{}, expired {}", g.entry, format_rfc3339(g.expires_at)),
    }
}

fn describe(row: &Row, entry_deleted: bool) -> String {
    let what = if entry_deleted {
        "entry and record deleted".to_string()
    } else {
        match (row.state, row.note()) {
            (State::REUSED, Some(note)) => format!(
                "{note}, which is not this grant, so that entry is left alone; stale record deleted"
            ),
            _ => "entry already gone, record deleted".to_string(),
        }
    };
    format!("{}: {what}", summary(row))
}

fn guarded(row: &Row, scope: SweepScope) -> String {
    format!(
        "{}: left alone, because a jit grant could not have made this entry with the sweep's scope (rule numbers {}{}); if jit's provider numbers grants elsewhere, run the sweep with --rule-numbers{}",
        summary(row),
        scope.range,
        if scope.deny {
            ""
        } else {
            ", allow entries only"
        },
        if scope.deny {
            ""
        } else {
            " (and --include-deny for deny grants)"
        },
    )
}

/// For access-denied errors: the scheduled sweeper's policy (`examples/sweeper/`) reaches only
/// ACLs tagged `jit:managed = "network-acl"`, and an unmarked ACL is the usual cause.
fn denied_hint(code: Option<&str>) -> &'static str {
    match code {
        Some("UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException") => {
            " (the sweeper policy of examples/sweeper allows changes only to network ACLs tagged jit:managed = \"network-acl\"; is this ACL tagged?)"
        }
        _ => "",
    }
}

/// The outcome of `jitctl revoke` for one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub region: String,
    pub id: String,
    pub revoked_at: OffsetDateTime,
    /// What happened, for the user.
    pub detail: String,
}

/// Ends a grant now (see [`protocol::revoke`]). `id` is a grant address
/// (`acl-…:ingress:200`: the grant that owns the entry there, else the newest recorded there) or
/// `acl-…:<grant id>`. Revoking a revoked grant again is a no-op that succeeds.
pub async fn revoke(target: &Target, id: &str, now: OffsetDateTime) -> Result<Revoked, String> {
    let by_id = id.split_once(':').and_then(|(acl, gid)| {
        GrantId::parse(gid)
            .filter(|g| !g.is_legacy() && crate::grant::valid_acl_id(acl))
            .map(|g| (acl.to_string(), g))
    });
    let (acl, wanted) = match by_id {
        Some((acl, gid)) => (acl, Err(gid)),
        None => {
            let (acl, d, n) = parse_address(id)
                .map_err(|e| format!("{e}, or \"acl-0123456789abcdef0:<grant id>\""))?;
            (acl, Ok((d, n)))
        }
    };
    let region = &target.region;
    let view = target
        .nacls
        .view_uncached(&acl)
        .await
        .map_err(|e| format!("could not read {acl}: {e}"))?
        .ok_or_else(|| format!("network ACL {acl} does not exist in {region}"))?;
    let records = view.records();
    let found = match &wanted {
        Err(gid) => records.iter().find(|r| &r.id == gid),
        Ok((d, n)) => lifecycle::owner(&view, &records, *d, *n).or_else(|| {
            records
                .iter()
                .filter(|r| r.grant.entry.direction == *d && r.grant.entry.rule_number == *n)
                .max_by_key(|r| r.grant.created_at)
        }),
    };
    let Some(record) = found else {
        let what = match &wanted {
            Ok((d, n)) => format!(
                "{} at {d} {n}",
                view.entry(*d, *n)
                    .map_or_else(|| "no entry".to_string(), |e| e.describe())
            ),
            Err(gid) => format!("no record for grant {gid}"),
        };
        return Err(format!(
            "{id} is not a jit grant: {acl} has {what} but no jit grant record; jitctl revokes only grants jit created"
        ));
    };
    let done = protocol::revoke(&target.nacls, &view, record, now)
        .await
        .map_err(|e| format!("{id}: {e}"))?;
    let detail = if done.already {
        format!("already revoked at {}", format_rfc3339(done.revoked_at))
    } else if done.entry_deleted {
        format!("{} deleted; revoke marker written", record.grant.entry)
    } else if let Some(other) = done.other_entry {
        format!(
            "the rule number now holds {other}, which is not this grant, so that entry was left alone; revoke marker written"
        )
    } else {
        "the entry was already gone; revoke marker written".to_string()
    };
    Ok(Revoked {
        region: region.clone(),
        id: id.to_string(),
        revoked_at: done.revoked_at,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::nacl::fake::Fault;
    use crate::ctl::testing::{
        FakeNacl, acl_with, acl_with_records, at, grant, legacy, record, target,
    };
    use crate::grant::Ports;

    const ACL: &str = "acl-0123456789abcdef0";

    fn entry(direction: Direction, n: i32, cidr: &str) -> AclEntry {
        AclEntry {
            direction,
            rule_number: n,
            protocol: Protocol::TCP,
            action: RuleAction::Allow,
            cidr: Some(cidr.parse().unwrap()),
            ports: Some(Ports { from: 22, to: 22 }),
        }
    }

    fn states(rows: &[Row]) -> Vec<(String, &'static str)> {
        rows.iter()
            .map(|r| (r.id.clone(), r.state.as_str()))
            .collect()
    }

    #[test]
    fn classifies_every_kind_of_tag_and_entry() {
        let now = at(10_000);
        let active = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        let expired = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        let missing = grant(Direction::Ingress, 102, "203.0.113.3/32", 0, 20_000);
        let reused = grant(Direction::Ingress, 103, "203.0.113.4/32", 0, 5_000);
        let mut revoked = grant(Direction::Egress, 100, "203.0.113.5/32", 0, 20_000);
        revoked.revoked_at = Some(at(9_000));
        let mut view = acl_with(ACL, &[&active, &expired, &missing, &reused, &revoked]);
        view.entries.retain(|e| {
            !(e.direction == Direction::Ingress && [102, 103].contains(&e.rule_number))
                && e.direction != Direction::Egress
        });
        view.entries
            .push(entry(Direction::Ingress, 103, "10.0.0.0/8"));
        view.entries
            .push(entry(Direction::Ingress, 150, "198.51.100.0/24"));
        // Outside the range, and AWS's default allow-all: neither is jit-looking.
        view.entries
            .push(entry(Direction::Ingress, 300, "198.51.100.0/24"));
        view.entries.push(AclEntry {
            protocol: Protocol::ALL,
            ports: None,
            ..entry(Direction::Egress, 101, "0.0.0.0/0")
        });
        view.tags.insert("jit:grant:ingress:x".into(), "v=1".into());
        view.tags.insert("Name".into(), "prod".into());
        // Grants with ids: one being created, one whose creator died half-way.
        let mut pending = record(
            "pppppppppppp",
            &grant(Direction::Ingress, 104, "203.0.113.6/32", 9_990, 20_000),
        );
        pending.pending = true;
        let mut abandoned = record(
            "aaaaaaaaaaaa",
            &grant(Direction::Ingress, 105, "203.0.113.7/32", 9_000, 20_000),
        );
        abandoned.pending = true;
        for r in [&pending, &abandoned] {
            view.tags.insert(r.tag_key(), r.tag_value());
        }
        view.entries.push(AclEntry::from(&abandoned.grant.entry));

        let rows = classify("us-east-1", &view, now, RuleRange::default());
        let id = |s: &str| format!("{ACL}:{s}");
        assert_eq!(
            states(&rows),
            [
                (id("jit:grant:ingress:x"), "unreadable"),
                (id("ingress:100"), "active"),
                (id("ingress:101"), "expired"),
                (id("ingress:102"), "missing"),
                (id("ingress:103"), "reused"),
                (id("ingress:104"), "pending"),
                (id("ingress:105"), "abandoned"),
                (id("ingress:150"), "untagged"),
                (id("egress:100"), "revoked"),
            ]
        );
        assert!(
            rows[0]
                .problem
                .as_ref()
                .unwrap()
                .contains("not a jit grant")
        );
        assert!(rows[4].note().unwrap().contains("10.0.0.0/8"));
        assert_eq!(rows[6].grant_id().unwrap().as_str(), "aaaaaaaaaaaa");
    }

    #[test]
    fn revoked_and_revoking() {
        let mut g = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        g.revoked_at = Some(at(9_000));
        let view = acl_with(ACL, &[&g]);
        let rows = classify("r", &view, at(10_000), RuleRange::default());
        assert_eq!(rows[0].state, State::REVOKING);
        let mut gone = view.clone();
        gone.entries.clear();
        let rows = classify("r", &gone, at(10_000), RuleRange::default());
        assert_eq!(rows[0].state, State::REVOKED);
    }

    #[test]
    fn sweep_ends_only_what_has_ended() {
        let now = at(10_000);
        use Lifecycle::*;
        let cases = [
            (Active, 20_000, false),
            (Expired, 10_000, true),
            (Revoking, 5_000, true),
            // A revoke cut short is finished at once, not at the grant's expiry.
            (Revoking, 20_000, true),
            (Missing, 5_000, true),
            (Missing, 20_000, false),
            (Revoked, 5_000, true),
            (Revoked, 20_000, false),
            (Reused, 5_000, true),
            (Reused, 20_000, false),
            (Pending, 20_000, false),
            (Abandoned, 20_000, true),
        ];
        for (state, expires, want) in cases {
            let r = legacy(&grant(
                Direction::Ingress,
                100,
                "203.0.113.1/32",
                0,
                expires,
            ));
            assert_eq!(
                protocol::sweep_ends(state, &r, now),
                want,
                "{state:?} expiring at {expires}"
            );
        }
    }

    #[tokio::test]
    async fn sweep_removes_expired_leaves_the_rest_and_is_idempotent() {
        let fake = FakeNacl::default();
        let live = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        let old = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        let reused = grant(Direction::Ingress, 102, "203.0.113.3/32", 0, 5_000);
        let mut view = acl_with(ACL, &[&live, &old, &reused]);
        view.entries.retain(|e| e.rule_number != 102);
        view.entries
            .push(entry(Direction::Ingress, 102, "10.0.0.0/8"));
        view.entries
            .push(entry(Direction::Ingress, 150, "10.1.0.0/16"));
        fake.put(view);
        let t = target(&fake);
        let now = at(10_000);
        let scope = SweepScope::default();

        let dry = sweep(&t, now, true, scope).await;
        let outcomes: Vec<Outcome> = dry.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [Outcome::Removed, Outcome::LeftAlone, Outcome::LeftAlone],
            "{dry:?}"
        );
        assert_eq!(fake.writes(), 0, "a dry run writes nothing");

        let results = sweep(&t, now, false, scope).await;
        let got: Vec<(&str, Outcome)> = results
            .iter()
            .map(|r| (r.id.rsplit(':').next().unwrap(), r.outcome))
            .collect();
        assert_eq!(
            got,
            [
                ("101", Outcome::Removed),
                ("102", Outcome::LeftAlone),
                ("150", Outcome::LeftAlone)
            ]
        );
        assert!(results[1].detail.contains("left alone"), "{results:?}");
        assert!(results[2].detail.contains("no jit record"), "{results:?}");
        let after = fake.get(ACL);
        let numbers: Vec<i32> = after.entries.iter().map(|e| e.rule_number).collect();
        assert_eq!(
            numbers,
            [100, 102, 150],
            "the reused and untagged entries stay"
        );
        assert_eq!(
            after
                .entry(Direction::Ingress, 102)
                .unwrap()
                .cidr
                .unwrap()
                .to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            after.tags.keys().collect::<Vec<_>>(),
            ["jit:grant:ingress:100"]
        );

        let writes = fake.writes();
        let again = sweep(&t, now, false, scope).await;
        // The entry at the reused number has no record left to point at it: reported untagged.
        assert_eq!(
            states_of(&again),
            [("102", Outcome::LeftAlone), ("150", Outcome::LeftAlone)]
        );
        assert_eq!(fake.writes(), writes, "a second sweep has nothing to do");
    }

    fn states_of(results: &[SweepResult]) -> Vec<(&str, Outcome)> {
        results
            .iter()
            .map(|r| (r.id.rsplit(':').next().unwrap(), r.outcome))
            .collect()
    }

    #[tokio::test]
    async fn a_failed_delete_is_reported_and_keeps_the_record() {
        let fake = FakeNacl::default();
        let old = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        fake.put(acl_with(ACL, &[&old]));
        fake.fail_deletes_of(101);
        let results = sweep(&target(&fake), at(10_000), false, SweepScope::default()).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].outcome, Outcome::Failed);
        assert!(results[0].detail.contains("still open"), "{results:?}");
        assert!(results[0].detail.contains("jit:managed"), "{results:?}");
        assert!(fake.get(ACL).tags.contains_key("jit:grant:ingress:101"));
    }

    /// Regression: the sweep decided a whole ACL from one snapshot and deleted by rule number,
    /// so a grant that terraform created at a freed number meanwhile lost its entry.
    #[tokio::test]
    async fn a_sweep_racing_an_apply_never_deletes_the_new_grant() {
        let fake = FakeNacl::default();
        let old = record(
            "oooooooooooo",
            &grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000),
        );
        fake.put(acl_with_records(ACL, std::slice::from_ref(&old)));
        // Between the sweep's listing and its fresh read, terraform's own expiry apply deletes
        // the old entry (but not yet its record) and numbers a new grant, same address, there.
        let new = record(
            "nnnnnnnnnnnn",
            &grant(Direction::Ingress, 101, "203.0.113.2/32", 9_000, 30_000),
        );
        let n2 = new.clone();
        fake.before_call(2, move |v| {
            v.entries.clear();
            v.entries.push(AclEntry::from(&n2.grant.entry));
            v.tags.insert(n2.tag_key(), n2.tag_value());
        });
        let results = sweep(&target(&fake), at(10_000), false, SweepScope::default()).await;
        assert_eq!(results.len(), 1, "{results:?}");
        let after = fake.get(ACL);
        assert_eq!(
            after.entries,
            [AclEntry::from(&new.grant.entry)],
            "the new grant's entry stays"
        );
        assert_eq!(
            after.tags.keys().collect::<Vec<_>>(),
            [&new.tag_key()],
            "the old record goes, the new one stays"
        );
    }

    #[tokio::test]
    async fn a_new_grant_at_the_freed_number_keeps_its_record() {
        let fake = FakeNacl::default();
        let old = record(
            "oooooooooooo",
            &grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000),
        );
        fake.put(acl_with_records(ACL, std::slice::from_ref(&old)));
        let new = record(
            "nnnnnnnnnnnn",
            &grant(Direction::Ingress, 101, "203.0.113.2/32", 9_000, 30_000),
        );
        let n2 = new.clone();
        // Terraform numbers a fresh grant the moment the sweep has deleted the old entry.
        fake.after_next_delete(move |v| {
            v.entries.push(AclEntry::from(&n2.grant.entry));
            v.tags.insert(n2.tag_key(), n2.tag_value());
        });
        let results = sweep(&target(&fake), at(10_000), false, SweepScope::default()).await;
        assert_eq!(results[0].outcome, Outcome::Removed, "{results:?}");
        let after = fake.get(ACL);
        assert_eq!(after.entries.len(), 1);
        assert_eq!(after.tags.keys().collect::<Vec<_>>(), [&new.tag_key()]);
    }

    /// Someone who may only tag the ACL writes an expired "grant" over a rule jit never made.
    #[tokio::test]
    async fn a_forged_record_cannot_make_the_sweep_delete_a_foreign_rule() {
        let fake = FakeNacl::default();
        let outside = record(
            "ffffffffffff",
            &grant(Direction::Ingress, 50, "10.0.0.0/8", 0, 5_000),
        );
        let mut deny = record(
            "dddddddddddd",
            &grant(Direction::Ingress, 120, "10.0.0.0/8", 0, 5_000),
        );
        deny.grant.entry.action = RuleAction::Deny;
        fake.put(acl_with_records(ACL, &[outside, deny]));
        let results = sweep(&target(&fake), at(10_000), false, SweepScope::default()).await;
        assert!(
            results.iter().all(|r| r.outcome == Outcome::LeftAlone),
            "{results:?}"
        );
        assert!(results[0].detail.contains("--rule-numbers"), "{results:?}");
        let after = fake.get(ACL);
        assert_eq!(after.entries.len(), 2);
        assert_eq!(
            after.tags.len(),
            2,
            "records of entries left alone stay too"
        );
        // Told that jit numbers there and makes deny grants, it removes them.
        let wide = SweepScope {
            range: "1-199".parse().unwrap(),
            deny: true,
        };
        let results = sweep(&target(&fake), at(10_000), false, wide).await;
        assert!(
            results.iter().all(|r| r.outcome == Outcome::Removed),
            "{results:?}"
        );
        assert!(fake.get(ACL).entries.is_empty());
    }

    #[tokio::test]
    async fn abandoned_intents_are_rolled_back_and_fresh_ones_left_alone() {
        let fake = FakeNacl::default();
        let mut abandoned = record(
            "aaaaaaaaaaaa",
            &grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000),
        );
        abandoned.pending = true;
        let mut fresh = record(
            "ffffffffffff",
            &grant(Direction::Ingress, 101, "203.0.113.2/32", 9_900, 20_000),
        );
        fresh.pending = true;
        fake.put(acl_with_records(ACL, &[abandoned, fresh.clone()]));
        let results = sweep(&target(&fake), at(10_000), false, SweepScope::default()).await;
        assert_eq!(
            states_of(&results),
            [("100", Outcome::Removed)],
            "{results:?}"
        );
        assert!(results[0].detail.contains("abandoned"), "{results:?}");
        let after = fake.get(ACL);
        assert_eq!(after.entries, [AclEntry::from(&fresh.grant.entry)]);
        assert_eq!(after.tags.keys().collect::<Vec<_>>(), [&fresh.tag_key()]);
    }

    #[tokio::test]
    async fn orphans_on_acls_without_any_jit_tag_are_listed() {
        let fake = FakeNacl::default();
        let mut view = acl_with(ACL, &[]);
        view.entries
            .push(entry(Direction::Ingress, 110, "203.0.113.9/32"));
        fake.put(view);
        let rows = list(&target(&fake), at(0), RuleRange::default())
            .await
            .unwrap();
        assert_eq!(states(&rows), [(format!("{ACL}:ingress:110"), "untagged")]);
    }

    #[tokio::test]
    async fn a_sweep_with_lost_responses_converges() {
        let fake = FakeNacl::default();
        let a = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        let b = record(
            "bbbbbbbbbbbb",
            &grant(Direction::Ingress, 102, "203.0.113.3/32", 0, 5_000),
        );
        let mut view = acl_with(ACL, &[&a]);
        view.entries.push(AclEntry::from(&b.grant.entry));
        view.tags.insert(b.tag_key(), b.tag_value());
        fake.put(view);
        // The first grant's entry delete loses its response (a fresh read shows it landed); its
        // record delete is throttled throughout, which fails the grant's sweep.
        fake.faults(&[Fault::After, Fault::Before]);
        let t = target(&fake);
        let first = sweep(&t, at(10_000), false, SweepScope::default()).await;
        let failed: Vec<&SweepResult> = first
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .collect();
        assert_eq!(failed.len(), 1, "{first:?}");
        assert!(
            failed[0].detail.contains("delete the grant's record"),
            "{first:?}"
        );
        assert!(fake.get(ACL).entries.is_empty(), "{first:?}");
        let second = sweep(&t, at(10_000), false, SweepScope::default()).await;
        assert!(
            !second.is_empty() && second.iter().all(|r| r.outcome == Outcome::Removed),
            "{second:?}"
        );
        let after = fake.get(ACL);
        assert!(
            after.entries.is_empty() && after.tags.is_empty(),
            "{after:?}"
        );
    }

    #[tokio::test]
    async fn a_region_that_cannot_be_listed_is_a_failure() {
        let fake = FakeNacl::default();
        fake.fail_listing();
        let results = sweep(&target(&fake), at(0), false, SweepScope::default()).await;
        assert_eq!(results[0].outcome, Outcome::Failed);
        assert_eq!(results[0].id, "*");
    }

    #[tokio::test]
    async fn revoke_marks_then_deletes_and_is_repeatable() {
        let fake = FakeNacl::default();
        let g = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        fake.put(acl_with(ACL, &[&g]));
        let t = target(&fake);
        let id = format!("{ACL}:ingress:100");
        let r = revoke(&t, &id, at(1_000)).await.unwrap();
        assert!(r.detail.contains("deleted"), "{r:?}");
        let view = fake.get(ACL);
        assert!(view.entries.is_empty());
        let tag =
            Record::from_tag("jit:grant:ingress:100", &view.tags["jit:grant:ingress:100"]).unwrap();
        assert_eq!(tag.grant.revoked_at, Some(at(1_000)));
        assert_eq!(
            Grant {
                revoked_at: None,
                ..tag.grant
            },
            g
        );

        let again = revoke(&t, &id, at(2_000)).await.unwrap();
        assert_eq!(again.revoked_at, at(1_000));
        assert!(again.detail.contains("already revoked"));
    }

    #[tokio::test]
    async fn revoke_by_grant_id_picks_that_grant() {
        let fake = FakeNacl::default();
        let old = record(
            "oooooooooooo",
            &grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 5_000),
        );
        let new = record(
            "nnnnnnnnnnnn",
            &grant(Direction::Ingress, 100, "203.0.113.1/32", 6_000, 20_000),
        );
        let mut view = acl_with_records(ACL, &[old.clone(), new.clone()]);
        view.entries.truncate(1);
        fake.put(view);
        let t = target(&fake);
        // By address: the grant that owns the entry, the newer one.
        let r = revoke(&t, &format!("{ACL}:ingress:100"), at(7_000))
            .await
            .unwrap();
        assert!(r.detail.contains("deleted"), "{r:?}");
        let after = fake.get(ACL);
        assert!(after.tags[&new.tag_key()].ends_with(";x=7000"));
        assert!(!after.tags[&old.tag_key()].contains(";x="));
        // By id: exactly that one; it owns no entry, so only the marker is written.
        let r = revoke(&t, &format!("{ACL}:oooooooooooo"), at(8_000))
            .await
            .unwrap();
        assert!(r.detail.contains("already gone"), "{r:?}");
        assert!(fake.get(ACL).tags[&old.tag_key()].ends_with(";x=8000"));
    }

    #[tokio::test]
    async fn a_revoke_cut_short_leaves_the_grant_marked() {
        let fake = FakeNacl::default();
        let g = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        fake.put(acl_with(ACL, &[&g]));
        fake.fail_deletes_of(100);
        let t = target(&fake);
        let err = revoke(&t, &format!("{ACL}:ingress:100"), at(1_000))
            .await
            .unwrap_err();
        assert!(err.contains("Run the revoke again"), "{err}");
        let rows = classify("r", &fake.get(ACL), at(1_000), RuleRange::default());
        assert_eq!(rows[0].state, State::REVOKING);
    }

    #[tokio::test]
    async fn revoke_refuses_what_jit_does_not_own() {
        let fake = FakeNacl::default();
        let mut view = acl_with(ACL, &[]);
        view.entries
            .push(entry(Direction::Ingress, 100, "10.0.0.0/8"));
        fake.put(view);
        let t = target(&fake);
        let err = revoke(&t, &format!("{ACL}:ingress:100"), at(0))
            .await
            .unwrap_err();
        assert!(err.contains("not a jit grant"), "{err}");
        assert!(err.contains("10.0.0.0/8"), "{err}");
        assert_eq!(fake.writes(), 0);
        let err = revoke(&t, "acl-1:ingress:100", at(0)).await.unwrap_err();
        assert!(err.contains("not a grant id"), "{err}");
        let err = revoke(&t, "acl-0123456789abcdef1:ingress:100", at(0))
            .await
            .unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[tokio::test]
    async fn revoke_leaves_a_reused_number_alone_but_marks_the_grant() {
        let fake = FakeNacl::default();
        let g = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        let mut view = acl_with(ACL, &[&g]);
        view.entries.clear();
        view.entries
            .push(entry(Direction::Ingress, 100, "10.0.0.0/8"));
        fake.put(view);
        let r = revoke(&target(&fake), &format!("{ACL}:ingress:100"), at(5))
            .await
            .unwrap();
        assert!(r.detail.contains("left alone"), "{r:?}");
        let view = fake.get(ACL);
        assert_eq!(view.entries.len(), 1);
        assert!(view.tags["jit:grant:ingress:100"].ends_with(";x=5"));
    }
}
