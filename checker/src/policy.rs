//! The IAM policy model: statements with their effect, actions, resources, principals and
//! conditions, each value keeping its position in the source.
//!
//! A [`Policy`] is built from a parsed JSON document ([`Policy::from_node`]) or, for Terraform
//! `aws_iam_policy_document` data sources that are unknown at plan time, from the plan's
//! configuration. In the latter case some values are [`Term::Unknown`]: a rule that needs them
//! reports what it could not check instead of passing silently.
//!
//! ```
//! use jitlint::{json, policy::{Policy, Tri}};
//! let doc = json::parse(r#"{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}"#).unwrap();
//! let policy = Policy::from_node(&doc).unwrap();
//! let s = &policy.statements[0];
//! assert_eq!(s.grants_action("ec2:ReplaceNetworkAclEntry"), Tri::Yes);
//! assert_eq!(s.grants_action("iam:PutRolePolicy"), Tri::No);
//! assert_eq!(s.applies_to_resource("arn:aws:ec2:us-east-1:123456789012:network-acl/acl-1"), Tri::Yes);
//! ```

use std::fmt;

use crate::json::{Node, Span, Value};
use crate::pattern::{action_matches, wildcard_match};

/// A policy document that is not valid IAM grammar, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Three-valued answer for questions about policies with values unknown at plan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// A string value, or a value Terraform will only know at apply time (with the reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term<'n> {
    Known(&'n str),
    Unknown(String),
}

/// A value in a policy and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'n> {
    pub term: Term<'n>,
    pub span: Span,
}

impl<'n> Item<'n> {
    pub fn known(&self) -> Option<&'n str> {
        match self.term {
            Term::Known(s) => Some(s),
            Term::Unknown(_) => None,
        }
    }
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: the patterns and whether they are negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternList<'n> {
    /// `NotAction` / `NotResource`.
    pub negated: bool,
    /// The element's value (the string or the array).
    pub span: Span,
    pub items: Vec<Item<'n>>,
}

impl<'n> PatternList<'n> {
    /// Whether any listed pattern matches `name` (`Unknown` if none does but some value is unknown).
    fn any_matches(&self, name: &str, matches: fn(&str, &str) -> bool) -> Tri {
        let mut result = Tri::No;
        for item in &self.items {
            match item.term {
                Term::Known(p) if matches(p, name) => return Tri::Yes,
                Term::Known(_) => {}
                Term::Unknown(_) => result = Tri::Unknown,
            }
        }
        result
    }

    /// Applies the negation: whether the element grants/addresses `name`.
    fn includes(&self, name: &str, matches: fn(&str, &str) -> bool) -> Tri {
        let m = self.any_matches(name, matches);
        if self.negated { m.not() } else { m }
    }

    /// The first unknown value, if any.
    pub fn first_unknown(&self) -> Option<(&str, Span)> {
        self.items.iter().find_map(|i| match &i.term {
            Term::Unknown(why) => Some((why.as_str(), i.span)),
            Term::Known(_) => None,
        })
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Principal`/`NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals<'n> {
    pub negated: bool,
    pub span: Span,
    /// `(type, value)`: `("*", "*")` for `"Principal": "*"`, else e.g. `("AWS", "arn:…")`.
    pub entries: Vec<(&'n str, Item<'n>)>,
}

impl Principals<'_> {
    /// `"Principal": "*"` or `{"AWS": "*"}`: everyone, signed or anonymous.
    pub fn is_everyone(&self) -> bool {
        !self.negated
            && self
                .entries
                .iter()
                .any(|(kind, item)| (*kind == "*" || *kind == "AWS") && item.known() == Some("*"))
    }
}

/// One condition: operator, key and the values to compare with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition<'n> {
    /// E.g. `NotIpAddress`, `StringEqualsIfExists`, `ForAnyValue:StringLike`.
    pub operator: &'n str,
    pub operator_span: Span,
    /// E.g. `aws:SourceIp` (compare case-insensitively).
    pub key: &'n str,
    pub key_span: Span,
    /// Booleans and numbers are kept as their JSON text.
    pub values: Vec<Item<'n>>,
}

