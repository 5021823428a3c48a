//! The rule registry: stable codes, names, default severities, and each rule's documentation.
//!
//! Every rule lives in its own file whose module doc comment (*What it does / Why is this bad? /
//! Example / Fix*) is the single source of its documentation: `jitlint explain`, `jitlint rules`
//! and `docs/rules.md` are all produced from it.

use std::fmt;

use crate::policy::PolicyKind;
use crate::severity::Severity;

pub(crate) mod grants;
pub(crate) mod jit001_nacl_entry_write_unscoped;
pub(crate) mod jit002_open_api_gateway;
pub(crate) mod jit003_client_vpn_handler_prefix;
pub(crate) mod jit004_client_vpn_handler_timeout;
pub(crate) mod jit005_source_ip_invalid;
pub(crate) mod jit006_source_ip_too_broad;
pub(crate) mod jit007_source_ip_deny_blocks_aws_services;
pub(crate) mod jit008_policy_size_limit;
pub(crate) mod jit009_policy_version_write_unscoped;
pub(crate) mod jit010_jit_grant_too_long;
pub(crate) mod jit011_statement_missing_element;
pub(crate) mod jit012_source_ip_fence_private_only;
pub(crate) mod jit013_jit_grant_erased;
pub(crate) mod jit101_invalid_policy_grammar;
pub(crate) mod jit102_empty_policy_element;
pub(crate) mod jit103_invalid_condition;
pub(crate) mod jit104_condition_value_type_mismatch;
pub(crate) mod jit105_invalid_resource_arn;
pub(crate) mod jit106_invalid_policy_variable;
pub(crate) mod scope;
pub(crate) mod structure;

/// A rule. The discriminant order is the code order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    NaclEntryWriteUnscoped,
    OpenApiGateway,
    ClientVpnHandlerPrefix,
    ClientVpnHandlerTimeout,
    SourceIpInvalid,
    SourceIpTooBroad,
    SourceIpDenyBlocksAwsServices,
    PolicySizeLimit,
    PolicyVersionWriteUnscoped,
    JitGrantTooLong,
    StatementMissingElement,
    SourceIpFencePrivateOnly,
    JitGrantErased,
    InvalidPolicyGrammar,
    EmptyPolicyElement,
    InvalidCondition,
    ConditionValueTypeMismatch,
    InvalidResourceArn,
    InvalidPolicyVariable,
}

/// A rule's catalogue entry.
#[derive(Debug)]
pub struct RuleInfo {
    pub rule: Rule,
    /// `JIT001`…: never reused or renumbered.
    pub code: &'static str,
    /// Kebab-case name, also accepted wherever a code is.
    pub name: &'static str,
    pub default_severity: Severity,
    /// One line for catalogues.
    pub summary: &'static str,
    /// The kinds of policy document the rule reads (empty: it reads only Terraform resources).
    pub kinds: &'static [PolicyKind],
    source: &'static str,
}

const IDENTITY: &[PolicyKind] = &PolicyKind::IDENTITY;
const ALL_KINDS: &[PolicyKind] = &PolicyKind::ALL;

