//! Network-ACL grants: create, update, remove and revoke, over [`Nacls`].
//!
//! Every step is idempotent under retries, and a crash (or a lost response) between any two
//! steps leaves a state that [`crate::grant::lifecycle`] recognises and that the next apply or
//! `jitctl sweep` finishes or rolls back:
//!
//! | step | written | if cut short here |
//! |---|---|---|
//! | 1 | the record, as an intent (`i=1`), under the grant's own key | an intent without entry: rolled back once abandoned |
//! | 2 | (re-read: back off if the number holds an entry or another live intent) | as above |
//! | 3 | `CreateNetworkAclEntry` (an `AlreadyExists` after a lost response is adopted: nobody else creates at a number we hold the only intent for) | an intent with its entry: covered by the record's expiry, rolled back once abandoned |
//! | 4 | the record, committed | done |
//!
//! Removal deletes the entry only while the grant owns it ([`lifecycle::owner`]), then the
//! grant's own record by key; cut short in between, a record without entry remains, which the
//! next removal or sweep deletes.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::aws::nacl::{AwsError, CreateOutcome, Nacls};
use crate::clock::{Clock, format_rfc3339};
use crate::duration::Ttl;
use crate::grant::lifecycle::{self, INTENT_DEADLINE, State};
use crate::grant::{
    AclView, Direction, EntrySpec, Grant, GrantId, Record, TAGS_PER_RESOURCE_MAX, record,
};

/// Where a new grant's rule number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// Exactly this number, or fail.
    Explicit(i32),
    /// The lowest free number in this inclusive range.
    Lowest(i32, i32),
}

/// A grant to create.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub acl_id: String,
    /// The entry; its `rule_number` is replaced by the one numbering picks.
    pub entry: EntrySpec,
    pub numbering: Numbering,
    pub ttl: Ttl,
    pub ttl_text: String,
    pub requested_by: Option<String>,
    pub reason: Option<String>,
}

/// Why a grant could not be created. Unless said otherwise, nothing was left behind.
#[derive(Debug)]
pub enum CreateError {
    AclMissing,
    TagsFull(usize),
    /// The explicit number is held: by what.
    Taken(i32, String),
    NoFreeNumber(i32, i32),
    /// `NetworkAclEntryLimitExceeded`: the direction is full.
    Quota(usize),
    /// The intent was older than [`INTENT_DEADLINE`] before the entry was created.
    TooSlow,
    /// An AWS call failed. With `left`, the grant may exist in AWS in part (an entry whose
    /// record is this intent, or a committed record whose rollback failed): the caller keeps it
    /// (Terraform: in state, tainted, so the next apply removes it), and the record covers it
    /// with its expiry meanwhile.
    Aws {
        step: &'static str,
        error: AwsError,
        left: Option<Box<Record>>,
    },
    /// No randomness for an id.
    Id(String),
}

impl CreateError {
    pub fn message(&self, g: &NewGrant) -> String {
        let acl = &g.acl_id;
        let dir = g.entry.direction;
        match self {
            CreateError::AclMissing => {
                format!("network ACL {acl} does not exist in this account and region")
            }
            CreateError::TagsFull(n) => format!(
                "{acl} already carries {n} tags, AWS's maximum of {TAGS_PER_RESOURCE_MAX}; each jit grant needs one. Let grants expire or run `jitctl sweep`"
            ),
            CreateError::Taken(n, holder) => format!(
                "rule number {n} ({dir}) on {acl} is already taken by {holder}; jit never replaces an entry. Pick another rule_number, or omit it to use the next free one in the provider's rule_numbers range"
            ),
            CreateError::NoFreeNumber(from, to) => format!(
                "every {dir} rule number in the provider's rule_numbers range {from}-{to} on {acl} is taken; widen the range, set rule_number explicitly, or let grants expire"
            ),
            CreateError::Quota(n) => format!(
                "{acl} already holds {n} {dir} entries, and AWS refused another (NetworkAclEntryLimitExceeded; the default quota is 20 per direction): remove one, or ask AWS to raise the quota to 40"
            ),
            CreateError::TooSlow => format!(
                "creating the grant on {acl} took longer than {INTENT_DEADLINE}, so it was abandoned before its entry was created (nothing is left open); run the apply again"
            ),
            CreateError::Aws { step, error, left } => {
                let mut m = format!("could not {step}: {error}");
                if left.is_some() {
                    m.push_str(&format!(
                        "; the grant may be partly created, and its record (which expires like the grant) covers what is there: it stays in state, tainted, so the next apply removes it; `jitctl sweep` also removes it once abandoned (after {})",
                        lifecycle::INTENT_GRACE
                    ));
                }
                m
            }
            CreateError::Id(e) => e.clone(),
        }
    }
}

