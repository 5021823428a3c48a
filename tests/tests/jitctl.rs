//! End-to-end tests of `jitctl` and `jitctl-lambda`: grants are created by the real terraform through the locally
//! built provider against a private moto server, expired by moving the injected clock (`JIT_TEST_NOW`, for
//! terraform and jitctl alike), and every outcome is checked in "AWS" through the SDK.
//!
//! The binaries must be built first (`scripts/test.sh` does it): `cargo build -p terraform-provider-jit --bins`.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jit_e2e::{
    Aws, HandEntry, Moto, REGION, RuntimeApi, TEST_NOW_ENV, Terraform, jit_command, jit_config,
};
use serde_json::{Value, json};

/// The clock of every test: grants are created at T0 and looked at later.
const T0: &str = "2026-01-01T00:00:00Z";
const T0_PLUS_30M: &str = "2026-01-01T00:30:00Z";
const T0_PLUS_2H: &str = "2026-01-01T02:00:00Z";
const T0_PLUS_3H: &str = "2026-01-01T03:00:00Z";
const T0_PLUS_5H: &str = "2026-01-01T05:00:00Z";

struct World {
    aws: Aws,
    tf: Terraform,
    acl: String,
    // Last, so that terraform and the SDK are done before moto is killed.
    moto: Moto,
}

fn world() -> World {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let mut tf = Terraform::new(&moto);
    tf.set_env(TEST_NOW_ENV, T0);
    let acl = aws.new_network_acl();
    World { aws, tf, acl, moto }
}

/// A `jit_access_rule` for TCP/22 from `cidr`, numbered automatically.
fn grant(name: &str, acl: &str, cidr: &str, ttl: &str) -> String {
    format!(
        r#"resource "jit_access_rule" "{name}" {{
  network_acl_id = "{acl}"
  cidr_block     = "{cidr}"
  protocol       = "tcp"
  from_port      = 22
  ttl            = "{ttl}"
  reason         = "on call {name}"
  requested_by   = "alice"
}}
"#
    )
}

/// `count` grants for 203.0.113.<offset+1..>/32 under one resource address.
fn grants(name: &str, acl: &str, count: usize, offset: usize, ttl: &str) -> String {
    format!(
        r#"resource "jit_access_rule" "{name}" {{
  count          = {count}
  network_acl_id = "{acl}"
  cidr_block     = "203.0.113.${{count.index + {first}}}/32"
  protocol       = "tcp"
  from_port      = 22
  ttl            = "{ttl}"
}}
"#,
        first = offset + 1
    )
}

#[derive(Debug)]
struct Out {
    command: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "`{}` exited with {:?}, expected {code}:\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("`{}` printed no JSON ({e}):\n{}", self.command, self.stdout)
        })
    }
}

