//! ## What it does
//! Checks a policy document against IAM's policy grammar, as Access Analyzer's `ValidatePolicy`
//! does before it looks at any action or service, and reports each error under Access Analyzer's
//! issue code:
//!
//! | problem | Access Analyzer |
//! |---|---|
//! | the document, a statement or `Condition` is not an object; an element has the wrong JSON type (`"Action": 5`, `"Version": 2012`, an array of arrays) | `DATA_TYPE_MISMATCH` |
//! | no `Statement` | `MISSING_STATEMENT` |
//! | `Version` other than `"2012-10-17"` or `"2008-10-17"` | `INVALID_VERSION` |
//! | an element IAM does not know (`"Actions"`, `"effect"`, `"Condtion"`) | `INVALID_POLICY_ELEMENT` |
//! | a statement without `Effect` | `MISSING_EFFECT` |
//! | `Effect` other than `"Allow"` or `"Deny"` (also `"allow"`) | `INVALID_EFFECT` |
//! | both `Action` and `NotAction`, `Resource` and `NotResource`, or `Principal` and `NotPrincipal` | `UNSUPPORTED_ELEMENT_COMBINATION` |
//! | `Principal` or `NotPrincipal` in an identity policy (in a service control policy) | `UNSUPPORTED_PRINCIPAL` (`SCP_SYNTAX_ERROR_PRINCIPAL`) |
//! | a `Principal` that is a string other than `"*"` | `INVALID_PRINCIPAL_FORMAT` |
//! | a principal type other than `AWS`, `Service`, `Federated` or `CanonicalUser` | `INVALID_PRINCIPAL_KEY` |
//! | a wildcard inside a principal (`arn:aws:iam::*:root`, `*.amazonaws.com`) | `UNSUPPORTED_WILDCARD_IN_PRINCIPAL` |
//! | a `Sid` with characters other than `A-Z`, `a-z`, `0-9` in an identity or trust policy | `UNSUPPORTED_SID` |
//! | two statements with the same `Sid` in an identity, trust or service control policy | `UNIQUE_SIDS_REQUIRED` |
//!
//! A statement without `Action`, `Resource` or `Principal` where IAM needs one is
//! JIT011's (`MISSING_ACTION`, `MISSING_RESOURCE`, `MISSING_PRINCIPAL`). The rules other than
//! JIT101–JIT106 read the policy through a model that cannot represent these errors, so a
//! document with a `DATA_TYPE_MISMATCH`, `MISSING_EFFECT`, `INVALID_EFFECT` or an element
//! combination is reported here instead of as an input error, and those rules skip it.
//!
//! ## Why is this bad?
//! IAM refuses the whole document (`MalformedPolicyDocument`), so a Terraform apply fails
//! halfway, after a plan that looked fine; a resource policy set through another service fails
//! the same way. An element IAM does not know is not ignored: `"Condtion"` does not make a
//! statement conditional, it makes the policy invalid.
//!
//! ## Example
//! ```json
//! {
//!   "Version": "2012-10-17",
//!   "Statement": [
//!     {"Sid": "read-logs", "Effect": "allow", "Action": "logs:Get*", "NotAction": "logs:Delete*", "Resource": "*"},
//!     {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "s3:GetObject", "Resource": "*"}
//!   ]
//! }
//! ```
//!
//! ## Fix
//! Write the element as the grammar has it: `"Effect": "Allow"`, one of `Action` or `NotAction`,
//! a `Sid` of letters and digits that no other statement has, no `Principal` in a policy attached
//! to an identity:
//! ```json
//! {"Sid": "ReadLogs", "Effect": "Allow", "Action": "logs:Get*", "Resource": "*"}
//! ```

use std::collections::HashMap;

use crate::json::{Node, Value};
use crate::policy::PolicyKind;
use crate::rules::structure::{Doc, Issues, at, shown};

const POLICY_ELEMENTS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];
const PRINCIPAL_KEYS: [&str; 4] = ["AWS", "Service", "Federated", "CanonicalUser"];

