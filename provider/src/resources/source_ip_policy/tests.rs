use std::sync::Arc;

use super::*;
use crate::aws::iam::Attachments;
use crate::aws::iam::fake::{FakeIam, Loss};
use crate::aws::nacl::{AclView, AwsError, CreateOutcome, NaclApi};
use crate::grant::{Direction, EntrySpec};
use crate::policy::eval::{Request, denied};
use crate::resources::common::STATUS_ACTIVE;
use crate::resources::testing::{self, Fakes, t};
use crate::tf::Severity;

/// This resource never touches network ACLs.
struct NoNacls;

#[async_trait]
impl NaclApi for NoNacls {
    async fn describe(&self, _: &str) -> Result<Option<AclView>, AwsError> {
        unreachable!()
    }
    async fn describe_tagged(&self, _: &str, _: Option<usize>) -> Result<Vec<AclView>, AwsError> {
        unreachable!()
    }
    async fn create_entry(&self, _: &str, _: &EntrySpec) -> Result<CreateOutcome, AwsError> {
        unreachable!()
    }
    async fn delete_entry(&self, _: &str, _: Direction, _: i32) -> Result<(), AwsError> {
        unreachable!()
    }
    async fn put_tag(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
        unreachable!()
    }
    async fn describe_all(&self) -> Result<Vec<AclView>, AwsError> {
        unreachable!()
    }
    async fn delete_tag(&self, _: &str, _: &str, _: Option<&str>) -> Result<(), AwsError> {
        unreachable!()
    }
}

const ARN: &str = "arn:aws:iam::123456789012:policy/remote";

fn env(fake: &Arc<FakeIam>, now: &str) -> Env {
    Fakes {
        nacl: Arc::new(NoNacls),
        iam: fake.clone(),
        ..Fakes::default()
    }
    .env(now, Settings::default())
}

const COMPUTED: [&str; 6] = [
    "id",
    "arn",
    "policy_id",
    "document",
    "default_version_id",
    "next_expiry",
];

/// A configuration: one permanent range and the given temporary `(cidr, ttl)` entries.
fn config(temporary: &[(&str, &str)]) -> Value {
    let given = [
        ("name", Value::from("remote")),
        (
            "allowed_cidrs",
            Value::List(vec![Value::from("198.51.100.0/24")]),
        ),
    ];
    let mut v = testing::config(&schema_block(), &given);
    v.set(
        "temporary_cidrs",
        if temporary.is_empty() {
            Value::Null
        } else {
            Value::Map(
                temporary
                    .iter()
                    .map(|(cidr, ttl)| {
                        (
                            cidr.to_string(),
                            Value::object([
                                ("ttl", Value::from(*ttl)),
                                ("reason", Value::Null),
                                ("created_at", Value::Null),
                                ("expires_at", Value::Null),
                                ("status", Value::Null),
                            ]),
                        )
                    })
                    .collect(),
            )
        },
    );
    v
}

/// What Terraform proposes: the configuration, with computed values carried over.
fn proposed(config: &Value, prior: &Value) -> Value {
    let mut p = config.clone();
    for name in COMPUTED
        .iter()
        .chain(&["path", "deny_actions", "exempt_aws_services"])
    {
        if p.get(name).is_null() {
            p.set(name, prior.get(name).clone());
        }
    }
    p
}

async fn plan(env: &Env, prior: &Value, config: &Value) -> Plan {
    testing::plan(
        &SourceIpPolicy,
        env,
        prior,
        &proposed(config, prior),
        config,
    )
    .await
}

/// Plans and applies like `terraform apply`, failing on any error.
async fn converge(env: &Env, prior: &Value, config: &Value) -> (Value, Diagnostics) {
    let p = plan(env, prior, config).await;
    assert!(!p.diags.has_errors(), "plan: {:?}", p.diags);
    let (state, diags) = testing::apply(&SourceIpPolicy, env, prior, &p.planned, config).await;
    assert!(!diags.has_errors(), "apply: {diags:?}");
    assert_consistent(&p.planned, &state);
    let mut all = p.diags;
    all.extend(diags);
    (state, all)
}

/// Terraform's rule: every value known in the plan comes out of apply unchanged.
fn assert_consistent(planned: &Value, applied: &Value) {
    match (planned, applied) {
        (Value::Unknown, _) => {}
        (Value::Map(p), Value::Map(a)) => {
            assert_eq!(p.keys().collect::<Vec<_>>(), a.keys().collect::<Vec<_>>());
            for (k, v) in p {
                assert_consistent(v, &a[k]);
            }
        }
        (p, a) => assert_eq!(p, a),
    }
}

