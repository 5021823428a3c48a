//! The record of a grant in AWS: one tag on the network ACL per grant.
//!
//! NACL entries cannot carry tags, so the ACL carries one tag per grant, keyed by the grant's
//! identity (`jit:grant:<id>`), never by its rule number: two grants, one ending and one just
//! created at the same number, have two keys, and no write for one can touch the other's
//! record. The value holds everything needed to recover the grant from AWS alone (import,
//! `jitctl`, the sweeper): where it sits, times, TTL, CIDR, protocol, ports, action, requester
//! and reason, whether it is still an intent (`i=1`: written before its entry, see
//! `lifecycle`), and the revoke marker (`x=`). AWS limits a tag value to 256 characters, so the
//! format is compact and free text is percent-encoded.
//!
//! Format 2 (grants with a random id):
//! `v=2;s=<ingress|egress>:<n>;c=<epoch>;e=<epoch>;t=<ttl>;n=<cidr>;p=<proto>[;r=<from>-<to>];a=<action>[;by=…][;why=…][;i=1][;x=<epoch>]`.
//! Format 1 (grants created before ids existed) has no `s=`: its key `jit:grant:<dir>:<n>`
//! says where it sits, and that `<dir>:<n>` is its id. Both are read; format 1 is written only
//! to update a record that already has it.

use std::collections::HashMap;

use ipnet::IpNet;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use time::OffsetDateTime;

use crate::grant::id::GrantId;
use crate::grant::model::{
    Direction, EntrySpec, Grant, Ports, Protocol, RULE_NUMBER_MAX, RULE_NUMBER_MIN, RuleAction,
};

/// Every jit grant tag key starts with this; `jitctl` finds grants by it.
pub const TAG_PREFIX: &str = "jit:grant:";
/// AWS's limit on the length of a tag value.
pub const TAG_VALUE_MAX: usize = 256;
/// AWS's limit on tags per resource.
pub const TAGS_PER_RESOURCE_MAX: usize = 50;
/// Room kept free in every tag value for the revoke marker (`;x=` + 10-digit epoch), written
/// after validation.
pub(crate) const REVOKE_MARKER_RESERVE: usize = 13;
/// Room kept free in every tag value for the markers written after validation: the revoke
/// marker and the intent flag (`;i=1`).
const MARKER_RESERVE: usize = REVOKE_MARKER_RESERVE + 4;
/// The last second of year 9999: times in a record outside 1970..=9999 are refused, so no
/// later formatting or arithmetic meets a date it cannot handle.
const LATEST: i64 = 253_402_300_799;

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

/// A grant as recorded on its ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: GrantId,
    pub grant: Grant,
    /// Written before the entry and not yet confirmed: the entry may or may not exist.
    pub pending: bool,
}

/// Why a tag could not be read back as a grant record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag {key:?} is not a jit grant: {reason}")]
pub struct TagError {
    pub key: String,
    pub reason: String,
}

/// The tag key of the grant with this id.
pub fn tag_key(id: &GrantId) -> String {
    format!("{TAG_PREFIX}{id}")
}

impl Record {
    pub fn tag_key(&self) -> String {
        tag_key(&self.id)
    }

    /// The tag value (see the module documentation).
    pub fn tag_value(&self) -> String {
        let g = &self.grant;
        let mut v = if self.id.is_legacy() {
            "v=1".to_string()
        } else {
            format!("v=2;s={}:{}", g.entry.direction, g.entry.rule_number)
        };
        v.push_str(&format!(
            ";c={};e={};t={};n={};p={}",
            g.created_at.unix_timestamp(),
            g.expires_at.unix_timestamp(),
            encode(&g.ttl),
            g.entry.cidr,
            g.entry.protocol.0,
        ));
        if let Some(p) = g.entry.ports {
            v.push_str(&format!(";r={}-{}", p.from, p.to));
        }
        v.push_str(";a=");
        v.push_str(g.entry.action.as_str());
        if let Some(by) = &g.requested_by {
            v.push_str(";by=");
            v.push_str(&encode(by));
        }
        if let Some(why) = &g.reason {
            v.push_str(";why=");
            v.push_str(&encode(why));
        }
        if self.pending {
            v.push_str(";i=1");
        }
        if let Some(x) = g.revoked_at {
            v.push_str(&format!(";x={}", x.unix_timestamp()));
        }
        v
    }

    /// How many characters the tag value may still take for free text, keeping room for the
    /// markers. Negative when the grant already does not fit.
    pub fn tag_room(&self) -> i64 {
        let plain = Record {
            pending: false,
            grant: Grant {
                revoked_at: None,
                ..self.grant.clone()
            },
            id: self.id.clone(),
        };
        TAG_VALUE_MAX as i64 - MARKER_RESERVE as i64 - plain.tag_value().chars().count() as i64
    }