impl Condition<'_> {
    /// The key, compared case-insensitively as IAM does.
    pub fn key_is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    /// The operator without `ForAnyValue:`/`ForAllValues:` and `IfExists`.
    pub fn base_operator(&self) -> &str {
        let op = self.operator;
        let op = op
            .strip_prefix("ForAnyValue:")
            .or_else(|| op.strip_prefix("ForAllValues:"))
            .unwrap_or(op);
        op.strip_suffix("IfExists").unwrap_or(op)
    }

    pub fn if_exists(&self) -> bool {
        self.operator.ends_with("IfExists")
    }

    /// A negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …): matches
    /// everything except the listed values.
    pub fn is_negated(&self) -> bool {
        let op = self.base_operator();
        op.contains("Not") && op != "Null"
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'n> {
    /// 0-based position in the `Statement` array.
    pub index: usize,
    /// The whole statement.
    pub span: Span,
    /// A formatting-independent text of the statement (for fingerprints).
    pub canonical: String,
    pub sid: Option<&'n str>,
    pub effect: Effect,
    pub effect_span: Span,
    pub action: Option<PatternList<'n>>,
    pub resource: Option<PatternList<'n>>,
    pub principal: Option<Principals<'n>>,
    pub conditions: Vec<Condition<'n>>,
    /// The `Condition` element, if any.
    pub condition_span: Option<Span>,
}

impl<'n> Statement<'n> {
    /// Whether the statement's `Action`/`NotAction` covers `action` (case-insensitive).
    /// A statement without either element covers nothing.
    pub fn grants_action(&self, action: &str) -> Tri {
        self.action
            .as_ref()
            .map_or(Tri::No, |a| a.includes(action, action_matches))
    }

    /// Whether the statement's `Resource`/`NotResource` covers the concrete ARN `arn`.
    /// A statement without either element (a trust policy) covers nothing.
    pub fn applies_to_resource(&self, arn: &str) -> Tri {
        self.resource
            .as_ref()
            .map_or(Tri::No, |r| r.includes(arn, wildcard_match))
    }

    /// The statement's conditions on `key` (case-insensitive).
    pub fn conditions_on<'s>(
        &'s self,
        key: &'s str,
    ) -> impl Iterator<Item = &'s Condition<'n>> + 's {
        self.conditions.iter().filter(move |c| c.key_is(key))
    }
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy<'n> {
    pub version: Option<&'n str>,
    pub statements: Vec<Statement<'n>>,
}

impl<'n> Policy<'n> {
    /// Reads an IAM policy document. Element names are case-sensitive, as IAM has them;
    /// values of the wrong type are errors that name the element and the type found.
    pub fn from_node(root: &'n Node<'n>) -> Result<Policy<'n>, PolicyError> {
        if root.as_object().is_none() {
            return Err(type_error("the policy document", root, "an object"));
        }
        let version = match root.get("Version") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| type_error("Version", v, "a string such as \"2012-10-17\""))?,
            ),
        };
        let stmt_node = root.get("Statement").ok_or_else(|| PolicyError {
            message: "the policy document has no Statement element".into(),
            span: root.span,
        })?;
        let nodes: Vec<&'n Node<'n>> = match &stmt_node.value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(_) => vec![stmt_node],
            _ => {
                return Err(type_error(
                    "Statement",
                    stmt_node,
                    "an object or an array of objects",
                ));
            }
        };
        let statements = nodes
            .into_iter()
            .enumerate()
            .map(|(i, n)| statement(i, n))
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            version,
            statements,
        })
    }
}

fn type_error(what: &str, node: &Node<'_>, expected: &str) -> PolicyError {
    PolicyError {
        message: format!("{what} must be {expected}, found {}", describe(node)),
        span: node.span,
    }
}

fn describe(node: &Node<'_>) -> String {
    match &node.value {
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        Value::Null => "null".into(),
        Value::String(_) => "a long string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn statement<'n>(index: usize, node: &'n Node<'n>) -> Result<Statement<'n>, PolicyError> {
    let at = |what: &str| format!("Statement[{index}].{what}");
    if node.as_object().is_none() {
        return Err(type_error(
            &format!("Statement[{index}]"),
            node,
            "an object",
        ));
    }
    let sid = match node.get("Sid") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| type_error(&at("Sid"), v, "a string"))?,
        ),
    };
    let effect_node = node.get("Effect").ok_or_else(|| PolicyError {
        message: format!("Statement[{index}] has no Effect; add \"Effect\": \"Allow\" or \"Deny\""),
        span: node.span,
    })?;
    let effect = match effect_node.as_str() {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => {
            return Err(type_error(
                &at("Effect"),
                effect_node,
                "\"Allow\" or \"Deny\"",
            ));
        }
    };
    let action = pair(node, index, "Action", "NotAction")?;
    let resource = pair(node, index, "Resource", "NotResource")?;
    let principal = principals(node, index)?;
    let (conditions, condition_span) = match node.get("Condition") {
        None => (Vec::new(), None),
        Some(c) => (conditions(c, index)?, Some(c.span)),
    };
    Ok(Statement {
        index,
        span: node.span,
        canonical: node.to_compact(),
        sid,
        effect,
        effect_span: effect_node.span,
        action,
        resource,
        principal,
        conditions,
        condition_span,
    })
}

