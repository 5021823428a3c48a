//! jitlint over every policy document jit writes, and which of its rules the provider enforces.
//!
//! The provider runs the whole of jitlint (every rule, default settings) on each document it is
//! about to write, at plan time. What a finding becomes depends on its rule ([`treatment`]):
//!
//! - a rule in [`ENFORCED`] is an error: the document is one IAM refuses, or one that would not
//!   fence what it says, and jit never writes it;
//! - [`Rule::SourceIpDenyBlocksAwsServices`] (JIT007) is a warning on `exempt_aws_services`: the
//!   user chose to deny AWS services acting for them;
//! - any other rule is a warning. A rule added to jitlint later must never stop an apply that
//!   worked, so it counts only once it is reviewed and listed here; the tests below render the
//!   documents jit can produce through every rule and fail on any finding, so that review happens
//!   in CI, not in a user's apply.

use jitlint::{Config, Finding, PolicyKind, Rule};

/// The rules whose findings on a document jit is about to write are errors. Every rule that
/// reads customer managed policies is here, except JIT007 (see the module documentation).
pub const ENFORCED: [Rule; 13] = [
    Rule::NaclEntryWriteUnscoped,
    Rule::SourceIpInvalid,
    Rule::SourceIpTooBroad,
    Rule::PolicySizeLimit,
    Rule::PolicyVersionWriteUnscoped,
    Rule::StatementMissingElement,
    Rule::SourceIpFencePrivateOnly,
    Rule::InvalidPolicyGrammar,
    Rule::EmptyPolicyElement,
    Rule::InvalidCondition,
    Rule::ConditionValueTypeMismatch,
    Rule::InvalidResourceArn,
    Rule::InvalidPolicyVariable,
];

/// What a finding of `rule` on a document jit writes becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// The document is not written.
    Error,
    /// Shown, and the document is written.
    Warning,
}

pub fn treatment(rule: Rule) -> Treatment {
    if ENFORCED.contains(&rule) {
        Treatment::Error
    } else {
        Treatment::Warning
    }
}

