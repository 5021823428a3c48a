//! Network-ACL grants as `jitctl` sees them: what each jit tag and jit-looking entry on an ACL
//! amounts to (classification), and the three operations on them: list, sweep and revoke.
//!
//! Classification is a pure function of one ACL snapshot and the time, so the rules are unit
//! tested without AWS. Sweep and revoke then act through [`Nacls`], re-reading the ACL right
//! before each write so that a concurrent `terraform apply` (or a second sweeper) is never
//! clobbered: an entry is deleted only while it still matches what its tag recorded, and a tag
//! only while it still holds the value the decision was made on.

use time::OffsetDateTime;

use crate::aws::nacl::{AclEntry, AclView, AwsError};
use crate::clock::format_rfc3339;
use crate::grant::{Direction, Grant, RuleAction, TAG_PREFIX, parse_tag_key, tag_key};
use crate::resources::access_rule::{grant_id, parse_grant_id};

use super::{RuleRange, Target};

/// What a jit tag or a jit-looking entry amounts to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The entry is in AWS, as recorded, before its expiry.
    Active,
    /// The entry is still in AWS after its expiry: `jitctl sweep` removes it.
    Expired,
    /// Revoked by `jitctl revoke`, and the entry is gone.
    Revoked,
    /// Marked revoked, but the entry is still there (a revoke that did not finish).
    Revoking,
    /// The tag exists but the entry is gone, with no revoke marker (an orphaned tag; before
    /// expiry, Terraform re-creates the entry at its next apply).
    Missing,
    /// The tag's rule number now holds a different entry: someone reused it. Never deleted.
    Reused,
    /// An entry inside jit's rule-number range with no jit tag (an orphaned entry). Never deleted.
    Untagged,
    /// A `jit:grant:` tag that cannot be read as a grant. Never deleted.
    Unreadable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Expired => "expired",
            State::Revoked => "revoked",
            State::Revoking => "revoking",
            State::Missing => "missing",
            State::Reused => "reused",
            State::Untagged => "untagged",
            State::Unreadable => "unreadable",
        }
    }
}

/// One line of the inventory: a jit tag (with the entry at its number, if any), or a
/// jit-looking entry without a tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub region: String,
    pub acl_id: String,
    pub vpc_id: Option<String>,
    /// `acl-…:ingress:200`; for a tag whose key does not parse, `acl-…:<tag key>`.
    pub id: String,
    /// Direction and rule number, when known.
    pub slot: Option<(Direction, i32)>,
    pub state: State,
    /// The grant as its tag records it.
    pub grant: Option<Grant>,
    /// The tag key and its raw value, exactly as read (a write is made only while it is unchanged).
    pub tag: Option<(String, String)>,
    /// The entry at the grant's direction and number, if any.
    pub entry: Option<AclEntry>,
    /// Why an unreadable tag could not be read.
    pub problem: Option<String>,
}

impl Row {
    /// Whether the row records a grant whose expiry has passed.
    pub fn past_expiry(&self, now: OffsetDateTime) -> bool {
        self.grant.as_ref().is_some_and(|g| now >= g.expires_at)
    }

    /// A one-line explanation of a state that needs one (for `list` and `sweep` output).
    pub fn note(&self) -> Option<String> {
        match self.state {
            State::Reused => self
                .entry
                .as_ref()
                .map(|e| format!("rule number now holds {}", e.describe())),
            State::Untagged => self
                .entry
                .as_ref()
                .map(|e| format!("{}; no jit tag", e.describe())),
            State::Unreadable => self.problem.clone(),
            State::Revoking => Some("revoke marker set, but the entry is still present".into()),
            State::Missing => Some("entry is gone; the tag remains".into()),
            _ => None,
        }
    }
}

/// AWS's own allow-everything rules of a default network ACL (rule 100 and, for IPv6, 101):
/// inside jit's default range, but never jit's.
fn is_aws_default_rule(e: &AclEntry) -> bool {
    e.action == RuleAction::Allow
        && e.protocol == crate::grant::Protocol::ALL
        && e.cidr.is_some_and(|c| c.prefix_len() == 0)
}

