//! Input detection by content, and the AWS CLI outputs that wrap policy documents.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::check::{PolicyTarget, check_embedded_policy, check_policy, check_structure};
use crate::json::Node;
use crate::policy::{Policy, PolicyKind};
use crate::report::{Scope, Sink};
use crate::rules::jit008_policy_size_limit::{InlinePolicy, check_total};
use crate::text::count_non_whitespace;

/// What jitlint recognised an input as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A bare IAM policy document.
    Policy,
    /// `aws iam get-policy-version` output.
    PolicyVersion,
    /// `aws iam get-role-policy` / `get-user-policy` / `get-group-policy` output.
    InlinePolicy,
    /// `aws iam get-account-authorization-details` output.
    AuthorizationDetails,
    /// `terraform show -json plan.out`.
    Plan,
    /// `terraform show -json` of a state.
    State,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Policy => "policy",
            InputKind::PolicyVersion => "get-policy-version",
            InputKind::InlinePolicy => "inline-policy",
            InputKind::AuthorizationDetails => "get-account-authorization-details",
            InputKind::Plan => "terraform-plan",
            InputKind::State => "terraform-state",
        }
    }
}

/// What a parsed JSON document is, if jitlint knows it.
pub fn detect(root: &Node<'_>) -> Option<InputKind> {
    root.as_object()?;
    if root.get("Statement").is_some() {
        return Some(InputKind::Policy);
    }
    if root
        .get("PolicyVersion")
        .and_then(|v| v.get("Document"))
        .is_some()
    {
        return Some(InputKind::PolicyVersion);
    }
    let detail_lists = ["UserDetailList", "GroupDetailList", "RoleDetailList"];
    if detail_lists
        .iter()
        .any(|k| root.get(k).is_some_and(|v| v.as_array().is_some()))
        || root
            .get("Policies")
            .and_then(Node::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p.get("PolicyVersionList").is_some()))
    {
        return Some(InputKind::AuthorizationDetails);
    }
    if root.get("PolicyDocument").is_some() && root.get("PolicyName").is_some() {
        return Some(InputKind::InlinePolicy);
    }
    let plan_keys = [
        "planned_values",
        "resource_changes",
        "prior_state",
        "configuration",
    ];
    let has_plan_key = plan_keys.iter().any(|k| root.get(k).is_some());
    if root.get("format_version").and_then(Node::as_str).is_some() {
        // `terraform show -json` of an empty state is just `{"format_version":"1.0"}`.
        return Some(if has_plan_key {
            InputKind::Plan
        } else {
            InputKind::State
        });
    }
    // HCP Terraform's redacted JSON plan (`plan_format_version`, no `format_version`), and plans
    // whose `format_version` a tool dropped: their resources are read like any plan's.
    if root
        .get("plan_format_version")
        .and_then(Node::as_str)
        .is_some()
        || root
            .get("planned_values")
            .is_some_and(|v| v.get("root_module").is_some())
        || root
            .get("resource_changes")
            .and_then(Node::as_array)
            .is_some_and(|rc| rc.iter().any(|c| c.get("change").is_some()))
    {
        return Some(InputKind::Plan);
    }
    None
}

/// Lints a detected input.
pub(crate) fn lint_input(sink: &mut Sink<'_>, text: &str, root: &Node<'_>, kind: InputKind) {
    match kind {
        InputKind::Policy => {
            document(sink, text, Scope::default(), root, None, "the policy", true);
        }
        InputKind::PolicyVersion => {
            if let Some(doc) = root.get("PolicyVersion").and_then(|v| v.get("Document")) {
                document(
                    sink,
                    text,
                    Scope::default(),
                    doc,
                    Some(PolicyKind::Managed),
                    "PolicyVersion.Document",
                    true,
                );
            }
        }
        InputKind::InlinePolicy => inline_policy(sink, text, root),
        InputKind::AuthorizationDetails => authorization_details(sink, text, root),
        InputKind::Plan | InputKind::State => crate::terraform::lint_plan(sink, root),
    }
}

/// Decodes a document given as a string: IAM's API returns documents URL-encoded (RFC 3986
/// percent-encoding, never form encoding: `+` stays `+`), the AWS CLI usually decodes them.
fn decode_document(s: &str) -> Result<Cow<'_, str>, String> {
    if s.trim_start().starts_with('{') {
        return Ok(Cow::Borrowed(s));
    }
    percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| "is URL-encoded but does not decode to UTF-8 text".to_string())
}