/// All rules in code order.
pub static RULES: [RuleInfo; 19] = [
    RuleInfo {
        rule: Rule::NaclEntryWriteUnscoped,
        code: "JIT001",
        name: "nacl-entry-write-unscoped",
        default_severity: Severity::High,
        summary: "An Allow lets the holder rewrite entries of every network ACL",
        kinds: IDENTITY,
        source: include_str!("jit001_nacl_entry_write_unscoped.rs"),
    },
    RuleInfo {
        rule: Rule::OpenApiGateway,
        code: "JIT002",
        name: "open-api-gateway",
        default_severity: Severity::High,
        summary: "An API Gateway method, route, Lambda URL or resource policy is open to everyone",
        kinds: &[PolicyKind::Resource, PolicyKind::Api],
        source: include_str!("jit002_open_api_gateway.rs"),
    },
    RuleInfo {
        rule: Rule::ClientVpnHandlerPrefix,
        code: "JIT003",
        name: "client-vpn-handler-prefix",
        default_severity: Severity::Critical,
        summary: "A Client VPN connect handler's function name lacks the AWSClientVPN- prefix",
        kinds: &[],
        source: include_str!("jit003_client_vpn_handler_prefix.rs"),
    },
    RuleInfo {
        rule: Rule::ClientVpnHandlerTimeout,
        code: "JIT004",
        name: "client-vpn-handler-timeout",
        default_severity: Severity::Medium,
        summary: "A Client VPN connect handler may run longer than the 30 s the service waits",
        kinds: &[],
        source: include_str!("jit004_client_vpn_handler_timeout.rs"),
    },
    RuleInfo {
        rule: Rule::SourceIpInvalid,
        code: "JIT005",
        name: "source-ip-invalid",
        default_severity: Severity::High,
        summary: "An aws:SourceIp value is not an IP address or CIDR block, or has host bits set",
        kinds: ALL_KINDS,
        source: include_str!("jit005_source_ip_invalid.rs"),
    },
    RuleInfo {
        rule: Rule::SourceIpTooBroad,
        code: "JIT006",
        name: "source-ip-too-broad",
        default_severity: Severity::High,
        summary: "An IP allowlist admits everyone (0.0.0.0/0, ::/0 or a very short prefix)",
        kinds: ALL_KINDS,
        source: include_str!("jit006_source_ip_too_broad.rs"),
    },
    RuleInfo {
        rule: Rule::SourceIpDenyBlocksAwsServices,
        code: "JIT007",
        name: "source-ip-deny-blocks-aws-services",
        default_severity: Severity::Medium,
        summary: "A Deny on NotIpAddress aws:SourceIp also blocks AWS services acting for the user",
        kinds: ALL_KINDS,
        source: include_str!("jit007_source_ip_deny_blocks_aws_services.rs"),
    },
    RuleInfo {
        rule: Rule::PolicySizeLimit,
        code: "JIT008",
        name: "policy-size-limit",
        default_severity: Severity::High,
        summary: "A policy, or the inline policies of one principal, exceed IAM's size limit",
        kinds: &[
            PolicyKind::Managed,
            PolicyKind::InlineRole,
            PolicyKind::InlineUser,
            PolicyKind::InlineGroup,
            PolicyKind::PermissionSet,
            PolicyKind::Scp,
        ],
        source: include_str!("jit008_policy_size_limit.rs"),
    },
    RuleInfo {
        rule: Rule::PolicyVersionWriteUnscoped,
        code: "JIT009",
        name: "policy-version-write-unscoped",
        default_severity: Severity::High,
        summary: "iam:CreatePolicyVersion or iam:SetDefaultPolicyVersion on any policy",
        kinds: IDENTITY,
        source: include_str!("jit009_policy_version_write_unscoped.rs"),
    },
    RuleInfo {
        rule: Rule::JitGrantTooLong,
        code: "JIT010",
        name: "jit-grant-too-long",
        default_severity: Severity::Medium,
        summary: "A jit grant lasts longer than the TTL cap or opens a range wider than allowed",
        kinds: &[],
        source: include_str!("jit010_jit_grant_too_long.rs"),
    },
    RuleInfo {
        rule: Rule::StatementMissingElement,
        code: "JIT011",
        name: "statement-missing-element",
        default_severity: Severity::Critical,
        summary: "A statement lacks an element IAM requires (Action, Resource or Principal)",
        kinds: ALL_KINDS,
        source: include_str!("jit011_statement_missing_element.rs"),
    },
    RuleInfo {
        rule: Rule::SourceIpFencePrivateOnly,
        code: "JIT012",
        name: "source-ip-fence-private-only",
        default_severity: Severity::High,
        summary: "A Deny NotIpAddress aws:SourceIp fence admits only private ranges, so it denies everyone",
        kinds: ALL_KINDS,
        source: include_str!("jit012_source_ip_fence_private_only.rs"),
    },
    RuleInfo {
        rule: Rule::JitGrantErased,
        code: "JIT013",
        name: "jit-grant-erased",
        default_severity: Severity::High,
        summary: "Another resource will delete jit's grants: inline ACL rules, a managed default ACL, or tags without ignore_tags",
        kinds: &[],
        source: include_str!("jit013_jit_grant_erased.rs"),
    },
    RuleInfo {
        rule: Rule::InvalidPolicyGrammar,
        code: "JIT101",
        name: "invalid-policy-grammar",
        default_severity: Severity::Critical,
        summary: "A policy breaks IAM's grammar (types, elements, Effect, Version, Sid, Principal), so IAM refuses it",
        kinds: ALL_KINDS,
        source: include_str!("jit101_invalid_policy_grammar.rs"),
    },
    RuleInfo {
        rule: Rule::EmptyPolicyElement,
        code: "JIT102",
        name: "empty-policy-element",
        default_severity: Severity::Low,
        summary: "An Action, Resource, Principal, Condition or Sid is present but empty",
        kinds: ALL_KINDS,
        source: include_str!("jit102_empty_policy_element.rs"),
    },
    RuleInfo {
        rule: Rule::InvalidCondition,
        code: "JIT103",
        name: "invalid-condition",
        default_severity: Severity::Critical,
        summary: "A condition uses an operator IAM does not know, Null with IfExists, or one key twice in different case",
        kinds: ALL_KINDS,
        source: include_str!("jit103_invalid_condition.rs"),
    },
    RuleInfo {
        rule: Rule::ConditionValueTypeMismatch,
        code: "JIT104",
        name: "condition-value-type-mismatch",
        default_severity: Severity::Medium,
        summary: "A condition value does not fit its operator (IP, date, number, boolean; a wildcard without Like)",
        kinds: ALL_KINDS,
        source: include_str!("jit104_condition_value_type_mismatch.rs"),
    },
    RuleInfo {
        rule: Rule::InvalidResourceArn,
        code: "JIT105",
        name: "invalid-resource-arn",
        default_severity: Severity::High,
        summary: "A Resource is not a well-formed ARN (prefix, fields, partition, service case, region, account)",
        kinds: ALL_KINDS,
        source: include_str!("jit105_invalid_resource_arn.rs"),
    },
    RuleInfo {
        rule: Rule::InvalidPolicyVariable,
        code: "JIT106",
        name: "invalid-policy-variable",
        default_severity: Severity::High,
        summary: "A policy variable is malformed, or used where or in a Version in which IAM does not substitute it",
        kinds: ALL_KINDS,
        source: include_str!("jit106_invalid_policy_variable.rs"),
    },
];

