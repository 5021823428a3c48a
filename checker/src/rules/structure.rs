//! What the structural rules (JIT101…) share: they read a policy document as JSON, the way IAM
//! and Access Analyzer's `ValidatePolicy` do, so that they can report what the policy model
//! ([`crate::policy::Policy`]) refuses to build, and they report [`Issue`]s, which the engine
//! turns into findings. Nothing here depends on the engine.

use crate::json::{Member, Node, Span, Value};
use crate::policy::PolicyKind;
use crate::rules::Rule;

/// A policy document as the structural rules see it.
pub(crate) struct Doc<'n> {
    pub root: &'n Node<'n>,
    pub kind: PolicyKind,
    /// The statement nodes that are objects, with their index in `Statement`.
    pub statements: Vec<(usize, &'n Node<'n>)>,
}

impl<'n> Doc<'n> {
    pub fn new(root: &'n Node<'n>, kind: PolicyKind) -> Doc<'n> {
        let statements = match root.get("Statement").map(|s| &s.value) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, n)| n.as_object().is_some())
                .collect(),
            Some(Value::Object(_)) => vec![(0, root.get("Statement").unwrap_or(root))],
            _ => Vec::new(),
        };
        Doc {
            root,
            kind,
            statements,
        }
    }

    /// The document's `Version` string, if it has one.
    pub fn version(&self) -> Option<&'n str> {
        self.root.get("Version").and_then(Node::as_str)
    }
}

/// One problem a structural rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue<'n> {
    pub rule: Rule,
    pub span: Span,
    pub statement: Option<usize>,
    pub sid: Option<&'n str>,
    /// What the issue is about, independent of formatting (for the fingerprint).
    pub key: String,
    pub message: String,
    /// One step above the rule's severity: IAM refuses the document for it, where the rule's
    /// other issues leave a document IAM stores but that cannot work.
    pub raised: bool,
}

/// Collects a rule's issues for one document.
pub(crate) struct Issues<'n> {
    pub rule: Rule,
    pub out: Vec<Issue<'n>>,
}

impl<'n> Issues<'n> {
    pub fn new(rule: Rule) -> Issues<'n> {
        Issues {
            rule,
            out: Vec::new(),
        }
    }

    /// Reports an issue under Access Analyzer's code for it (`MISSING_EFFECT`, …), which ends the
    /// message, at `span`, in statement `stmt` (index and node) if it is about one.
    pub fn push(
        &mut self,
        aws_code: &'static str,
        span: Span,
        stmt: Option<(usize, &'n Node<'n>)>,
        what: &str,
        message: String,
    ) {
        let sid = stmt.and_then(|(_, s)| s.get("Sid")).and_then(Node::as_str);
        // Without the statement's index, so that reordering statements keeps a baseline valid
        // (the statement is identified by its Sid or content instead).
        let what = match what.strip_prefix("Statement[") {
            Some(rest) => rest.split_once(']').map_or(what, |(_, tail)| tail),
            None => what,
        };
        let key = format!(
            "{aws_code}|{}|{what}",
            stmt.map(|(_, s)| sid
                .filter(|s| !s.is_empty())
                .map_or_else(|| s.to_compact(), str::to_string))
                .unwrap_or_default()
        );
        self.out.push(Issue {
            rule: self.rule,
            span,
            statement: stmt.map(|(i, _)| i),
            sid,
            key,
            message: format!("{message} (Access Analyzer: {aws_code})"),
            raised: false,
        });
    }

    /// Marks the last issue as one IAM refuses the document for ([`Issue::raised`]).
    pub fn raise_last(&mut self) {
        if let Some(last) = self.out.last_mut() {
            last.raised = true;
        }
    }
}

/// `Statement[3]` or `the policy` for messages.
pub(crate) fn at(stmt: usize) -> String {
    format!("Statement[{stmt}]")
}

