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
mod check;
pub mod cidr;
pub mod config;
mod document;
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
mod report;
pub mod rules;
mod severity;
mod terraform;
mod text;

pub use config::Config;
pub use finding::Finding;
pub use input::{InputKind, detect};
pub use lint::{
    FileReport, Origin, lint_bytes, lint_policy_document, lint_policy_document_as, lint_text,
};
pub use policy::PolicyKind;
pub use report::{InputError, LintOptions};
pub use rules::Rule;
pub use severity::Severity;
pub use text::{count_non_whitespace, thousands};
