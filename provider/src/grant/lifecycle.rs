//! Who owns the entry at a rule number, and what state a recorded grant is in: the one place
//! both the provider's `read` and `jitctl` derive it from, with one expiry rule.
//!
//! The write protocol (DESIGN.md, "Grant write protocol") makes these facts hold in AWS:
//! 1. A grant's record is written, as an intent (`pending`), before its entry is created; so
//!    every entry jit creates is covered by a record with an expiry from the moment it exists.
//! 2. After writing its intent, a writer re-reads the ACL and backs off if the number holds an
//!    entry or another writer's live intent; so at most one jit writer creates at a number.
//! 3. A record is committed (intent flag dropped) only once its entry exists.
//!
//! From these, the entry at a number belongs to the record that names the number and matches
//! the entry, preferring a committed record to an intent and, among several (an ended grant's
//! leftover record next to a new grant at its number), the newest: a new grant can only have
//! been numbered there after the older grant's entry was gone.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use crate::grant::acl::AclView;
use crate::grant::id::GrantId;
use crate::grant::model::{Direction, EntrySpec, Grant};
use crate::grant::record::Record;

/// How long an intent may stay unconfirmed before it counts as abandoned (its writer died
/// between writing it and committing it). The sweeper and later applies roll abandoned intents
/// back.
pub const INTENT_GRACE: Duration = Duration::minutes(10);

/// A writer that finds its own intent older than this does not go on to create the entry, so
/// nothing is ever created under an intent that may already be rolled back as abandoned.
pub const INTENT_DEADLINE: Duration = Duration::minutes(5);

/// The one expiry rule: a grant has ended from its `expires_at` on.
pub fn has_ended(expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    now >= expires_at
}

/// Whether a network-ACL grant has expired ([`has_ended`]).
pub fn is_expired(grant: &Grant, now: OffsetDateTime) -> bool {
    has_ended(grant.expires_at, now)
}

/// Whether an intent's writer is presumed gone.
pub fn is_abandoned(record: &Record, now: OffsetDateTime) -> bool {
    record.pending && now >= record.grant.created_at + INTENT_GRACE
}

fn names(record: &Record, direction: Direction, rule_number: i32) -> bool {
    record.grant.entry.direction == direction && record.grant.entry.rule_number == rule_number
}

/// The record that owns the entry at `direction`/`rule_number`, if there is an entry and a
/// record that can own it.
pub fn owner<'a>(
    view: &AclView,
    records: &'a [Record],
    direction: Direction,
    rule_number: i32,
) -> Option<&'a Record> {
    let entry = view.entry(direction, rule_number)?;
    records
        .iter()
        .filter(|r| names(r, direction, rule_number) && entry.matches(&r.grant.entry))
        .min_by_key(|r| {
            (
                r.pending,
                r.grant.revoked_at.is_some(),
                Reverse(r.grant.created_at),
                Reverse(r.id.clone()),
            )
        })
}

/// Whether `record` (one of `records`) owns the entry at its number.
pub fn owns(view: &AclView, records: &[Record], record: &Record) -> bool {
    let entry = &record.grant.entry;
    owner(view, records, entry.direction, entry.rule_number).is_some_and(|o| o.id == record.id)
}

/// Whether a new grant may be numbered at `direction`/`rule_number`: no entry there, and no
/// other writer's live intent for it. Records of ended grants (expired, revoked, or whose entry
/// is gone) do not hold a number: each grant's record has its own key, so the new grant's
/// record never overwrites theirs, and ownership goes to the newest.
pub fn is_free(
    view: &AclView,
    records: &[Record],
    direction: Direction,
    rule_number: i32,
    mine: &GrantId,
    now: OffsetDateTime,
) -> bool {
    view.entry(direction, rule_number).is_none()
        && !records.iter().any(|r| {
            &r.id != mine && r.pending && !is_abandoned(r, now) && names(r, direction, rule_number)
        })
}

/// Whether an entry whose `DeleteNetworkAclEntry` got no clear answer is still there to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The entry is gone, or its number holds what a newer grant made: the delete landed.
    Gone,
    /// The entry is still there, and no writer arrived at its number since: send the delete again.
    Still,
    /// Another writer's intent for the number appeared since: it may be creating there (the delete
    /// landed) or about to back off (it did not). Neither repeat the delete nor take it as done.
    Unclear,
}