fn run(mut cmd: Command) -> Out {
    let command = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    Out {
        command,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `jitctl ARGS` at `now`.
fn jitctl(moto: &Moto, now: &str, args: &[&str]) -> Out {
    let mut cmd = jit_command(moto, "jitctl", now);
    cmd.args(args);
    run(cmd)
}

/// The grant id, rule number and ACL state of one resource instance in the terraform state.
fn state_of(tf: &Terraform, address: &str) -> Value {
    tf.state_resource(address)
        .unwrap_or_else(|| panic!("{address} is not in the state"))
}

fn id_of(tf: &Terraform, address: &str) -> String {
    state_of(tf, address)["id"]
        .as_str()
        .expect("a string id")
        .to_string()
}

/// The tag key of the grant's record on its ACL: `jit:grant:<grant_id>`.
fn record_key_of(tf: &Terraform, address: &str) -> String {
    format!(
        "jit:grant:{}",
        state_of(tf, address)["grant_id"]
            .as_str()
            .expect("a grant id")
    )
}

fn number_of(tf: &Terraform, address: &str) -> i32 {
    state_of(tf, address)["rule_number"]
        .as_i64()
        .expect("a rule number") as i32
}

/// Everything on the ACL that a sweep could change: its entries and its tags.
fn snapshot(w: &World) -> (Vec<String>, BTreeMap<String, String>) {
    let mut entries: Vec<String> = w
        .aws
        .entries(&w.acl)
        .iter()
        .map(|e| format!("{e:?}"))
        .collect();
    entries.sort();
    (entries, w.aws.tags(&w.acl))
}

/// `list --format json` as a map from grant id to the grant's JSON.
fn listed(out: &Out) -> BTreeMap<String, Value> {
    out.json()["grants"]
        .as_array()
        .expect("a grants array")
        .iter()
        .map(|g| (g["id"].as_str().expect("an id").to_string(), g.clone()))
        .collect()
}

#[test]
fn list_and_sweep_remove_only_expired_grants_jit_owns() {
    let w = world();
    let config = [
        grant("a", &w.acl, "203.0.113.1/32", "1h"),
        grant("b", &w.acl, "203.0.113.2/32", "1h"),
        grant("c", &w.acl, "203.0.113.3/32", "4h"),
    ]
    .concat();
    w.tf.write_main_tf(&jit_config("", &config));
    w.tf.apply().assert_success();
    let (a, b, c) = (
        id_of(&w.tf, "jit_access_rule.a"),
        id_of(&w.tf, "jit_access_rule.b"),
        id_of(&w.tf, "jit_access_rule.c"),
    );
    let (na, nb, nc) = (
        number_of(&w.tf, "jit_access_rule.a"),
        number_of(&w.tf, "jit_access_rule.b"),
        number_of(&w.tf, "jit_access_rule.c"),
    );

    // Someone reuses b's rule number for their own entry; c's entry is deleted by hand (its tag is orphaned); an
    // entry nobody tagged sits inside jit's range, another outside it.
    w.aws.delete_entry(&w.acl, false, nb);
    let reused = HandEntry {
        egress: false,
        rule_number: nb,
        cidr: "10.9.0.0/16",
        protocol: "6",
        allow: true,
        ports: Some((22, 22)),
    };
    w.aws.create_entry(&w.acl, &reused);
    w.aws.delete_entry(&w.acl, false, nc);
    let untagged = HandEntry {
        rule_number: 150,
        cidr: "198.51.100.0/24",
        ports: Some((443, 443)),
        ..reused.clone()
    };
    w.aws.create_entry(&w.acl, &untagged);
    w.aws.create_entry(
        &w.acl,
        &HandEntry {
            rule_number: 300,
            ..untagged.clone()
        },
    );

    // Two hours later: a and b are past their expiry, c is not.
    let list = jitctl(
        &w.moto,
        T0_PLUS_2H,
        &[
            "list",
            "--format",
            "json",
            "--region",
            REGION,
            "--region",
            "eu-west-1",
        ],
    );
    list.assert_code(0);
    let grants = listed(&list);
    let untagged_id = format!("{}:ingress:150", w.acl);
    let states: BTreeMap<&str, &str> = grants
        .iter()
        .map(|(id, g)| (id.as_str(), g["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        BTreeMap::from([
            (a.as_str(), "expired"),
            (b.as_str(), "reused"),
            (c.as_str(), "missing"),
            (untagged_id.as_str(), "untagged"),
        ]),
        "{}",
        list.stdout
    );
    let ga = &grants[&a];
    assert_eq!(ga["cidr"], "203.0.113.1/32");
    assert_eq!(
        (ga["protocol"].clone(), ga["from_port"].clone()),
        (json!("tcp"), json!(22))
    );
    assert_eq!(ga["requested_by"], "alice");
    assert_eq!(ga["reason"], "on call a");
    assert_eq!(ga["expires_at"], "2026-01-01T01:00:00Z");
    assert_eq!(ga["seconds_left"], -3600);
    assert_eq!(ga["region"], REGION);
    assert!(
        grants[&b]["note"].as_str().unwrap().contains("10.9.0.0/16"),
        "{}",
        grants[&b]
    );
    assert_eq!(list.json()["errors"], json!([]));

    let table = jitctl(&w.moto, T0_PLUS_2H, &["list"]);
    table.assert_code(0);
    let line = table
        .stdout
        .lines()
        .find(|l| l.contains(&a))
        .unwrap_or_else(|| panic!("no line for {a}:\n{}", table.stdout));
    assert!(line.contains("EXPIRED") && line.contains("-1h"), "{line}");

    // A dry run reports and changes nothing.
    let before = snapshot(&w);
    let dry = jitctl(
        &w.moto,
        T0_PLUS_2H,
        &["sweep", "--dry-run", "--format", "json"],
    );
    dry.assert_code(0);
    let outcomes: BTreeMap<String, String> = dry.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        BTreeMap::from([
            (a.clone(), "would remove".into()),
            (b.clone(), "left alone".into()),
            // Reported so someone looks at it; never deleted.
            (untagged_id.clone(), "left alone".into()),
        ])
    );
    assert_eq!(snapshot(&w), before, "a dry run changes nothing");

    // The sweep removes a, leaves the entry now at b's number alone, and touches nothing else.
    let sweep = jitctl(&w.moto, T0_PLUS_2H, &["sweep"]);
    sweep.assert_code(0);
    assert!(
        sweep
            .stdout
            .lines()
            .any(|l| l.starts_with("REMOVED") && l.contains(&a)),
        "{}",
        sweep.stdout
    );
    assert!(
        sweep
            .stdout
            .lines()
            .any(|l| l.starts_with("LEFT ALONE") && l.contains(&b)),
        "{}",
        sweep.stdout
    );
    assert!(
        w.aws.entry(&w.acl, false, na).is_none(),
        "a's entry is gone"
    );
    let reused_now = w
        .aws
        .entry(&w.acl, false, nb)
        .expect("the reused entry stays");
    assert_eq!(reused_now.cidr_block(), Some("10.9.0.0/16"));
    assert!(w.aws.entry(&w.acl, false, 150).is_some());
    assert!(w.aws.entry(&w.acl, false, 300).is_some());
    let tags: Vec<String> = w.aws.jit_tags(&w.acl).into_keys().collect();
    assert_eq!(
        tags,
        [record_key_of(&w.tf, "jit_access_rule.c")],
        "only c's record remains: c is not expired yet"
    );

    // Idempotent: nothing left to do.
    let after = snapshot(&w);
    let again = jitctl(&w.moto, T0_PLUS_2H, &["sweep", "--format", "json"]);
    again.assert_code(0);
    // What is left is reported, never touched: the entry someone put at b's number (b's record is gone, so
    // nothing points at it any more) and the untagged one.
    let results = again.json()["results"].clone();
    let left: Vec<(&str, &str)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        left,
        [
            (b.as_str(), "left alone"),
            (untagged_id.as_str(), "left alone")
        ],
        "{results}"
    );
    assert_eq!(snapshot(&w), after);

    // The provider agrees: a reads as expired (and stays in state), nothing is re-created.
    let mut tf = w.tf;
    tf.set_env(TEST_NOW_ENV, T0_PLUS_2H);
    tf.write_main_tf(&jit_config(
        "",
        &[
            grant("a", &w.acl, "203.0.113.1/32", "1h"),
            grant("b", &w.acl, "203.0.113.2/32", "1h"),
        ]
        .concat(),
    ));
    let plan = tf.plan();
    for addr in ["jit_access_rule.a", "jit_access_rule.b"] {
        let actions = plan.actions(addr);
        assert!(
            !actions.contains(&"create".to_string()),
            "{addr}: {actions:?}"
        );
    }
}