impl Rule {
    pub const ALL: [Rule; 19] = [
        Rule::NaclEntryWriteUnscoped,
        Rule::OpenApiGateway,
        Rule::ClientVpnHandlerPrefix,
        Rule::ClientVpnHandlerTimeout,
        Rule::SourceIpInvalid,
        Rule::SourceIpTooBroad,
        Rule::SourceIpDenyBlocksAwsServices,
        Rule::PolicySizeLimit,
        Rule::PolicyVersionWriteUnscoped,
        Rule::JitGrantTooLong,
        Rule::StatementMissingElement,
        Rule::SourceIpFencePrivateOnly,
        Rule::JitGrantErased,
        Rule::InvalidPolicyGrammar,
        Rule::EmptyPolicyElement,
        Rule::InvalidCondition,
        Rule::ConditionValueTypeMismatch,
        Rule::InvalidResourceArn,
        Rule::InvalidPolicyVariable,
    ];

    pub fn info(self) -> &'static RuleInfo {
        &RULES[self as usize]
    }

    pub fn code(self) -> &'static str {
        self.info().code
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn default_severity(self) -> Severity {
        self.info().default_severity
    }

    /// Whether the rule reads policy documents of this kind.
    pub fn applies_to(self, kind: PolicyKind) -> bool {
        self.info().kinds.contains(&kind)
    }

    /// Looks a rule up by code (`JIT001`, any case) or name (`nacl-entry-write-unscoped`).
    pub fn lookup(code_or_name: &str) -> Option<Rule> {
        RULES
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
            .map(|r| r.rule)
    }

    /// The rule's documentation in Markdown, taken from its file's module doc comment.
    pub fn docs(self) -> String {
        doc_comment(self.info().source)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The leading `//!` lines of a source file, without the markers.
fn doc_comment(source: &str) -> String {
    let mut out = String::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("//!") else {
            break;
        };
        out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// Which documents a rule reads, for the catalogue.
fn kinds_text(kinds: &[PolicyKind]) -> String {
    if kinds.is_empty() {
        "Terraform resources only".into()
    } else if kinds == ALL_KINDS {
        "every kind of policy document".into()
    } else if kinds == IDENTITY {
        "identity policies (customer and AWS managed, inline, permission sets) only".into()
    } else {
        let nouns: Vec<String> = kinds
            .iter()
            .map(|k| {
                let noun = k.noun();
                noun.strip_suffix("policy")
                    .map_or_else(|| noun.to_string(), |n| format!("{n}policies"))
            })
            .collect();
        nouns.join(", ")
    }
}

/// The rule catalogue as Markdown: the content of `docs/rules.md`.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# jitlint rules\n\n\
         <!-- Generated from the doc comments in checker/src/rules/ by `jitlint rules --format markdown`; \
         the test `rule_docs_are_fresh` fails when this file is stale. -->\n\n\
         | Code | Name | Default severity | Summary |\n|---|---|---|---|\n",
    );
    for r in &RULES {
        out.push_str(&format!(
            "| [{code}](#{anchor}) | `{name}` | {sev} | {summary} |\n",
            code = r.code,
            anchor = format!("{}-{}", r.code, r.name).to_ascii_lowercase(),
            name = r.name,
            sev = r.default_severity,
            summary = r.summary
        ));
    }
    for r in &RULES {
        out.push_str(&format!(
            "\n## {} {}\n\nDefault severity: **{}**. Reads: {}.\n\n",
            r.code,
            r.name,
            r.default_severity,
            kinds_text(r.kinds)
        ));
        // Rule docs use `##` sections; nest them under the rule's heading.
        for line in doc_comment(r.source).lines() {
            if line.starts_with("## ") {
                out.push('#');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.rule as usize, i);
            assert_eq!(Rule::ALL[i], r.rule);
            // JIT001… for jit's own rules, JIT101… for AWS's structural checks; never reused.
            let number: usize = r.code.strip_prefix("JIT").unwrap().parse().unwrap();
            assert_eq!(r.code, format!("JIT{number:03}"));
            if i > 0 {
                assert!(RULES[i - 1].code < r.code, "{} is out of order", r.code);
            }
            assert_eq!(Rule::lookup(r.code), Some(r.rule));
            assert_eq!(Rule::lookup(&r.code.to_lowercase()), Some(r.rule));
            assert_eq!(Rule::lookup(r.name), Some(r.rule));
            let docs = r.rule.docs();
            for section in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "## Fix",
            ] {
                assert!(docs.contains(section), "{} lacks {section}", r.code);
            }
        }
        assert_eq!(Rule::lookup("JIT014"), None);
        assert_eq!(Rule::lookup("JIT100"), None);
    }
}
