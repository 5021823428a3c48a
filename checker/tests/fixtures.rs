//! Snapshot tests: every fixture under `tests/fixtures/` is linted with the default configuration
//! and its text output (with code frames) compared with `tests/snapshots/`. Review new snapshots
//! with `cargo insta review`; CI runs with `INSTA_UPDATE=no`.

mod common;

use common::manifest_dir;
use std::path::PathBuf;

use jitlint::output::{self, Summary};
use jitlint::{Config, LintOptions, Origin, lint_text};

fn fixtures() -> PathBuf {
    manifest_dir().join("tests/fixtures")
}

/// The text output for one fixture, as `jitlint check` prints it (without colours).
fn render(rel: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    let report = lint_text(
        rel,
        &text,
        Origin::Explicit,
        &Config::default(),
        LintOptions { snippets: true },
    );
    let reports = vec![report];
    let summary = Summary::new(&reports, 0);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    output::text(&mut out, &mut err, &reports, &summary, false).unwrap();
    String::from_utf8(err).unwrap() + &String::from_utf8(out).unwrap()
}

fn snapshot_dir(dir: &str) {
    let mut files: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {dir}");
    for name in files {
        let stem = name.trim_end_matches(".json");
        insta::assert_snapshot!(format!("{dir}__{stem}"), render(&format!("{dir}/{name}")));
    }
}

#[test]
fn jit001_nacl_entry_write_unscoped() {
    snapshot_dir("jit001");
}

#[test]
fn jit002_open_api_gateway() {
    snapshot_dir("jit002");
}

#[test]
fn jit005_source_ip_invalid() {
    snapshot_dir("jit005");
}

#[test]
fn jit006_source_ip_too_broad() {
    snapshot_dir("jit006");
}

#[test]
fn jit007_source_ip_deny_blocks_aws_services() {
    snapshot_dir("jit007");
}

#[test]
fn jit008_policy_size_limit() {
    snapshot_dir("jit008");
}

#[test]
fn jit009_policy_version_write_unscoped() {
    snapshot_dir("jit009");
}

#[test]
fn jit011_statement_missing_element() {
    snapshot_dir("jit011");
}

#[test]
fn jit012_source_ip_fence_private_only() {
    snapshot_dir("jit012");
}

#[test]
fn jit013_jit_grant_erased() {
    snapshot_dir("jit013");
}

/// AWS CLI outputs and inputs that are not what jitlint reads.
#[test]
fn inputs() {
    snapshot_dir("inputs");
}

/// Terraform plans and states: JIT002 (API Gateway, Lambda URLs and permissions), JIT003/JIT004
/// (Client VPN handlers through references, modules and for_each), JIT008 totals, JIT010, and
/// policies that are unknown at plan time.
#[test]
fn plans() {
    snapshot_dir("plans");
}

#[test]
fn jit101_invalid_policy_grammar() {
    snapshot_dir("jit101");
}

#[test]
fn jit102_empty_policy_element() {
    snapshot_dir("jit102");
}

#[test]
fn jit103_invalid_condition() {
    snapshot_dir("jit103");
}

#[test]
fn jit104_condition_value_type_mismatch() {
    snapshot_dir("jit104");
}

#[test]
fn jit105_invalid_resource_arn() {
    snapshot_dir("jit105");
}

#[test]
fn jit106_invalid_policy_variable() {
    snapshot_dir("jit106");
}

/// Every Access Analyzer issue code in a structural rule's table of codes appears in a finding
/// of that rule's fixtures.
#[test]
fn structural_rules_have_a_fixture_for_every_code_they_claim() {
    let snapshots = manifest_dir().join("tests/snapshots");
    for rule in jitlint::Rule::ALL {
        let code = rule.code();
        if !code.starts_with("JIT1") {
            continue;
        }
        let prefix = format!("fixtures__{}__", code.to_ascii_lowercase());
        let mut findings = String::new();
        for entry in std::fs::read_dir(&snapshots).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(&prefix) {
                findings += &std::fs::read_to_string(&path).unwrap();
            }
        }
        let docs = rule.docs();
        // The codes in the table of *What it does* (the text around it names other rules' codes).
        let table: String = docs
            .split("## Why is this bad?")
            .next()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('|'))
            .collect();
        let claimed: Vec<&str> = table
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| s.len() > 4 && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .collect();
        assert!(!claimed.is_empty(), "{code} claims no Access Analyzer code");
        for aws in claimed {
            assert!(
                findings.contains(&format!("[{code}]"))
                    && findings.contains(&format!("(Access Analyzer: {aws})")),
                "{code}: no fixture finding with {aws}"
            );
        }
    }
}