#[test]
fn sweep_failures_exit_1_with_a_line_each() {
    let moto = Moto::start();
    // Nothing listens on port 1: neither network ACLs, Client VPN endpoints nor IAM can be read, one line each.
    let out = jitctl(
        &moto,
        T0,
        &["sweep", "--endpoint-url", "http://127.0.0.1:1"],
    );
    out.assert_code(1);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("jitctl: "))
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(
        lines[0].starts_with(&format!("jitctl: {REGION} *: could not list network ACLs")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!(
            "jitctl: {REGION} *: could not list Client VPN endpoints"
        )),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("jitctl: global *: could not list jit-managed IAM policies"),
        "{}",
        lines[2]
    );

    // --endpoint-url reaches moto without AWS_ENDPOINT_URL; a bad one is a usage error.
    let mut cmd = jit_command(&moto, "jitctl", T0);
    cmd.env_remove("AWS_ENDPOINT_URL")
        .args(["list", "--endpoint-url", &moto.endpoint()]);
    run(cmd).assert_code(0);
    let bad = jitctl(&moto, T0, &["list", "--endpoint-url", "localhost:4566"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("is not a URL"), "{}", bad.stderr);
}

#[test]
fn revoke_ends_a_grant_and_terraform_reports_it_revoked() {
    let mut w = world();
    let config = jit_config("", &grant("vpn", &w.acl, "203.0.113.7/32", "2h"));
    w.tf.write_main_tf(&config);
    w.tf.apply().assert_success();
    let id = id_of(&w.tf, "jit_access_rule.vpn");
    let n = number_of(&w.tf, "jit_access_rule.vpn");
    let foreign = HandEntry {
        egress: false,
        rule_number: 180,
        cidr: "198.51.100.0/24",
        protocol: "6",
        allow: true,
        ports: Some((443, 443)),
    };
    w.aws.create_entry(&w.acl, &foreign);

    let out = jitctl(&w.moto, T0_PLUS_30M, &["revoke", &id]);
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!("revoked {id}")),
        "{}",
        out.stdout
    );
    assert!(w.aws.entry(&w.acl, false, n).is_none(), "the entry is gone");
    let tag = w.aws.jit_tags(&w.acl)[&record_key_of(&w.tf, "jit_access_rule.vpn")].clone();
    assert!(
        tag.ends_with(";x=1767227400"),
        "revoke marker at T0+30m: {tag}"
    );

    // Terraform: refreshed to revoked, and nothing is re-created.
    w.tf.set_env(TEST_NOW_ENV, T0_PLUS_30M);
    let plan = w.tf.plan();
    let actions = plan.actions("jit_access_rule.vpn");
    assert!(
        actions.is_empty() || actions == ["no-op"],
        "a revoked grant is not re-created: {actions:?}"
    );
    let refreshed = plan.json["prior_state"]["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["address"] == "jit_access_rule.vpn"))
        .map(|r| r["values"]["status"].clone());
    assert_eq!(
        refreshed,
        Some(json!("revoked")),
        "{}",
        plan.json["prior_state"]
    );
    w.tf.apply().assert_success();
    assert_eq!(state_of(&w.tf, "jit_access_rule.vpn")["status"], "revoked");
    assert!(w.aws.entry(&w.acl, false, n).is_none());
    w.tf.assert_plan_empty();

    let listed_now = listed(&jitctl(&w.moto, T0_PLUS_30M, &["list", "--format", "json"]));
    assert_eq!(listed_now[&id]["state"], "revoked");
    assert_eq!(listed_now[&id]["revoked_at"], "2026-01-01T00:30:00Z");

    // Again: a no-op that succeeds. Someone else's entry: refused, untouched.
    let again = jitctl(&w.moto, T0_PLUS_2H, &["revoke", &id]);
    again.assert_code(0);
    assert!(again.stdout.contains("already revoked"), "{}", again.stdout);
    let foreign_id = format!("{}:ingress:180", w.acl);
    let refused = jitctl(
        &w.moto,
        T0_PLUS_30M,
        &["revoke", &foreign_id, "--format", "json"],
    );
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("is not a jit grant"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.json()["failed"][0]["id"], foreign_id);
    assert!(w.aws.entry(&w.acl, false, 180).is_some());

    // The marker stays while the grant would have lasted, so terraform keeps seeing "revoked"; after its expiry
    // the sweep removes it.
    let keep = jitctl(&w.moto, T0_PLUS_30M, &["sweep", "--format", "json"]);
    keep.assert_code(0);
    // Only the foreign entry is reported (never touched); the revoked grant is kept.
    let results = keep.json()["results"].clone();
    assert_eq!(results.as_array().map(Vec::len), Some(1), "{results}");
    assert_eq!(results[0]["id"], json!(foreign_id));
    assert_eq!(results[0]["outcome"], "left alone");
    assert_eq!(w.aws.jit_tags(&w.acl).len(), 1);
    jitctl(&w.moto, T0_PLUS_3H, &["sweep"]).assert_code(0);
    assert!(w.aws.jit_tags(&w.acl).is_empty());
    assert!(w.aws.entry(&w.acl, false, 180).is_some());
    w.tf.set_env(TEST_NOW_ENV, T0_PLUS_3H);
    w.tf.assert_plan_empty();
}

