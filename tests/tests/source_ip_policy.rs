//! End-to-end tests of `jit_source_ip_policy`: the real terraform binary drives the locally built provider against
//! a private moto server, and every outcome is checked in "AWS" through the SDK (the policy, its versions, its
//! default document and its tags), not only through terraform's own output.
//!
//! The provider must be built first (`scripts/test.sh` does it): `cargo build -p terraform-provider-jit --bins`.
//! What the rendered documents *mean* (which address is denied when) is tested in the provider's unit tests, with
//! an IAM evaluator; here the document in AWS is compared with the one in the state.

use jit_e2e::{Aws, Moto, TEST_NOW_ENV, Terraform, jit_config, workspace_root};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const REMOTE: &str = "jit_source_ip_policy.remote";
const OFFICE: &str = "198.51.100.0/24";
const HOME: &str = "203.0.113.7/32";
/// The tag naming the request that created a policy (what a lost `CreatePolicy` response is recovered by).
const CREATE_ID_TAG: &str = "jit:create-id";

/// One test's world: its own moto (its own AWS account), SDK clients and a terraform working directory.
struct World {
    aws: Aws,
    tf: Terraform,
    // Last, so that terraform and the SDK are done before moto is killed.
    moto: Moto,
}

fn world() -> World {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let tf = Terraform::new(&moto);
    World { aws, tf, moto }
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

/// The clock every step of the lifecycle test starts from.
fn t0() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-24T09:00:00Z", &Rfc3339).expect("valid time")
}

/// A `jit_source_ip_policy.remote` with the office range and the given temporary `(cidr, ttl, reason)` entries.
fn policy(temporary: &[(&str, &str, &str)]) -> String {
    let entries: String = temporary
        .iter()
        .map(|(cidr, ttl, reason)| {
            format!("    {cidr:?} = {{ ttl = {ttl:?}, reason = {reason:?} }}\n")
        })
        .collect();
    jit_config(
        "",
        &format!(
            r#"resource "jit_source_ip_policy" "remote" {{
  name          = "source-ip-restriction"
  description   = "Office range plus temporary home addresses"
  allowed_cidrs = [{OFFICE:?}]
  temporary_cidrs = {{
{entries}  }}
  tags = {{ team = "platform" }}
}}
"#
        ),
    )
}

/// A version as IAM lists it.
#[derive(Debug, Clone, PartialEq)]
struct Version {
    id: String,
    default: bool,
}

fn versions(aws: &Aws, arn: &str) -> Vec<Version> {
    let out = aws
        .block_on(aws.iam().list_policy_versions().policy_arn(arn).send())
        .unwrap_or_else(|e| panic!("ListPolicyVersions {arn}: {e:?}"));
    let mut versions: Vec<Version> = out
        .versions()
        .iter()
        .map(|v| Version {
            id: v.version_id().unwrap_or_default().to_string(),
            default: v.is_default_version(),
        })
        .collect();
    versions.sort_by_key(|v| v.id.trim_start_matches('v').parse::<u32>().unwrap_or(0));
    versions
}

fn ids(versions: &[Version]) -> Vec<String> {
    versions.iter().map(|v| v.id.clone()).collect()
}

fn default_version(aws: &Aws, arn: &str) -> String {
    let out = aws
        .block_on(aws.iam().get_policy().policy_arn(arn).send())
        .unwrap_or_else(|e| panic!("GetPolicy {arn}: {e:?}"));
    out.policy()
        .and_then(|p| p.default_version_id())
        .expect("a default version")
        .to_string()
}

/// The default version's document as moto returns it: plain JSON (AWS would URL-encode it).
fn default_document(aws: &Aws, arn: &str) -> Value {
    let version = default_version(aws, arn);
    let out = aws
        .block_on(
            aws.iam()
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&version)
                .send(),
        )
        .unwrap_or_else(|e| panic!("GetPolicyVersion {arn} {version}: {e:?}"));
    let text = out
        .policy_version()
        .and_then(|v| v.document())
        .expect("a document");
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("moto's document is not JSON ({e}): {text}"))
}

