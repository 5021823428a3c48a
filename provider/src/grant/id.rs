//! A grant's identity: unique per grant, generated when the grant is created, recorded in its
//! tag key and in Terraform state. Every write that removes or changes a grant's record or entry
//! first checks that identity, so one grant never acts on another's.
//!
//! Two forms exist:
//! - new grants: 12 characters of RFC 4648 base32 (`a-z`, `2-7`), 60 random bits;
//! - grants recorded before identities existed (schema version 0): their record was keyed by
//!   direction and rule number (`jit:grant:ingress:200`), so their id is that `ingress:200`.
//!   State upgrades derive it from the old state alone, and it still names the old record.

use std::fmt;

use crate::grant::model::{Direction, RULE_NUMBER_MAX, RULE_NUMBER_MIN};

/// Characters of a new id.
const LEN: usize = 12;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantId(String);

impl GrantId {
    /// A fresh random id. Fails only when the OS has no randomness to give.
    pub fn random() -> Result<GrantId, String> {
        let mut bytes = [0u8; LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("could not draw a random grant id from the OS: {e}"))?;
        Ok(GrantId(
            bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b & 31)] as char)
                .collect(),
        ))
    }

    /// The id of a grant recorded before ids existed, at `direction`/`rule_number`.
    pub fn legacy(direction: Direction, rule_number: i32) -> GrantId {
        GrantId(format!("{direction}:{rule_number}"))
    }

    /// Parses either form; `None` for anything else.
    pub fn parse(s: &str) -> Option<GrantId> {
        if s.len() == LEN && s.bytes().all(|b| ALPHABET.contains(&b)) {
            return Some(GrantId(s.to_string()));
        }
        let (direction, rule_number) = Self::parse_legacy(s)?;
        Some(GrantId::legacy(direction, rule_number))
    }

    fn parse_legacy(s: &str) -> Option<(Direction, i32)> {
        let (dir, num) = s.split_once(':')?;
        let n: i32 = num.parse().ok()?;
        // Only the canonical spelling, so one record has one id.
        (n.to_string() == num && (RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(&n))
            .then_some((Direction::parse(dir)?, n))
    }

    /// For a legacy id, the direction and rule number its record is keyed by.
    pub fn legacy_slot(&self) -> Option<(Direction, i32)> {
        Self::parse_legacy(&self.0)
    }

    pub fn is_legacy(&self) -> bool {
        self.legacy_slot().is_some()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_new_form_and_differ() {
        let a = GrantId::random().unwrap();
        let b = GrantId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 12);
        assert_eq!(GrantId::parse(a.as_str()), Some(a.clone()));
        assert!(!a.is_legacy());
    }

    #[test]
    fn legacy_ids_name_their_slot() {
        let id = GrantId::legacy(Direction::Egress, 200);
        assert_eq!(id.as_str(), "egress:200");
        assert_eq!(id.legacy_slot(), Some((Direction::Egress, 200)));
        assert_eq!(GrantId::parse("egress:200"), Some(id));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "ingress:0",
            "ingress:32767",
            "ingress:0200",
            "ingress:+200",
            "sideways:200",
            "ABCDEFGHIJKL",
            "abcdefghijk1",
            "abcdefghijklm",
        ] {
            assert_eq!(GrantId::parse(bad), None, "{bad}");
        }
    }
}