pub(crate) fn check<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    let root = doc.root;
    let Some(members) = root.as_object() else {
        out.push(
            "DATA_TYPE_MISMATCH",
            root.span,
            None,
            "document",
            format!(
                "the policy document must be a JSON object, found {}",
                a(root)
            ),
        );
        return;
    };
    for m in members {
        if !POLICY_ELEMENTS.contains(&&*m.key) {
            out.push(
                "INVALID_POLICY_ELEMENT",
                m.key_span,
                None,
                &m.key,
                format!(
                    "{} is not a policy element; IAM knows only Version, Id and Statement{}",
                    shown(&m.key),
                    suggestion(&m.key, &POLICY_ELEMENTS)
                ),
            );
        }
    }
    match root.get("Version") {
        None => {}
        Some(v) => match v.as_str() {
            Some("2012-10-17" | "2008-10-17") => {}
            Some(other) => out.push(
                "INVALID_VERSION",
                v.span,
                None,
                "Version",
                format!(
                    "Version {} is not a policy language version; use \"2012-10-17\"",
                    shown(other)
                ),
            ),
            None => mismatch(out, v, None, "Version", "a string such as \"2012-10-17\""),
        },
    }
    if let Some(id) = root.get("Id")
        && id.as_str().is_none()
    {
        mismatch(out, id, None, "Id", "a string");
    }
    let Some(statement) = root.get("Statement") else {
        out.push(
            "MISSING_STATEMENT",
            root.span,
            None,
            "Statement",
            "the policy document has no Statement element; IAM refuses it".into(),
        );
        return;
    };
    match &statement.value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.as_object().is_none() {
                    mismatch(out, item, None, &at(i), "an object");
                }
            }
        }
        Value::Object(_) => {}
        _ => mismatch(
            out,
            statement,
            None,
            "Statement",
            "an object or an array of objects",
        ),
    }
    for &(i, stmt) in &doc.statements {
        check_statement(out, doc.kind, i, stmt);
    }
    if doc.kind.is_identity() || matches!(doc.kind, PolicyKind::Trust | PolicyKind::Scp) {
        check_sids(doc, out);
    }
}

fn check_statement<'n>(out: &mut Issues<'n>, kind: PolicyKind, i: usize, stmt: &'n Node<'n>) {
    let here = Some((i, stmt));
    let members = stmt.as_object().unwrap_or_default();
    for m in members {
        if !STATEMENT_ELEMENTS.contains(&&*m.key) {
            out.push(
                "INVALID_POLICY_ELEMENT",
                m.key_span,
                here,
                &m.key,
                format!(
                    "{} is not a statement element, so IAM refuses the policy{}",
                    shown(&m.key),
                    suggestion(&m.key, &STATEMENT_ELEMENTS)
                ),
            );
        }
    }
    if let Some(sid) = stmt.get("Sid") {
        match sid.as_str() {
            Some(s)
                if (kind.is_identity() || kind == PolicyKind::Trust)
                    && !s.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                out.push(
                    "UNSUPPORTED_SID",
                    sid.span,
                    here,
                    "Sid",
                    format!(
                        "{}.Sid {} may hold only letters A-Z, a-z and digits 0-9 in this {}",
                        at(i),
                        shown(s),
                        kind.noun()
                    ),
                );
            }
            Some(_) => {}
            None => mismatch(out, sid, here, &format!("{}.Sid", at(i)), "a string"),
        }
    }
    match stmt.get("Effect") {
        None => out.push(
            "MISSING_EFFECT",
            stmt.span,
            here,
            "Effect",
            format!(
                "{} has no Effect; add \"Effect\": \"Allow\" or \"Deny\"",
                at(i)
            ),
        ),
        Some(e) => match e.as_str() {
            Some("Allow" | "Deny") => {}
            Some(other) => out.push(
                "INVALID_EFFECT",
                e.span,
                here,
                "Effect",
                format!(
                    "{}.Effect {} is neither \"Allow\" nor \"Deny\" (the value is case-sensitive)",
                    at(i),
                    shown(other)
                ),
            ),
            None => mismatch(
                out,
                e,
                here,
                &format!("{}.Effect", at(i)),
                "\"Allow\" or \"Deny\"",
            ),
        },
    }
    for (positive, negative) in [
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ] {
        if let (Some(_), Some(n)) = (stmt.member(positive), stmt.member(negative)) {
            out.push(
                "UNSUPPORTED_ELEMENT_COMBINATION",
                n.key_span,
                here,
                negative,
                format!(
                    "{} has both {positive} and {negative}; a statement may have only one of them",
                    at(i)
                ),
            );
        }
    }
    for name in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = stmt.get(name) {
            strings(out, here, &|| format!("{}.{name}", at(i)), v);
        }
    }
    for name in ["Principal", "NotPrincipal"] {
        if let Some(m) = stmt.member(name) {
            principal(out, kind, here, name, m.key_span, &m.value);
        }
    }
    if let Some(c) = stmt.get("Condition") {
        condition(out, here, c);
    }
}

/// A string or an array of strings. `what` names the element, for messages (built only when
/// there is something to report).
fn strings<'n>(
    out: &mut Issues<'n>,
    here: Option<(usize, &'n Node<'n>)>,
    what: &dyn Fn() -> String,
    v: &'n Node<'n>,
) {
    match &v.value {
        Value::String(_) => {}
        Value::Array(items) => {
            for (j, item) in items.iter().enumerate() {
                if item.as_str().is_none() {
                    mismatch(out, item, here, &format!("{}[{j}]", what()), "a string");
                }
            }
        }
        _ => mismatch(out, v, here, &what(), "a string or an array of strings"),
    }
}

