//! Linting Terraform plans and states: the policy documents in resource attributes, and the
//! resource-level rules (JIT002, JIT003, JIT004, JIT006, JIT008 totals, JIT010).

use std::collections::HashMap;

use crate::check::{PolicyTarget, check_embedded_policy, check_policy, report_unknown_policy};
use crate::document::document_from_config;
use crate::json::Node;
use crate::plan::{Link, Plan, Resolved, Seg, path_string};
use crate::policy::PolicyKind;
use crate::report::Sink;
use crate::rules::scope::attr_scope;
use crate::rules::{
    Rule, jit002_open_api_gateway as jit002, jit003_client_vpn_handler_prefix as jit003,
    jit004_client_vpn_handler_timeout as jit004, jit006_source_ip_too_broad as jit006,
    jit008_policy_size_limit as jit008, jit010_jit_grant_too_long as jit010,
    jit013_jit_grant_erased as jit013,
};
use crate::text::count_non_whitespace;

/// (resource type, attribute holding an IAM policy document, kind, and for inline policies the
/// attribute and type of the principal whose policies are summed for the size limit).
type PolicyAttribute = (
    &'static str,
    &'static str,
    PolicyKind,
    Option<(&'static str, &'static str)>,
);

const POLICY_ATTRIBUTES: &[PolicyAttribute] = &[
    ("aws_iam_policy", "policy", PolicyKind::Managed, None),
    (
        "aws_iam_role_policy",
        "policy",
        PolicyKind::InlineRole,
        Some(("role", "aws_iam_role")),
    ),
    (
        "aws_iam_user_policy",
        "policy",
        PolicyKind::InlineUser,
        Some(("user", "aws_iam_user")),
    ),
    (
        "aws_iam_group_policy",
        "policy",
        PolicyKind::InlineGroup,
        Some(("group", "aws_iam_group")),
    ),
    (
        "aws_iam_role",
        "assume_role_policy",
        PolicyKind::Trust,
        None,
    ),
    (
        "aws_ssoadmin_permission_set_inline_policy",
        "inline_policy",
        PolicyKind::PermissionSet,
        None,
    ),
    ("aws_organizations_policy", "content", PolicyKind::Scp, None),
    (
        "aws_api_gateway_rest_api_policy",
        "policy",
        PolicyKind::Api,
        None,
    ),
    ("aws_api_gateway_rest_api", "policy", PolicyKind::Api, None),
    ("aws_s3_bucket_policy", "policy", PolicyKind::Bucket, None),
    ("aws_s3_bucket", "policy", PolicyKind::Bucket, None),
    ("aws_vpc_endpoint", "policy", PolicyKind::Endpoint, None),
    (
        "aws_vpc_endpoint_policy",
        "policy",
        PolicyKind::Endpoint,
        None,
    ),
    (
        "aws_sqs_queue_policy",
        "policy",
        PolicyKind::OtherResource,
        None,
    ),
    (
        "aws_sns_topic_policy",
        "policy",
        PolicyKind::OtherResource,
        None,
    ),
    ("aws_kms_key", "policy", PolicyKind::OtherResource, None),
    (
        "aws_ecr_repository_policy",
        "policy",
        PolicyKind::OtherResource,
        None,
    ),
    (
        "aws_secretsmanager_secret_policy",
        "policy",
        PolicyKind::OtherResource,
        None,
    ),
    (
        "aws_lambda_layer_version_permission",
        "policy",
        PolicyKind::OtherResource,
        None,
    ),
    (
        "jit_source_ip_policy",
        "document",
        PolicyKind::Managed,
        None,
    ),
];

