//! The engine: turns one input text into findings and errors.

use std::fmt;

use crate::config::Config;
use crate::finding::{Finding, Severity, Snippet};
use crate::json::{self, LineIndex, Node, Span};
use crate::policy::{Policy, PolicyError};
use crate::rules::{self, Rule};

/// What kind of document an IAM policy is. The kind decides which rules read it (a bucket
/// policy cannot grant NACL writes, only an API's resource policy can open an API: see
/// [`Rule::applies_to`]) and its size limit (JIT008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    /// A customer managed policy (6,144 characters). Bare policy files without `Principal`
    /// count as managed.
    Managed,
    /// An AWS managed policy (`arn:aws:iam::aws:policy/…`): grants like any identity policy, but
    /// is not bound by the customer quota on size.
    AwsManaged,
    /// An inline policy of a role (10,240 characters per role, summed).
    InlineRole,
    /// An inline policy of a user (2,048 characters per user, summed).
    InlineUser,
    /// An inline policy of a group (5,120 characters per group, summed).
    InlineGroup,
    /// The inline policy of an IAM Identity Center permission set: it becomes a role policy in
    /// every account the set is assigned to (10,240 characters).
    PermissionSet,
    /// A role's trust policy: who may assume the role, nothing else.
    Trust,
    /// A service control policy: limits what the accounts below it may do, grants nothing
    /// (5,120 characters).
    Scp,
    /// A resource-based policy whose service is unknown (a bare document with `Principal`): it
    /// may be an API's, so everything that applies to resource policies applies.
    Resource,
    /// An API Gateway REST API's resource policy: who may invoke the API.
    Api,
    /// An S3 bucket policy.
    Bucket,
    /// A VPC endpoint policy: limits what may pass the endpoint, grants nothing.
    Endpoint,
    /// Another service's resource policy (SQS queue, SNS topic, KMS key, ECR repository, Secrets
    /// Manager secret, Lambda layer): governs that resource only.
    OtherResource,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 13] = [
        PolicyKind::Managed,
        PolicyKind::AwsManaged,
        PolicyKind::InlineRole,
        PolicyKind::InlineUser,
        PolicyKind::InlineGroup,
        PolicyKind::PermissionSet,
        PolicyKind::Trust,
        PolicyKind::Scp,
        PolicyKind::Resource,
        PolicyKind::Api,
        PolicyKind::Bucket,
        PolicyKind::Endpoint,
        PolicyKind::OtherResource,
    ];

    /// Policies that grant permissions to the principal they are attached to.
    pub const IDENTITY: [PolicyKind; 6] = [
        PolicyKind::Managed,
        PolicyKind::AwsManaged,
        PolicyKind::InlineRole,
        PolicyKind::InlineUser,
        PolicyKind::InlineGroup,
        PolicyKind::PermissionSet,
    ];

    /// The kind of a bare document: a resource policy when a statement names a principal
    /// (IAM refuses `Principal` in identity policies), a managed policy otherwise.
    pub fn of_bare_document(policy: &Policy<'_>) -> PolicyKind {
        if policy.statements.iter().any(|s| s.principal.is_some()) {
            PolicyKind::Resource
        } else {
            PolicyKind::Managed
        }
    }

    pub fn is_identity(self) -> bool {
        PolicyKind::IDENTITY.contains(&self)
    }

    /// Whether the limit is on the sum of a principal's policies of this kind (inline policies),
    /// rather than on each document.
    pub fn sums_per_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::InlineRole | PolicyKind::InlineUser | PolicyKind::InlineGroup
        )
    }

    /// The limit on characters without whitespace, for the kinds JIT008 checks.
    pub fn size_limit(self) -> Option<usize> {
        match self {
            PolicyKind::Managed => Some(6_144),
            PolicyKind::InlineRole | PolicyKind::PermissionSet => Some(10_240),
            PolicyKind::InlineUser => Some(2_048),
            PolicyKind::InlineGroup | PolicyKind::Scp => Some(5_120),
            _ => None,
        }
    }

    /// "managed policy", "bucket policy", … for messages and docs.
    pub fn noun(self) -> &'static str {
        match self {
            PolicyKind::Managed => "customer managed policy",
            PolicyKind::AwsManaged => "AWS managed policy",
            PolicyKind::InlineRole => "inline role policy",
            PolicyKind::InlineUser => "inline user policy",
            PolicyKind::InlineGroup => "inline group policy",
            PolicyKind::PermissionSet => "permission set inline policy",
            PolicyKind::Trust => "trust policy",
            PolicyKind::Scp => "service control policy",
            PolicyKind::Resource => "resource policy",
            PolicyKind::Api => "API Gateway resource policy",
            PolicyKind::Bucket => "S3 bucket policy",
            PolicyKind::Endpoint => "VPC endpoint policy",
            PolicyKind::OtherResource => "queue, topic, key, repository, secret or layer policy",
        }
    }
}