/// The enforced rules, `JIT001 (nacl-entry-write-unscoped), …`, for the documentation.
pub fn enforced_list() -> String {
    ENFORCED
        .iter()
        .map(|r| format!("`{}` ({})", r.code(), r.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every jitlint rule, with its default settings, on `doc`, a customer managed policy.
pub fn lint(doc: &str) -> Result<Vec<Finding>, String> {
    jitlint::lint_policy_document_as(doc, PolicyKind::Managed, &Config::default())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use ipnet::IpNet;
    use time::Duration;

    use super::*;
    use crate::policy::document::{MANAGED_POLICY_SIZE_LIMIT, fits};
    use crate::policy::testing::t;
    use crate::policy::{Spec, Temporary};

    #[test]
    fn every_rule_that_reads_managed_policies_is_enforced_or_reviewed() {
        for rule in Rule::ALL {
            let reads = rule.applies_to(PolicyKind::Managed);
            let listed = ENFORCED.contains(&rule);
            if rule == Rule::SourceIpDenyBlocksAwsServices {
                assert!(reads && !listed, "{rule}: a warning on exempt_aws_services");
            } else {
                assert_eq!(
                    reads,
                    listed,
                    "{rule} ({}): every rule that reads managed policies is reviewed for the provider \
                     and listed in ENFORCED (or handled like JIT007); a rule that does not read them is not listed",
                    rule.name()
                );
            }
        }
        assert_eq!(treatment(Rule::SourceIpInvalid), Treatment::Error);
        assert_eq!(treatment(Rule::OpenApiGateway), Treatment::Warning);
        assert_eq!(
            treatment(Rule::SourceIpDenyBlocksAwsServices),
            Treatment::Warning
        );
        assert!(enforced_list().starts_with("`JIT001` (nacl-entry-write-unscoped), `JIT005`"));
    }

    /// xorshift64: the same documents on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A range the provider accepts: IPv4 no wider than /8 and IPv6 no wider than /32 (JIT006's
    /// thresholds, which the provider's own validation uses), public or, now and then, private.
    fn range(rng: &mut Rng) -> IpNet {
        let net = match rng.below(10) {
            0..=5 => {
                let first = [3u8, 13, 52, 81, 198, 203][rng.below(6) as usize];
                let addr = std::net::Ipv4Addr::new(
                    first,
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                );
                IpNet::new(addr.into(), 8 + rng.below(25) as u8)
            }
            6 => IpNet::new(
                std::net::Ipv4Addr::new(10, rng.below(256) as u8, 0, 0).into(),
                16 + rng.below(17) as u8,
            ),
            _ => {
                let addr = std::net::Ipv6Addr::new(
                    0x2001,
                    0x0db8,
                    rng.below(0x10000) as u16,
                    rng.below(0x10000) as u16,
                    0,
                    0,
                    0,
                    rng.below(0x10000) as u16,
                );
                IpNet::new(addr.into(), 32 + rng.below(97) as u8)
            }
        };
        net.expect("a valid prefix length").trunc()
    }

    fn spec(rng: &mut Rng) -> Spec {
        let now = t("2026-12-01T09:00:00Z");
        let mut allowed: Vec<IpNet> = (0..1 + rng.below(6)).map(|_| range(rng)).collect();
        if rng.below(20) == 0 {
            // Many ranges: documents near IAM's size quota.
            allowed.extend((0..150 + rng.below(150)).map(|_| range(rng)));
        }
        allowed.dedup();
        let temporary = (0..rng.below(8))
            .map(|_| Temporary {
                cidr: range(rng),
                // A few shared instants, so expiry statements group ranges.
                expires_at: now + Duration::minutes(30 * (1 + rng.below(6) as i64)),
            })
            .collect();
        let actions: &[&[&str]] = &[
            &["*"],
            &["ec2:*"],
            &["s3:GetObject", "s3:PutObject"],
            &["iam:*", "sts:AssumeRole", "ec2:Describe*"],
            &["ssm:StartSession", "ec2-instance-connect:SendSSHPublicKey"],
        ];
        Spec {
            allowed,
            temporary,
            deny_actions: actions[rng.below(actions.len() as u64) as usize]
                .iter()
                .map(|a| a.to_string())
                .collect(),
            exempt_aws_services: rng.below(4) != 0,
        }
    }

    /// Every finding on the document, as `JIT00n`, except those the spec asks for: JIT007 when AWS
    /// services are not exempt, and JIT012 when every range is private.
    fn unexpected(spec: &Spec, doc: &str) -> Vec<String> {
        let private_only = spec
            .allowed
            .iter()
            .chain(spec.temporary.iter().map(|t| &t.cidr))
            .all(|n| matches!(n, IpNet::V4(v4) if v4.network().is_private()));
        lint(doc)
            .unwrap_or_else(|e| panic!("jitlint could not read a document jit renders: {e}\n{doc}"))
            .into_iter()
            .filter(|f| {
                let asked = (f.rule == Rule::SourceIpDenyBlocksAwsServices
                    && !spec.exempt_aws_services)
                    || (f.rule == Rule::SourceIpFencePrivateOnly && private_only);
                !asked
            })
            .map(|f| format!("{} ({}): {}", f.rule.code(), f.rule.name(), f.message))
            .collect()
    }

    /// The documents jit writes (what the provider renders at apply, and what `jitctl` writes
    /// after pruning or revoking an entry), from 2,000 seeded allowlists, through every rule:
    /// none reports anything the allowlist does not ask for.
    #[test]
    fn every_document_jit_renders_passes_every_rule() {
        let mut rng = Rng(0x6a69_745f_6c69_6e74);
        let (mut linted, mut near_quota) = (0, 0);
        for case in 0..2_000 {
            let spec = spec(&mut rng);
            if !fits(&spec, MANAGED_POLICY_SIZE_LIMIT) {
                // Refused on its size before anything is rendered or linted.
                continue;
            }
            let doc = spec.render();
            let found = unexpected(&spec, &doc);
            assert!(
                found.is_empty(),
                "case {case}: {found:#?}\n{spec:#?}\n{doc}"
            );
            linted += 1;
            if crate::policy::document::policy_size(&doc) > MANAGED_POLICY_SIZE_LIMIT / 2 {
                near_quota += 1;
            }
            // jitctl: read back, prune what has expired, write again.
            let mut pruned = Spec::decode(&doc).expect("jit reads back what it renders");
            pruned.prune(t("2026-12-01T10:15:00Z"));
            let again = pruned.render();
            let found = unexpected(&pruned, &again);
            assert!(found.is_empty(), "case {case}, pruned: {found:#?}\n{again}");
        }
        assert!(linted > 1_500, "only {linted} documents fit");
        assert!(
            near_quota > 10,
            "only {near_quota} documents near the quota"
        );
    }

    /// A private-only allowlist gets JIT012 (an error on `allowed_cidrs`), and nothing else.
    #[test]
    fn a_private_only_allowlist_is_reported_as_such() {
        let spec = crate::policy::testing::spec(&["10.0.0.0/16", "192.168.1.0/24"], vec![]);
        let findings = lint(&spec.render()).unwrap();
        let rules: Vec<Rule> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(rules, [Rule::SourceIpFencePrivateOnly]);
        assert_eq!(treatment(rules[0]), Treatment::Error);
    }
}
