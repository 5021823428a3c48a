//! All 1,523 AWS managed policies in `shared/corpora/aws-managed-policies`: no error, no panic,
//! and exactly the findings `checker/README.md` explains.

mod common;

use common::manifest_dir;
use std::collections::BTreeMap;
use std::path::PathBuf;

use jitlint::{Config, LintOptions, Origin, Rule, Severity, lint_text};

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