/// What jitlint recognised an input as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A bare IAM policy document.
    Policy,
    /// `aws iam get-policy-version` output.
    PolicyVersion,
    /// `aws iam get-role-policy` / `get-user-policy` / `get-group-policy` output.
    InlinePolicy,
    /// `aws iam get-account-authorization-details` output.
    AuthorizationDetails,
    /// `terraform show -json plan.out`.
    Plan,
    /// `terraform show -json` of a state.
    State,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Policy => "policy",
            InputKind::PolicyVersion => "get-policy-version",
            InputKind::InlinePolicy => "inline-policy",
            InputKind::AuthorizationDetails => "get-account-authorization-details",
            InputKind::Plan => "terraform-plan",
            InputKind::State => "terraform-state",
        }
    }
}

/// How an input was named: explicitly, or found by walking a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Named on the command line (or stdin): JSON that is not a known input is an error.
    Explicit,
    /// Found by walking a directory: JSON that is not a known input is skipped.
    Walked,
}

/// Options that do not change what is found.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintOptions {
    /// Keep a window of each finding's source line for code frames (`Finding::snippet`).
    pub snippets: bool,
}

/// An input (or part of one) that could not be read, parsed or understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    /// 1-based position, when the problem has one.
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for InputError {}

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
    let kind = kind.unwrap_or_else(|| rules::structure::bare_kind(&root));
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

/// Counts characters other than whitespace, as IAM measures policy size.
pub fn count_non_whitespace(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// How a rule rates one finding relative to the rule's (configurable) base severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Default,
    /// One step below the base severity (e.g. JIT001 with a non-scoping condition).
    Lowered,
    /// One step above (JIT002 in front of a Lambda that can rewrite IAM or ACLs).
    Raised,
    /// A value unknown at plan time kept the rule from checking: always `low`.
    Unchecked,
}

/// Where findings of a document go and what they are attributed to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// For documents embedded as strings: every finding points at the attribute.
    pub anchor: Option<Span>,
    /// Terraform address or IAM entity/policy name.
    pub resource: Option<String>,
    /// Distinguishes documents within one file for fingerprints (e.g. the attribute path).
    pub context: String,
}

/// One finding as a rule reports it.
#[derive(Debug, Clone)]
pub(crate) struct Report<'a> {
    pub rule: Rule,
    pub level: Level,
    pub span: Span,
    pub statement: Option<usize>,
    pub sid: Option<&'a str>,
    /// What the finding is about, independent of formatting (for the fingerprint).
    pub key: String,
    pub message: String,
}

/// Collects findings and errors for one input.
pub(crate) struct Sink<'a> {
    pub config: &'a Config,
    pub path: &'a str,
    text: &'a str,
    index: LineIndex,
    options: LintOptions,
    pub findings: Vec<Finding>,
    pub errors: Vec<InputError>,
    pub ignored: usize,
}

