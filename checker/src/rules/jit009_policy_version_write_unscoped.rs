//! ## What it does
//! Flags an `Allow` statement that grants `iam:CreatePolicyVersion` or
//! `iam:SetDefaultPolicyVersion` on any managed policy: `Resource` `"*"`, a wildcard policy ARN
//! such as `arn:aws:iam::123456789012:policy/*`, or a `NotResource` that does not exclude
//! policies. Actions match case-insensitively with `*` and `?`, `NotAction` counts, and a positive
//! `aws:ResourceTag/…` (or `iam:ResourceTag/…`) condition scopes the statement; any other
//! condition lowers the finding to medium. A pattern in the `aws` account
//! (`arn:aws:iam::aws:policy/…`) is fine: no customer can write versions of AWS managed
//! policies. Only identity policies are read; a bucket, endpoint or trust policy cannot grant
//! IAM writes.
//!
//! ## Why is this bad?
//! A new default version of a policy *is* a new policy. Whoever can write versions of any policy
//! can write `"Action": "*"` into one attached to themselves: a well-known privilege-escalation
//! path. The seed that widens an IP allowlist from an open API Gateway gives its Lambda exactly
//! this right; scoped to one policy ARN it is a deliberate design, on `*` it is an administrator.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Allow",
//!   "Action": ["iam:GetPolicyVersion", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion"],
//!   "Resource": "*"
//! }
//! ```
//!
//! ## Fix
//! Name the policy the function maintains:
//! ```json
//! {
//!   "Effect": "Allow",
//!   "Action": ["iam:GetPolicyVersion", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion"],
//!   "Resource": "arn:aws:iam::123456789012:policy/source-ip-restriction"
//! }
//! ```
//! or limit it to policies tagged as managed by the tool with an `aws:ResourceTag` condition.

use super::grants::WriteTarget;
use super::jit001_nacl_entry_write_unscoped::report_unscoped;
use crate::policy::Policy;
use crate::report::{Scope, Sink};
use crate::rules::Rule;

const TARGET: WriteTarget = WriteTarget {
    actions: &["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"],
    universe: "arn:*:iam::*:policy/*",
    cover_universe: "arn:aws:iam::*:policy/*",
    scoping_keys: &["aws:ResourceTag/", "iam:ResourceTag/"],
    unwritable_accounts: &["aws"],
    noun: "managed policy",
    nouns: "managed policies",
};

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>) {
    report_unscoped(
        sink,
        scope,
        policy,
        Rule::PolicyVersionWriteUnscoped,
        &TARGET,
        "can rewrite any managed policy, including its own, and so grant itself anything",
    );
}
