use std::sync::Mutex;

use time::OffsetDateTime;

use super::*;
use crate::aws::client_vpn::fake::FakeClientVpn;
use crate::aws::client_vpn::{AwsError, ClientConnection, ClientVpnApi, EndpointView};
use crate::clock::FixedClock;
use crate::grant::GrantId;
use crate::grant::client_vpn::{Grant, Identity, Record};

const ENDPOINT: &str = "cvpn-endpoint-0123456789abcdef0";

fn at(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap()
}

fn record(id: &str, identity: Identity, cidr: Option<&str>) -> Record {
    Record {
        id: GrantId::parse(id).unwrap(),
        grant: Grant {
            identity,
            cidr: cidr.map(|c| c.parse().unwrap()),
            created_at: at(1_000),
            expires_at: at(8_200),
            ttl: "2h".into(),
            requested_by: None,
            reason: None,
            revoked_at: None,
        },
    }
}

fn fake_with(records: &[&Record]) -> FakeClientVpn {
    let fake = FakeClientVpn::with_endpoint(ENDPOINT);
    fake.update_tags(ENDPOINT, |t| {
        for r in records {
            t.insert(r.tag_key(), r.tag_value());
        }
    });
    fake
}

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String)>>,
    fail: bool,
    hang: bool,
}

#[async_trait]
impl Notifier for Recorder {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), String> {
        if self.hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if self.fail {
            return Err("AuthorizationError: not allowed to publish".into());
        }
        self.sent
            .lock()
            .unwrap()
            .push((subject.to_string(), message.to_string()));
        Ok(())
    }
}

fn handler(api: Arc<dyn ClientVpnApi>, now: i64, notifier: Option<Arc<dyn Notifier>>) -> Handler {
    Handler {
        vpns: ClientVpns::new(api),
        clock: Arc::new(FixedClock(at(now))),
        standing: Ok(vec![]),
        notifier,
        deadline: Ok(DEADLINE),
    }
}

fn event(schema: &str, user: &str, ip: &str, groups: &[&str]) -> Value {
    let mut e = json!({
        "connection-id": "cvpn-connection-04e7e1b2f0daf9460",
        "endpoint-id": ENDPOINT,
        "common-name": "",
        "username": user,
        "platform": "linux",
        "platform-version": "",
        "public-ip": ip,
        "client-openvpn-version": "2.6.8",
        "schema-version": schema,
        "some-future-field": {"ignored": true},
    });
    if schema == "v2" {
        e["groups"] = json!(groups);
    }
    e
}