fn policy_tags(aws: &Aws, arn: &str) -> Vec<(String, String)> {
    let out = aws
        .block_on(aws.iam().list_policy_tags().policy_arn(arn).send())
        .unwrap_or_else(|e| panic!("ListPolicyTags {arn}: {e:?}"));
    let mut tags: Vec<(String, String)> = out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    tags
}

fn create_version(aws: &Aws, arn: &str, document: &str, default: bool) -> String {
    let out = aws
        .block_on(
            aws.iam()
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(document)
                .set_as_default(default)
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreatePolicyVersion {arn}: {e:?}"));
    out.policy_version()
        .and_then(|v| v.version_id())
        .expect("a version id")
        .to_string()
}

fn delete_version(aws: &Aws, arn: &str, id: &str) {
    aws.block_on(
        aws.iam()
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(id)
            .send(),
    )
    .unwrap_or_else(|e| panic!("DeletePolicyVersion {arn} {id}: {e:?}"));
}

/// The statements of a rendered document by Sid.
fn statement<'d>(doc: &'d Value, sid: &str) -> &'d Value {
    doc["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
        .unwrap_or_else(|| panic!("no statement {sid} in {doc}"))
}

/// The state's document and AWS's default document mean the same (key order aside), and AWS's default version is
/// the state's.
#[track_caller]
fn assert_aws_matches_state(w: &World) -> Value {
    let state =
        w.tf.state_resource(REMOTE)
            .expect("the policy is in the state");
    let arn = state["arn"].as_str().expect("an ARN");
    let ours: Value =
        serde_json::from_str(state["document"].as_str().expect("a document")).expect("JSON");
    assert_eq!(
        default_document(&w.aws, arn),
        ours,
        "AWS's default document is the state's"
    );
    assert_eq!(
        json!(default_version(&w.aws, arn)),
        state["default_version_id"]
    );
    let versions = versions(&w.aws, arn);
    assert!(versions.len() <= 5, "{versions:?}");
    state
}