fn aws(step: &'static str, error: AwsError) -> CreateError {
    CreateError::Aws {
        step,
        error,
        left: None,
    }
}

/// What holds a rule number, for the "taken" error.
pub fn holder(view: &AclView, direction: Direction, n: i32) -> String {
    let records = view.records();
    match (
        view.entry(direction, n),
        lifecycle::owner(view, &records, direction, n),
    ) {
        (Some(e), Some(r)) => format!(
            "{}, a jit grant{} expiring {}",
            e.describe(),
            r.grant
                .requested_by
                .as_ref()
                .map(|b| format!(" for {b}"))
                .unwrap_or_default(),
            format_rfc3339(r.grant.expires_at)
        ),
        (Some(e), None) => format!("{}, not managed by jit", e.describe()),
        (None, _) => "another jit grant being created at the same moment".into(),
    }
}

/// Creates a grant: intent, check, entry, commit (see the module documentation).
pub async fn create(nacls: &Nacls, clock: &dyn Clock, g: &NewGrant) -> Result<Record, CreateError> {
    let id = GrantId::random().map_err(CreateError::Id)?;
    let acl = g.acl_id.as_str();
    let key = record::tag_key(&id);
    // Automatic numbering in one process is serialised per ACL (terraform applies ten at a
    // time); other processes are kept apart by the intent check.
    let _lock = match g.numbering {
        Numbering::Lowest(..) => Some(nacls.allocation_lock(acl).await),
        Numbering::Explicit(_) => None,
    };
    let created_at = clock.now();
    let mut view = nacls
        .view_uncached(acl)
        .await
        .map_err(|e| aws("read the network ACL", e))?
        .ok_or(CreateError::AclMissing)?;
    let mut passed = BTreeSet::new();
    loop {
        if view.tags.len() >= TAGS_PER_RESOURCE_MAX {
            return Err(CreateError::TagsFull(view.tags.len()));
        }
        let records = view.records();
        let free =
            |n: i32| lifecycle::is_free(&view, &records, g.entry.direction, n, &id, clock.now());
        let n = match g.numbering {
            Numbering::Explicit(n) if free(n) => n,
            Numbering::Explicit(n) => {
                return Err(CreateError::Taken(n, holder(&view, g.entry.direction, n)));
            }
            Numbering::Lowest(from, to) => (from..=to)
                .find(|n| !passed.contains(n) && free(*n))
                .ok_or(CreateError::NoFreeNumber(from, to))?,
        };
        let intent = Record {
            id: id.clone(),
            grant: Grant {
                entry: EntrySpec {
                    rule_number: n,
                    ..g.entry.clone()
                },
                created_at,
                expires_at: created_at + g.ttl.as_time(),
                ttl: g.ttl_text.clone(),
                requested_by: g.requested_by.clone(),
                reason: g.reason.clone(),
                revoked_at: None,
            },
            pending: true,
        };
        let spec = &intent.grant.entry;

        // 1. The intent, before anything is opened.
        if let Err(e) = nacls.put_tag(acl, &key, &intent.tag_value()).await {
            if e.code() == Some("TagLimitExceeded") {
                // Another writer took the last free tag since the read: nothing was written.
                return Err(CreateError::TagsFull(TAGS_PER_RESOURCE_MAX));
            }
            // Its outcome is unknown; an intent without an entry opens nothing, and is rolled
            // back once abandoned if this delete does not get through either.
            let _ = nacls.delete_tag(acl, &key, None).await;
            return Err(aws("write the grant's record", e));
        }
        // 2. Back off if another writer holds the number or an entry appeared there.
        view = match nacls.view_uncached(acl).await {
            Ok(Some(v)) => v,
            Ok(None) => return Err(CreateError::AclMissing),
            Err(e) => {
                let _ = nacls.delete_tag(acl, &key, None).await;
                return Err(aws("read the network ACL", e));
            }
        };
        let records = view.records();
        if !lifecycle::is_free(&view, &records, spec.direction, n, &id, clock.now()) {
            let holder = holder(&view, spec.direction, n);
            retract(nacls, acl, &key).await?;
            match g.numbering {
                Numbering::Explicit(_) => return Err(CreateError::Taken(n, holder)),
                Numbering::Lowest(..) => {
                    passed.insert(n);
                    continue;
                }
            }
        }
        if clock.now() - created_at > INTENT_DEADLINE {
            retract(nacls, acl, &key).await?;
            return Err(CreateError::TooSlow);
        }
        // 3. The entry.
        match nacls.create_entry(acl, spec).await {
            Ok(CreateOutcome::Created) => {}
            Ok(CreateOutcome::NumberTaken) => {
                // After a lost response the SDK's retry meets our own entry. Ours it is if it
                // is exactly what we asked for: since step 2, no jit writer creates here.
                view = nacls
                    .view_uncached(acl)
                    .await
                    .map_err(|e| left_open(e, "read the network ACL", &intent))?
                    .ok_or(CreateError::AclMissing)?;
                if !view
                    .entry(spec.direction, n)
                    .is_some_and(|e| e.matches(spec))
                {
                    let holder = holder(&view, spec.direction, n);
                    retract(nacls, acl, &key).await?;
                    match g.numbering {
                        Numbering::Explicit(_) => return Err(CreateError::Taken(n, holder)),
                        Numbering::Lowest(..) => {
                            passed.insert(n);
                            continue;
                        }
                    }
                }
            }
            Err(e) => {
                // The outcome is unknown: look.
                let seen = nacls.view_uncached(acl).await;
                match seen {
                    Ok(Some(v)) if v.entry(spec.direction, n).is_some_and(|x| x.matches(spec)) => {}
                    Ok(v) => {
                        retract(nacls, acl, &key).await?;
                        if e.code() == Some("NetworkAclEntryLimitExceeded") {
                            let held = v.map_or(0, |v| {
                                v.entries
                                    .iter()
                                    .filter(|x| {
                                        x.direction == spec.direction && x.rule_number <= 32766
                                    })
                                    .count()
                            });
                            return Err(CreateError::Quota(held));
                        }
                        return Err(aws("create the network ACL entry", e));
                    }
                    Err(_) => return Err(left_open(e, "create the network ACL entry", &intent)),
                }
            }
        }
        // 4. Commit.
        let committed = Record {
            pending: false,
            ..intent.clone()
        };
        if let Err(e) = nacls.put_tag(acl, &key, &committed.tag_value()).await {
            // Roll back: the entry is ours (we hold the only intent for it).
            let rollback = async {
                delete_entry(nacls, &view, spec).await?;
                nacls.delete_tag(acl, &key, None).await
            };
            return Err(match rollback.await {
                Ok(()) => aws("record the grant (the entry was removed again)", e),
                Err(_) => left_open(e, "record the grant", &intent),
            });
        }
        tidy_leftovers(nacls, &view, &committed).await;
        if let Numbering::Lowest(from, to) = g.numbering {
            let guard = Guard {
                range: Some((from, to)),
                deny: false,
            };
            roll_back_abandoned(nacls, &view, &committed.id, clock.now(), guard).await;
        }
        return Ok(committed);
    }
}