/// The string items of an element that is a string or an array (other items are skipped: they
/// are JIT101's).
pub(crate) fn string_items<'n>(node: &'n Node<'n>) -> impl Iterator<Item = (&'n str, Span)> + 'n {
    let (single, many): (Option<(&'n str, Span)>, &'n [Node<'n>]) = match &node.value {
        Value::String(s) => (Some((s, node.span)), &[]),
        Value::Array(items) => (None, items),
        _ => (None, &[]),
    };
    single
        .into_iter()
        .chain(many.iter().filter_map(|n| n.as_str().map(|s| (s, n.span))))
}

/// The condition blocks of a statement: each operator member and its key members, when the
/// `Condition` element has the right shape (otherwise nothing: that is JIT101's).
pub(crate) fn condition_blocks<'n>(
    stmt: &'n Node<'n>,
) -> impl Iterator<Item = (&'n Member<'n>, &'n [Member<'n>])> + 'n {
    stmt.get("Condition")
        .and_then(Node::as_object)
        .unwrap_or_default()
        .iter()
        .filter_map(|op| op.value.as_object().map(|keys| (op, keys)))
}

/// A condition value as text: strings, numbers and booleans (as IAM reads them); `None` for
/// anything else.
pub(crate) fn scalar_text<'n>(node: &'n Node<'n>) -> Option<&'n str> {
    match &node.value {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n),
        Value::Bool(true) => Some("true"),
        Value::Bool(false) => Some("false"),
        _ => None,
    }
}

/// The values of one condition key: a scalar or an array of scalars.
pub(crate) fn condition_values<'n>(
    value: &'n Node<'n>,
) -> impl Iterator<Item = (&'n str, &'n Node<'n>)> + 'n {
    let (single, many): (Option<&'n Node<'n>>, &'n [Node<'n>]) = match &value.value {
        Value::Array(items) => (None, items),
        _ => (Some(value), &[]),
    };
    single
        .into_iter()
        .chain(many)
        .filter_map(|n| scalar_text(n).map(|t| (t, n)))
}

/// A condition operator split into its set prefix, base operator and `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator<'a> {
    /// `ForAllValues:` / `ForAnyValue:` (without the colon), if present.
    pub set: Option<&'a str>,
    pub base: &'a str,
    pub if_exists: bool,
}

impl<'a> Operator<'a> {
    pub fn parse(op: &'a str) -> Operator<'a> {
        let (set, rest) = match op.split_once(':') {
            Some((prefix, rest))
                if prefix.eq_ignore_ascii_case("ForAllValues")
                    || prefix.eq_ignore_ascii_case("ForAnyValue") =>
            {
                (Some(prefix), rest)
            }
            _ => (None, op),
        };
        let cut = rest.len().saturating_sub("IfExists".len());
        let (base, if_exists) = match rest.get(cut..) {
            Some(tail) if cut > 0 && tail.eq_ignore_ascii_case("IfExists") => (&rest[..cut], true),
            _ => (rest, false),
        };
        Operator {
            set,
            base,
            if_exists,
        }
    }

    /// What the base operator compares, if IAM knows it (operator names compared without case).
    pub fn family(&self) -> Option<Family> {
        OPERATORS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(self.base))
            .map(|(_, f)| *f)
    }

    /// `StringLike`, `StringNotLike`, `ArnLike`, `ArnNotLike`, `ArnEquals`, `ArnNotEquals`: the
    /// operators in which `*` and `?` are wildcards.
    pub fn matches_wildcards(&self) -> bool {
        self.family() == Some(Family::Arn) || self.base.to_ascii_lowercase().contains("like")
    }
}

/// What a condition operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// IAM's condition operators (without `IfExists` and set prefixes).
const OPERATORS: [(&str, Family); 27] = [
    ("StringEquals", Family::String),
    ("StringNotEquals", Family::String),
    ("StringEqualsIgnoreCase", Family::String),
    ("StringNotEqualsIgnoreCase", Family::String),
    ("StringLike", Family::String),
    ("StringNotLike", Family::String),
    ("NumericEquals", Family::Numeric),
    ("NumericNotEquals", Family::Numeric),
    ("NumericLessThan", Family::Numeric),
    ("NumericLessThanEquals", Family::Numeric),
    ("NumericGreaterThan", Family::Numeric),
    ("NumericGreaterThanEquals", Family::Numeric),
    ("DateEquals", Family::Date),
    ("DateNotEquals", Family::Date),
    ("DateLessThan", Family::Date),
    ("DateLessThanEquals", Family::Date),
    ("DateGreaterThan", Family::Date),
    ("DateGreaterThanEquals", Family::Date),
    ("Bool", Family::Bool),
    ("BinaryEquals", Family::Binary),
    ("IpAddress", Family::Ip),
    ("NotIpAddress", Family::Ip),
    ("ArnEquals", Family::Arn),
    ("ArnNotEquals", Family::Arn),
    ("ArnLike", Family::Arn),
    ("ArnNotLike", Family::Arn),
    ("Null", Family::Null),
];

