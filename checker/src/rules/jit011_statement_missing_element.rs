//! ## What it does
//! Flags a statement that lacks an element IAM requires, so that the whole policy is refused:
//!
//! - neither `Action` nor `NotAction` (every kind of policy);
//! - neither `Resource` nor `NotResource` in an identity policy (managed, inline, permission
//!   set);
//! - neither `Principal` nor `NotPrincipal` in a trust policy or an S3 bucket policy.
//!
//! The other rules read such a statement as granting nothing, which is not what the author meant
//! either. Access Analyzer reports these as `MISSING_ACTION`, `MISSING_RESOURCE` and
//! `MISSING_PRINCIPAL`; a missing `Effect` (`MISSING_EFFECT`) and both elements of a pair
//! (`UNSUPPORTED_ELEMENT_COMBINATION`) are JIT101's, and an element that is present but an empty
//! array (`EMPTY_ARRAY_ACTION`, …) is JIT102's.
//!
//! ## Why is this bad?
//! IAM answers `MalformedPolicyDocument` ("Policy statement must contain actions", "… must
//! contain resources", "Missing required field Principal") when the policy is created, which in
//! Terraform is halfway through an apply, after a plan that looked fine. A policy that renders
//! its statements from variables loses an element when a list turns out empty.
//!
//! ## Example
//! ```json
//! {
//!   "Version": "2012-10-17",
//!   "Statement": [
//!     {
//!       "Effect": "Allow",
//!       "Resource": "arn:aws:s3:::my-bucket/*"
//!     }
//!   ]
//! }
//! ```
//!
//! ## Fix
//! Name what the statement allows or denies, and on what:
//! ```json
//! {
//!   "Effect": "Allow",
//!   "Action": "s3:GetObject",
//!   "Resource": "arn:aws:s3:::my-bucket/*"
//! }
//! ```
//! or remove the statement.

use crate::policy::Policy;
use crate::policy::PolicyKind;
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>, kind: PolicyKind) {
    if !sink.enabled(Rule::StatementMissingElement) {
        return;
    }
    for stmt in &policy.statements {
        let mut missing = Vec::new();
        if stmt.action.is_none() {
            missing.push(("Action", "Action or NotAction", "MISSING_ACTION"));
        }
        if kind.is_identity() && stmt.resource.is_none() {
            missing.push(("Resource", "Resource or NotResource", "MISSING_RESOURCE"));
        }
        if matches!(kind, PolicyKind::Trust | PolicyKind::Bucket) && stmt.principal.is_none() {
            missing.push((
                "Principal",
                "Principal or NotPrincipal",
                "MISSING_PRINCIPAL",
            ));
        }
        if missing.is_empty() {
            continue;
        }
        let names: Vec<&str> = missing.iter().map(|(_, n, _)| *n).collect();
        let keys: Vec<&str> = missing.iter().map(|(k, _, _)| *k).collect();
        let aws_codes: Vec<&str> = missing.iter().map(|(_, _, c)| *c).collect();
        sink.report(
            scope,
            Report {
                rule: Rule::StatementMissingElement,
                level: Level::Default,
                span: stmt.span,
                statement: Some(stmt.index),
                sid: stmt.sid,
                key: format!(
                    "{}|{}",
                    stmt.sid
                        .filter(|s| !s.is_empty())
                        .unwrap_or(&stmt.canonical),
                    keys.join(",")
                ),
                message: format!(
                    "Statement[{}] of this {} has no {}: IAM refuses the whole policy \
                     (MalformedPolicyDocument); add the element or remove the statement \
                     (Access Analyzer: {})",
                    stmt.index,
                    kind.noun(),
                    names.join(" and no "),
                    aws_codes.join(", ")
                ),
            },
        );
    }
}