#[test]
fn a_sweep_racing_terraform_apply_loses_nothing() {
    let w = world();
    // Ten grants from T0 that have expired by T0+2h...
    w.tf.write_main_tf(&jit_config("", &grants("old", &w.acl, 10, 0, "1h")));
    w.tf.apply().assert_success();
    assert_eq!(w.aws.jit_tags(&w.acl).len(), 10);

    // ...and, in another configuration, ten new grants applied at T0+2h while sweeps run.
    let mut fresh = Terraform::new(&w.moto);
    fresh.set_env(TEST_NOW_ENV, T0_PLUS_2H);
    fresh.write_main_tf(&jit_config("", &grants("new", &w.acl, 10, 10, "1h")));
    let done = AtomicBool::new(false);
    let (apply, sweeps) = std::thread::scope(|s| {
        let sweeper = s.spawn(|| {
            // Start once terraform is creating, so that removals and creates interleave on the same ACL.
            while w.aws.entries(&w.acl).len() <= 10 && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut runs = Vec::new();
            while !done.load(Ordering::SeqCst) || runs.len() < 2 {
                runs.push(jitctl(&w.moto, T0_PLUS_2H, &["sweep", "--format", "json"]));
            }
            runs
        });
        let apply = fresh.apply();
        done.store(true, Ordering::SeqCst);
        (apply, sweeper.join().expect("the sweeper thread"))
    });
    apply.assert_success();
    for run in &sweeps {
        run.assert_code(0);
    }
    let removed: u64 = sweeps
        .iter()
        .map(|r| r.json()["removed"].as_u64().unwrap())
        .sum();
    assert_eq!(removed, 10, "each old grant is removed exactly once");
    jitctl(&w.moto, T0_PLUS_2H, &["sweep"]).assert_code(0);

    // Every new grant is intact in AWS, exactly as terraform recorded it; every old one is gone.
    let tags = w.aws.jit_tags(&w.acl);
    let state = fresh.state_resources();
    assert_eq!(state.len(), 10);
    for (address, values) in &state {
        let n = values["rule_number"].as_i64().unwrap() as i32;
        let entry = w
            .aws
            .entry(&w.acl, false, n)
            .unwrap_or_else(|| panic!("{address}: no entry at {n}"));
        assert_eq!(
            entry.cidr_block(),
            values["cidr_block"].as_str(),
            "{address}"
        );
        let key = format!("jit:grant:{}", values["grant_id"].as_str().unwrap());
        let tag = tags
            .get(&key)
            .unwrap_or_else(|| panic!("{address}: no record {key}"));
        assert!(
            tag.contains(values["cidr_block"].as_str().unwrap()),
            "{address}: {tag}"
        );
    }
    assert_eq!(tags.len(), 10, "only the new grants' tags remain: {tags:?}");
    assert_eq!(w.aws.entries(&w.acl).len(), 10);
    fresh.assert_plan_empty();
}