/// Whether `text` holds a policy variable's opening `${` (a byte search for `$` first: most
/// values have none).
pub(crate) fn has_variable(text: &str) -> bool {
    text.contains('$') && text.contains("${")
}

/// Shortens a value for a message.
pub(crate) fn shown(value: &str) -> String {
    if value.chars().count() <= 60 {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(57).collect();
        format!("\"{head}…\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;
    use crate::rules::{
        jit101_invalid_policy_grammar, jit102_empty_policy_element, jit103_invalid_condition,
        jit104_condition_value_type_mismatch, jit105_invalid_resource_arn,
        jit106_invalid_policy_variable,
    };

    /// Awkward values in every slot the structural rules read, under every operator and kind:
    /// nothing reaches a panic (multi-byte characters next to the bytes the parsers test, cut
    /// variables, prefixes without a base operator).
    #[test]
    fn awkward_values_do_not_panic() {
        let values = [
            "",
            "$",
            "${",
            "${}",
            "}${",
            "${a${b}",
            "${a, '}",
            "é",
            "日本",
            "2026-01-31T12:00:1é",
            "2026-01-31T12:00:00+é",
            "2026-01-3é",
            "2026-01-31Té",
            "arn:",
            "arn:é:é:é:é:é",
            "arn:aws:s3:::${",
            "arn:aws:ec2:é-é-1:1:x",
            "*",
            "?",
            "-",
            "+",
            "1e",
            ".",
            "::",
            "10.0.0.0/é",
        ];
        let mut operators: Vec<String> = OPERATORS.iter().map(|(o, _)| o.to_string()).collect();
        for extra in [
            "ForAllValues:",
            "ForAnyValue:",
            "IfExists",
            "NullIfExists",
            "é",
            ":",
        ] {
            operators.push(extra.to_string());
        }
        let checks: [for<'a> fn(&Doc<'a>, &mut Issues<'a>); 6] = [
            jit101_invalid_policy_grammar::check,
            jit102_empty_policy_element::check,
            jit103_invalid_condition::check,
            jit104_condition_value_type_mismatch::check,
            jit105_invalid_resource_arn::check,
            jit106_invalid_policy_variable::check,
        ];
        for v in values {
            let q = serde_json::to_string(v).unwrap();
            for op in &operators {
                let op = serde_json::to_string(&format!("{op}IfExists")).unwrap();
                let text = format!(
                    r#"{{"Version":{q},"Statement":[{{"Sid":{q},"Effect":{q},"Action":[{q}],"Resource":{q},
                       "Principal":{{"AWS":{q},{q}:[{q}]}},"Condition":{{{op}:{{{q}:[{q},{q}]}},{q}:{{{q}:{q}}}}}}}]}}"#
                );
                let root = crate::json::parse(&text).unwrap();
                for kind in PolicyKind::ALL {
                    let doc = Doc::new(&root, kind);
                    let mut issues = Issues::new(Rule::InvalidPolicyGrammar);
                    for check in checks {
                        check(&doc, &mut issues);
                    }
                }
            }
        }
    }

    #[test]
    fn operators_split_into_parts() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists");
        assert_eq!(
            (op.set, op.base, op.if_exists),
            (Some("ForAnyValue"), "StringLike", true)
        );
        assert!(op.matches_wildcards());
        let op = Operator::parse("NullIfExists");
        assert_eq!(
            (op.base, op.if_exists, op.family()),
            ("Null", true, Some(Family::Null))
        );
        assert_eq!(Operator::parse("IfExists").base, "IfExists");
        assert_eq!(
            Operator::parse("StringEquals").family(),
            Some(Family::String)
        );
        assert!(!Operator::parse("StringEquals").matches_wildcards());
        assert!(Operator::parse("ArnEquals").matches_wildcards());
        assert_eq!(Operator::parse("StringEqual").family(), None);
    }
}