impl<'a> Sink<'a> {
    pub fn new(config: &'a Config, path: &'a str, text: &'a str, options: LintOptions) -> Sink<'a> {
        Sink {
            config,
            path,
            text,
            index: LineIndex::new(text),
            options,
            findings: Vec::new(),
            errors: Vec::new(),
            ignored: 0,
        }
    }

    pub fn enabled(&self, rule: Rule) -> bool {
        self.config.is_enabled(rule)
    }

    pub fn make_error(&self, offset: Option<u32>, message: String) -> InputError {
        let pos = offset.map(|o| self.index.position(self.text, o));
        InputError {
            path: self.path.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message,
        }
    }

    pub fn error(&mut self, offset: Option<u32>, message: String) {
        let e = self.make_error(offset, message);
        self.errors.push(e);
    }

    pub fn report(&mut self, scope: &Scope, r: Report<'_>) {
        if !self.config.is_enabled(r.rule) {
            return;
        }
        let base = self.config.severity(r.rule);
        let severity = match r.level {
            Level::Default => base,
            Level::Lowered => base.step(-1),
            Level::Raised => base.step(1),
            Level::Unchecked => Severity::Low,
        };
        let sid = r.sid.filter(|s| !s.is_empty());
        if self
            .config
            .is_ignored(r.rule, self.path, scope.resource.as_deref(), sid)
        {
            self.ignored += 1;
            return;
        }
        let span = scope.anchor.unwrap_or(r.span);
        let start = self.index.position(self.text, span.start);
        // Underline only the first line of a multi-line value.
        let line_start = self.index.line_start(start.line);
        let line = self.index.line_text(self.text, start.line);
        let end_offset = (span.end as usize).clamp(span.start as usize, line_start + line.len());
        let end = self.index.position(self.text, end_offset as u32);
        let end_column = end.column.max(start.column + 1);
        let fingerprint = fingerprint(&[
            r.rule.code(),
            &normalize_path(self.path),
            scope.resource.as_deref().unwrap_or(""),
            &scope.context,
            &r.key,
        ]);
        let snippet = self.options.snippets.then(|| {
            Snippet::new(
                line,
                span.start as usize - line_start,
                end_offset - line_start,
                120,
            )
        });
        self.findings.push(Finding {
            rule: r.rule,
            severity,
            path: self.path.to_string(),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column,
            resource: scope.resource.clone(),
            statement: r.statement,
            sid: sid.map(str::to_string),
            message: r.message,
            fingerprint,
            snippet,
        });
    }
}

/// `./a//b\c` → `a/b/c`: the path part of fingerprints must not depend on how it was typed.
fn normalize_path(path: &str) -> String {
    let unified = path.replace('\\', "/");
    unified
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// FNV-1a (64 bit) over the parts, as 16 hex digits: stable across versions and platforms.
fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// How a policy document is checked.
#[derive(Debug, Clone)]
pub(crate) struct PolicyTarget {
    pub kind: PolicyKind,
    /// Characters without whitespace, when JIT008 should check this document on its own.
    pub size: Option<usize>,
    /// The whole document (where a size finding points when there is no anchor).
    pub span: Span,
    /// Why an open API resource policy is worse than usual (JIT002 raises it to critical).
    pub escalation: Option<String>,
}

/// Runs the policy rules that apply to the document's kind on one parsed policy.
pub(crate) fn check_policy(
    sink: &mut Sink<'_>,
    scope: &Scope,
    policy: &Policy<'_>,
    target: &PolicyTarget,
) {
    let kind = target.kind;
    let applies = |rule: Rule| rule.applies_to(kind);
    if applies(Rule::NaclEntryWriteUnscoped) {
        rules::jit001_nacl_entry_write_unscoped::check(sink, scope, policy);
    }
    if applies(Rule::OpenApiGateway) {
        rules::jit002_open_api_gateway::check_policy(
            sink,
            scope,
            policy,
            target.escalation.as_deref(),
        );
    }
    if applies(Rule::SourceIpInvalid) {
        rules::jit005_source_ip_invalid::check(sink, scope, policy);
    }
    if applies(Rule::SourceIpTooBroad) {
        rules::jit006_source_ip_too_broad::check(sink, scope, policy);
    }
    if applies(Rule::SourceIpDenyBlocksAwsServices) {
        rules::jit007_source_ip_deny_blocks_aws_services::check(sink, scope, policy);
    }
    if let Some(size) = target.size
        && applies(Rule::PolicySizeLimit)
    {
        rules::jit008_policy_size_limit::check_document(sink, scope, kind, size, target.span);
    }
    if applies(Rule::PolicyVersionWriteUnscoped) {
        rules::jit009_policy_version_write_unscoped::check(sink, scope, policy);
    }
    if applies(Rule::StatementMissingElement) {
        rules::jit011_statement_missing_element::check(sink, scope, policy, kind);
    }
    if applies(Rule::SourceIpFencePrivateOnly) {
        rules::jit012_source_ip_fence_private_only::check(sink, scope, policy);
    }
}

/// Runs the structural rules (JIT101…), which read the document's JSON as IAM does, before the
/// policy model is built. Returns whether JIT101 found a grammar error: then IAM refuses the
/// document, and a policy model that cannot be built from it is reported by that finding rather
/// than as an input error.
pub(crate) fn check_structure(
    sink: &mut Sink<'_>,
    scope: &Scope,
    root: &Node<'_>,
    kind: PolicyKind,
) -> bool {
    let doc = rules::structure::Doc::new(root, kind);
    let mut refused = false;
    for issue in rules::structure::run(&doc, |rule| sink.enabled(rule)) {
        refused |= issue.rule == Rule::InvalidPolicyGrammar;
        sink.report(
            scope,
            Report {
                rule: issue.rule,
                level: Level::Default,
                span: issue.span,
                statement: issue.statement,
                sid: issue.sid,
                key: issue.key,
                message: issue.message,
            },
        );
    }
    refused
}

/// Parses a policy embedded as a string (a plan attribute, a URL-encoded CLI document) and checks
/// it; all findings point at `scope.anchor`. Returns whether it could be checked.
pub(crate) fn check_embedded_policy(
    sink: &mut Sink<'_>,
    scope: &Scope,
    text: &str,
    what: &str,
    target: &PolicyTarget,
) -> bool {
    let anchor = scope.anchor.map(|s| s.start);
    let inner_pos = |offset: usize| {
        let p = LineIndex::new(text).position(text, offset as u32);
        format!(" (line {}, column {} of the document)", p.line, p.column)
    };
    let root: Node<'_> = match json::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let message = format!(
                "{what} is not valid JSON: {}{}",
                e.message,
                inner_pos(e.offset)
            );
            sink.error(anchor, message);
            return false;
        }
    };
    let refused = check_structure(sink, scope, &root, target.kind);
    match Policy::from_node(&root) {
        Ok(policy) => {
            check_policy(sink, scope, &policy, target);
            true
        }
        // JIT101 reported why IAM refuses the document.
        Err(_) if refused => false,
        Err(PolicyError { message, span }) => {
            let message = format!(
                "{what} is not a valid IAM policy: {message}{}",
                inner_pos(span.start as usize)
            );
            sink.error(anchor, message);
            false
        }
    }
}

