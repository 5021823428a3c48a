//! End to end for Client VPN: `jit_client_vpn_grant` created, changed, imported and destroyed by the real
//! terraform; the client-connect handler (`jit-client-vpn-handler`) invoked through a local Lambda Runtime API with
//! schema v1 and v2 events; its SNS notifications read back through an SQS subscription; `jitctl` revoking and
//! sweeping, terminating exactly the connections of ended grants. Everything is checked in the strict local AWS,
//! which serves Client VPN itself (moto has none).
//!
//! The binaries must be built first: `cargo build -p terraform-provider-jit --bins`.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jit_e2e::{
    Aws, ClientVpnConnection, Invocation, Moto, RuntimeApi, TEST_NOW_ENV, Terraform, jit_command,
    jit_config,
};
use serde_json::{Value, json};

const T0: &str = "2026-01-01T00:00:00Z";
const T0_PLUS_30M: &str = "2026-01-01T00:30:00Z";
const T0_PLUS_2H: &str = "2026-01-01T02:00:00Z";
const T0_PLUS_2H30M: &str = "2026-01-01T02:30:00Z";
const T0_PLUS_5H: &str = "2026-01-01T05:00:00Z";

/// The handler's default deadline (5 s) plus what process start and the emulator add.
const ANSWER_WITHIN: Duration = Duration::from_secs(7);

/// The deadline the tests that are not about it give the handler (`JIT_HANDLER_DEADLINE_MS`): on a loaded 2-core
/// machine a cold first answer (reading the grants from the local AWS, publishing to SNS) can take longer than the
/// default 5 s, and an answer that should admit would refuse.
const TEST_DEADLINE_MS: &str = "20000";

/// [`TEST_DEADLINE_MS`] plus what process start and the emulator add.
const TEST_ANSWER_WITHIN: Duration = Duration::from_secs(22);

struct World {
    aws: Aws,
    tf: Terraform,
    endpoint: String,
    moto: Moto,
}

fn world() -> World {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let mut tf = Terraform::new(&moto);
    tf.set_env(TEST_NOW_ENV, T0);
    let endpoint = aws.new_client_vpn_endpoint();
    World {
        aws,
        tf,
        endpoint,
        moto,
    }
}

/// Three grants: alice (by username, only from 203.0.113.0/24, 1h), the vpn-admins group (4h), and the
/// certificate laptop-42 (2h).
fn grants(endpoint: &str) -> String {
    format!(
        r#"resource "jit_client_vpn_grant" "alice" {{
  client_vpn_endpoint_id = "{endpoint}"
  username               = "alice"
  cidr_block             = "203.0.113.0/24"
  ttl                    = "1h"
  reason                 = "hotel wifi"
  requested_by           = "bob"
}}

resource "jit_client_vpn_grant" "admins" {{
  client_vpn_endpoint_id = "{endpoint}"
  group                  = "vpn-admins"
  ttl                    = "4h"
}}

resource "jit_client_vpn_grant" "laptop" {{
  client_vpn_endpoint_id = "{endpoint}"
  common_name            = "laptop-42"
  ttl                    = "2h"
}}
"#
    )
}

fn grant_id(tf: &Terraform, address: &str) -> String {
    tf.state_resource(address)
        .unwrap_or_else(|| panic!("{address} is not in the state"))["grant_id"]
        .as_str()
        .expect("a grant id")
        .to_string()
}

/// A client-connect request as AWS sends it.
fn event(
    w: &World,
    schema: &str,
    username: &str,
    common_name: &str,
    ip: &str,
    groups: &[&str],
) -> Value {
    let mut e = json!({
        "connection-id": "cvpn-connection-0a1b2c3d4e5f60718",
        "endpoint-id": w.endpoint,
        "common-name": common_name,
        "username": username,
        "platform": "linux",
        "platform-version": "6.1",
        "public-ip": ip,
        "client-openvpn-version": "2.6.8",
        "schema-version": schema,
    });
    if schema == "v2" {
        e["groups"] = json!(groups);
    }
    e
}

/// The handler, started with the clock at `now` against the Runtime API emulator, with the deadline
/// [`TEST_DEADLINE_MS`] and extra environment (which may override it).
struct HandlerProcess {
    child: Child,
}