/// An error after which the entry may exist: its record stays and covers it.
fn left_open(error: AwsError, step: &'static str, record: &Record) -> CreateError {
    CreateError::Aws {
        step,
        error,
        left: Some(Box::new(record.clone())),
    }
}

/// Deletes our own intent after backing off.
async fn retract(nacls: &Nacls, acl: &str, key: &str) -> Result<(), CreateError> {
    nacls
        .delete_tag(acl, key, None)
        .await
        .map_err(|e| aws("withdraw the grant's intent", e))
}

/// Records of ended grants that named our new number (an entry removed by hand, an expiry
/// nobody swept) are dead: the entry there is ours now. Deleted only with the value seen, and
/// only if not revoked (a revoke marker keeps the old grant `revoked` until its expiry).
/// Best effort: the sweep deletes what this misses.
async fn tidy_leftovers(nacls: &Nacls, view: &AclView, new: &Record) {
    let entry = &new.grant.entry;
    for r in view.records() {
        if r.id != new.id
            && !r.pending
            && r.grant.revoked_at.is_none()
            && r.grant.entry.direction == entry.direction
            && r.grant.entry.rule_number == entry.rule_number
            && let Some(value) = view.tags.get(&r.tag_key())
        {
            let _ = nacls
                .delete_tag(&view.acl_id, &r.tag_key(), Some(value))
                .await;
        }
    }
}