#[test]
fn lifecycle_expiry_versions_drift_import_destroy() {
    let mut w = world();
    w.tf.set_env(TEST_NOW_ENV, &format_rfc3339(t0()));

    // Create: one permanent range and today's home address.
    w.tf.write_main_tf(&policy(&[(HOME, "8h", "alice, home")]));
    w.tf.apply().assert_success();
    let state = assert_aws_matches_state(&w);
    let arn = state["arn"].as_str().expect("an ARN").to_string();
    assert_eq!(
        arn,
        "arn:aws:iam::123456789012:policy/source-ip-restriction"
    );
    assert_eq!(state["id"], json!(arn));
    assert_eq!(state["default_version_id"], json!("v1"));
    let home = &state["temporary_cidrs"][HOME];
    assert_eq!(rfc3339(&home["created_at"]), t0());
    assert_eq!(
        rfc3339(&home["expires_at"]),
        t0() + time::Duration::hours(8)
    );
    assert_eq!(home["status"], json!("active"));
    assert_eq!(state["next_expiry"], home["expires_at"]);
    let tags = policy_tags(&w.aws, &arn);
    assert_eq!(
        tags.iter()
            .filter(|(k, _)| k != CREATE_ID_TAG)
            .cloned()
            .collect::<Vec<_>>(),
        [
            ("jit:managed".to_string(), "source-ip-policy".to_string()),
            ("team".into(), "platform".into())
        ]
    );
    assert!(
        tags.iter().any(|(k, v)| k == CREATE_ID_TAG
            && v.len() == 32
            && v.bytes().all(|b| b.is_ascii_hexdigit())),
        "the create id, 128 random bits: {tags:?}"
    );
    let doc = default_document(&w.aws, &arn);
    let fence = statement(&doc, "DenyOutsideAllowlist");
    assert_eq!(
        fence["Condition"]["NotIpAddress"]["aws:SourceIp"],
        json!([OFFICE, HOME])
    );
    assert_eq!(
        fence["Condition"]["Bool"]["aws:ViaAWSService"],
        json!("false")
    );
    let close = statement(&doc, "ExpireAt20261124T170000Z");
    assert_eq!(
        close["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
        json!("2026-11-24T17:00:00Z")
    );
    assert_eq!(
        close["Condition"]["IpAddress"]["aws:SourceIp"],
        json!([HOME])
    );

    // The second plan is empty, also an hour later.
    w.tf.assert_plan_empty();
    w.tf.set_env(
        TEST_NOW_ENV,
        &format_rfc3339(t0() + time::Duration::hours(1)),
    );
    w.tf.assert_plan_empty();

    // Add a temporary CIDR: an in-place update, a new default version, the first entry's expiry unchanged.
    let phone = "192.0.2.44/32";
    w.tf.write_main_tf(&policy(&[
        (HOME, "8h", "alice, home"),
        (phone, "2h", "bob, phone tethering"),
    ]));
    assert_eq!(w.tf.plan().actions(REMOTE), ["update"]);
    w.tf.apply().assert_success();
    let state = assert_aws_matches_state(&w);
    assert_eq!(state["default_version_id"], json!("v2"));
    assert_eq!(
        state["temporary_cidrs"][HOME]["expires_at"],
        home["expires_at"]
    );
    assert_eq!(
        rfc3339(&state["temporary_cidrs"][phone]["expires_at"]),
        t0() + time::Duration::hours(3)
    );
    assert_eq!(
        state["next_expiry"],
        state["temporary_cidrs"][phone]["expires_at"]
    );
    w.tf.assert_plan_empty();

    // Past the phone's expiry the plan prunes it, in place, with a warning naming the expiry.
    w.tf.set_env(
        TEST_NOW_ENV,
        &format_rfc3339(t0() + time::Duration::hours(3) + time::Duration::minutes(1)),
    );
    let plan = w.tf.plan();
    assert_eq!(plan.actions(REMOTE), ["update"]);
    let change = plan.change(REMOTE);
    assert_eq!(
        change["before"]["temporary_cidrs"][phone]["status"],
        json!("active")
    );
    assert_eq!(
        change["after"]["temporary_cidrs"][phone]["status"],
        json!("expired")
    );
    assert!(
        !change["after"]["document"]
            .as_str()
            .expect("known")
            .contains("192.0.2.44")
    );
    let warnings = plan.run.warnings();
    assert!(
        warnings
            .iter()
            .any(|d| d.text().contains("2026-11-24T12:00:00Z") && d.text().contains(phone)),
        "expected a warning naming {phone} and its expiry, got {warnings:#?}"
    );
    assert_eq!(
        ids(&versions(&w.aws, &arn)),
        ["v1", "v2"],
        "planning changes nothing in AWS"
    );
    w.tf.apply().assert_success();
    let state = assert_aws_matches_state(&w);
    assert!(
        !state["document"]
            .as_str()
            .expect("a document")
            .contains("192.0.2.44")
    );
    assert_eq!(state["temporary_cidrs"][phone]["status"], json!("expired"));
    assert_eq!(state["next_expiry"], home["expires_at"]);
    w.tf.assert_plan_empty();

    // Twenty updates in a row: five versions at most, never LimitExceeded.
    for i in 0..20 {
        let guest = format!("198.18.0.{}/32", i + 1);
        w.tf.write_main_tf(&policy(&[
            (HOME, "8h", "alice, home"),
            (guest.as_str(), "1h", "guest"),
        ]));
        w.tf.apply().assert_success();
        let state = assert_aws_matches_state(&w);
        assert!(
            state["document"]
                .as_str()
                .expect("a document")
                .contains(&guest),
            "update {i}"
        );
    }
    let before = versions(&w.aws, &arn);
    assert_eq!(before.len(), 5, "{before:?}");
    assert!(
        before.last().expect("versions").default,
        "our last write is the default: {before:?}"
    );
    w.tf.assert_plan_empty();

    // By hand between applies: delete every old version, then create four that are not the default, so that
    // ours is now the oldest of five. The next apply must delete the oldest *non-default* one.
    let ours = default_version(&w.aws, &arn);
    for v in &before {
        if !v.default {
            delete_version(&w.aws, &arn, &v.id);
        }
    }
    let foreign_doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["198.51.100.0/24"]}}}]}"#;
    let hand: Vec<String> = (0..4)
        .map(|_| create_version(&w.aws, &arn, foreign_doc, false))
        .collect();
    w.tf.assert_plan_empty();
    w.tf.write_main_tf(&policy(&[
        (HOME, "8h", "alice, home"),
        ("198.18.1.1/32", "1h", "guest"),
    ]));
    w.tf.apply().assert_success();
    let state = assert_aws_matches_state(&w);
    let new_default = state["default_version_id"]
        .as_str()
        .expect("a version")
        .to_string();
    assert_eq!(
        ids(&versions(&w.aws, &arn)),
        [
            ours.clone(),
            hand[1].clone(),
            hand[2].clone(),
            hand[3].clone(),
            new_default
        ],
        "the oldest non-default version {} is deleted; the old default {ours}, though oldest, is kept",
        hand[0]
    );
    w.tf.assert_plan_empty();

    // A hand edit of the document (a new default version that widens the allowlist) is drift; apply restores ours.
    let ours_text = state["document"].as_str().expect("a document").to_string();
    let widened = ours_text.replace(OFFICE, "198.51.0.0/16");
    let victim = versions(&w.aws, &arn)
        .into_iter()
        .find(|v| !v.default)
        .expect("a non-default version");
    delete_version(&w.aws, &arn, &victim.id);
    let edit = create_version(&w.aws, &arn, &widened, true);
    let plan = w.tf.plan();
    assert_eq!(plan.drift(), [REMOTE], "the hand edit shows as drift");
    assert_eq!(plan.actions(REMOTE), ["update"]);
    assert_eq!(plan.change(REMOTE)["after"]["document"], json!(ours_text));
    w.tf.apply().assert_success();
    let state = assert_aws_matches_state(&w);
    assert_ne!(state["default_version_id"], json!(edit));
    assert_eq!(state["document"], json!(ours_text));
    w.tf.assert_plan_empty();

    // Import by ARN: the allowlist and every expiry come back from the document alone; the first apply takes ttl
    // and reason from the configuration and writes no version.
    let before_import = state;
    w.tf.run(&["state", "rm", REMOTE]).assert_success();
    w.tf.import(REMOTE, &arn).assert_success();
    let imported =
        w.tf.state_resource(REMOTE)
            .expect("the imported policy is in the state");
    for key in [
        "arn",
        "policy_id",
        "name",
        "path",
        "description",
        "allowed_cidrs",
        "tags",
        "document",
        "default_version_id",
    ] {
        assert_eq!(
            imported[key], before_import[key],
            "attribute {key} after import"
        );
    }
    assert_eq!(
        imported["temporary_cidrs"][HOME]["expires_at"],
        before_import["temporary_cidrs"][HOME]["expires_at"]
    );
    let version_before = default_version(&w.aws, &arn);
    assert_eq!(
        w.tf.plan().actions(REMOTE),
        ["update"],
        "ttl and reason come from the configuration"
    );
    w.tf.apply().assert_success();
    assert_eq!(
        default_version(&w.aws, &arn),
        version_before,
        "adopting an import writes no version"
    );
    let adopted = assert_aws_matches_state(&w);
    assert_eq!(
        adopted["temporary_cidrs"][HOME], before_import["temporary_cidrs"][HOME],
        "created_at follows from the recorded expiry and the ttl"
    );
    w.tf.assert_plan_empty();

    // Destroy refuses while the policy is attached (moto would delete it anyway), then deletes it.
    w.aws
        .block_on(w.aws.iam().create_user().user_name("alice").send())
        .expect("CreateUser");
    w.aws
        .block_on(
            w.aws
                .iam()
                .attach_user_policy()
                .user_name("alice")
                .policy_arn(&arn)
                .send(),
        )
        .expect("AttachUserPolicy");
    let run = w.tf.destroy();
    run.assert_failure();
    let errors = run.errors();
    assert!(
        errors
            .iter()
            .any(|d| d.text().contains("attached to user alice")),
        "expected an error naming the attachment, got {errors:#?}"
    );
    assert!(
        w.tf.state_resource(REMOTE).is_some(),
        "the policy stays in the state"
    );
    assert!(!versions(&w.aws, &arn).is_empty(), "and in AWS");
    w.aws
        .block_on(
            w.aws
                .iam()
                .detach_user_policy()
                .user_name("alice")
                .policy_arn(&arn)
                .send(),
        )
        .expect("DetachUserPolicy");
    w.tf.destroy().assert_success();
    let gone = w
        .aws
        .block_on(w.aws.iam().get_policy().policy_arn(&arn).send());
    assert!(gone.is_err(), "the policy is deleted: {gone:?}");
    assert!(w.tf.state_resources().is_empty());
}

