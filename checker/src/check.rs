//! Runs the policy rules on one policy document, by its kind.

use crate::json::{self, LineIndex, Node, Span};
use crate::policy::{Policy, PolicyError, PolicyKind};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::{self, Rule};

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
    use rules::structure::{Doc, Issues};
    use rules::{
        jit101_invalid_policy_grammar as jit101, jit102_empty_policy_element as jit102,
        jit103_invalid_condition as jit103, jit104_condition_value_type_mismatch as jit104,
        jit105_invalid_resource_arn as jit105, jit106_invalid_policy_variable as jit106,
    };
    type Check = for<'a> fn(&Doc<'a>, &mut Issues<'a>);
    let checks: [(Rule, Check); 6] = [
        (Rule::InvalidPolicyGrammar, jit101::check),
        (Rule::EmptyPolicyElement, jit102::check),
        (Rule::InvalidCondition, jit103::check),
        (Rule::ConditionValueTypeMismatch, jit104::check),
        (Rule::InvalidResourceArn, jit105::check),
        (Rule::InvalidPolicyVariable, jit106::check),
    ];
    let doc = Doc::new(root, kind);
    let mut issues = Issues::new(Rule::InvalidPolicyGrammar);
    for (rule, check) in checks {
        if rule.applies_to(kind) && sink.enabled(rule) {
            issues.rule = rule;
            check(&doc, &mut issues);
        }
    }
    let mut refused = false;
    for issue in issues.out {
        refused |= issue.rule == Rule::InvalidPolicyGrammar;
        sink.report(
            scope,
            Report {
                rule: issue.rule,
                level: if issue.raised {
                    Level::Raised
                } else {
                    Level::Default
                },
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
