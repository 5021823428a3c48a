//! Shared analysis for "this Allow grants a write on every resource of a kind" (JIT001, JIT009)
//! and "this policy can rewrite IAM or network ACLs" (JIT002's escalation).

use crate::json::Span;
use crate::pattern::{Token, covers, has_wildcard, intersects, segment_universe, tokenize};
use crate::policy::{Condition, Effect, Policy, Statement, Term, Tri};
use crate::report::Level;

/// A family of write actions on one kind of resource.
pub(crate) struct WriteTarget {
    pub actions: &'static [&'static str],
    /// Every ARN of the resource kind, in any partition (for "does a pattern reach them").
    pub universe: &'static str,
    /// The same in the commercial partition (for "does a NotResource exclude them all").
    pub cover_universe: &'static str,
    /// Condition keys that pin the statement to particular resources; a trailing `/` means
    /// "any key with this prefix".
    pub scoping_keys: &'static [&'static str],
    /// Accounts whose resources of the kind no customer can write (`aws` for AWS managed
    /// policies): a pattern that names one of them literally reaches nothing writable.
    pub unwritable_accounts: &'static [&'static str],
    /// "network ACL" and "network ACLs", for messages.
    pub noun: &'static str,
    pub nouns: &'static str,
}

/// Where a statement reaches every resource of the kind.
#[derive(Debug)]
pub(crate) enum Reach {
    /// A `Resource` pattern such as `"*"`.
    Pattern { text: String, span: Span },
    /// A `NotResource` that does not exclude them.
    NotResource { span: Span },
    /// A value unknown at plan time.
    Unknown { reason: String, span: Span },
}

impl Reach {
    pub fn span(&self) -> Span {
        match self {
            Reach::Pattern { span, .. }
            | Reach::NotResource { span }
            | Reach::Unknown { span, .. } => *span,
        }
    }
}

/// A statement that grants one of the target's actions on every resource of the kind.
#[derive(Debug)]
pub(crate) struct UnscopedGrant {
    /// The actions granted (empty when only an unknown action value might grant them).
    pub actions: Vec<&'static str>,
    pub reach: Reach,
    pub level: Level,
    /// The non-scoping condition keys that lowered the severity.
    pub other_conditions: Vec<String>,
    /// Why the finding is only "could not check", if it is.
    pub unknown: Option<String>,
}

fn is_scoping(c: &Condition<'_>, keys: &[&str]) -> bool {
    !c.is_negated()
        && !c.if_exists()
        && c.base_operator() != "Null"
        && keys.iter().any(|k| {
            if k.ends_with('/') {
                c.key.len() > k.len() && c.key[..k.len()].eq_ignore_ascii_case(k)
            } else {
                c.key_is(k)
            }
        })
}

/// The account of an ARN pattern when it is written literally, with no wildcard or variable up
/// to it: `arn:aws:iam::aws:policy/fp4-*` → `aws`.
fn literal_account(pattern: &str) -> Option<&str> {
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let [_, _, _, _, account, _] = parts.as_slice() else {
        return None;
    };
    let prefix_len = parts[..5].iter().map(|p| p.len() + 1).sum::<usize>();
    (!pattern[..prefix_len].contains(['*', '?', '$'])).then_some(account)
}

/// Whether a resource pattern reaches more than one resource of the kind: it meets the universe
/// and has a wildcard in the resource-id part (after the last `/`), or has no `/` at all (so its
/// wildcard spans the resource type and id). Patterns in an unwritable account reach nothing.
fn is_broad(pattern: &str, universe: &[Token], target: &WriteTarget) -> bool {
    if literal_account(pattern).is_some_and(|a| target.unwritable_accounts.contains(&a)) {
        return false;
    }
    let tokens = tokenize(pattern);
    if !intersects(&tokens, universe) {
        return false;
    }
    match tokens.iter().rposition(|t| *t == Token::Lit(b'/')) {
        None => has_wildcard(&tokens),
        Some(slash) => has_wildcard(&tokens[slash + 1..]),
    }
}

/// Whether an unconditional Deny in the same policy takes `action` away on every resource of
/// the kind.
fn denied_everywhere(policy: &Policy<'_>, action: &str, target: &WriteTarget) -> bool {
    let universe = segment_universe(target.universe);
    let cover = segment_universe(target.cover_universe);
    policy.statements.iter().any(|s| {
        s.effect == Effect::Deny
            && s.conditions.is_empty()
            && s.grants_action(action) == Tri::Yes
            && s.resource.as_ref().is_some_and(|r| {
                if r.negated {
                    r.items.iter().all(|i| match i.term {
                        Term::Known(p) => !intersects(&tokenize(p), &universe),
                        Term::Unknown(_) => false,
                    })
                } else {
                    r.items
                        .iter()
                        .any(|i| i.known().is_some_and(|p| covers(&tokenize(p), &cover)))
                }
            })
    })
}