impl HandlerProcess {
    fn start(moto: &Moto, api: &RuntimeApi, now: &str, env: &[(&str, &str)]) -> HandlerProcess {
        let mut cmd: Command = jit_command(moto, "jit-client-vpn-handler", now);
        cmd.env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "AWSClientVPN-jit")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/AWSClientVPN-jit")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("JIT_HANDLER_DEADLINE_MS", TEST_DEADLINE_MS)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        HandlerProcess {
            child: cmd.spawn().expect("start jit-client-vpn-handler"),
        }
    }

    /// Stops the process and returns its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut logs = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .map(|mut e| e.read_to_string(&mut logs));
        let _ = self.child.wait();
        logs
    }
}

/// Runs `events` through a fresh handler process at `now`; returns each answer, in order, and the log.
fn invoke(
    w: &World,
    now: &str,
    env: &[(&str, &str)],
    events: Vec<Value>,
) -> (Vec<Invocation>, String) {
    let n = events.len();
    let api = RuntimeApi::start("AWSClientVPN-jit", events);
    let handler = HandlerProcess::start(&w.moto, &api, now, env);
    let answers: Vec<Invocation> = (0..n).map(|_| api.next(Duration::from_secs(60))).collect();
    let logs = handler.stop();
    for a in &answers {
        assert_eq!(
            a.kind, "response",
            "the handler answers, never errors: {a:?}\n{logs}"
        );
        assert!(a.latency < TEST_ANSWER_WITHIN, "{a:?}");
    }
    (answers, logs)
}

/// The message shown to a refused client, from the field of the answer's schema version.
fn message(answer: &Value) -> &str {
    let field = match answer["schema-version"].as_str() {
        Some("v2") => "error-msg-on-denied-connection",
        _ => "error-msg-on-failed-posture-compliance",
    };
    let m = answer[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {answer}"));
    assert!(m.chars().count() <= 255, "{m}");
    m
}

#[track_caller]
fn assert_admitted(answer: &Value, grant: &str) {
    assert_eq!(answer["allow"], true, "{answer}");
    assert_eq!(
        answer["posture-compliance-statuses"],
        json!([grant]),
        "{answer}"
    );
}

#[track_caller]
fn assert_refused<'a>(answer: &'a Value, text: &str) -> &'a str {
    assert_eq!(answer["allow"], false, "{answer}");
    let m = message(answer);
    assert!(m.contains(text), "{text:?} not in {m:?}");
    m
}

