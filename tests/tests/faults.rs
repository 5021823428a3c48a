//! The fault matrix, end to end: the real terraform and `jitctl` against the strict local AWS while it throttles,
//! fails, drops connections before and after acting, and while terraform and the provider are killed with
//! SIGKILL at every write step. Each test ends with AWS's state read through the harness's own SDK clients, which
//! are never faulted, and checked by an independent reading of the records (not the provider's codec):
//!
//! - no entry without the record that owns it, and no live record without its entry;
//! - nothing of anyone else's touched (a foreign entry and tag, and AWS's `*` rules);
//! - an empty second plan.
//!
//! README "Reliability" lists what each cell showed. The binaries must be built first (`scripts/test.sh` does it).

use std::collections::BTreeMap;
use std::time::Duration;

use jit_e2e::{
    Aws, FaultConfig, FaultKind, HandEntry, Moto, Step, TEST_NOW_ENV, Terraform, jit_command,
    jit_config,
};

/// The clock: grants are created at T0 with a one-hour TTL.
const T0: &str = "2026-01-01T00:00:00Z";
const T0_EPOCH: i64 = 1_767_225_600;
/// Past the ten minutes after which an unconfirmed intent counts as abandoned, before any grant expires.
const T0_PLUS_11M: &str = "2026-01-01T00:11:00Z";
/// Past every grant's expiry.
const T0_PLUS_2H: &str = "2026-01-01T02:00:00Z";
const T0_PLUS_2H_EPOCH: i64 = T0_EPOCH + 7200;

/// Every fault kind that changes what happens (latency only slows).
const ALL_FAULTS: [FaultKind; 4] = [
    FaultKind::Throttle,
    FaultKind::InternalError,
    FaultKind::DropBefore,
    FaultKind::DropAfter,
];

/// Someone else's entry, inside jit's rule-number range, which jit must never touch (and a `Name` tag beside it).
const FOREIGN: HandEntry<'static> = HandEntry {
    egress: false,
    rule_number: 150,
    cidr: "192.0.2.0/24",
    protocol: "6",
    allow: true,
    ports: Some((443, 443)),
};

struct World {
    aws: Aws,
    acl: String,
    // Last, so that terraform and the SDK are done before moto is killed.
    moto: Moto,
}

impl World {
    /// A local AWS with one network ACL holding a foreign entry and a foreign tag.
    fn new() -> World {
        let moto = Moto::start();
        let aws = Aws::new(&moto);
        let acl = aws.new_network_acl();
        aws.create_entry(&acl, &FOREIGN);
        aws.tag(&acl, "Name", "public-subnets");
        World { aws, acl, moto }
    }

    /// Another network ACL with a foreign entry, in the same account.
    fn another_acl(&self) -> String {
        let acl = self.aws.new_network_acl();
        self.aws.create_entry(&acl, &FOREIGN);
        self.aws.tag(&acl, "Name", "public-subnets");
        acl
    }

    fn terraform(&self, now: &str) -> Terraform {
        let mut tf = Terraform::new(&self.moto);
        tf.set_env(TEST_NOW_ENV, now);
        tf
    }

    /// `jitctl ARGS` at `now`; its standard output.
    fn jitctl(&self, now: &str, args: &[&str]) -> (Option<i32>, String) {
        let out = jit_command(&self.moto, "jitctl", now)
            .args(args)
            .output()
            .expect("run jitctl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }
}

/// `count` grants for TCP/22 from 203.0.113.<offset+1..>/32 on `acl`, numbered automatically, under one address.
fn grants(name: &str, acl: &str, count: usize, offset: usize, reason: &str) -> String {
    format!(
        r#"resource "jit_access_rule" "{name}" {{
  count          = {count}
  network_acl_id = "{acl}"
  cidr_block     = "203.0.113.${{count.index + {first}}}/32"
  protocol       = "tcp"
  from_port      = 22
  ttl            = "1h"
  reason         = "{reason}"
}}
"#,
        first = offset + 1
    )
}

/// A grant record as read off its tag, by this test's own reading of the format.
#[derive(Debug, Clone)]
struct Rec {
    egress: bool,
    number: i32,
    cidr: String,
    protocol: String,
    ports: Option<(i32, i32)>,
    allow: bool,
    intent: bool,
    revoked: bool,
    expires: i64,
}