fn entry<'v>(state: &'v Value, cidr: &str) -> &'v Value {
    state.get("temporary_cidrs").get(cidr)
}

fn is_denied(doc: &str, ip: &str, at: &str) -> bool {
    denied(
        doc,
        &Request {
            action: "s3:ListBuckets",
            source_ip: ip.parse().unwrap(),
            time: t(at),
            via_aws_service: false,
        },
    )
    .unwrap()
}

fn errors_at(diags: &Diagnostics) -> Vec<String> {
    diags
        .0
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            format!(
                "{}: {}",
                d.path.as_ref().map(ToString::to_string).unwrap_or_default(),
                d.detail
            )
        })
        .collect()
}

#[test]
fn validation_names_the_attribute_and_the_fix() {
    let mut v = config(&[("203.0.113.7/24", "8h"), ("198.51.100.7/32", "1d")]);
    v.set(
        "allowed_cidrs",
        Value::List(vec![
            Value::from("198.51.100.7/24"),
            Value::from("0.0.0.0/0"),
            Value::from("123.456.789.0/24"),
        ]),
    );
    v.set(
        "deny_actions",
        Value::List(vec![Value::from("s3GetObject")]),
    );
    v.set("tags", Value::object([("jit:owner", Value::from("me"))]));
    let diags = SourceIpPolicy.validate(&v);
    let errors = errors_at(&diags);
    let has = |path: &str, text: &str| {
        errors
            .iter()
            .any(|e| e.starts_with(&format!("{path}: ")) && e.contains(text))
    };
    assert!(
        has("allowed_cidrs[0]", "did you mean 198.51.100.0/24?"),
        "{errors:#?}"
    );
    assert!(has("allowed_cidrs[1]", "every address"), "{errors:#?}");
    assert!(has("allowed_cidrs[2]", "not a valid"), "{errors:#?}");
    assert!(
        has(
            "temporary_cidrs[\"203.0.113.7/24\"]",
            "did you mean 203.0.113.0/24?"
        ),
        "{errors:#?}"
    );
    assert!(
        has("temporary_cidrs[\"198.51.100.7/32\"].ttl", "uses days"),
        "{errors:#?}"
    );
    assert!(has("deny_actions[0]", "not an IAM action"), "{errors:#?}");
    assert!(has("tags[\"jit:owner\"]", "jit's own"), "{errors:#?}");
}

#[test]
fn empty_allowlists_and_wide_ranges_are_refused() {
    let mut v = config(&[]);
    v.set("allowed_cidrs", Value::List(vec![]));
    assert!(errors_at(&SourceIpPolicy.validate(&v))[0].contains("deny every request"));
    v.set(
        "allowed_cidrs",
        Value::List(vec![Value::from("10.0.0.0/7")]),
    );
    assert!(errors_at(&SourceIpPolicy.validate(&v))[0].contains("JIT006"));
    v.set("allowed_cidrs", Value::List(vec![Value::from("::/0")]));
    assert!(errors_at(&SourceIpPolicy.validate(&v))[0].contains("every address"));
}

