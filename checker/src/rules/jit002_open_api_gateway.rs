//! ## What it does
//! Flags entry points that anyone on the internet can call:
//!
//! - `aws_api_gateway_method` with `authorization = "NONE"` and no API key
//!   (`api_key_required`); `OPTIONS` methods (CORS preflight) are excepted;
//! - `aws_apigatewayv2_route` with `authorization_type = "NONE"` (`OPTIONS …` routes excepted);
//! - `aws_lambda_function_url` with `authorization_type = "NONE"`;
//! - API resource policies (bare documents with `Principal`, `aws_api_gateway_rest_api_policy`,
//!   `aws_api_gateway_rest_api.policy`) with an `Allow` of `execute-api:Invoke` (or
//!   `lambda:InvokeFunction[Url]`) to `Principal "*"` and no narrowing condition on
//!   `aws:SourceIp`, `aws:SourceVpc`, `aws:SourceVpce`, `aws:PrincipalOrgID`,
//!   `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:SourceArn` or `aws:SourceAccount`
//!   (either in the Allow itself, or as the negated condition of a matching `Deny`, the pattern
//!   AWS documents for IP allowlists), unless an unconditional `Deny` of the action to everyone
//!   covers the Allow's resources;
//! - `aws_lambda_permission` with `principal = "*"` and none of `source_arn`,
//!   `source_account`, `principal_org_id`.
//!
//! Bucket, VPC endpoint, queue, topic, key and trust policies are not read: they govern their
//! own resource and cannot open an API, whatever their `Action` says.
//!
//! The finding is **critical** when the open entry point reaches a Lambda function whose role can
//! write IAM policies (`iam:CreatePolicyVersion`, `iam:Put*Policy`, `iam:Attach*Policy`, …) or
//! network-ACL entries: through the method's integration, the route's integration, the API's
//! integrations, or the permission's or URL's function.
//!
//! ## Why is this bad?
//! One seed builds exactly this: an API Gateway "left fully open", whose Lambda rewrites the IAM
//! policy that fences every user by source IP. Whoever finds the URL can add their own IP to the
//! fence. An open endpoint in front of a function with write access to IAM or to network ACLs is
//! a door to the account's perimeter.
//!
//! ## Example
//! ```hcl
//! resource "aws_api_gateway_method" "add_ip" {
//!   rest_api_id   = aws_api_gateway_rest_api.api.id
//!   resource_id   = aws_api_gateway_resource.ip.id
//!   http_method   = "GET"
//!   authorization = "NONE"
//! }
//! ```
//!
//! ## Fix
//! Require IAM authorization (`authorization = "AWS_IAM"`), a Cognito or Lambda authorizer, or
//! at least an API key; restrict a resource policy with `aws:SourceIp` or `aws:SourceVpce`; give
//! a Lambda permission a `source_arn`. Better still, let `jit_source_ip_policy` manage the
//! allowlist so that no function needs to write IAM at all.

use std::collections::HashMap;

use crate::document::document_from_config;
use crate::json::Span;
use crate::pattern::{Token, covers, tokenize};
use crate::plan::{Link, Plan, Resolved, Seg, arn_resource_name};
use crate::policy::{Effect, Policy, Principals, Statement, Tri};
use crate::report::{Level, Report, Scope, Sink};
use crate::rules::Rule;
use crate::rules::grants::{dangerous_managed_policy, dangerous_write};
use crate::rules::scope::attr_scope;

const INVOKE_ACTIONS: [&str; 3] = [
    "execute-api:Invoke",
    "lambda:InvokeFunction",
    "lambda:InvokeFunctionUrl",
];

const NARROWING_KEYS: [&str; 8] = [
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:PrincipalOrgID",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:SourceArn",
    "aws:SourceAccount",
];

