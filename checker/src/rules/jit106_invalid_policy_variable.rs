//! ## What it does
//! Checks policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`) and where
//! they are used, under Access Analyzer's issue codes:
//!
//! | problem | Access Analyzer |
//! |---|---|
//! | `${` without its closing `}` (`arn:aws:s3:::b/${aws:username/*`) | `MISSING_BRACE_IN_VARIABLE` |
//! | a space in the variable's name (`${ aws:username }`) | `UNSUPPORTED_SPACE_IN_VARIABLE` |
//! | nothing between the braces (`${}`) | `EMPTY_VARIABLE` |
//! | a default value that is not in single quotes (`${aws:username, guest}`) | `MISSING_QUOTE_IN_VARIABLE` |
//! | a variable in `Action`, `NotAction`, `Principal` or `NotPrincipal` (IAM substitutes them only in `Resource`, `NotResource` and condition values) | `VARIABLE_UNSUPPORTED_IN_ELEMENT` |
//! | a variable in a policy without `"Version": "2012-10-17"` | `VARIABLE_UNSUPPORTED_IN_VERSION` |
//!
//! `${*}`, `${?}` and `${$}` (a literal `*`, `?`, `$`) are accepted.
//!
//! ## Why is this bad?
//! IAM does not substitute a variable it cannot read, or one in the wrong place or version: the
//! text is compared literally, so `arn:aws:s3:::home/${aws:username/*` or a
//! `"Version": "2008-10-17"` policy with `${aws:username}` matches no request. The per-user
//! scoping the author meant does not happen: an `Allow` grants nothing, a `Deny` denies nothing.
//!
//! ## Example
//! ```json
//! {
//!   "Version": "2008-10-17",
//!   "Statement": [{
//!     "Effect": "Allow",
//!     "Action": "s3:*",
//!     "Resource": ["arn:aws:s3:::home/${ aws:username }/*", "arn:aws:s3:::home/${aws:username"]
//!   }]
//! }
//! ```
//!
//! ## Fix
//! Use `"Version": "2012-10-17"` and write each variable as `${key}` with no spaces:
//! ```json
//! "Resource": "arn:aws:s3:::home/${aws:username}/*"
//! ```

use crate::json::{Node, Span};
use crate::rules::structure::{
    Doc, Issues, at, condition_blocks, condition_values, has_variable, shown, string_items,
};

pub(crate) fn check<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    let mut first_use: Option<(usize, &'n Node<'n>, Span)> = None;
    for &(i, stmt) in &doc.statements {
        let here = Some((i, stmt));
        // Only the values that hold a variable; their element is named when one is reported.
        let mut values: Vec<(Where<'n>, &'n str, Span)> = Vec::new();
        for name in ["Resource", "NotResource"] {
            if let Some(v) = stmt.get(name) {
                for (text, span) in string_items(v) {
                    if has_variable(text) {
                        values.push((Where::Element(name), text, span));
                    }
                }
            }
        }
        for (op, keys) in condition_blocks(stmt) {
            for key in keys {
                for (text, node) in condition_values(&key.value) {
                    if has_variable(text) {
                        values.push((Where::Condition(&op.key, &key.key), text, node.span));
                    }
                }
            }
        }
        for (place, text, span) in values {
            if first_use.is_none() {
                first_use = Some((i, stmt, span));
            }
            if let Some((code, message)) = syntax_problem(text) {
                out.push(
                    code,
                    span,
                    here,
                    text,
                    format!("{} {}: {message}", place.describe(i), shown(text)),
                );
            }
        }
        for name in ["Action", "NotAction"] {
            if let Some(v) = stmt.get(name) {
                for (text, span) in string_items(v) {
                    unsupported(out, here, i, name, text, span);
                }
            }
        }
        for name in ["Principal", "NotPrincipal"] {
            if let Some(v) = stmt.get(name) {
                let members = v.as_object().unwrap_or_default();
                let items =
                    string_items(v).chain(members.iter().flat_map(|m| string_items(&m.value)));
                for (text, span) in items {
                    unsupported(out, here, i, name, text, span);
                }
            }
        }
    }
    if let Some((i, stmt, span)) = first_use
        && doc.version() != Some("2012-10-17")
    {
        out.push(
            "VARIABLE_UNSUPPORTED_IN_VERSION",
            span,
            Some((i, stmt)),
            "version",
            format!(
                "policy variables need \"Version\": \"2012-10-17\"; in a policy {}, IAM compares \"${{…}}\" literally",
                match doc.version() {
                    Some(v) => format!("with Version {}", shown(v)),
                    None => "without Version".into(),
                }
            ),
        );
    }
}

