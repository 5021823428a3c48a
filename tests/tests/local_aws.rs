//! The strict local AWS (`scripts/local-aws.sh`) refuses what AWS refuses and injects faults deterministically,
//! checked through the real AWS SDK.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    CertificateAuthenticationRequest, ClientConnectOptions, ClientVpnAuthenticationRequest,
    ClientVpnAuthenticationType, ConnectionLogOptions, Filter, PortRange, ResourceType, RuleAction,
    Tag, TagSpecification,
};
use jit_e2e::{
    Aws, ClientVpnConnection, FaultConfig, FaultKind, Moto, http_request, parse_endpoint,
    workspace_root,
};

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

/// CreateTags of one tag on a Client VPN endpoint.
fn tag_endpoint(aws: &Aws, endpoint: &str, key: &str, value: &str) -> Result<(), Failure> {
    aws.block_on(
        aws.ec2()
            .create_tags()
            .resources(endpoint)
            .tags(Tag::builder().key(key).value(value).build())
            .send(),
    )
    .map(|_| ())
    .map_err(Failure::from)
}

#[test]
fn client_vpn_endpoints_carry_tags_under_ec2_rules() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let cert = "arn:aws:acm:us-east-1:123456789012:certificate/c";
    let create = |function: &str, tags: &[(&str, &str)], dry_run: bool| {
        let mut spec = TagSpecification::builder().resource_type(ResourceType::ClientVpnEndpoint);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        aws.block_on(
            aws.ec2()
                .create_client_vpn_endpoint()
                .client_cidr_block("10.100.0.0/22")
                .server_certificate_arn(cert)
                .authentication_options(
                    ClientVpnAuthenticationRequest::builder()
                        .r#type(ClientVpnAuthenticationType::CertificateAuthentication)
                        .mutual_authentication(
                            CertificateAuthenticationRequest::builder()
                                .client_root_certificate_chain_arn(cert)
                                .build(),
                        )
                        .build(),
                )
                .connection_log_options(ConnectionLogOptions::builder().enabled(false).build())
                .client_connect_options(
                    ClientConnectOptions::builder()
                        .enabled(true)
                        .lambda_function_arn(format!(
                            "arn:aws:lambda:us-east-1:123456789012:function:{function}"
                        ))
                        .build(),
                )
                .tag_specifications(spec.build())
                .dry_run(dry_run)
                .send(),
        )
        .map_err(Failure::from)
    };
    assert_code(
        &refused(create("AWSClientVPN-jit", &[("Name", "vpn")], true)),
        "DryRunOperation",
    );
    let wrong_name = refused(create("jit-handler", &[], false));
    assert_code(&wrong_name, "InvalidParameterValue");
    assert!(
        wrong_name.message.contains("AWSClientVPN-"),
        "{wrong_name:?}"
    );
    assert_code(
        &refused(create("AWSClientVPN-jit", &[("aws:x", "v")], false)),
        "InvalidParameterValue",
    );
    let listed = |aws: &Aws| {
        aws.block_on(aws.ec2().describe_client_vpn_endpoints().send())
            .expect("DescribeClientVpnEndpoints")
            .client_vpn_endpoints()
            .len()
    };
    assert_eq!(
        listed(&aws),
        0,
        "refused and dry-run creates create nothing"
    );

    let endpoint = create("AWSClientVPN-jit", &[("Name", "vpn")], false)
        .expect("a valid endpoint is created")
        .client_vpn_endpoint_id()
        .expect("endpoint id")
        .to_string();
    assert!(endpoint.starts_with("cvpn-endpoint-"), "{endpoint}");
    assert_eq!(
        aws.client_vpn_tags(&endpoint),
        [("Name".to_string(), "vpn".to_string())].into()
    );
    let other = aws.new_client_vpn_endpoint();
    let by_filter = aws
        .block_on(
            aws.ec2()
                .describe_client_vpn_endpoints()
                .filters(Filter::builder().name("endpoint-id").values(&other).build())
                .send(),
        )
        .expect("filter by endpoint-id");
    let ids: Vec<_> = by_filter
        .client_vpn_endpoints()
        .iter()
        .filter_map(|e| e.client_vpn_endpoint_id())
        .collect();
    assert_eq!(ids, [other.as_str()]);

    let unknown = "cvpn-endpoint-0123456789abcdef0";
    let describe_unknown = aws.block_on(
        aws.ec2()
            .describe_client_vpn_endpoints()
            .client_vpn_endpoint_ids(unknown)
            .send(),
    );
    assert_code(
        &refused(describe_unknown),
        "InvalidClientVpnEndpointId.NotFound",
    );
    assert_code(
        &refused(tag_endpoint(&aws, unknown, "k", "v")),
        "InvalidClientVpnEndpointId.NotFound",
    );
    let connections_unknown = aws.block_on(
        aws.ec2()
            .describe_client_vpn_connections()
            .client_vpn_endpoint_id(unknown)
            .send(),
    );
    assert_code(
        &refused(connections_unknown),
        "InvalidClientVpnEndpointId.NotFound",
    );

    for i in 1..50 {
        tag_endpoint(&aws, &endpoint, &format!("k{i}"), "v").expect("up to 50 tags");
    }
    assert_code(
        &refused(tag_endpoint(&aws, &endpoint, "k50", "v")),
        "TagLimitExceeded",
    );
    tag_endpoint(&aws, &endpoint, "k1", "changed").expect("overwriting a tag at the limit works");
    for (key, value) in [
        ("aws:x".to_string(), "v".to_string()),
        ("x".repeat(129), "v".to_string()),
        ("k2".to_string(), "v".repeat(257)),
    ] {
        assert_code(
            &refused(tag_endpoint(&aws, &endpoint, &key, &value)),
            "InvalidParameterValue",
        );
    }
    let dry_tag = aws.block_on(
        aws.ec2()
            .create_tags()
            .resources(&other)
            .tags(Tag::builder().key("dry").value("v").build())
            .dry_run(true)
            .send(),
    );
    assert_code(&refused(dry_tag), "DryRunOperation");
    assert!(
        aws.client_vpn_tags(&other).is_empty(),
        "a dry run tags nothing"
    );

    let delete = |key: &str, value: Option<&str>| {
        aws.block_on(
            aws.ec2()
                .delete_tags()
                .resources(&endpoint)
                .tags(
                    Tag::builder()
                        .key(key)
                        .set_value(value.map(str::to_string))
                        .build(),
                )
                .send(),
        )
        .expect("DeleteTags succeeds")
    };
    delete("k1", Some("not-the-value"));
    delete("k2", Some("v"));
    delete("k3", None);
    let tags = aws.client_vpn_tags(&endpoint);
    assert_eq!(
        tags.get("k1").map(String::as_str),
        Some("changed"),
        "wrong value: kept"
    );
    assert!(!tags.contains_key("k2"), "right value: deleted");
    assert!(!tags.contains_key("k3"), "no value: deleted");
    assert_eq!(tags.len(), 48);
}