fn narrowing(key: &str) -> bool {
    NARROWING_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Resource-policy part: statements that let everyone invoke.
pub(crate) fn check_policy(
    sink: &mut Sink<'_>,
    scope: &Scope,
    policy: &Policy<'_>,
    escalation: Option<&str>,
) {
    if !sink.enabled(Rule::OpenApiGateway) {
        return;
    }
    // What the Deny statements take away, per invoke action, computed once: checking every
    // Allow against every Deny would be quadratic in the policy.
    let denials = INVOKE_ACTIONS.map(|a| Denials::of(policy, a));
    for stmt in &policy.statements {
        let Some(principal) = stmt.principal.as_ref().filter(|p| p.is_everyone()) else {
            continue;
        };
        if stmt.effect != Effect::Allow {
            continue;
        }
        let Some((action, denied)) = INVOKE_ACTIONS
            .into_iter()
            .zip(&denials)
            .find(|(a, _)| stmt.grants_action(a) == Tri::Yes)
        else {
            continue;
        };
        let narrowed_here = stmt.conditions.iter().any(|c| {
            narrowing(c.key) && !c.is_negated() && !c.if_exists() && c.base_operator() != "Null"
        });
        if narrowed_here || denied.narrowed || denied.closes(stmt) {
            continue;
        }
        let mut message = format!(
            "Allow lets everyone (Principal \"*\") call {action} with no condition on aws:SourceIp, aws:SourceVpc(e), \
             aws:PrincipalOrgID or aws:SourceArn/aws:SourceAccount"
        );
        if let Some(e) = escalation {
            message.push_str(&format!("; the API reaches {e}"));
        }
        sink.report(
            scope,
            Report {
                rule: Rule::OpenApiGateway,
                level: if escalation.is_some() {
                    Level::Raised
                } else {
                    Level::Default
                },
                span: principal.span,
                statement: Some(stmt.index),
                sid: stmt.sid,
                key: format!(
                    "{}|{action}",
                    stmt.sid
                        .filter(|s| !s.is_empty())
                        .unwrap_or(&stmt.canonical)
                ),
                message,
            },
        );
    }
}

/// What the `Deny` statements of a policy that apply to everyone take away from one action.
struct Denials {
    /// A Deny with a negated narrowing condition (`NotIpAddress aws:SourceIp`, …): the pattern
    /// AWS documents for allowlists.
    narrowed: bool,
    /// An unconditional Deny without `Resource`, or on `"*"`: nothing of the action is left.
    everything: bool,
    /// The `Resource` patterns of the other unconditional Denies.
    patterns: Vec<Vec<Token>>,
}

impl Denials {
    fn of(policy: &Policy<'_>, action: &str) -> Denials {
        let mut d = Denials {
            narrowed: false,
            everything: false,
            patterns: Vec::new(),
        };
        let star = tokenize("*");
        for s in &policy.statements {
            if s.effect != Effect::Deny
                || s.grants_action(action) != Tri::Yes
                || !s.principal.as_ref().is_none_or(Principals::is_everyone)
            {
                continue;
            }
            if s.conditions
                .iter()
                .any(|c| narrowing(c.key) && c.is_negated())
            {
                d.narrowed = true;
            }
            if !s.conditions.is_empty() {
                continue;
            }
            match &s.resource {
                None => d.everything = true,
                Some(r) if r.negated => {}
                Some(r) => {
                    for p in r.items.iter().filter_map(|i| i.known().map(tokenize)) {
                        if covers(&p, &star) {
                            d.everything = true;
                        } else {
                            d.patterns.push(p);
                        }
                    }
                }
            }
        }
        d
    }

    /// Whether the unconditional Denies cover every resource the Allow names (an explicit Deny
    /// always wins, so the Allow opens nothing).
    fn closes(&self, allow: &Statement<'_>) -> bool {
        if self.everything {
            return true;
        }
        match &allow.resource {
            Some(r) if !r.negated && !self.patterns.is_empty() => r.items.iter().all(|i| {
                i.known().is_some_and(|p| {
                    let p = tokenize(p);
                    self.patterns.iter().any(|d| covers(d, &p))
                })
            }),
            _ => false,
        }
    }
}

/// What the plan's APIs and functions can reach: Lambda functions whose role can write IAM
/// policies or network ACLs, and the integrations that lead to them.
pub(crate) struct Exposure {
    /// Lambda instance → "aws_lambda_function.h runs as aws_iam_role.r, which may …".
    lambda_danger: HashMap<usize, String>,
    /// REST API → the first dangerous Lambda its integrations reach.
    api_danger: HashMap<Link, String>,
    /// Method instance → integrations that name it.
    integrations_by_method: HashMap<usize, Vec<usize>>,
    /// (API, resource, HTTP method) → integrations.
    integrations_by_key: HashMap<(Link, Link, String), Vec<usize>>,
}

const LAMBDA_TYPES: [&str; 3] = [
    "aws_lambda_function",
    "aws_lambda_alias",
    "data.aws_lambda_function",
];

/// The Lambda function an attribute (a function name, ARN, invoke ARN or integration URI) means.
fn lambda_of(plan: &Plan<'_>, i: usize, path: &[Seg<'_>], hops: usize) -> Option<usize> {
    let target = plan.reference_target(i, path, &LAMBDA_TYPES).or_else(|| {
        let value = plan.known_str(i, path)?;
        // `arn:aws:apigateway:…:lambda:path/2015-03-31/functions/<function ARN>/invocations`
        let value = value
            .split_once("/functions/")
            .map_or(value, |(_, f)| f.strip_suffix("/invocations").unwrap_or(f));
        plan.find_by_value(&LAMBDA_TYPES, value)
    })?;
    if plan.instances[target].rtype == "aws_lambda_alias" && hops < 4 {
        return lambda_of(plan, target, &[Seg::Key("function_name")], hops + 1);
    }
    Some(target)
}