#[test]
fn terraform_grants_are_what_the_handler_admits() {
    let w = world();
    w.tf.write_main_tf(&jit_config("", &grants(&w.endpoint)));
    w.tf.apply().assert_success();
    w.tf.assert_plan_empty();
    let alice = grant_id(&w.tf, "jit_client_vpn_grant.alice");
    let admins = grant_id(&w.tf, "jit_client_vpn_grant.admins");
    let laptop = grant_id(&w.tf, "jit_client_vpn_grant.laptop");
    let tags = w.aws.client_vpn_tags(&w.endpoint);
    for id in [&alice, &admins, &laptop] {
        let value = &tags[&format!("jit:grant:{id}")];
        assert!(value.starts_with("v=cvpn1;"), "{value}");
    }
    assert!(tags[&format!("jit:grant:{alice}")].contains("u=alice;n=203.0.113.0/24;"));

    let (topic, queue) = w.moto.sns_topic_with_queue("vpn-connections");
    let (answers, logs) = invoke(
        &w,
        T0_PLUS_30M,
        &[("JIT_NOTIFY_TOPIC_ARN", topic.as_str())],
        vec![
            event(&w, "v1", "alice", "", "203.0.113.7", &[]),
            event(&w, "v2", "alice", "", "198.51.100.7", &[]),
            event(&w, "v1", "mallory", "", "203.0.113.7", &[]),
            event(&w, "v2", "carol", "", "192.0.2.1", &["staff", "vpn-admins"]),
            event(&w, "v1", "carol", "", "192.0.2.1", &[]),
            event(&w, "v1", "", "laptop-42", "192.0.2.9", &[]),
            json!({"endpoint-id": w.endpoint, "public-ip": "123.456.789.0", "schema-version": "v2"}),
            json!(["not", "an", "event"]),
        ],
    );
    let a: Vec<&Value> = answers.iter().map(|i| &i.body).collect();
    assert_admitted(a[0], &alice);
    assert_eq!(a[0]["schema-version"], "v1");
    assert_eq!(a[0]["error-msg-on-failed-posture-compliance"], "");
    let m = assert_refused(a[1], "no active jit grant for alice from 198.51.100.7");
    assert!(m.contains("admits only 203.0.113.0/24"), "{m}");
    assert_eq!(a[1]["schema-version"], "v2");
    assert_refused(a[2], "no jit grant for mallory from 203.0.113.7");
    assert_admitted(a[3], &admins);
    assert_eq!(a[3]["schema-version"], "v2");
    assert_refused(a[4], "no jit grant for carol");
    assert_admitted(a[5], &laptop);
    assert_refused(a[6], "public-ip");
    assert_refused(a[7], "not a JSON object");
    assert!(logs.contains("\"level\":\"WARN\""), "JSON logs:\n{logs}");

    let published = w.moto.published(&queue);
    assert_eq!(
        published.len(),
        answers.len(),
        "one message per decision: {published:?}"
    );
    let first: Value = serde_json::from_str(&published[0].1).expect("a JSON message");
    assert_eq!(
        published[0].0,
        "jit Client VPN: alice allowed from 203.0.113.7"
    );
    assert_eq!(first["decision"], "allowed");
    assert_eq!(first["admitted_by"], alice.as_str());
    assert_eq!(first["endpoint_id"], w.endpoint.as_str());
    let second: Value = serde_json::from_str(&published[1].1).expect("a JSON message");
    assert_eq!(second["decision"], "refused");

    // Later, by the injected clock: alice's hour is over, the laptop's two hours too.
    let (answers, _) = invoke(
        &w,
        T0_PLUS_2H,
        &[],
        vec![
            event(&w, "v1", "alice", "", "203.0.113.7", &[]),
            event(&w, "v2", "", "laptop-42", "192.0.2.9", &[]),
            event(&w, "v2", "dave", "", "192.0.2.2", &["vpn-admins"]),
        ],
    );
    assert_refused(
        &answers[0].body,
        "the last one expired at 2026-01-01T01:00:00Z",
    );
    assert_refused(
        &answers[1].body,
        "the last one expired at 2026-01-01T02:00:00Z",
    );
    assert_admitted(&answers[2].body, &admins);

    // A revoked grant admits nobody from the revoke on.
    let out = jitctl(
        &w,
        T0_PLUS_30M,
        &["revoke", &format!("{}:{admins}", w.endpoint)],
    );
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let (answers, _) = invoke(
        &w,
        T0_PLUS_30M,
        &[],
        vec![event(&w, "v2", "carol", "", "192.0.2.1", &["vpn-admins"])],
    );
    assert_refused(
        &answers[0].body,
        "the last one was revoked at 2026-01-01T00:30:00Z",
    );
    let plan = w.tf.plan();
    assert!(!plan.has_changes(), "a revoked grant is not re-created");
    assert_eq!(plan.drift(), ["jit_client_vpn_grant.admins"]);
    w.tf.apply().assert_success();
    assert_eq!(
        w.tf.state_resource("jit_client_vpn_grant.admins").unwrap()["status"],
        "revoked"
    );
    w.tf.assert_plan_empty();

    // Standing ranges: the office is always let in; an invalid value refuses everyone, loudly, with a message.
    let (answers, _) = invoke(
        &w,
        T0_PLUS_30M,
        &[("JIT_ALWAYS_ALLOW_CIDRS", "198.51.100.0/24")],
        vec![event(&w, "v1", "nobody", "", "198.51.100.20", &[])],
    );
    assert_admitted(&answers[0].body, "always-allow:198.51.100.0/24");
    let (answers, logs) = invoke(
        &w,
        T0_PLUS_30M,
        &[("JIT_ALWAYS_ALLOW_CIDRS", "123.456.789.0/24")],
        vec![event(&w, "v1", "alice", "", "203.0.113.7", &[])],
    );
    assert_refused(&answers[0].body, "misconfigured");
    assert!(
        logs.contains("\"level\":\"ERROR\"") && logs.contains("123.456.789.0/24"),
        "{logs}"
    );
    // So does a deadline at or past AWS's 30 s: validated at start like the standing ranges.
    let (answers, logs) = invoke(
        &w,
        T0_PLUS_30M,
        &[("JIT_HANDLER_DEADLINE_MS", "30000")],
        vec![event(&w, "v1", "alice", "", "203.0.113.7", &[])],
    );
    assert_refused(&answers[0].body, "handler deadline is invalid");
    assert!(
        logs.contains("\"level\":\"ERROR\"") && logs.contains("JIT_HANDLER_DEADLINE_MS"),
        "{logs}"
    );
}

