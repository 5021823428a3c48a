use std::sync::Arc;

use super::*;
use crate::aws::nacl::AclEntry;
use crate::aws::nacl::fake::FakeNacl;
use crate::resources::testing::{self, Fakes, error_paths, t};
use crate::tf::Severity;

const ACL: &str = "acl-0123456789abcdef0";

/// Someone else's entry at `n` on the test ACL (all protocols, ingress).
fn foreign(n: i32, action: RuleAction, cidr: &str) -> AclEntry {
    AclEntry {
        direction: Direction::Ingress,
        rule_number: n,
        protocol: Protocol::ALL,
        action,
        cidr: Some(cidr.parse().unwrap()),
        ports: None,
    }
}

fn add_foreign(fake: &FakeNacl, n: i32, action: RuleAction, cidr: &str) {
    fake.update(ACL, |acl| acl.entries.push(foreign(n, action, cidr)));
}

fn env(fake: &FakeNacl, now: &str) -> Env {
    let nacl = Arc::new(fake.clone());
    Fakes {
        nacl,
        ..Fakes::default()
    }
    .env(now, Settings::default())
}

fn config(pairs: &[(&str, Value)]) -> Value {
    let base = [
        ("network_acl_id", Value::from(ACL)),
        ("cidr_block", Value::from("203.0.113.7/32")),
        ("protocol", Value::from("udp")),
        ("from_port", Value::from(500i64)),
        ("ttl", Value::from("2h")),
    ];
    testing::config(&schema_block(), base.iter().chain(pairs))
}

async fn create(env: &Env, cfg: Value) -> (Value, Diagnostics) {
    testing::create(&AccessRule, env, &cfg).await
}

async fn destroy(env: &Env, state: Value) -> (Value, Diagnostics) {
    testing::destroy(&AccessRule, env, &state).await
}

/// The record in the fake of the grant in `state`.
fn record_of(fake: &FakeNacl, state: &Value) -> Record {
    let id = GrantId::parse(state.get("grant_id").value_str()).expect("a grant id in state");
    let key = record::tag_key(&id);
    Record::from_tag(&key, &fake.get(ACL).tags[&key]).unwrap()
}

#[test]
fn invalid_inputs_name_the_attribute() {
    type Case<'a> = (&'a [(&'a str, Value)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("cidr_block", Value::from("123.456.789.0/24"))],
            "cidr_block",
            "not a valid IPv4 or IPv6 CIDR",
        ),
        (
            &[("cidr_block", Value::from("203.0.113.7/24"))],
            "cidr_block",
            "did you mean 203.0.113.0/24?",
        ),
        (
            &[("from_port", Value::from(70000i64))],
            "from_port",
            "70000 is not a port",
        ),
        (
            &[
                ("from_port", Value::from(600i64)),
                ("to_port", Value::from(500i64)),
            ],
            "to_port",
            "lower than from_port",
        ),
        (
            &[("protocol", Value::from("all"))],
            "from_port",
            "has no ports",
        ),
        (
            &[("protocol", Value::from("bogus"))],
            "protocol",
            "\"bogus\" is not a protocol",
        ),
        (
            &[("protocol", Value::from("tcp")), ("from_port", Value::Null)],
            "from_port",
            "required for protocol tcp",
        ),
        (
            &[("rule_number", Value::from(0i64))],
            "rule_number",
            "outside 1-32766",
        ),
        (
            &[("rule_number", Value::from(40000i64))],
            "rule_number",
            "outside 1-32766",
        ),
        (
            &[("network_acl_id", Value::from("acl-xyz"))],
            "network_acl_id",
            "not a network ACL id",
        ),
        (&[("ttl", Value::from("0s"))], "ttl", "zero"),
        (&[("ttl", Value::from("-1h"))], "ttl", "negative"),
        (&[("ttl", Value::from("soon"))], "ttl", "not a duration"),
        (
            &[("rule_action", Value::from("maybe"))],
            "rule_action",
            "not \"allow\" or \"deny\"",
        ),
        (
            &[("reason", Value::from("x".repeat(300)))],
            "reason",
            "too long for its AWS tag",
        ),
        (
            &[
                ("protocol", Value::from("icmp")),
                ("from_port", Value::Null),
                ("cidr_block", Value::from("2001:db8::/64")),
            ],
            "protocol",
            "use \"icmpv6\"",
        ),
    ];
    for (pairs, want_path, want_msg) in cases {
        let d = AccessRule.validate(&config(pairs));
        assert_eq!(error_paths(&d), [*want_path], "for {pairs:?}: {d:?}");
        assert!(
            d.0[0].detail.contains(want_msg),
            "for {pairs:?}: {}",
            d.0[0].detail
        );
    }
}