/// Classifies every jit tag of one ACL, and every untagged entry inside `range`.
pub fn classify(region: &str, view: &AclView, now: OffsetDateTime, range: RuleRange) -> Vec<Row> {
    let base = |id: String, slot, state| Row {
        region: region.to_string(),
        acl_id: view.acl_id.clone(),
        vpc_id: view.vpc_id.clone(),
        id,
        slot,
        state,
        grant: None,
        tag: None,
        entry: None,
        problem: None,
    };
    let mut rows = Vec::new();
    for (key, value) in view.tags.range(TAG_PREFIX.to_string()..) {
        if !key.starts_with(TAG_PREFIX) {
            break;
        }
        let slot = parse_tag_key(key);
        let id = match slot {
            Some((d, n)) => grant_id(&view.acl_id, d, n),
            None => format!("{}:{key}", view.acl_id),
        };
        let mut row = base(id, slot, State::Unreadable);
        row.tag = Some((key.clone(), value.clone()));
        row.entry = slot.and_then(|(d, n)| view.entry(d, n).cloned());
        match Grant::from_tag(key, value) {
            Err(e) => row.problem = Some(e.to_string()),
            Ok(g) => {
                let revoked = g.revoked_at.is_some();
                row.state = match &row.entry {
                    Some(e) if e.matches(&g.entry) => {
                        if revoked {
                            State::Revoking
                        } else if now >= g.expires_at {
                            State::Expired
                        } else {
                            State::Active
                        }
                    }
                    Some(_) => State::Reused,
                    None if revoked => State::Revoked,
                    None => State::Missing,
                };
                row.grant = Some(g);
            }
        }
        rows.push(row);
    }
    for e in &view.entries {
        if range.contains(e.rule_number)
            && !view.tags.contains_key(&tag_key(e.direction, e.rule_number))
            && !is_aws_default_rule(e)
        {
            let mut row = base(
                grant_id(&view.acl_id, e.direction, e.rule_number),
                Some((e.direction, e.rule_number)),
                State::Untagged,
            );
            row.entry = Some(e.clone());
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| (&a.acl_id, a.slot, &a.id).cmp(&(&b.acl_id, b.slot, &b.id)));
    rows
}

/// What a sweep does about one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Delete the entry (it still matches the tag), then the tag.
    EntryAndTag,
    /// Delete only the tag: the entry is gone already.
    TagOnly,
    /// Delete only the tag; the entry at that number is someone else's and is left alone.
    TagOnlyReused,
}

/// The sweep's decision for a row: only grants past their expiry are touched, and an entry
/// only while it still matches the grant.
pub fn sweep_decision(row: &Row, now: OffsetDateTime) -> Option<Removal> {
    if !row.past_expiry(now) {
        return None;
    }
    match row.state {
        State::Expired | State::Revoking => Some(Removal::EntryAndTag),
        State::Missing | State::Revoked => Some(Removal::TagOnly),
        State::Reused => Some(Removal::TagOnlyReused),
        State::Active | State::Untagged | State::Unreadable => None,
    }
}

/// The outcome of a sweep for one grant (or one failed look-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepResult {
    pub region: String,
    /// The grant id, or the ACL id (or `*`) when a whole ACL or region could not be read.
    pub id: String,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Removed (or, with `--dry-run`, would be removed).
    Removed,
    /// Not removed on purpose: someone else's entry, a tag that changed under the sweep, or a
    /// tag jit cannot read.
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

/// Every jit grant (and jit-looking entry) in one region.
pub async fn list(
    target: &Target,
    now: OffsetDateTime,
    range: RuleRange,
) -> Result<Vec<Row>, String> {
    let views = target
        .nacls
        .tagged(TAG_PREFIX)
        .await
        .map_err(|e| format!("could not list network ACLs with jit tags: {e}"))?;
    Ok(views
        .iter()
        .flat_map(|v| classify(&target.region, v, now, range))
        .collect())
}

/// Removes every network-ACL grant of one region whose expiry has passed. With `dry_run`,
/// reports what it would remove and writes nothing.
pub async fn sweep(target: &Target, now: OffsetDateTime, dry_run: bool) -> Vec<SweepResult> {
    let region = target.region.as_str();
    let result = |id: &str, outcome, detail: String| SweepResult {
        region: region.to_string(),
        id: id.to_string(),
        outcome,
        detail,
    };
    let views = match target.nacls.tagged(TAG_PREFIX).await {
        Ok(v) => v,
        Err(e) => {
            return vec![result(
                "*",
                Outcome::Failed,
                format!("could not list network ACLs with jit tags: {e}"),
            )];
        }
    };
    let range = RuleRange::default();
    let mut results = Vec::new();
    for listed in views {
        let rows = classify(region, &listed, now, range);
        for row in rows.iter().filter(|r| r.state == State::Unreadable) {
            results.push(result(
                &row.id,
                Outcome::LeftAlone,
                row.problem.clone().unwrap_or_default(),
            ));
        }
        if !rows.iter().any(|r| sweep_decision(r, now).is_some()) {
            continue;
        }
        // The listing may be seconds old: decide on a fresh snapshot, right before writing.
        let rows = if dry_run {
            rows
        } else {
            match target.nacls.view_uncached(&listed.acl_id).await {
                Ok(Some(view)) => classify(region, &view, now, range),
                Ok(None) => continue, // the ACL was deleted, and its grants with it
                Err(e) => {
                    results.push(result(
                        &listed.acl_id,
                        Outcome::Failed,
                        format!("could not read the network ACL: {e}"),
                    ));
                    continue;
                }
            }
        };
        for row in &rows {
            if let Some(removal) = sweep_decision(row, now) {
                let (outcome, detail) = if dry_run {
                    (planned_outcome(removal), describe_removal(row, removal))
                } else {
                    remove(target, row, removal).await
                };
                results.push(result(&row.id, outcome, detail));
            }
        }
    }
    results
}