fn pair<'n>(
    node: &'n Node<'n>,
    index: usize,
    positive: &str,
    negative: &str,
) -> Result<Option<PatternList<'n>>, PolicyError> {
    let (value, negated) = match (node.get(positive), node.get(negative)) {
        (Some(_), Some(n)) => {
            return Err(PolicyError {
                message: format!(
                    "Statement[{index}] has both {positive} and {negative}; IAM allows only one of them"
                ),
                span: n.span,
            });
        }
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        (None, None) => return Ok(None),
    };
    let name = if negated { negative } else { positive };
    let items = strings(value, &format!("Statement[{index}].{name}"))?;
    Ok(Some(PatternList {
        negated,
        span: value.span,
        items,
    }))
}

/// A string or an array of strings.
fn strings<'n>(value: &'n Node<'n>, what: &str) -> Result<Vec<Item<'n>>, PolicyError> {
    let expected = "a string or an array of strings";
    match &value.value {
        Value::String(s) => Ok(vec![Item {
            term: Term::Known(s),
            span: value.span,
        }]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v.as_str() {
                Some(s) => Ok(Item {
                    term: Term::Known(s),
                    span: v.span,
                }),
                None => Err(type_error(&format!("{what}[{i}]"), v, "a string")),
            })
            .collect(),
        _ => Err(type_error(what, value, expected)),
    }
}

fn principals<'n>(node: &'n Node<'n>, index: usize) -> Result<Option<Principals<'n>>, PolicyError> {
    let (value, negated, name) = match (node.get("Principal"), node.get("NotPrincipal")) {
        (Some(_), Some(n)) => {
            return Err(PolicyError {
                message: format!(
                    "Statement[{index}] has both Principal and NotPrincipal; IAM allows only one of them"
                ),
                span: n.span,
            });
        }
        (Some(v), None) => (v, false, "Principal"),
        (None, Some(v)) => (v, true, "NotPrincipal"),
        (None, None) => return Ok(None),
    };
    let what = format!("Statement[{index}].{name}");
    let entries = match &value.value {
        Value::String(s) if s == "*" => vec![(
            "*",
            Item {
                term: Term::Known("*"),
                span: value.span,
            },
        )],
        Value::Object(members) => {
            let mut entries = Vec::new();
            for m in members {
                for item in strings(&m.value, &format!("{what}.{}", m.key))? {
                    entries.push((&*m.key, item));
                }
            }
            entries
        }
        _ => {
            return Err(type_error(
                &what,
                value,
                "\"*\" or an object such as {\"AWS\": \"arn:…\"}",
            ));
        }
    };
    Ok(Some(Principals {
        negated,
        span: value.span,
        entries,
    }))
}

fn conditions<'n>(node: &'n Node<'n>, index: usize) -> Result<Vec<Condition<'n>>, PolicyError> {
    let what = format!("Statement[{index}].Condition");
    let operators = node
        .as_object()
        .ok_or_else(|| type_error(&what, node, "an object of condition operators"))?;
    let mut out = Vec::new();
    for op in operators {
        let keys = op.value.as_object().ok_or_else(|| {
            type_error(
                &format!("{what}.{}", op.key),
                &op.value,
                "an object of condition keys",
            )
        })?;
        for key in keys {
            let path = format!("{what}.{}.{}", op.key, key.key);
            let scalar = |v: &'n Node<'n>| -> Result<Item<'n>, PolicyError> {
                let text: &'n str = match &v.value {
                    Value::String(s) => s,
                    Value::Number(n) => n,
                    Value::Bool(true) => "true",
                    Value::Bool(false) => "false",
                    _ => {
                        return Err(type_error(
                            &path,
                            v,
                            "a string, number or boolean, or an array of them",
                        ));
                    }
                };
                Ok(Item {
                    term: Term::Known(text),
                    span: v.span,
                })
            };
            let values = match &key.value.value {
                Value::Array(items) => items.iter().map(scalar).collect::<Result<_, _>>()?,
                _ => vec![scalar(&key.value)?],
            };
            out.push(Condition {
                operator: &op.key,
                operator_span: op.key_span,
                key: &key.key,
                key_span: key.key_span,
                values,
            });
        }
    }
    Ok(out)
}