#[test]
fn unknown_values_defer_validation() {
    let d = AccessRule.validate(&config(&[
        ("cidr_block", Value::Unknown),
        ("ttl", Value::Unknown),
    ]));
    assert!(d.0.is_empty(), "{d:?}");
}

#[tokio::test]
async fn provider_limits_apply_at_plan() {
    let fake = FakeNacl::with_acl(ACL);
    let mut env = env(&fake, "2026-11-23T12:00:00Z");
    env.settings.require_reason = true;
    let cfg = config(&[
        ("cidr_block", Value::from("0.0.0.0/0")),
        ("ttl", Value::from("13h")),
    ]);
    let plan = testing::plan(&AccessRule, &env, &Value::Null, &cfg, &cfg).await;
    assert_eq!(error_paths(&plan.diags), ["ttl", "reason", "cidr_block"]);
    assert!(plan.diags.0[0].detail.contains("max_ttl (12h)"));
    assert!(plan.diags.0[2].detail.contains("at most /24"));
}

#[tokio::test]
async fn create_writes_entry_and_tag_with_times_from_the_clock() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let (state, d) = create(&env, config(&[("reason", Value::from("VPN from hotel"))])).await;
    assert!(d.0.is_empty(), "{d:?}");
    assert_eq!(state.get("id"), &Value::from(format!("{ACL}:ingress:100")));
    assert_eq!(
        state.get("expires_at"),
        &Value::from("2026-11-23T14:00:00Z")
    );
    assert_eq!(state.get("to_port"), &Value::from(500i64));
    let acl = fake.get(ACL);
    assert_eq!(acl.entries.len(), 1);
    assert_eq!(acl.tags.len(), 1);
    let r = record_of(&fake, &state);
    assert!(!r.pending, "committed");
    let g = r.grant;
    assert_eq!(g.reason.as_deref(), Some("VPN from hotel"));
    assert_eq!(format_rfc3339(g.expires_at), "2026-11-23T14:00:00Z");
}