/// JIT012 on a rendered document is the user's input, not a jit bug: say so on the attribute.
#[tokio::test]
async fn an_allowlist_of_only_private_ranges_is_refused_on_allowed_cidrs() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let mut cfg = config(&[]);
    cfg.set(
        "allowed_cidrs",
        Value::List(vec![Value::from("10.1.2.0/24")]),
    );
    let p = plan(&e, &Value::Null, &cfg).await;
    let errors = errors_at(&p.diags);
    assert!(
        errors.iter().any(|e| e.starts_with("allowed_cidrs: ")
            && e.contains("private")
            && !e.contains("bug in jit")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn provider_settings_cap_ttl_and_prefix() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let p = plan(&e, &Value::Null, &config(&[("203.0.113.0/16", "13h")])).await;
    let errors = errors_at(&p.diags);
    assert!(errors.iter().any(|e| e.contains("host bits")), "{errors:?}");
    let p = plan(&e, &Value::Null, &config(&[("203.0.0.0/16", "13h")])).await;
    let errors = errors_at(&p.diags);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("temporary_cidrs[\"203.0.0.0/16\"].ttl: ")
                && e.contains("max_ttl (12h)")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("temporary_cidrs[\"203.0.0.0/16\"]: ")
                && e.contains("at most /24")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_jitctl_revoke_reads_as_revoked_and_is_not_granted_again() {
    let fake = Arc::new(FakeIam::default());
    let cfg = config(&[("203.0.113.7/32", "8h"), ("203.0.113.8/32", "8h")]);
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = converge(&e, &Value::Null, &cfg).await;
    let later = env(&fake, "2026-11-23T13:00:00Z");
    crate::ctl::policy::revoke(
        &later.policies,
        &format!("{ARN}#203.0.113.8/32"),
        t("2026-11-23T13:00:00Z"),
    )
    .await
    .unwrap();
    let (read, _) = SourceIpPolicy.read(&later, state.clone()).await;
    assert_eq!(
        entry(&read, "203.0.113.8/32").get("status"),
        &Value::from(STATUS_REVOKED)
    );
    assert_eq!(
        entry(&read, "203.0.113.7/32").get("status"),
        &Value::from(STATUS_ACTIVE)
    );
    // The plan keeps it revoked and out of the document: nothing to apply.
    let p = plan(&later, &read, &cfg).await;
    assert_eq!(p.planned, read);
    let doc = fake.state.lock().unwrap().document();
    assert!(is_denied(&doc, "203.0.113.8", "2026-11-23T13:00:01Z"));
    assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T13:00:01Z"));
    // A new ttl is a new grant, from the apply.
    let (renewed, _) = converge(
        &later,
        &read,
        &config(&[("203.0.113.7/32", "8h"), ("203.0.113.8/32", "2h")]),
    )
    .await;
    assert_eq!(
        entry(&renewed, "203.0.113.8/32").get("status"),
        &Value::from(STATUS_ACTIVE)
    );
    let doc = fake.state.lock().unwrap().document();
    assert!(!is_denied(&doc, "203.0.113.8", "2026-11-23T14:00:00Z"));
}

#[tokio::test]
async fn create_then_plans_stay_empty_and_expiry_is_fixed() {
    let fake = Arc::new(FakeIam::default());
    let cfg = config(&[("203.0.113.7/32", "8h")]);
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let first = plan(&e, &Value::Null, &cfg).await;
    assert_eq!(
        first.planned.get("document"),
        &Value::Unknown,
        "expiry starts at apply"
    );
    let (state, _) = converge(&e, &Value::Null, &cfg).await;
    assert_eq!(state.get("arn"), &Value::from(ARN));
    assert_eq!(state.get("default_version_id"), &Value::from("v1"));
    assert_eq!(
        entry(&state, "203.0.113.7/32").get("created_at"),
        &Value::from("2026-11-23T12:00:00Z")
    );
    assert_eq!(
        entry(&state, "203.0.113.7/32").get("expires_at"),
        &Value::from("2026-11-23T20:00:00Z")
    );
    assert_eq!(
        state.get("next_expiry"),
        &Value::from("2026-11-23T20:00:00Z")
    );
    let tags = fake.state.lock().unwrap().tags();
    assert_eq!(
        tags.get(MANAGED_TAG_KEY).map(String::as_str),
        Some(MANAGED_TAG_VALUE)
    );

    // What AWS holds means the allowlist.
    let doc = fake.state.lock().unwrap().document();
    assert_eq!(Value::from(doc.as_str()), *state.get("document"));
    assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T19:59:59Z"));
    assert!(is_denied(&doc, "203.0.113.7", "2026-11-23T20:00:01Z"));
    assert!(is_denied(&doc, "192.0.2.1", "2026-11-23T12:00:00Z"));

    // Later plans, before the expiry, change nothing.
    for now in [
        "2026-11-23T12:00:01Z",
        "2026-11-23T19:00:00Z",
        "2026-11-23T20:00:00Z",
    ] {
        let (refreshed, _) = SourceIpPolicy.read(&env(&fake, now), state.clone()).await;
        assert_eq!(refreshed, state, "read at {now}");
        let p = plan(&env(&fake, now), &refreshed, &cfg).await;
        assert_eq!(p.planned, state, "plan at {now}");
        assert!(p.requires_replace.is_empty());
    }
}

#[tokio::test]
async fn expired_entries_are_pruned_in_place_with_a_warning() {
    let fake = Arc::new(FakeIam::default());
    let cfg = config(&[("203.0.113.7/32", "2h"), ("192.0.2.8/32", "8h")]);
    let (state, _) = converge(&env(&fake, "2026-11-23T12:00:00Z"), &Value::Null, &cfg).await;
    let later = env(&fake, "2026-11-23T14:00:01Z");
    let p = plan(&later, &state, &cfg).await;
    assert!(p.requires_replace.is_empty());
    assert_eq!(
        entry(&p.planned, "203.0.113.7/32").get("status"),
        &Value::from(STATUS_EXPIRED)
    );
    assert_eq!(
        entry(&p.planned, "192.0.2.8/32").get("status"),
        &Value::from(STATUS_ACTIVE)
    );
    assert_eq!(
        p.planned.get("next_expiry"),
        &Value::from("2026-11-23T20:00:00Z")
    );
    let warning = p
        .diags
        .0
        .iter()
        .find(|d| d.summary == "Temporary CIDR expired")
        .unwrap();
    assert_eq!(warning.path, Some(entry_path("203.0.113.7/32")));
    let doc = p.planned.get("document").value_str().to_string();
    assert!(!doc.contains("203.0.113.7"), "{doc}");
    let (pruned, _) = converge(&later, &state, &cfg).await;
    assert_eq!(pruned.get("default_version_id"), &Value::from("v2"));
    assert_eq!(fake.state.lock().unwrap().document(), doc);
    // Pruned once; the next plan is quiet.
    let p = plan(&later, &pruned, &cfg).await;
    assert_eq!(p.planned, pruned);
    assert!(p.diags.0.is_empty(), "{:?}", p.diags);
}

#[tokio::test]
async fn a_new_ttl_moves_the_expiry_from_created_at_and_renews_an_expired_entry() {
    let fake = Arc::new(FakeIam::default());
    let (state, _) = converge(
        &env(&fake, "2026-11-23T12:00:00Z"),
        &Value::Null,
        &config(&[("203.0.113.7/32", "2h")]),
    )
    .await;
    let (longer, _) = converge(
        &env(&fake, "2026-11-23T13:00:00Z"),
        &state,
        &config(&[("203.0.113.7/32", "4h")]),
    )
    .await;
    let e = entry(&longer, "203.0.113.7/32");
    assert_eq!(e.get("created_at"), &Value::from("2026-11-23T12:00:00Z"));
    assert_eq!(e.get("expires_at"), &Value::from("2026-11-23T16:00:00Z"));
    // Expire it, then ask again: a fresh grant from the apply.
    let late = env(&fake, "2026-11-23T17:00:00Z");
    let (expired, _) = converge(&late, &longer, &config(&[("203.0.113.7/32", "4h")])).await;
    assert_eq!(
        entry(&expired, "203.0.113.7/32").get("status"),
        &Value::from(STATUS_EXPIRED)
    );
    let (renewed, _) = converge(&late, &expired, &config(&[("203.0.113.7/32", "3h")])).await;
    let e = entry(&renewed, "203.0.113.7/32");
    assert_eq!(e.get("created_at"), &Value::from("2026-11-23T17:00:00Z"));
    assert_eq!(e.get("expires_at"), &Value::from("2026-11-23T20:00:00Z"));
    assert_eq!(e.get("status"), &Value::from(STATUS_ACTIVE));
}

#[tokio::test]
async fn a_hand_edit_is_drift_and_apply_restores_the_document() {
    let fake = Arc::new(FakeIam::default());
    let cfg = config(&[("203.0.113.7/32", "8h")]);
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = converge(&e, &Value::Null, &cfg).await;
    let ours = state.get("document").value_str().to_string();

    // The same document, reformatted by hand: not drift.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&ours).unwrap())
            .unwrap();
    fake.state
        .lock()
        .unwrap()
        .add_version(&pretty, true)
        .unwrap();
    let (refreshed, _) = SourceIpPolicy
        .read(&env(&fake, "2026-11-23T12:01:00Z"), state.clone())
        .await;
    assert_eq!(refreshed.get("document"), state.get("document"));
    assert_eq!(refreshed.get("default_version_id"), &Value::from("v2"));
    let p = plan(&e, &refreshed, &cfg).await;
    assert_eq!(p.planned, refreshed, "no change planned");

    // Someone widens the allowlist by hand.
    let edited = ours.replace("198.51.100.0/24", "0.0.0.0/0");
    fake.state
        .lock()
        .unwrap()
        .add_version(&edited, true)
        .unwrap();
    let (drifted, _) = SourceIpPolicy
        .read(&env(&fake, "2026-11-23T12:02:00Z"), refreshed.clone())
        .await;
    assert_eq!(drifted.get("document"), &Value::from(edited.as_str()));
    let p = plan(&e, &drifted, &cfg).await;
    assert_eq!(p.planned.get("document"), &Value::from(ours.as_str()));
    assert_eq!(p.planned.get("default_version_id"), &Value::Unknown);
    let (restored, _) = converge(&e, &drifted, &cfg).await;
    assert_eq!(fake.state.lock().unwrap().document(), ours);
    assert_eq!(restored.get("default_version_id"), &Value::from("v4"));
}

#[tokio::test]
async fn twenty_updates_keep_five_versions_at_most() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (mut state, _) = converge(&e, &Value::Null, &config(&[])).await;
    for i in 0..20 {
        let cidr = format!("203.0.113.{}/32", i + 1);
        let (next, _) = converge(&e, &state, &config(&[(cidr.as_str(), "1h")])).await;
        state = next;
        let st = fake.state.lock().unwrap();
        assert!(st.versions.len() <= 5, "update {i}: {:?}", st.ids());
        assert_eq!(
            state.get("default_version_id"),
            &Value::from(st.policy.as_ref().unwrap().default_version_id.as_str())
        );
    }
}

#[tokio::test]
async fn destroy_refuses_while_attached() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = converge(&e, &Value::Null, &config(&[])).await;
    fake.state.lock().unwrap().attachments = Attachments {
        users: vec!["alice".into()],
        groups: vec!["remote-workers".into()],
        roles: vec![],
    };
    let (kept, diags) = testing::destroy(&SourceIpPolicy, &e, &state).await;
    assert_eq!(kept, state, "nothing is lost from state");
    assert!(
        diags.0[0]
            .detail
            .contains("user alice, group remote-workers"),
        "{diags:?}"
    );
    assert!(fake.state.lock().unwrap().policy.is_some());
    fake.state.lock().unwrap().attachments = Attachments::default();
    let (gone, diags) = testing::destroy(&SourceIpPolicy, &e, &state).await;
    assert_eq!(gone, Value::Null, "{diags:?}");
    assert!(fake.state.lock().unwrap().policy.is_none());
}

