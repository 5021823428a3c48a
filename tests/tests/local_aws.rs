//! The strict local AWS (`scripts/local-aws.sh`) refuses what AWS refuses and injects faults deterministically,
//! checked through the real AWS SDK.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{PortRange, RuleAction, Tag};
use jit_e2e::{Aws, FaultConfig, FaultKind, Moto, http_request, parse_endpoint, workspace_root};

/// What a failed call looked like: the HTTP status (none when the connection was dropped), code and message.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    code: Option<String>,
    message: String,
}

impl<E: ProvideErrorMetadata + std::fmt::Debug> From<SdkError<E, HttpResponse>> for Failure {
    fn from(e: SdkError<E, HttpResponse>) -> Failure {
        Failure {
            status: e.raw_response().map(|r| r.status().as_u16()),
            code: e.code().map(str::to_string),
            message: e
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{e:?}")),
        }
    }
}

/// The failure of a call that must fail.
#[track_caller]
fn refused<T: std::fmt::Debug, F: Into<Failure>>(result: Result<T, F>) -> Failure {
    match result {
        Ok(out) => panic!("expected the call to be refused, it succeeded: {out:?}"),
        Err(e) => e.into(),
    }
}

#[track_caller]
fn assert_code(f: &Failure, code: &str) {
    assert_eq!(f.code.as_deref(), Some(code), "{f:?}");
}

/// Creates ingress (or egress) entry `number` allowing 10.1.0.0/16 on all protocols.
fn create_entry(aws: &Aws, acl: &str, egress: bool, number: i32) -> Result<(), Failure> {
    aws.block_on(
        aws.ec2()
            .create_network_acl_entry()
            .network_acl_id(acl)
            .egress(egress)
            .rule_number(number)
            .cidr_block("10.1.0.0/16")
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .send(),
    )
    .map(|_| ())
    .map_err(Failure::from)
}

#[test]
fn the_21st_entry_per_direction_is_refused_and_the_quota_is_configurable() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    for n in 1..=20 {
        create_entry(&aws, &acl, false, n).expect("20 ingress entries fit");
    }
    let f = refused(create_entry(&aws, &acl, false, 21));
    assert_code(&f, "NetworkAclEntryLimitExceeded");
    assert_eq!(f.status, Some(400));
    // The quota is per direction.
    create_entry(&aws, &acl, true, 1).expect("egress has room");

    moto.set_nacl_rules_per_direction(40);
    for n in 21..=40 {
        create_entry(&aws, &acl, false, n).expect("40 ingress entries fit under a quota of 40");
    }
    assert_code(
        &refused(create_entry(&aws, &acl, false, 41)),
        "NetworkAclEntryLimitExceeded",
    );
    assert_eq!(aws.rule_numbers(&acl, false).len(), 40);
}

#[test]
fn missing_entries_and_acls_are_not_found() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    let delete = |acl: &str| {
        aws.block_on(
            aws.ec2()
                .delete_network_acl_entry()
                .network_acl_id(acl)
                .egress(false)
                .rule_number(77)
                .send(),
        )
        .map_err(Failure::from)
    };
    assert_code(&refused(delete(&acl)), "InvalidNetworkAclEntry.NotFound");
    let replace = aws.block_on(
        aws.ec2()
            .replace_network_acl_entry()
            .network_acl_id(&acl)
            .egress(false)
            .rule_number(77)
            .cidr_block("10.0.0.0/8")
            .protocol("-1")
            .rule_action(RuleAction::Deny)
            .send(),
    );
    assert_code(&refused(replace), "InvalidNetworkAclEntry.NotFound");
    assert_code(
        &refused(delete("acl-0123456789abcdef0")),
        "InvalidNetworkAclID.NotFound",
    );
}