#[tokio::test]
async fn concurrent_automatic_numbers_never_collide() {
    let fake = FakeNacl::with_acl(ACL);
    let env = Arc::new(env(&fake, "2026-11-23T12:00:00Z"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            create(
                &env,
                config(&[("cidr_block", Value::from(format!("203.0.113.{i}/32")))]),
            )
            .await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let (state, d) = t.await.unwrap();
        assert!(!d.has_errors(), "{d:?}");
        numbers.push(state.get("rule_number").clone());
    }
    numbers.sort_by_key(|v| format!("{v:?}"));
    numbers.dedup();
    assert_eq!(numbers.len(), 20);
    assert_eq!(fake.get(ACL).entries.len(), 20);
    assert!(
        fake.get(ACL)
            .entries
            .iter()
            .all(|e| (100..=119).contains(&e.rule_number))
    );
}

#[tokio::test]
async fn a_number_taken_between_lookup_and_create_moves_on() {
    let fake = FakeNacl::with_acl(ACL);
    fake.before_next_create(|acl| {
        acl.entries
            .push(foreign(100, RuleAction::Deny, "10.0.0.0/8"))
    });
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let (state, d) = create(&env, config(&[])).await;
    assert!(d.0.is_empty(), "{d:?}");
    assert_eq!(state.get("rule_number"), &Value::from(101i64));
    // the stolen entry was not touched
    assert_eq!(
        fake.get(ACL).entry(Direction::Ingress, 100).unwrap().action,
        RuleAction::Deny
    );
}

#[tokio::test]
async fn an_explicit_taken_number_fails_and_says_what_holds_it() {
    let fake = FakeNacl::with_acl(ACL);
    add_foreign(&fake, 200, RuleAction::Allow, "10.0.0.0/8");
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let cfg = config(&[("rule_number", Value::from(200i64))]);
    let plan = testing::plan(&AccessRule, &env, &Value::Null, &cfg, &cfg).await;
    assert_eq!(error_paths(&plan.diags), ["rule_number"]);
    assert!(
        plan.diags.0[0]
            .detail
            .contains("rule 200 (ingress): allow all 10.0.0.0/8, not managed by jit"),
        "{}",
        plan.diags.0[0].detail
    );
    // and at apply, if it was taken after the plan
    let fake2 = FakeNacl::with_acl(ACL);
    let env2 = crate::resources::access_rule::tests::env(&fake2, "2026-11-23T12:00:00Z");
    let plan = testing::plan(&AccessRule, &env2, &Value::Null, &cfg, &cfg).await;
    fake2.put({
        let mut v = fake.get(ACL);
        v.tags.clear();
        v
    });
    let (state, d) = testing::apply(&AccessRule, &env2, &Value::Null, &plan.planned, &cfg).await;
    assert!(state.is_null());
    assert_eq!(error_paths(&d), ["rule_number"]);
    assert_eq!(
        fake2.get(ACL).entries.len(),
        1,
        "nothing clobbered or added"
    );
}

#[tokio::test]
async fn a_failed_tag_write_rolls_the_entry_back() {
    let fake = FakeNacl::with_acl(ACL);
    fake.fail_tag_writes();
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let (state, d) = create(&env, config(&[])).await;
    assert!(state.is_null());
    assert!(d.has_errors());
    assert!(fake.get(ACL).entries.is_empty(), "no half-applied grant");
}

#[tokio::test]
async fn expiry_plans_an_update_and_apply_removes_entry_and_tag() {
    let fake = FakeNacl::with_acl(ACL);
    let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
    // one second before expiry: nothing to do
    let before = env(&fake, "2026-11-23T13:59:59Z");
    let (read, _) = AccessRule.read(&before, state.clone()).await;
    let plan = testing::plan(&AccessRule, &before, &read, &read, &config(&[])).await;
    assert_eq!(plan.planned, read);
    // at expiry: status flips with a warning naming the time
    let after = env(&fake, "2026-11-23T14:00:00Z");
    let (read, _) = AccessRule.read(&after, state.clone()).await;
    assert_eq!(read.get("status"), &Value::from(STATUS_ACTIVE));
    let plan = testing::plan(&AccessRule, &after, &read, &read, &config(&[])).await;
    assert_eq!(plan.planned.get("status"), &Value::from(STATUS_EXPIRED));
    assert!(plan.requires_replace.is_empty());
    assert_eq!(plan.diags.0[0].severity, Severity::Warning);
    assert!(
        plan.diags.0[0]
            .detail
            .contains("expired at 2026-11-23T14:00:00Z")
    );
    let (applied, d) =
        testing::apply(&AccessRule, &after, &read, &plan.planned, &config(&[])).await;
    assert!(d.0.is_empty());
    assert!(fake.get(ACL).entries.is_empty() && fake.get(ACL).tags.is_empty());
    // the resource stays, and the next plan is empty
    let (read, _) = AccessRule.read(&after, applied.clone()).await;
    assert_eq!(read, applied);
    let plan = testing::plan(&AccessRule, &after, &read, &read, &config(&[])).await;
    assert_eq!(plan.planned, read);
}

#[tokio::test]
async fn ttl_change_moves_expiry_from_created_at_in_place() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:30:00Z");
    let (state, _) = create(
        &crate::resources::access_rule::tests::env(&fake, "2026-11-23T12:00:00Z"),
        config(&[]),
    )
    .await;
    let mut proposed = state.clone();
    proposed.set("ttl", Value::from("4h"));
    let cfg = config(&[("ttl", Value::from("4h"))]);
    let plan = testing::plan(&AccessRule, &env, &state, &proposed, &cfg).await;
    assert!(plan.requires_replace.is_empty());
    assert_eq!(
        plan.planned.get("expires_at"),
        &Value::from("2026-11-23T16:00:00Z")
    );
    let (applied, d) = testing::apply(&AccessRule, &env, &state, &plan.planned, &Value::Null).await;
    assert!(d.0.is_empty());
    let g = record_of(&fake, &applied).grant;
    assert_eq!(format_rfc3339(g.expires_at), "2026-11-23T16:00:00Z");
    assert_eq!(g.ttl, "4h");
    assert_eq!(
        applied.get("expires_at"),
        &Value::from("2026-11-23T16:00:00Z")
    );
}