/// After a delete of the entry `spec` whose outcome is unknown (a lost response, a timeout, a
/// throttle or 5xx that may or may not have come before AWS acted), judged on `view`, a read made
/// since. `seen` holds the tag keys of the records the delete was decided on; a record not among
/// them arrived since.
///
/// `DeleteNetworkAclEntry` names a number, not an entry: once the first delete landed, the number
/// is free, a new grant may be numbered there at once, and a repeat would delete the new grant's
/// entry. A writer numbers a grant only where it found no entry and commits only once its entry
/// exists, so a committed newcomer whose entry holds the number proves the delete landed.
pub fn after_unknown_delete(view: &AclView, spec: &EntrySpec, seen: &BTreeSet<String>) -> Held {
    let Some(entry) = view.entry(spec.direction, spec.rule_number) else {
        return Held::Gone;
    };
    if !entry.matches(spec) {
        return Held::Gone;
    }
    let newcomers: Vec<Record> = view
        .records()
        .into_iter()
        .filter(|r| !seen.contains(&r.tag_key()) && names(r, spec.direction, spec.rule_number))
        .collect();
    if newcomers
        .iter()
        .any(|r| !r.pending && entry.matches(&r.grant.entry))
    {
        Held::Gone
    } else if newcomers.iter().any(|r| r.pending) {
        Held::Unclear
    } else {
        Held::Still
    }
}

/// What a recorded grant amounts to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// An intent whose writer may still be at work: the entry may or may not exist yet.
    Pending,
    /// An intent older than [`INTENT_GRACE`]: its writer is gone. Rolled back by the sweeper.
    Abandoned,
    /// The grant owns its entry, before its expiry.
    Active,
    /// The grant still owns its entry after its expiry: the next sweep or apply removes it.
    Expired,
    /// Revoked by `jitctl revoke`, and the entry is gone.
    Revoked,
    /// Marked revoked, but it still owns its entry (a revoke that did not finish).
    Revoking,
    /// Its entry is gone (removed by hand, or a removal cut short) and no other entry is at
    /// its number.
    Missing,
    /// Its entry is gone and its number holds another entry (someone else's, or a newer grant's).
    Reused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Abandoned => "abandoned",
            State::Active => "active",
            State::Expired => "expired",
            State::Revoked => "revoked",
            State::Revoking => "revoking",
            State::Missing => "missing",
            State::Reused => "reused",
        }
    }
}