#[test]
fn invalid_entries_and_dry_runs_create_nothing() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    let attempt = |number: i32, cidr: &str, protocol: &str, action: &str, to_port: i32| {
        aws.block_on(
            aws.ec2()
                .create_network_acl_entry()
                .network_acl_id(&acl)
                .egress(false)
                .rule_number(number)
                .cidr_block(cidr)
                .protocol(protocol)
                .rule_action(RuleAction::from(action))
                .port_range(PortRange::builder().from(1).to(to_port).build())
                .send(),
        )
        .map_err(Failure::from)
    };
    for (what, result) in [
        ("cidr", attempt(100, "123.456.789.0/24", "6", "allow", 80)),
        ("rule 0", attempt(0, "10.0.0.0/8", "6", "allow", 80)),
        ("rule 32767", attempt(32767, "10.0.0.0/8", "6", "allow", 80)),
        ("rule 40000", attempt(40000, "10.0.0.0/8", "6", "allow", 80)),
        ("protocol", attempt(100, "10.0.0.0/8", "bogus", "allow", 80)),
        ("port", attempt(100, "10.0.0.0/8", "6", "allow", 70000)),
        ("action", attempt(100, "10.0.0.0/8", "6", "maybe", 80)),
    ] {
        let f = refused(result);
        assert_eq!(
            f.code.as_deref(),
            Some("InvalidParameterValue"),
            "{what}: {f:?}"
        );
    }
    let dry = aws.block_on(
        aws.ec2()
            .create_network_acl_entry()
            .network_acl_id(&acl)
            .egress(false)
            .rule_number(100)
            .cidr_block("10.0.0.0/8")
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .dry_run(true)
            .send(),
    );
    let f = refused(dry);
    assert_code(&f, "DryRunOperation");
    assert_eq!(f.status, Some(412));
    assert!(aws.entries(&acl).is_empty(), "{:?}", aws.entries(&acl));
}

#[test]
fn ec2_tags_obey_the_limits_and_delete_by_value() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    let put = |tags: Vec<(String, String)>| {
        let mut req = aws.ec2().create_tags().resources(&acl);
        for (k, v) in tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        aws.block_on(req.send()).map_err(Failure::from)
    };
    put((0..50).map(|i| (format!("k{i}"), "v".into())).collect()).expect("50 tags fit");
    assert_code(
        &refused(put(vec![("k50".into(), "v".into())])),
        "TagLimitExceeded",
    );
    put(vec![("k0".into(), "changed".into())]).expect("overwriting a tag at the limit works");
    assert_code(
        &refused(put(vec![("aws:x".into(), "v".into())])),
        "InvalidParameterValue",
    );
    assert_code(
        &refused(put(vec![("x".repeat(129), "v".into())])),
        "InvalidParameterValue",
    );
    assert_code(
        &refused(put(vec![("k1".into(), "v".repeat(257))])),
        "InvalidParameterValue",
    );
    let tagging_unknown = aws.block_on(
        aws.ec2()
            .create_tags()
            .resources("acl-0123456789abcdef0")
            .tags(Tag::builder().key("k").value("v").build())
            .send(),
    );
    assert_code(&refused(tagging_unknown), "InvalidNetworkAclID.NotFound");

    let delete = |key: &str, value: &str| {
        aws.block_on(
            aws.ec2()
                .delete_tags()
                .resources(&acl)
                .tags(Tag::builder().key(key).value(value).build())
                .send(),
        )
        .expect("DeleteTags succeeds")
    };
    delete("k1", "not-the-value");
    delete("k2", "v");
    let tags = aws.tags(&acl);
    assert_eq!(
        tags.get("k1").map(String::as_str),
        Some("v"),
        "wrong value: kept"
    );
    assert!(!tags.contains_key("k2"), "right value: deleted");
    assert_eq!(tags.len(), 49);
}

fn policy(cidrs: &[String]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": cidrs}},
        }],
    })
    .to_string()
}