/// The status of each connection of `endpoint` through DescribeClientVpnConnections, optionally filtered.
fn connection_statuses(
    aws: &Aws,
    endpoint: &str,
    filter: Option<Filter>,
) -> BTreeMap<String, String> {
    let out = aws
        .block_on(
            aws.ec2()
                .describe_client_vpn_connections()
                .client_vpn_endpoint_id(endpoint)
                .set_filters(filter.map(|f| vec![f]))
                .send(),
        )
        .expect("DescribeClientVpnConnections");
    out.connections()
        .iter()
        .map(|c| {
            (
                c.connection_id().unwrap_or_default().to_string(),
                c.status()
                    .and_then(|s| s.code())
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn client_vpn_connections_are_listed_and_terminated_by_id_and_by_username() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let endpoint = aws.new_client_vpn_endpoint();
    let connect = |username: &str| {
        moto.connect_client_vpn(&ClientVpnConnection {
            endpoint_id: &endpoint,
            username,
            client_ip: "10.100.0.5",
            posture_compliance_statuses: &["grant-1"],
            ..ClientVpnConnection::default()
        })
    };
    let alice1 = connect("alice");
    let alice2 = connect("alice");
    let alice3 = connect("alice");
    let bob = connect("bob");
    let all = connection_statuses(&aws, &endpoint, None);
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.values().all(|s| s == "active"), "{all:?}");
    let alices = connection_statuses(
        &aws,
        &endpoint,
        Some(Filter::builder().name("username").values("alice").build()),
    );
    assert_eq!(alices.len(), 3, "{alices:?}");

    let terminate = |connection: Option<&str>, username: Option<&str>, dry_run: bool| {
        aws.block_on(
            aws.ec2()
                .terminate_client_vpn_connections()
                .client_vpn_endpoint_id(&endpoint)
                .set_connection_id(connection.map(str::to_string))
                .set_username(username.map(str::to_string))
                .dry_run(dry_run)
                .send(),
        )
        .map_err(Failure::from)
    };
    assert_code(
        &refused(terminate(Some(&alice1), None, true)),
        "DryRunOperation",
    );
    assert_eq!(
        moto.client_vpn_connection_statuses(&endpoint)[&alice1],
        "active"
    );
    let out = terminate(Some(&alice1), None, false).expect("terminate by connection id");
    let statuses = out.connection_statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].connection_id(), Some(alice1.as_str()));
    assert_eq!(
        statuses[0]
            .previous_status()
            .and_then(|s| s.code())
            .map(|c| c.as_str()),
        Some("active")
    );
    let again = terminate(Some(&alice1), None, false).expect("terminating again changes nothing");
    assert_eq!(
        again.connection_statuses()[0]
            .previous_status()
            .and_then(|s| s.code())
            .map(|c| c.as_str()),
        Some("terminated")
    );
    let by_user = terminate(None, Some("alice"), false).expect("terminate by username");
    let mut ended: Vec<_> = by_user
        .connection_statuses()
        .iter()
        .filter_map(|s| s.connection_id())
        .collect();
    ended.sort_unstable();
    let mut expected = vec![alice2.as_str(), alice3.as_str()];
    expected.sort_unstable();
    assert_eq!(ended, expected, "only alice's active connections");
    let after = connection_statuses(&aws, &endpoint, None);
    assert_eq!(after[&bob], "active", "{after:?}");
    for c in [&alice1, &alice2, &alice3] {
        assert_eq!(
            after[c.as_str()],
            "terminated",
            "terminated connections stay listed: {after:?}"
        );
    }
    assert_eq!(after, moto.client_vpn_connection_statuses(&endpoint));
    assert_code(
        &refused(terminate(
            Some("cvpn-connection-00000000000000000"),
            None,
            false,
        )),
        "InvalidClientVpnConnection.IdNotFound",
    );
    assert_code(
        &refused(terminate(None, None, false)),
        "InvalidParameterCombination",
    );

    moto.reset();
    let gone = aws.block_on(
        aws.ec2()
            .describe_client_vpn_endpoints()
            .client_vpn_endpoint_ids(&endpoint)
            .send(),
    );
    assert_code(&refused(gone), "InvalidClientVpnEndpointId.NotFound");
}