/// With the shipped default deadline (no `JIT_HANDLER_DEADLINE_MS`): the answer comes within 5 s and what process
/// start adds.
#[test]
fn aws_unreachable_is_a_refusal_with_a_message_within_the_deadline() {
    let w = world();
    let api = RuntimeApi::start(
        "AWSClientVPN-jit",
        vec![event(&w, "v2", "alice", "", "203.0.113.7", &[])],
    );
    let mut cmd = jit_command(&w.moto, "jit-client-vpn-handler", T0);
    cmd.env_remove("JIT_HANDLER_DEADLINE_MS")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "AWSClientVPN-jit")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let handler = HandlerProcess {
        child: cmd.spawn().expect("start jit-client-vpn-handler"),
    };
    let answer = api.next(Duration::from_secs(30));
    let elapsed = started.elapsed();
    let logs = handler.stop();
    assert_eq!(answer.kind, "response", "{answer:?}\n{logs}");
    assert!(elapsed < ANSWER_WITHIN, "answered after {elapsed:?}");
    assert_refused(&answer.body, "could not read the grants");
}

/// What `jitctl` did: whether it succeeded, its stdout and its stderr.
struct Jitctl {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `jitctl ARGS` at `now`.
fn jitctl(w: &World, now: &str, args: &[&str]) -> Jitctl {
    let out = jit_command(&w.moto, "jitctl", now)
        .args(args)
        .output()
        .expect("run jitctl");
    Jitctl {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn expiry_ends_exactly_the_connections_of_ended_grants() {
    let mut w = world();
    w.tf.write_main_tf(&jit_config("", &grants(&w.endpoint)));
    w.tf.apply().assert_success();
    let alice = grant_id(&w.tf, "jit_client_vpn_grant.alice");
    let admins = grant_id(&w.tf, "jit_client_vpn_grant.admins");
    let laptop = grant_id(&w.tf, "jit_client_vpn_grant.laptop");
    let connect = |username: &str, common_name: &str, status: &str| {
        w.moto.connect_client_vpn(&ClientVpnConnection {
            endpoint_id: &w.endpoint,
            username,
            common_name,
            client_ip: "10.100.0.5",
            posture_compliance_statuses: &[status],
        })
    };
    let c_alice = connect("alice", "", &alice);
    let c_admin = connect("carol", "", &admins);
    let c_laptop = connect("", "laptop-42", &laptop);
    let c_office = connect("frank", "", "always-allow:198.51.100.0/24");
    let c_other = connect("gina", "", "compliant");

    // jitctl list shows the grants, with their state by the clock.
    let out = jitctl(&w, T0_PLUS_2H30M, &["list", "--format", "json"]);
    assert!(out.ok, "{}", out.stderr);
    let listed: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let states: BTreeMap<String, String> = listed["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .filter(|g| g["kind"] == "client_vpn")
        .map(|g| {
            (
                g["grant_id"].as_str().unwrap().to_string(),
                g["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(states[&alice], "expired");
    assert_eq!(states[&laptop], "expired");
    assert_eq!(states[&admins], "active");

    let out = jitctl(&w, T0_PLUS_2H30M, &["sweep", "--dry-run"]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    assert!(
        w.moto
            .client_vpn_connection_statuses(&w.endpoint)
            .values()
            .all(|s| s == "active")
    );

    let out = jitctl(&w, T0_PLUS_2H30M, &["sweep"]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let statuses = w.moto.client_vpn_connection_statuses(&w.endpoint);
    let expected: BTreeMap<String, String> = [
        (&c_alice, "terminated"),
        (&c_admin, "active"),
        (&c_laptop, "terminated"),
        (&c_office, "active"),
        (&c_other, "active"),
    ]
    .into_iter()
    .map(|(c, s)| (c.clone(), s.to_string()))
    .collect();
    assert_eq!(statuses, expected, "{}", out.stdout);
    let tags = w.aws.client_vpn_tags(&w.endpoint);
    assert!(!tags.contains_key(&format!("jit:grant:{alice}")));
    assert!(!tags.contains_key(&format!("jit:grant:{laptop}")));
    assert!(tags.contains_key(&format!("jit:grant:{admins}")));
    let again = jitctl(&w, T0_PLUS_2H30M, &["sweep"]);
    assert!(
        again.ok && again.stdout.contains("0 removed"),
        "idempotent: {}{}",
        again.stdout,
        again.stderr
    );

    // Terraform agrees: the refresh reads the swept grants as expired (drift, no change to make).
    w.tf.set_env(TEST_NOW_ENV, T0_PLUS_2H30M);
    let plan = w.tf.plan();
    assert!(!plan.has_changes(), "nothing to do after the sweep");
    assert_eq!(
        plan.drift(),
        ["jit_client_vpn_grant.alice", "jit_client_vpn_grant.laptop"]
    );
    w.tf.apply().assert_success();
    w.tf.assert_plan_empty();
    // At the admins' expiry, terraform removes the tag in place and ends the connection.
    w.tf.set_env(TEST_NOW_ENV, T0_PLUS_5H);
    let plan = w.tf.plan();
    assert_eq!(plan.actions("jit_client_vpn_grant.admins"), ["update"]);
    w.tf.apply().assert_success();
    assert_eq!(
        w.moto.client_vpn_connection_statuses(&w.endpoint)[&c_admin],
        "terminated"
    );
    assert_eq!(
        w.moto.client_vpn_connection_statuses(&w.endpoint)[&c_office],
        "active"
    );
    assert!(
        w.aws
            .client_vpn_tags(&w.endpoint)
            .keys()
            .all(|k| !k.starts_with("jit:")),
        "no grant tag left"
    );
    w.tf.assert_plan_empty();
    w.tf.destroy().assert_success();
}

#[test]
fn import_update_and_destroy_through_terraform() {
    let w = world();
    w.tf.write_main_tf(&jit_config("", &grants(&w.endpoint)));
    w.tf.apply().assert_success();
    let alice = grant_id(&w.tf, "jit_client_vpn_grant.alice");

    // A longer ttl moves the expiry in place; the grant keeps its id.
    w.tf.write_main_tf(&jit_config(
        "",
        &grants(&w.endpoint).replacen("\"1h\"", "\"3h\"", 1),
    ));
    let plan = w.tf.plan();
    assert_eq!(plan.actions("jit_client_vpn_grant.alice"), ["update"]);
    w.tf.apply().assert_success();
    assert_eq!(grant_id(&w.tf, "jit_client_vpn_grant.alice"), alice);
    assert_eq!(
        w.tf.state_resource("jit_client_vpn_grant.alice").unwrap()["expires_at"],
        "2026-01-01T03:00:00Z"
    );
    w.tf.assert_plan_empty();

    // Another workspace imports it from AWS alone.
    let mut other = Terraform::new(&w.moto);
    other.set_env(TEST_NOW_ENV, T0_PLUS_30M);
    let one = grants(&w.endpoint).replacen("\"1h\"", "\"3h\"", 1);
    let alice_only = one.split("\n\nresource").next().unwrap().to_string();
    other.write_main_tf(&jit_config("", &alice_only));
    other
        .import(
            "jit_client_vpn_grant.alice",
            &format!("{}:{alice}", w.endpoint),
        )
        .assert_success();
    other.assert_plan_empty();
    let bad = other.import(
        "jit_client_vpn_grant.alice",
        "cvpn-endpoint-0123456789abcdef0:zzzzzzzzzzzz",
    );
    assert!(!bad.success());

    // A tag removed by hand before the expiry is drift: the next apply creates the grant again.
    w.aws
        .block_on(
            w.aws
                .ec2()
                .delete_tags()
                .resources(&w.endpoint)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key(format!("jit:grant:{alice}"))
                        .build(),
                )
                .send(),
        )
        .expect("DeleteTags by hand");
    let plan = w.tf.plan();
    assert_eq!(plan.actions("jit_client_vpn_grant.alice"), ["create"]);
    w.tf.apply().assert_success();
    let again = grant_id(&w.tf, "jit_client_vpn_grant.alice");
    assert_ne!(again, alice, "a new grant");
    assert!(
        w.aws
            .client_vpn_tags(&w.endpoint)
            .contains_key(&format!("jit:grant:{again}"))
    );
    w.tf.assert_plan_empty();

    w.tf.destroy().assert_success();
    assert!(
        w.aws
            .client_vpn_tags(&w.endpoint)
            .keys()
            .all(|k| !k.starts_with("jit:")),
        "destroy removes every grant's tag"
    );
}