#[test]
fn iam_policies_and_tags_obey_aws_rules() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let iam = aws.iam();
    let doc = policy(&["192.0.2.0/24".to_string()]);

    let semicolon = aws.block_on(
        iam.create_policy()
            .policy_name("semicolon")
            .policy_document(&doc)
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("jit:grant")
                    .value("a;b")
                    .build()
                    .expect("tag"),
            )
            .send(),
    );
    assert_code(&refused(semicolon), "ValidationError");

    // 500 CIDRs of 18 characters and more: well over 6,144 characters.
    let big: Vec<String> = (0..500)
        .map(|i| format!("10.{}.{}.0/24", i / 250, i % 250))
        .collect();
    let oversize = refused(
        aws.block_on(
            iam.create_policy()
                .policy_name("big")
                .policy_document(policy(&big))
                .send(),
        ),
    );
    assert_code(&oversize, "LimitExceeded");
    assert!(
        oversize.message.contains("PolicySize: 6144"),
        "{oversize:?}"
    );

    let bad_ip = aws.block_on(
        iam.create_policy()
            .policy_name("bad-ip")
            .policy_document(policy(&["10.0.0.300/32".to_string()]))
            .send(),
    );
    assert_code(&refused(bad_ip), "MalformedPolicyDocument");

    let arn = aws
        .block_on(
            iam.create_policy()
                .policy_name("ok")
                .policy_document(&doc)
                .send(),
        )
        .expect("a valid policy is created")
        .policy()
        .and_then(|p| p.arn())
        .expect("policy ARN")
        .to_string();
    assert_code(
        &refused(
            aws.block_on(
                iam.create_policy()
                    .policy_name("ok")
                    .policy_document(&doc)
                    .send(),
            ),
        ),
        "EntityAlreadyExists",
    );
    let oversize_version = refused(
        aws.block_on(
            iam.create_policy_version()
                .policy_arn(&arn)
                .policy_document(policy(&big))
                .send(),
        ),
    );
    assert!(
        oversize_version.message.contains("PolicySize"),
        "{oversize_version:?}"
    );
    for _ in 0..4 {
        aws.block_on(
            iam.create_policy_version()
                .policy_arn(&arn)
                .policy_document(&doc)
                .send(),
        )
        .expect("up to 5 versions");
    }
    let sixth = refused(
        aws.block_on(
            iam.create_policy_version()
                .policy_arn(&arn)
                .policy_document(&doc)
                .send(),
        ),
    );
    assert_code(&sixth, "LimitExceeded");
    assert!(!sixth.message.contains("PolicySize"), "{sixth:?}");
    assert_code(
        &refused(aws.block_on(iam.delete_policy().policy_arn(&arn).send())),
        "DeleteConflict",
    );
}

/// The outcome of each of `n` CreateTags calls through a faultable client: "ok", the error code, or "dropped".
fn outcomes(aws: &Aws, acl: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let result = aws.block_on(
                aws.ec2()
                    .create_tags()
                    .resources(acl)
                    .tags(Tag::builder().key("n").value(i.to_string()).build())
                    .send(),
            );
            match result {
                Ok(_) => "ok".to_string(),
                Err(e) => e.code().unwrap_or("dropped").to_string(),
            }
        })
        .collect()
}