/// The dangerous write a policy attribute grants, if any (also for documents rebuilt from an
/// `aws_iam_policy_document` whose JSON is unknown).
fn policy_write(plan: &Plan<'_>, i: usize, path: &[Seg<'_>]) -> Option<&'static str> {
    match plan.attr(i, path)? {
        Resolved::Known(node) => {
            let root = crate::json::parse(node.as_str()?).ok()?;
            dangerous_write(&Policy::from_node(&root).ok()?)
        }
        Resolved::Unknown(_) => {
            let d = plan.plain_target(i, path, &["data.aws_iam_policy_document"])?;
            dangerous_write(&document_from_config(plan, d, Span::default())?)
        }
    }
}

impl Exposure {
    pub fn new(plan: &Plan<'_>) -> Exposure {
        let role = |i: usize, attr: &str| match plan.link(i, &[Seg::Key(attr)], &["aws_iam_role"]) {
            Some(Link::Instance(r)) => Some(r),
            _ => None,
        };
        let mut role_danger: HashMap<usize, String> = HashMap::new();
        let mut note = |r: usize, why: String| {
            role_danger.entry(r).or_insert(why);
        };
        for p in plan.of_type("aws_iam_role_policy") {
            if let (Some(r), Some(a)) = (
                role(p, "role"),
                policy_write(plan, p, &[Seg::Key("policy")]),
            ) {
                note(r, format!("{a} ({})", plan.instances[p].address));
            }
        }
        let managed = |i: usize, path: &[Seg<'_>]| -> Option<String> {
            match plan.link(i, path, &["aws_iam_policy"])? {
                Link::Instance(p) => policy_write(plan, p, &[Seg::Key("policy")])
                    .map(|a| format!("{a} ({})", plan.instances[p].address)),
                Link::Value(arn) => dangerous_managed_policy(&arn).map(|a| format!("{a} ({arn})")),
            }
        };
        for a in plan.of_type("aws_iam_role_policy_attachment") {
            if let (Some(r), Some(why)) = (role(a, "role"), managed(a, &[Seg::Key("policy_arn")])) {
                note(r, why);
            }
        }
        for r in plan.of_type("aws_iam_role") {
            let values = plan.instances[r].values;
            let blocks = values
                .and_then(|v| v.get("inline_policy"))
                .and_then(|b| b.as_array())
                .map_or(0, <[_]>::len);
            for n in 0..blocks {
                let path = [Seg::Key("inline_policy"), Seg::Index(n), Seg::Key("policy")];
                if let Some(a) = policy_write(plan, r, &path) {
                    note(r, format!("{a} (inline policy)"));
                }
            }
            let arns = values
                .and_then(|v| v.get("managed_policy_arns"))
                .and_then(|b| b.as_array())
                .map_or(0, <[_]>::len);
            for n in 0..arns {
                if let Some(why) = managed(r, &[Seg::Key("managed_policy_arns"), Seg::Index(n)]) {
                    note(r, why);
                }
            }
        }
        let mut lambda_danger = HashMap::new();
        for l in plan.of_type("aws_lambda_function") {
            if let Some(r) = role(l, "role")
                && let Some(why) = role_danger.get(&r)
            {
                lambda_danger.insert(
                    l,
                    format!(
                        "{}, which runs as {}, which may {why}",
                        plan.instances[l].address, plan.instances[r].address
                    ),
                );
            }
        }
        let mut exposure = Exposure {
            lambda_danger,
            api_danger: HashMap::new(),
            integrations_by_method: HashMap::new(),
            integrations_by_key: HashMap::new(),
        };
        for ig in plan.of_type("aws_api_gateway_integration") {
            let api = plan.link(
                ig,
                &[Seg::Key("rest_api_id")],
                &["aws_api_gateway_rest_api"],
            );
            if let Some(method) =
                plan.reference_target(ig, &[Seg::Key("http_method")], &["aws_api_gateway_method"])
            {
                exposure
                    .integrations_by_method
                    .entry(method)
                    .or_default()
                    .push(ig);
            }
            if let Some(key) = method_key(plan, ig) {
                exposure
                    .integrations_by_key
                    .entry(key)
                    .or_default()
                    .push(ig);
            }
            if let (Some(api), Some(why)) = (api, exposure.integration_danger(plan, ig)) {
                exposure.api_danger.entry(api).or_insert(why);
            }
        }
        exposure
    }