#[tokio::test]
async fn import_recovers_the_allowlist_and_its_expiries() {
    let fake = Arc::new(FakeIam::default());
    let cfg = config(&[("203.0.113.7/32", "8h")]);
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = converge(&e, &Value::Null, &cfg).await;
    let later = env(&fake, "2026-11-23T13:00:00Z");
    let imported = SourceIpPolicy.import(&later, ARN).await.unwrap();
    let (imported, _) = SourceIpPolicy.read(&later, imported).await;
    assert_eq!(imported.get("allowed_cidrs"), state.get("allowed_cidrs"));
    assert_eq!(
        entry(&imported, "203.0.113.7/32").get("expires_at"),
        &Value::from("2026-11-23T20:00:00Z")
    );
    assert_eq!(entry(&imported, "203.0.113.7/32").get("ttl"), &Value::Null);
    // The first apply after import fills in ttl and created_at, without a new version.
    let (adopted, _) = converge(&later, &imported, &cfg).await;
    assert_eq!(
        entry(&adopted, "203.0.113.7/32"),
        entry(&state, "203.0.113.7/32")
    );
    assert_eq!(adopted.get("default_version_id"), &Value::from("v1"));
    assert_eq!(plan(&later, &adopted, &cfg).await.planned, adopted);

    let bad = SourceIpPolicy.import(&later, "remote").await.unwrap_err();
    assert!(bad.0[0].detail.contains("not a policy ARN"));
    fake.state.lock().unwrap().add_version(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, true).unwrap();
    let foreign = SourceIpPolicy
        .import(&env(&fake, "2026-11-23T13:00:10Z"), ARN)
        .await
        .unwrap_err();
    assert!(
        foreign.0[0].detail.contains("not a document jit renders"),
        "{foreign:?}"
    );
}