/// The target's actions that an unconditional Deny of the policy takes away on every resource of
/// the kind: computed once per policy, not once per statement (which would be quadratic).
pub(crate) fn denied_actions(policy: &Policy<'_>, target: &WriteTarget) -> Vec<&'static str> {
    target
        .actions
        .iter()
        .copied()
        .filter(|a| denied_everywhere(policy, a, target))
        .collect()
}

/// Analyses one statement against a write target, given the policy's [`denied_actions`];
/// `None` when it is fine.
pub(crate) fn unscoped_grant(
    stmt: &Statement<'_>,
    target: &WriteTarget,
    denied: &[&str],
) -> Option<UnscopedGrant> {
    if stmt.effect != Effect::Allow {
        return None;
    }
    let mut actions = Vec::new();
    let mut action_unknown = false;
    for &a in target.actions {
        match stmt.grants_action(a) {
            Tri::Yes if !denied.contains(&a) => actions.push(a),
            Tri::Unknown => action_unknown = true,
            _ => {}
        }
    }
    if actions.is_empty() && !action_unknown {
        return None;
    }
    let resource = stmt.resource.as_ref()?;
    let universe = segment_universe(target.universe);
    let reach = if !resource.negated {
        let broad = resource.items.iter().find_map(|i| {
            i.known()
                .filter(|p| is_broad(p, &universe, target))
                .map(|p| Reach::Pattern {
                    text: p.to_string(),
                    span: i.span,
                })
        });
        match (broad, resource.first_unknown()) {
            (Some(hit), _) => hit,
            (None, Some((why, span))) => Reach::Unknown {
                reason: why.to_string(),
                span,
            },
            (None, None) => return None,
        }
    } else {
        let cover = segment_universe(target.cover_universe);
        if resource
            .items
            .iter()
            .any(|i| i.known().is_some_and(|p| covers(&tokenize(p), &cover)))
        {
            return None;
        }
        match resource.first_unknown() {
            Some((why, span)) => Reach::Unknown {
                reason: why.to_string(),
                span,
            },
            None => Reach::NotResource {
                span: resource.span,
            },
        }
    };
    if stmt
        .conditions
        .iter()
        .any(|c| is_scoping(c, target.scoping_keys))
    {
        return None;
    }
    let other_conditions: Vec<String> = stmt.conditions.iter().map(|c| c.key.to_string()).collect();
    let mut unknown = match &reach {
        Reach::Unknown { reason, .. } => Some(format!("Resource {reason}")),
        _ => None,
    };
    if actions.is_empty() {
        let why = stmt
            .action
            .as_ref()
            .and_then(|a| a.first_unknown())
            .map_or("is unknown", |(why, _)| why);
        unknown = Some(format!("Action {why}"));
    }
    let level = if unknown.is_some() {
        Level::Unchecked
    } else if other_conditions.is_empty() {
        Level::Default
    } else {
        Level::Lowered
    };
    Some(UnscopedGrant {
        actions,
        reach,
        level,
        other_conditions,
        unknown,
    })
}

/// Writes that let a principal change its own or anyone's permissions, or open network ACLs.
const DANGEROUS_WRITES: &[&str] = &[
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:UpdateAssumeRolePolicy",
    "ec2:CreateNetworkAclEntry",
    "ec2:ReplaceNetworkAclEntry",
    "ec2:DeleteNetworkAclEntry",
];

/// The first IAM-policy or network-ACL write that an Allow in the policy grants (on any resource,
/// under any condition: for escalation, "can at all" is what matters).
pub(crate) fn dangerous_write(policy: &Policy<'_>) -> Option<&'static str> {
    DANGEROUS_WRITES.iter().copied().find(|a| {
        policy
            .statements
            .iter()
            .any(|s| s.effect == Effect::Allow && s.grants_action(a) == Tri::Yes)
    })
}

/// AWS managed policies that grant one of [`DANGEROUS_WRITES`] (for role attachments in plans).
pub(crate) fn dangerous_managed_policy(arn: &str) -> Option<&'static str> {
    const POLICIES: &[(&str, &str)] = &[
        ("AdministratorAccess", "*"),
        ("IAMFullAccess", "iam:*"),
        ("PowerUserAccess", "ec2:*"),
        ("AmazonEC2FullAccess", "ec2:*"),
        ("AmazonVPCFullAccess", "ec2:ReplaceNetworkAclEntry"),
        (
            "job-function/NetworkAdministrator",
            "ec2:ReplaceNetworkAclEntry",
        ),
    ];
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?;
    POLICIES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    const ACL: WriteTarget = WriteTarget {
        actions: &["ec2:ReplaceNetworkAclEntry"],
        universe: "arn:*:ec2:*:*:network-acl/*",
        cover_universe: "arn:aws:ec2:*:*:network-acl/*",
        scoping_keys: &["aws:ResourceTag/", "ec2:Vpc"],
        unwritable_accounts: &[],
        noun: "network ACL",
        nouns: "network ACLs",
    };

    fn check(statements: &str) -> Option<UnscopedGrant> {
        let text = format!(r#"{{"Statement":[{statements}]}}"#);
        let root = parse(&text).unwrap();
        let p = Policy::from_node(&root).unwrap();
        unscoped_grant(&p.statements[0], &ACL, &denied_actions(&p, &ACL))
    }

    #[test]
    fn broad_patterns() {
        let u = segment_universe(ACL.universe);
        let policies = WriteTarget {
            universe: "arn:*:iam::*:policy/*",
            unwritable_accounts: &["aws"],
            ..ACL
        };
        let pu = segment_universe(policies.universe);
        assert!(is_broad("arn:aws:iam::*:policy/*", &pu, &policies));
        assert!(is_broad(
            "arn:aws:iam::123456789012:policy/fp4-*",
            &pu,
            &policies
        ));
        assert!(!is_broad("arn:aws:iam::aws:policy/fp4-*", &pu, &policies));
        assert!(!is_broad("arn:aws-cn:iam::aws:policy/*", &pu, &policies));
        assert_eq!(literal_account("arn:aws:iam::a*:policy/x"), None);
        assert_eq!(literal_account("arn:*:iam::aws:policy/x"), None);
        for p in [
            "*",
            "arn:aws:ec2:*:*:network-acl/*",
            "arn:aws:ec2:us-east-1:123456789012:*",
            "arn:aws:ec2:*",
            "arn:aws:ec2:us-east-1:123456789012:network-acl/acl-0abc?",
            "arn:aws:ec2:*:*:network-acl*",
        ] {
            assert!(is_broad(p, &u, &ACL), "{p}");
        }
        for p in [
            "arn:aws:ec2:us-east-1:123456789012:network-acl/acl-0abc",
            "arn:aws:ec2:*:*:network-acl/acl-0abc",
            "arn:aws:ec2:*:*:network-acl/${aws:PrincipalTag/acl}",
            "arn:aws:ec2:*:*:security-group/*",
            "arn:aws:s3:::*",
        ] {
            assert!(!is_broad(p, &u, &ACL), "{p}");
        }
    }

    #[test]
    fn conditions_scope_or_lower() {
        let g = check(r#"{"Effect":"Allow","Action":"ec2:*","Resource":"*"}"#).unwrap();
        assert_eq!((g.level, g.actions.len()), (Level::Default, 1));
        assert!(check(r#"{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:resourcetag/jit":"yes"}}}"#).is_none());
        assert!(check(r#"{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"ArnEquals":{"ec2:Vpc":"arn:aws:ec2:us-east-1:1:vpc/vpc-1"}}}"#).is_none());
        for cond in [
            r#"{"StringNotEquals":{"aws:ResourceTag/jit":"no"}}"#,
            r#"{"StringEqualsIfExists":{"aws:ResourceTag/jit":"yes"}}"#,
            r#"{"Null":{"aws:ResourceTag/jit":"false"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        ] {
            let g = check(&format!(
                r#"{{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{cond}}}"#
            ))
            .unwrap();
            assert_eq!(g.level, Level::Lowered, "{cond}");
        }
    }

    #[test]
    fn not_resource_and_deny() {
        assert!(
            check(
                r#"{"Effect":"Allow","Action":"*","NotResource":"arn:aws:ec2:*:*:network-acl/*"}"#
            )
            .is_none()
        );
        assert!(matches!(
            check(r#"{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::*"}"#)
                .unwrap()
                .reach,
            Reach::NotResource { .. }
        ));
        assert!(check(r#"{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ec2:*NetworkAcl*","Resource":"*"}"#).is_none());
        // A conditional Deny does not cancel the Allow.
        assert!(check(r#"{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}"#).is_some());
        assert!(check(r#"{"Effect":"Deny","Action":"*","Resource":"*"}"#).is_none());
    }

    #[test]
    fn dangerous_writes() {
        let root = parse(r#"{"Statement":[{"Effect":"Allow","Action":"IAM:createpolicyversion","Resource":"arn:aws:iam::1:policy/p"}]}"#).unwrap();
        assert_eq!(
            dangerous_write(&Policy::from_node(&root).unwrap()),
            Some("iam:CreatePolicyVersion")
        );
        assert_eq!(
            dangerous_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess"),
            Some("*")
        );
        assert_eq!(
            dangerous_managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            None
        );
    }
}
