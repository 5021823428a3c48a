//! A network-ACL grant as jit records it in AWS: one tag on the network ACL per grant.
//!
//! NACL entries cannot carry tags, so the ACL carries one tag per grant, keyed by direction
//! and rule number (`jit:grant:ingress:200`). The value holds everything needed to recover
//! the grant from AWS alone (import, `jitctl`): times, TTL, CIDR, protocol, ports, action,
//! requester and reason, plus room for a revoke marker. AWS limits a tag value to 256
//! characters, so the format is compact and free text is percent-encoded.

use std::fmt;

use ipnet::IpNet;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use time::OffsetDateTime;

/// Every jit tag key starts with this; `jitctl` finds grants by it.
pub const TAG_PREFIX: &str = "jit:grant:";
/// AWS's limit on the length of a tag value.
pub const TAG_VALUE_MAX: usize = 256;
/// AWS's limit on tags per resource.
pub const TAGS_PER_RESOURCE_MAX: usize = 50;
/// Room kept free in every tag value for the revoke marker (`;x=` + 10-digit epoch).
const REVOKE_MARKER_RESERVE: usize = 13;

/// Free text keeps letters, digits and a few harmless characters; the rest is %XX.
const FREE_TEXT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b' ')
    .remove(b'_')
    .remove(b'.')
    .remove(b':')
    .remove(b'/')
    .remove(b'+')
    .remove(b'-')
    .remove(b'@')
    .remove(b',');

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

/// Why a tag value could not be read back as a grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag {key:?} is not a jit grant: {reason}")]
pub struct TagError {
    pub key: String,
    pub reason: String,
}

/// The tag key of the grant at `direction`/`rule_number`.
pub fn tag_key(direction: Direction, rule_number: i32) -> String {
    format!("{TAG_PREFIX}{direction}:{rule_number}")
}

/// Parses a tag key back into direction and rule number.
pub fn parse_tag_key(key: &str) -> Option<(Direction, i32)> {
    let rest = key.strip_prefix(TAG_PREFIX)?;
    let (dir, num) = rest.split_once(':')?;
    Some((Direction::parse(dir)?, num.parse().ok()?))
}

impl Grant {
    pub fn tag_key(&self) -> String {
        tag_key(self.entry.direction, self.entry.rule_number)
    }

    /// The tag value: `v=1;c=<epoch>;e=<epoch>;t=<ttl>;n=<cidr>;p=<proto>;r=<from-to>;a=<action>;by=…;why=…[;x=<epoch>]`.
    pub fn tag_value(&self) -> String {
        let mut v = format!(
            "v=1;c={};e={};t={};n={};p={}",
            self.created_at.unix_timestamp(),
            self.expires_at.unix_timestamp(),
            encode(&self.ttl),
            self.entry.cidr,
            self.entry.protocol.0,
        );
        if let Some(p) = self.entry.ports {
            v.push_str(&format!(";r={}-{}", p.from, p.to));
        }
        v.push_str(";a=");
        v.push_str(self.entry.action.as_str());
        if let Some(by) = &self.requested_by {
            v.push_str(";by=");
            v.push_str(&encode(by));
        }
        if let Some(why) = &self.reason {
            v.push_str(";why=");
            v.push_str(&encode(why));
        }
        if let Some(x) = self.revoked_at {
            v.push_str(&format!(";x={}", x.unix_timestamp()));
        }
        v
    }

    /// How many characters the tag value may still take for free text, keeping room for the
    /// revoke marker. Negative when the grant already does not fit.
    pub fn tag_room(&self) -> i64 {
        let unmarked = Grant {
            revoked_at: None,
            ..self.clone()
        };
        TAG_VALUE_MAX as i64
            - REVOKE_MARKER_RESERVE as i64
            - unmarked.tag_value().chars().count() as i64
    }

