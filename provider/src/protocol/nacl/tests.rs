//! Every intermediate state of the write protocol, and random faults, against the strict fake.

use std::sync::{Arc, Mutex};

use time::Duration;

use super::*;
use crate::aws::nacl::fake::{FakeNacl, Fault};
use crate::grant::{AclEntry, Ports, Protocol, RuleAction};

const ACL: &str = "acl-0123456789abcdef0";

/// A clock the test moves.
struct TestClock(Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

fn clock(epoch: i64) -> TestClock {
    TestClock(Mutex::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + epoch).unwrap(),
    ))
}

fn new_grant(cidr: &str, numbering: Numbering) -> NewGrant {
    NewGrant {
        acl_id: ACL.into(),
        entry: EntrySpec {
            direction: Direction::Ingress,
            rule_number: 1,
            cidr: cidr.parse().unwrap(),
            protocol: Protocol::UDP,
            ports: Some(Ports { from: 500, to: 500 }),
            action: RuleAction::Allow,
        },
        numbering,
        ttl: crate::duration::Ttl(7200),
        ttl_text: "2h".into(),
        requested_by: Some("alice".into()),
        reason: None,
    }
}

const AUTO: Numbering = Numbering::Lowest(100, 199);

/// Every attempt of one entry delete throttled: jit repeats a delete itself (the SDK never does),
/// as often as the SDK would retry.
const A_DELETE_THROTTLED_THROUGHOUT: [Fault; crate::aws::MAX_ATTEMPTS as usize] =
    [Fault::Before; crate::aws::MAX_ATTEMPTS as usize];

fn nacls(fake: &FakeNacl) -> Nacls {
    Nacls::new(Arc::new(fake.clone()), crate::aws::Repeat::IMMEDIATE)
}

/// One ACL holding one grant for 203.0.113.7/32, created at the clock's start.
async fn one_grant() -> (FakeNacl, TestClock, Nacls, Record) {
    let fake = FakeNacl::with_acl(ACL);
    let c = clock(0);
    let n = nacls(&fake);
    let r = create(&n, &c, &new_grant("203.0.113.7/32", AUTO))
        .await
        .unwrap();
    (fake, c, n, r)
}

/// A create cut short between its entry and its commit, as by a killed creator: the commit and
/// every attempt of the rollback's entry delete fail, so the entry stays, covered by the intent
/// that `create` reports as left behind (returned). The creator's clock is `clock(0)`.
async fn a_create_cut_short_after_its_entry() -> (FakeNacl, Record) {
    let fake = FakeNacl::with_acl(ACL);
    let c = clock(0);
    // intent, entry, commit (fails), the rollback's entry delete (fails throughout).
    fake.faults(&[Fault::None, Fault::None, Fault::Before]);
    fake.faults(&A_DELETE_THROTTLED_THROUGHOUT);
    let err = create(&nacls(&fake), &c, &new_grant("203.0.113.7/32", AUTO))
        .await
        .unwrap_err();
    let CreateError::Aws {
        left: Some(left), ..
    } = err
    else {
        panic!("{err:?}");
    };
    (fake, *left)
}

/// The invariants the protocol promises, checked on the fake's ACL: every entry in jit's range
/// is owned by a record, every committed record that is neither revoked nor expired owns its
/// entry, and no two records own one entry (ownership is a function).
fn assert_converged(fake: &FakeNacl, now: OffsetDateTime, foreign: &[i32]) {
    let view = fake.get(ACL);
    let records = view.records();
    for e in view
        .entries
        .iter()
        .filter(|e| !foreign.contains(&e.rule_number))
    {
        assert!(
            lifecycle::owner(&view, &records, e.direction, e.rule_number).is_some(),
            "entry without its record: {e:?}\n{view:#?}"
        );
    }
    for r in &records {
        let state = lifecycle::state(r, &view, &records, now);
        assert!(
            matches!(state, State::Active),
            "record not converged ({state:?}): {r:?}\n{view:#?}"
        );
    }
}