#[tokio::test]
async fn v1_and_v2_events_are_answered_in_their_schema() {
    let alice = record(
        "aaaaaaaaaaaa",
        Identity::Username("alice".into()),
        Some("203.0.113.0/24"),
    );
    let admins = record("gggggggggggg", Identity::Group("vpn-admins".into()), None);
    let fake = fake_with(&[&alice, &admins]);
    let h = handler(Arc::new(fake.clone()), 2_000, None);

    let v1 = h.handle(&event("v1", "alice", "203.0.113.7", &[])).await;
    assert_eq!(
        v1,
        json!({"allow": true, "error-msg-on-failed-posture-compliance": "", "posture-compliance-statuses": ["aaaaaaaaaaaa"], "schema-version": "v1"})
    );
    let v2 = h
        .handle(&event("v2", "carol", "192.0.2.1", &["staff", "vpn-admins"]))
        .await;
    assert_eq!(
        v2,
        json!({"allow": true, "error-msg-on-denied-connection": "", "posture-compliance-statuses": ["gggggggggggg"], "schema-version": "v2"})
    );
    let wrong_ip = h.handle(&event("v2", "alice", "198.51.100.7", &[])).await;
    assert_eq!(wrong_ip["allow"], false);
    assert_eq!(wrong_ip["schema-version"], "v2");
    let m = wrong_ip["error-msg-on-denied-connection"].as_str().unwrap();
    assert!(
        m.contains("from 198.51.100.7") && m.contains("admits only 203.0.113.0/24"),
        "{m}"
    );
    let wrong_user = h.handle(&event("v1", "mallory", "203.0.113.7", &[])).await;
    assert_eq!(wrong_user["allow"], false);
    assert!(
        wrong_user["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .starts_with("no jit grant for mallory")
    );
    // A v1 event carries no groups: a group grant cannot admit it.
    let v1_group = h.handle(&event("v1", "carol", "192.0.2.1", &[])).await;
    assert_eq!(v1_group["allow"], false);
    assert_eq!(fake.describes(), 1, "one read, then the snapshot");
}

#[tokio::test]
async fn a_cached_grant_never_admits_past_its_expiry_and_a_revoke_once_read_is_final() {
    let alice = record("aaaaaaaaaaaa", Identity::Username("alice".into()), None);
    let fake = fake_with(&[&alice]);
    let api: Arc<dyn ClientVpnApi> = Arc::new(fake.clone());
    let vpns = ClientVpns::new(api);
    let during = Handler {
        vpns,
        clock: Arc::new(FixedClock(at(8_199))),
        standing: Ok(vec![]),
        notifier: None,
        deadline: Ok(DEADLINE),
    };
    assert_eq!(
        during.handle(&event("v1", "alice", "192.0.2.1", &[])).await["allow"],
        true
    );
    // The same snapshot, one second later by the clock: expired.
    let after = Handler {
        clock: Arc::new(FixedClock(at(8_200))),
        ..during
    };
    let refused = after.handle(&event("v1", "alice", "192.0.2.1", &[])).await;
    assert_eq!(refused["allow"], false);
    assert!(
        refused["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .contains("expired at")
    );
    assert_eq!(fake.describes(), 1, "decided on the cached snapshot");

    let mut revoked = alice.clone();
    revoked.grant.revoked_at = Some(at(1_500));
    let fake = fake_with(&[&revoked]);
    let h = handler(Arc::new(fake), 2_000, None);
    let r = h.handle(&event("v1", "alice", "192.0.2.1", &[])).await;
    assert_eq!(r["allow"], false);
    assert!(
        r["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .contains("revoked at")
    );
}

#[tokio::test]
async fn malformed_events_are_refused_with_a_message() {
    let fake = fake_with(&[]);
    let h = handler(Arc::new(fake.clone()), 2_000, None);
    for (e, text) in [
        (json!("hello"), "not a JSON object"),
        (
            json!({"endpoint-id": "vpn-1", "public-ip": "192.0.2.1"}),
            "endpoint-id",
        ),
        (
            json!({"endpoint-id": ENDPOINT, "public-ip": "123.456.789.0"}),
            "public-ip",
        ),
        (
            json!({"endpoint-id": ENDPOINT, "public-ip": "192.0.2.1", "username": 7}),
            "username",
        ),
        (
            json!({"endpoint-id": ENDPOINT, "public-ip": "192.0.2.1", "schema-version": "v2", "groups": "admins"}),
            "groups",
        ),
        (
            json!({"endpoint-id": ENDPOINT, "public-ip": "192.0.2.1", "schema-version": "v9"}),
            "schema-version",
        ),
    ] {
        let answer = h.handle(&e).await;
        assert_eq!(answer["allow"], false, "{e}");
        let field = if e["schema-version"] == "v2" {
            "error-msg-on-denied-connection"
        } else {
            "error-msg-on-failed-posture-compliance"
        };
        let m = answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("no message for {e}: {answer}"));
        assert!(m.contains(text), "{e}: {m}");
    }
    assert_eq!(fake.calls(), 0, "nothing malformed reaches AWS");
}

/// A Client VPN API that never answers.
struct Hanging;

#[async_trait]
impl ClientVpnApi for Hanging {
    async fn describe(&self, _: &str) -> Result<Option<EndpointView>, AwsError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(None)
    }
    async fn describe_all(&self) -> Result<Vec<EndpointView>, AwsError> {
        unreachable!("the handler reads one endpoint")
    }
    async fn put_tag(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
        unreachable!("the handler writes nothing")
    }
    async fn delete_tag(&self, _: &str, _: &str, _: Option<&str>) -> Result<(), AwsError> {
        unreachable!("the handler writes nothing")
    }
    async fn connections(&self, _: &str) -> Result<Vec<ClientConnection>, AwsError> {
        unreachable!("the handler reads no connections")
    }
    async fn terminate(&self, _: &str, _: &str) -> Result<(), AwsError> {
        unreachable!("the handler terminates nothing")
    }
}

#[tokio::test]
async fn aws_errors_and_silence_refuse_with_a_message_within_the_deadline() {
    let fake = fake_with(&[&record(
        "aaaaaaaaaaaa",
        Identity::Username("alice".into()),
        None,
    )]);
    fake.unreachable(true);
    let h = handler(Arc::new(fake), 2_000, None);
    let r = h.handle(&event("v2", "alice", "192.0.2.1", &[])).await;
    assert_eq!(r["allow"], false);
    assert!(
        r["error-msg-on-denied-connection"]
            .as_str()
            .unwrap()
            .contains("could not read the grants"),
        "{r}"
    );

    let slow = Handler {
        deadline: Ok(Duration::from_millis(200)),
        ..handler(Arc::new(Hanging), 2_000, None)
    };
    let started = Instant::now();
    let r = slow.handle(&event("v1", "alice", "192.0.2.1", &[])).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["allow"], false);
    assert!(
        r["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .contains("in time"),
        "{r}"
    );
}

#[tokio::test]
async fn standing_ranges_admit_and_an_invalid_one_refuses_everyone() {
    assert!(parse_standing("198.51.100.0/24, 2001:db8::/48,").is_ok());
    let err = parse_standing("198.51.100.0/24,123.456.789.0/24").unwrap_err();
    assert!(
        err.starts_with(ALWAYS_ALLOW_ENV) && err.contains("123.456.789.0/24"),
        "{err}"
    );
    let fake = fake_with(&[]);
    let office = Handler {
        standing: parse_standing("198.51.100.0/24"),
        ..handler(Arc::new(fake.clone()), 2_000, None)
    };
    let r = office
        .handle(&event("v1", "anyone", "198.51.100.9", &[]))
        .await;
    assert_eq!(r["allow"], true);
    assert_eq!(
        r["posture-compliance-statuses"],
        json!(["always-allow:198.51.100.0/24"])
    );
    let broken = Handler {
        standing: parse_standing("office"),
        ..handler(Arc::new(fake), 2_000, None)
    };
    let r = broken
        .handle(&event("v2", "anyone", "198.51.100.9", &[]))
        .await;
    assert_eq!(r["allow"], false);
    assert!(
        r["error-msg-on-denied-connection"]
            .as_str()
            .unwrap()
            .contains("misconfigured")
    );
}

#[test]
fn the_deadline_setting_takes_whole_milliseconds_below_aws_wait() {
    assert_eq!(parse_deadline(None), Ok(DEADLINE));
    assert_eq!(parse_deadline(Some("")), Ok(DEADLINE));
    assert_eq!(parse_deadline(Some("  ")), Ok(DEADLINE));
    assert_eq!(parse_deadline(Some("20000")), Ok(Duration::from_secs(20)));
    assert_eq!(
        parse_deadline(Some(" 750 ")),
        Ok(Duration::from_millis(750))
    );
    assert_eq!(parse_deadline(Some("100")), Ok(MIN_DEADLINE));
    assert_eq!(
        parse_deadline(Some("29999")),
        Ok(Duration::from_millis(29_999))
    );
    for nonsense in [
        "5s", "-1", "+5000", "1.5", "1e4", "0x10", "five", "20000ms", "\u{fffd}",
    ] {
        let err = parse_deadline(Some(nonsense)).unwrap_err();
        assert!(
            err.starts_with(DEADLINE_ENV) && err.contains("not a whole number of milliseconds"),
            "{nonsense}: {err}"
        );
    }
    let err = parse_deadline(Some("99999999999999999999999")).unwrap_err();
    assert!(err.contains("not a whole number"), "{err}");
    for short in ["0", "1", "99"] {
        let err = parse_deadline(Some(short)).unwrap_err();
        assert!(
            err.contains("too short") && err.contains("at least 100"),
            "{err}"
        );
    }
    for long in ["30000", "30001", "900000"] {
        let err = parse_deadline(Some(long)).unwrap_err();
        assert!(
            err.contains("not below the 30 s AWS waits") && err.contains("at most 29999"),
            "{err}"
        );
    }
    assert_eq!(notify_budget(DEADLINE), Duration::from_millis(1500));
    assert_eq!(
        notify_budget(Duration::from_secs(20)),
        Duration::from_secs(6)
    );
}

#[tokio::test]
async fn an_invalid_deadline_refuses_everyone_with_a_message() {
    let alice = record("aaaaaaaaaaaa", Identity::Username("alice".into()), None);
    let recorder = Arc::new(Recorder::default());
    let h = Handler {
        deadline: parse_deadline(Some("30000")),
        ..handler(
            Arc::new(fake_with(&[&alice])),
            2_000,
            Some(recorder.clone()),
        )
    };
    let r = h.handle(&event("v2", "alice", "192.0.2.1", &[])).await;
    assert_eq!(r["allow"], false, "{r}");
    assert_eq!(r["schema-version"], "v2");
    assert!(
        r["error-msg-on-denied-connection"]
            .as_str()
            .unwrap()
            .contains("misconfigured (jit's handler deadline is invalid)"),
        "{r}"
    );
    // The refusal is still announced.
    assert_eq!(recorder.sent.lock().unwrap().len(), 1);
    // The same grant admits alice once the deadline is valid.
    let fixed = Handler {
        deadline: parse_deadline(Some("20000")),
        ..handler(Arc::new(fake_with(&[&alice])), 2_000, None)
    };
    let r = fixed.handle(&event("v2", "alice", "192.0.2.1", &[])).await;
    assert_eq!(r["allow"], true, "{r}");
}

#[tokio::test]
async fn notifications_report_each_decision_and_never_change_or_delay_it() {
    let alice = record("aaaaaaaaaaaa", Identity::Username("alice".into()), None);
    let recorder = Arc::new(Recorder::default());
    let h = handler(
        Arc::new(fake_with(&[&alice])),
        2_000,
        Some(recorder.clone()),
    );
    h.handle(&event("v1", "alice", "192.0.2.1", &[])).await;
    h.handle(&event("v1", "bob", "192.0.2.1", &[])).await;
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, "jit Client VPN: alice allowed from 192.0.2.1");
    let body: Value = serde_json::from_str(&sent[0].1).unwrap();
    assert_eq!(body["admitted_by"], "aaaaaaaaaaaa");
    assert_eq!(body["decision"], "allowed");
    let body: Value = serde_json::from_str(&sent[1].1).unwrap();
    assert_eq!(body["decision"], "refused");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("no jit grant for bob")
    );

    let failing = Arc::new(Recorder {
        fail: true,
        ..Recorder::default()
    });
    let h = handler(Arc::new(fake_with(&[&alice])), 2_000, Some(failing));
    assert_eq!(
        h.handle(&event("v1", "alice", "192.0.2.1", &[])).await["allow"],
        true
    );
    let hanging = Arc::new(Recorder {
        hang: true,
        ..Recorder::default()
    });
    let h = Handler {
        deadline: Ok(Duration::from_millis(300)),
        ..handler(Arc::new(fake_with(&[&alice])), 2_000, Some(hanging))
    };
    let started = Instant::now();
    assert_eq!(
        h.handle(&event("v1", "alice", "192.0.2.1", &[])).await["allow"],
        true
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn responses_respect_aws_limits() {
    let many: Vec<String> = (0..12).map(|i| format!("{i}{}", "x".repeat(300))).collect();
    let r = response(Schema::V1, false, &"m".repeat(300), &many);
    assert_eq!(
        r["posture-compliance-statuses"].as_array().unwrap().len(),
        10
    );
    assert!(
        r["posture-compliance-statuses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.as_str().unwrap().chars().count() <= 255)
    );
    assert_eq!(
        r["error-msg-on-failed-posture-compliance"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        255
    );
}

/// The scenario's role policy for the handler passes jitlint, and grants nothing but reading the endpoints,
/// publishing to the one topic and writing its own logs.
#[test]
fn the_handler_policy_is_least_privilege_and_passes_jitlint() {
    let text = include_str!("../../../examples/client-vpn/handler-policy.json");
    let findings = jitlint::lint_policy_document_as(
        text,
        jitlint::PolicyKind::InlineRole,
        &jitlint::Config::default(),
    )
    .unwrap();
    assert!(findings.is_empty(), "{findings:?}");
    let doc: Value = serde_json::from_str(text).unwrap();
    let mut actions: Vec<String> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
            _ => vec![],
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "ec2:DescribeClientVpnEndpoints",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sns:Publish"
        ]
    );
    assert!(
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["Effect"] == "Allow"
                && (s["Resource"] != "*" || s["Action"] == "ec2:DescribeClientVpnEndpoints"))
    );
}