#[tokio::test]
async fn oversized_documents_say_how_many_entries_to_drop() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let cidrs: Vec<String> = (0..250)
        .map(|i| format!("10.{}.{}.7/32", 100 + i / 100, 100 + i % 100))
        .collect();
    let entries: Vec<(&str, &str)> = cidrs.iter().map(|c| (c.as_str(), "1h")).collect();
    let p = plan(&e, &Value::Null, &config(&entries)).await;
    let errors = errors_at(&p.diags);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("temporary_cidrs: the rendered policy has "),
        "{errors:?}"
    );
    assert!(
        errors[0].contains("IAM allows 6,144") && errors[0].contains("remove "),
        "{errors:?}"
    );
}

#[tokio::test]
async fn tags_are_reconciled_and_jits_marker_kept() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let mut cfg = config(&[]);
    cfg.set("tags", Value::object([("team", Value::from("platform"))]));
    let (state, _) = converge(&e, &Value::Null, &cfg).await;
    cfg.set("tags", Value::object([("owner", Value::from("alice"))]));
    let (state2, _) = converge(&e, &state, &cfg).await;
    let tags = fake.state.lock().unwrap().tags();
    assert_eq!(
        tags.keys().map(String::as_str).collect::<Vec<_>>(),
        [CREATE_ID_TAG_KEY, MANAGED_TAG_KEY, "owner"]
    );
    assert_eq!(
        state2.get("default_version_id"),
        &Value::from("v1"),
        "tags alone need no version"
    );
    let (refreshed, _) = SourceIpPolicy.read(&e, state2.clone()).await;
    assert_eq!(refreshed, state2);
}