/// Checks one policy document that is either a JSON object in the file or a (possibly
/// URL-encoded) string; returns its size in characters without whitespace. `kind` `None` is a
/// bare document, whose kind its content decides.
fn document(
    sink: &mut Sink<'_>,
    text: &str,
    mut scope: Scope,
    node: &Node<'_>,
    kind: Option<PolicyKind>,
    what: &str,
    check_size: bool,
) -> Option<usize> {
    if let Some(s) = node.as_str() {
        scope.anchor = Some(node.span);
        let decoded = match decode_document(s) {
            Ok(d) => d,
            Err(e) => {
                sink.error(Some(node.span.start), format!("{what} {e}"));
                return None;
            }
        };
        let size = count_non_whitespace(&decoded);
        let target = PolicyTarget {
            kind: kind.unwrap_or(PolicyKind::Managed),
            size: check_size.then_some(size),
            span: node.span,
            escalation: None,
        };
        return check_embedded_policy(sink, &scope, &decoded, what, &target).then_some(size);
    }
    let kind = kind.unwrap_or_else(|| PolicyKind::of_bare_json(node));
    let refused = check_structure(sink, &scope, node, kind);
    match Policy::from_node(node) {
        Ok(policy) => {
            let size =
                count_non_whitespace(&text[node.span.start as usize..node.span.end as usize]);
            let target = PolicyTarget {
                kind,
                size: check_size.then_some(size),
                span: node.span,
                escalation: None,
            };
            check_policy(sink, &scope, &policy, &target);
            Some(size)
        }
        // JIT101 reported why IAM refuses the document.
        Err(_) if refused => None,
        Err(e) => {
            let message = if what == "the policy" {
                format!("not a valid IAM policy: {}", e.message)
            } else {
                format!("{what} is not a valid IAM policy: {}", e.message)
            };
            sink.error(Some(e.span.start), message);
            None
        }
    }
}

/// `arn:aws:iam::aws:policy/…` (in any partition): a policy AWS owns and maintains.
fn is_aws_managed_arn(arn: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(_, rest)| rest.starts_with("iam::aws:policy/"))
}

fn str_field<'a>(node: &'a Node<'_>, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Node::as_str)
}

/// `aws iam get-role-policy` / `get-user-policy` / `get-group-policy`.
fn inline_policy(sink: &mut Sink<'_>, text: &str, root: &Node<'_>) {
    let (kind, entity) = [
        ("RoleName", PolicyKind::InlineRole, "role"),
        ("UserName", PolicyKind::InlineUser, "user"),
        ("GroupName", PolicyKind::InlineGroup, "group"),
    ]
    .into_iter()
    .find_map(|(k, kind, noun)| str_field(root, k).map(|n| (kind, format!("{noun}/{n}"))))
    .unwrap_or((PolicyKind::Managed, "policy".into()));
    let name = str_field(root, "PolicyName").unwrap_or("?");
    let scope = Scope {
        resource: Some(format!("{entity} (inline policy {name})")),
        ..Scope::default()
    };
    if let Some(doc) = root.get("PolicyDocument") {
        document(sink, text, scope, doc, Some(kind), "PolicyDocument", true);
    }
}

