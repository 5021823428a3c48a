//! The network-ACL grant domain: what a grant is, how it is recorded in AWS, and what state a
//! recorded grant is in. Pure: no Terraform types, no AWS SDK, no async. The `jit_access_rule`
//! resource and `jitctl` both build on it, so each fact has one home:
//!
//! - [`id`]: the grant's unique identity ([`GrantId`]), generated at create;
//! - [`record`]: the one-tag-per-grant codec ([`Record`]), intents and revoke markers included;
//! - [`acl`]: a network ACL's entries and tags at one moment ([`AclView`]);
//! - [`lifecycle`]: who owns the entry at a rule number, and the grant-state machine with its
//!   one expiry rule;
//! - [`client_vpn`]: Client VPN grants (who may connect to an endpoint, from where), their tag
//!   on the endpoint (same key, codec, time bounds and revoke marker), and the client-connect
//!   handler's decision.
//!
//! This file holds the model itself: directions, actions, protocols, ports, the entry a grant
//! opens ([`EntrySpec`]) and the grant ([`Grant`]), plus the grant address `acl-…:ingress:200`.

pub mod acl;
pub mod client_vpn;
pub mod id;
pub mod lifecycle;
pub mod record;

use std::fmt;

use ipnet::IpNet;
use time::OffsetDateTime;

pub use acl::{AclEntry, AclView};
pub use id::GrantId;
pub use record::{Record, TAG_PREFIX, TAG_VALUE_MAX, TAGS_PER_RESOURCE_MAX, TagError};

/// The lowest and highest rule numbers AWS allows for NACL entries.
pub const RULE_NUMBER_MIN: i32 = 1;
pub const RULE_NUMBER_MAX: i32 = 32766;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn from_egress(egress: bool) -> Self {
        if egress {
            Direction::Egress
        } else {
            Direction::Ingress
        }
    }

    pub fn is_egress(self) -> bool {
        self == Direction::Egress
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ingress" => Some(Direction::Ingress),
            "egress" => Some(Direction::Egress),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    Allow,
    Deny,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(RuleAction::Allow),
            "deny" => Some(RuleAction::Deny),
            _ => None,
        }
    }
}

/// An IP protocol as a NACL entry holds it: AWS's number, `-1` for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol(pub i16);

impl Protocol {
    pub const ALL: Protocol = Protocol(-1);
    pub const ICMP: Protocol = Protocol(1);
    pub const TCP: Protocol = Protocol(6);
    pub const UDP: Protocol = Protocol(17);
    pub const ICMPV6: Protocol = Protocol(58);

    /// Parses a name (`tcp`, `udp`, `icmp`, `icmpv6`, `all`) or an IANA number (0-255, `-1`).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => return Ok(Self::TCP),
            "udp" => return Ok(Self::UDP),
            "icmp" => return Ok(Self::ICMP),
            "icmpv6" => return Ok(Self::ICMPV6),
            "all" | "-1" => return Ok(Self::ALL),
            _ => {}
        }
        match s.parse::<i16>() {
            Ok(n) if (0..=255).contains(&n) => Ok(Protocol(n)),
            _ => Err(format!(
                "{s:?} is not a protocol; use tcp, udp, icmp, icmpv6, all, or an IANA protocol number 0-255"
            )),
        }
    }

    /// AWS's spelling in API calls: the number as a string.
    pub fn aws_value(self) -> String {
        self.0.to_string()
    }

    /// Whether entries of this protocol take a port range.
    pub fn has_ports(self) -> bool {
        self == Self::TCP || self == Self::UDP
    }

    pub fn is_icmp(self) -> bool {
        self == Self::ICMP || self == Self::ICMPV6
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ALL => f.write_str("all"),
            Self::TCP => f.write_str("tcp"),
            Self::UDP => f.write_str("udp"),
            Self::ICMP => f.write_str("icmp"),
            Self::ICMPV6 => f.write_str("icmpv6"),
            Protocol(n) => write!(f, "{n}"),
        }
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub from: u16,
    pub to: u16,
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// What a NACL entry lets through or blocks; the part of a grant that AWS itself stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    pub direction: Direction,
    pub rule_number: i32,
    pub cidr: IpNet,
    pub protocol: Protocol,
    pub ports: Option<Ports>,
    pub action: RuleAction,
}

impl fmt::Display for EntrySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.action.as_str(),
            self.direction,
            self.protocol,
            self.cidr
        )?;
        if let Some(p) = self.ports {
            write!(f, " port {p}")?;
        }
        Ok(())
    }
}

/// A grant: the entry plus what only jit knows (when, for how long, who and why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub entry: EntrySpec,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The TTL exactly as the user wrote it, so an import matches the configuration.
    pub ttl: String,
    pub requested_by: Option<String>,
    pub reason: Option<String>,
    /// Set by `jitctl revoke`: the grant was ended early and must not be re-created.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Valid network ACL ids: `acl-` and 8 or 17 lowercase hex digits.
pub fn valid_acl_id(id: &str) -> bool {
    id.strip_prefix("acl-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// `acl-…:ingress:200`: where a grant sits. The resource id, the import id and `jitctl`'s id.
pub fn address(acl_id: &str, direction: Direction, rule_number: i32) -> String {
    format!("{acl_id}:{direction}:{rule_number}")
}

/// Parses `acl-…:ingress:200`.
pub fn parse_address(id: &str) -> Result<(String, Direction, i32), String> {
    let usage = || {
        format!(
            "{id:?} is not a grant id; expected \"acl-0123456789abcdef0:ingress:200\" (or :egress:)"
        )
    };
    let mut parts = id.split(':');
    let (Some(acl), Some(dir), Some(num), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(usage());
    };
    if !valid_acl_id(acl) {
        return Err(usage());
    }
    let direction = Direction::parse(dir).ok_or_else(usage)?;
    let n: i32 = num.parse().map_err(|_| usage())?;
    if !(RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(&n) {
        return Err(usage());
    }
    Ok((acl.to_string(), direction, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_and_numbers() {
        assert_eq!(Protocol::parse("UDP").unwrap(), Protocol::UDP);
        assert_eq!(Protocol::parse("all").unwrap(), Protocol::ALL);
        assert_eq!(Protocol::parse("47").unwrap(), Protocol(47));
        assert!(
            Protocol::parse("bogus")
                .unwrap_err()
                .contains("\"bogus\" is not a protocol")
        );
        assert!(Protocol::parse("256").is_err());
    }

    #[test]
    fn addresses_round_trip_and_refuse_garbage() {
        let id = address("acl-0123456789abcdef0", Direction::Egress, 200);
        assert_eq!(id, "acl-0123456789abcdef0:egress:200");
        assert_eq!(
            parse_address(&id).unwrap(),
            ("acl-0123456789abcdef0".to_string(), Direction::Egress, 200)
        );
        for bad in [
            "acl-0123456789abcdef0:ingress:0",
            "acl-xyz:ingress:200",
            "acl-0123456789abcdef0:in:200",
            "acl-0123456789abcdef0:ingress:200:1",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }
}