/// A reused rule number is reported as left alone even though its stale tag goes: the entry at
/// that number is what the operator needs to look at.
fn planned_outcome(removal: Removal) -> Outcome {
    match removal {
        Removal::TagOnlyReused => Outcome::LeftAlone,
        Removal::EntryAndTag | Removal::TagOnly => Outcome::Removed,
    }
}

fn expired_at(row: &Row) -> String {
    row.grant
        .as_ref()
        .map(|g| format_rfc3339(g.expires_at))
        .unwrap_or_default()
}

/// `allow ingress tcp 203.0.113.7/32 port 22, expired 2026-…`
fn summary(row: &Row) -> String {
    let what = row
        .grant
        .as_ref()
        .map(|g| g.entry.to_string())
        .unwrap_or_default();
    format!("{what}, expired {}", expired_at(row))
}

fn describe_removal(row: &Row, removal: Removal) -> String {
    match removal {
        Removal::EntryAndTag => format!("{}: entry and tag deleted", summary(row)),
        Removal::TagOnly => format!("{}: entry already gone, tag deleted", summary(row)),
        Removal::TagOnlyReused => format!(
            "{}: {}, which is not this grant, so that entry is left alone; stale tag deleted",
            summary(row),
            row.note().unwrap_or_default()
        ),
    }
}

/// For access-denied errors: the scheduled sweeper's policy (`examples/sweeper/`) reaches only
/// ACLs tagged `jit:managed = "network-acl"`, and an unmarked ACL is the usual cause.
fn denied_hint(e: &AwsError) -> &'static str {
    match e.code() {
        Some("UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException") => {
            " (the sweeper policy of examples/sweeper allows changes only to network ACLs tagged jit:managed = \"network-acl\"; is this ACL tagged?)"
        }
        _ => "",
    }
}