#[test]
fn invalid_arguments_fail_the_plan_with_the_attribute_and_the_fix() {
    let w = world();
    w.tf.write_main_tf(&jit_config(
        "",
        r#"resource "jit_source_ip_policy" "remote" {
  name = "source-ip-restriction"
  allowed_cidrs = ["198.51.100.7/24", "0.0.0.0/0"]
  temporary_cidrs = {
    "203.0.113.7" = { ttl = "1d" }
  }
}
"#,
    ));
    let run = w.tf.plan_run();
    run.assert_failure();
    let text: Vec<String> = run.errors().iter().map(|d| d.text()).collect();
    for expected in [
        "198.51.100.7/24 has host bits set; did you mean 198.51.100.0/24?",
        "0.0.0.0/0 is every address",
        "203.0.113.7 has no prefix length; did you mean 203.0.113.7/32?",
        "uses days, which Go durations don't have",
    ] {
        assert!(
            text.iter().any(|t| t.contains(expected)),
            "expected {expected:?} among {text:#?}"
        );
    }
    assert!(
        run.errors().iter().any(|d| d.points_at("allowed_cidrs")),
        "terraform points at allowed_cidrs: {:#?}",
        run.errors()
    );
    let listed = w
        .aws
        .block_on(w.aws.iam().list_policies().send())
        .expect("ListPolicies");
    assert!(
        listed
            .policies()
            .iter()
            .all(|p| p.policy_name() != Some("source-ip-restriction")),
        "nothing is created"
    );
}