/// Where a variable sits, for messages.
enum Where<'n> {
    Element(&'static str),
    Condition(&'n str, &'n str),
}

impl Where<'_> {
    fn describe(&self, stmt: usize) -> String {
        match self {
            Where::Element(name) => format!("{}.{name}", at(stmt)),
            Where::Condition(op, key) => format!("{}.Condition.{op}.{key}", at(stmt)),
        }
    }
}

fn unsupported<'n>(
    out: &mut Issues<'n>,
    here: Option<(usize, &'n Node<'n>)>,
    stmt: usize,
    name: &str,
    text: &str,
    span: Span,
) {
    if has_variable(text) {
        out.push(
            "VARIABLE_UNSUPPORTED_IN_ELEMENT",
            span,
            here,
            text,
            format!(
                "{}.{name} {}: IAM substitutes policy variables only in Resource, NotResource and condition values; here the text is taken literally",
                at(stmt),
                shown(text)
            ),
        );
    }
}

/// The first syntax problem among the variables of `text`.
fn syntax_problem(text: &str) -> Option<(&'static str, String)> {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = match (after.find('}'), after.find("${")) {
            (Some(close), Some(next)) if next < close => None,
            (close, _) => close,
        };
        let Some(end) = end else {
            return Some((
                "MISSING_BRACE_IN_VARIABLE",
                "a variable opened with \"${\" has no closing \"}\"".into(),
            ));
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        if matches!(inner, "*" | "?" | "$") {
            continue;
        }
        let (name, default) = match inner.split_once(',') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if name.trim().is_empty() {
            return Some((
                "EMPTY_VARIABLE",
                "\"${}\" names no variable; write the key, such as ${aws:username}".into(),
            ));
        }
        if name.chars().any(char::is_whitespace) {
            return Some((
                "UNSUPPORTED_SPACE_IN_VARIABLE",
                format!(
                    "the variable name {} has a space; write ${{{}}}",
                    shown(name),
                    name.split_whitespace().collect::<String>()
                ),
            ));
        }
        if let Some(d) = default {
            let d = d.trim();
            if d.len() < 2 || !d.starts_with('\'') || !d.ends_with('\'') {
                return Some((
                    "MISSING_QUOTE_IN_VARIABLE",
                    format!(
                        "the default value {} must be in single quotes, as in ${{{}, 'default'}}",
                        shown(d),
                        name.trim()
                    ),
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_syntax() {
        for ok in [
            "arn:aws:s3:::home/${aws:username}/*",
            "${aws:PrincipalTag/team, 'company-wide'}",
            "a${*}b${?}${$}",
            "no variable",
        ] {
            assert_eq!(syntax_problem(ok), None, "{ok}");
        }
        for (bad, code) in [
            ("home/${aws:username/*", "MISSING_BRACE_IN_VARIABLE"),
            ("${aws:a${aws:b}", "MISSING_BRACE_IN_VARIABLE"),
            ("${}", "EMPTY_VARIABLE"),
            ("${ , 'x'}", "EMPTY_VARIABLE"),
            ("${ aws:username }", "UNSUPPORTED_SPACE_IN_VARIABLE"),
            ("${aws:username, guest}", "MISSING_QUOTE_IN_VARIABLE"),
        ] {
            assert_eq!(syntax_problem(bad).map(|p| p.0), Some(code), "{bad}");
        }
    }
}