    /// Reads a record back from its tag. Never panics, whatever the tag holds.
    pub fn from_tag(key: &str, value: &str) -> Result<Record, TagError> {
        let err = |reason: &str| TagError {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let id = key
            .strip_prefix(TAG_PREFIX)
            .and_then(GrantId::parse)
            .ok_or_else(|| err("the key is not jit:grant:<grant id>"))?;
        let fields = fields(value).map_err(|reason| err(&reason))?;
        let (direction, rule_number) = match (fields.get("v").copied(), id.legacy_slot()) {
            (Some("1"), Some(slot)) => slot,
            (Some("2"), None) => {
                let s = fields.get("s").ok_or_else(|| err("missing s"))?;
                s.split_once(':')
                    .and_then(|(d, n)| Some((Direction::parse(d)?, n.parse::<i32>().ok()?)))
                    .filter(|(_, n)| (RULE_NUMBER_MIN..=RULE_NUMBER_MAX).contains(n))
                    .ok_or_else(|| err("s is not <ingress|egress>:<rule number 1-32766>"))?
            }
            (Some("1" | "2"), _) => {
                return Err(err("the format version does not match the key"));
            }
            _ => return Err(err("unknown format version")),
        };
        let time = |name: &str| -> Result<OffsetDateTime, TagError> {
            let raw = fields
                .get(name)
                .ok_or_else(|| err(&format!("missing {name}")))?;
            parse_time(raw)
                .ok_or_else(|| err(&format!("{name} is not a time between 1970 and 9999")))
        };
        let text = |name: &str| -> Result<Option<String>, TagError> {
            fields
                .get(name)
                .map(|raw| decode(raw).ok_or_else(|| err(&format!("{name} is not UTF-8"))))
                .transpose()
        };
        let cidr = fields
            .get("n")
            .and_then(|n| n.parse::<IpNet>().ok())
            .filter(|n| n.trunc() == *n)
            .ok_or_else(|| err("missing or bad CIDR"))?;
        let protocol = fields
            .get("p")
            .and_then(|p| p.parse::<i16>().ok())
            .filter(|p| (-1..=255).contains(p))
            .map(Protocol)
            .ok_or_else(|| err("missing or bad protocol"))?;
        let ports = match fields.get("r") {
            None => None,
            Some(r) => {
                let (from, to) = r.split_once('-').ok_or_else(|| err("bad port range"))?;
                let ports = Ports {
                    from: from.parse().map_err(|_| err("bad port range"))?,
                    to: to.parse().map_err(|_| err("bad port range"))?,
                };
                if ports.from > ports.to {
                    return Err(err("bad port range"));
                }
                Some(ports)
            }
        };
        let action = fields
            .get("a")
            .and_then(|a| RuleAction::parse(a))
            .ok_or_else(|| err("missing or bad action"))?;
        let created_at = time("c")?;
        let expires_at = time("e")?;
        if expires_at < created_at {
            return Err(err("it expires before it was created"));
        }
        let pending = match fields.get("i") {
            None => false,
            Some(&"1") => true,
            Some(_) => return Err(err("bad intent flag")),
        };
        Ok(Record {
            id,
            grant: Grant {
                entry: EntrySpec {
                    direction,
                    rule_number,
                    cidr,
                    protocol,
                    ports,
                    action,
                },
                created_at,
                expires_at,
                ttl: text("t")?.ok_or_else(|| err("missing ttl"))?,
                requested_by: text("by")?,
                reason: text("why")?,
                revoked_at: fields.contains_key("x").then(|| time("x")).transpose()?,
            },
            pending,
        })
    }
}

/// Free text as a tag value holds it: percent-encoded, so no `;` or `=` of it splits a field.
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, FREE_TEXT).to_string()
}

