//! One test per bug found by running jitlint on other tools' test inputs (issue 13), each named
//! after the input it came from in `shared/corpora/peers/` (see its `ORIGIN.md`).

mod common;

use common::manifest_dir;

use jitlint::{
    Config, FileReport, InputKind, LintOptions, Origin, Rule, Severity, lint_bytes, lint_text,
};

fn peers() -> std::path::PathBuf {
    manifest_dir().join("../../shared/corpora/peers")
}

fn read(rel: &str) -> Vec<u8> {
    let path = peers().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{} must exist: {e}", path.display()))
}

fn lint(rel: &str, origin: Origin) -> FileReport {
    lint_bytes(
        rel,
        &read(rel),
        origin,
        &Config::default(),
        LintOptions::default(),
    )
}

/// Codes, severities and resources of a report's findings, for assertions.
fn summary(report: &FileReport) -> Vec<(String, Severity, String)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.code().to_string(),
                f.severity,
                f.resource.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn high(code: &str, resource: &str) -> (String, Severity, String) {
    (code.to_string(), Severity::High, resource.to_string())
}

/// Item 1: `terraform show -json` in Windows PowerShell 5.1 writes UTF-16LE with a BOM.
#[test]
fn checkov_plan_with_utf_16_encoding_tfplan() {
    let bytes = read("checkov-plan_with_utf_16_encoding-tfplan.json");
    assert_eq!(&bytes[..2], b"\xFF\xFE", "the input is UTF-16LE with a BOM");
    let report = lint(
        "checkov-plan_with_utf_16_encoding-tfplan.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.kind, Some(InputKind::Plan));
    assert_eq!(
        summary(&report),
        [
            high("JIT001", "aws_iam_role_policy.fail_1"),
            high("JIT009", "aws_iam_role_policy.fail_1")
        ]
    );
}

#[test]
fn checkov_plan_encodings_tfplan_win_utf16() {
    let report = lint(
        "checkov-plan_encodings-tfplan_win_utf16.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.kind, Some(InputKind::Plan));
    // The same plan saved as UTF-16BE and as UTF-8 with a BOM reads the same.
    let text = jitlint::encoding::decode(&read("checkov-plan_encodings-tfplan_win_utf16.json"))
        .unwrap()
        .into_owned();
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    let mut utf8 = b"\xEF\xBB\xBF".to_vec();
    utf8.extend(text.as_bytes());
    for bytes in [be, utf8] {
        let r = lint_bytes(
            "p.json",
            &bytes,
            Origin::Explicit,
            &Config::default(),
            LintOptions::default(),
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.kind, Some(InputKind::Plan));
    }
}

/// Item 2: AWS's default VPC endpoint policy (`Principal *`, `Action *`, `Resource *`) and a
/// bucket policy cannot grant NACL or policy-version writes, nor open an API.
#[test]
fn checkov_plan_vpc_endpoint_as_state() {
    let report = lint("checkov-plan_vpc_endpoint-as-state.json", Origin::Explicit);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.kind, Some(InputKind::State));
    assert_eq!(summary(&report), []);
    // The same document as an identity policy is what the rules are about (and IAM refuses its
    // Principal there: JIT101).
    let text = String::from_utf8(read("checkov-plan_vpc_endpoint-as-state.json")).unwrap();
    let as_identity = text.replace("\"aws_vpc_endpoint\"", "\"aws_iam_policy\"");
    let r = lint_text(
        "x.json",
        &as_identity,
        Origin::Explicit,
        &Config::default(),
        LintOptions::default(),
    );
    let codes: Vec<&str> = r.findings.iter().map(|f| f.rule.code()).collect();
    assert_eq!(codes, ["JIT001", "JIT009", "JIT101"], "{:?}", r.findings);
}

/// Item 3: `Allow *` followed by an unconditional `Deny` of `execute-api:Invoke` to everyone
/// opens nothing.
#[test]
fn checkov_ckv2_aws_70_graph() {
    let report = lint("checkov-CKV2_AWS_70-graph.json", Origin::Explicit);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let resources: Vec<String> = summary(&report).into_iter().map(|(_, _, r)| r).collect();
    assert!(
        !resources.iter().any(|r| r.contains("pass_deny")),
        "{resources:?}"
    );
    // The open policies beside them are still found.
    assert!(resources.contains(&"aws_api_gateway_rest_api.fail2".to_string()));
    assert!(resources.contains(&"aws_api_gateway_rest_api_policy.fail1".to_string()));
}

/// Item 4: AWS managed policies are not bound by the 6,144-character customer quota.
#[test]
fn cloudsplaining_example_authz_details() {
    let report = lint(
        "cloudsplaining-example-authz-details.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let sizes: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::PolicySizeLimit)
        .collect();
    assert!(sizes.is_empty(), "{sizes:?}");
    // Their grants still count: AdministratorAccess may rewrite every ACL.
    assert!(summary(&report).contains(&high(
        "JIT001",
        "arn:aws:iam::aws:policy/AdministratorAccess (v1)"
    )));
}

/// Item 5: no customer can create versions of AWS managed policies.
#[test]
fn cloudsplaining_example_fp4_non_exploitable_resource_constraint() {
    let report = lint(
        "cloudsplaining-example-fp4-nonExploitableResourceConstraint.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(summary(&report), []);
    // The same statement in the customer's own account is the escalation it looks like.
    let text = String::from_utf8(read(
        "cloudsplaining-example-fp4-nonExploitableResourceConstraint.json",
    ))
    .unwrap()
    .replace(
        "arn:aws:iam::aws:policy/",
        "arn:aws:iam::123456789012:policy/",
    );
    let findings = jitlint::lint_policy_document(&text, &Config::default()).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, Rule::PolicyVersionWriteUnscoped);
}

/// Item 6: `policy = data.aws_iam_policy_document.d[each.key].json` is the document of the same
/// key, whose constant NACL write on `"*"` is a real finding.
#[test]
fn checkov_oidc_shape_for_each_policy_document() {
    let report = lint(
        "checkov-OIDC-shape-for_each-policy-document.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        summary(&report),
        [
            high("JIT001", "aws_iam_policy.p[\"a\"]"),
            high("JIT001", "aws_iam_policy.p[\"b\"]")
        ]
    );
}

/// Item 6: trust policies behind `for_each` are read (and are not held to identity rules).
#[test]
fn checkov_github_actions_oidc_trust_policy_tfplan() {
    let report = lint(
        "checkov-GithubActionsOIDCTrustPolicy-tfplan.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(summary(&report), []);
    // Reading them means that a condition in one is checked: make the audience condition an
    // allowlist of everyone.
    let text = String::from_utf8(read("checkov-GithubActionsOIDCTrustPolicy-tfplan.json"))
        .unwrap()
        .replace("\"StringEquals\"", "\"IpAddress\"")
        .replace("accounts.google.com:aud", "aws:SourceIp")
        .replace("\"sts.amazonaws.com\"", "\"0.0.0.0/0\"");
    let r = lint_text(
        "trust.json",
        &text,
        Origin::Explicit,
        &Config::default(),
        LintOptions::default(),
    );
    for role in ["r1", "r6"] {
        for key in ["p1", "p2"] {
            let address = format!("module.poc.aws_iam_role.{role}[\"{key}\"]");
            assert!(
                summary(&r).contains(&high("JIT006", &address)),
                "{address}: {:?}",
                summary(&r)
            );
        }
    }
}

/// Item 7: a permission set's inline policy becomes a role policy in every assigned account.
#[test]
fn checkov_ckv2_aws_40_graph() {
    let report = lint("checkov-CKV2_AWS_40-graph.json", Origin::Explicit);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(
        summary(&report).contains(&high(
            "JIT009",
            "aws_ssoadmin_permission_set_inline_policy.fail1"
        )),
        "{:?}",
        summary(&report)
    );
}

/// Item 8: IAM refuses a statement with neither `Action` nor `NotAction`.
#[test]
fn parliament_test_formatting_no_action() {
    let report = lint(
        "parliament-test_formatting-no_action.json",
        Origin::Explicit,
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let [f] = &report.findings[..] else {
        panic!("{:?}", report.findings)
    };
    assert_eq!(
        (f.rule, f.severity, f.statement),
        (Rule::StatementMissingElement, Severity::Critical, Some(0))
    );
    assert!(
        f.message.contains("has no Action or NotAction"),
        "{}",
        f.message
    );
}

/// Item 9: HCP Terraform's redacted JSON plans are read, named or walked.
#[test]
fn terraform_internal_cloud_testdata_plan_json_full_plan_redacted() {
    let rel = "all/plans/terraform__internal__cloud__testdata__plan-json-full__plan-redacted.json";
    for origin in [Origin::Explicit, Origin::Walked] {
        let report = lint(rel, origin);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(!report.skipped);
        assert_eq!(report.kind, Some(InputKind::Plan));
    }
    // A policy in one is checked.
    let plan = r#"{"plan_format_version":"1.1","resource_changes":[{"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy","name":"p","change":{"actions":["create"],"before":null,"after":{"policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"},"after_unknown":{},"before_sensitive":false,"after_sensitive":{}}}]}"#;
    let r = lint_text(
        "redacted.json",
        plan,
        Origin::Walked,
        &Config::default(),
        LintOptions::default(),
    );
    assert_eq!(
        summary(&r),
        [
            high("JIT001", "aws_iam_policy.p"),
            high("JIT009", "aws_iam_policy.p")
        ]
    );
}

/// Item 10: an unknown element of a known list names what it depends on.
#[test]
fn checkov_plan_with_iam_data_block_tfplan() {
    let rel = "checkov-plan_with_iam_data_block-tfplan.json";
    let report = lint(rel, Origin::Explicit);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // A bucket policy: no identity rule reads it.
    assert_eq!(summary(&report), []);
    // The same document as an identity policy: its resources are unknown, and why is said.
    let text = String::from_utf8(read(rel))
        .unwrap()
        .replace("aws_s3_bucket_policy", "aws_iam_policy");
    let r = lint_text(
        rel,
        &text,
        Origin::Explicit,
        &Config::default(),
        LintOptions::default(),
    );
    assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
    for f in &r.findings {
        assert_eq!(f.severity, Severity::Low);
        assert!(
            f.message.ends_with(
                "Resource depends on aws_s3_bucket.example.arn, which is computed by the provider"
            ),
            "{}",
            f.message
        );
    }
}