/// Intents on the ACL whose writers are gone (a terraform killed between intent and commit, before
/// the grant id reached its state) are rolled back by the next grant numbered there, as the sweep
/// would: each re-read right before acting, within `guard` (what a grant numbered in this range
/// could have made). Best effort: the sweep removes what this misses.
async fn roll_back_abandoned(
    nacls: &Nacls,
    view: &AclView,
    mine: &GrantId,
    now: OffsetDateTime,
    guard: Guard,
) {
    for r in view.records() {
        if &r.id != mine && lifecycle::is_abandoned(&r, now) {
            let _ = sweep_one(nacls, &view.acl_id, &r.id, now, guard).await;
        }
    }
}

/// Which entries a removal may delete. The provider deletes whatever its own grants own; the
/// sweeper, which acts on records anyone allowed to tag the ACL could have written, only what a
/// real grant could have made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Rule numbers jit numbers in.
    pub range: Option<(i32, i32)>,
    /// Whether deny entries may be deleted.
    pub deny: bool,
}

impl Guard {
    pub const NONE: Guard = Guard {
        range: None,
        deny: true,
    };

    pub fn allows(self, spec: &EntrySpec) -> bool {
        self.range
            .is_none_or(|(from, to)| (from..=to).contains(&spec.rule_number))
            && (self.deny || spec.action == crate::grant::RuleAction::Allow)
    }
}

/// What a removal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Removed {
    pub entry: bool,
    pub record: bool,
    /// The ACL no longer exists (nor, then, the grant).
    pub acl_gone: bool,
    /// The grant owns an entry the guard did not allow to delete; nothing was changed.
    pub guarded: bool,
}

/// Removes grant `id` (whose entry, as last known, is `spec`): its entry while it owns it, then
/// its record. With `unrecorded_ok`, an entry exactly matching `spec` that no record owns is
/// taken as this grant's (its record vanished); only the provider, which knows the grant from
/// state, passes it.
pub async fn remove(
    nacls: &Nacls,
    acl: &str,
    id: &GrantId,
    spec: &EntrySpec,
    unrecorded_ok: bool,
    guard: Guard,
) -> Result<Removed, (String, AwsError)> {
    let Some(view) = fresh(nacls, acl).await? else {
        return Ok(Removed {
            acl_gone: true,
            ..Removed::default()
        });
    };
    remove_on(nacls, &view, id, spec, unrecorded_ok, guard).await
}

/// A snapshot of the ACL read right before a write (`None`: the ACL is gone).
async fn fresh(nacls: &Nacls, acl: &str) -> Result<Option<AclView>, (String, AwsError)> {
    Ok(nacls
        .view_uncached(acl)
        .await
        .map_err(|e| ("read the network ACL".to_string(), e))?
        .map(|v| (*v).clone()))
}

