//! All 1,523 AWS managed policies in `shared/corpora/aws-managed-policies`: no error, no panic,
//! and exactly the findings `checker/README.md` explains. And the ~480 real inputs from other
//! tools' test suites in `shared/corpora/peers`: every one read, errors only where IAM or
//! Terraform itself refuses the input, and every verdict pinned in a snapshot.

mod common;

use common::manifest_dir;
use std::collections::BTreeMap;
use std::path::PathBuf;

use jitlint::{Config, LintOptions, Origin, Rule, Severity, lint_bytes, lint_text};

#[test]
fn aws_managed_policies() {
    let dir = manifest_dir().join("../../shared/corpora/aws-managed-policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus must be at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 1523);

    let config = Config::default();
    let mut counts: BTreeMap<(Rule, Severity), usize> = BTreeMap::new();
    let mut jit001 = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let report = lint_text(
            &name,
            &text,
            Origin::Walked,
            &config,
            LintOptions::default(),
        );
        assert!(report.errors.is_empty(), "{name}: {:?}", report.errors);
        assert!(!report.skipped, "{name} was not recognised as a policy");
        for f in &report.findings {
            *counts.entry((f.rule, f.severity)).or_default() += 1;
            if f.rule == Rule::NaclEntryWriteUnscoped {
                jit001.push(format!(
                    "{name} statement {} {}",
                    f.statement.unwrap(),
                    f.severity
                ));
            }
        }
    }
    let count = |rule, sev| counts.get(&(rule, sev)).copied().unwrap_or(0);
    // See checker/README.md for why each of these is right.
    assert_eq!(
        jit001,
        [
            "AWSApplicationMigrationNetworkMigrationMultiAccount.json statement 20 medium",
            "AWSCodeStarServiceRole.json statement 5 high",
            "AWSDeepRacerCloudFormationAccessPolicy.json statement 1 high",
            "AWSElasticBeanstalkFullAccess.json statement 0 high",
            "AWSMcpServiceActionsFullAccess.json statement 0 medium",
            "AdministratorAccess.json statement 0 high",
            "AmazonEC2FullAccess.json statement 0 high",
            "AmazonVPCFullAccess.json statement 0 high",
            "NetworkAdministrator.json statement 0 high",
            "NetworkAdministrator.json statement 1 high",
            "PowerUserAccess.json statement 0 high",
            "SystemAdministrator.json statement 0 high",
            "SystemAdministrator.json statement 1 high",
        ]
    );
    assert_eq!(count(Rule::NaclEntryWriteUnscoped, Severity::High), 11);
    assert_eq!(count(Rule::NaclEntryWriteUnscoped, Severity::Medium), 2);
    assert_eq!(count(Rule::PolicySizeLimit, Severity::High), 69);
    assert_eq!(count(Rule::PolicyVersionWriteUnscoped, Severity::High), 6);
    assert_eq!(count(Rule::PolicyVersionWriteUnscoped, Severity::Medium), 2);
    assert_eq!(counts.values().sum::<usize>(), 90, "{counts:?}");
}

/// The inputs of the peer corpus that IAM itself refuses for their grammar, and why: the only ones
/// with a JIT101 finding (critical, so CI fails; 11 of them were input errors before JIT101 and
/// 5 passed). No peer input gives an input error.
const REFUSED_BY_IAM: &[(&str, &str)] = &[
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_GlacierVaultAnyPrincipal__main.tf__aws_glacier_vault.my_archive1__29.json",
        "an Action element that is an array of arrays",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_GlacierVaultAnyPrincipal__main.tf__aws_glacier_vault.my_archive3__31.json",
        "a wildcard inside a principal ARN (arn:aws:iam::*:role/…)",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_GlacierVaultAnyPrincipal__main.tf__aws_glacier_vault.my_archive6__34.json",
        "a Principal that is an ARN string instead of {\"AWS\": …}",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_IAMAdminPolicyDocument__iam.tf__aws_iam_policy.fail4__39.json",
        "a statement without Effect",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_KMSKeyWildcardPrincipal__fail.tf__aws_kms_key.fail_1__54.json",
        "a Principal that is an array",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_KMSKeyWildcardPrincipal__fail.tf__aws_kms_key.fail_3__56.json",
        "a Principal that is an array",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_KMSKeyWildcardPrincipal__pass.tf__aws_kms_key.pass_2__60.json",
        "the Principal \"foo\"",
    ),
    (
        "all/policies_extracted/checkov__tests__terraform__checks__resource__aws__example_KMSKeyWildcardPrincipal__pass.tf__aws_kms_key.pass_3__61.json",
        "a Principal that is an array",
    ),
    (
        "all/policies_extracted/cloudsplaining__test__scanning__test_trust_policies__test_assume_role_assumable_by_any_principal__2.json",
        "a wildcard inside a principal ARN (arn:aws:iam::*:root)",
    ),
    (
        "all/policies_extracted/cloudsplaining__test__scanning__test_trust_policies__test_assume_role_assumable_by_any_principal_with_conditions__2.json",
        "a wildcard inside a principal ARN (arn:aws:iam::*:root)",
    ),
    (
        "all/policies_extracted/parliament__tests__unit__test_formatting__test_analyze_policy_string_invalid_sid__1.json",
        "a Sid with spaces and punctuation in an identity policy",
    ),
    (
        "all/policies_extracted/parliament__tests__unit__test_formatting__test_analyze_policy_string_opposites__1.json",
        "both Action and NotAction",
    ),
    (
        "all/policies_extracted/parliament__tests__unit__test_formatting__test_duplicate_sids__1.json",
        "two statements with the same Sid",
    ),
    (
        "all/policies_extracted/parliament__tests__unit__test_resources__test_resource_with_sub__1.json",
        "a CloudFormation Fn::Sub object as Resource, which only CloudFormation resolves",
    ),
    (
        "checkov-CKV_AWS_62-iam.json",
        "aws_iam_policy.fail4: a statement without Effect",
    ),
    (
        "parliament-test_formatting-opposites.json",
        "both Action and NotAction",
    ),
];

/// Every `*.json` of the peer corpus, relative to it, in a stable order.
fn peer_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the corpus must be at {}: {e}", dir.display()))
        {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn peer_inputs() {
    let root = manifest_dir().join("../../shared/corpora/peers");
    let files = peer_files(&root);
    assert!(files.len() > 470, "{} files", files.len());
    let config = Config::default();
    let mut refused = Vec::new();
    let mut verdicts = String::new();
    for rel in &files {
        let bytes = std::fs::read(root.join(rel)).unwrap();
        let report = lint_bytes(rel, &bytes, Origin::Walked, &config, LintOptions::default());
        assert!(!report.skipped, "{rel} was not recognised");
        assert!(report.errors.is_empty(), "{rel}: {:?}", report.errors);
        if report
            .findings
            .iter()
            .any(|f| f.rule == Rule::InvalidPolicyGrammar && f.severity == Severity::Critical)
        {
            refused.push(rel.as_str());
        }
        let mut parts: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule.code(), f.severity))
            .collect();
        parts.extend(
            report
                .errors
                .iter()
                .map(|e| format!("error: {}", e.message)),
        );
        let kind = report.kind.map_or("?", |k| k.as_str());
        verdicts.push_str(&format!("{rel} [{kind}]: {}\n", parts.join(", ")));
    }
    let expected: Vec<&str> = REFUSED_BY_IAM.iter().map(|(f, _)| *f).collect();
    assert_eq!(refused, expected);
    insta::assert_snapshot!(verdicts);
}