#[tokio::test]
async fn read_tells_drift_from_expiry_and_revocation() {
    let fake = FakeNacl::with_acl(ACL);
    let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
    fake.update(ACL, |acl| acl.entries.clear());
    // gone before expiry, no marker: drift. It stays in state as `missing`, so the plan
    // replaces it and the replacement's removal deletes the record left behind.
    let e13 = env(&fake, "2026-11-23T13:00:00Z");
    let (missing, _) = AccessRule.read(&e13, state.clone()).await;
    assert_eq!(missing.get("status"), &Value::from(STATUS_MISSING));
    let plan = testing::plan(&AccessRule, &e13, &missing, &missing, &config(&[])).await;
    assert_eq!(
        plan.requires_replace,
        vec![path("status")],
        "{:?}",
        plan.diags
    );
    assert_eq!(plan.planned.get("status"), &Value::from(STATUS_ACTIVE));
    // gone after expiry: expired
    let (after, _) = AccessRule
        .read(&env(&fake, "2026-11-23T15:00:00Z"), state.clone())
        .await;
    assert_eq!(after.get("status"), &Value::from(STATUS_EXPIRED));
    // gone with a revoke marker: revoked, and the plan keeps it that way
    let mut r = record_of(&fake, &state);
    r.grant.revoked_at = Some(t("2026-11-23T12:30:00Z"));
    fake.update(ACL, |acl| {
        acl.tags.insert(r.tag_key(), r.tag_value());
    });
    let e = env(&fake, "2026-11-23T13:00:00Z");
    let (revoked, _) = AccessRule.read(&e, state.clone()).await;
    assert_eq!(revoked.get("status"), &Value::from(STATUS_REVOKED));
    let plan = testing::plan(&AccessRule, &e, &revoked, &revoked, &config(&[])).await;
    assert_eq!(plan.planned, revoked);
    assert!(plan.requires_replace.is_empty());
}

#[tokio::test]
async fn a_recreated_drifted_grant_replaces_its_leftover_record_but_not_a_revoke_marker() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    create(&env, config(&[])).await;
    fake.update(ACL, |acl| acl.entries.clear());
    let (again, _) = create(&env, config(&[])).await;
    assert_eq!(again.get("rule_number"), &Value::from(100i64));
    assert_eq!(fake.get(ACL).tags.len(), 1, "one record per grant, no leak");
    // A revoked grant's record stays (it says `revoked` until its expiry), but no longer
    // holds its number: each grant's record has its own key.
    let mut r = record_of(&fake, &again);
    r.grant.revoked_at = Some(t("2026-11-23T12:01:00Z"));
    fake.update(ACL, |acl| {
        acl.entries.clear();
        acl.tags.insert(r.tag_key(), r.tag_value());
    });
    let later = self::env(&fake, "2026-11-23T12:02:00Z");
    let (third, _) = create(&later, config(&[])).await;
    assert_eq!(third.get("rule_number"), &Value::from(100i64));
    let tags = fake.get(ACL).tags;
    assert_eq!(tags.len(), 2);
    assert!(
        tags[&r.tag_key()].contains(";x="),
        "the revoke marker survives"
    );
    let (read, _) = AccessRule
        .read(&env, {
            let mut s = again.clone();
            s.set("status", Value::from(STATUS_ACTIVE));
            s
        })
        .await;
    assert_eq!(read.get("status"), &Value::from(STATUS_REVOKED));
}

#[tokio::test]
async fn destroy_leaves_a_reused_number_alone() {
    let fake = FakeNacl::with_acl(ACL);
    let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
    fake.update(ACL, |acl| acl.entries.clear());
    add_foreign(&fake, 100, RuleAction::Deny, "10.0.0.0/8");
    let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), state).await;
    assert!(gone.is_null() && d.0.is_empty());
    assert_eq!(
        fake.get(ACL).entries.len(),
        1,
        "someone else's entry at 100 survives"
    );
    assert!(fake.get(ACL).tags.is_empty(), "our tag is gone");
}