/// [`remove`], deciding on `view`, a snapshot just read.
async fn remove_on(
    nacls: &Nacls,
    view: &AclView,
    id: &GrantId,
    spec: &EntrySpec,
    unrecorded_ok: bool,
    guard: Guard,
) -> Result<Removed, (String, AwsError)> {
    let acl = view.acl_id.as_str();
    let records = view.records();
    let mine = records.iter().find(|r| &r.id == id);
    let spec = mine.map_or(spec, |r| &r.grant.entry);
    let owner = lifecycle::owner(view, &records, spec.direction, spec.rule_number);
    let owns = match owner {
        Some(o) => &o.id == id,
        None => {
            unrecorded_ok
                && mine.is_none()
                && view
                    .entry(spec.direction, spec.rule_number)
                    .is_some_and(|e| e.matches(spec))
        }
    };
    let mut done = Removed::default();
    if owns {
        if !guard.allows(spec) {
            done.guarded = true;
            return Ok(done);
        }
        delete_entry(nacls, view, spec)
            .await
            .map_err(|e| ("delete the network ACL entry".to_string(), e))?;
        done.entry = true;
    }
    if let Some(r) = mine {
        let key = r.tag_key();
        // A legacy record is keyed by its number, which a legacy grant of another workspace may
        // share: only the value seen. A new record's key is its id: ours alone.
        let seen = if id.is_legacy() {
            view.tags.get(&key).map(String::as_str)
        } else {
            None
        };
        nacls
            .delete_tag(acl, &key, seen)
            .await
            .map_err(|e| ("delete the grant's record".to_string(), e))?;
        done.record = true;
    }
    Ok(done)
}

/// Deletes the entry `spec`, as decided on `view`, a snapshot read right before. A delete whose
/// outcome is unknown is repeated only while no writer arrived at the number since
/// ([`lifecycle::after_unknown_delete`]): once the first delete landed, a new grant may take the
/// number at once, and a blind repeat would delete the new grant's entry.
async fn delete_entry(nacls: &Nacls, view: &AclView, spec: &EntrySpec) -> Result<(), AwsError> {
    let seen: BTreeSet<String> = view.records().iter().map(Record::tag_key).collect();
    nacls
        .delete_entry(&view.acl_id, spec, |now| {
            lifecycle::after_unknown_delete(now, spec, &seen)
        })
        .await
}

/// The result of an in-place update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    Written(Record),
    /// `jitctl revoke` marked the grant meanwhile: nothing was written, the marker stays.
    Revoked(OffsetDateTime),
}

/// Rewrites grant `id`'s record with `grant` (a new TTL, reason or requester; or the record
/// written again after it vanished). Re-reads the record first, so a revoke marker written
/// since the plan is never cleared.
pub async fn update(
    nacls: &Nacls,
    acl: &str,
    id: &GrantId,
    grant: &Grant,
) -> Result<Updated, (String, AwsError)> {
    let view = fresh(nacls, acl).await?.unwrap_or_default();
    if let Some(at) = view
        .records()
        .iter()
        .find(|r| &r.id == id)
        .and_then(|r| r.grant.revoked_at)
    {
        return Ok(Updated::Revoked(at));
    }
    let record = Record {
        id: id.clone(),
        grant: Grant {
            revoked_at: None,
            ..grant.clone()
        },
        pending: false,
    };
    nacls
        .put_tag(acl, &record.tag_key(), &record.tag_value())
        .await
        .map_err(|e| ("write the grant's record".to_string(), e))?;
    Ok(Updated::Written(record))
}

/// Whether the sweep ends a grant in `state`: expired, abandoned, or (for a record whose entry
/// is gone already) past its expiry.
pub fn sweep_ends(state: State, record: &Record, now: OffsetDateTime) -> bool {
    match state {
        // A revoke cut short between its marker and the entry's delete is finished.
        State::Expired | State::Abandoned | State::Revoking => true,
        State::Revoked | State::Missing | State::Reused => {
            lifecycle::is_expired(&record.grant, now)
        }
        State::Active | State::Pending => false,
    }
}