/// The free text of an encoded field; `None` when it is not UTF-8.
pub(crate) fn decode(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// A time field: Unix seconds between 1970 and the end of 9999, else `None`.
pub(crate) fn parse_time(raw: &str) -> Option<OffsetDateTime> {
    raw.parse::<i64>()
        .ok()
        .filter(|s| (0..=LATEST).contains(s))
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
}

/// The `k=v;k=v` fields of a tag value; an error for a field without `=` or a field given twice.
pub(crate) fn fields(value: &str) -> Result<HashMap<&str, &str>, String> {
    let mut fields = HashMap::new();
    for part in value.split(';') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| "a field has no '='".to_string())?;
        if fields.insert(k, v).is_some() {
            return Err(format!("the field {k} appears twice"));
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            id: GrantId::parse("abcdefgh2345").unwrap(),
            grant: Grant {
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
            },
            pending: false,
        }
    }

    fn round_trip(r: &Record) -> Record {
        Record::from_tag(&r.tag_key(), &r.tag_value()).unwrap()
    }

    #[test]
    fn tag_round_trips_including_awkward_text() {
        let r = sample();
        assert_eq!(r.tag_key(), "jit:grant:abcdefgh2345");
        let v = r.tag_value();
        assert!(v.starts_with("v=2;s=ingress:200;c=1795000000;e=1795007200;t=2h;n=203.0.113.7/32;p=17;r=500-500;a=allow;by=alice;why=VPN from hotel%3B room%3D12 100%25 ok"), "{v}");
        assert_eq!(round_trip(&r), r);
    }

    #[test]
    fn intent_and_revoke_markers_round_trip_and_fit_reserved_room() {
        let mut r = sample();
        let room = r.tag_room();
        r.grant.reason =
            Some("x".repeat(room as usize + r.grant.reason.as_ref().unwrap().len() - 80));
        assert!(r.tag_room() >= 0);
        r.pending = true;
        r.grant.revoked_at = Some(OffsetDateTime::from_unix_timestamp(1_795_003_600).unwrap());
        assert!(r.tag_value().chars().count() <= TAG_VALUE_MAX);
        assert_eq!(round_trip(&r), r);
    }

    #[test]
    fn legacy_records_read_and_write_format_1() {
        // Written by jit before grant ids existed.
        let key = "jit:grant:ingress:200";
        let value =
            "v=1;c=1795000000;e=1795007200;t=2h;n=203.0.113.7/32;p=17;r=500-500;a=allow;by=alice";
        let r = Record::from_tag(key, value).unwrap();
        assert_eq!(r.id, GrantId::legacy(Direction::Ingress, 200));
        assert_eq!(r.grant.entry.rule_number, 200);
        assert_eq!(r.tag_key(), key);
        assert_eq!(r.tag_value(), value);
    }

    #[test]
    fn ipv6_all_protocol_without_ports() {
        let mut r = sample();
        r.grant.entry.cidr = "2001:db8::/48".parse().unwrap();
        r.grant.entry.protocol = Protocol::ALL;
        r.grant.entry.ports = None;
        r.grant.entry.direction = Direction::Egress;
        r.grant.requested_by = None;
        r.grant.reason = None;
        assert_eq!(round_trip(&r), r);
    }

    #[test]
    fn foreign_and_malformed_tags_are_errors_not_panics() {
        let ok = "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;r=1-2;a=allow";
        assert!(Record::from_tag("jit:grant:abcdefgh2345", ok).is_ok());
        for (key, value) in [
            ("Name", "x"),
            ("jit:grant:abcdefgh2345", "garbage"),
            ("jit:grant:abcdefgh2345", "v=3;c=1"),
            ("jit:grant:sideways:200", "v=1"),
            // Format and key disagree.
            ("jit:grant:ingress:200", ok),
            (
                "jit:grant:abcdefgh2345",
                "v=1;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            // Times before 1970 or after 9999 (a tag with e=-100000000000 used to panic jitctl).
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=-100000000000;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=253402300800;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=5;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow;x=99999999999999999999",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:0;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.1/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.0/8;p=300;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;r=9-1;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=%FF;n=10.0.0.0/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow;i=2",
            ),
        ] {
            assert!(Record::from_tag(key, value).is_err(), "{key} = {value}");
        }
    }

    /// A deterministic fuzz of the decoder: mutations of valid tags (byte flips, cuts, splices
    /// of numbers at the edges of every range) never panic, and whatever decodes re-encodes to
    /// a tag that decodes to the same record.
    #[test]
    fn the_decoder_survives_mutated_tags() {
        let seeds = [
            sample().tag_value(),
            "v=1;c=1795000000;e=1795007200;t=2h;n=2001:db8::/48;p=-1;a=deny;x=1795000001"
                .to_string(),
        ];
        let keys = [
            "jit:grant:abcdefgh2345",
            "jit:grant:egress:32766",
            "jit:grant:ingress:1",
        ];
        let splices = [
            "",
            ";",
            "=",
            ";;",
            "-1",
            "0",
            "99999999999999999999",
            "-9223372036854775808",
            "253402300799",
            "253402300800",
            "%",
            "%FF",
            "%E6%97",
            "日本",
            "v=2",
            ";i=1",
            ";x=",
            "/129",
        ];
        crate::grant::mutate::mutated_tags(
            0x9e37_79b9_7f4a_7c15u64,
            &seeds,
            &splices,
            50_000,
            |value, next| {
                let key = keys[(next() as usize) % keys.len()];
                if let Ok(r) = Record::from_tag(key, &value) {
                    let again =
                        Record::from_tag(&r.tag_key(), &r.tag_value()).unwrap_or_else(|e| {
                            panic!("{key} = {value:?} decoded, but its re-encoding did not: {e}")
                        });
                    assert_eq!(again, r, "{key} = {value:?}");
                }
            },
        );
    }
}