/// Applies a plan made earlier, as `terraform apply tfplan` does.
async fn apply_plan(
    env: &Env,
    prior: &Value,
    planned: &Plan,
    config: &Value,
) -> (Value, Diagnostics) {
    testing::apply(&SourceIpPolicy, env, prior, &planned.planned, config).await
}

#[tokio::test]
async fn a_lost_create_response_is_adopted_when_the_policy_carries_this_creates_id() {
    for loss in [Loss::Retried, Loss::Timeout] {
        let fake = Arc::new(FakeIam::default());
        fake.lose("CreatePolicy", loss);
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &config(&[("203.0.113.7/32", "8h")])).await;
        assert_eq!(state.get("arn"), &Value::from(ARN), "{loss:?}");
        assert_eq!(state.get("default_version_id"), &Value::from("v1"));
        let st = fake.state.lock().unwrap();
        assert_eq!(st.ids(), ["v1"], "{loss:?}");
        assert_eq!(st.tags()[CREATE_ID_TAG_KEY].len(), 32);
        assert_eq!(Value::from(st.document().as_str()), *state.get("document"));
    }
}

#[tokio::test]
async fn a_policy_under_the_name_that_this_create_did_not_make_is_refused_on_name() {
    let fake = Arc::new(FakeIam::default());
    let cfg = config(&[]);
    let e = env(&fake, "2026-11-23T12:00:00Z");
    // Another workspace's jit policy with this name and the very same allowlist: the same
    // document, the managed tag, but another create id.
    converge(&e, &Value::Null, &cfg).await;
    let writes = fake.writes().len();
    let p = plan(&e, &Value::Null, &cfg).await;
    let (state, diags) = apply_plan(&e, &Value::Null, &p, &cfg).await;
    assert_eq!(state, Value::Null);
    let errors = errors_at(&diags);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("name: ")
            && errors[0].contains("did not create")
            && errors[0].contains(&format!("terraform import <address> {ARN}")),
        "{errors:?}"
    );
    assert_eq!(
        fake.writes().len(),
        writes + 1,
        "only the refused CreatePolicy"
    );

    // A policy jit does not manage at all.
    fake.state
        .lock()
        .unwrap()
        .policy
        .as_mut()
        .unwrap()
        .tags
        .clear();
    let (_, diags) = apply_plan(&e, &Value::Null, &p, &cfg).await;
    assert!(
        errors_at(&diags)[0].contains("not one jit manages"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn a_lost_version_response_converges_on_the_next_apply_without_a_duplicate() {
    for loss in [Loss::Timeout, Loss::Retried] {
        let fake = Arc::new(FakeIam::default());
        let e = env(&fake, "2026-11-23T12:00:00Z");
        let (state, _) = converge(&e, &Value::Null, &config(&[])).await;
        for i in 0..3 {
            fake.state
                .lock()
                .unwrap()
                .add_version(&format!("{{\"hand\":{i}}}"), false)
                .unwrap();
        }
        // Four versions: the lost create takes the fifth slot.
        let cfg = config(&[("203.0.113.7/32", "8h")]);
        fake.lose("CreatePolicyVersion", loss);
        let p = plan(&e, &state, &cfg).await;
        let (after, diags) = apply_plan(&e, &state, &p, &cfg).await;
        let state = if diags.has_errors() {
            assert_eq!(loss, Loss::Timeout, "{diags:?}");
            assert_eq!(after, state, "a failed apply keeps the prior state");
            converge(&e, &after, &cfg).await.0
        } else {
            after
        };
        let st = fake.state.lock().unwrap();
        assert_eq!(st.ids(), ["v1", "v2", "v3", "v4", "v5"], "{loss:?}");
        assert_eq!(
            state.get("default_version_id"),
            &Value::from("v5"),
            "{loss:?}"
        );
        assert_eq!(Value::from(st.document().as_str()), *state.get("document"));
    }
}

#[tokio::test]
async fn a_revoke_between_plan_and_apply_is_not_undone() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let two = config(&[("203.0.113.7/32", "8h"), ("203.0.113.8/32", "8h")]);
    let (state, _) = converge(&e, &Value::Null, &two).await;
    // Planned with the range active (a new entry besides), then revoked, then applied.
    let later = env(&fake, "2026-11-23T13:00:00Z");
    let three = config(&[
        ("203.0.113.7/32", "8h"),
        ("203.0.113.8/32", "8h"),
        ("192.0.2.1/32", "1h"),
    ]);
    let p = plan(&later, &state, &three).await;
    crate::ctl::policy::revoke(
        &later.policies,
        &format!("{ARN}#203.0.113.8/32"),
        t("2026-11-23T13:00:00Z"),
    )
    .await
    .unwrap();
    let (applied, diags) = apply_plan(&later, &state, &p, &three).await;
    let errors = errors_at(&diags);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("temporary_cidrs[\"203.0.113.8/32\"]: ")
            && errors[0].contains("revoked by `jitctl revoke` at 2026-11-23T13:00:00Z"),
        "{errors:?}"
    );
    assert_eq!(
        entry(&applied, "203.0.113.8/32").get("status"),
        &Value::from(STATUS_REVOKED)
    );
    let doc = fake.state.lock().unwrap().document();
    assert_eq!(Value::from(doc.as_str()), *applied.get("document"));
    assert!(
        is_denied(&doc, "203.0.113.8", "2026-11-23T13:00:01Z"),
        "kept out"
    );
    assert!(
        !is_denied(&doc, "192.0.2.1", "2026-11-23T13:00:01Z"),
        "the rest applied"
    );
    assert!(!is_denied(&doc, "203.0.113.7", "2026-11-23T13:00:01Z"));
    // The next plan is empty.
    let (read, _) = SourceIpPolicy.read(&later, applied.clone()).await;
    assert_eq!(read, applied);
    assert_eq!(plan(&later, &read, &three).await.planned, read);

    // A plan that changes only the tags keeps the planned document; the revoke is caught
    // all the same.
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (state, _) = converge(&e, &Value::Null, &two).await;
    let later = env(&fake, "2026-11-23T13:00:00Z");
    let mut tagged = two.clone();
    tagged.set("tags", Value::object([("team", Value::from("platform"))]));
    let p = plan(&later, &state, &tagged).await;
    assert_eq!(p.planned.get("document"), state.get("document"));
    crate::ctl::policy::revoke(
        &later.policies,
        &format!("{ARN}#203.0.113.8/32"),
        t("2026-11-23T13:00:00Z"),
    )
    .await
    .unwrap();
    let (applied, diags) = apply_plan(&later, &state, &p, &tagged).await;
    assert_eq!(errors_at(&diags).len(), 1, "{diags:?}");
    assert_eq!(
        entry(&applied, "203.0.113.8/32").get("status"),
        &Value::from(STATUS_REVOKED)
    );
    let st = fake.state.lock().unwrap();
    assert_eq!(
        Value::from(st.document().as_str()),
        *applied.get("document")
    );
    assert_eq!(st.tags().get("team").map(String::as_str), Some("platform"));
    assert_eq!(st.ids(), ["v1", "v2"], "jitctl's version is already right");
}