/// The sweep of one grant, decided on a snapshot read right before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swept {
    /// The fresh snapshot no longer warrants removal (the grant changed or is gone).
    Nothing,
    Removed(Removed, Record, State),
}

/// Re-reads the ACL, and removes grant `id` if it still should go.
pub async fn sweep_one(
    nacls: &Nacls,
    acl: &str,
    id: &GrantId,
    now: OffsetDateTime,
    guard: Guard,
) -> Result<Swept, (String, AwsError)> {
    let Some(view) = fresh(nacls, acl).await? else {
        return Ok(Swept::Nothing);
    };
    let records = view.records();
    let Some(record) = records.iter().find(|r| &r.id == id) else {
        return Ok(Swept::Nothing);
    };
    let state = lifecycle::state(record, &view, &records, now);
    if !sweep_ends(state, record, now) {
        return Ok(Swept::Nothing);
    }
    // Decided and carried out on the same snapshot: one read per grant.
    if state == State::Revoking && !lifecycle::is_expired(&record.grant, now) {
        // Finish the revoke: the entry goes; the marked record stays until the grant's expiry,
        // so that no apply re-creates the grant meanwhile.
        let spec = &record.grant.entry;
        let mut done = Removed::default();
        if guard.allows(spec) {
            delete_entry(nacls, &view, spec)
                .await
                .map_err(|e| ("delete the network ACL entry".to_string(), e))?;
            done.entry = true;
        } else {
            done.guarded = true;
        }
        return Ok(Swept::Removed(done, record.clone(), state));
    }
    let removed = remove_on(nacls, &view, id, &record.grant.entry, false, guard).await?;
    Ok(Swept::Removed(removed, record.clone(), state))
}

/// What `revoke` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeOutcome {
    pub record: Record,
    pub revoked_at: OffsetDateTime,
    pub already: bool,
    pub entry_deleted: bool,
    /// The entry at the grant's number, when it is not the grant's.
    pub other_entry: Option<String>,
}

/// Ends grant `id` now: marks its record revoked, then deletes its entry while it owns it. The
/// marker goes first: a revoke cut short leaves a marked grant (`revoking`), whose entry the
/// next revoke or sweep removes, and the provider never re-creates a marked grant.
pub async fn revoke(
    nacls: &Nacls,
    view: &AclView,
    record: &Record,
    now: OffsetDateTime,
) -> Result<RevokeOutcome, String> {
    let acl = view.acl_id.as_str();
    let records = view.records();
    let spec = &record.grant.entry;
    let owns = lifecycle::owns(view, &records, record);
    let other_entry = view
        .entry(spec.direction, spec.rule_number)
        .filter(|_| !owns)
        .map(|e| e.describe());
    if let (Some(at), false) = (record.grant.revoked_at, owns) {
        return Ok(RevokeOutcome {
            record: record.clone(),
            revoked_at: at,
            already: true,
            entry_deleted: false,
            other_entry,
        });
    }
    let revoked_at = record.grant.revoked_at.unwrap_or(now);
    let marked = Record {
        grant: Grant {
            revoked_at: Some(revoked_at),
            ..record.grant.clone()
        },
        ..record.clone()
    };
    if record.grant.revoked_at.is_none() {
        nacls
            .put_tag(acl, &marked.tag_key(), &marked.tag_value())
            .await
            .map_err(|e| format!("could not write the revoke marker: {e}; nothing was changed and the grant is still open"))?;
    }
    if owns {
        delete_entry(nacls, view, spec)
            .await
            .map_err(|e| format!("the revoke marker is written, but the entry could not be deleted: {e}; the grant is still open. Run the revoke again"))?;
    }
    Ok(RevokeOutcome {
        record: marked,
        revoked_at,
        already: false,
        entry_deleted: owns,
        other_entry,
    })
}

#[cfg(test)]
mod tests;