/// Carries out one removal. The entry goes first: were the sweep cut short between the two
/// writes, a tag without its entry is harmless (the next sweep removes it), while an entry
/// without its tag would be a grant nobody ever expires. The tag is then deleted only if it
/// still holds the value the decision was made on: once the entry is gone the provider may
/// number a new grant there, and that grant's tag must survive.
async fn remove(target: &Target, row: &Row, removal: Removal) -> (Outcome, String) {
    let (Some((direction, number)), Some((key, value))) = (row.slot, row.tag.as_ref()) else {
        return (Outcome::LeftAlone, "not a grant".into());
    };
    let nacls = &target.nacls;
    if removal == Removal::EntryAndTag
        && let Err(e) = nacls.delete_entry(&row.acl_id, direction, number).await
    {
        return (
            Outcome::Failed,
            format!(
                "could not delete the entry: {e}{}; the grant is still open",
                denied_hint(&e)
            ),
        );
    }
    if let Err(e) = nacls.delete_tag(&row.acl_id, key, value).await {
        return (
            Outcome::Failed,
            format!("could not delete the tag {key:?}: {e}{}", denied_hint(&e)),
        );
    }
    // Read back, to report a tag that was rewritten meanwhile (and so kept).
    match nacls.view_uncached(&row.acl_id).await {
        Ok(view) => match view.as_ref().and_then(|v| v.tags.get(key)) {
            // The expired grant is gone all the same; the tag is a new grant's now.
            Some(now) if now != value => (
                planned_outcome(removal),
                format!(
                    "{}: {}the tag {key:?} was rewritten meanwhile (a new grant at this number) and was kept",
                    summary(row),
                    if removal == Removal::EntryAndTag {
                        "entry deleted; "
                    } else {
                        ""
                    }
                ),
            ),
            Some(_) => (
                Outcome::Failed,
                format!("the tag {key:?} is still there after it was deleted"),
            ),
            None => (planned_outcome(removal), describe_removal(row, removal)),
        },
        Err(e) => (
            Outcome::Failed,
            format!("could not read the network ACL back after the removal: {e}"),
        ),
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

/// Ends a grant now: rewrites its tag with a revoke marker, then deletes its entry (only if it
/// still matches the grant). The provider then reports `status = "revoked"` and does not
/// re-create the grant. The marker is written first because it, not the entry, keeps the
/// provider's automatic numbering off the number once the entry is gone; and a revoke cut short
/// in between leaves a marked grant whose entry the next `revoke` removes. Revoking a revoked
/// grant again is a no-op that succeeds.
pub async fn revoke(target: &Target, id: &str, now: OffsetDateTime) -> Result<Revoked, String> {
    let (acl, direction, number) = parse_grant_id(id)?;
    let nacls = &target.nacls;
    let region = &target.region;
    let view = nacls
        .view_uncached(&acl)
        .await
        .map_err(|e| format!("could not read {acl}: {e}"))?
        .ok_or_else(|| format!("network ACL {acl} does not exist in {region}"))?;
    let key = tag_key(direction, number);
    let Some(raw) = view.tags.get(&key) else {
        let what = view
            .entry(direction, number)
            .map_or_else(|| "no entry".to_string(), |e| e.describe());
        return Err(format!(
            "{id} is not a jit grant: {acl} has {what} at {direction} {number} but no tag {key:?}; jitctl revokes only grants jit created"
        ));
    };
    let grant = Grant::from_tag(&key, raw).map_err(|e| e.to_string())?;
    let entry = view.entry(direction, number);
    let matching = entry.is_some_and(|e| e.matches(&grant.entry));
    if let (Some(at), false) = (grant.revoked_at, matching) {
        return Ok(Revoked {
            region: region.clone(),
            id: id.to_string(),
            revoked_at: at,
            detail: format!("already revoked at {}", format_rfc3339(at)),
        });
    }
    let revoked_at = grant.revoked_at.unwrap_or(now);
    if grant.revoked_at.is_none() {
        let marked = Grant {
            revoked_at: Some(revoked_at),
            ..grant.clone()
        };
        nacls
            .put_tag(&acl, &key, &marked.tag_value())
            .await
            .map_err(|e| {
                format!("could not write the revoke marker of {id}: {e}; nothing was changed and the grant is still open")
            })?;
    }
    let detail = match entry {
        Some(_) if matching => {
            nacls
                .delete_entry(&acl, direction, number)
                .await
                .map_err(|e| {
                    format!("the revoke marker of {id} is written, but its entry could not be deleted: {e}; the grant is still open. Run the revoke again")
                })?;
            format!("{} deleted; revoke marker written", grant.entry)
        }
        Some(e) => format!(
            "the rule number now holds {}, which is not this grant, so that entry was left alone; revoke marker written",
            e.describe()
        ),
        None => "the entry was already gone; revoke marker written".to_string(),
    };
    Ok(Revoked {
        region: region.clone(),
        id: id.to_string(),
        revoked_at,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::testing::{FakeNacl, acl_with, at, grant, target};
    use crate::grant::{Ports, Protocol};

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

        let rows = classify("us-east-1", &view, now, RuleRange::default());
        let got: Vec<(String, &str)> = rows
            .iter()
            .map(|r| (r.id.clone(), r.state.as_str()))
            .collect();
        let id = |s: &str| format!("{ACL}:{s}");
        assert_eq!(
            got,
            [
                (id("jit:grant:ingress:x"), "unreadable"),
                (id("ingress:100"), "active"),
                (id("ingress:101"), "expired"),
                (id("ingress:102"), "missing"),
                (id("ingress:103"), "reused"),
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
    }

    #[test]
    fn revoked_and_revoking() {
        let mut g = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        g.revoked_at = Some(at(9_000));
        let view = acl_with(ACL, &[&g]);
        let rows = classify("r", &view, at(10_000), RuleRange::default());
        assert_eq!(rows[0].state, State::Revoking);
        let mut gone = view.clone();
        gone.entries.clear();
        let rows = classify("r", &gone, at(10_000), RuleRange::default());
        assert_eq!(rows[0].state, State::Revoked);
    }

    #[test]
    fn sweep_decides_only_past_expiry() {
        let now = at(10_000);
        let row = |state, expires| Row {
            region: "r".into(),
            acl_id: ACL.into(),
            vpc_id: None,
            id: "x".into(),
            slot: Some((Direction::Ingress, 100)),
            state,
            grant: Some(grant(Direction::Ingress, 100, "203.0.113.1/32", 0, expires)),
            tag: None,
            entry: None,
            problem: None,
        };
        use State::*;
        let cases = [
            (Active, 20_000, None),
            (Expired, 10_000, Some(Removal::EntryAndTag)),
            (Revoking, 5_000, Some(Removal::EntryAndTag)),
            (Revoking, 20_000, None),
            (Missing, 5_000, Some(Removal::TagOnly)),
            (Missing, 20_000, None),
            (Revoked, 5_000, Some(Removal::TagOnly)),
            (Revoked, 20_000, None),
            (Reused, 5_000, Some(Removal::TagOnlyReused)),
            (Reused, 20_000, None),
            (Unreadable, 5_000, None),
            (Untagged, 5_000, None),
        ];
        for (state, expires, want) in cases {
            assert_eq!(
                sweep_decision(&row(state, expires), now),
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

        let dry = sweep(&t, now, true).await;
        let outcomes: Vec<Outcome> = dry.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Removed, Outcome::LeftAlone], "{dry:?}");
        assert_eq!(fake.writes(), 0, "a dry run writes nothing");

        let results = sweep(&t, now, false).await;
        let got: Vec<(&str, Outcome)> = results
            .iter()
            .map(|r| (r.id.rsplit(':').next().unwrap(), r.outcome))
            .collect();
        assert_eq!(
            got,
            [("101", Outcome::Removed), ("102", Outcome::LeftAlone)]
        );
        assert!(results[1].detail.contains("left alone"), "{results:?}");
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
        assert!(sweep(&t, now, false).await.is_empty());
        assert_eq!(fake.writes(), writes, "a second sweep has nothing to do");
    }

    #[tokio::test]
    async fn a_failed_delete_is_reported_and_keeps_the_tag() {
        let fake = FakeNacl::default();
        let old = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        fake.put(acl_with(ACL, &[&old]));
        fake.fail_deletes_of(101);
        let results = sweep(&target(&fake), at(10_000), false).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].outcome, Outcome::Failed);
        assert!(results[0].detail.contains("still open"), "{results:?}");
        assert!(results[0].detail.contains("jit:managed"), "{results:?}");
        assert!(fake.get(ACL).tags.contains_key("jit:grant:ingress:101"));
    }

    #[tokio::test]
    async fn a_tag_rewritten_during_the_sweep_is_kept() {
        let fake = FakeNacl::default();
        let old = grant(Direction::Ingress, 101, "203.0.113.2/32", 0, 5_000);
        fake.put(acl_with(ACL, &[&old]));
        // Terraform numbers a fresh grant here and writes its tag between the sweep's decision
        // and its tag deletion (calls: list, fresh read, entry delete, tag delete).
        let fresh = grant(Direction::Ingress, 101, "203.0.113.2/32", 9_000, 30_000);
        fake.before_call(4, move |v| {
            v.tags.insert(fresh.tag_key(), fresh.tag_value());
        });
        let results = sweep(&target(&fake), at(10_000), false).await;
        assert_eq!(results[0].outcome, Outcome::Removed, "{results:?}");
        assert!(results[0].detail.contains("was kept"), "{results:?}");
        let after = fake.get(ACL);
        assert!(after.entries.is_empty());
        let tag = &after.tags["jit:grant:ingress:101"];
        assert!(tag.contains("e=30000"), "{tag}");
    }

    #[tokio::test]
    async fn a_region_that_cannot_be_listed_is_a_failure() {
        let fake = FakeNacl::default();
        fake.fail_listing();
        let results = sweep(&target(&fake), at(0), false).await;
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
            Grant::from_tag("jit:grant:ingress:100", &view.tags["jit:grant:ingress:100"]).unwrap();
        assert_eq!(tag.revoked_at, Some(at(1_000)));
        assert_eq!(
            Grant {
                revoked_at: None,
                ..tag
            },
            g
        );

        let again = revoke(&t, &id, at(2_000)).await.unwrap();
        assert_eq!(again.revoked_at, at(1_000));
        assert!(again.detail.contains("already revoked"));
    }

    #[tokio::test]
    async fn a_revoke_cut_short_leaves_the_number_marked() {
        let fake = FakeNacl::default();
        let g = grant(Direction::Ingress, 100, "203.0.113.1/32", 0, 20_000);
        fake.put(acl_with(ACL, &[&g]));
        fake.fail_deletes_of(100);
        let t = target(&fake);
        let err = revoke(&t, &format!("{ACL}:ingress:100"), at(1_000))
            .await
            .unwrap_err();
        assert!(err.contains("Run the revoke again"), "{err}");
        // The marker went first, so the provider's numbering keeps off this number.
        let rows = classify("r", &fake.get(ACL), at(1_000), RuleRange::default());
        assert_eq!(rows[0].state, State::Revoking);
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
