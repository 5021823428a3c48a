//! The engine's entry points: one input text (or one policy document) in, findings and errors
//! out.

use crate::check::{PolicyTarget, check_policy, check_structure};
use crate::config::Config;
use crate::finding::Finding;
use crate::input::InputKind;
use crate::json;
use crate::policy::{Policy, PolicyKind};
use crate::report::{InputError, LintOptions, Scope, Sink};
use crate::text::count_non_whitespace;

/// How an input was named: explicitly, or found by walking a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Named on the command line (or stdin): JSON that is not a known input is an error.
    Explicit,
    /// Found by walking a directory: JSON that is not a known input is skipped.
    Walked,
}

/// The result of linting one input.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub path: String,
    /// What the input was recognised as; `None` if it was skipped or could not be parsed.
    pub kind: Option<InputKind>,
    /// A walked JSON file that is none of the known inputs.
    pub skipped: bool,
    pub findings: Vec<Finding>,
    pub errors: Vec<InputError>,
    /// Findings dropped by `[[ignore]]` entries of the configuration.
    pub ignored: usize,
}

/// Lints an IAM policy document: an identity policy counts as managed (6,144 characters), one
/// with `Principal` as a resource policy ([`PolicyKind::of_bare_document`]).
///
/// This is what the provider calls on the documents it renders: `Ok(vec![])` means jitlint has
/// nothing to say. Findings carry `path` `"<policy>"` and positions inside `json_text`.
pub fn lint_policy_document(json_text: &str, config: &Config) -> Result<Vec<Finding>, InputError> {
    lint_document(json_text, None, config)
}

/// [`lint_policy_document`] for a given kind of policy (which decides the rules and the size
/// limit).
pub fn lint_policy_document_as(
    json_text: &str,
    kind: PolicyKind,
    config: &Config,
) -> Result<Vec<Finding>, InputError> {
    lint_document(json_text, Some(kind), config)
}

fn lint_document(
    json_text: &str,
    kind: Option<PolicyKind>,
    config: &Config,
) -> Result<Vec<Finding>, InputError> {
    let mut sink = Sink::new(config, "<policy>", json_text, LintOptions::default());
    let root =
        json::parse(json_text).map_err(|e| sink.make_error(Some(e.offset as u32), e.message))?;
    let kind = kind.unwrap_or_else(|| PolicyKind::of_bare_json(&root));
    let refused = check_structure(&mut sink, &Scope::default(), &root, kind);
    let policy = match Policy::from_node(&root) {
        Ok(policy) => policy,
        // JIT101 reported why IAM refuses the document.
        Err(_) if refused => return Ok(sink.findings),
        Err(e) => return Err(sink.make_error(Some(e.span.start), e.message)),
    };
    let target = PolicyTarget {
        kind,
        size: Some(count_non_whitespace(json_text)),
        span: root.span,
        escalation: None,
    };
    check_policy(&mut sink, &Scope::default(), &policy, &target);
    Ok(sink.findings)
}

/// Lints one input file's bytes: decodes them ([`crate::encoding::decode`]: UTF-8, or UTF-16
/// with a byte-order mark) and lints the text.
pub fn lint_bytes(
    path: &str,
    bytes: &[u8],
    origin: Origin,
    config: &Config,
    options: LintOptions,
) -> FileReport {
    match crate::encoding::decode(bytes) {
        Ok(text) => lint_text(path, &text, origin, config, options),
        Err(message) => FileReport {
            path: path.to_string(),
            errors: vec![InputError {
                path: path.to_string(),
                line: None,
                column: None,
                message,
            }],
            ..FileReport::default()
        },
    }
}