    fn integration_danger(&self, plan: &Plan<'_>, ig: usize) -> Option<String> {
        lambda_of(plan, ig, &[Seg::Key("uri")], 0)
            .or_else(|| lambda_of(plan, ig, &[Seg::Key("integration_uri")], 0))
            .and_then(|l| self.lambda_danger.get(&l).cloned())
    }

    /// Why an open REST API policy of this API is critical, if it is.
    pub fn api_escalation(&self, api: &Link) -> Option<String> {
        self.api_danger.get(api).cloned()
    }

    fn method_escalation(&self, plan: &Plan<'_>, method: usize) -> Option<String> {
        let by_ref = self
            .integrations_by_method
            .get(&method)
            .into_iter()
            .flatten();
        let by_key = method_key(plan, method)
            .and_then(|k| self.integrations_by_key.get(&k))
            .into_iter()
            .flatten();
        by_ref
            .chain(by_key)
            .find_map(|&ig| self.integration_danger(plan, ig))
    }
}

/// (API, resource, HTTP method) of a method or integration.
fn method_key(plan: &Plan<'_>, i: usize) -> Option<(Link, Link, String)> {
    Some((
        plan.link(i, &[Seg::Key("rest_api_id")], &["aws_api_gateway_rest_api"])?,
        plan.link(
            i,
            &[Seg::Key("resource_id")],
            &["aws_api_gateway_resource", "aws_api_gateway_rest_api"],
        )?,
        plan.known_str(i, &[Seg::Key("http_method")])?
            .to_ascii_uppercase(),
    ))
}

/// A string attribute that must equal `expected` for the entry point to be open.
enum Open {
    Yes,
    No,
    Unknown(String),
}

fn equals(plan: &Plan<'_>, i: usize, attr: &str, expected: &str, default: bool) -> Open {
    match plan.attr(i, &[Seg::Key(attr)]) {
        None if default => Open::Yes,
        None => Open::No,
        Some(Resolved::Known(n))
            if n.as_str().is_some_and(|s| s.eq_ignore_ascii_case(expected)) =>
        {
            Open::Yes
        }
        Some(Resolved::Known(_)) => Open::No,
        Some(Resolved::Unknown(why)) => Open::Unknown(format!("{attr} {why}")),
    }
}

fn report(
    sink: &mut Sink<'_>,
    plan: &Plan<'_>,
    i: usize,
    attr: &str,
    open: Open,
    what: String,
    escalation: Option<String>,
) {
    let (level, message) = match (open, escalation) {
        (Open::No, _) => return,
        (Open::Unknown(why), _) => (
            Level::Unchecked,
            format!("could not check whether {what}: {why}"),
        ),
        (Open::Yes, None) => (
            Level::Default,
            format!("{what}: anyone on the internet can call it"),
        ),
        (Open::Yes, Some(e)) => (
            Level::Raised,
            format!("{what}: anyone on the internet can call it, and it reaches {e}"),
        ),
    };
    let path = [Seg::Key(attr)];
    let scope = Scope {
        anchor: None,
        ..attr_scope(plan, i, &path)
    };
    sink.report(
        &scope,
        Report {
            rule: Rule::OpenApiGateway,
            level,
            span: plan.attr_span(i, &path),
            statement: None,
            sid: None,
            key: attr.to_string(),
            message,
        },
    );
}