#[tokio::test]
async fn a_plain_create_writes_intent_then_entry_then_commit() {
    let fake = FakeNacl::with_acl(ACL);
    let c = clock(0);
    let r = create(&nacls(&fake), &c, &new_grant("203.0.113.7/32", AUTO))
        .await
        .unwrap();
    assert!(!r.pending);
    assert_eq!(r.grant.entry.rule_number, 100);
    let view = fake.get(ACL);
    assert_eq!(view.tags[&r.tag_key()], r.tag_value());
    assert_converged(&fake, c.now(), &[]);
}

/// Regression: CreateNetworkAclEntry succeeded, its response was lost, the SDK's retry got
/// `NetworkAclEntryAlreadyExists`, and numbering moved on, leaking the first entry untagged.
#[tokio::test]
async fn a_lost_create_response_is_adopted_not_leaked() {
    for fault in [Fault::Retried, Fault::After] {
        let fake = FakeNacl::with_acl(ACL);
        // Writes: intent, entry (faulted), commit.
        fake.faults(&[Fault::None, fault]);
        let c = clock(0);
        let r = create(&nacls(&fake), &c, &new_grant("203.0.113.7/32", AUTO))
            .await
            .unwrap();
        assert_eq!(r.grant.entry.rule_number, 100, "{fault:?}");
        assert_eq!(
            fake.get(ACL).entries.len(),
            1,
            "{fault:?}: one entry, no leak"
        );
        assert_converged(&fake, c.now(), &[]);
    }
}

/// Regression: with an explicit rule_number, the lost response made the grant's own entry
/// read as "taken by … not managed by jit", forever.
#[tokio::test]
async fn a_lost_create_response_with_an_explicit_number_is_adopted() {
    let fake = FakeNacl::with_acl(ACL);
    fake.faults(&[Fault::None, Fault::Retried]);
    let c = clock(0);
    let r = create(
        &nacls(&fake),
        &c,
        &new_grant("203.0.113.7/32", Numbering::Explicit(150)),
    )
    .await
    .unwrap();
    assert_eq!(r.grant.entry.rule_number, 150);
    assert_converged(&fake, c.now(), &[]);
}

#[tokio::test]
async fn a_failed_intent_write_leaves_nothing() {
    for fault in [Fault::Before, Fault::After] {
        let fake = FakeNacl::with_acl(ACL);
        fake.faults(&[fault]);
        let err = create(&nacls(&fake), &clock(0), &new_grant("203.0.113.7/32", AUTO))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CreateError::Aws { left: None, .. }),
            "{fault:?}: {err:?}"
        );
        let view = fake.get(ACL);
        assert!(
            view.entries.is_empty() && view.tags.is_empty(),
            "{fault:?}: {view:?}"
        );
    }
}

/// Regression: a tag write that AWS stored but whose response was lost was rolled back by
/// deleting the entry and keeping the tag.
#[tokio::test]
async fn a_failed_commit_rolls_back_entry_and_record() {
    for fault in [Fault::Before, Fault::After] {
        let fake = FakeNacl::with_acl(ACL);
        fake.faults(&[Fault::None, Fault::None, fault]);
        let err = create(&nacls(&fake), &clock(0), &new_grant("203.0.113.7/32", AUTO))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CreateError::Aws { left: None, .. }),
            "{fault:?}: {err:?}"
        );
        let view = fake.get(ACL);
        assert!(
            view.entries.is_empty() && view.tags.is_empty(),
            "{fault:?}: {view:?}"
        );
    }
}

#[tokio::test]
async fn a_commit_whose_rollback_also_fails_leaves_a_covered_grant_to_keep() {
    let (fake, left) = a_create_cut_short_after_its_entry().await;
    let view = fake.get(ACL);
    assert_eq!(view.entries.len(), 1);
    let records = view.records();
    assert_eq!(records.len(), 1, "the entry stays covered by its intent");
    assert_eq!(
        lifecycle::owner(&view, &records, Direction::Ingress, 100)
            .unwrap()
            .id,
        left.id
    );
    // The caller keeps it; its removal (the next apply's destroy of the tainted resource) is clean.
    remove(
        &nacls(&fake),
        ACL,
        &left.id,
        &left.grant.entry,
        true,
        Guard::NONE,
    )
    .await
    .unwrap();
    let view = fake.get(ACL);
    assert!(view.entries.is_empty() && view.tags.is_empty(), "{view:?}");
}

