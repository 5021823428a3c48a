use std::sync::Arc;

use super::*;
use crate::aws::client_vpn::fake::{FakeClientVpn, Fault};
use crate::resources::common::STATUS_REVOKED;
use crate::resources::testing::{self, Fakes, error_paths, t};

const ENDPOINT: &str = "cvpn-endpoint-0123456789abcdef0";

fn env_with(fake: &FakeClientVpn, now: &str, settings: Settings) -> Env {
    let client_vpn = Arc::new(fake.clone());
    Fakes {
        client_vpn,
        ..Fakes::default()
    }
    .env(now, settings)
}

fn env(fake: &FakeClientVpn, now: &str) -> Env {
    env_with(fake, now, Settings::default())
}

fn config(pairs: &[(&str, Value)]) -> Value {
    let base = [
        ("client_vpn_endpoint_id", Value::from(ENDPOINT)),
        ("username", Value::from("alice")),
        ("ttl", Value::from("2h")),
    ];
    testing::config(&schema_block(), base.iter().chain(pairs))
}

async fn plan(env: &Env, prior: &Value, cfg: &Value) -> Plan {
    let proposed = if prior.is_null() {
        cfg.clone()
    } else {
        let mut p = prior.clone();
        for name in ["ttl", "reason", "requested_by", "cidr_block", "username"] {
            p.set(name, cfg.get(name).clone());
        }
        p
    };
    testing::plan(&ClientVpnGrant, env, prior, &proposed, cfg).await
}

async fn apply(env: &Env, prior: Value, plan: Plan, cfg: Value) -> (Value, Diagnostics) {
    testing::apply(&ClientVpnGrant, env, &prior, &plan.planned, &cfg).await
}

async fn create(env: &Env, cfg: Value) -> (Value, Diagnostics) {
    testing::create(&ClientVpnGrant, env, &cfg).await
}

fn record_of(fake: &FakeClientVpn, state: &Value) -> Record {
    let id = GrantId::parse(state.get("grant_id").value_str()).unwrap();
    let key = crate::grant::record::tag_key(&id);
    Record::from_tag(&key, &fake.tags(ENDPOINT)[&key]).unwrap()
}

#[test]
fn invalid_inputs_name_the_attribute() {
    let settings = Settings {
        require_reason: true,
        ..Settings::default()
    };
    for (pairs, want, text) in [
        (
            vec![("client_vpn_endpoint_id", Value::from("vpn-1"))],
            "client_vpn_endpoint_id",
            "cvpn-endpoint-",
        ),
        (
            vec![("username", Value::Null)],
            "username",
            "exactly one of",
        ),
        (
            vec![("group", Value::from("admins"))],
            "group",
            "username and group are set",
        ),
        (vec![("username", Value::from(" "))], "username", "is empty"),
        (
            vec![("cidr_block", Value::from("203.0.113.7/24"))],
            "cidr_block",
            "203.0.113.0/24",
        ),
        (
            vec![("cidr_block", Value::from("10.0.0.0/8"))],
            "cidr_block",
            "min_prefix_length_ipv4",
        ),
        (vec![("ttl", Value::from("0s"))], "ttl", "positive"),
        (vec![("ttl", Value::from("13h"))], "ttl", "max_ttl"),
        (vec![("reason", Value::Null)], "reason", "require_reason"),
        (vec![("reason", Value::from(""))], "reason", "empty"),
        (
            vec![("reason", Value::from("x".repeat(250)))],
            "reason",
            "too long",
        ),
    ] {
        let mut cfg = config(&pairs);
        if cfg.get("reason").is_null() && want != "reason" {
            cfg.set("reason", Value::from("on call"));
        }
        let mut diags = Diagnostics::default();
        assert!(
            check(&cfg, Some(&settings), &mut diags).is_none(),
            "{pairs:?}"
        );
        assert_eq!(error_paths(&diags), [want], "{pairs:?}: {diags:?}");
        let detail = &diags.0[0].detail;
        assert!(detail.contains(text), "{pairs:?}: {detail}");
    }
}

#[test]
fn unknown_values_defer_validation() {
    let cfg = config(&[("username", Value::Unknown), ("ttl", Value::Unknown)]);
    let diags = ClientVpnGrant.validate(&cfg);
    assert!(diags.0.is_empty(), "{diags:?}");
}

#[tokio::test]
async fn create_writes_one_self_describing_tag_with_times_from_the_clock() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env = env(&fake, "2026-12-01T10:00:00Z");
    let cfg = config(&[
        ("cidr_block", Value::from("203.0.113.0/24")),
        ("reason", Value::from("hotel wifi")),
        ("requested_by", Value::from("bob")),
    ]);
    let (state, diags) = create(&env, cfg).await;
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(state.get("status").value_str(), "active");
    assert_eq!(state.get("created_at").value_str(), "2026-12-01T10:00:00Z");
    assert_eq!(state.get("expires_at").value_str(), "2026-12-01T12:00:00Z");
    let id = state.get("grant_id").value_str().to_string();
    assert_eq!(state.get("id").value_str(), format!("{ENDPOINT}:{id}"));
    let r = record_of(&fake, &state);
    assert_eq!(r.grant.identity, Identity::Username("alice".into()));
    assert_eq!(r.grant.cidr, Some("203.0.113.0/24".parse().unwrap()));
    assert_eq!(r.grant.reason.as_deref(), Some("hotel wifi"));
    assert_eq!(fake.tags(ENDPOINT).len(), 1);
}

