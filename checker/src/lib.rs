//! jitlint: a policy-as-code checker for IAM policy JSON and Terraform plans.
//!
//! The library is what the `jitlint` command runs, and what the jit provider calls on the
//! policies it renders:
//!
//! ```
//! use jitlint::{lint_policy_document, Config};
//! let findings = lint_policy_document(
//!     r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
//!         "Action": "ec2:ReplaceNetworkAclEntry", "Resource": "*"}]}"#,
//!     &Config::default(),
//! )
//! .unwrap();
//! assert_eq!(findings[0].rule.code(), "JIT001");
//! assert_eq!((findings[0].line, findings[0].column), (2, 61));
//! ```
//!
//! Building blocks for other tools: [`json`] (a JSON parser that keeps positions), [`policy`]
//! (the IAM policy model), [`pattern`] (IAM wildcard matching), [`cidr`], [`duration`].

pub mod baseline;
pub mod cidr;
pub mod config;
pub mod duration;
pub mod encoding;
pub mod finding;
mod input;
pub mod json;
mod lint;
pub mod output;

pub mod pattern;
mod plan;
pub mod policy;
pub mod rules;
mod terraform;

pub use config::Config;
pub use finding::{Finding, Severity};
pub use input::detect;
pub use lint::{
    FileReport, InputError, InputKind, LintOptions, Origin, PolicyKind, count_non_whitespace,
    lint_bytes, lint_policy_document, lint_policy_document_as, lint_text,
};
pub use rules::Rule;

/// `12345` → `12,345`: sizes in messages, as IAM's documentation writes its limits.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
