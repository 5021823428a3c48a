//! The machine-readable formats: the JSON contract, SARIF validated against the official 2.1.0
//! schema, JUnit and GitHub workflow commands.

mod common;

use common::manifest_dir;
use std::path::{Path, PathBuf};

use jitlint::output::{self, Summary};
use jitlint::{Config, FileReport, LintOptions, Origin, lint_text};
use serde_json::Value;

fn manifest() -> PathBuf {
    manifest_dir()
}

/// Findings of several kinds, an error and a skipped file.
fn reports() -> Vec<FileReport> {
    [
        (
            "tests/fixtures/jit001/seed_000_iot_button_lambda.json",
            Origin::Explicit,
        ),
        (
            "tests/fixtures/plans/jit003_client_vpn_handlers.json",
            Origin::Explicit,
        ),
        ("tests/fixtures/inputs/invalid_json.json", Origin::Explicit),
        ("tests/fixtures/inputs/unrelated.json", Origin::Walked),
    ]
    .into_iter()
    .map(|(rel, origin)| {
        let text = std::fs::read_to_string(manifest().join(rel)).unwrap();
        lint_text(
            rel,
            &text,
            origin,
            &Config::default(),
            LintOptions::default(),
        )
    })
    .collect()
}

fn render(f: impl FnOnce(&mut Vec<u8>, &[FileReport])) -> String {
    let reports = reports();
    let mut out = Vec::new();
    f(&mut out, &reports);
    String::from_utf8(out).unwrap()
}

#[test]
fn json_contract() {
    let text = render(|out, r| output::json(out, r, &Summary::new(r, 0)).unwrap());
    let doc: Value = serde_json::from_str(&text).unwrap();
    // The contract: these keys, in this order, for every finding.
    for f in doc["findings"].as_array().unwrap() {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "rule",
                "name",
                "severity",
                "path",
                "line",
                "column",
                "resource",
                "statement",
                "message"
            ]
        );
        assert!(f["line"].as_u64().unwrap() >= 1 && f["column"].as_u64().unwrap() >= 1);
    }
    insta::assert_snapshot!(text);
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let schema_path = manifest().join("../../shared/reference/sarif/sarif-schema-2.1.0.json");
    let schema_text = std::fs::read_to_string(&schema_path)
        .unwrap_or_else(|e| panic!("the SARIF schema must be at {}: {e}", schema_path.display()));
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");

    let text = render(|out, r| output::sarif(out, r, &Config::default()).unwrap());
    let doc: Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF output violates the schema:\n{}",
        errors.join("\n")
    );

    // The validator must not be vacuous: a result without a message is rejected.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!validator.is_valid(&broken));

    // What GitHub code scanning needs beyond the schema.
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), jitlint::rules::RULES.len());
    for rule in rules {
        assert!(
            rule["properties"]["security-severity"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .is_ok()
        );
        assert!(
            rule["help"]["text"]
                .as_str()
                .unwrap()
                .contains("## Why is this bad?")
        );
    }
    let levels: Vec<&str> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert!(
        levels.contains(&"error") && levels.contains(&"warning") && levels.contains(&"note"),
        "{levels:?}"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    insta::assert_snapshot!(text);
}

#[test]
fn junit_has_a_case_per_file_and_rule() {
    let text = render(|out, r| output::junit(out, r, &Config::default()).unwrap());
    // Two linted inputs with a case per rule, one that could not be read, one skipped.
    let tests = 2 * jitlint::rules::RULES.len() + 2;
    assert!(text.starts_with(&format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"jitlint\" tests=\"{tests}\" failures=\"3\" errors=\"1\" skipped=\"1\">")));
    insta::assert_snapshot!(text);
}

#[test]
fn github_workflow_commands() {
    let text = render(|out, r| output::github(out, r).unwrap());
    insta::assert_snapshot!(text);
}

#[test]
fn text_without_a_terminal_has_no_colours() {
    let reports = reports();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    output::text(
        &mut out,
        &mut err,
        &reports,
        &Summary::new(&reports, 0),
        false,
    )
    .unwrap();
    assert!(!out.contains(&0x1b) && !err.contains(&0x1b));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    output::text(
        &mut out,
        &mut err,
        &reports,
        &Summary::new(&reports, 0),
        true,
    )
    .unwrap();
    assert!(out.contains(&0x1b));
    assert!(Path::new(&manifest()).exists());
}