pub(crate) fn lint_plan(sink: &mut Sink<'_>, root: &Node<'_>) {
    let plan = Plan::new(root);
    let exposure = sink
        .enabled(Rule::OpenApiGateway)
        .then(|| jit002::Exposure::new(&plan));
    let mut totals: Vec<((PolicyKind, Link), Vec<jit008::InlinePolicy>)> = Vec::new();
    let mut total_index: HashMap<(PolicyKind, Link), usize> = HashMap::new();
    for &(rtype, attr, kind, principal) in POLICY_ATTRIBUTES {
        for i in plan.of_type(rtype) {
            // Tag, backup and AI opt-out policies are not IAM grammar; only SCPs are read.
            if rtype == "aws_organizations_policy"
                && plan
                    .known_str(i, &[Seg::Key("type")])
                    .is_some_and(|t| t != "SERVICE_CONTROL_POLICY")
            {
                continue;
            }
            let escalation = exposure.as_ref().and_then(|e| match rtype {
                "aws_api_gateway_rest_api" => e.api_escalation(&Link::Instance(i)),
                "aws_api_gateway_rest_api_policy" => plan
                    .link(i, &[Seg::Key("rest_api_id")], &["aws_api_gateway_rest_api"])
                    .and_then(|api| e.api_escalation(&api)),
                _ => None,
            });
            let mut docs: Vec<(Vec<Seg<'_>>, PolicyKind, Option<Link>)> = Vec::new();
            let owner =
                principal.and_then(|(pattr, ptype)| plan.link(i, &[Seg::Key(pattr)], &[ptype]));
            docs.push((vec![Seg::Key(attr)], kind, owner));
            if rtype == "aws_iam_role" {
                // Inline policies written as blocks of the role itself.
                let blocks = plan.instances[i]
                    .values
                    .and_then(|v| v.get("inline_policy"))
                    .and_then(Node::as_array)
                    .map_or(0, <[Node<'_>]>::len);
                for n in 0..blocks {
                    docs.push((
                        vec![Seg::Key("inline_policy"), Seg::Index(n), Seg::Key("policy")],
                        PolicyKind::InlineRole,
                        Some(Link::Instance(i)),
                    ));
                }
            }
            for (path, kind, owner) in docs {
                let size = plan_policy(sink, &plan, i, &path, kind, escalation.clone());
                if let (Some(size), Some(owner)) = (size, owner) {
                    let scope = attr_scope(&plan, i, &path);
                    let member = jit008::InlinePolicy {
                        span: scope.anchor.unwrap_or_default(),
                        scope,
                        name: plan.instances[i].address.clone(),
                        size,
                    };
                    let key = (kind, owner);
                    match total_index.get(&key) {
                        Some(&n) => totals[n].1.push(member),
                        None => {
                            total_index.insert(key.clone(), totals.len());
                            totals.push((key, vec![member]));
                        }
                    }
                }
            }
        }
    }
    for ((kind, owner), members) in &totals {
        let name = match owner {
            Link::Instance(i) => plan.instances[*i].address.clone(),
            Link::Value(v) => v.clone(),
        };
        jit008::check_total(sink, *kind, &name, members);
    }
    if let Some(exposure) = &exposure {
        jit002::check_plan(sink, &plan, exposure);
    }
    let handlers = if sink.enabled(Rule::ClientVpnHandlerPrefix)
        || sink.enabled(Rule::ClientVpnHandlerTimeout)
    {
        jit003::handlers(&plan)
    } else {
        Vec::new()
    };
    jit003::check_plan(sink, &plan, &handlers);
    jit004::check_plan(sink, &plan, &handlers);
    jit006::check_plan(sink, &plan);
    jit010::check_plan(sink, &plan);
    jit013::check_plan(sink, &plan);
}

/// Checks the policy document in one attribute; returns its size when it is known.
fn plan_policy(
    sink: &mut Sink<'_>,
    plan: &Plan<'_>,
    i: usize,
    path: &[Seg<'_>],
    kind: PolicyKind,
    escalation: Option<String>,
) -> Option<usize> {
    let scope = attr_scope(plan, i, path);
    let anchor = scope.anchor.unwrap_or_default();
    let what = format!("{} of {}", path_string(path), plan.instances[i].address);
    match plan.attr(i, path)? {
        Resolved::Known(node) => {
            let Some(text) = node.as_str() else {
                sink.error(
                    Some(anchor.start),
                    format!("{what} must be a JSON string, found {}", node.kind()),
                );
                return None;
            };
            if text.trim().is_empty() {
                return None;
            }
            let size = count_non_whitespace(text);
            let target = PolicyTarget {
                kind,
                size: (!kind.sums_per_principal()).then_some(size),
                span: anchor,
                escalation,
            };
            check_embedded_policy(sink, &scope, text, &what, &target).then_some(size)
        }
        Resolved::Unknown(why) => {
            // Computed by the provider (e.g. an API's policy nobody set): nothing to check.
            if !plan.is_configured(i, path) {
                return None;
            }
            let document = plan
                .plain_target(i, path, &["data.aws_iam_policy_document"])
                .and_then(|d| document_from_config(plan, d, anchor));
            match document {
                Some(policy) => {
                    let target = PolicyTarget {
                        kind,
                        size: None,
                        span: anchor,
                        escalation,
                    };
                    check_policy(sink, &scope, &policy, &target);
                }
                None => report_unknown_policy(sink, &scope, anchor, &what, &why, kind),
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, LintOptions, Origin, lint_text};

    /// A role whose trust policy is a data source deferred to apply, with the given
    /// `principals` value and `after_unknown` entry for its one statement.
    fn trust_plan(principals: &str, unknown: &str) -> String {
        format!(
            r#"{{"format_version":"1.2","resource_changes":[
  {{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r",
    "change":{{"actions":["create"],"after":{{"name":"r"}},"after_unknown":{{"assume_role_policy":true}}}}}},
  {{"address":"data.aws_iam_policy_document.t","mode":"data","type":"aws_iam_policy_document","name":"t",
    "change":{{"actions":["read"],"after":{{"statement":[{{"actions":["sts:AssumeRole"],"effect":"Allow","principals":{principals}}}]}},
      "after_unknown":{{"json":true,"statement":[{{"principals":{unknown}}}]}}}}}}],
 "configuration":{{"root_module":{{"resources":[
  {{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r","expressions":{{
    "assume_role_policy":{{"references":["data.aws_iam_policy_document.t.json","data.aws_iam_policy_document.t"]}}}}}},
  {{"address":"data.aws_iam_policy_document.t","mode":"data","type":"aws_iam_policy_document","name":"t","expressions":{{}}}}]}}}}}}"#
        )
    }

    fn codes(text: &str) -> Vec<&'static str> {
        let r = lint_text(
            "p.json",
            text,
            Origin::Explicit,
            &Config::default(),
            LintOptions::default(),
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        r.findings.iter().map(|f| f.rule.code()).collect()
    }

    /// A plan creating one resource of `rtype` with the given attribute values (JSON).
    fn one_resource(rtype: &str, after: &str) -> String {
        format!(
            r#"{{"format_version":"1.2","resource_changes":[{{"address":"{rtype}.x","mode":"managed","type":"{rtype}","name":"x",
              "change":{{"actions":["create"],"after":{after},"after_unknown":{{}}}}}}]}}"#
        )
    }

    fn findings(text: &str) -> Vec<(&'static str, String)> {
        let r = lint_text(
            "p.json",
            text,
            Origin::Explicit,
            &Config::default(),
            LintOptions::default(),
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        r.findings
            .into_iter()
            .map(|f| (f.rule.code(), f.message))
            .collect()
    }

    /// `{"policy": "<document>"}` with the document JSON-escaped.
    fn attr(name: &str, document: &str) -> String {
        let mut out = String::new();
        crate::json::write_json_string(&mut out, document);
        format!("{{\"{name}\":{out}}}")
    }

    /// A document of about `chars` characters without whitespace.
    fn big_document(chars: usize) -> String {
        let resources: Vec<String> = (0..chars / 40)
            .map(|i| format!("\"arn:aws:s3:::bucket-number-{i:08}/*\""))
            .collect();
        format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}]}}"#,
            resources.join(",")
        )
    }

    #[test]
    fn kinds_of_plan_policies() {
        let everything =
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        let allow_all = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        // Policies that grant nothing outside their resource, or nothing at all.
        for (rtype, a) in [
            ("aws_vpc_endpoint_policy", attr("policy", everything)),
            ("aws_s3_bucket", attr("policy", everything)),
            ("aws_sqs_queue_policy", attr("policy", everything)),
            ("aws_organizations_policy", attr("content", allow_all)),
        ] {
            assert_eq!(findings(&one_resource(rtype, &a)), [], "{rtype}");
        }
        // A permission set's inline policy grants like a role policy.
        let codes: Vec<&str> = findings(&one_resource(
            "aws_ssoadmin_permission_set_inline_policy",
            &attr("inline_policy", allow_all),
        ))
        .into_iter()
        .map(|(c, _)| c)
        .collect();
        assert_eq!(codes, ["JIT001", "JIT009"]);
        // A bucket policy statement without a principal is refused.
        let no_principal = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let f = findings(&one_resource(
            "aws_s3_bucket_policy",
            &attr("policy", no_principal),
        ));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].1.contains("S3 bucket policy has no Principal"),
            "{}",
            f[0].1
        );
    }

    #[test]
    fn scp_and_permission_set_size_limits() {
        let f = findings(&one_resource(
            "aws_organizations_policy",
            &attr("content", &big_document(5_300)),
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].1.starts_with("service control policy has 5,")
                && f[0].1.contains("the limit is 5,120"),
            "{}",
            f[0].1
        );
        assert_eq!(
            findings(&one_resource(
                "aws_organizations_policy",
                &attr("content", &big_document(5_000)),
            )),
            []
        );
        let f = findings(&one_resource(
            "aws_ssoadmin_permission_set_inline_policy",
            &attr("inline_policy", &big_document(10_400)),
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].1.contains("the limit is 10,240"), "{}", f[0].1);
        // Tag, backup and AI opt-out policies are not IAM grammar and are not read.
        let content = attr(
            "content",
            r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"}}}}"#,
        );
        let tag_policy = format!(
            "{},\"type\":\"TAG_POLICY\"}}",
            content.strip_suffix('}').unwrap()
        );
        assert_eq!(
            findings(&one_resource("aws_organizations_policy", &tag_policy)),
            []
        );
    }

    #[test]
    fn trust_policy_principals_unknown_or_missing() {
        // `dynamic "principals"` over values known only after apply: nothing is missing.
        assert_eq!(codes(&trust_plan("[]", "true")), Vec::<&str>::new());
        // No principals at all: IAM refuses the trust policy.
        assert_eq!(codes(&trust_plan("[]", "[]")), ["JIT011"]);
        let known = r#"[{"type":"Service","identifiers":["lambda.amazonaws.com"]}]"#;
        assert_eq!(codes(&trust_plan(known, "[{}]")), Vec::<&str>::new());
    }
}