#[test]
fn faults_are_deterministic_for_a_seed_and_spare_the_harness() {
    let moto = Moto::start();
    let harness = Aws::new(&moto);
    let faulty = Aws::with_access_key(&moto, "faultable");
    let acl = harness.new_network_acl();
    let config = FaultConfig::new(
        42,
        0.5,
        &[
            FaultKind::Throttle,
            FaultKind::InternalError,
            FaultKind::DropBefore,
        ],
    );

    moto.set_faults(&config);
    let first = outcomes(&faulty, &acl, 24);
    let counts = moto.fault_counts();
    moto.set_faults(&config);
    let second = outcomes(&faulty, &acl, 24);
    assert_eq!(first, second, "the same seed gives the same faults");
    assert!(first.iter().any(|o| o == "ok"), "{first:?}");
    for code in ["RequestLimitExceeded", "InternalError", "dropped"] {
        assert!(first.iter().any(|o| o == code), "no {code} in {first:?}");
    }
    let faulted = first.iter().filter(|o| *o != "ok").count() as u64;
    assert_eq!(
        counts["CreateTags"].values().sum::<u64>(),
        faulted,
        "{counts:?}"
    );
    moto.set_faults(&FaultConfig { seed: 43, ..config });
    assert_ne!(
        outcomes(&faulty, &acl, 24),
        first,
        "another seed, other faults"
    );

    moto.set_faults(&FaultConfig::new(1, 1.0, &[FaultKind::Throttle]));
    assert!(
        outcomes(&harness, &acl, 5).iter().all(|o| o == "ok"),
        "the harness's clients are never faulted"
    );
    let iam_throttled = refused(
        faulty.block_on(
            faulty
                .iam()
                .delete_policy()
                .policy_arn("arn:aws:iam::123456789012:policy/absent")
                .send(),
        ),
    );
    assert_code(&iam_throttled, "Throttling");
    assert_eq!(iam_throttled.status, Some(400));
    let f = refused(create_entry(&faulty, &acl, false, 1));
    assert_code(&f, "RequestLimitExceeded");
    assert_eq!(f.status, Some(503));
    moto.clear_faults();
    assert!(moto.fault_counts().is_empty());
    create_entry(&faulty, &acl, false, 1).expect("no faults after clear_faults");
}

#[test]
fn a_response_dropped_after_acting_hides_a_performed_action() {
    let moto = Moto::start();
    let harness = Aws::new(&moto);
    let faulty = Aws::with_access_key(&moto, "faultable");
    let acl = harness.new_network_acl();

    moto.set_faults(
        &FaultConfig::new(5, 1.0, &[FaultKind::DropAfter]).actions(&["CreateNetworkAclEntry"]),
    );
    let f = refused(create_entry(&faulty, &acl, false, 100));
    assert_eq!(
        (f.status, f.code.as_deref()),
        (None, None),
        "no answer: {f:?}"
    );
    assert_eq!(harness.rule_numbers(&acl, false), [100], "moto did act");
    // The SDK's retry of the lost request now meets the entry it created.
    moto.clear_faults();
    assert_code(
        &refused(create_entry(&faulty, &acl, false, 100)),
        "NetworkAclEntryAlreadyExists",
    );

    moto.set_faults(
        &FaultConfig::new(5, 1.0, &[FaultKind::DropBefore]).actions(&["CreateNetworkAclEntry"]),
    );
    let f = refused(create_entry(&faulty, &acl, false, 200));
    assert_eq!(
        (f.status, f.code.as_deref()),
        (None, None),
        "no answer: {f:?}"
    );
    assert_eq!(harness.rule_numbers(&acl, false), [100], "nothing happened");
    assert_eq!(
        moto.fault_counts()["CreateNetworkAclEntry"]["drop_before"],
        1
    );
}

#[test]
fn the_script_prints_the_endpoint_first_and_exits_cleanly_on_sigterm() {
    let script = workspace_root().join("scripts/local-aws.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scripts/local-aws.sh");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read the first line");
    let port = parse_endpoint(&first)
        .unwrap_or_else(|| panic!("the first line is not the endpoint: {first:?}"));
    let (status, _) = http_request(port, "GET", "/_jit/faults", "").expect("it answers at once");
    assert_eq!(status, 200);

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read the rest");
    let log = log.join().expect("stderr reader");
    assert_eq!(exit.code(), Some(0), "{log}");
    assert_eq!(rest, "", "nothing but the endpoint on stdout");
    let moto_port: u16 = log
        .split("moto on port ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the log names moto's port: {log}"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err(),
        "moto is stopped too"
    );
}
