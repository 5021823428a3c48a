//! ## What it does
//! Checks `aws_ec2_client_vpn_endpoint` resources whose `client_connect_options` are enabled:
//! the connect handler's function name must start with `AWSClientVPN-`. The name comes from a
//! literal `lambda_function_arn`, or, when the ARN is unknown at plan time, through the
//! configuration reference to the `aws_lambda_function` (or alias, or data source) and its
//! `function_name`, also across module variables and `count`/`for_each` instances. When the
//! name cannot be determined the finding is `low` and says why.
//!
//! ## Why is this bad?
//! AWS refuses any other function as a client connect handler, so the apply fails, possibly after
//! the endpoint and everything around it were created. Both seed articles about connect handlers
//! stress the rule; it is easy to miss because nothing else about the function is special.
//!
//! ## Example
//! ```hcl
//! resource "aws_lambda_function" "handler" {
//!   function_name = "vpn-connect-handler"
//!   # …
//! }
//! resource "aws_ec2_client_vpn_endpoint" "vpn" {
//!   # …
//!   client_connect_options {
//!     enabled             = true
//!     lambda_function_arn = aws_lambda_function.handler.arn
//!   }
//! }
//! ```
//!
//! ## Fix
//! Rename the function: `function_name = "AWSClientVPN-connect-handler"`.

use crate::json::Span;
use crate::plan::{Plan, Resolved, Seg, arn_resource_name};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;
use crate::rules::scope::attr_scope;

/// The prefix AWS requires.
pub(crate) const PREFIX: &str = "AWSClientVPN-";

/// A Client VPN endpoint's connect handler as far as the plan knows it.
pub(crate) struct Handler {
    pub endpoint: usize,
    /// Where `lambda_function_arn` is.
    pub span: Span,
    /// The function name, or why it is unknown.
    pub name: Result<String, String>,
    /// The function's resource in the plan, if it is there.
    pub lambda: Option<usize>,
}

const PATH: [Seg<'static>; 3] = [
    Seg::Key("client_connect_options"),
    Seg::Index(0),
    Seg::Key("lambda_function_arn"),
];

const LAMBDA_TYPES: [&str; 3] = [
    "aws_lambda_function",
    "aws_lambda_alias",
    "data.aws_lambda_function",
];

fn name_of(value: &str) -> String {
    arn_resource_name(value).unwrap_or(value).to_string()
}

/// Every enabled connect handler in the plan.
pub(crate) fn handlers(plan: &Plan<'_>) -> Vec<Handler> {
    let mut out = Vec::new();
    for e in plan.of_type("aws_ec2_client_vpn_endpoint") {
        // An unknown `enabled` may well be true: check the handler anyway.
        let enabled = match plan.attr(
            e,
            &[
                Seg::Key("client_connect_options"),
                Seg::Index(0),
                Seg::Key("enabled"),
            ],
        ) {
            Some(Resolved::Known(n)) => n.as_bool() == Some(true),
            Some(Resolved::Unknown(_)) => true,
            None => false,
        };
        if !enabled {
            continue;
        }
        let span = plan.attr_span(e, &PATH);
        let (name, lambda) = match plan.attr(e, &PATH) {
            None => continue,
            Some(Resolved::Known(v)) => {
                let Some(arn) = v.as_str() else { continue };
                (
                    Ok(name_of(arn)),
                    plan.find_by_value(&["aws_lambda_function"], arn),
                )
            }
            Some(Resolved::Unknown(why)) => match plan.reference_target(e, &PATH, &LAMBDA_TYPES) {
                None => (Err(format!("lambda_function_arn {why}")), None),
                Some(mut target) => {
                    if plan.instances[target].rtype == "aws_lambda_alias" {
                        // An alias names its function by name or ARN.
                        let f = plan.known_str(target, &[Seg::Key("function_name")]);
                        match f.and_then(|f| plan.find_by_value(&["aws_lambda_function"], f)) {
                            Some(t) => target = t,
                            None => {
                                let name = f.map(name_of).ok_or_else(|| {
                                    format!(
                                        "the function of {} is unknown until apply",
                                        plan.instances[target].address
                                    )
                                });
                                out.push(Handler {
                                    endpoint: e,
                                    span,
                                    name,
                                    lambda: None,
                                });
                                continue;
                            }
                        }
                    }
                    let name = match plan.attr(target, &[Seg::Key("function_name")]) {
                        Some(Resolved::Known(n)) => n
                            .as_str()
                            .map(name_of)
                            .ok_or_else(|| "function_name is not a string".to_string()),
                        Some(Resolved::Unknown(w)) => Err(format!(
                            "function_name of {} {w}",
                            plan.instances[target].address
                        )),
                        None => Err(format!(
                            "{} has no function_name",
                            plan.instances[target].address
                        )),
                    };
                    (name, (!plan.instances[target].data).then_some(target))
                }
            },
        };
        out.push(Handler {
            endpoint: e,
            span,
            name,
            lambda,
        });
    }
    out
}

pub(crate) fn check_plan(sink: &mut Sink<'_>, plan: &Plan<'_>, handlers: &[Handler]) {
    if !sink.enabled(Rule::ClientVpnHandlerPrefix) {
        return;
    }
    for h in handlers {
        let (level, message) = match &h.name {
            Ok(name) if name.starts_with(PREFIX) => continue,
            Ok(name) => (
                Level::Default,
                format!(
                    "client connect handler {name:?}{} does not start with \"{PREFIX}\", so AWS refuses it; rename the function to \"{PREFIX}{name}\"",
                    h.lambda
                        .map(|l| format!(" ({})", plan.instances[l].address))
                        .unwrap_or_default()
                ),
            ),
            Err(why) => (
                Level::Unchecked,
                format!("could not check the client connect handler's name: {why}"),
            ),
        };
        let scope = Scope {
            anchor: None,
            ..attr_scope(plan, h.endpoint, &PATH)
        };
        sink.report(
            &scope,
            Report {
                rule: Rule::ClientVpnHandlerPrefix,
                level,
                span: h.span,
                statement: None,
                sid: None,
                key: h.name.clone().unwrap_or_default(),
                message,
            },
        );
    }
}