#[tokio::test]
async fn ten_thousand_entries_are_refused_on_the_attribute_without_the_set_algebra() {
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let cidrs: Vec<String> = (0..10_000)
        .map(|i| format!("10.{}.{}.{}/32", i / 2000, (i / 8) % 250, 1 + (i % 8) * 2))
        .collect();
    let entries: Vec<(&str, &str)> = cidrs.iter().map(|c| (c.as_str(), "1h")).collect();
    let cfg = config(&entries);
    assert!(!SourceIpPolicy.validate(&cfg).has_errors());
    let p = plan(&e, &Value::Null, &cfg).await;
    let errors = errors_at(&p.diags);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("temporary_cidrs: the rendered policy would have at least ")
            && errors[0].contains("IAM allows 6,144")
            && errors[0].contains("of the 10000 active temporary_cidrs entries"),
        "{errors:?}"
    );
    // An update is refused the same way, before anything is written.
    let (prior, _) = converge(&e, &Value::Null, &config(&[])).await;
    let p = plan(&e, &prior, &cfg).await;
    assert!(p.diags.has_errors());
    assert!(
        fake.writes().iter().all(|w| *w == "CreatePolicy"),
        "{:?}",
        fake.writes()
    );
}

#[test]
fn tags_iam_would_refuse_are_refused_at_validation() {
    let mut v = config(&[]);
    v.set(
        "tags",
        Value::object([
            ("note", Value::from("a;b")),
            ("aws:owner", Value::from("me")),
            ("fine", Value::from("x=1 y=2")),
        ]),
    );
    let errors = errors_at(&SourceIpPolicy.validate(&v));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("tags[\"note\"]: ") && e.contains("not an IAM tag value")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("tags[\"aws:owner\"]: ") && e.contains("not an IAM tag key")),
        "{errors:?}"
    );
}