fn principal<'n>(
    out: &mut Issues<'n>,
    kind: PolicyKind,
    here: Option<(usize, &'n Node<'n>)>,
    name: &str,
    key_span: crate::json::Span,
    v: &'n Node<'n>,
) {
    let i = here.map_or(0, |(i, _)| i);
    let what = || format!("{}.{name}", at(i));
    if kind.is_identity() || kind == PolicyKind::Scp {
        out.push(
            if kind == PolicyKind::Scp {
                "SCP_SYNTAX_ERROR_PRINCIPAL"
            } else {
                "UNSUPPORTED_PRINCIPAL"
            },
            key_span,
            here,
            name,
            format!(
                "{}: this {} applies to whoever it is attached to and may not name a principal; remove {name}",
                what(),
                kind.noun()
            ),
        );
    }
    match &v.value {
        Value::String(s) if &**s == "*" => {}
        Value::String(s) => out.push(
            "INVALID_PRINCIPAL_FORMAT",
            v.span,
            here,
            name,
            format!(
                "{} must be \"*\" or an object such as {{\"AWS\": {}}}, not a string",
                what(),
                shown(s)
            ),
        ),
        Value::Object(members) => {
            for m in members {
                if !PRINCIPAL_KEYS.contains(&&*m.key) {
                    out.push(
                        "INVALID_PRINCIPAL_KEY",
                        m.key_span,
                        here,
                        &m.key,
                        format!(
                            "{} has the principal type {}; IAM knows AWS, Service, Federated and CanonicalUser{}",
                            what(),
                            shown(&m.key),
                            suggestion(&m.key, &PRINCIPAL_KEYS)
                        ),
                    );
                }
                let inner = || format!("{}.{}", what(), m.key);
                strings(out, here, &inner, &m.value);
                for (value, span) in crate::rules::structure::string_items(&m.value) {
                    if value != "*" && (value.contains('*') || value.contains('?')) {
                        out.push(
                            "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                            span,
                            here,
                            value,
                            format!(
                                "{} {} has a wildcard; a principal is \"*\" or exact (use a condition such as aws:PrincipalArn with ArnLike to match a pattern)",
                                inner(),
                                shown(value)
                            ),
                        );
                    }
                }
            }
        }
        _ => mismatch(
            out,
            v,
            here,
            &what(),
            "\"*\" or an object such as {\"AWS\": \"arn:…\"}",
        ),
    }
}

fn condition<'n>(out: &mut Issues<'n>, here: Option<(usize, &'n Node<'n>)>, c: &'n Node<'n>) {
    let i = here.map_or(0, |(i, _)| i);
    let what = || format!("{}.Condition", at(i));
    let Some(operators) = c.as_object() else {
        mismatch(out, c, here, &what(), "an object of condition operators");
        return;
    };
    for op in operators {
        let Some(keys) = op.value.as_object() else {
            mismatch(
                out,
                &op.value,
                here,
                &format!("{}.{}", what(), op.key),
                "an object of condition keys",
            );
            continue;
        };
        for key in keys {
            let path = || format!("{}.{}.{}", what(), op.key, key.key);
            let scalar = |n: &Node<'_>| {
                matches!(
                    n.value,
                    Value::String(_) | Value::Number(_) | Value::Bool(_)
                )
            };
            match &key.value.value {
                Value::Array(items) => {
                    for (j, item) in items.iter().enumerate() {
                        if !scalar(item) {
                            mismatch(
                                out,
                                item,
                                here,
                                &format!("{}[{j}]", path()),
                                "a string, number or boolean",
                            );
                        }
                    }
                }
                _ if scalar(&key.value) => {}
                _ => mismatch(
                    out,
                    &key.value,
                    here,
                    &path(),
                    "a string, number or boolean, or an array of them",
                ),
            }
        }
    }
}

/// Two statements with the same `Sid`: IAM refuses them in the policies it stores.
fn check_sids<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for &(i, stmt) in &doc.statements {
        let Some(sid_node) = stmt.get("Sid") else {
            continue;
        };
        let Some(sid) = sid_node.as_str().filter(|s| !s.is_empty()) else {
            continue;
        };
        if let Some(&first) = seen.get(sid) {
            out.push(
                "UNIQUE_SIDS_REQUIRED",
                sid_node.span,
                Some((i, stmt)),
                "duplicate-sid",
                format!(
                    "{}.Sid {} is also the Sid of {}; statement ids must be unique within a policy",
                    at(i),
                    shown(sid),
                    at(first)
                ),
            );
        } else {
            seen.insert(sid, i);
        }
    }
}

fn mismatch<'n>(
    out: &mut Issues<'n>,
    node: &Node<'_>,
    here: Option<(usize, &'n Node<'n>)>,
    what: &str,
    expected: &str,
) {
    out.push(
        "DATA_TYPE_MISMATCH",
        node.span,
        here,
        what,
        format!("{what} must be {expected}, found {}", a(node)),
    );
}

/// `; did you mean "Action"?` when the key differs from a known one only in case or by an `s`.
fn suggestion(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .find(|k| {
            k.eq_ignore_ascii_case(key)
                || key
                    .strip_suffix(['s', 'S'])
                    .is_some_and(|stem| k.eq_ignore_ascii_case(stem))
        })
        .map(|k| format!("; did you mean \"{k}\"?"))
        .unwrap_or_default()
}

/// "an array", "a string", "null", … for messages.
fn a(node: &Node<'_>) -> &'static str {
    match node.value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
