//! ## What it does
//! Measures policies the way IAM does, in characters without whitespace, and flags:
//!
//! - a managed policy over 6,144 characters (a bare policy file counts as managed, as does
//!   `aws iam get-policy-version` output and `aws_iam_policy` in a plan);
//! - the inline policies of one role over 10,240, of one user over 2,048, or of one group over
//!   5,120 characters. In Terraform plans and `get-account-authorization-details` output the
//!   inline policies of each principal are summed (`aws_iam_role_policy`,
//!   `aws_iam_user_policy`, `aws_iam_group_policy` and `aws_iam_role`'s `inline_policy` blocks);
//! - an IAM Identity Center permission set's inline policy over 10,240 characters
//!   (`aws_ssoadmin_permission_set_inline_policy`), a service control policy over 5,120
//!   (`aws_organizations_policy`).
//!
//! AWS managed policies (`arn:aws:iam::aws:policy/…` in `get-account-authorization-details`
//! output) are not bound by the customer quota and are not measured.
//!
//! Access Analyzer's counterparts are `POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA` and
//! `POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA`.
//!
//! ## Why is this bad?
//! IAM refuses the policy with `LimitExceeded` at apply time, after the plan looked fine and
//! possibly halfway through an apply. Policies that grow automatically, such as an IP allowlist
//! that gains an entry per remote worker per day, hit the limit on a random morning.
//!
//! ## Example
//! A `Deny … NotIpAddress` allowlist with 400 `/32` entries: about 8,000 characters.
//!
//! ## Fix
//! Aggregate addresses into CIDR blocks, split the policy into several managed policies (up to 10
//! per principal by default), or move long-lived ranges into one shared policy. For temporary
//! entries use `jit_source_ip_policy`, which expires and prunes them.

use crate::json::Span;
use crate::policy::PolicyKind;
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;

use crate::text::thousands;

fn principal_noun(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::InlineRole => "role",
        PolicyKind::InlineUser => "user",
        PolicyKind::InlineGroup => "group",
        _ => "principal",
    }
}

/// One document on its own: managed policies, and single inline policies from CLI output.
pub(crate) fn check_document(
    sink: &mut Sink<'_>,
    scope: &Scope,
    kind: PolicyKind,
    size: usize,
    span: Span,
) {
    let Some(limit) = kind.size_limit() else {
        return;
    };
    if size <= limit || !sink.enabled(Rule::PolicySizeLimit) {
        return;
    }
    let message = match kind {
        PolicyKind::Managed => format!(
            "managed policy has {} characters without whitespace; IAM's limit is {}: split it or aggregate entries",
            thousands(size),
            thousands(limit)
        ),
        _ if kind.sums_per_principal() => format!(
            "inline policy has {} characters without whitespace; IAM's limit for all inline policies of one {} together is {}",
            thousands(size),
            principal_noun(kind),
            thousands(limit)
        ),
        _ => format!(
            "{} has {} characters without whitespace; the limit is {}: split it or aggregate entries",
            kind.noun(),
            thousands(size),
            thousands(limit)
        ),
    };
    sink.report(
        scope,
        Report {
            rule: Rule::PolicySizeLimit,
            level: Level::Default,
            span,
            statement: None,
            sid: None,
            key: format!("{kind:?}"),
            message,
        },
    );
}

/// One inline policy of a principal, for [`check_total`].
#[derive(Debug, Clone)]
pub(crate) struct InlinePolicy {
    pub scope: Scope,
    pub span: Span,
    /// Resource address or policy name.
    pub name: String,
    pub size: usize,
}

/// The inline policies of one principal together.
pub(crate) fn check_total(
    sink: &mut Sink<'_>,
    kind: PolicyKind,
    principal: &str,
    policies: &[InlinePolicy],
) {
    let (Some(limit), Some(first)) = (kind.size_limit(), policies.first()) else {
        return;
    };
    let total: usize = policies.iter().map(|p| p.size).sum();
    if total <= limit || !sink.enabled(Rule::PolicySizeLimit) {
        return;
    }
    let parts: Vec<String> = policies
        .iter()
        .map(|p| format!("{} ({})", p.name, thousands(p.size)))
        .collect();
    sink.report(
        &first.scope,
        Report {
            rule: Rule::PolicySizeLimit,
            level: Level::Default,
            span: first.span,
            statement: None,
            sid: None,
            key: format!("{kind:?}|{principal}"),
            message: format!(
                "inline policies of {} {principal} total {} characters without whitespace; IAM's limit is {}: {}",
                principal_noun(kind),
                thousands(total),
                thousands(limit),
                parts.join(", ")
            ),
        },
    );
}