#[test]
fn every_attribute_is_documented() {
    assert!(schema_block().undocumented().is_empty());
}

/// Every state the resource produces (create with and without entries, tags and a description,
/// each entry status, read, import, an update after a revoke during apply) matches the schema,
/// so a drift between the two fails here and not in a user's apply.
#[tokio::test]
async fn schema_accepts_every_state() {
    let block = schema_block();
    let mut states = Vec::new();

    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let mut cfg = config(&[("203.0.113.7/32", "2h"), ("203.0.113.8/32", "8h")]);
    cfg.set("description", Value::from("remote workers"));
    cfg.set("tags", Value::object([("team", Value::from("platform"))]));
    let (created, _) = converge(&e, &Value::Null, &cfg).await;
    states.push(created.clone());
    let later = env(&fake, "2026-11-23T14:00:01Z");
    crate::ctl::policy::revoke(
        &later.policies,
        &format!("{ARN}#203.0.113.8/32"),
        t("2026-11-23T14:00:00Z"),
    )
    .await
    .unwrap();
    let (read, _) = SourceIpPolicy.read(&later, created.clone()).await;
    states.push(read.clone());
    let (pruned, _) = converge(&later, &read, &cfg).await;
    states.push(pruned);
    let imported = SourceIpPolicy.import(&later, ARN).await.unwrap();
    states.push(imported.clone());
    states.push(SourceIpPolicy.read(&later, imported).await.0);
    // Revoked between plan and apply: the apply reports it, and its state is a state too.
    let fake = Arc::new(FakeIam::default());
    let e = env(&fake, "2026-11-23T12:00:00Z");
    let (created, _) = converge(&e, &Value::Null, &cfg).await;
    cfg.set("tags", Value::Null);
    let p = plan(&e, &created, &cfg).await;
    crate::ctl::policy::revoke(
        &e.policies,
        &format!("{ARN}#203.0.113.7/32"),
        t("2026-11-23T12:30:00Z"),
    )
    .await
    .unwrap();
    let (applied, diags) = apply_plan(&e, &created, &p, &cfg).await;
    assert_eq!(errors_at(&diags).len(), 1, "{diags:?}");
    states.push(applied);

    let bare = Arc::new(FakeIam::default());
    let e = env(&bare, "2026-11-23T12:00:00Z");
    let (plain, _) = converge(&e, &Value::Null, &config(&[])).await;
    states.push(plain.clone());
    states.push(SourceIpPolicy.read(&e, plain).await.0);
    states.push(SourceIpPolicy.import(&e, ARN).await.unwrap());

    testing::assert_states_fit(&block, &states, |s| {
        PolicyState::from_value(s).map(|p| p.to_value())
    });
    let statuses = states
        .iter()
        .filter_map(|s| match s.get("temporary_cidrs") {
            Value::Map(m) => Some(m.values().map(|e| e.get("status").value_str())),
            _ => None,
        })
        .flatten();
    assert_eq!(
        testing::distinct(statuses),
        [STATUS_ACTIVE, STATUS_EXPIRED, STATUS_REVOKED]
    );
}
