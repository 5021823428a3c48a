//! What every `jitctl` operation works on: one region's AWS layers ([`Target`]) and the rule
//! numbers jit numbers grants in ([`RuleRange`]).

use std::fmt;
use std::str::FromStr;

use crate::aws::client_vpn::ClientVpns;
use crate::aws::iam::Policies;
use crate::aws::nacl::Nacls;
use crate::config::{DEFAULT_RULE_NUMBERS, RULE_NUMBER_MAX, RULE_NUMBER_MIN};

/// One region to work on: its name (for output), its network ACLs, IAM (global: only the
/// first target's is used) and its Client VPN endpoints.
pub struct Target {
    pub region: String,
    pub nacls: Nacls,
    pub policies: Policies,
    pub client_vpns: ClientVpns,
}

/// Rule numbers in which an entry without a jit tag looks like a lost jit grant: the provider's
/// default `rule_numbers` range unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRange {
    pub from: i32,
    pub to: i32,
}

impl Default for RuleRange {
    fn default() -> Self {
        RuleRange {
            from: DEFAULT_RULE_NUMBERS.0,
            to: DEFAULT_RULE_NUMBERS.1,
        }
    }
}

impl RuleRange {
    pub fn contains(self, n: i32) -> bool {
        (self.from..=self.to).contains(&n)
    }
}

impl fmt::Display for RuleRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.from, self.to)
    }
}

impl FromStr for RuleRange {
    type Err = String;

    /// Parses `FROM-TO`, e.g. `100-199`, within the numbers AWS allows.
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("{s:?} is not a rule-number range; expected FROM-TO, e.g. 100-199");
        let (from, to) = s.split_once('-').ok_or_else(usage)?;
        let from: i32 = from.trim().parse().map_err(|_| usage())?;
        let to: i32 = to.trim().parse().map_err(|_| usage())?;
        for n in [from, to] {
            if !(RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(&n) {
                return Err(format!(
                    "{n} is outside {RULE_NUMBER_MIN}-{RULE_NUMBER_MAX}, the rule numbers AWS allows"
                ));
            }
        }
        if from > to {
            return Err(format!("{s:?}: {from} is greater than {to}"));
        }
        Ok(RuleRange { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ranges_parse_and_explain_mistakes() {
        assert_eq!(
            "100-199".parse::<RuleRange>().unwrap(),
            RuleRange::default()
        );
        assert_eq!(
            "7-7".parse::<RuleRange>().unwrap(),
            RuleRange { from: 7, to: 7 }
        );
        assert!(
            "200-100"
                .parse::<RuleRange>()
                .unwrap_err()
                .contains("greater")
        );
        assert!(
            "0-10"
                .parse::<RuleRange>()
                .unwrap_err()
                .contains("outside 1-32766")
        );
        assert!("100".parse::<RuleRange>().unwrap_err().contains("FROM-TO"));
    }
}
