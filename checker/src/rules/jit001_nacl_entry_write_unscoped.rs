//! ## What it does
//! Flags an `Allow` statement that grants `ec2:ReplaceNetworkAclEntry`,
//! `ec2:CreateNetworkAclEntry` or `ec2:DeleteNetworkAclEntry` on every network ACL:
//!
//! - `Action` patterns are matched the way IAM does: case-insensitively, with `*` and `?`
//!   (`"*"`, `"ec2:*"`, `"EC2:replace*"`, `"ec2:Replace?etworkAclEntry"` all count);
//!   `NotAction` grants everything it does not exclude.
//! - `Resource` is `"*"` or any wildcard pattern that reaches network-ACL ARNs
//!   (`arn:aws:ec2:*:*:network-acl/*`, `arn:aws:ec2:us-east-1:123456789012:*`, `acl-0abc?`, …),
//!   or a `NotResource` that does not exclude them.
//!
//! A positive condition on `aws:ResourceTag/…`, `ec2:ResourceTag/…` or `ec2:Vpc` scopes the
//! statement (no finding); negated operators, `…IfExists` and `Null` do not scope, because they
//! also match ACLs without the tag. Any other condition lowers the finding to medium. An
//! unconditional `Deny` in the same policy that takes the action away on every ACL cancels it.
//! A statement scoped to one ACL ARN is fine. Only identity policies are read: a bucket,
//! endpoint, queue or trust policy governs its own resource and cannot grant NACL writes, and a
//! service control policy only limits.
//!
//! ## Why is this bad?
//! Network ACLs are the last stateless fence of a subnet, and their entries are evaluated lowest
//! number first. Whoever may replace entries on every ACL can put `allow 0.0.0.0/0` in front of
//! any subnet of the account, or silently clobber a rule someone else relies on. The seed article
//! that gives a Lambda this right says it itself: the role "can update any rule in the account —
//! not recommended!".
//!
//! ## Example
//! ```json
//! {
//!   "Version": "2012-10-17",
//!   "Statement": [
//!     {
//!       "Sid": "VisualEditor0",
//!       "Effect": "Allow",
//!       "Action": "ec2:ReplaceNetworkAclEntry",
//!       "Resource": "*"
//!     }
//!   ]
//! }
//! ```
//!
//! ## Fix
//! Name the one ACL the function manages, or require a tag that only jit-managed ACLs carry:
//! ```json
//! {
//!   "Effect": "Allow",
//!   "Action": "ec2:ReplaceNetworkAclEntry",
//!   "Resource": "arn:aws:ec2:us-east-1:123456789012:network-acl/acl-0123456789abcdef0"
//! }
//! ```
//! or `"Condition": {"StringEquals": {"aws:ResourceTag/jit-managed": "true"}}`.

use super::grants::{Reach, WriteTarget, denied_actions, unscoped_grant};
use crate::policy::Policy;
use crate::report::{Report, Scope, Sink};
use crate::rules::Rule;

pub(crate) const TARGET: WriteTarget = WriteTarget {
    actions: &[
        "ec2:ReplaceNetworkAclEntry",
        "ec2:CreateNetworkAclEntry",
        "ec2:DeleteNetworkAclEntry",
    ],
    universe: "arn:*:ec2:*:*:network-acl/*",
    cover_universe: "arn:aws:ec2:*:*:network-acl/*",
    scoping_keys: &["aws:ResourceTag/", "ec2:ResourceTag/", "ec2:Vpc"],
    unwritable_accounts: &[],
    noun: "network ACL",
    nouns: "network ACLs",
};

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>) {
    report_unscoped(
        sink,
        scope,
        policy,
        Rule::NaclEntryWriteUnscoped,
        &TARGET,
        "can rewrite any entry of any network ACL in the account",
    );
}

/// Shared with JIT009: reports every statement that grants the target's writes unscoped.
pub(crate) fn report_unscoped(
    sink: &mut Sink<'_>,
    scope: &Scope,
    policy: &Policy<'_>,
    rule: Rule,
    target: &WriteTarget,
    consequence: &str,
) {
    if !sink.enabled(rule) {
        return;
    }
    let denied = denied_actions(policy, target);
    for stmt in &policy.statements {
        let Some(grant) = unscoped_grant(stmt, target, &denied) else {
            continue;
        };
        let what = if grant.actions.is_empty() {
            target.actions.join(", ")
        } else {
            grant.actions.join(", ")
        };
        let where_ = match &grant.reach {
            Reach::Pattern { text, .. } if text == "*" => {
                "on every resource (Resource \"*\")".to_string()
            }
            Reach::Pattern { text, .. } => format!("on every {} matching {text:?}", target.noun),
            Reach::NotResource { .. } => format!(
                "through a NotResource that does not exclude {}s",
                target.noun
            ),
            Reach::Unknown { .. } => format!("on {} that are unknown until apply", target.nouns),
        };
        let message = match (&grant.unknown, grant.other_conditions.is_empty()) {
            (Some(why), _) => format!(
                "could not check whether this Allow grants {what} on every {}: {why}",
                target.noun
            ),
            (None, true) => format!("Allow grants {what} {where_}: the holder {consequence}"),
            (None, false) => format!(
                "Allow grants {what} {where_}; its condition on {} does not limit it to particular {}, so the holder {consequence}",
                grant.other_conditions.join(", "),
                target.nouns
            ),
        };
        sink.report(
            scope,
            Report {
                rule,
                level: grant.level,
                span: grant.reach.span(),
                statement: Some(stmt.index),
                sid: stmt.sid,
                key: format!(
                    "{}|{}",
                    stmt.sid
                        .filter(|s| !s.is_empty())
                        .unwrap_or(&stmt.canonical),
                    what
                ),
                message,
            },
        );
    }
}