#[test]
fn the_lambda_handler_sweeps_on_a_scheduled_event() {
    let w = world();
    let config = [
        grant("old", &w.acl, "203.0.113.1/32", "1h"),
        grant("live", &w.acl, "203.0.113.2/32", "4h"),
    ]
    .concat();
    w.tf.write_main_tf(&jit_config("", &config));
    w.tf.apply().assert_success();
    let old = number_of(&w.tf, "jit_access_rule.old");
    let live = number_of(&w.tf, "jit_access_rule.live");

    // What EventBridge sends for a `rate(5 minutes)` rule, then something that is not a schedule.
    let scheduled = json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": T0_PLUS_2H,
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:123456789012:rule/jit-sweeper")],
        "detail": {}
    });
    let s3 = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}});
    let api = RuntimeApi::start("jit-sweeper", vec![scheduled, s3]);
    let mut cmd = jit_command(&w.moto, "jitctl-lambda", T0_PLUS_2H);
    cmd.env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "jit-sweeper")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/jit-sweeper")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start jitctl-lambda");
    let first = api.next(Duration::from_secs(120));
    let second = api.next(Duration::from_secs(120));
    let _ = child.kill();
    let mut logs = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut logs));
    let _ = child.wait();

    assert_eq!(
        (first.request_id.as_str(), first.kind.as_str()),
        ("request-0", "response"),
        "{first:?}\n{logs}"
    );
    assert_eq!(first.body["removed"], 1, "{}", first.body);
    assert_eq!(first.body["failed"], 0);
    assert_eq!(
        first.body["results"][0]["id"],
        format!("{}:ingress:{old}", w.acl)
    );
    assert!(w.aws.entry(&w.acl, false, old).is_none());
    assert!(w.aws.entry(&w.acl, false, live).is_some());
    let tags: Vec<String> = w.aws.jit_tags(&w.acl).into_keys().collect();
    assert_eq!(tags, [record_key_of(&w.tf, "jit_access_rule.live")]);
    assert!(
        logs.contains("entry and record deleted"),
        "JSON logs for CloudWatch:\n{logs}"
    );

    assert_eq!(
        (second.request_id.as_str(), second.kind.as_str()),
        ("request-1", "error"),
        "{second:?}"
    );
    let message = second.body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("expects an EventBridge scheduled event"),
        "{}",
        second.body
    );
}