fn records(aws: &Aws, acl: &str) -> Vec<Rec> {
    aws.jit_tags(acl)
        .into_iter()
        .map(|(key, value)| {
            let fields: BTreeMap<&str, &str> =
                value.split(';').filter_map(|f| f.split_once('=')).collect();
            let field = |k: &str| {
                *fields
                    .get(k)
                    .unwrap_or_else(|| panic!("{key} = {value:?} has no {k}="))
            };
            assert_eq!(field("v"), "2", "{key} = {value:?}: not a format-2 record");
            let (direction, number) = field("s").split_once(':').expect("s=<direction>:<n>");
            Rec {
                egress: direction == "egress",
                number: number.parse().expect("a rule number"),
                cidr: field("n").to_string(),
                protocol: field("p").to_string(),
                ports: fields.get("r").map(|r| {
                    let (a, b) = r.split_once('-').expect("r=<from>-<to>");
                    (a.parse().expect("port"), b.parse().expect("port"))
                }),
                allow: field("a") == "allow",
                intent: fields.get("i") == Some(&"1"),
                revoked: fields.contains_key("x"),
                expires: field("e").parse().expect("e=<epoch>"),
            }
        })
        .collect()
}

/// What the harness sees on the ACL: entries (without AWS's `*` rules) as (egress, number, cidr, protocol, ports,
/// allow).
type Entry = (bool, i32, String, String, Option<(i32, i32)>, bool);

fn entries(aws: &Aws, acl: &str) -> Vec<Entry> {
    aws.entries(acl)
        .into_iter()
        .map(|e| {
            (
                e.egress().unwrap_or(false),
                e.rule_number().unwrap_or(0),
                e.cidr_block().unwrap_or_default().to_string(),
                e.protocol().unwrap_or_default().to_string(),
                e.port_range()
                    .map(|p| (p.from().unwrap_or(0), p.to().unwrap_or(0))),
                e.rule_action() == Some(&aws_sdk_ec2::types::RuleAction::Allow),
            )
        })
        .collect()
}

fn is_foreign(e: &Entry) -> bool {
    *e == (
        FOREIGN.egress,
        FOREIGN.rule_number,
        FOREIGN.cidr.to_string(),
        FOREIGN.protocol.to_string(),
        FOREIGN.ports,
        FOREIGN.allow,
    )
}

fn records_entry(r: &Rec, e: &Entry) -> bool {
    (r.egress, r.number, &r.cidr, &r.protocol, r.ports, r.allow) == (e.0, e.1, &e.2, &e.3, e.4, e.5)
}

/// The invariants of a converged ACL at `now` (epoch seconds): the foreign entry, the foreign tag and AWS's two
/// `*` rules untouched; every other entry recorded by a committed record; every live committed record with its
/// entry; no intent left. Returns the number of live grants.
#[track_caller]
fn assert_converged(w: &World, acl: &str, now: i64, context: &str) -> usize {
    let all = entries(&w.aws, acl);
    let recs = records(&w.aws, acl);
    let report = || format!("{context}\nentries: {all:#?}\nrecords: {recs:#?}");
    assert_eq!(
        all.iter().filter(|e| is_foreign(e)).count(),
        1,
        "the foreign entry was touched. {}",
        report()
    );
    assert_eq!(
        w.aws.tags(acl).get("Name").map(String::as_str),
        Some("public-subnets"),
        "the foreign tag was touched. {}",
        report()
    );
    assert_eq!(
        w.aws.default_rules(acl),
        [(false, true), (true, true)],
        "AWS's `*` rules were touched. {}",
        report()
    );
    for e in all.iter().filter(|e| !is_foreign(e)) {
        assert!(
            recs.iter()
                .any(|r| !r.intent && !r.revoked && records_entry(r, e)),
            "an entry without its record: {e:?}. {}",
            report()
        );
    }
    let mut live = 0;
    for r in &recs {
        assert!(!r.intent, "an intent was left: {r:?}. {}", report());
        if !r.revoked && r.expires > now {
            assert!(
                all.iter().any(|e| records_entry(r, e)),
                "a live record without its entry: {r:?}. {}",
                report()
            );
            live += 1;
        }
    }
    live
}

/// After a sweep past every expiry: only the foreign entry, no jit record.
#[track_caller]
fn assert_swept_clean(w: &World, acl: &str, context: &str) {
    assert_converged(w, acl, T0_PLUS_2H_EPOCH, context);
    let left: Vec<Entry> = entries(&w.aws, acl)
        .into_iter()
        .filter(|e| !is_foreign(e))
        .collect();
    assert!(left.is_empty(), "{context}: entries left: {left:?}");
    let recs = records(&w.aws, acl);
    assert!(recs.is_empty(), "{context}: records left: {recs:?}");
}