/// Regression: destroy deleted the grant's tag by key, so a new grant that another process
/// numbered at the freed slot between our entry delete and tag delete lost its tag.
#[tokio::test]
async fn destroy_keeps_the_record_of_a_grant_numbered_after_its_entry_went() {
    let fake = FakeNacl::with_acl(ACL);
    let (state, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
    let mut newer = record_of(&fake, &state);
    newer.id = GrantId::parse("nnnnnnnnnnnn").unwrap();
    newer.grant.created_at = t("2026-11-23T12:09:00Z");
    let n2 = newer.clone();
    fake.after_next_delete(move |acl| {
        acl.entries.push(AclEntry::from(&n2.grant.entry));
        acl.tags.insert(n2.tag_key(), n2.tag_value());
    });
    let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), state).await;
    assert!(gone.is_null() && d.0.is_empty(), "{d:?}");
    let after = fake.get(ACL);
    assert_eq!(
        after.entries,
        [AclEntry::from(&newer.grant.entry)],
        "the newer grant's entry survives"
    );
    assert_eq!(
        after.tags.keys().collect::<Vec<_>>(),
        [&newer.tag_key()],
        "and its record"
    );
}

/// Regression: ownership was judged by an entry's shape, so a second workspace's grant of
/// the same CIDR at a reused number lost its entry to the first workspace's destroy.
#[tokio::test]
async fn destroy_leaves_an_identical_newer_grant_alone() {
    let fake = FakeNacl::with_acl(ACL);
    let (first, _) = create(&env(&fake, "2026-11-23T12:00:00Z"), config(&[])).await;
    // The first grant's entry goes (a sweep cut short before its record), and a second
    // workspace grants the same address at the same number.
    fake.update(ACL, |acl| acl.entries.clear());
    let (second, _) = create(&env(&fake, "2026-11-23T12:05:00Z"), config(&[])).await;
    assert_eq!(second.get("rule_number"), first.get("rule_number"));
    let (gone, d) = destroy(&env(&fake, "2026-11-23T12:10:00Z"), first).await;
    assert!(gone.is_null() && d.0.is_empty(), "{d:?}");
    let after = fake.get(ACL);
    assert_eq!(after.entries.len(), 1, "the second grant's entry survives");
    assert_eq!(
        record_of(&fake, &second).grant.expires_at,
        t("2026-11-23T14:05:00Z")
    );
}

#[tokio::test]
async fn import_needs_a_jit_tag() {
    let fake = FakeNacl::with_acl(ACL);
    add_foreign(&fake, 200, RuleAction::Allow, "10.0.0.0/8");
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let err = AccessRule
        .import(&env, &format!("{ACL}:ingress:200"))
        .await
        .unwrap_err();
    assert!(err.0[0].detail.contains("no jit grant record"), "{err:?}");
    let (state, _) = create(&env, config(&[("requested_by", Value::from("alice"))])).await;
    let imported = AccessRule
        .import(&env, &format!("{ACL}:ingress:100"))
        .await
        .unwrap();
    let (read, _) = AccessRule.read(&env, imported).await;
    assert_eq!(read, state);
    assert!(AccessRule.import(&env, "acl-1:ingress:1").await.is_err());
}

#[tokio::test]
async fn a_covering_lower_deny_is_a_shadow_warning() {
    let fake = FakeNacl::with_acl(ACL);
    add_foreign(&fake, 50, RuleAction::Deny, "203.0.113.0/24");
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let cfg = config(&[("rule_number", Value::from(120i64))]);
    let plan = testing::plan(&AccessRule, &env, &Value::Null, &cfg, &cfg).await;
    assert!(!plan.diags.has_errors());
    assert_eq!(plan.diags.0.len(), 1);
    assert_eq!(plan.diags.0[0].summary, "Grant is shadowed");
    assert!(
        plan.diags.0[0]
            .detail
            .contains("rule 50 (ingress): deny all 203.0.113.0/24")
    );
}