/// `aws iam get-account-authorization-details`: every user, group and role policy and every
/// managed policy's default version, each finding naming where it came from.
fn authorization_details(sink: &mut Sink<'_>, text: &str, root: &Node<'_>) {
    let entities = [
        (
            "UserDetailList",
            "UserName",
            "UserPolicyList",
            PolicyKind::InlineUser,
            "user",
        ),
        (
            "GroupDetailList",
            "GroupName",
            "GroupPolicyList",
            PolicyKind::InlineGroup,
            "group",
        ),
        (
            "RoleDetailList",
            "RoleName",
            "RolePolicyList",
            PolicyKind::InlineRole,
            "role",
        ),
    ];
    for (list, name_key, policies_key, kind, noun) in entities {
        for entity in root.get(list).and_then(Node::as_array).unwrap_or(&[]) {
            let name = str_field(entity, name_key).unwrap_or("?");
            let id =
                str_field(entity, "Arn").map_or_else(|| format!("{noun}/{name}"), str::to_string);
            let mut members = Vec::new();
            for (i, p) in entity
                .get(policies_key)
                .and_then(Node::as_array)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                let Some(doc) = p.get("PolicyDocument") else {
                    continue;
                };
                let pname = str_field(p, "PolicyName").unwrap_or("?");
                let scope = Scope {
                    resource: Some(format!("{id} (inline policy {pname})")),
                    ..Scope::default()
                };
                let what = format!("{list}[{name}].{policies_key}[{i}].PolicyDocument");
                if let Some(size) =
                    document(sink, text, scope.clone(), doc, Some(kind), &what, false)
                {
                    members.push(InlinePolicy {
                        scope,
                        span: doc.span,
                        name: pname.to_string(),
                        size,
                    });
                }
            }
            check_total(sink, kind, name, &members);
            if let Some(doc) = entity.get("AssumeRolePolicyDocument") {
                let scope = Scope {
                    resource: Some(format!("{id} (trust policy)")),
                    ..Scope::default()
                };
                let what = format!("{list}[{name}].AssumeRolePolicyDocument");
                document(
                    sink,
                    text,
                    scope,
                    doc,
                    Some(PolicyKind::Trust),
                    &what,
                    false,
                );
            }
        }
    }
    for policy in root.get("Policies").and_then(Node::as_array).unwrap_or(&[]) {
        let name = str_field(policy, "PolicyName").unwrap_or("?");
        let arn = str_field(policy, "Arn");
        let id = arn.map_or_else(|| format!("policy/{name}"), str::to_string);
        let kind = if arn.is_some_and(is_aws_managed_arn) {
            PolicyKind::AwsManaged
        } else {
            PolicyKind::Managed
        };
        let versions = policy
            .get("PolicyVersionList")
            .and_then(Node::as_array)
            .unwrap_or(&[]);
        // Only the default version is in effect; without the flag, check them all.
        let any_default = versions
            .iter()
            .any(|v| v.get("IsDefaultVersion").and_then(Node::as_bool) == Some(true));
        for v in versions {
            if any_default && v.get("IsDefaultVersion").and_then(Node::as_bool) != Some(true) {
                continue;
            }
            let Some(doc) = v.get("Document") else {
                continue;
            };
            let version = str_field(v, "VersionId").unwrap_or("?");
            let scope = Scope {
                resource: Some(format!("{id} ({version})")),
                ..Scope::default()
            };
            let what = format!("Policies[{name}].PolicyVersionList[{version}].Document");
            document(sink, text, scope, doc, Some(kind), &what, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_documents_without_form_decoding() {
        assert_eq!(
            decode_document("%7B%22a%22%3A%22x+y%22%7D").unwrap(),
            "{\"a\":\"x+y\"}"
        );
        assert_eq!(decode_document(" {\"a\":1}").unwrap(), " {\"a\":1}");
        assert!(decode_document("%FF%FE").is_err());
    }

    #[test]
    fn aws_managed_arns() {
        assert!(is_aws_managed_arn(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(is_aws_managed_arn(
            "arn:aws-us-gov:iam::aws:policy/job-function/ViewOnlyAccess"
        ));
        assert!(!is_aws_managed_arn("arn:aws:iam::123456789012:policy/aws"));
        assert!(!is_aws_managed_arn("aws:policy/x"));
    }

    #[test]
    fn detects_by_content() {
        let kind = |t: &str| detect(&crate::json::parse(t).unwrap());
        assert_eq!(
            kind(r#"{"Version":"2012-10-17","Statement":[]}"#),
            Some(InputKind::Policy)
        );
        assert_eq!(
            kind(r#"{"PolicyVersion":{"Document":"%7B%7D"}}"#),
            Some(InputKind::PolicyVersion)
        );
        assert_eq!(
            kind(r#"{"RoleDetailList":[]}"#),
            Some(InputKind::AuthorizationDetails)
        );
        assert_eq!(
            kind(r#"{"RoleName":"r","PolicyName":"p","PolicyDocument":{}}"#),
            Some(InputKind::InlinePolicy)
        );
        assert_eq!(
            kind(r#"{"format_version":"1.2","planned_values":{}}"#),
            Some(InputKind::Plan)
        );
        assert_eq!(
            kind(r#"{"format_version":"1.0","terraform_version":"1.11.4"}"#),
            Some(InputKind::State)
        );
        assert_eq!(kind(r#"{"format_version":"1.0"}"#), Some(InputKind::State));
        assert_eq!(
            kind(r#"{"plan_format_version":"1.1","resource_changes":[]}"#),
            Some(InputKind::Plan)
        );
        assert_eq!(
            kind(r#"{"planned_values":{"root_module":{}}}"#),
            Some(InputKind::Plan)
        );
        assert_eq!(kind(r#"{"resource_changes":[{"name":"x"}]}"#), None);
        assert_eq!(kind(r#"{"Policies":[{"PolicyName":"x"}]}"#), None);
        assert_eq!(kind(r#"{"name":"package.json"}"#), None);
        assert_eq!(kind(r#"[1]"#), None);
    }
}