/// What kind of document an IAM policy is. The kind decides which rules read it (a bucket
/// policy cannot grant NACL writes, only an API's resource policy can open an API: see
/// [`Rule::applies_to`]) and its size limit (JIT008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    /// A customer managed policy (6,144 characters). Bare policy files without `Principal`
    /// count as managed.
    Managed,
    /// An AWS managed policy (`arn:aws:iam::aws:policy/…`): grants like any identity policy, but
    /// is not bound by the customer quota on size.
    AwsManaged,
    /// An inline policy of a role (10,240 characters per role, summed).
    InlineRole,
    /// An inline policy of a user (2,048 characters per user, summed).
    InlineUser,
    /// An inline policy of a group (5,120 characters per group, summed).
    InlineGroup,
    /// The inline policy of an IAM Identity Center permission set: it becomes a role policy in
    /// every account the set is assigned to (10,240 characters).
    PermissionSet,
    /// A role's trust policy: who may assume the role, nothing else.
    Trust,
    /// A service control policy: limits what the accounts below it may do, grants nothing
    /// (5,120 characters).
    Scp,
    /// A resource-based policy whose service is unknown (a bare document with `Principal`): it
    /// may be an API's, so everything that applies to resource policies applies.
    Resource,
    /// An API Gateway REST API's resource policy: who may invoke the API.
    Api,
    /// An S3 bucket policy.
    Bucket,
    /// A VPC endpoint policy: limits what may pass the endpoint, grants nothing.
    Endpoint,
    /// Another service's resource policy (SQS queue, SNS topic, KMS key, ECR repository, Secrets
    /// Manager secret, Lambda layer): governs that resource only.
    OtherResource,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 13] = [
        PolicyKind::Managed,
        PolicyKind::AwsManaged,
        PolicyKind::InlineRole,
        PolicyKind::InlineUser,
        PolicyKind::InlineGroup,
        PolicyKind::PermissionSet,
        PolicyKind::Trust,
        PolicyKind::Scp,
        PolicyKind::Resource,
        PolicyKind::Api,
        PolicyKind::Bucket,
        PolicyKind::Endpoint,
        PolicyKind::OtherResource,
    ];

    /// Policies that grant permissions to the principal they are attached to.
    pub const IDENTITY: [PolicyKind; 6] = [
        PolicyKind::Managed,
        PolicyKind::AwsManaged,
        PolicyKind::InlineRole,
        PolicyKind::InlineUser,
        PolicyKind::InlineGroup,
        PolicyKind::PermissionSet,
    ];

    /// The kind of a bare document: a resource policy when a statement names a principal
    /// (IAM refuses `Principal` in identity policies), a managed policy otherwise.
    pub fn of_bare_document(policy: &Policy<'_>) -> PolicyKind {
        if policy.statements.iter().any(|s| s.principal.is_some()) {
            PolicyKind::Resource
        } else {
            PolicyKind::Managed
        }
    }

    /// [`PolicyKind::of_bare_document`] for a document's JSON, which may not be a policy the
    /// model can build (the structural rules read such documents too).
    pub fn of_bare_json(root: &Node<'_>) -> PolicyKind {
        let names_principal =
            |s: &Node<'_>| s.get("Principal").is_some() || s.get("NotPrincipal").is_some();
        let any = match root.get("Statement").map(|s| &s.value) {
            Some(Value::Array(items)) => items.iter().any(names_principal),
            Some(Value::Object(_)) => root.get("Statement").is_some_and(names_principal),
            _ => false,
        };
        if any {
            PolicyKind::Resource
        } else {
            PolicyKind::Managed
        }
    }

    pub fn is_identity(self) -> bool {
        PolicyKind::IDENTITY.contains(&self)
    }

    /// Whether the limit is on the sum of a principal's policies of this kind (inline policies),
    /// rather than on each document.
    pub fn sums_per_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::InlineRole | PolicyKind::InlineUser | PolicyKind::InlineGroup
        )
    }

    /// The limit on characters without whitespace, for the kinds JIT008 checks.
    pub fn size_limit(self) -> Option<usize> {
        match self {
            PolicyKind::Managed => Some(6_144),
            PolicyKind::InlineRole | PolicyKind::PermissionSet => Some(10_240),
            PolicyKind::InlineUser => Some(2_048),
            PolicyKind::InlineGroup | PolicyKind::Scp => Some(5_120),
            _ => None,
        }
    }

    /// "managed policy", "bucket policy", … for messages and docs.
    pub fn noun(self) -> &'static str {
        match self {
            PolicyKind::Managed => "customer managed policy",
            PolicyKind::AwsManaged => "AWS managed policy",
            PolicyKind::InlineRole => "inline role policy",
            PolicyKind::InlineUser => "inline user policy",
            PolicyKind::InlineGroup => "inline group policy",
            PolicyKind::PermissionSet => "permission set inline policy",
            PolicyKind::Trust => "trust policy",
            PolicyKind::Scp => "service control policy",
            PolicyKind::Resource => "resource policy",
            PolicyKind::Api => "API Gateway resource policy",
            PolicyKind::Bucket => "S3 bucket policy",
            PolicyKind::Endpoint => "VPC endpoint policy",
            PolicyKind::OtherResource => "queue, topic, key, repository, secret or layer policy",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn statement_forms() {
        let doc = parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Sid":"A","Effect":"Allow","Action":["EC2:Replace*"],"Resource":"arn:aws:ec2:*:*:network-acl/*"},
              {"Effect":"Deny","NotAction":"s3:*","NotResource":["arn:aws:ec2:*:*:network-acl/acl-1"],
               "Principal":{"AWS":["*"]},"Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24", 5, true]}}}
            ]}"#,
        )
        .unwrap();
        let p = Policy::from_node(&doc).unwrap();
        let [a, d] = &p.statements[..] else { panic!() };
        assert_eq!(a.sid, Some("A"));
        assert_eq!(a.grants_action("ec2:ReplaceNetworkAclEntry"), Tri::Yes);
        assert_eq!(
            a.applies_to_resource("arn:aws:ec2:eu-west-1:1:network-acl/acl-9"),
            Tri::Yes
        );
        assert_eq!(d.effect, Effect::Deny);
        assert_eq!(d.grants_action("s3:GetObject"), Tri::No);
        assert_eq!(d.grants_action("ec2:DescribeVpcs"), Tri::Yes);
        assert_eq!(
            d.applies_to_resource("arn:aws:ec2:x:1:network-acl/acl-1"),
            Tri::No
        );
        assert!(d.principal.as_ref().unwrap().is_everyone());
        let c = &d.conditions[0];
        assert_eq!(
            (c.base_operator(), c.key, c.values.len()),
            ("NotIpAddress", "aws:SourceIp", 3)
        );
        assert!(c.is_negated());
        assert_eq!(c.values[2].known(), Some("true"));
    }

    #[test]
    fn statement_object_and_operator_prefixes() {
        let doc = parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{"ForAnyValue:StringNotEqualsIfExists":{"k":"v"}}}}"#).unwrap();
        let p = Policy::from_node(&doc).unwrap();
        let c = &p.statements[0].conditions[0];
        assert_eq!(c.base_operator(), "StringNotEquals");
        assert!(c.if_exists() && c.is_negated());
        // No Resource element: a trust-policy-like statement covers no resource.
        assert_eq!(
            p.statements[0].applies_to_resource("arn:aws:s3:::b"),
            Tri::No
        );
    }

    #[test]
    fn grammar_errors_name_the_element() {
        for (text, msg) in [
            (
                r#"[]"#,
                "the policy document must be an object, found an array",
            ),
            (r#"{}"#, "the policy document has no Statement element"),
            (
                r#"{"Statement":"x"}"#,
                "Statement must be an object or an array of objects, found the string \"x\"",
            ),
            (
                r#"{"Statement":[{"Effect":"allow"}]}"#,
                "Statement[0].Effect must be \"Allow\" or \"Deny\", found the string \"allow\"",
            ),
            (
                r#"{"Statement":[{"Action":"*"}]}"#,
                "Statement[0] has no Effect; add \"Effect\": \"Allow\" or \"Deny\"",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*"}]}"#,
                "Statement[0] has both Action and NotAction; IAM allows only one of them",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":["*",1]}]}"#,
                "Statement[0].Action[1] must be a string, found the number 1",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Resource":{}}]}"#,
                "Statement[0].Resource must be a string or an array of strings, found an object",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Condition":{"Bool":{"k":{"a":1}}}}]}"#,
                "Statement[0].Condition.Bool.k must be a string, number or boolean, or an array of them, found an object",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::1:root"}]}"#,
                "Statement[0].Principal must be \"*\" or an object such as {\"AWS\": \"arn:…\"}, found the string \"arn:aws:iam::1:root\"",
            ),
            (
                r#"{"Version":2012,"Statement":[]}"#,
                "Version must be a string such as \"2012-10-17\", found the number 2012",
            ),
        ] {
            let doc = parse(text).unwrap();
            assert_eq!(Policy::from_node(&doc).unwrap_err().message, msg, "{text}");
        }
    }
}