/// The state of `record`, one of `records` (the ACL's readable records), on `view` at `now`.
pub fn state(record: &Record, view: &AclView, records: &[Record], now: OffsetDateTime) -> State {
    let entry = &record.grant.entry;
    let owns = owns(view, records, record);
    if record.pending {
        return if is_abandoned(record, now) {
            State::Abandoned
        } else {
            State::Pending
        };
    }
    match (owns, record.grant.revoked_at.is_some()) {
        (true, true) => State::Revoking,
        (true, false) if is_expired(&record.grant, now) => State::Expired,
        (true, false) => State::Active,
        (false, true) => State::Revoked,
        (false, false) if view.entry(entry.direction, entry.rule_number).is_some() => State::Reused,
        (false, false) => State::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{AclEntry, EntrySpec, Ports, Protocol, RuleAction};

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    fn record(id: &str, n: i32, cidr: &str, created: i64, pending: bool) -> Record {
        Record {
            id: GrantId::parse(id).unwrap(),
            grant: Grant {
                entry: EntrySpec {
                    direction: Direction::Ingress,
                    rule_number: n,
                    cidr: cidr.parse().unwrap(),
                    protocol: Protocol::TCP,
                    ports: Some(Ports { from: 22, to: 22 }),
                    action: RuleAction::Allow,
                },
                created_at: t(created),
                expires_at: t(created + 3600),
                ttl: "1h".into(),
                requested_by: None,
                reason: None,
                revoked_at: None,
            },
            pending,
        }
    }

    fn view(entries: &[&Record]) -> AclView {
        AclView {
            acl_id: "acl-0123456789abcdef0".into(),
            entries: entries
                .iter()
                .map(|r| AclEntry::from(&r.grant.entry))
                .collect(),
            ..AclView::default()
        }
    }

    #[test]
    fn the_newest_matching_committed_record_owns_an_entry() {
        let old = record("aaaaaaaaaaaa", 100, "203.0.113.7/32", 0, false);
        let new = record("bbbbbbbbbbbb", 100, "203.0.113.7/32", 7200, false);
        let intent = record("cccccccccccc", 100, "203.0.113.7/32", 9000, true);
        let v = view(&[&new]);
        let all = [old.clone(), new.clone(), intent.clone()];
        assert_eq!(owner(&v, &all, Direction::Ingress, 100), Some(&new));
        let now = t(7300);
        assert_eq!(state(&old, &v, &all, now), State::Reused);
        assert_eq!(state(&new, &v, &all, now), State::Active);
        assert_eq!(state(&intent, &v, &all, now), State::Pending);
        // An intent owns the entry only when no committed record can.
        let only_intent = [intent.clone()];
        assert_eq!(
            owner(&v, &only_intent, Direction::Ingress, 100),
            Some(&intent)
        );
    }

    #[test]
    fn an_entry_that_does_not_match_has_no_owner() {
        let mine = record("aaaaaaaaaaaa", 100, "203.0.113.7/32", 0, false);
        let other = record("bbbbbbbbbbbb", 100, "198.51.100.9/32", 0, false);
        let v = view(&[&other]);
        assert_eq!(
            owner(&v, std::slice::from_ref(&mine), Direction::Ingress, 100),
            None
        );
        assert_eq!(
            state(&mine, &v, std::slice::from_ref(&mine), t(10)),
            State::Reused
        );
        assert_eq!(
            state(&mine, &view(&[]), std::slice::from_ref(&mine), t(10)),
            State::Missing
        );
    }

    #[test]
    fn expiry_revocation_and_abandonment() {
        let mut g = record("aaaaaaaaaaaa", 100, "203.0.113.7/32", 0, false);
        let v = view(&[&g]);
        assert_eq!(
            state(&g, &v, std::slice::from_ref(&g), t(3599)),
            State::Active
        );
        assert_eq!(
            state(&g, &v, std::slice::from_ref(&g), t(3600)),
            State::Expired
        );
        g.grant.revoked_at = Some(t(10));
        assert_eq!(
            state(&g, &v, std::slice::from_ref(&g), t(20)),
            State::Revoking
        );
        assert_eq!(
            state(&g, &view(&[]), std::slice::from_ref(&g), t(20)),
            State::Revoked
        );
        let intent = record("bbbbbbbbbbbb", 101, "203.0.113.7/32", 0, true);
        let one = std::slice::from_ref(&intent);
        assert_eq!(state(&intent, &view(&[]), one, t(599)), State::Pending);
        assert_eq!(state(&intent, &view(&[]), one, t(600)), State::Abandoned);
    }

    #[test]
    fn a_delete_is_repeated_only_while_nothing_arrived_at_its_number() {
        let old = record("aaaaaaaaaaaa", 100, "203.0.113.7/32", 0, false);
        let spec = &old.grant.entry;
        let seen: BTreeSet<String> = [old.tag_key()].into();
        let with = |entries: &[&Record], records: &[&Record]| {
            let mut v = view(entries);
            for r in records {
                v.tags.insert(r.tag_key(), r.tag_value());
            }
            v
        };
        // Nothing changed: the delete did not land.
        assert_eq!(
            after_unknown_delete(&with(&[&old], &[&old]), spec, &seen),
            Held::Still
        );
        // The entry is gone, or the number holds another entry.
        assert_eq!(
            after_unknown_delete(&with(&[], &[&old]), spec, &seen),
            Held::Gone
        );
        let other = record("bbbbbbbbbbbb", 100, "198.51.100.9/32", 7200, false);
        assert_eq!(
            after_unknown_delete(&with(&[&other], &[&old, &other]), spec, &seen),
            Held::Gone
        );
        // A new grant for the same address, committed at the number: it found the number empty.
        let same = record("cccccccccccc", 100, "203.0.113.7/32", 7200, false);
        assert_eq!(
            after_unknown_delete(&with(&[&same], &[&old, &same]), spec, &seen),
            Held::Gone
        );
        // Its intent alone: it is creating (the delete landed) or about to back off (it did not).
        let intent = record("dddddddddddd", 100, "203.0.113.7/32", 7200, true);
        assert_eq!(
            after_unknown_delete(&with(&[&old], &[&old, &intent]), spec, &seen),
            Held::Unclear
        );
        // Records at other numbers, or seen before the delete, change nothing.
        let elsewhere = record("eeeeeeeeeeee", 101, "203.0.113.7/32", 7200, false);
        assert_eq!(
            after_unknown_delete(&with(&[&old], &[&old, &elsewhere]), spec, &seen),
            Held::Still
        );
        let seen_both: BTreeSet<String> = [old.tag_key(), same.tag_key()].into();
        assert_eq!(
            after_unknown_delete(&with(&[&old], &[&old, &same]), spec, &seen_both),
            Held::Still
        );
    }

    #[test]
    fn a_number_is_free_unless_an_entry_or_a_live_intent_holds_it() {
        let me = GrantId::parse("zzzzzzzzzzzz").unwrap();
        let ended = record("aaaaaaaaaaaa", 100, "203.0.113.7/32", 0, false);
        let intent = record("bbbbbbbbbbbb", 101, "203.0.113.7/32", 0, true);
        let held = record("cccccccccccc", 102, "203.0.113.7/32", 0, false);
        let v = view(&[&held]);
        let all = [ended, intent.clone(), held];
        assert!(is_free(&v, &all, Direction::Ingress, 100, &me, t(10)));
        assert!(!is_free(&v, &all, Direction::Ingress, 101, &me, t(10)));
        assert!(is_free(
            &v,
            &all,
            Direction::Ingress,
            101,
            &intent.id,
            t(10)
        ));
        assert!(is_free(&v, &all, Direction::Ingress, 101, &me, t(600)));
        assert!(!is_free(&v, &all, Direction::Ingress, 102, &me, t(10)));
        assert!(is_free(&v, &all, Direction::Egress, 102, &me, t(10)));
    }
}
