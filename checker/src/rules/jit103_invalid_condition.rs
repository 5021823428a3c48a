//! ## What it does
//! Checks the operators and keys of every `Condition` block for errors Access Analyzer reports:
//!
//! | problem | Access Analyzer |
//! |---|---|
//! | an operator IAM does not know (`StringEqual`, `StringMatches`) | `INVALID_CONDITION_OPERATOR` |
//! | `NullIfExists` (`Null` already asks whether the key exists) | `NULL_WITH_IF_EXISTS` |
//! | one operator block with the same key twice in different case (`aws:SourceVpc` and `aws:sourcevpc`) | `DUPLICATE_KEYS_WITH_DIFFERENT_CASE` |
//!
//! Operator names are compared without case, so only names IAM cannot read are reported.
//!
//! ## Why is this bad?
//! IAM refuses a policy with an operator it does not know (`MalformedPolicyDocument: Invalid
//! Condition type`). Condition keys are case-insensitive, so two spellings of one key in a block
//! are one key given twice, and which values apply is not what either line says.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "s3:*",
//!   "Resource": "*",
//!   "Condition": {
//!     "StringNotEqual": {"aws:SourceVpc": "vpc-111", "aws:sourcevpc": "vpc-222"},
//!     "NullIfExists": {"aws:MultiFactorAuthAge": "true"}
//!   }
//! }
//! ```
//!
//! ## Fix
//! Use IAM's operator names, one entry per key (list several values in one array), and `Null`
//! without `IfExists`:
//! ```json
//! "Condition": {
//!   "StringNotEquals": {"aws:SourceVpc": ["vpc-111", "vpc-222"]},
//!   "Null": {"aws:MultiFactorAuthAge": "true"}
//! }
//! ```

use std::collections::HashMap;

use crate::rules::structure::{Doc, Family, Issues, Operator, at, condition_blocks, shown};

pub(crate) fn check<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    for &(i, stmt) in &doc.statements {
        let here = Some((i, stmt));
        for (op, keys) in condition_blocks(stmt) {
            let parsed = Operator::parse(&op.key);
            match parsed.family() {
                None => out.push(
                    "INVALID_CONDITION_OPERATOR",
                    op.key_span,
                    here,
                    &op.key,
                    format!(
                        "{}.Condition: {} is not a condition operator; IAM refuses the policy",
                        at(i),
                        shown(&op.key)
                    ),
                ),
                Some(Family::Null) if parsed.if_exists => out.push(
                    "NULL_WITH_IF_EXISTS",
                    op.key_span,
                    here,
                    &op.key,
                    format!(
                        "{}.Condition: {} combines Null with IfExists, which IAM does not support; use Null",
                        at(i),
                        shown(&op.key)
                    ),
                ),
                Some(_) => {}
            }
            let mut seen: HashMap<String, &str> = HashMap::new();
            for key in keys {
                let folded = key.key.to_ascii_lowercase();
                match seen.get(&folded) {
                    Some(first) if *first != &*key.key => out.push(
                        "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                        key.key_span,
                        here,
                        &folded,
                        format!(
                            "{}.Condition.{}: {} and {} are the same key (keys are case-insensitive); give it once, with all its values",
                            at(i),
                            op.key,
                            shown(first),
                            shown(&key.key)
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        seen.insert(folded, &key.key);
                    }
                }
            }
        }
    }
}