#[tokio::test]
async fn an_unknown_create_outcome_that_did_not_act_withdraws_the_intent() {
    let fake = FakeNacl::with_acl(ACL);
    fake.faults(&[Fault::None, Fault::Before]);
    let g = new_grant("203.0.113.7/32", AUTO);
    let err = create(&nacls(&fake), &clock(0), &g).await.unwrap_err();
    assert!(
        matches!(err, CreateError::Aws { left: None, .. }),
        "{err:?}"
    );
    assert!(
        err.message(&g).contains("Request limit exceeded"),
        "{}",
        err.message(&g)
    );
    let view = fake.get(ACL);
    assert!(view.entries.is_empty() && view.tags.is_empty(), "{view:?}");
}

#[tokio::test]
async fn a_full_direction_says_so_and_leaves_nothing() {
    let fake = FakeNacl::with_acl(ACL);
    fake.update(ACL, |v| {
        for n in 1..=20 {
            v.entries.push(AclEntry {
                direction: Direction::Ingress,
                rule_number: n,
                protocol: Protocol::ALL,
                action: RuleAction::Deny,
                cidr: Some("10.0.0.0/8".parse().unwrap()),
                ports: None,
            });
        }
    });
    let g = new_grant("203.0.113.7/32", AUTO);
    let err = create(&nacls(&fake), &clock(0), &g).await.unwrap_err();
    assert!(matches!(err, CreateError::Quota(20)), "{err:?}");
    let m = err.message(&g);
    assert!(
        m.contains("already holds 20 ingress entries") && m.contains("raise the quota to 40"),
        "{m}"
    );
    assert!(fake.get(ACL).tags.is_empty());
    // Quotas can be raised to 40.
    fake.entry_quota(40);
    create(&nacls(&fake), &clock(0), &g).await.unwrap();
}