#[tokio::test]
async fn a_lost_create_response_is_adopted_and_an_unknown_outcome_stays_in_state() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env = env(&fake, "2026-12-01T10:00:00Z");
    fake.faults(&[Fault::After]);
    let (state, diags) = create(&env, config(&[])).await;
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(
        record_of(&fake, &state).id.as_str(),
        state.get("grant_id").value_str()
    );

    fake.faults(&[Fault::Before]);
    let (kept, diags) = create(&env, config(&[("username", Value::from("bob"))])).await;
    assert_eq!(error_paths(&diags), [""], "{diags:?}");
    assert!(
        !kept.is_null(),
        "a grant whose tag may exist stays in state, to be removed"
    );
    let (gone, diags) = testing::destroy(&ClientVpnGrant, &env, &kept).await;
    assert!(gone.is_null() && !diags.has_errors(), "{diags:?}");
    assert_eq!(fake.tags(ENDPOINT).len(), 1, "only the first grant's tag");
}

#[tokio::test]
async fn a_missing_endpoint_is_refused_at_plan_on_its_attribute() {
    let fake = FakeClientVpn::default();
    let env = env(&fake, "2026-12-01T10:00:00Z");
    let p = plan(&env, &Value::Null, &config(&[])).await;
    assert_eq!(
        error_paths(&p.diags),
        ["client_vpn_endpoint_id"],
        "{:?}",
        p.diags
    );
    assert!(p.diags.0[0].detail.contains("does not exist"));
}

#[tokio::test]
async fn expiry_plans_an_update_and_apply_removes_the_tag_and_its_connections() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env0 = env(&fake, "2026-12-01T10:00:00Z");
    let cfg = config(&[]);
    let (state, _) = create(&env0, cfg.clone()).await;
    let id = state.get("grant_id").value_str().to_string();
    fake.connect(ENDPOINT, "c-alice", "alice", &id);
    fake.connect(ENDPOINT, "c-other", "bob", "zzzzzzzzzzzz");

    let later = env(&fake, "2026-12-01T12:00:00Z");
    let (read, _) = ClientVpnGrant.read(&later, state.clone()).await;
    assert_eq!(
        read.get("status").value_str(),
        "active",
        "still on the endpoint"
    );
    let p = plan(&later, &read, &cfg).await;
    assert!(p.requires_replace.is_empty());
    assert_eq!(p.planned.get("status").value_str(), "expired");
    assert!(p.diags.0.iter().any(|d| d.summary == "Grant expired"));
    let (after, diags) = apply(&later, read, p, cfg.clone()).await;
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(after.get("status").value_str(), "expired");
    assert!(fake.tags(ENDPOINT).is_empty());
    assert_eq!(
        fake.active(ENDPOINT),
        ["c-other"],
        "only the expired grant's connection ends"
    );
    // The next refresh and plan change nothing.
    let (again, _) = ClientVpnGrant.read(&later, after.clone()).await;
    assert_eq!(again, after);
    let p = plan(&later, &again, &cfg).await;
    assert_eq!(p.planned, again);
}

#[tokio::test]
async fn a_ttl_change_moves_the_expiry_in_place() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env = env(&fake, "2026-12-01T10:00:00Z");
    let (state, _) = create(&env, config(&[])).await;
    let cfg = config(&[
        ("ttl", Value::from("3h")),
        ("reason", Value::from("longer")),
    ]);
    let p = plan(&env, &state, &cfg).await;
    assert!(p.requires_replace.is_empty(), "{:?}", p.requires_replace);
    assert_eq!(
        p.planned.get("expires_at").value_str(),
        "2026-12-01T13:00:00Z"
    );
    let (after, diags) = apply(&env, state.clone(), p, cfg).await;
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(after.get("grant_id"), state.get("grant_id"));
    let r = record_of(&fake, &after);
    assert_eq!(r.grant.expires_at, t("2026-12-01T13:00:00Z"));
    assert_eq!(r.grant.reason.as_deref(), Some("longer"));
    // Another identity is another grant.
    let p = plan(
        &env,
        &after,
        &config(&[("ttl", Value::from("3h")), ("username", Value::from("bob"))]),
    )
    .await;
    assert_eq!(p.requires_replace, [path("username")]);
}