/// The rules that read policy documents, for reporting a document that could not be read at all.
pub(crate) fn report_unknown_policy(
    sink: &mut Sink<'_>,
    scope: &Scope,
    span: Span,
    what: &str,
    reason: &str,
    kind: PolicyKind,
) {
    let affected: Vec<Rule> = Rule::ALL
        .into_iter()
        .filter(|r| r.applies_to(kind) && sink.enabled(*r))
        .collect();
    let Some(&first) = affected.first() else {
        return;
    };
    let codes: Vec<&str> = affected.iter().map(|r| r.code()).collect();
    sink.report(
        scope,
        Report {
            rule: first,
            level: Level::Unchecked,
            span,
            statement: None,
            sid: None,
            key: format!("unknown:{what}"),
            message: format!(
                "{what} is unknown until apply ({reason}), so {} could not be checked; \
                 run jitlint on the state after apply, or build the document from known values",
                codes.join(", ")
            ),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn fingerprints_are_stable() {
        // Pinned: baselines written by one version must keep matching in the next.
        assert_eq!(
            fingerprint(&["JIT001", "a.json", "", "", "k"]),
            fingerprint(&["JIT001", "a.json", "", "", "k"])
        );
        assert_ne!(
            fingerprint(&["JIT001", "a.json"]),
            fingerprint(&["JIT001a", ".json"])
        );
        assert_eq!(fingerprint(&[""]), "af63bd4c8601b7df");
        assert_eq!(normalize_path("./a//b\\c"), "a/b/c");
    }
}