    /// Reads a grant back from its tag.
    pub fn from_tag(key: &str, value: &str) -> Result<Grant, TagError> {
        let err = |reason: &str| TagError {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let (direction, rule_number) = parse_tag_key(key)
            .ok_or_else(|| err("the key is not jit:grant:<direction>:<number>"))?;
        let mut fields = std::collections::HashMap::new();
        for part in value.split(';') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| err("a field has no '='"))?;
            fields.insert(k, v);
        }
        if fields.get("v") != Some(&"1") {
            return Err(err("unknown format version"));
        }
        let time = |name: &str| -> Result<OffsetDateTime, TagError> {
            let raw = fields
                .get(name)
                .ok_or_else(|| err(&format!("missing {name}")))?;
            raw.parse::<i64>()
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .ok_or_else(|| err(&format!("{name} is not a time")))
        };
        let text = |name: &str| -> Result<Option<String>, TagError> {
            fields
                .get(name)
                .map(|raw| {
                    percent_decode_str(raw)
                        .decode_utf8()
                        .map(|s| s.into_owned())
                        .map_err(|_| err(&format!("{name} is not UTF-8")))
                })
                .transpose()
        };
        let cidr = fields
            .get("n")
            .and_then(|n| n.parse::<IpNet>().ok())
            .ok_or_else(|| err("missing or bad CIDR"))?;
        let protocol = fields
            .get("p")
            .and_then(|p| p.parse::<i16>().ok())
            .map(Protocol)
            .ok_or_else(|| err("missing or bad protocol"))?;
        let ports = match fields.get("r") {
            None => None,
            Some(r) => {
                let (from, to) = r.split_once('-').ok_or_else(|| err("bad port range"))?;
                Some(Ports {
                    from: from.parse().map_err(|_| err("bad port range"))?,
                    to: to.parse().map_err(|_| err("bad port range"))?,
                })
            }
        };
        let action = fields
            .get("a")
            .and_then(|a| RuleAction::parse(a))
            .ok_or_else(|| err("missing or bad action"))?;
        Ok(Grant {
            entry: EntrySpec {
                direction,
                rule_number,
                cidr,
                protocol,
                ports,
                action,
            },
            created_at: time("c")?,
            expires_at: time("e")?,
            ttl: text("t")?.ok_or_else(|| err("missing ttl"))?,
            requested_by: text("by")?,
            reason: text("why")?,
            revoked_at: fields.contains_key("x").then(|| time("x")).transpose()?,
        })
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, FREE_TEXT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Grant {
        Grant {
            entry: EntrySpec {
                direction: Direction::Ingress,
                rule_number: 200,
                cidr: "203.0.113.7/32".parse().unwrap(),
                protocol: Protocol::UDP,
                ports: Some(Ports { from: 500, to: 500 }),
                action: RuleAction::Allow,
            },
            created_at: OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap(),
            expires_at: OffsetDateTime::from_unix_timestamp(1_795_007_200).unwrap(),
            ttl: "2h".into(),
            requested_by: Some("alice".into()),
            reason: Some("VPN from hotel; room=12 100% ok — 日本".into()),
            revoked_at: None,
        }
    }

    #[test]
    fn tag_round_trips_including_awkward_text() {
        let g = sample();
        assert_eq!(g.tag_key(), "jit:grant:ingress:200");
        let v = g.tag_value();
        assert!(v.starts_with("v=1;c=1795000000;e=1795007200;t=2h;n=203.0.113.7/32;p=17;r=500-500;a=allow;by=alice;why=VPN from hotel%3B room%3D12 100%25 ok"));
        assert_eq!(Grant::from_tag(&g.tag_key(), &v).unwrap(), g);
    }

    #[test]
    fn revoke_marker_round_trips_and_fits_reserved_room() {
        let mut g = sample();
        let room = g.tag_room();
        g.reason = Some("x".repeat(room as usize + g.reason.as_ref().unwrap().len() - 80));
        assert!(g.tag_room() >= 0);
        g.revoked_at = Some(OffsetDateTime::from_unix_timestamp(1_795_003_600).unwrap());
        assert!(g.tag_value().chars().count() <= TAG_VALUE_MAX);
        assert_eq!(Grant::from_tag(&g.tag_key(), &g.tag_value()).unwrap(), g);
    }

    #[test]
    fn ipv6_all_protocol_without_ports() {
        let mut g = sample();
        g.entry.cidr = "2001:db8::/48".parse().unwrap();
        g.entry.protocol = Protocol::ALL;
        g.entry.ports = None;
        g.entry.direction = Direction::Egress;
        g.requested_by = None;
        g.reason = None;
        assert_eq!(Grant::from_tag(&g.tag_key(), &g.tag_value()).unwrap(), g);
    }

    #[test]
    fn foreign_tags_are_errors_not_panics() {
        assert!(Grant::from_tag("Name", "x").is_err());
        assert!(Grant::from_tag("jit:grant:ingress:200", "garbage").is_err());
        assert!(Grant::from_tag("jit:grant:ingress:200", "v=2;c=1").is_err());
        assert!(Grant::from_tag("jit:grant:sideways:200", "v=1").is_err());
    }

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
}