/// Lints one input file's text: detects what it is and runs every enabled rule on it.
pub fn lint_text(
    path: &str,
    text: &str,
    origin: Origin,
    config: &Config,
    options: LintOptions,
) -> FileReport {
    let mut sink = Sink::new(config, path, text, options);
    let mut report = FileReport {
        path: path.to_string(),
        ..FileReport::default()
    };
    match json::parse(text) {
        Err(e) => {
            let message = format!("not valid JSON: {}", e.message);
            sink.error(Some(e.offset as u32), message);
        }
        Ok(root) => match crate::input::detect(&root) {
            Some(kind) => {
                report.kind = Some(kind);
                crate::input::lint_input(&mut sink, text, &root, kind);
            }
            None if origin == Origin::Walked => report.skipped = true,
            None => sink.error(
                None,
                "not an IAM policy, AWS CLI policy output or Terraform plan/state JSON \
                 (expected a Statement, PolicyVersion.Document, PolicyDocument, a *DetailList, format_version or plan_format_version key)"
                    .into(),
            ),
        },
    }
    report.findings = sink.findings;
    // In file order, whatever order the rules ran in.
    report.findings.sort_by_key(|f| (f.line, f.column, f.rule));
    report.errors = sink.errors;
    report.ignored = sink.ignored;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::severity::Severity;

    #[test]
    fn deep_nesting_is_an_error_everywhere() {
        let config = Config::default();
        let deep = "[".repeat(100_000);
        let report = lint_text(
            "deep.json",
            &deep,
            Origin::Explicit,
            &config,
            LintOptions { snippets: true },
        );
        assert_eq!(report.errors.len(), 1);
        assert!(
            report.errors[0]
                .message
                .contains("nested deeper than 256 levels")
        );
        assert!(lint_policy_document(&deep, &config).is_err());
        // The same inside a policy string of a plan, and inside a URL-encoded CLI document.
        let mut escaped = String::new();
        json::write_json_string(
            &mut escaped,
            &format!("{{\"Statement\":{}", "[".repeat(100_000)),
        );
        let plan = format!(
            r#"{{"format_version":"1.2","resource_changes":[{{"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy","name":"p","change":{{"actions":["create"],"after":{{"policy":{escaped}}},"after_unknown":{{}}}}}}]}}"#
        );
        let report = lint_text(
            "plan.json",
            &plan,
            Origin::Explicit,
            &config,
            LintOptions::default(),
        );
        assert_eq!(report.kind, Some(InputKind::Plan));
        assert!(
            report.errors[0].message.starts_with(
                "policy of aws_iam_policy.p is not valid JSON: arrays and objects are nested deeper"
            ),
            "{:?}",
            report.errors
        );
        let encoded = format!(
            r#"{{"PolicyVersion":{{"Document":"{}"}}}}"#,
            "%5B".repeat(100_000)
        );
        let report = lint_text(
            "pv.json",
            &encoded,
            Origin::Explicit,
            &config,
            LintOptions::default(),
        );
        assert_eq!(report.errors.len(), 1);
    }

    /// The provider turns every finding on the documents it renders into an error: the shape it
    /// renders (see provider/src/policy/document.rs) must pass every rule, the structural ones
    /// (JIT101…) included.
    #[test]
    fn the_source_ip_document_jit_renders_has_no_finding() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyOutsideAllowlist","Effect":"Deny","Action":["*"],"Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["198.51.100.0/24","203.0.113.7/32"]},"Bool":{"aws:ViaAWSService":"false"}}},{"Sid":"ExpireAt20261124T080000Z","Effect":"Deny","Action":["*"],"Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-24T08:00:00Z"},"IpAddress":{"aws:SourceIp":["203.0.113.7/32"]},"Bool":{"aws:ViaAWSService":"false"}}}]}"#;
        let findings = lint_policy_document(doc, &Config::default()).unwrap();
        assert!(findings.is_empty(), "{findings:?}");
    }

    /// Structural findings keep their fingerprint when statements move (baselines survive
    /// reordering), as the other rules' do.
    #[test]
    fn structural_fingerprints_do_not_depend_on_the_statement_index() {
        let bad =
            r#"{"Sid":"A","Effect":"Allow","Action":["s3:GetObject",5],"Resource":"my-bucket"}"#;
        let other = r#"{"Sid":"B","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}"#;
        let fingerprints = |statements: String| {
            let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
            let mut f: Vec<String> = lint_policy_document(&doc, &Config::default())
                .unwrap()
                .into_iter()
                .map(|f| f.fingerprint)
                .collect();
            f.sort();
            f
        };
        let first = fingerprints(bad.to_string());
        assert_eq!(first.len(), 2, "JIT101 and JIT105");
        assert_eq!(first, fingerprints(format!("{other},{bad}")));
    }

    /// A document IAM refuses for its grammar is a JIT101 finding, not an input error; with
    /// JIT101 disabled it is an input error again, never a silent pass.
    #[test]
    fn grammar_errors_are_findings_unless_jit101_is_disabled() {
        let doc =
            r#"{"Version":"2012-10-17","Statement":[{"Action":"s3:GetObject","Resource":"*"}]}"#;
        let findings = lint_policy_document(doc, &Config::default()).unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, Rule::InvalidPolicyGrammar);
        assert_eq!(findings[0].severity, Severity::Critical);
        assert!(findings[0].message.contains("MISSING_EFFECT"));
        let config = Config::from_toml("disable = [\"JIT101\"]", None).unwrap();
        let err = lint_policy_document(doc, &config).unwrap_err();
        assert!(err.message.contains("has no Effect"), "{err}");
    }
}