#[tokio::test]
async fn reads_of_one_acl_share_a_describe() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let mut states = Vec::new();
    for i in 0..5 {
        states.push(
            create(
                &env,
                config(&[("cidr_block", Value::from(format!("203.0.113.{i}/32")))]),
            )
            .await
            .0,
        );
    }
    let before = fake.describes();
    let reads = states.into_iter().map(|s| AccessRule.read(&env, s));
    for (v, _) in futures::future::join_all(reads).await {
        assert_eq!(v.get("status"), &Value::from(STATUS_ACTIVE));
    }
    assert_eq!(fake.describes() - before, 1);
}

async fn plan_update(env: &Env, prior: &Value, cfg: Value) -> Plan {
    let mut proposed = prior.clone();
    for (k, v) in [("ttl", cfg.get("ttl")), ("reason", cfg.get("reason"))] {
        proposed.set(k, v.clone());
    }
    testing::plan(&AccessRule, env, prior, &proposed, &cfg).await
}

async fn apply_update(env: &Env, prior: Value, plan: Plan, cfg: Value) -> (Value, Diagnostics) {
    testing::apply(&AccessRule, env, &prior, &plan.planned, &cfg).await
}

/// Regression: a `jitctl revoke` between plan and apply was undone by the in-place update,
/// which rewrote the tag without the marker, and the next plan re-created the grant.
#[tokio::test]
async fn a_revoke_between_plan_and_apply_survives_an_update() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = create(&env, config(&[])).await;
    let cfg = config(&[("reason", Value::from("longer stay"))]);
    let plan = plan_update(&env, &state, cfg.clone()).await;
    assert!(
        plan.requires_replace.is_empty() && !plan.diags.has_errors(),
        "{plan:?}"
    );
    // jitctl revoke runs now.
    let mut r = record_of(&fake, &state);
    r.grant.revoked_at = Some(t("2026-11-23T12:00:30Z"));
    fake.update(ACL, |acl| {
        acl.entries.clear();
        acl.tags.insert(r.tag_key(), r.tag_value());
    });
    let (after, d) = apply_update(&env, state, plan, cfg).await;
    assert_eq!(after.get("status"), &Value::from(STATUS_REVOKED), "{d:?}");
    assert!(d.0.iter().any(|d| d.summary == "Grant revoked"), "{d:?}");
    let kept = record_of(&fake, &after);
    assert!(kept.grant.revoked_at.is_some(), "the marker stays");
    assert!(fake.get(ACL).entries.is_empty(), "and nothing is re-opened");
}

/// The usual cause: an `aws_network_acl` with `tags = {…}` and no `ignore_tags`.
#[tokio::test]
async fn a_vanished_record_is_read_as_unrecorded_and_repaired_in_place() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = create(&env, config(&[])).await;
    fake.update(ACL, |acl| acl.tags.clear());
    let (read, _) = AccessRule.read(&env, state.clone()).await;
    assert_eq!(read.get("status"), &Value::from(STATUS_UNRECORDED));
    let plan = plan_update(&env, &read, config(&[])).await;
    assert!(plan.requires_replace.is_empty(), "{plan:?}");
    assert_eq!(plan.planned.get("status"), &Value::from(STATUS_ACTIVE));
    assert!(plan.diags.0[0].detail.contains("ignore_tags"), "{plan:?}");
    let (after, d) = apply_update(&env, read, plan, config(&[])).await;
    assert!(!d.has_errors(), "{d:?}");
    assert_eq!(after, state, "the same grant, recorded again");
    assert_eq!(
        record_of(&fake, &after).grant.expires_at,
        t("2026-11-23T14:00:00Z")
    );
}

/// Regression: with a ttl unknown at plan (from another resource), the plan kept
/// `expires_at` known and Terraform failed with "Provider produced inconsistent final plan".
#[tokio::test]
async fn an_unknown_ttl_leaves_expires_at_unknown_until_apply() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = create(&env, config(&[])).await;
    let unknown = config(&[("ttl", Value::Unknown)]);
    let plan = plan_update(&env, &state, unknown).await;
    assert!(plan.planned.get("expires_at").is_unknown(), "{plan:?}");
    let known = config(&[("ttl", Value::from("3h"))]);
    let mut planned = plan.planned.clone();
    planned.set("ttl", Value::from("3h"));
    let (after, d) = apply_update(
        &env,
        state,
        Plan {
            planned,
            ..Plan::default()
        },
        known,
    )
    .await;
    assert!(!d.has_errors(), "{d:?}");
    assert_eq!(
        after.get("expires_at"),
        &Value::from("2026-11-23T15:00:00Z")
    );
}

