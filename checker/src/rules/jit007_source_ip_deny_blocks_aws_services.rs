//! ## What it does
//! Flags a `Deny` statement with a `NotIpAddress` condition on `aws:SourceIp` that lacks
//! `"Bool": {"aws:ViaAWSService": "false"}`.
//!
//! ## Why is this bad?
//! When an AWS service acts for the user (CloudFormation creating a stack, Athena reading S3, a
//! console page calling another service), the request comes from an AWS address, not from the
//! user's. The Deny then refuses it, and things break in ways that are hard to trace back to an IP
//! allowlist. The pattern AWS documents for "deny unless from these IPs" carries the
//! `aws:ViaAWSService` condition for exactly this reason; the seed policy that fences every IAM
//! user does not.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "*",
//!   "Resource": "*",
//!   "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24"]}}
//! }
//! ```
//!
//! ## Fix
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "*",
//!   "Resource": "*",
//!   "Condition": {
//!     "NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24"]},
//!     "Bool": {"aws:ViaAWSService": "false"}
//!   }
//! }
//! ```
//! `jit_source_ip_policy` renders this by default (`exempt_aws_services = true`).

use crate::policy::{Effect, Policy};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;

pub(crate) fn check(sink: &mut Sink<'_>, scope: &Scope, policy: &Policy<'_>) {
    if !sink.enabled(Rule::SourceIpDenyBlocksAwsServices) {
        return;
    }
    for stmt in &policy.statements {
        if stmt.effect != Effect::Deny {
            continue;
        }
        let Some(fence) = stmt
            .conditions
            .iter()
            .find(|c| c.base_operator() == "NotIpAddress" && c.key_is("aws:SourceIp"))
        else {
            continue;
        };
        let exempt = stmt.conditions_on("aws:ViaAWSService").any(|c| {
            c.base_operator() == "Bool"
                && !c.if_exists()
                && c.values
                    .iter()
                    .all(|v| v.known().is_some_and(|t| t.eq_ignore_ascii_case("false")))
        });
        if exempt {
            continue;
        }
        sink.report(
            scope,
            Report {
                rule: Rule::SourceIpDenyBlocksAwsServices,
                level: Level::Default,
                span: fence.operator_span,
                statement: Some(stmt.index),
                sid: stmt.sid,
                key: format!("{}|{}", stmt.sid.filter(|s| !s.is_empty()).unwrap_or(&stmt.canonical), fence.operator),
                message: format!(
                    "this Deny on {} aws:SourceIp also refuses AWS services acting for the user (their calls come from AWS addresses); \
                     add \"Bool\": {{\"aws:ViaAWSService\": \"false\"}} to the condition",
                    fence.operator
                ),
            },
        );
    }
}