#[test]
fn remote_work_allowlist_example() {
    let w = world();
    let example = workspace_root().join("examples/remote-work-allowlist");
    w.tf.copy_tf_files(&example);
    let var = r#"-var=home_addresses={ alice = "203.0.113.7", bob = "192.0.2.44" }"#;
    w.tf.apply_with(&[var]).assert_success();
    let state = assert_aws_matches_state(&w);
    let arn = state["arn"].as_str().expect("an ARN");
    let doc = default_document(&w.aws, arn);
    assert_eq!(
        statement(&doc, "DenyOutsideAllowlist")["Condition"]["NotIpAddress"]["aws:SourceIp"],
        json!([OFFICE, "192.0.2.44/32", "203.0.113.7/32"])
    );
    assert_eq!(
        state["temporary_cidrs"]["203.0.113.7/32"]["reason"],
        json!("alice working from home")
    );
    let plan = w.tf.run(&[
        "plan",
        "-detailed-exitcode",
        "-input=false",
        "-no-color",
        var,
    ]);
    assert_eq!(
        plan.code,
        Some(0),
        "the plan after apply is empty:\n{}",
        plan.report()
    );

    // The next day: only alice works from home, from a new address.
    let next_day = r#"-var=home_addresses={ alice = "203.0.113.99" }"#;
    w.tf.apply_with(&[next_day]).assert_success();
    let state = assert_aws_matches_state(&w);
    let doc = default_document(&w.aws, arn);
    assert_eq!(
        statement(&doc, "DenyOutsideAllowlist")["Condition"]["NotIpAddress"]["aws:SourceIp"],
        json!([OFFICE, "203.0.113.99/32"])
    );
    assert_eq!(state["default_version_id"], json!("v2"));

    w.tf.destroy_with(&[next_day]).assert_success();
    assert!(
        w.aws
            .block_on(w.aws.iam().get_policy().policy_arn(arn).send())
            .is_err()
    );
}

