//! ## What it does
//! Flags the function of a Client VPN client connect handler (see JIT003) whose `timeout` is
//! above 30 seconds. A timeout that is unknown at plan time gives a `low` finding saying so; a
//! function without `timeout` has Lambda's default of 3 seconds.
//!
//! ## Why is this bad?
//! The Client VPN service waits at most 30 seconds for the handler and refuses the connection
//! when it has no answer by then; this cannot be changed. A longer function timeout hides the
//! problem: the function keeps running (and is billed) after the user was already turned away,
//! and its logs show no error.
//!
//! ## Example
//! ```hcl
//! resource "aws_lambda_function" "handler" {
//!   function_name = "AWSClientVPN-connect-handler"
//!   timeout       = 60
//!   # …
//! }
//! ```
//!
//! ## Fix
//! Set `timeout` to 30 seconds or less, and make the handler answer well within it (the seeds
//! recommend provisioned concurrency to avoid cold starts).

use std::collections::HashSet;

use super::jit003_client_vpn_handler_prefix::Handler;
use crate::plan::{Plan, Resolved, Seg};
use crate::report::{Level, Report, Sink};
use crate::rules::Rule;
use crate::rules::scope::attr_scope;

/// The service's fixed wait.
const LIMIT_SECONDS: f64 = 30.0;

pub(crate) fn check_plan(sink: &mut Sink<'_>, plan: &Plan<'_>, handlers: &[Handler]) {
    if !sink.enabled(Rule::ClientVpnHandlerTimeout) {
        return;
    }
    let mut seen = HashSet::new();
    for h in handlers {
        let Some(l) = h.lambda.filter(|l| seen.insert(*l)) else {
            continue;
        };
        let endpoint = &plan.instances[h.endpoint].address;
        let path = [Seg::Key("timeout")];
        let (level, message) = match plan.attr(l, &path) {
            None => continue,
            Some(Resolved::Known(t)) => match t.as_f64() {
                Some(secs) if secs > LIMIT_SECONDS => (
                    Level::Default,
                    format!(
                        "timeout {} s of the client connect handler of {endpoint} is above the 30 s the Client VPN service waits; \
                         connections are refused before the function gives up",
                        t.as_f64().map_or_else(String::new, |s| s.to_string())
                    ),
                ),
                _ => continue,
            },
            Some(Resolved::Unknown(why)) => (
                Level::Unchecked,
                format!(
                    "could not check the timeout of the client connect handler of {endpoint}: timeout {why}"
                ),
            ),
        };
        let mut scope = attr_scope(plan, l, &path);
        scope.anchor = None;
        sink.report(
            &scope,
            Report {
                rule: Rule::ClientVpnHandlerTimeout,
                level,
                span: plan.attr_span(l, &path),
                statement: None,
                sid: None,
                key: endpoint.clone(),
                message,
            },
        );
    }
}