/// A state written by jit before grant ids (schema version 0), as today's release writes it.
fn v0_state() -> Value {
    Value::from_json(
        br#"{"id":"acl-0123456789abcdef0:ingress:100","network_acl_id":"acl-0123456789abcdef0","cidr_block":"203.0.113.7/32","protocol":"udp","from_port":500,"to_port":500,"egress":false,"rule_action":"allow","rule_number":100,"ttl":"2h","reason":null,"requested_by":"alice","created_at":"2026-11-23T12:00:00Z","expires_at":"2026-11-23T14:00:00Z","status":"active"}"#,
    )
    .unwrap()
}

#[tokio::test]
async fn a_version_0_state_upgrades_to_its_legacy_grant_id_and_keeps_working() {
    let up = AccessRule.upgrade(0, v0_state()).unwrap();
    assert_eq!(up.get("grant_id"), &Value::from("ingress:100"));
    schema_block().check_state(&up).unwrap();
    // Its record in AWS, as that release wrote it.
    let fake = FakeNacl::with_acl(ACL);
    fake.update(ACL, |acl| {
        acl.tags.insert(
            "jit:grant:ingress:100".into(),
            "v=1;c=1795435200;e=1795442400;t=2h;n=203.0.113.7/32;p=17;r=500-500;a=allow;by=alice"
                .into(),
        );
        acl.entries.push(AclEntry {
            direction: Direction::Ingress,
            rule_number: 100,
            protocol: Protocol::UDP,
            action: RuleAction::Allow,
            cidr: Some("203.0.113.7/32".parse().unwrap()),
            ports: Some(Ports { from: 500, to: 500 }),
        });
    });
    let env = env(&fake, "2026-11-23T13:00:00Z");
    let (read, _) = AccessRule.read(&env, up.clone()).await;
    assert_eq!(read, up);
    let (gone, d) = destroy(&env, read).await;
    assert!(gone.is_null() && !d.has_errors(), "{d:?}");
    let acl = fake.get(ACL);
    assert!(acl.entries.is_empty() && acl.tags.is_empty(), "{acl:?}");
    // A state without a usable rule number is refused, not guessed.
    let mut bad = v0_state();
    bad.set("rule_number", Value::Null);
    assert!(AccessRule.upgrade(0, bad).is_err());
}

/// Every state the resource produces (create, each read status, import, upgrade, update)
/// matches the schema, so a drift between the two fails here and not in a user's apply.
#[tokio::test]
async fn schema_accepts_every_state() {
    let fake = FakeNacl::with_acl(ACL);
    let env = env(&fake, "2026-11-23T12:00:00Z");
    let block = schema_block();
    let mut states = Vec::new();
    let (active, _) = create(&env, config(&[("reason", Value::from("why"))])).await;
    states.push(active.clone());
    states.push(
        AccessRule
            .import(&env, &format!("{ACL}:ingress:100"))
            .await
            .unwrap(),
    );
    states.push(AccessRule.upgrade(0, v0_state()).unwrap());
    let later = self::env(&fake, "2026-11-23T15:00:00Z");
    let (expired, _) = AccessRule
        .read(&later, {
            fake.update(ACL, |a| a.entries.clear());
            active.clone()
        })
        .await;
    states.push(expired);
    fake.update(ACL, |a| a.tags.clear());
    let (tcp, _) = create(
        &env,
        config(&[("protocol", Value::from("all")), ("from_port", Value::Null)]),
    )
    .await;
    states.push(tcp.clone());
    fake.update(ACL, |a| a.tags.clear());
    states.push(AccessRule.read(&env, tcp).await.0);
    testing::assert_states_fit(&block, &states, |s| {
        RuleState::from_value(s).map(|r| r.to_value())
    });
    assert_eq!(
        testing::distinct(states.iter().map(|s| s.get("status").value_str())),
        [STATUS_ACTIVE, STATUS_EXPIRED, STATUS_UNRECORDED]
    );
}
