//! ## What it does
//! Flags elements that are present but empty, under the codes of Access Analyzer's suggestions
//! (hence the low default severity):
//!
//! | element | Access Analyzer |
//! |---|---|
//! | `"Action": []`, `"NotAction": []` | `EMPTY_ARRAY_ACTION`, `EMPTY_ARRAY_NOTACTION` |
//! | `"Resource": []`, `"NotResource": []` | `EMPTY_ARRAY_RESOURCE`, `EMPTY_ARRAY_NOTRESOURCE` |
//! | `"Principal": {"AWS": []}` | `EMPTY_ARRAY_PRINCIPAL` |
//! | `"Principal": {}` | `EMPTY_OBJECT_PRINCIPAL` |
//! | `"Condition": {}` or an operator with no keys (`"StringEquals": {}`) | `EMPTY_OBJECT_CONDITION` |
//! | a condition key with no values (`"aws:SourceVpc": []`), and its `ForAllValues:`, `ForAnyValue:` and `…IfExists` forms | `EMPTY_ARRAY_CONDITION`, `EMPTY_ARRAY_CONDITION_FOR_ALL_VALUES`, `EMPTY_ARRAY_CONDITION_FOR_ANY_VALUE`, `EMPTY_ARRAY_CONDITION_IFEXISTS` |
//!
//! An empty `Sid` (Access Analyzer's `EMPTY_SID_VALUE`) is not reported: IAM stores it as it is,
//! and the AWS provider's `aws_iam_policy_document` renders `"Sid": ""` for every statement
//! without `sid`, so reporting it would fail CI on ordinary plans for nothing that matters.
//!
//! ## Why is this bad?
//! An empty element is almost always a list that a template or a Terraform variable rendered
//! empty, and it rarely means what its author expected: a statement with no actions or no
//! resources does nothing at all; an empty condition block constrains nothing, so the statement
//! applies unconditionally; `ForAnyValue:` with no values matches nothing, `ForAllValues:` with
//! none matches every request that lacks the key. IAM refuses
//! some of these and stores others, so the statement silently stops doing its job.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Allow",
//!   "Action": ["s3:GetObject"],
//!   "Resource": [],
//!   "Condition": {"StringEquals": {"aws:SourceVpc": []}}
//! }
//! ```
//!
//! ## Fix
//! Fill the element, or remove it (and the statement, if nothing is left of it):
//! ```json
//! {
//!   "Sid": "ReadFromVpc",
//!   "Effect": "Allow",
//!   "Action": ["s3:GetObject"],
//!   "Resource": ["arn:aws:s3:::my-bucket/*"],
//!   "Condition": {"StringEquals": {"aws:SourceVpc": ["vpc-0123456789abcdef0"]}}
//! }
//! ```

use crate::json::Value;
use crate::rules::structure::{Doc, Issues, Operator, at, condition_blocks};

pub(crate) fn check<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    for &(i, stmt) in &doc.statements {
        let here = Some((i, stmt));
        for (name, code) in [
            ("Action", "EMPTY_ARRAY_ACTION"),
            ("NotAction", "EMPTY_ARRAY_NOTACTION"),
            ("Resource", "EMPTY_ARRAY_RESOURCE"),
            ("NotResource", "EMPTY_ARRAY_NOTRESOURCE"),
        ] {
            if let Some(v) = stmt.get(name)
                && v.as_array().is_some_and(<[_]>::is_empty)
            {
                out.push(
                    code,
                    v.span,
                    here,
                    name,
                    format!(
                        "{}.{name} is an empty array, so the statement {}",
                        at(i),
                        if name.starts_with("Not") {
                            "excludes nothing and applies to everything"
                        } else {
                            "applies to nothing"
                        }
                    ),
                );
            }
        }
        for name in ["Principal", "NotPrincipal"] {
            let Some(v) = stmt.get(name) else { continue };
            let Value::Object(members) = &v.value else {
                continue;
            };
            if members.is_empty() {
                out.push(
                    "EMPTY_OBJECT_PRINCIPAL",
                    v.span,
                    here,
                    name,
                    format!("{}.{name} is an empty object and names no principal", at(i)),
                );
            }
            for m in members.iter() {
                if m.value.as_array().is_some_and(<[_]>::is_empty) {
                    out.push(
                        "EMPTY_ARRAY_PRINCIPAL",
                        m.value.span,
                        here,
                        &format!("{name}.{}", m.key),
                        format!(
                            "{}.{name}.{} is an empty array and names no principal",
                            at(i),
                            m.key
                        ),
                    );
                }
            }
        }
        if let Some(c) = stmt.get("Condition")
            && c.as_object().is_some_and(<[_]>::is_empty)
        {
            out.push(
                "EMPTY_OBJECT_CONDITION",
                c.span,
                here,
                "Condition",
                format!(
                    "{}.Condition is an empty object: the statement applies unconditionally",
                    at(i)
                ),
            );
        }
        for (op, keys) in condition_blocks(stmt) {
            if keys.is_empty() {
                out.push(
                    "EMPTY_OBJECT_CONDITION",
                    op.value.span,
                    here,
                    &op.key,
                    format!(
                        "{}.Condition.{} has no condition keys, so it constrains nothing",
                        at(i),
                        op.key
                    ),
                );
            }
            let parsed = Operator::parse(&op.key);
            for key in keys {
                if !key.value.as_array().is_some_and(<[_]>::is_empty) {
                    continue;
                }
                let (code, effect) = match parsed.set {
                    Some(set) if set.eq_ignore_ascii_case("ForAllValues") => (
                        "EMPTY_ARRAY_CONDITION_FOR_ALL_VALUES",
                        "ForAllValues: with no values matches only requests that lack the key",
                    ),
                    Some(_) => (
                        "EMPTY_ARRAY_CONDITION_FOR_ANY_VALUE",
                        "ForAnyValue: with no values matches no request",
                    ),
                    None if parsed.if_exists => (
                        "EMPTY_ARRAY_CONDITION_IFEXISTS",
                        "a comparison with nothing is never what was meant",
                    ),
                    None => (
                        "EMPTY_ARRAY_CONDITION",
                        "a comparison with nothing is never what was meant",
                    ),
                };
                out.push(
                    code,
                    key.value.span,
                    here,
                    &format!("{}.{}", op.key, key.key),
                    format!(
                        "{}.Condition.{}.{} has no values: {effect}",
                        at(i),
                        op.key,
                        key.key
                    ),
                );
            }
        }
    }
}