#[test]
fn client_vpn_calls_take_injected_faults() {
    let moto = Moto::start();
    let harness = Aws::new(&moto);
    let faulty = Aws::with_access_key(&moto, "faultable");
    let endpoint = harness.new_client_vpn_endpoint();
    let connection = moto.connect_client_vpn(&ClientVpnConnection {
        endpoint_id: &endpoint,
        username: "alice",
        ..ClientVpnConnection::default()
    });

    moto.set_faults(
        &FaultConfig::new(3, 1.0, &[FaultKind::DropAfter])
            .actions(&["TerminateClientVpnConnections"]),
    );
    let lost = faulty.block_on(
        faulty
            .ec2()
            .terminate_client_vpn_connections()
            .client_vpn_endpoint_id(&endpoint)
            .connection_id(&connection)
            .send(),
    );
    let f = refused(lost.map_err(Failure::from));
    assert_eq!(
        (f.status, f.code.as_deref()),
        (None, None),
        "no answer: {f:?}"
    );
    assert_eq!(
        moto.client_vpn_connection_statuses(&endpoint)[&connection],
        "terminated",
        "the layer did act"
    );

    moto.set_faults(&FaultConfig::new(3, 1.0, &[FaultKind::DropBefore]).actions(&["CreateTags"]));
    let f = refused(tag_endpoint(&faulty, &endpoint, "jit:grant:x", "v"));
    assert_eq!(f.status, None, "{f:?}");
    assert!(
        harness.client_vpn_tags(&endpoint).is_empty(),
        "nothing tagged"
    );

    moto.set_faults(
        &FaultConfig::new(3, 1.0, &[FaultKind::Throttle]).actions(&["DescribeClientVpnEndpoints"]),
    );
    let throttled = faulty.block_on(faulty.ec2().describe_client_vpn_endpoints().send());
    let f = refused(throttled.map_err(Failure::from));
    assert_code(&f, "RequestLimitExceeded");
    assert_eq!(f.status, Some(503));
    assert_eq!(
        moto.fault_counts()["DescribeClientVpnEndpoints"]["throttle"],
        1
    );
}