#[test]
fn a_name_another_configuration_holds_is_refused_on_name_with_the_import_fix() {
    let w = world();
    let config = policy(&[(HOME, "8h", "alice, home")]);
    w.tf.write_main_tf(&config);
    w.tf.apply().assert_success();
    let arn =
        w.tf.state_resource(REMOTE)
            .expect("the policy is in the state")["arn"]
            .as_str()
            .expect("an ARN")
            .to_string();
    let tags = policy_tags(&w.aws, &arn);

    // A second working directory (another workspace, or a colleague's checkout) with the same
    // configuration: IAM answers EntityAlreadyExists, and the policy it finds is jit's but not one
    // this apply created, so it is refused, not adopted.
    let other = Terraform::new(&w.moto);
    other.write_main_tf(&config);
    let run = other.apply();
    run.assert_failure();
    let errors = run.errors();
    assert!(
        errors.iter().any(|d| d.points_at("name")
            && d.text().contains("did not create")
            && d.text()
                .contains(&format!("terraform import <address> {arn}"))),
        "expected an error on name with the import fix, got {errors:#?}"
    );
    assert!(other.state_resources().is_empty(), "nothing is recorded");
    assert_eq!(ids(&versions(&w.aws, &arn)), ["v1"], "nothing is written");
    assert_eq!(policy_tags(&w.aws, &arn), tags);
    w.tf.assert_plan_empty();
}

/// 20 updates of a policy's temporary entries while 30% of IAM's writes throttle, fail, or lose their answer before
/// or after IAM acted: each update converges in at most a few applies, the policy never holds more than five
/// versions, AWS's default document is always the state's, and the plan after each is empty.
#[test]
fn twenty_updates_at_30_percent_faults() {
    let w = world();
    w.tf.write_main_tf(&policy(&[(HOME, "8h", "home")]));
    w.tf.apply().assert_success();
    w.moto.set_faults(&jit_e2e::FaultConfig::new(
        20,
        0.30,
        &[
            jit_e2e::FaultKind::Throttle,
            jit_e2e::FaultKind::InternalError,
            jit_e2e::FaultKind::DropBefore,
            jit_e2e::FaultKind::DropAfter,
        ],
    ));
    let mut applies = 0;
    for i in 1..=20 {
        let cidr = format!("203.0.113.{i}/32");
        w.tf.write_main_tf(&policy(&[(HOME, "8h", "home"), (&cidr, "2h", "travel")]));
        let mut runs = Vec::new();
        loop {
            applies += 1;
            let run = w.tf.apply();
            if run.success() {
                break;
            }
            runs.push(run.report());
            assert!(
                runs.len() < 4,
                "update {i} did not converge:\n{}",
                runs.join("\n")
            );
        }
        let state = assert_aws_matches_state(&w);
        assert!(
            state["document"]
                .as_str()
                .is_some_and(|d| d.contains(&cidr)),
            "update {i}: {state}"
        );
        w.tf.assert_plan_empty();
    }
    let counts = w.moto.fault_counts();
    assert!(
        counts.contains_key("CreatePolicyVersion"),
        "no CreatePolicyVersion was faulted: {counts:?}"
    );
    eprintln!("20 updates took {applies} applies; faults {counts:?}");
}
