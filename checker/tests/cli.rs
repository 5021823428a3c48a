//! The `jitlint` command end to end: exit codes, stdin, walking, configuration discovery,
//! baselines, `rules` and `explain`.

mod common;

use common::manifest_dir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixture(rel: &str) -> String {
    manifest_dir()
        .join("tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn jitlint_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    jitlint_bytes_in(dir, args, stdin.map(str::as_bytes))
}

fn jitlint_bytes_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jitlint"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn jitlint(args: &[&str]) -> Run {
    jitlint_in(&manifest_dir(), args, None)
}

/// A fresh directory under the system temp dir, removed again on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("jitlint-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SEED_000: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"VisualEditor0","Effect":"Allow","Action":"ec2:ReplaceNetworkAclEntry","Resource":"*"}]}"#;

#[test]
fn exit_codes() {
    let clean = fixture("jit001/deny.json");
    let high = fixture("jit001/seed_000_iot_button_lambda.json");
    let medium = fixture("jit007/seed_002_office_fence.json");
    assert_eq!(jitlint(&["check", &clean]).code, 0);
    assert_eq!(jitlint(&["check", &high]).code, 1);
    assert_eq!(jitlint(&["check", &high, "--fail-on", "critical"]).code, 0);
    assert_eq!(jitlint(&["check", &high, "--fail-on", "high"]).code, 1);
    assert_eq!(jitlint(&["check", &medium, "--fail-on", "high"]).code, 0);
    assert_eq!(jitlint(&["check", &medium, "--fail-on", "medium"]).code, 1);

    // An unreadable input is exit 2, and the other inputs are still checked and reported.
    let run = jitlint(&[
        "check",
        &fixture("inputs/invalid_json.json"),
        &high,
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["findings"][0]["rule"], "JIT001");
    assert_eq!(doc["errors"][0]["line"], 4);

    let missing = jitlint(&["check", "no/such/file.json"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("no/such/file.json: no such file or directory"),
        "{}",
        missing.stderr
    );
    // JSON that is none of the known inputs is an error when named explicitly.
    assert_eq!(
        jitlint(&["check", &fixture("inputs/unrelated.json")]).code,
        2
    );
    // Usage errors.
    assert_eq!(jitlint(&["check", "--format", "yaml"]).code, 2);
    assert_eq!(jitlint(&["check", "--no-such-flag"]).code, 2);
}

#[test]
fn text_output_is_rustc_style() {
    let run = jitlint(&["check", &fixture("jit001/seed_000_iot_button_lambda.json")]);
    let expected_head = format!(
        "high[JIT001]: Allow grants ec2:ReplaceNetworkAclEntry on every resource (Resource \"*\"): the holder can rewrite any entry of any network ACL in the account\n --> {}:8:13\n  |\n8 | \"Resource\": \"*\"\n  |             ^^^ nacl-entry-write-unscoped\n",
        fixture("jit001/seed_000_iot_button_lambda.json")
    );
    assert!(run.stdout.starts_with(&expected_head), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("Found 1 finding (1 high) in 1 file.\n")
    );
    assert!(
        !run.stdout.contains('\x1b'),
        "no colours when stdout is not a terminal"
    );
}

#[test]
fn stdin_is_dash() {
    let dir = &manifest_dir();
    let run = jitlint_in(dir, &["check", "-", "--format", "json"], Some(SEED_000));
    assert_eq!(run.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["findings"][0]["path"], "<stdin>");
    assert_eq!(doc["findings"][0]["column"], 127);
    // A plan piped in, as in `terraform show -json plan.out | jitlint check - --format sarif`.
    let plan = std::fs::read_to_string(fixture("plans/jit003_client_vpn_handlers.json")).unwrap();
    let run = jitlint_in(dir, &["check", "-", "--format", "sarif"], Some(&plan));
    assert_eq!(run.code, 1);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);
}

#[test]
fn walking_respects_gitignore_and_skips_other_json() {
    let tmp = TempDir::new("walk");
    tmp.write("policies/lambda.json", SEED_000);
    tmp.write("policies/generated/old.json", SEED_000);
    tmp.write("policies/.gitignore", "generated/\n");
    tmp.write("policies/package.json", r#"{"name": "x"}"#);
    tmp.write("policies/notes.txt", "not json");
    let run = jitlint_in(&tmp.0, &["check", "policies", "--format", "json"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["summary"]["files"], 2);
    assert_eq!(doc["summary"]["skipped"], 1);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    assert_eq!(doc["findings"][0]["path"], "policies/lambda.json");
}

/// Regression: pre-commit names every staged `*.json` file, and an unrelated one (package.json)
/// named on the command line failed the hook with exit 2.
#[test]
fn skip_unrecognized_treats_named_files_like_walked_ones() {
    let tmp = TempDir::new("skip-unrecognized");
    tmp.write("package.json", r#"{"name": "x"}"#);
    tmp.write("policy.json", SEED_000);
    tmp.write("broken.json", "{\"Version\": ");
    let named = ["check", "package.json", "policy.json", "--format", "json"];

    let strict = jitlint_in(&tmp.0, &named, None);
    assert_eq!(
        strict.code, 2,
        "an unrecognized named file is an error by default"
    );

    let lenient = jitlint_in(
        &tmp.0,
        &[&named[..], &["--skip-unrecognized"]].concat(),
        None,
    );
    assert_eq!(
        lenient.code, 1,
        "only the policy's finding fails: {}",
        lenient.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&lenient.stdout).unwrap();
    assert_eq!(doc["summary"]["skipped"], 1);
    assert_eq!(doc["findings"][0]["path"], "policy.json");

    // Invalid JSON is still an error.
    let broken = jitlint_in(
        &tmp.0,
        &["check", "broken.json", "--skip-unrecognized"],
        None,
    );
    assert_eq!(broken.code, 2, "{}", broken.stdout);
}

#[test]
fn config_is_found_upward_or_named() {
    let tmp = TempDir::new("config");
    tmp.write("jitlint.toml", "disable = [\"JIT001\"]\n");
    let policy = tmp.write("team/sub/policy.json", SEED_000);
    let policy = policy.display().to_string();
    let sub = tmp.0.join("team/sub");
    assert_eq!(jitlint_in(&sub, &["check", &policy], None).code, 0);

    tmp.write(
        "strict.toml",
        "[severity]\nJIT001 = \"critical\"\n[[ignore]]\nrules = [\"JIT009\"]\npath = \"team/**\"\n",
    );
    let run = jitlint_in(
        &sub,
        &[
            "check",
            &policy,
            "--config",
            "../../strict.toml",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(run.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["findings"][0]["severity"], "critical");

    tmp.write("bad.toml", "[severity]\nJIT001 = \"severe\"\n");
    let run = jitlint_in(
        &sub,
        &["check", &policy, "--config", "../../bad.toml"],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("severity.JIT001: \"severe\" is not a severity"),
        "{}",
        run.stderr
    );
}

#[test]
fn baseline_survives_reformatting() {
    let tmp = TempDir::new("baseline");
    tmp.write("p.json", SEED_000);
    let run = jitlint_in(
        &tmp.0,
        &["check", "p.json", "--write-baseline", "baseline.json"],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Wrote 1 findings to the baseline baseline.json.")
    );
    assert_eq!(
        jitlint_in(
            &tmp.0,
            &["check", "p.json", "--baseline", "baseline.json"],
            None
        )
        .code,
        0
    );

    // Pretty-printed, statements reordered, a new problem added: only the new one is reported.
    tmp.write(
        "p.json",
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "New",
      "Effect": "Allow",
      "Action": "ec2:DeleteNetworkAclEntry",
      "Resource": "arn:aws:ec2:*:*:network-acl/*"
    },
    {
      "Sid": "VisualEditor0",
      "Effect": "Allow",
      "Action": "ec2:ReplaceNetworkAclEntry",
      "Resource": "*"
    }
  ]
}"#,
    );
    let run = jitlint_in(
        &tmp.0,
        &[
            "check",
            "p.json",
            "--baseline",
            "baseline.json",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(run.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["line"], 8);
    assert_eq!(doc["summary"]["baselined"], 1);

    tmp.write("broken.json", "{\"findings\": []}");
    let run = jitlint_in(
        &tmp.0,
        &["check", "p.json", "--baseline", "broken.json"],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a jitlint baseline"),
        "{}",
        run.stderr
    );
}

/// Windows PowerShell 5.1 writes `terraform show -json plan.out > plan.json` as UTF-16LE with a
/// byte-order mark: files and standard input are read in UTF-16 (LE or BE, with a BOM) and UTF-8.
#[test]
fn utf16_files_and_stdin() {
    let tmp = TempDir::new("utf16");
    let text = std::fs::read_to_string(fixture("jit001/seed_000_iot_button_lambda.json")).unwrap();
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    std::fs::write(tmp.0.join("le.json"), &le).unwrap();
    std::fs::write(tmp.0.join("be.json"), &be).unwrap();
    let run = jitlint_in(&tmp.0, &["check", ".", "--format", "json"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["summary"]["files"], 2);
    assert_eq!(json["summary"]["errors"], 0);
    // Positions are the same as in the UTF-8 file.
    let utf8 = jitlint(&[
        "check",
        &fixture("jit001/seed_000_iot_button_lambda.json"),
        "--format",
        "json",
    ]);
    let utf8: serde_json::Value = serde_json::from_str(&utf8.stdout).unwrap();
    for f in json["findings"].as_array().unwrap() {
        assert_eq!(f["line"], utf8["findings"][0]["line"]);
        assert_eq!(f["column"], utf8["findings"][0]["column"]);
    }
    let run = jitlint_bytes_in(&tmp.0, &["check", "-"], Some(&le));
    assert_eq!(run.code, 1, "{}", run.stderr);
    // Bytes that are neither: an error that says how to save the file.
    let run = jitlint_bytes_in(&tmp.0, &["check", "-"], Some(b"{\"Statement\": \"\xE9\"}"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not text: byte 15 is not valid UTF-8")
            && run.stderr.contains("save the file as UTF-8"),
        "{}",
        run.stderr
    );
}

#[test]
fn rules_and_explain() {
    let run = jitlint(&["rules"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), jitlint::rules::RULES.len());
    assert!(
        run.stdout
            .starts_with("JIT001  high      nacl-entry-write-unscoped")
    );
    let json: serde_json::Value =
        serde_json::from_str(&jitlint(&["rules", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[2]["severity"], "critical");

    let run = jitlint(&["explain", "client-vpn-handler-prefix"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with(
        "JIT003 client-vpn-handler-prefix (default severity: critical)\n\n## What it does\n"
    ));
    assert!(run.stdout.contains("## Fix\nRename the function"));
    let run = jitlint(&["explain", "JIT999"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("\"JIT999\" is not a jitlint rule; known rules: JIT001")
    );
}