#[tokio::test]
async fn a_revoke_between_plan_and_apply_survives_an_update() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env = env(&fake, "2026-12-01T10:00:00Z");
    let (state, _) = create(&env, config(&[])).await;
    let cfg = config(&[("ttl", Value::from("3h"))]);
    let p = plan(&env, &state, &cfg).await;
    let mut r = record_of(&fake, &state);
    r.grant.revoked_at = Some(t("2026-12-01T10:30:00Z"));
    fake.update_tags(ENDPOINT, |tags| {
        tags.insert(r.tag_key(), r.tag_value());
    });
    let (after, diags) = apply(&env, state, p, cfg).await;
    assert_eq!(after.get("status").value_str(), "revoked");
    assert!(diags.0.iter().any(|d| d.summary == "Grant revoked"));
    assert_eq!(
        record_of(&fake, &after).grant.revoked_at,
        r.grant.revoked_at
    );
}

#[tokio::test]
async fn read_tells_drift_from_expiry_and_revocation() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env0 = env(&fake, "2026-12-01T10:00:00Z");
    let (state, _) = create(&env0, config(&[])).await;
    let mut r = record_of(&fake, &state);
    r.grant.revoked_at = Some(t("2026-12-01T10:30:00Z"));
    fake.update_tags(ENDPOINT, |tags| {
        tags.insert(r.tag_key(), r.tag_value());
    });
    assert_eq!(
        ClientVpnGrant
            .read(&env0, state.clone())
            .await
            .0
            .get("status")
            .value_str(),
        "revoked"
    );
    // Removed by hand before its expiry: drift, created again by the next plan (a new process: the first
    // one's snapshot is at most 5 s old).
    fake.update_tags(ENDPOINT, |tags| tags.clear());
    let writes = fake.writes();
    let next = env(&fake, "2026-12-01T10:00:00Z");
    assert!(ClientVpnGrant.read(&next, state.clone()).await.0.is_null());
    assert_eq!(fake.writes(), writes, "read writes nothing");
    // Gone after its expiry: simply expired.
    let later = env(&fake, "2026-12-01T12:00:01Z");
    assert_eq!(
        ClientVpnGrant
            .read(&later, state)
            .await
            .0
            .get("status")
            .value_str(),
        "expired"
    );
}

#[tokio::test]
async fn import_needs_a_jit_grant_of_the_endpoint() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env = env(&fake, "2026-12-01T10:00:00Z");
    let (state, _) = create(
        &env,
        config(&[
            ("group", Value::Null),
            ("cidr_block", Value::from("2001:db8::/48")),
        ]),
    )
    .await;
    let imported = ClientVpnGrant
        .import(&env, state.get("id").value_str())
        .await
        .unwrap();
    assert_eq!(imported, state);
    let err = ClientVpnGrant
        .import(&env, &format!("{ENDPOINT}:zzzzzzzzzzzz"))
        .await
        .unwrap_err();
    assert!(
        err.0[0].detail.contains("no jit grant with that id"),
        "{err:?}"
    );
    let err = ClientVpnGrant
        .import(&env, "acl-0123456789abcdef0:ingress:100")
        .await
        .unwrap_err();
    assert_eq!(err.0[0].summary, "Invalid import id");
}

/// Every state the resource produces (create, each read status, import, update) matches the
/// schema, so a drift between the two fails here and not in a user's apply.
#[tokio::test]
async fn schema_accepts_every_state() {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    let env0 = env(&fake, "2026-12-01T10:00:00Z");
    let block = schema_block();
    let mut states = Vec::new();
    let (user, _) = create(&env0, config(&[("reason", Value::from("why"))])).await;
    states.push(user.clone());
    let (cert, _) = create(
        &env0,
        config(&[
            ("username", Value::Null),
            ("common_name", Value::from("laptop-42")),
            ("cidr_block", Value::from("203.0.113.7/32")),
        ]),
    )
    .await;
    states.push(cert.clone());
    let (group, _) = create(
        &env0,
        config(&[("username", Value::Null), ("group", Value::from("admins"))]),
    )
    .await;
    states.push(
        ClientVpnGrant
            .import(&env0, group.get("id").value_str())
            .await
            .unwrap(),
    );
    let mut r = record_of(&fake, &group);
    r.grant.revoked_at = Some(t("2026-12-01T10:30:00Z"));
    fake.update_tags(ENDPOINT, |tags| {
        tags.insert(r.tag_key(), r.tag_value());
    });
    let next = env(&fake, "2026-12-01T10:40:00Z");
    states.push(ClientVpnGrant.read(&next, group).await.0);
    let later = env(&fake, "2026-12-01T12:00:00Z");
    let cfg = config(&[("reason", Value::from("why"))]);
    let p = plan(&later, &user, &cfg).await;
    states.push(apply(&later, user, p, cfg).await.0);
    testing::assert_states_fit(&block, &states, |s| {
        GrantState::from_value(s).map(|g| g.to_value())
    });
    assert_eq!(
        testing::distinct(states.iter().map(|s| s.get("status").value_str())),
        [STATUS_ACTIVE, STATUS_EXPIRED, STATUS_REVOKED]
    );
    assert!(block.undocumented().is_empty());
}