/// Two processes (their own `Nacls`, so no shared lock) numbering grants on one ACL at once.
#[tokio::test]
async fn two_processes_never_share_a_number() {
    let fake = FakeNacl::with_acl(ACL);
    let c = Arc::new(clock(0));
    let mut tasks = Vec::new();
    for p in 0..2 {
        for i in 0..8 {
            let n = Arc::new(nacls(&fake));
            let c = c.clone();
            let _ = p;
            tasks.push(tokio::spawn(async move {
                create(
                    &n,
                    c.as_ref(),
                    &new_grant(&format!("203.0.113.{i}/32"), AUTO),
                )
                .await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let view = fake.get(ACL);
    assert_eq!(view.entries.len(), 16);
    assert_eq!(view.records().len(), 16);
    assert_converged(&fake, c.now(), &[]);
}

#[tokio::test]
async fn abandoned_intents_are_rolled_back_by_sweep_one() {
    let (fake, left) = a_create_cut_short_after_its_entry().await;
    let c = clock(0);
    let n = nacls(&fake);
    let soon = c.now() + Duration::minutes(1);
    assert_eq!(
        sweep_one(&n, ACL, &left.id, soon, Guard::NONE)
            .await
            .unwrap(),
        Swept::Nothing
    );
    let later = c.now() + lifecycle::INTENT_GRACE;
    assert!(matches!(
        sweep_one(&n, ACL, &left.id, later, Guard::NONE)
            .await
            .unwrap(),
        Swept::Removed(
            Removed {
                entry: true,
                record: true,
                ..
            },
            _,
            State::Abandoned
        )
    ));
    let view = fake.get(ACL);
    assert!(view.entries.is_empty() && view.tags.is_empty(), "{view:?}");
}

/// Another writer takes the ACL's last free tag between the create's read and its intent write:
/// AWS's `TagLimitExceeded` is told as the full ACL it is, and nothing is left.
#[tokio::test]
async fn the_last_tag_taken_meanwhile_is_a_full_acl_not_a_raw_error() {
    let fake = FakeNacl::with_acl(ACL);
    fake.update(ACL, |a| {
        for i in 0..49 {
            a.tags.insert(format!("team-{i}"), "x".into());
        }
    });
    fake.before_call(2, |a| {
        a.tags.insert("late".into(), "x".into());
    });
    let err = create(&nacls(&fake), &clock(0), &new_grant("203.0.113.7/32", AUTO))
        .await
        .unwrap_err();
    assert!(matches!(err, CreateError::TagsFull(50)), "{err:?}");
    let g = new_grant("203.0.113.7/32", AUTO);
    assert!(
        err.message(&g).contains("AWS's maximum of 50"),
        "{}",
        err.message(&g)
    );
    let view = fake.get(ACL);
    assert!(view.entries.is_empty() && view.tags.len() == 50, "{view:?}");
}

/// Regression (crash matrix): a terraform killed between intent and commit never wrote the grant
/// id to its state, so only the ACL knows the intent; the next grant numbered there rolls it back.
#[tokio::test]
async fn the_next_create_rolls_back_an_abandoned_intent() {
    let (fake, left) = a_create_cut_short_after_its_entry().await;
    // Within the grace the intent's writer may still be at work: left alone.
    let soon = clock(60);
    let second = create(&nacls(&fake), &soon, &new_grant("203.0.113.8/32", AUTO))
        .await
        .unwrap();
    assert!(fake.get(ACL).tags.contains_key(&left.tag_key()));
    let later = clock(lifecycle::INTENT_GRACE.whole_seconds());
    let third = create(&nacls(&fake), &later, &new_grant("203.0.113.9/32", AUTO))
        .await
        .unwrap();
    let view = fake.get(ACL);
    assert!(!view.tags.contains_key(&left.tag_key()), "{view:#?}");
    assert!(
        view.entry(Direction::Ingress, left.grant.entry.rule_number)
            .is_none()
    );
    let records = view.records();
    assert!(lifecycle::owns(&view, &records, &second) && lifecycle::owns(&view, &records, &third));
    assert_converged(&fake, later.now(), &[]);
}

/// Regression (crash matrix): a `jitctl revoke` killed between its marker and the entry's delete
/// left a `revoking` grant that the sweep ignored until its expiry.
#[tokio::test]
async fn the_sweep_finishes_a_revoke_cut_short() {
    let (fake, c, n, r) = one_grant().await;
    // The marker is written, the delete fails.
    fake.faults(&[Fault::None]);
    fake.faults(&A_DELETE_THROTTLED_THROUGHOUT);
    let view = fake.get(ACL);
    assert!(revoke(&n, &view, &r, c.now()).await.is_err());
    let view = fake.get(ACL);
    let records = view.records();
    assert_eq!(
        lifecycle::state(&records[0], &view, &records, c.now()),
        State::Revoking
    );
    let swept = sweep_one(&n, ACL, &r.id, c.now(), Guard::NONE)
        .await
        .unwrap();
    assert!(
        matches!(
            swept,
            Swept::Removed(
                Removed {
                    entry: true,
                    record: false,
                    ..
                },
                _,
                State::Revoking
            )
        ),
        "{swept:?}"
    );
    // The marked record stays until the grant's expiry, so nothing re-creates it.
    let view = fake.get(ACL);
    let records = view.records();
    assert!(view.entries.is_empty(), "{view:#?}");
    assert_eq!(
        lifecycle::state(&records[0], &view, &records, c.now()),
        State::Revoked
    );
}

#[tokio::test]
async fn a_slow_creator_abandons_its_own_intent_before_opening_anything() {
    let fake = FakeNacl::with_acl(ACL);
    let c = Arc::new(clock(0));
    let c2 = c.clone();
    // The check read (second call) returns only after the deadline has passed.
    fake.before_call(3, move |_| {
        *c2.0.lock().unwrap() += INTENT_DEADLINE + Duration::seconds(1);
    });
    let err = create(
        &nacls(&fake),
        c.as_ref(),
        &new_grant("203.0.113.7/32", AUTO),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CreateError::TooSlow), "{err:?}");
    let view = fake.get(ACL);
    assert!(view.entries.is_empty() && view.tags.is_empty(), "{view:?}");
}

#[tokio::test]
async fn update_never_clears_a_revoke_marker() {
    let (fake, c, n, r) = one_grant().await;
    let view = fake.get(ACL);
    revoke(&n, &view, &r, c.now()).await.unwrap();
    let mut changed = r.grant.clone();
    changed.reason = Some("longer".into());
    let got = update(&n, ACL, &r.id, &changed).await.unwrap();
    assert_eq!(got, Updated::Revoked(c.now()));
    let after = Record::from_tag(&r.tag_key(), &fake.get(ACL).tags[&r.tag_key()]).unwrap();
    assert_eq!(after.grant.revoked_at, Some(c.now()));
    assert_eq!(after.grant.reason, None);
}

/// Random faults of every kind on every write, two processes, creates and removals; then a
/// calm sweep past the intent grace. Nothing may be left without its record, nothing foreign
/// touched.
#[tokio::test]
async fn random_faults_never_leak_or_touch_anything_foreign() {
    for seed in 1..=40u64 {
        for rate in [10, 30] {
            let fake = FakeNacl::with_acl(ACL);
            // Someone else's entry inside jit's range: 19 grants + 1 foreign = AWS's 20.
            let foreign = AclEntry {
                direction: Direction::Ingress,
                rule_number: 103,
                protocol: Protocol::ALL,
                action: RuleAction::Deny,
                cidr: Some("10.0.0.0/8".parse().unwrap()),
                ports: None,
            };
            fake.update(ACL, |v| v.entries.push(foreign.clone()));
            fake.chaos(seed * 7919 + rate, rate);
            let c = Arc::new(clock(0));
            let mut tasks = Vec::new();
            for i in 0..19 {
                let n = Arc::new(nacls(&fake));
                let c = c.clone();
                tasks.push(tokio::spawn(async move {
                    let g = new_grant(&format!("203.0.113.{}/32", i % 10), AUTO);
                    let made = create(&n, c.as_ref(), &g).await;
                    // Half of them are destroyed again (retried, as `terraform destroy` is until it succeeds).
                    let keep = match made {
                        Ok(r) => Some(r),
                        Err(CreateError::Aws { left: Some(r), .. }) => Some(*r),
                        Err(_) => None,
                    };
                    if let Some(r) = keep.filter(|_| i % 2 == 0) {
                        for _ in 0..50 {
                            if remove(&n, ACL, &r.id, &r.grant.entry, true, Guard::NONE)
                                .await
                                .is_ok()
                            {
                                break;
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            fake.calm();
            // Convergence: every ended or abandoned grant is swept.
            let n = nacls(&fake);
            let later = c.now() + lifecycle::INTENT_GRACE;
            for r in fake.get(ACL).records() {
                let _ = sweep_one(&n, ACL, &r.id, later, Guard::NONE).await.unwrap();
            }
            let view = fake.get(ACL);
            assert!(
                view.entries.contains(&foreign),
                "seed {seed}: the foreign entry survives"
            );
            // Records that remain are live grants; every entry has its record.
            let records = view.records();
            for e in view.entries.iter().filter(|e| e.rule_number != 103) {
                assert!(
                    lifecycle::owner(&view, &records, e.direction, e.rule_number).is_some(),
                    "seed {seed} rate {rate}: entry without record {e:?}\n{view:#?}"
                );
            }
            for r in &records {
                let state = lifecycle::state(r, &view, &records, later);
                assert!(
                    state == State::Active,
                    "seed {seed} rate {rate}: {state:?} {r:?}\n{view:#?}"
                );
            }
            assert!(fake.injected() > 0, "seed {seed}: faults were injected");
        }
    }
}

/// A committed grant `id` for `cidr` at `spec`'s number, as another process writes it.
fn newcomer(id: &str, spec: &EntrySpec, cidr: &str, created_at: OffsetDateTime) -> Record {
    Record {
        id: GrantId::parse(id).unwrap(),
        grant: Grant {
            entry: EntrySpec {
                cidr: cidr.parse().unwrap(),
                ..spec.clone()
            },
            created_at,
            expires_at: created_at + Duration::hours(2),
            ttl: "2h".into(),
            requested_by: Some("bob".into()),
            reason: None,
            revoked_at: None,
        },
        pending: false,
    }
}

/// Regression (CI, `sweep_racing_an_apply_under_faults`): the sweep's `DeleteNetworkAclEntry`
/// landed but its response was lost; another process numbered a new grant at the freed number at
/// once; the SDK's retry then deleted the new grant's entry, and the next grant there deleted the
/// new grant's record as a leftover, so a grant terraform had just created was gone. The delete
/// is now repeated only after a fresh read, which shows the newcomer: the sweep is done.
#[tokio::test]
async fn a_lost_delete_response_is_never_repeated_onto_a_grant_numbered_there_since() {
    let (fake, c, n, old) = one_grant().await;
    let later = c.now() + Duration::hours(3);
    let new = newcomer("bbbbbbbbbbbb", &old.grant.entry, "198.51.100.9/32", later);
    let (key, value) = (new.tag_key(), new.tag_value());
    let entry = AclEntry::from(&new.grant.entry);
    fake.faults(&[Fault::After]);
    fake.after_next_delete(move |v| {
        v.entries.push(entry);
        v.tags.insert(key, value);
    });
    let swept = sweep_one(&n, ACL, &old.id, later, Guard::NONE)
        .await
        .unwrap();
    assert!(
        matches!(
            swept,
            Swept::Removed(
                Removed {
                    entry: true,
                    record: true,
                    ..
                },
                _,
                State::Expired
            )
        ),
        "{swept:?}"
    );
    let view = fake.get(ACL);
    assert_eq!(view.entries, [AclEntry::from(&new.grant.entry)]);
    assert_eq!(view.records(), [new]);
    assert_converged(&fake, later, &[]);
}

/// A throttled delete (AWS did not act) is sent again once a fresh read shows the entry still
/// there, within one removal.
#[tokio::test]
async fn a_throttled_delete_is_repeated_after_a_fresh_read() {
    let (fake, _, n, r) = one_grant().await;
    fake.faults(&[Fault::Before, Fault::Before]);
    let (writes, describes) = (fake.writes(), fake.describes());
    let removed = remove(&n, ACL, &r.id, &r.grant.entry, false, Guard::NONE)
        .await
        .unwrap();
    assert!(removed.entry && removed.record, "{removed:?}");
    // Three deletes and the record's, one read to decide and one before each repeat.
    assert_eq!(fake.writes() - writes, 4);
    assert_eq!(fake.describes() - describes, 3);
    let view = fake.get(ACL);
    assert!(view.entries.is_empty() && view.tags.is_empty(), "{view:?}");
}

/// A delete that got no clear answer while another writer's intent appeared at the number is
/// neither repeated (the writer may be creating there) nor taken as done (it may be backing off):
/// the removal fails, the record stays, and the next removal decides on what it finds.
#[tokio::test]
async fn a_delete_is_left_for_later_when_another_writer_arrived_at_its_number() {
    let (fake, c, n, r) = one_grant().await;
    let mut intent = newcomer("cccccccccccc", &r.grant.entry, "198.51.100.9/32", c.now());
    intent.pending = true;
    let (key, value) = (intent.tag_key(), intent.tag_value());
    fake.faults(&[Fault::Before]);
    // Calls: the removal's read, the throttled delete, then the read that judges it.
    let judged_at = fake.calls() + 3;
    fake.before_call(judged_at, move |v| {
        v.tags.insert(key, value);
    });
    let err = remove(&n, ACL, &r.id, &r.grant.entry, false, Guard::NONE)
        .await
        .unwrap_err();
    assert_eq!(err.0, "delete the network ACL entry");
    assert!(err.1.is_transient(), "{err:?}");
    let view = fake.get(ACL);
    assert_eq!(view.entries, [AclEntry::from(&r.grant.entry)]);
    assert!(view.tags.contains_key(&r.tag_key()), "{view:?}");
    // The writer backed off and withdrew its intent: the next removal finishes.
    fake.update(ACL, |v| {
        v.tags.remove(&intent.tag_key());
    });
    let removed = remove(&n, ACL, &r.id, &r.grant.entry, false, Guard::NONE)
        .await
        .unwrap();
    assert!(removed.entry && removed.record, "{removed:?}");
}