/// Applies until it succeeds (a fault may fail one apply; the next finishes what it left), at most `tries` times;
/// returns how many applies it took.
#[track_caller]
fn apply_until_done(tf: &Terraform, tries: usize) -> usize {
    let mut runs = Vec::new();
    for n in 1..=tries {
        let run = tf.apply();
        if run.success() {
            return n;
        }
        runs.push(run.report());
    }
    panic!("{tries} applies did not converge:\n{}", runs.join("\n"));
}

#[track_caller]
fn destroy_until_done(tf: &Terraform, tries: usize) -> usize {
    let mut runs = Vec::new();
    for n in 1..=tries {
        let run = tf.destroy();
        if run.success() {
            return n;
        }
        runs.push(run.report());
    }
    panic!("{tries} destroys did not converge:\n{}", runs.join("\n"));
}

/// 19 automatically numbered grants in one apply, next to one foreign entry: 20 entries, AWS's default quota per
/// direction, so one leaked entry fails the apply. Then destroy, under the same faults.
fn nineteen_grants_under_faults(rate: f64, seed: u64) {
    let w = World::new();
    let tf = w.terraform(T0);
    tf.write_main_tf(&jit_config("", &grants("g", &w.acl, 19, 0, "load")));
    w.moto
        .set_faults(&FaultConfig::new(seed, rate, &ALL_FAULTS));
    let applies = apply_until_done(&tf, 4);
    let counts = w.moto.fault_counts();
    let injected: u64 = counts.values().flat_map(|k| k.values()).sum();
    assert!(injected > 0, "no fault was injected: {counts:?}");
    let context = format!("{rate} faults, seed {seed}, {applies} applies, injected {counts:?}");
    assert_eq!(
        assert_converged(&w, &w.acl, T0_EPOCH, &context),
        19,
        "{context}"
    );
    assert_eq!(tf.state_resources().len(), 19, "{context}");
    tf.assert_plan_empty();

    let destroys = destroy_until_done(&tf, 4);
    let context = format!("{context}, then {destroys} destroys");
    eprintln!("fault matrix: 19 grants at {rate}: {context}");
    assert_converged(&w, &w.acl, T0_EPOCH, &context);
    assert!(entries(&w.aws, &w.acl).iter().all(is_foreign), "{context}");
    assert!(records(&w.aws, &w.acl).is_empty(), "{context}");
}

#[test]
fn nineteen_grants_at_10_percent_faults() {
    nineteen_grants_under_faults(0.10, 10);
}

#[test]
fn nineteen_grants_at_30_percent_faults() {
    nineteen_grants_under_faults(0.30, 30);
}

/// One write step of a command: the `nth` request of `action` (whose parameters contain `matching`), held before
/// or after AWS acted while the command is killed.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    action: &'static str,
    nth: u32,
    matching: Option<&'static str>,
    step: Step,
}

const fn point(action: &'static str, nth: u32, matching: Option<&'static str>) -> [KillPoint; 2] {
    [
        KillPoint {
            action,
            nth,
            matching,
            step: Step::Before,
        },
        KillPoint {
            action,
            nth,
            matching,
            step: Step::After,
        },
    ]
}