/// Methods, routes, function URLs and Lambda permissions in a plan.
pub(crate) fn check_plan(sink: &mut Sink<'_>, plan: &Plan<'_>, exposure: &Exposure) {
    for m in plan.of_type("aws_api_gateway_method") {
        let http = plan.known_str(m, &[Seg::Key("http_method")]).unwrap_or("?");
        if http.eq_ignore_ascii_case("OPTIONS") {
            continue;
        }
        let open = match (
            equals(plan, m, "authorization", "NONE", false),
            plan.attr(m, &[Seg::Key("api_key_required")]),
        ) {
            (Open::Yes, Some(Resolved::Known(k))) if k.as_bool() == Some(true) => Open::No,
            (Open::Yes, Some(Resolved::Unknown(why))) => {
                Open::Unknown(format!("api_key_required {why}"))
            }
            (open, _) => open,
        };
        let what = format!("{http} method has authorization \"NONE\" and no API key");
        report(
            sink,
            plan,
            m,
            "authorization",
            open,
            what,
            exposure.method_escalation(plan, m),
        );
    }
    for r in plan.of_type("aws_apigatewayv2_route") {
        let key = plan.known_str(r, &[Seg::Key("route_key")]).unwrap_or("?");
        if key.to_ascii_uppercase().starts_with("OPTIONS ") {
            continue;
        }
        let escalation = plan
            .link(r, &[Seg::Key("target")], &["aws_apigatewayv2_integration"])
            .and_then(|link| match link {
                Link::Instance(ig) => Some(ig),
                Link::Value(target) => plan.find_by_value(
                    &["aws_apigatewayv2_integration"],
                    target.strip_prefix("integrations/").unwrap_or(&target),
                ),
            })
            .and_then(|ig| exposure.integration_danger(plan, ig));
        let open = equals(plan, r, "authorization_type", "NONE", true);
        let what = format!("route {key:?} has authorization_type \"NONE\"");
        report(sink, plan, r, "authorization_type", open, what, escalation);
    }
    for u in plan.of_type("aws_lambda_function_url") {
        let escalation = lambda_of(plan, u, &[Seg::Key("function_name")], 0)
            .and_then(|l| exposure.lambda_danger.get(&l).cloned());
        let open = equals(plan, u, "authorization_type", "NONE", false);
        report(
            sink,
            plan,
            u,
            "authorization_type",
            open,
            "function URL has authorization_type \"NONE\"".into(),
            escalation,
        );
    }
    for p in plan.of_type("aws_lambda_permission") {
        let narrowed = ["source_arn", "source_account", "principal_org_id"]
            .iter()
            .any(|a| {
                plan.attr(p, &[Seg::Key(a)])
                    .is_some_and(|v| !matches!(v, Resolved::Known(n) if n.as_str() == Some("")))
            });
        let open = if narrowed {
            Open::No
        } else {
            equals(plan, p, "principal", "*", false)
        };
        let function = plan
            .known_str(p, &[Seg::Key("function_name")])
            .map(|f| arn_resource_name(f).unwrap_or(f).to_string());
        let lambda = lambda_of(plan, p, &[Seg::Key("function_name")], 0);
        let name = lambda
            .map(|l| plan.instances[l].address.clone())
            .or(function)
            .unwrap_or_else(|| "the function".into());
        let what = format!(
            "permission lets principal \"*\" invoke {name} without source_arn, source_account or principal_org_id"
        );
        let escalation = lambda.and_then(|l| exposure.lambda_danger.get(&l).cloned());
        report(sink, plan, p, "principal", open, what, escalation);
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, lint_policy_document};

    fn open(statements: &str) -> usize {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
        lint_policy_document(&text, &Config::default())
            .unwrap()
            .iter()
            .filter(|f| f.rule.code() == "JIT002")
            .count()
    }

    #[test]
    fn unconditional_denies_close_what_they_cover() {
        let allow = r#"{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:1:abc/*"}"#;
        assert_eq!(open(allow), 1);
        for deny in [
            r#"{"Effect":"Deny","Principal":"*","Action":"execute-api:*","Resource":"*"}"#,
            r#"{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Resource":"arn:aws:execute-api:*"}"#,
            r#"{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:1:abc/*"}"#,
        ] {
            assert_eq!(open(&format!("{allow},{deny}")), 0, "{deny}");
        }
        for deny in [
            // Only part of the API, another principal, a condition, or a NotResource.
            r#"{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:1:abc/prod/*"}"#,
            r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::2:root"},"Action":"*","Resource":"*"}"#,
            r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
            r#"{"Effect":"Deny","Principal":"*","Action":"*","NotResource":"arn:aws:s3:::b"}"#,
        ] {
            assert_eq!(open(&format!("{allow},{deny}")), 1, "{deny}");
        }
    }
}
