//! Revoke markers: the one place that writes and reads them.
//!
//! `jitctl revoke <policy arn>#<cidr>` ends a temporary range early. It tags the policy
//! `jit:revoked:<cidr>` = `x=<revoked> e=<expiry>` (Unix seconds) before it publishes the
//! document without the range, so that `jit_source_ip_policy` (at read and again right before
//! it writes) knows to leave the range out instead of granting it again, and the sweep knows when
//! the marker may go (once the range would have expired anyway).
//!
//! IAM tag keys and values may hold only Unicode letters, digits, spaces and `_ . : / = + - @`.
//! The key is legal for every CIDR: IPv4 text is digits, `.` and `/`; IPv6 text adds hex
//! letters and `:`; the longest (`ffff:…:ffff/128`, 43 characters) keeps the key at 55 of the
//! 128 characters IAM allows. The value separates its fields with a space. Markers written
//! before that used `;` (`x=<revoked>;e=<expiry>`), which real IAM refuses but moto accepts, so
//! that form is still read.

use std::collections::BTreeMap;

use ipnet::IpNet;
use time::OffsetDateTime;

/// Tag key prefix of revoke markers on a policy.
pub const REVOKE_TAG_PREFIX: &str = "jit:revoked:";

/// A revoke marker: the range, when it was revoked, and when it would have expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub cidr: IpNet,
    pub revoked_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// `jit:revoked:203.0.113.7/32`.
pub fn tag_key(cidr: IpNet) -> String {
    format!("{REVOKE_TAG_PREFIX}{cidr}")
}

impl Marker {
    pub fn key(&self) -> String {
        tag_key(self.cidr)
    }

    /// `x=1764612000 e=1764640800`.
    pub fn value(&self) -> String {
        format!(
            "x={} e={}",
            self.revoked_at.unix_timestamp(),
            self.expires_at.unix_timestamp()
        )
    }

    /// Reads one tag; `None` for other tags and for markers that do not parse. Fields may be
    /// separated by spaces (the current form) or `;` (the first one).
    pub fn parse(key: &str, value: &str) -> Option<Marker> {
        let cidr = key.strip_prefix(REVOKE_TAG_PREFIX)?.parse().ok()?;
        let field = |name: &str| {
            value
                .split([' ', ';'])
                .filter_map(|f| f.split_once('='))
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        };
        Some(Marker {
            cidr,
            revoked_at: field("x")?,
            expires_at: field("e")?,
        })
    }

    /// Whether this marker ends the grant of `cidr` that expires at `expires_at`. A marker for an
    /// earlier grant of the same range (another expiry) does not end a new one.
    pub fn revokes(&self, cidr: IpNet, expires_at: OffsetDateTime) -> bool {
        self.cidr == cidr && self.expires_at.unix_timestamp() == expires_at.unix_timestamp()
    }
}

/// Every revoke marker among a policy's tags, by range.
pub fn markers(tags: &BTreeMap<String, String>) -> BTreeMap<IpNet, Marker> {
    tags.iter()
        .filter_map(|(k, v)| Marker::parse(k, v))
        .map(|m| (m.cidr, m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::iam::{legal_tag_key, legal_tag_value};

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    fn marker(cidr: &str) -> Marker {
        Marker {
            cidr: cidr.parse().unwrap(),
            revoked_at: at(1_764_612_000),
            expires_at: at(1_764_640_800),
        }
    }

    #[test]
    fn markers_round_trip_in_legal_iam_tags() {
        for cidr in [
            "203.0.113.7/32",
            "10.0.0.0/8",
            "2001:db8::/64",
            "2001:db8:85a3::8a2e:370:7334/128",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124",
            "::ffff:192.0.2.1/128",
        ] {
            let m = marker(cidr);
            let (key, value) = (m.key(), m.value());
            assert!(legal_tag_key(&key), "{key}");
            assert!(legal_tag_value(&value), "{value}");
            assert_eq!(Marker::parse(&key, &value), Some(m), "{key} = {value}");
        }
        assert_eq!(
            marker("203.0.113.7/32").value(),
            "x=1764612000 e=1764640800"
        );
    }

    #[test]
    fn the_first_semicolon_form_is_still_read() {
        assert_eq!(
            Marker::parse("jit:revoked:203.0.113.7/32", "x=1764612000;e=1764640800"),
            Some(marker("203.0.113.7/32"))
        );
        assert!(!legal_tag_value("x=1764612000;e=1764640800"));
    }

    #[test]
    fn other_tags_and_broken_markers_are_not_markers() {
        for (k, v) in [
            ("jit:managed", "source-ip-policy"),
            ("jit:revoked:203.0.113.7/32", "x=1764612000"),
            ("jit:revoked:not-a-cidr", "x=1 e=2"),
            ("jit:revoked:203.0.113.7/32", "x=soon e=later"),
        ] {
            assert_eq!(Marker::parse(k, v), None, "{k} = {v}");
        }
        let tags = BTreeMap::from([
            ("team".to_string(), "platform".to_string()),
            (
                marker("2001:db8::/64").key(),
                marker("2001:db8::/64").value(),
            ),
        ]);
        assert_eq!(markers(&tags).len(), 1);
    }

    #[test]
    fn a_marker_ends_only_the_grant_it_was_written_for() {
        let m = marker("203.0.113.7/32");
        assert!(m.revokes("203.0.113.7/32".parse().unwrap(), at(1_764_640_800)));
        assert!(!m.revokes("203.0.113.7/32".parse().unwrap(), at(1_764_640_801)));
        assert!(!m.revokes("203.0.113.8/32".parse().unwrap(), at(1_764_640_800)));
    }
}