/// Runs `terraform ARGS` until the local AWS holds the write at `at`, then kills terraform and the provider with
/// SIGKILL. Panics if the command finishes without reaching that step.
#[track_caller]
fn kill_terraform_at(w: &World, tf: &Terraform, args: &[&str], at: KillPoint) {
    w.moto.hold(at.action, at.step, at.nth, at.matching);
    let mut run = tf.spawn(args);
    let held = w
        .moto
        .wait_held(Duration::from_secs(120), || !run.running());
    let group = run.group();
    let out = run.kill();
    w.moto.release();
    assert!(
        held.is_some(),
        "{at:?} was never reached:\n{}",
        out.report()
    );
    // Nothing of the killed group survives (the provider included) once the kernel has reaped it.
    let alive = || {
        let out = std::process::Command::new("pgrep")
            .args(["-g", &group.to_string()])
            .output()
            .expect("run pgrep");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !alive().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = alive();
    assert!(
        left.is_empty(),
        "processes of the killed group survive: {left}"
    );
}

/// One killed command, then convergence two ways, each from its own copy of the crash: one more terraform
/// command (`converge`, at T0 + 11 minutes, when an intent of the killed run counts as abandoned), and,
/// separately, one `jitctl sweep` past every expiry.
fn crash_matrix(
    name: &str,
    points: &[KillPoint],
    setup: impl Fn(&World, &str) -> Option<Terraform>,
    kill: impl Fn(&World, &str, Option<&Terraform>, KillPoint),
    converge: impl Fn(&World, &str, Option<&mut Terraform>, KillPoint) -> usize,
) {
    let w = World::new();
    for &at in points {
        for by_sweep in [false, true] {
            let acl = w.another_acl();
            let mut tf = setup(&w, &acl);
            kill(&w, &acl, tf.as_ref(), at);
            let how = if by_sweep {
                "jitctl sweep"
            } else {
                "one more command"
            };
            let context = format!("{name} killed at {at:?}, converged by {how}");
            eprintln!("fault matrix: {context}");
            if by_sweep {
                let (code, out) = w.jitctl(T0_PLUS_2H, &["sweep"]);
                assert_eq!(code, Some(0), "{context}: the sweep failed:\n{out}");
                assert_swept_clean(&w, &acl, &format!("{context}\n{out}"));
            } else {
                let live = converge(&w, &acl, tf.as_mut(), at);
                assert_eq!(
                    assert_converged(&w, &acl, T0_EPOCH + 660, &context),
                    live,
                    "{context}: live grants"
                );
            }
        }
    }
}

/// Writes of a create: the intent, the entry, the commit.
const CREATE_STEPS: [[KillPoint; 2]; 3] = [
    point("CreateTags", 1, Some(";i=1")),
    point("CreateNetworkAclEntry", 1, None),
    point("CreateTags", 2, None),
];

#[test]
fn killed_at_each_write_step_of_a_create() {
    crash_matrix(
        "create",
        CREATE_STEPS.as_flattened(),
        |_, _| None,
        |w, acl, _, at| {
            let tf = w.terraform(T0);
            tf.write_main_tf(&jit_config("", &grants("g", acl, 1, 0, "crash")));
            kill_terraform_at(w, &tf, &["apply", "-auto-approve", "-input=false"], at);
        },
        |w, acl, _, _| {
            // A fresh working directory: the killed terraform never wrote its state.
            let tf = w.terraform(T0_PLUS_11M);
            tf.write_main_tf(&jit_config("", &grants("g", acl, 1, 0, "crash")));
            tf.apply().assert_success();
            tf.assert_plan_empty();
            // The killed create's grant, if it was committed, and the new one.
            records(&w.aws, acl)
                .iter()
                .filter(|r| !r.intent && !r.revoked)
                .count()
        },
    );
}

/// A grant that exists, created at T0.
fn one_grant(w: &World, acl: &str) -> Option<Terraform> {
    let tf = w.terraform(T0);
    tf.write_main_tf(&jit_config("", &grants("g", acl, 1, 0, "before")));
    tf.apply().assert_success();
    Some(tf)
}

#[test]
fn killed_at_each_write_step_of_an_update() {
    crash_matrix(
        "update",
        &point("CreateTags", 1, None),
        one_grant,
        |w, acl, tf, at| {
            let tf = tf.expect("terraform");
            tf.write_main_tf(&jit_config("", &grants("g", acl, 1, 0, "after")));
            kill_terraform_at(w, tf, &["apply", "-auto-approve", "-input=false"], at);
        },
        |w, acl, tf, _| {
            let tf = tf.expect("terraform");
            tf.set_env(TEST_NOW_ENV, T0_PLUS_11M);
            tf.apply().assert_success();
            tf.assert_plan_empty();
            let recs = records(&w.aws, acl);
            assert_eq!(recs.len(), 1, "{recs:?}");
            let reason = w.aws.jit_tags(acl).into_values().next().unwrap_or_default();
            assert!(
                reason.contains(";why=after"),
                "the update was not finished: {reason}"
            );
            1
        },
    );
}

#[test]
fn killed_at_each_write_step_of_a_destroy() {
    let points = [
        point("DeleteNetworkAclEntry", 1, None),
        point("DeleteTags", 1, None),
    ];
    crash_matrix(
        "destroy",
        points.as_flattened(),
        one_grant,
        |w, _, tf, at| {
            let tf = tf.expect("terraform");
            kill_terraform_at(w, tf, &["destroy", "-auto-approve", "-input=false"], at);
        },
        |_, _, tf, _| {
            let tf = tf.expect("terraform");
            tf.set_env(TEST_NOW_ENV, T0_PLUS_11M);
            tf.destroy().assert_success();
            assert!(tf.state_resources().is_empty());
            0
        },
    );
}

#[test]
fn killed_at_each_write_step_of_a_revoke() {
    let points = [
        point("CreateTags", 1, None),
        point("DeleteNetworkAclEntry", 1, None),
    ];
    crash_matrix(
        "revoke",
        points.as_flattened(),
        one_grant,
        |w, acl, _, at| {
            w.moto.hold(at.action, at.step, at.nth, at.matching);
            let mut cmd = jit_command(&w.moto, "jitctl", T0);
            let address = format!("{acl}:ingress:100");
            let mut child = cmd
                .args(["revoke", &address])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start jitctl");
            let held = w.moto.wait_held(Duration::from_secs(60), || {
                !matches!(child.try_wait(), Ok(None))
            });
            let _ = child.kill();
            let _ = child.wait();
            w.moto.release();
            assert!(held.is_some(), "jitctl revoke never reached {at:?}");
        },
        |_, _, tf, at| {
            // One more apply finishes a revoke that wrote its marker; one killed before it never began.
            let tf = tf.expect("terraform");
            tf.set_env(TEST_NOW_ENV, T0_PLUS_11M);
            tf.apply().assert_success();
            tf.assert_plan_empty();
            let began = !(at.action == "CreateTags" && at.step == Step::Before);
            let status =
                tf.state_resource("jit_access_rule.g[0]").expect("in state")["status"].clone();
            assert_eq!(status, if began { "revoked" } else { "active" }, "{at:?}");
            usize::from(!began)
        },
    );
}

/// Two terraform processes creating grants on the same ACL at once, under faults: no number is shared, nothing
/// leaks, both second plans are empty.
#[test]
fn two_terraform_processes_on_one_acl() {
    let w = World::new();
    let a = w.terraform(T0);
    let b = w.terraform(T0);
    a.write_main_tf(&jit_config("", &grants("a", &w.acl, 9, 0, "team a")));
    b.write_main_tf(&jit_config("", &grants("b", &w.acl, 9, 100, "team b")));
    w.moto.set_faults(&FaultConfig::new(2, 0.10, &ALL_FAULTS));
    for round in 0..3 {
        let ra = a.spawn(&["apply", "-auto-approve", "-input=false"]);
        let rb = b.spawn(&["apply", "-auto-approve", "-input=false"]);
        let (ra, rb) = (ra.wait(), rb.wait());
        if ra.success() && rb.success() {
            break;
        }
        assert!(
            round < 2,
            "three rounds did not converge:\n{}\n{}",
            ra.report(),
            rb.report()
        );
        eprintln!(
            "fault matrix: two processes: round {} did not finish both",
            round + 1
        );
    }
    let context = format!("faults {:?}", w.moto.fault_counts());
    assert_eq!(
        assert_converged(&w, &w.acl, T0_EPOCH, &context),
        18,
        "{context}"
    );
    a.assert_plan_empty();
    b.assert_plan_empty();
}

/// `jitctl sweep` racing an apply under faults: the sweep removes the ten expired grants of one workspace while
/// another workspace creates nine new ones on the same ACL; the new grants all survive with their records.
#[test]
fn sweep_racing_an_apply_under_faults() {
    let w = World::new();
    let old = w.terraform(T0);
    old.write_main_tf(&jit_config("", &grants("old", &w.acl, 10, 0, "old")));
    old.apply().assert_success();
    // Two hours later the old grants have expired; the new workspace's clock is there too.
    let new = w.terraform(T0_PLUS_2H);
    new.write_main_tf(&jit_config("", &grants("new", &w.acl, 9, 100, "new")));
    w.moto.set_faults(&FaultConfig::new(7, 0.30, &ALL_FAULTS));
    let apply = new.spawn(&["apply", "-auto-approve", "-input=false"]);
    let (code, sweep) = w.jitctl(T0_PLUS_2H, &["sweep"]);
    let apply = apply.wait();
    // A fault may fail either; running each once more (without the race) finishes.
    if !apply.success() {
        apply_until_done(&new, 3);
    }
    if code != Some(0) {
        let (code, again) = w.jitctl(T0_PLUS_2H, &["sweep"]);
        assert_eq!(code, Some(0), "{sweep}\n{again}");
    }
    let context = format!("sweep:\n{sweep}\nfaults {:?}", w.moto.fault_counts());
    eprintln!(
        "fault matrix: sweep racing apply: apply {}, sweep exit {code:?}; {context}",
        if apply.success() {
            "succeeded"
        } else {
            "failed once"
        }
    );
    assert_eq!(
        assert_converged(&w, &w.acl, T0_PLUS_2H_EPOCH, &context),
        9,
        "{context}"
    );
    new.assert_plan_empty();
    let new_cidrs: Vec<String> = (101..=109).map(|n| format!("203.0.113.{n}/32")).collect();
    let mut live: Vec<String> = entries(&w.aws, &w.acl)
        .into_iter()
        .filter(|e| !is_foreign(e))
        .map(|e| e.2)
        .collect();
    live.sort();
    assert_eq!(live, new_cidrs, "{context}");
}

/// Regression (CI, `sweep_racing_an_apply_under_faults`): the sweep's `DeleteNetworkAclEntry` landed and its
/// response was lost; another workspace numbered a new grant at the freed number meanwhile; the SDK's retry then
/// deleted the new grant's entry (and the next grant numbered there deleted its record as a leftover), so a grant
/// terraform had just created was gone. Deterministic here: the response is held until the new grant exists, then
/// dropped. A delete is now repeated only after a fresh read, which shows the new grant.
#[test]
fn a_lost_delete_response_never_deletes_the_grant_numbered_there_next() {
    let w = World::new();
    let old = w.terraform(T0);
    old.write_main_tf(&jit_config("", &grants("old", &w.acl, 1, 0, "old")));
    old.apply().assert_success();
    let number = |cidr: &str| {
        entries(&w.aws, &w.acl)
            .into_iter()
            .find(|e| e.2 == cidr)
            .map(|e| e.1)
    };
    let old_number = number("203.0.113.1/32").expect("the old grant's entry");

    w.moto.hold("DeleteNetworkAclEntry", Step::After, 1, None);
    let sweep = jit_command(&w.moto, "jitctl", T0_PLUS_2H)
        .arg("sweep")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start jitctl");
    let held = w.moto.wait_held(Duration::from_secs(60), || false);
    assert!(
        held.is_some(),
        "the sweep never deleted the expired grant's entry"
    );
    let new = w.terraform(T0_PLUS_2H);
    new.write_main_tf(&jit_config("", &grants("new", &w.acl, 1, 100, "new")));
    new.apply().assert_success();
    assert_eq!(
        number("203.0.113.101/32"),
        Some(old_number),
        "the new grant did not take the freed number"
    );
    w.moto.release();
    let out = sweep.wait_with_output().expect("jitctl sweep");
    let context = format!(
        "sweep:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{context}");
    assert_eq!(
        assert_converged(&w, &w.acl, T0_PLUS_2H_EPOCH, &context),
        1,
        "{context}"
    );
    assert_eq!(number("203.0.113.101/32"), Some(old_number), "{context}");
    assert_eq!(number("203.0.113.1/32"), None, "{context}");
    new.assert_plan_empty();
}

/// A refresh of 200 grants over 10 ACLs while half of all requests, reads included, are throttled: the SDK's
/// explicit retry configuration (8 attempts, backoff capped at 5 s, no retry budget) carries it through, and the
/// plan is empty.
#[test]
fn throttled_refresh_of_200_grants() {
    let w = World::new();
    let tf = w.terraform(T0);
    let mut config = String::new();
    let acls: Vec<String> = (0..10).map(|_| w.aws.new_network_acl()).collect();
    for (i, acl) in acls.iter().enumerate() {
        config.push_str(&grants(&format!("g{i}"), acl, 20, 0, "many"));
    }
    tf.write_main_tf(&jit_config("", &config));
    tf.apply().assert_success();
    w.moto
        .set_faults(&FaultConfig::new(200, 0.5, &[FaultKind::Throttle]).include_reads());
    tf.assert_plan_empty();
    let counts = w.moto.fault_counts();
    assert!(
        counts
            .values()
            .any(|k| k.get("throttle").is_some_and(|&n| n > 0)),
        "nothing was throttled: {counts:?}"
    );
}
