//! End-to-end tests of `jit_access_rule`: the real terraform binary drives the locally built provider against a
//! private moto server, and every outcome is checked in "AWS" through the SDK (the ACL's entries and tags), not
//! only through terraform's own output.
//!
//! The provider must be built first (`scripts/test.sh` does it): `cargo build -p terraform-provider-jit --bins`.

use aws_sdk_ec2::types::{NetworkAclEntry, RuleAction};
use jit_e2e::{Aws, HandEntry, Moto, TEST_NOW_ENV, Terraform, jit_config};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One test's world: its own moto (its own AWS account), SDK clients, a terraform working directory, and a fresh
/// VPC with one custom network ACL.
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
    let tf = Terraform::new(&moto);
    let acl = aws.new_network_acl();
    World { aws, tf, acl, moto }
}

/// A `jit_access_rule` block; each attribute on its own line so that terraform's diagnostics point at exactly one.
fn rule(name: &str, attributes: &[(&str, String)]) -> String {
    let body: String = attributes
        .iter()
        .map(|(key, value)| format!("  {key} = {value}\n"))
        .collect();
    format!("resource \"jit_access_rule\" \"{name}\" {{\n{body}}}\n")
}

/// An HCL string literal.
fn q(s: &str) -> String {
    format!("{s:?}")
}

fn rfc3339(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {value}"));
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

fn format_rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("format RFC 3339")
}

#[track_caller]
fn assert_entry(
    entry: Option<NetworkAclEntry>,
    cidr: &str,
    protocol: &str,
    ports: Option<(i32, i32)>,
    allow: bool,
) {
    let entry = entry.unwrap_or_else(|| panic!("expected an entry for {cidr}, found none"));
    assert_eq!(entry.cidr_block(), Some(cidr), "{entry:?}");
    assert_eq!(entry.protocol(), Some(protocol), "{entry:?}");
    let action = if allow {
        RuleAction::Allow
    } else {
        RuleAction::Deny
    };
    assert_eq!(entry.rule_action(), Some(&action), "{entry:?}");
    if let Some((from, to)) = ports {
        let range = entry
            .port_range()
            .unwrap_or_else(|| panic!("no port range: {entry:?}"));
        assert_eq!(
            (range.from(), range.to()),
            (Some(from), Some(to)),
            "{entry:?}"
        );
    }
}

const VPN: &str = "jit_access_rule.vpn";

/// Someone else's entry and tag on the ACL, which jit must never touch.
const FOREIGN: HandEntry<'static> = HandEntry {
    egress: false,
    rule_number: 100,
    cidr: "198.51.100.0/24",
    protocol: "6",
    allow: false,
    ports: Some((22, 22)),
};

#[track_caller]
fn assert_foreign_untouched(w: &World) {
    assert_entry(
        w.aws.entry(&w.acl, false, FOREIGN.rule_number),
        FOREIGN.cidr,
        FOREIGN.protocol,
        FOREIGN.ports,
        FOREIGN.allow,
    );
    assert_eq!(
        w.aws.tags(&w.acl).get("Name").map(String::as_str),
        Some("public-subnets")
    );
}