/// The default version of a policy and its document (moto sends documents as plain JSON).
fn policy_document(aws: &Aws, arn: &str) -> (String, String) {
    let policy = aws
        .block_on(aws.iam().get_policy().policy_arn(arn).send())
        .unwrap_or_else(|e| panic!("GetPolicy {arn}: {e:?}"));
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .expect("a default version")
        .to_string();
    let out = aws
        .block_on(
            aws.iam()
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&version)
                .send(),
        )
        .unwrap_or_else(|e| panic!("GetPolicyVersion {arn} {version}: {e:?}"));
    let document = out
        .policy_version()
        .and_then(|v| v.document())
        .expect("a document")
        .to_string();
    (version, document)
}

fn policy_tag_keys(aws: &Aws, arn: &str) -> Vec<String> {
    let out = aws
        .block_on(aws.iam().list_policy_tags().policy_arn(arn).send())
        .unwrap_or_else(|e| panic!("ListPolicyTags {arn}: {e:?}"));
    out.tags().iter().map(|t| t.key().to_string()).collect()
}

#[test]
fn policy_grants_are_listed_pruned_and_revoked() {
    let mut w = world();
    w.tf.write_main_tf(&jit_config(
        "",
        r#"resource "jit_source_ip_policy" "remote" {
  name          = "source-ip-restriction"
  allowed_cidrs = ["198.51.100.0/24"]
  temporary_cidrs = {
    "203.0.113.7/32" = { ttl = "1h", reason = "hotel" }
    "203.0.113.8/32" = { ttl = "4h", reason = "home" }
  }
}
"#,
    ));
    w.tf.apply().assert_success();
    let arn = state_of(&w.tf, "jit_source_ip_policy.remote")["arn"]
        .as_str()
        .expect("an ARN")
        .to_string();
    let (hotel, home) = (
        format!("{arn}#203.0.113.7/32"),
        format!("{arn}#203.0.113.8/32"),
    );

    let list = jitctl(&w.moto, T0_PLUS_2H, &["list", "--format", "json"]);
    list.assert_code(0);
    let grants = listed(&list);
    assert_eq!(grants[&hotel]["state"], "expired", "{}", list.stdout);
    assert_eq!(grants[&hotel]["kind"], "source_ip_policy");
    assert_eq!(grants[&hotel]["expires_at"], "2026-01-01T01:00:00Z");
    assert_eq!(grants[&home]["state"], "active");
    assert_eq!(grants[&home]["seconds_left"], 7200);

    // Dry run: nothing written. Sweep: a new default version without the expired range, nothing else changed.
    let (v0, _) = policy_document(&w.aws, &arn);
    jitctl(&w.moto, T0_PLUS_2H, &["sweep", "--dry-run"]).assert_code(0);
    assert_eq!(policy_document(&w.aws, &arn).0, v0);
    let sweep = jitctl(&w.moto, T0_PLUS_2H, &["sweep", "--format", "json"]);
    sweep.assert_code(0);
    assert_eq!(sweep.json()["results"][0]["id"], hotel, "{}", sweep.stdout);
    let (v1, document) = policy_document(&w.aws, &arn);
    assert_ne!(v1, v0);
    assert!(
        document.contains("203.0.113.8/32") && document.contains("198.51.100.0/24"),
        "{document}"
    );
    assert!(!document.contains("203.0.113.7/32"), "{document}");
    let again = jitctl(&w.moto, T0_PLUS_2H, &["sweep", "--format", "json"]);
    again.assert_code(0);
    assert_eq!(again.json()["results"], json!([]));
    assert_eq!(policy_document(&w.aws, &arn).0, v1);

    // Revoke the live range: gone from the document now, with a marker on the policy.
    let revoke = jitctl(&w.moto, T0_PLUS_2H, &["revoke", &home]);
    revoke.assert_code(0);
    let (_, document) = policy_document(&w.aws, &arn);
    assert!(
        !document.contains("203.0.113.8/32") && document.contains("198.51.100.0/24"),
        "{document}"
    );
    assert!(
        policy_tag_keys(&w.aws, &arn).contains(&"jit:revoked:203.0.113.8/32".to_string()),
        "{:?}",
        policy_tag_keys(&w.aws, &arn)
    );
    let grants = listed(&jitctl(&w.moto, T0_PLUS_2H, &["list", "--format", "json"]));
    assert_eq!(grants[&home]["state"], "revoked");

    // Terraform sees the revoke: the entry refreshes as revoked and is not granted again.
    w.tf.set_env(TEST_NOW_ENV, T0_PLUS_2H);
    w.tf.apply().assert_success();
    let entries = &state_of(&w.tf, "jit_source_ip_policy.remote")["temporary_cidrs"];
    assert_eq!(entries["203.0.113.8/32"]["status"], "revoked", "{entries}");
    assert_eq!(entries["203.0.113.7/32"]["status"], "expired", "{entries}");
    let (_, document) = policy_document(&w.aws, &arn);
    assert!(!document.contains("203.0.113.8/32"), "{document}");
    w.tf.assert_plan_empty();
    let permanent = jitctl(
        &w.moto,
        T0_PLUS_2H,
        &["revoke", &format!("{arn}#198.51.100.0/24")],
    );
    permanent.assert_code(1);
    assert!(
        permanent.stderr.contains("not a temporary CIDR"),
        "{}",
        permanent.stderr
    );

    // The marker stays while the range would have lasted; past its expiry the sweep removes it.
    jitctl(&w.moto, T0_PLUS_3H, &["sweep"]).assert_code(0);
    assert!(policy_tag_keys(&w.aws, &arn).contains(&"jit:revoked:203.0.113.8/32".to_string()));
    jitctl(&w.moto, T0_PLUS_5H, &["sweep"]).assert_code(0);
    assert!(
        !policy_tag_keys(&w.aws, &arn)
            .iter()
            .any(|k| k.starts_with("jit:revoked:")),
        "{:?}",
        policy_tag_keys(&w.aws, &arn)
    );
}
