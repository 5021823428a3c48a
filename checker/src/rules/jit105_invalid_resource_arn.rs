//! ## What it does
//! Checks the syntax of every ARN in `Resource` and `NotResource` (a value other than `"*"`),
//! field by field, as Access Analyzer does:
//!
//! | problem | Access Analyzer |
//! |---|---|
//! | does not start with `arn:` (a bucket name, an instance id, `ARN:…`) | `INVALID_ARN_PREFIX` |
//! | fewer than six `:`-separated fields (`arn:aws:s3:my-bucket`) | `MISSING_ARN_FIELD` |
//! | a partition other than `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, `aws-eusc` | `INVALID_PARTITION` |
//! | a service in upper case (`arn:aws:S3:::b`) | `INVALID_ARN_SERVICE_CASE` |
//! | a region that is not shaped like one (`us-east`, `US-EAST-1`, `eu_west_1`) | `INVALID_ARN_REGION` |
//! | an account that is not 12 digits (or `aws`, for AWS-owned resources) | `INVALID_ARN_ACCOUNT` |
//!
//! A missing prefix or field and an unknown partition are critical (one step above the rule's
//! severity): IAM refuses the document. A malformed service, region or account is stored, and
//! names nothing. API Gateway's shorthand `execute-api:/stage/GET/path` is accepted in API and
//! bare resource policies (API Gateway expands it to the API's ARN). A field holding a wildcard
//! (`*`, `?`) or a policy variable (`${aws:username}`) is not judged. Regions and services are
//! checked for their form only: jitlint carries no catalogue of them.
//!
//! ## Why is this bad?
//! IAM refuses a resource that is not an ARN (`MalformedPolicyDocument: Resource … must be in
//! ARN format or "*"`), and an ARN with a misspelled partition, region or account names nothing,
//! so the statement never applies: an `Allow` grants nothing and, worse, a `Deny` protects
//! nothing.
//!
//! ## Example
//! ```json
//! {
//!   "Effect": "Deny",
//!   "Action": "s3:DeleteObject",
//!   "Resource": ["my-bucket/*", "arn:aws:s3:eu-west-1:12345:my-bucket"]
//! }
//! ```
//!
//! ## Fix
//! Write the full ARN, `arn:partition:service:region:account:resource`, leaving out the fields
//! the service does not use (S3 bucket ARNs have no region or account):
//! ```json
//! "Resource": ["arn:aws:s3:::my-bucket/*", "arn:aws:s3:::my-bucket"]
//! ```

use crate::policy::PolicyKind;
use crate::rules::structure::{Doc, Issues, at, has_variable, shown, string_items};

/// What IAM refuses the whole document for (`MalformedPolicyDocument`): critical, one step above
/// the rule's severity. An ARN with a malformed region or account is stored, and matches nothing.
const REFUSED_BY_IAM: [&str; 3] = [
    "INVALID_ARN_PREFIX",
    "MISSING_ARN_FIELD",
    "INVALID_PARTITION",
];

const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

pub(crate) fn check<'n>(doc: &Doc<'n>, out: &mut Issues<'n>) {
    let api_shorthand = matches!(doc.kind, PolicyKind::Api | PolicyKind::Resource);
    for &(i, stmt) in &doc.statements {
        let here = Some((i, stmt));
        for name in ["Resource", "NotResource"] {
            let Some(v) = stmt.get(name) else { continue };
            for (value, span) in string_items(v) {
                if api_shorthand && value.starts_with("execute-api:") {
                    continue;
                }
                if let Some((code, message)) = problem(value) {
                    out.push(
                        code,
                        span,
                        here,
                        value,
                        format!("{}.{name} {}: {message}", at(i), shown(value)),
                    );
                    if REFUSED_BY_IAM.contains(&code) {
                        out.raise_last();
                    }
                }
            }
        }
    }
}

/// A field IAM reads as a pattern or a variable: not judged.
fn open(field: &str) -> bool {
    field.contains(['*', '?']) || has_variable(field)
}

fn problem(value: &str) -> Option<(&'static str, String)> {
    if value == "*" {
        return None;
    }
    let Some(rest) = value.strip_prefix("arn:") else {
        if value.starts_with("${") {
            return None;
        }
        return Some((
            "INVALID_ARN_PREFIX",
            "not an ARN; a resource is \"*\" or starts with \"arn:\"".into(),
        ));
    };
    let mut fields = rest.splitn(5, ':');
    let (Some(partition), Some(service), Some(region), Some(account), Some(_resource)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        // `arn:aws:s3:::*`-like values have six fields; a trailing wildcard may stand for the
        // missing ones.
        if value.ends_with('*') {
            return None;
        }
        return Some((
            "MISSING_ARN_FIELD",
            format!(
                "an ARN has six fields, arn:partition:service:region:account:resource, this one has {}",
                value.split(':').count()
            ),
        ));
    };
    if !open(partition) && !PARTITIONS.contains(&partition) {
        return Some((
            "INVALID_PARTITION",
            format!(
                "{} is not a partition; use aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f or aws-eusc",
                shown(partition)
            ),
        ));
    }
    if service.bytes().any(|b| b.is_ascii_uppercase()) && !has_variable(service) {
        return Some((
            "INVALID_ARN_SERVICE_CASE",
            format!(
                "the service {} must be in lower case ({})",
                shown(service),
                shown(&service.to_ascii_lowercase())
            ),
        ));
    }
    if !region.is_empty() && !open(region) && !is_region(region) {
        return Some((
            "INVALID_ARN_REGION",
            format!(
                "{} is not a region (such as eu-west-1); leave the field empty for global resources",
                shown(region)
            ),
        ));
    }
    if !account.is_empty() && !open(account) && !is_account(account) {
        return Some((
            "INVALID_ARN_ACCOUNT",
            format!(
                "{} is not an account id; use the 12 digits of the account, or leave the field empty where the service has none",
                shown(account)
            ),
        ));
    }
    None
}

/// `eu-west-1`, `us-gov-east-1`, `cn-north-1`, `us-isob-east-1`, `eusc-de-east-1`: letters in
/// two or more lower-case parts, then a number.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// Twelve digits, or `aws` (AWS managed policies and other resources AWS owns).
fn is_account(account: &str) -> bool {
    account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_fields() {
        for ok in [
            "*",
            "arn:aws:s3:::my-bucket/*",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:ec2:us-gov-west-1:123456789012:network-acl/*",
            "arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-1",
            "arn:aws:logs:*:*:*",
            "arn:*:s3:::b",
            "arn:aws:s3:::b/${aws:username}/*",
            "arn:aws:ec2:*",
            "arn:aws:execute-api:eusc-de-east-1:123456789012:api/*",
            "${aws:ResourceArn}",
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
        for (bad, code) in [
            ("my-bucket/*", "INVALID_ARN_PREFIX"),
            ("ARN:aws:s3:::b", "INVALID_ARN_PREFIX"),
            ("arn:aws:s3:b", "MISSING_ARN_FIELD"),
            ("arn:aws2:s3:::b", "INVALID_PARTITION"),
            ("arn:aws:S3:::b", "INVALID_ARN_SERVICE_CASE"),
            (
                "arn:aws:ec2:us-east:123456789012:vpc/*",
                "INVALID_ARN_REGION",
            ),
            (
                "arn:aws:ec2:EU-WEST-1:123456789012:vpc/*",
                "INVALID_ARN_REGION",
            ),
            ("arn:aws:ec2:eu-west-1:12345:vpc/*", "INVALID_ARN_ACCOUNT"),
        ] {
            assert_eq!(problem(bad).map(|p| p.0), Some(code), "{bad}");
        }
    }
}