#[test]
fn lifecycle_create_update_expire_import_destroy() {
    let mut w = world();
    w.aws.create_entry(&w.acl, &FOREIGN);
    w.aws.tag(&w.acl, "Name", "public-subnets");
    let config = |ttl: &str, reason: &str| {
        jit_config(
            "",
            &rule(
                "vpn",
                &[
                    ("network_acl_id", q(&w.acl)),
                    ("cidr_block", q("203.0.113.7/32")),
                    ("protocol", q("udp")),
                    ("from_port", "500".into()),
                    ("to_port", "500".into()),
                    ("rule_number", "200".into()),
                    ("ttl", q(ttl)),
                    ("reason", q(reason)),
                    ("requested_by", q("alice")),
                ],
            ),
        )
    };

    // Create.
    w.tf.write_main_tf(&config("2h", "hotel-wifi"));
    w.tf.apply().assert_success();
    assert_entry(
        w.aws.entry(&w.acl, false, 200),
        "203.0.113.7/32",
        "17",
        Some((500, 500)),
        true,
    );
    let tags = w.aws.jit_tags(&w.acl);
    assert_eq!(tags.len(), 1, "one jit tag per grant: {tags:?}");
    let state = w.tf.state_resource(VPN).expect("the grant is in the state");
    assert_eq!(state["id"], json!(format!("{}:ingress:200", w.acl)));
    assert_eq!(state["rule_number"], json!(200));
    assert_eq!(state["status"], json!("active"));
    let created = rfc3339(&state["created_at"]);
    assert!(
        (created - OffsetDateTime::now_utc()).abs() < time::Duration::minutes(10),
        "created_at {created} is not the real time (no {TEST_NOW_ENV} is set yet)"
    );
    assert_eq!(
        rfc3339(&state["expires_at"]) - created,
        time::Duration::hours(2)
    );
    assert_foreign_untouched(&w);
    w.tf.assert_plan_empty();

    // Changing ttl extends the grant in place, from created_at.
    w.tf.write_main_tf(&config("3h", "hotel-wifi"));
    assert_eq!(w.tf.plan().actions(VPN), ["update"]);
    w.tf.apply().assert_success();
    let state = w.tf.state_resource(VPN).expect("the grant is in the state");
    assert_eq!(
        rfc3339(&state["created_at"]),
        created,
        "an in-place ttl change keeps created_at"
    );
    assert_eq!(
        rfc3339(&state["expires_at"]) - created,
        time::Duration::hours(3)
    );
    assert_entry(
        w.aws.entry(&w.acl, false, 200),
        "203.0.113.7/32",
        "17",
        Some((500, 500)),
        true,
    );
    let extended = w.aws.jit_tags(&w.acl);
    assert_eq!(extended.len(), 1, "{extended:?}");
    assert_ne!(extended, tags, "the new expiry is recorded in AWS");
    w.tf.assert_plan_empty();

    // Changing reason updates the tag in place.
    w.tf.write_main_tf(&config("3h", "hotel-wifi-day2"));
    assert_eq!(w.tf.plan().actions(VPN), ["update"]);
    w.tf.apply().assert_success();
    let tags = w.aws.jit_tags(&w.acl);
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert!(
        tags.values().any(|v| v.contains("hotel-wifi-day2")),
        "the new reason is recorded in AWS: {tags:?}"
    );
    assert_entry(
        w.aws.entry(&w.acl, false, 200),
        "203.0.113.7/32",
        "17",
        Some((500, 500)),
        true,
    );
    w.tf.assert_plan_empty();

    // Past the expiry (injected clock) the plan shows the revoke, with a warning naming the expiry.
    let state = w.tf.state_resource(VPN).expect("the grant is in the state");
    let expires_at = state["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_string();
    let now = rfc3339(&state["expires_at"]) + time::Duration::minutes(1);
    w.tf.set_env(TEST_NOW_ENV, &format_rfc3339(now));
    let plan = w.tf.plan();
    assert_eq!(
        plan.actions(VPN),
        ["update"],
        "an expired grant stays in state: in-place update"
    );
    assert_eq!(plan.change(VPN)["before"]["status"], json!("active"));
    assert_eq!(plan.change(VPN)["after"]["status"], json!("expired"));
    let warnings = plan.run.warnings();
    assert!(
        warnings.iter().any(|d| d.text().contains(&expires_at)),
        "expected a warning naming the expiry {expires_at}, got {warnings:#?}"
    );
    assert!(
        w.aws.entry(&w.acl, false, 200).is_some(),
        "planning changes nothing in AWS"
    );
    // Apply removes the entry and its tag; the resource stays in state as expired.
    w.tf.apply().assert_success();
    assert!(
        w.aws.entry(&w.acl, false, 200).is_none(),
        "the expired entry is deleted"
    );
    assert!(
        w.aws.jit_tags(&w.acl).is_empty(),
        "the expired grant's tag is deleted"
    );
    let state =
        w.tf.state_resource(VPN)
            .expect("an expired grant stays in the state");
    assert_eq!(state["status"], json!("expired"));
    assert_foreign_untouched(&w);
    w.tf.assert_plan_empty();

    // A fresh grant is `apply -replace`.
    w.tf.apply_with(&["-replace=jit_access_rule.vpn"])
        .assert_success();
    assert_entry(
        w.aws.entry(&w.acl, false, 200),
        "203.0.113.7/32",
        "17",
        Some((500, 500)),
        true,
    );
    assert_eq!(w.aws.jit_tags(&w.acl).len(), 1);
    let fresh =
        w.tf.state_resource(VPN)
            .expect("the fresh grant is in the state");
    assert_eq!(fresh["status"], json!("active"));
    let fresh_created = rfc3339(&fresh["created_at"]);
    assert!(
        fresh_created >= now,
        "created_at {fresh_created} follows the injected clock {now}"
    );
    assert_eq!(
        rfc3339(&fresh["expires_at"]) - fresh_created,
        time::Duration::hours(3)
    );
    w.tf.assert_plan_empty();

    // Import: everything the grant needs is recovered from AWS alone.
    w.tf.run(&["state", "rm", VPN]).assert_success();
    assert!(
        w.aws.entry(&w.acl, false, 200).is_some(),
        "state rm leaves AWS alone"
    );
    w.tf.import(VPN, &format!("{}:ingress:200", w.acl))
        .assert_success();
    let imported =
        w.tf.state_resource(VPN)
            .expect("the imported grant is in the state");
    for key in [
        "id",
        "network_acl_id",
        "cidr_block",
        "protocol",
        "from_port",
        "to_port",
        "egress",
        "rule_action",
        "rule_number",
        "reason",
        "requested_by",
        "created_at",
        "expires_at",
        "status",
    ] {
        assert_eq!(imported[key], fresh[key], "attribute {key} after import");
    }
    w.tf.assert_plan_empty();

    // Destroy deletes the entry and the tag, and nothing else.
    w.tf.destroy().assert_success();
    assert!(w.aws.entry(&w.acl, false, 200).is_none());
    assert!(w.aws.jit_tags(&w.acl).is_empty());
    assert!(w.tf.state_resources().is_empty());
    assert_foreign_untouched(&w);
    assert_eq!(w.aws.rule_numbers(&w.acl, false), [FOREIGN.rule_number]);
}

#[test]
fn twenty_automatically_numbered_grants_in_one_apply() {
    let w = world();
    // Two hand entries plus twenty grants in one direction: over AWS's default quota of 20, within the 40 it can
    // be raised to.
    w.moto.set_nacl_rules_per_direction(40);
    // Numbers in the provider's default range (100-199) that are taken already; 101 only in the other direction.
    for (egress, rule_number) in [(false, 100), (false, 102), (true, 101)] {
        w.aws.create_entry(
            &w.acl,
            &HandEntry {
                egress,
                rule_number,
                cidr: "192.0.2.0/24",
                protocol: "6",
                allow: false,
                ports: Some((25, 25)),
            },
        );
    }
    let grants = rule(
        "g",
        &[
            ("network_acl_id", q(&w.acl)),
            ("cidr_block", "\"198.51.100.${count.index + 1}/32\"".into()),
            ("protocol", q("tcp")),
            ("from_port", "443".into()),
            ("to_port", "443".into()),
            ("ttl", q("1h")),
            ("reason", q("load-test")),
        ],
    )
    .replacen("{\n", "{\n  count = 20\n", 1);
    w.tf.write_main_tf(&jit_config("", &grants));
    w.tf.apply().assert_success();

    let state = w.tf.state_resources();
    assert_eq!(state.len(), 20, "{:?}", state.keys());
    let mut numbers = Vec::new();
    for (address, values) in &state {
        let n = values["rule_number"]
            .as_i64()
            .unwrap_or_else(|| panic!("{address} has no rule_number: {values}"))
            as i32;
        assert!(
            (100..=199).contains(&n),
            "{address} got {n}, outside rule_numbers 100-199"
        );
        let cidr = values["cidr_block"].as_str().expect("cidr_block");
        assert_entry(
            w.aws.entry(&w.acl, false, n),
            cidr,
            "6",
            Some((443, 443)),
            true,
        );
        numbers.push(n);
    }
    numbers.sort_unstable();
    let mut distinct = numbers.clone();
    distinct.dedup();
    assert_eq!(distinct, numbers, "two grants share a rule number");
    // The lowest free numbers: 100 and 102 are taken in this direction, 101 only in the other.
    let expected: Vec<i32> = std::iter::once(101).chain(103..=121).collect();
    assert_eq!(
        numbers, expected,
        "automatic numbering takes the lowest free numbers"
    );
    let mut all_ingress: Vec<i32> = vec![100, 102];
    all_ingress.extend(&expected);
    all_ingress.sort_unstable();
    assert_eq!(
        w.aws.rule_numbers(&w.acl, false),
        all_ingress,
        "nothing else was created or clobbered"
    );
    assert_eq!(w.aws.rule_numbers(&w.acl, true), [101]);
    assert_eq!(w.aws.jit_tags(&w.acl).len(), 20, "one jit tag per grant");
    w.tf.assert_plan_empty();

    w.tf.destroy().assert_success();
    assert_eq!(w.aws.rule_numbers(&w.acl, false), [100, 102]);
    assert_eq!(w.aws.rule_numbers(&w.acl, true), [101]);
    assert!(w.aws.jit_tags(&w.acl).is_empty());
}

#[test]
fn explicit_rule_number_that_is_taken_fails_cleanly() {
    let w = world();
    let holder = HandEntry {
        egress: false,
        rule_number: 150,
        cidr: "10.1.0.0/16",
        protocol: "6",
        allow: true,
        ports: Some((443, 443)),
    };
    w.aws.create_entry(&w.acl, &holder);
    let grant = |name: &str, cidr: &str, number: u32| {
        rule(
            name,
            &[
                ("network_acl_id", q(&w.acl)),
                ("cidr_block", q(cidr)),
                ("protocol", q("udp")),
                ("from_port", "500".into()),
                ("to_port", "500".into()),
                ("rule_number", number.to_string()),
                ("ttl", q("2h")),
            ],
        )
    };

    // Taken by an entry jit does not manage: never clobbered, and the error says what holds it.
    w.tf.write_main_tf(&jit_config("", &grant("taken", "203.0.113.7/32", 150)));
    let run = w.tf.apply();
    run.assert_failure();
    let errors = run.errors();
    assert!(
        errors
            .iter()
            .any(|d| d.text().contains("150") && d.text().contains("10.1.0.0/16")),
        "expected an error naming rule 150 and its holder 10.1.0.0/16:\n{}",
        run.report()
    );
    assert_entry(
        w.aws.entry(&w.acl, false, 150),
        holder.cidr,
        holder.protocol,
        holder.ports,
        holder.allow,
    );
    assert_eq!(
        w.aws.rule_numbers(&w.acl, false),
        [150],
        "nothing half-applied"
    );
    assert!(
        w.aws.jit_tags(&w.acl).is_empty(),
        "nothing half-applied: {:?}",
        w.aws.jit_tags(&w.acl)
    );
    assert!(
        w.tf.state_resources().is_empty(),
        "a failed create leaves nothing in the state"
    );

    // Taken by another grant.
    let first = grant("first", "203.0.113.7/32", 160);
    w.tf.write_main_tf(&jit_config("", &first));
    w.tf.apply().assert_success();
    let first_tags = w.aws.jit_tags(&w.acl);
    w.tf.write_main_tf(&jit_config(
        "",
        &format!("{first}\n{}", grant("second", "203.0.113.8/32", 160)),
    ));
    let run = w.tf.apply();
    run.assert_failure();
    assert!(
        run.errors()
            .iter()
            .any(|d| d.text().contains("160") && d.text().contains("203.0.113.7/32")),
        "expected an error naming rule 160 and the grant holding it (203.0.113.7/32):\n{}",
        run.report()
    );
    assert_entry(
        w.aws.entry(&w.acl, false, 160),
        "203.0.113.7/32",
        "17",
        Some((500, 500)),
        true,
    );
    assert_eq!(w.aws.rule_numbers(&w.acl, false), [150, 160]);
    assert_eq!(
        w.aws.jit_tags(&w.acl),
        first_tags,
        "the first grant's tag is untouched"
    );
    let state = w.tf.state_resources();
    assert!(state.contains_key("jit_access_rule.first"));
    assert!(!state.contains_key("jit_access_rule.second"));
}

/// What a plan of an invalid (or valid) configuration must produce.
enum Expect {
    /// The plan succeeds and proposes the create.
    Valid,
    /// An error whose snippet is the line of one of these attributes, and whose text contains each `mentions`.
    ErrorAt(&'static [&'static str], &'static [&'static str]),
    /// An error whose text contains each of these (for attributes missing from the configuration, which terraform
    /// cannot point at).
    ErrorMentioning(&'static [&'static str]),
}

#[test]
fn invalid_inputs_fail_at_plan_naming_the_attribute() {
    let w = world();
    let long_reason = "x".repeat(300);
    // (name, extra provider arguments, resource attribute overrides (None removes it), expectation)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, Option<String>)>, Expect);
    let cases: Vec<Case> = vec![
        // Valid controls: the same harness with a good input plans a create, so a failure below is the input's.
        ("baseline", "", vec![], Expect::Valid),
        (
            "deny rules may be wide",
            "",
            vec![
                ("rule_action", Some(q("deny"))),
                ("cidr_block", Some(q("10.0.0.0/8"))),
            ],
            Expect::Valid,
        ),
        (
            "0.0.0.0/0 when configured",
            "  min_prefix_length_ipv4 = 0",
            vec![("cidr_block", Some(q("0.0.0.0/0")))],
            Expect::Valid,
        ),
        (
            "ipv6 at the minimum prefix",
            "",
            vec![("cidr_block", Some(q("2001:db8:1::/48")))],
            Expect::Valid,
        ),
        (
            "all without ports",
            "",
            vec![
                ("protocol", Some(q("all"))),
                ("from_port", None),
                ("to_port", None),
            ],
            Expect::Valid,
        ),
        (
            "IANA protocol number",
            "",
            vec![("protocol", Some(q("6")))],
            Expect::Valid,
        ),
        (
            "highest rule number",
            "",
            vec![("rule_number", Some("32766".into()))],
            Expect::Valid,
        ),
        (
            "ttl at max_ttl",
            "",
            vec![("ttl", Some(q("12h")))],
            Expect::Valid,
        ),
        (
            "compound ttl",
            "",
            vec![("ttl", Some(q("1h30m")))],
            Expect::Valid,
        ),
        (
            "reason given when required",
            "  require_reason = true",
            vec![("reason", Some(q("vpn")))],
            Expect::Valid,
        ),
        // CIDR.
        (
            "invalid CIDR",
            "",
            vec![("cidr_block", Some(q("123.456.789.0/24")))],
            Expect::ErrorAt(&["cidr_block"], &["123.456.789.0/24"]),
        ),
        (
            "host bits set",
            "",
            vec![("cidr_block", Some(q("203.0.113.7/24")))],
            Expect::ErrorAt(&["cidr_block"], &["203.0.113.0/24"]),
        ),
        (
            "allow from everywhere",
            "",
            vec![("cidr_block", Some(q("0.0.0.0/0")))],
            Expect::ErrorAt(&["cidr_block"], &["0.0.0.0/0"]),
        ),
        (
            "allow wider than /24",
            "",
            vec![("cidr_block", Some(q("10.0.0.0/16")))],
            Expect::ErrorAt(&["cidr_block"], &["10.0.0.0/16"]),
        ),
        (
            "allow wider than /48",
            "",
            vec![("cidr_block", Some(q("2001:db8::/32")))],
            Expect::ErrorAt(&["cidr_block"], &["2001:db8::/32"]),
        ),
        // Ports and protocol.
        (
            "port above 65535",
            "",
            vec![
                ("from_port", Some("70000".into())),
                ("to_port", Some("70000".into())),
            ],
            Expect::ErrorAt(&["from_port", "to_port"], &["70000"]),
        ),
        (
            "negative port",
            "",
            vec![("to_port", Some("-1".into()))],
            Expect::ErrorAt(&["to_port"], &[]),
        ),
        (
            "from_port above to_port",
            "",
            vec![("from_port", Some("600".into()))],
            Expect::ErrorAt(&["from_port", "to_port"], &[]),
        ),
        (
            "ports with all",
            "",
            vec![("protocol", Some(q("all")))],
            Expect::ErrorAt(&["from_port", "to_port", "protocol"], &[]),
        ),
        (
            "unknown protocol",
            "",
            vec![("protocol", Some(q("bogus")))],
            Expect::ErrorAt(&["protocol"], &["bogus"]),
        ),
        (
            "protocol number above 255",
            "",
            vec![("protocol", Some(q("300")))],
            Expect::ErrorAt(&["protocol"], &["300"]),
        ),
        (
            "tcp without ports",
            "",
            vec![
                ("protocol", Some(q("tcp"))),
                ("from_port", None),
                ("to_port", None),
            ],
            Expect::ErrorMentioning(&["from_port"]),
        ),
        // Rule numbers.
        (
            "rule number 0",
            "",
            vec![("rule_number", Some("0".into()))],
            Expect::ErrorAt(&["rule_number"], &[]),
        ),
        (
            "rule number 32767 (the default rule)",
            "",
            vec![("rule_number", Some("32767".into()))],
            Expect::ErrorAt(&["rule_number"], &["32767"]),
        ),
        (
            "rule number 40000",
            "",
            vec![("rule_number", Some("40000".into()))],
            Expect::ErrorAt(&["rule_number"], &["40000"]),
        ),
        (
            "rule_numbers from 0",
            "  rule_numbers = { from = 0, to = 199 }",
            vec![("rule_number", None)],
            Expect::ErrorAt(&["rule_numbers"], &[]),
        ),
        (
            "rule_numbers reversed",
            "  rule_numbers = { from = 200, to = 100 }",
            vec![("rule_number", None)],
            Expect::ErrorAt(&["rule_numbers"], &[]),
        ),
        (
            "rule_numbers past 32766",
            "  rule_numbers = { from = 100, to = 40000 }",
            vec![("rule_number", None)],
            Expect::ErrorAt(&["rule_numbers"], &["40000"]),
        ),
        // ACL id.
        (
            "malformed ACL id",
            "",
            vec![("network_acl_id", Some(q("acl-xyz")))],
            Expect::ErrorAt(&["network_acl_id"], &["acl-xyz"]),
        ),
        (
            "security group id",
            "",
            vec![("network_acl_id", Some(q("sg-0123456789abcdef0")))],
            Expect::ErrorAt(&["network_acl_id"], &["sg-0123456789abcdef0"]),
        ),
        // TTL.
        (
            "zero ttl",
            "",
            vec![("ttl", Some(q("0s")))],
            Expect::ErrorAt(&["ttl"], &[]),
        ),
        (
            "negative ttl",
            "",
            vec![("ttl", Some(q("-1h")))],
            Expect::ErrorAt(&["ttl"], &[]),
        ),
        (
            "unparseable ttl",
            "",
            vec![("ttl", Some(q("soon")))],
            Expect::ErrorAt(&["ttl"], &["soon"]),
        ),
        (
            "ttl above the default max_ttl",
            "",
            vec![("ttl", Some(q("13h")))],
            Expect::ErrorAt(&["ttl"], &["12h"]),
        ),
        (
            "ttl above a configured max_ttl",
            "  max_ttl = \"1h\"",
            vec![],
            Expect::ErrorAt(&["ttl"], &["1h"]),
        ),
        (
            "unparseable max_ttl",
            "  max_ttl = \"forever\"",
            vec![],
            Expect::ErrorAt(&["max_ttl"], &["forever"]),
        ),
        (
            "minimum prefix above 32",
            "  min_prefix_length_ipv4 = 33",
            vec![],
            Expect::ErrorAt(&["min_prefix_length_ipv4"], &["33"]),
        ),
        // Reason.
        (
            "missing reason when required",
            "  require_reason = true",
            vec![],
            Expect::ErrorMentioning(&["reason"]),
        ),
        (
            "empty reason when required",
            "  require_reason = true",
            vec![("reason", Some(q("")))],
            Expect::ErrorAt(&["reason"], &[]),
        ),
        (
            "reason too long for a tag",
            "",
            vec![("reason", Some(q(&long_reason)))],
            Expect::ErrorAt(&["reason"], &[]),
        ),
    ];

    let mut failures = Vec::new();
    for (name, provider_extra, overrides, expect) in &cases {
        let mut attributes: Vec<(&str, String)> = vec![
            ("network_acl_id", q(&w.acl)),
            ("cidr_block", q("203.0.113.7/32")),
            ("protocol", q("udp")),
            ("from_port", "500".into()),
            ("to_port", "500".into()),
            ("rule_number", "200".into()),
            ("ttl", q("2h")),
        ];
        for (key, value) in overrides {
            attributes.retain(|(k, _)| k != key);
            if let Some(value) = value {
                attributes.push((*key, value.clone()));
            }
        }
        w.tf.write_main_tf(&jit_config(provider_extra, &rule("r", &attributes)));
        let run = w.tf.plan_run();
        let errors = run.errors();
        let ok = match expect {
            Expect::Valid => run.code == Some(2) && errors.is_empty(),
            Expect::ErrorAt(attrs, mentions) => {
                run.code == Some(1)
                    && errors.iter().any(|d| {
                        attrs.iter().any(|a| d.points_at(a))
                            && mentions.iter().all(|m| d.text().contains(m))
                    })
            }
            Expect::ErrorMentioning(mentions) => {
                run.code == Some(1)
                    && errors
                        .iter()
                        .any(|d| mentions.iter().all(|m| d.text().contains(m)))
            }
        };
        if !ok {
            let wanted = match expect {
                Expect::Valid => "a successful plan with changes".to_string(),
                Expect::ErrorAt(attrs, mentions) => {
                    format!("an error at one of {attrs:?} mentioning {mentions:?}")
                }
                Expect::ErrorMentioning(mentions) => format!("an error mentioning {mentions:?}"),
            };
            failures.push(format!(
                "case {name:?}: expected {wanted}; exit code {:?}, errors: {errors:#?}\n{}",
                run.code, run.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(
        w.aws.entries(&w.acl).is_empty(),
        "a plan never writes to AWS"
    );
    assert!(
        w.aws.jit_tags(&w.acl).is_empty(),
        "a plan never writes to AWS"
    );
}

#[test]
fn unknown_cidr_is_validated_at_apply() {
    let w = world();
    let config = format!(
        "resource \"terraform_data\" \"ip\" {{\n  input = \"203.0.113.7/24\"\n}}\n\n{}",
        rule(
            "vpn",
            &[
                ("network_acl_id", q(&w.acl)),
                ("cidr_block", "terraform_data.ip.output".into()),
                ("protocol", q("udp")),
                ("from_port", "500".into()),
                ("to_port", "500".into()),
                ("ttl", q("2h")),
            ],
        )
    );
    w.tf.write_main_tf(&jit_config("", &config));
    // The CIDR is unknown while planning, so the plan cannot judge it...
    assert_eq!(w.tf.plan().actions(VPN), ["create"]);
    // ...and apply does, before touching AWS.
    let run = w.tf.apply();
    run.assert_failure();
    assert!(
        run.errors()
            .iter()
            .any(|d| d.points_at("cidr_block") && d.text().contains("203.0.113.0/24")),
        "expected an error at cidr_block suggesting 203.0.113.0/24:\n{}",
        run.report()
    );
    assert!(w.aws.entries(&w.acl).is_empty(), "nothing half-applied");
    assert!(w.aws.jit_tags(&w.acl).is_empty(), "nothing half-applied");
    assert!(w.tf.state_resource(VPN).is_none());
}

#[test]
fn entry_deleted_by_hand_before_expiry_is_recreated() {
    let w = world();
    w.tf.write_main_tf(&jit_config(
        "",
        &rule(
            "ssh",
            &[
                ("network_acl_id", q(&w.acl)),
                ("cidr_block", q("192.0.2.10/32")),
                ("protocol", q("tcp")),
                ("from_port", "22".into()),
                ("to_port", "22".into()),
                ("egress", "true".into()),
                ("ttl", q("4h")),
            ],
        ),
    ));
    w.tf.apply().assert_success();
    let number = |w: &World| {
        let state =
            w.tf.state_resource("jit_access_rule.ssh")
                .expect("the grant is in the state");
        assert_eq!(state["status"], json!("active"));
        state["rule_number"].as_i64().expect("rule_number") as i32
    };
    let n = number(&w);
    assert!(
        (100..=199).contains(&n),
        "automatic number {n} is in rule_numbers 100-199"
    );
    assert_entry(
        w.aws.entry(&w.acl, true, n),
        "192.0.2.10/32",
        "6",
        Some((22, 22)),
        true,
    );
    assert!(
        w.aws.rule_numbers(&w.acl, false).is_empty(),
        "egress = true writes an egress entry"
    );

    // Someone deletes the entry long before the expiry: ordinary drift, which the plan repairs by replacing the
    // grant (its removal deletes the record left behind, so no record outlives its entry).
    w.aws.delete_entry(&w.acl, true, n);
    let plan = w.tf.plan();
    assert_eq!(plan.actions("jit_access_rule.ssh"), ["delete", "create"]);
    assert_eq!(
        plan.change("jit_access_rule.ssh")["before"]["status"],
        json!("missing")
    );
    w.tf.apply().assert_success();
    let n = number(&w);
    assert_entry(
        w.aws.entry(&w.acl, true, n),
        "192.0.2.10/32",
        "6",
        Some((22, 22)),
        true,
    );
    assert_eq!(
        w.aws.jit_tags(&w.acl).len(),
        1,
        "one jit tag per grant: {:?}",
        w.aws.jit_tags(&w.acl)
    );
    w.tf.assert_plan_empty();

    // Destroying a grant whose entry is already gone is fine (-refresh=false makes terraform call delete anyway).
    w.aws.delete_entry(&w.acl, true, n);
    w.tf.destroy_with(&["-refresh=false"]).assert_success();
    assert!(w.aws.entries(&w.acl).is_empty());
    assert!(
        w.aws.jit_tags(&w.acl).is_empty(),
        "destroy removes the tag even when the entry is gone"
    );
    assert!(w.tf.state_resources().is_empty());
}

#[test]
fn import_by_direction_and_number_and_refusals() {
    let w = world();
    let grant = |number: u32| {
        jit_config(
            "",
            &rule(
                "out",
                &[
                    ("network_acl_id", q(&w.acl)),
                    ("cidr_block", q("203.0.113.9/32")),
                    ("protocol", q("tcp")),
                    ("from_port", "443".into()),
                    ("to_port", "443".into()),
                    ("egress", "true".into()),
                    ("rule_number", number.to_string()),
                    ("ttl", q("2h")),
                    ("reason", q("backup-upload")),
                ],
            ),
        )
    };
    let address = "jit_access_rule.out";

    // An egress grant round-trips through state rm + import.
    w.tf.write_main_tf(&grant(130));
    w.tf.apply().assert_success();
    let before =
        w.tf.state_resource(address)
            .expect("the grant is in the state");
    w.tf.run(&["state", "rm", address]).assert_success();
    w.tf.import(address, &format!("{}:egress:130", w.acl))
        .assert_success();
    let imported =
        w.tf.state_resource(address)
            .expect("the imported grant is in the state");
    for key in [
        "id",
        "cidr_block",
        "egress",
        "rule_number",
        "reason",
        "created_at",
        "expires_at",
        "status",
    ] {
        assert_eq!(imported[key], before[key], "attribute {key} after import");
    }
    w.tf.assert_plan_empty();
    w.tf.run(&["state", "rm", address]).assert_success();

    // An entry without a jit tag is not jit's to manage.
    w.aws.create_entry(
        &w.acl,
        &HandEntry {
            egress: true,
            rule_number: 140,
            cidr: "203.0.113.9/32",
            protocol: "6",
            allow: true,
            ports: Some((443, 443)),
        },
    );
    let tags_before = w.aws.jit_tags(&w.acl);
    w.tf.write_main_tf(&grant(140));
    for id in [
        format!("{}:egress:140", w.acl),  // exists, but has no jit tag
        format!("{}:egress:141", w.acl),  // nothing there
        format!("{}:ingress:130", w.acl), // the grant is egress
        format!("{}:sideways:130", w.acl),
        "acl-xyz:egress:130".to_string(),
        "not-an-id".to_string(),
    ] {
        let run = w.tf.import(address, &id);
        run.assert_failure();
        assert!(
            w.tf.state_resource(address).is_none(),
            "a refused import of {id} leaves no state"
        );
    }
    assert_eq!(
        w.aws.jit_tags(&w.acl),
        tags_before,
        "a refused import writes nothing to AWS"
    );
    assert_eq!(w.aws.rule_numbers(&w.acl, true), [130, 140]);
}

#[test]
fn plan_warns_when_a_lower_rule_shadows_the_grant() {
    let w = world();
    w.tf.write_main_tf(&jit_config(
        "",
        &rule(
            "vpn",
            &[
                ("network_acl_id", q(&w.acl)),
                ("cidr_block", q("203.0.113.7/32")),
                ("protocol", q("udp")),
                ("from_port", "500".into()),
                ("to_port", "500".into()),
                ("rule_number", "200".into()),
                ("ttl", q("2h")),
            ],
        ),
    ));
    // Lower denies that do not cover the grant: another direction, another protocol, a higher number.
    for entry in [
        HandEntry {
            egress: true,
            rule_number: 50,
            cidr: "0.0.0.0/0",
            protocol: "-1",
            allow: false,
            ports: None,
        },
        HandEntry {
            egress: false,
            rule_number: 60,
            cidr: "203.0.113.0/24",
            protocol: "6",
            allow: false,
            ports: Some((0, 65535)),
        },
        HandEntry {
            egress: false,
            rule_number: 300,
            cidr: "0.0.0.0/0",
            protocol: "-1",
            allow: false,
            ports: None,
        },
    ] {
        w.aws.create_entry(&w.acl, &entry);
    }
    let plan = w.tf.plan();
    assert!(
        plan.run.warnings().is_empty(),
        "no shadowing yet: {:#?}",
        plan.run.warnings()
    );

    // A lower-numbered deny covering the CIDR, protocol and port.
    w.aws.create_entry(
        &w.acl,
        &HandEntry {
            egress: false,
            rule_number: 40,
            cidr: "203.0.113.0/24",
            protocol: "-1",
            allow: false,
            ports: None,
        },
    );
    let plan = w.tf.plan();
    let warnings = plan.run.warnings();
    assert!(
        warnings.iter().any(|d| d.text().contains("40")),
        "expected a warning naming the shadowing rule 40, got {warnings:#?}"
    );
    assert_eq!(
        plan.actions(VPN),
        ["create"],
        "a shadow is a warning, not an error"
    );
}
