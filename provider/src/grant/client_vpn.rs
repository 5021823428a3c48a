//! Client VPN grants: who may connect to a Client VPN endpoint, from where, and until when.
//!
//! A grant names exactly one identity (a username, a certificate common name, or a group) and
//! optionally the CIDR the client's public address must lie in. It is recorded as one tag on the
//! endpoint, keyed by the grant's identity like the network-ACL records (`jit:grant:<grant id>`),
//! so the client-connect handler, `jitctl` and import recover every grant from AWS alone:
//!
//! `v=cvpn1;<u|cn|g>=<identity>[;n=<cidr>];c=<epoch>;e=<epoch>;t=<ttl>[;by=…][;why=…][;x=<epoch>]`
//!
//! Free text (the identity, ttl, requester, reason) is percent-encoded with the network-ACL
//! records' codec, times are bounded the same way (1970..9999), and `x=` is the same revoke
//! marker. There is no intent flag: a Client VPN grant is nothing but its tag (the handler admits
//! a connection while the tag says so), so creating one is a single tag write.
//!
//! Pure: no Terraform types, no SDK, no async. The decision the handler makes ([`decide`]) lives
//! here too, with the one expiry rule of [`lifecycle`].

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use time::OffsetDateTime;

use crate::clock::format_rfc3339;
use crate::grant::lifecycle::has_ended;
use crate::grant::record::{self, REVOKE_MARKER_RESERVE};
use crate::grant::{GrantId, TAG_PREFIX, TAG_VALUE_MAX, TagError};

/// The format version of a Client VPN grant's tag value (the `v=` field).
pub const FORMAT: &str = "cvpn1";

/// AWS's limit on the message a refused client is shown, and on each posture-compliance status.
pub const MESSAGE_MAX: usize = 255;

/// Who a grant lets connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The `username` of directory (Active Directory) or SAML authentication.
    Username(String),
    /// The common name of the client certificate (mutual authentication).
    CommonName(String),
    /// One of the connection's `groups` (AD or SAML groups; schema v2 events only).
    Group(String),
}

impl Identity {
    /// The tag field that holds it.
    fn field(&self) -> &'static str {
        match self {
            Identity::Username(_) => "u",
            Identity::CommonName(_) => "cn",
            Identity::Group(_) => "g",
        }
    }

    /// The resource attribute that sets it.
    pub fn attribute(&self) -> &'static str {
        match self {
            Identity::Username(_) => "username",
            Identity::CommonName(_) => "common_name",
            Identity::Group(_) => "group",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Identity::Username(v) | Identity::CommonName(v) | Identity::Group(v) => v,
        }
    }

    /// Whether a connection carries this identity. Compared exactly, as AWS passes them.
    pub fn matches(&self, c: &Connection<'_>) -> bool {
        match self {
            Identity::Username(u) => !c.username.is_empty() && c.username == u,
            Identity::CommonName(n) => !c.common_name.is_empty() && c.common_name == n,
            Identity::Group(g) => c.groups.iter().any(|x| x == g),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Username(u) => write!(f, "user {u}"),
            Identity::CommonName(n) => write!(f, "certificate {n}"),
            Identity::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// A Client VPN grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub identity: Identity,
    /// Where the client's public address must lie; `None`: anywhere.
    pub cidr: Option<IpNet>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The TTL exactly as the user wrote it, so an import matches the configuration.
    pub ttl: String,
    pub requested_by: Option<String>,
    pub reason: Option<String>,
    /// Set by `jitctl revoke`: ended early, never re-created.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A grant as recorded on its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: GrantId,
    pub grant: Grant,
}

/// What a recorded grant amounts to at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Admits matching connections.
    Active,
    /// Past its `expires_at`: admits nothing; the next sweep or apply removes its tag.
    Expired,
    /// Ended early by `jitctl revoke`: admits nothing and is never re-created.
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Expired => "expired",
            State::Revoked => "revoked",
        }
    }
}

impl Grant {
    /// The grant's state at `now`: a revoke marker first, then the one expiry rule.
    pub fn state(&self, now: OffsetDateTime) -> State {
        if self.revoked_at.is_some() {
            State::Revoked
        } else if has_ended(self.expires_at, now) {
            State::Expired
        } else {
            State::Active
        }
    }

    /// Whether the grant lets `connection` in at `now`.
    pub fn admits(&self, connection: &Connection<'_>, now: OffsetDateTime) -> bool {
        self.state(now) == State::Active
            && self.identity.matches(connection)
            && self.admits_address(connection.public_ip)
    }

    fn admits_address(&self, ip: IpAddr) -> bool {
        self.cidr.is_none_or(|net| net.contains(&ip))
    }
}

impl Record {
    pub fn tag_key(&self) -> String {
        record::tag_key(&self.id)
    }

    /// The tag value (see the module documentation).
    pub fn tag_value(&self) -> String {
        let g = &self.grant;
        let mut v = format!(
            "v={FORMAT};{}={}",
            g.identity.field(),
            record::encode(g.identity.value())
        );
        if let Some(n) = g.cidr {
            v.push_str(&format!(";n={n}"));
        }
        v.push_str(&format!(
            ";c={};e={};t={}",
            g.created_at.unix_timestamp(),
            g.expires_at.unix_timestamp(),
            record::encode(&g.ttl)
        ));
        if let Some(by) = &g.requested_by {
            v.push_str(";by=");
            v.push_str(&record::encode(by));
        }
        if let Some(why) = &g.reason {
            v.push_str(";why=");
            v.push_str(&record::encode(why));
        }
        if let Some(x) = g.revoked_at {
            v.push_str(&format!(";x={}", x.unix_timestamp()));
        }
        v
    }

    /// How many characters the tag value may still take for free text, keeping room for the
    /// revoke marker. Negative when the grant already does not fit in AWS's 256.
    pub fn tag_room(&self) -> i64 {
        let plain = Record {
            id: self.id.clone(),
            grant: Grant {
                revoked_at: None,
                ..self.grant.clone()
            },
        };
        TAG_VALUE_MAX as i64
            - REVOKE_MARKER_RESERVE as i64
            - plain.tag_value().chars().count() as i64
    }

    /// Whether a tag is a Client VPN grant's (its value says so), readable or not.
    pub fn is_client_vpn_tag(key: &str, value: &str) -> bool {
        key.starts_with(TAG_PREFIX)
            && value
                .split(';')
                .next()
                .is_some_and(|v| v == format!("v={FORMAT}"))
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
            .filter(|id| !id.is_legacy())
            .ok_or_else(|| err("the key is not jit:grant:<grant id>"))?;
        let fields = record::fields(value).map_err(|reason| err(&reason))?;
        if fields.get("v") != Some(&FORMAT) {
            return Err(err("not a Client VPN grant (v=cvpn1)"));
        }
        let text = |name: &str| -> Result<Option<String>, TagError> {
            fields
                .get(name)
                .map(|raw| record::decode(raw).ok_or_else(|| err(&format!("{name} is not UTF-8"))))
                .transpose()
        };
        let time = |name: &str| -> Result<OffsetDateTime, TagError> {
            fields
                .get(name)
                .and_then(|raw| record::parse_time(raw))
                .ok_or_else(|| {
                    err(&format!(
                        "{name} is missing or not a time between 1970 and 9999"
                    ))
                })
        };
        let mut identities = Vec::new();
        if let Some(u) = text("u")? {
            identities.push(Identity::Username(u));
        }
        if let Some(n) = text("cn")? {
            identities.push(Identity::CommonName(n));
        }
        if let Some(g) = text("g")? {
            identities.push(Identity::Group(g));
        }
        let identity = match identities.pop() {
            Some(i) if identities.is_empty() && !i.value().is_empty() => i,
            _ => return Err(err("it needs exactly one non-empty identity: u, cn or g")),
        };
        let cidr = match fields.get("n") {
            None => None,
            Some(n) => Some(
                n.parse::<IpNet>()
                    .ok()
                    .filter(|net| net.trunc() == *net)
                    .ok_or_else(|| err("bad CIDR"))?,
            ),
        };
        let created_at = time("c")?;
        let expires_at = time("e")?;
        if expires_at < created_at {
            return Err(err("it expires before it was created"));
        }
        Ok(Record {
            id,
            grant: Grant {
                identity,
                cidr,
                created_at,
                expires_at,
                ttl: text("t")?.ok_or_else(|| err("missing ttl"))?,
                requested_by: text("by")?,
                reason: text("why")?,
                revoked_at: fields.contains_key("x").then(|| time("x")).transpose()?,
            },
        })
    }
}

/// Valid Client VPN endpoint ids: `cvpn-endpoint-` and 17 lowercase hex digits.
pub fn valid_endpoint_id(id: &str) -> bool {
    id.strip_prefix("cvpn-endpoint-").is_some_and(|hex| {
        hex.len() == 17 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// `cvpn-endpoint-…:<grant id>`: the resource id, the import id and `jitctl`'s id of a grant.
pub fn address(endpoint_id: &str, id: &GrantId) -> String {
    format!("{endpoint_id}:{id}")
}

/// Parses `cvpn-endpoint-…:<grant id>`.
pub fn parse_address(text: &str) -> Result<(String, GrantId), String> {
    let usage = || {
        format!(
            "{text:?} is not a Client VPN grant id; expected \"cvpn-endpoint-0123456789abcdef0:<grant id>\", e.g. \"cvpn-endpoint-0123456789abcdef0:abcdefgh2345\""
        )
    };
    let (endpoint, id) = text.split_once(':').ok_or_else(usage)?;
    if !valid_endpoint_id(endpoint) {
        return Err(usage());
    }
    let id = GrantId::parse(id)
        .filter(|id| !id.is_legacy())
        .ok_or_else(usage)?;
    Ok((endpoint.to_string(), id))
}

/// The Client VPN grants among an endpoint's tags: the readable ones, and the errors of the
/// `jit:grant:` tags that say they are Client VPN grants but cannot be read.
pub fn records<'a>(
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> (Vec<Record>, Vec<TagError>) {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for (k, v) in tags {
        if !k.starts_with(TAG_PREFIX) {
            continue;
        }
        match Record::from_tag(k, v) {
            Ok(r) => records.push(r),
            Err(e) => unreadable.push(e),
        }
    }
    (records, unreadable)
}

/// A client asking to connect, as the client-connect handler's event describes it.
#[derive(Debug, Clone)]
pub struct Connection<'a> {
    pub username: &'a str,
    pub common_name: &'a str,
    pub groups: &'a [String],
    pub public_ip: IpAddr,
}

impl Connection<'_> {
    /// How a message names the client: the username, else the certificate's common name.
    fn who(&self) -> String {
        match (self.username, self.common_name) {
            ("", "") => "an anonymous client".to_string(),
            ("", cn) => format!("certificate {cn}"),
            (u, _) => u.to_string(),
        }
    }
}

/// Why a connection was let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// By this grant.
    Grant(GrantId),
    /// By a standing range (the handler's `JIT_ALWAYS_ALLOW_CIDRS`), which never expires.
    Standing(IpNet),
}

impl Admission {
    /// The posture-compliance status the endpoint's connection log keeps for the connection:
    /// the grant id, or `always-allow:<cidr>`.
    pub fn status(&self) -> String {
        match self {
            Admission::Grant(id) => id.to_string(),
            Admission::Standing(net) => format!("always-allow:{net}"),
        }
    }
}

/// The handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Admit(Admission),
    /// Refused, with the message shown to the client (at most [`MESSAGE_MAX`] characters).
    Refuse(String),
}

/// Whether to let `connection` in at `now`: a standing range that holds its address, else the
/// active grant that matches it and expires last. A refusal says why, naming the closest grant.
pub fn decide(
    records: &[Record],
    standing: &[IpNet],
    connection: &Connection<'_>,
    now: OffsetDateTime,
) -> Decision {
    if let Some(net) = standing.iter().find(|n| n.contains(&connection.public_ip)) {
        return Decision::Admit(Admission::Standing(*net));
    }
    let admitting = records
        .iter()
        .filter(|r| r.grant.admits(connection, now))
        .max_by(|a, b| (a.grant.expires_at, &a.id).cmp(&(b.grant.expires_at, &b.id)));
    if let Some(r) = admitting {
        return Decision::Admit(Admission::Grant(r.id.clone()));
    }
    Decision::Refuse(limit_message(refusal(records, connection, now)))
}

fn refusal(records: &[Record], c: &Connection<'_>, now: OffsetDateTime) -> String {
    let who = c.who();
    let ip = c.public_ip;
    if c.username.is_empty() && c.common_name.is_empty() && c.groups.is_empty() {
        return "jit refused the connection: it carries no username, certificate common name or group, and jit grants name one of them".to_string();
    }
    let mine: Vec<&Record> = records
        .iter()
        .filter(|r| r.grant.identity.matches(c))
        .collect();
    // An active grant for this client, but from elsewhere: the most useful thing to say.
    if let Some(r) = mine
        .iter()
        .filter(|r| r.grant.state(now) == State::Active)
        .max_by_key(|r| r.grant.expires_at)
    {
        let net = r.grant.cidr.map(|n| n.to_string()).unwrap_or_default();
        return format!(
            "no active jit grant for {who} from {ip}; grant {} admits only {net}, until {}",
            r.id,
            format_rfc3339(r.grant.expires_at)
        );
    }
    match mine
        .iter()
        .max_by_key(|r| r.grant.revoked_at.unwrap_or(r.grant.expires_at))
    {
        Some(r) => match r.grant.revoked_at {
            Some(x) => format!(
                "no active jit grant for {who} from {ip}; the last one was revoked at {}",
                format_rfc3339(x)
            ),
            None => format!(
                "no active jit grant for {who} from {ip}; the last one expired at {}",
                format_rfc3339(r.grant.expires_at)
            ),
        },
        None => format!(
            "no jit grant for {who} from {ip} on this endpoint; ask for one (jit_client_vpn_grant)"
        ),
    }
}

/// `text` cut to [`MESSAGE_MAX`] characters (with `…` when cut), on a character boundary.
pub fn limit_message(text: String) -> String {
    if text.chars().count() <= MESSAGE_MAX {
        return text;
    }
    let mut cut: String = text.chars().take(MESSAGE_MAX - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    fn sample() -> Record {
        Record {
            id: GrantId::parse("abcdefgh2345").unwrap(),
            grant: Grant {
                identity: Identity::Username("alice@example.com".into()),
                cidr: Some("203.0.113.0/24".parse().unwrap()),
                created_at: at(1_795_000_000),
                expires_at: at(1_795_007_200),
                ttl: "2h".into(),
                requested_by: Some("bob".into()),
                reason: Some("on call; 100% — 日本".into()),
                revoked_at: None,
            },
        }
    }

    fn conn<'a>(user: &'a str, ip: &str, groups: &'a [String]) -> Connection<'a> {
        Connection {
            username: user,
            common_name: "",
            groups,
            public_ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn tags_round_trip_for_every_identity() {
        let r = sample();
        assert_eq!(r.tag_key(), "jit:grant:abcdefgh2345");
        assert_eq!(
            r.tag_value(),
            "v=cvpn1;u=alice@example.com;n=203.0.113.0/24;c=1795000000;e=1795007200;t=2h;by=bob;why=on call%3B 100%25 %E2%80%94 %E6%97%A5%E6%9C%AC"
        );
        assert!(Record::is_client_vpn_tag(&r.tag_key(), &r.tag_value()));
        for identity in [
            Identity::CommonName("laptop-42".into()),
            Identity::Group("vpn-admins;x=1".into()),
        ] {
            let mut r = sample();
            r.grant.identity = identity;
            r.grant.cidr = None;
            r.grant.revoked_at = Some(at(1_795_001_000));
            assert_eq!(Record::from_tag(&r.tag_key(), &r.tag_value()).unwrap(), r);
        }
    }

    #[test]
    fn the_revoke_marker_fits_in_the_reserved_room() {
        let mut r = sample();
        let room = r.tag_room();
        assert!(room > 0);
        r.grant.reason = Some(format!(
            "{}{}",
            r.grant.reason.clone().unwrap(),
            "x".repeat(room as usize)
        ));
        assert_eq!(r.tag_room(), 0);
        r.grant.revoked_at = Some(at(9_999_999_999));
        assert!(r.tag_value().chars().count() <= TAG_VALUE_MAX);
    }

    #[test]
    fn network_acl_records_and_garbage_are_not_client_vpn_grants() {
        let ok = "v=cvpn1;u=alice;c=1;e=2;t=1s";
        assert!(Record::from_tag("jit:grant:abcdefgh2345", ok).is_ok());
        for (key, value) in [
            (
                "jit:grant:abcdefgh2345",
                "v=2;s=ingress:200;c=1;e=2;t=1s;n=10.0.0.0/8;p=6;a=allow",
            ),
            ("jit:grant:ingress:200", ok),
            ("Name", ok),
            ("jit:grant:abcdefgh2345", "v=cvpn1;c=1;e=2;t=1s"),
            (
                "jit:grant:abcdefgh2345",
                "v=cvpn1;u=alice;g=admins;c=1;e=2;t=1s",
            ),
            ("jit:grant:abcdefgh2345", "v=cvpn1;u=;c=1;e=2;t=1s"),
            (
                "jit:grant:abcdefgh2345",
                "v=cvpn1;u=alice;n=10.0.0.1/8;c=1;e=2;t=1s",
            ),
            ("jit:grant:abcdefgh2345", "v=cvpn1;u=alice;c=5;e=2;t=1s"),
            (
                "jit:grant:abcdefgh2345",
                "v=cvpn1;u=alice;c=1;e=-100000000000;t=1s",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=cvpn1;u=alice;c=1;e=253402300800;t=1s",
            ),
            ("jit:grant:abcdefgh2345", "v=cvpn1;u=alice;c=1;e=2"),
            ("jit:grant:abcdefgh2345", "v=cvpn1;u=%FF;c=1;e=2;t=1s"),
            (
                "jit:grant:abcdefgh2345",
                "v=cvpn1;u=alice;u=bob;c=1;e=2;t=1s",
            ),
            (
                "jit:grant:abcdefgh2345",
                "v=cvpn1;u=alice;c=1;e=2;t=1s;x=nope",
            ),
        ] {
            assert!(Record::from_tag(key, value).is_err(), "{key} = {value}");
        }
    }

    /// A deterministic fuzz of the decoder, as for the network-ACL records: mutated tags never
    /// panic, and whatever decodes re-encodes to a tag that decodes to the same record.
    #[test]
    fn the_decoder_survives_mutated_tags() {
        let mut revoked = sample();
        revoked.grant.identity = Identity::Group("admins".into());
        revoked.grant.revoked_at = Some(at(1_795_000_100));
        let seeds = [sample().tag_value(), revoked.tag_value()];
        let splices = [
            "",
            ";",
            "=",
            ";;",
            "-1",
            "0",
            "99999999999999999999",
            "253402300800",
            "%",
            "%FF",
            "%E6%97",
            "日本",
            "v=cvpn1",
            ";u=",
            ";cn=x",
            ";g=",
            ";n=",
            "/33",
            "::/0",
            ";x=",
        ];
        crate::grant::mutate::mutated_tags(
            0x2545_f491_4f6c_dd1du64,
            &seeds,
            &splices,
            50_000,
            |value, _| {
                if let Ok(r) = Record::from_tag("jit:grant:abcdefgh2345", &value) {
                    let again =
                        Record::from_tag(&r.tag_key(), &r.tag_value()).unwrap_or_else(|e| {
                            panic!("{value:?} decoded, but its re-encoding did not: {e}")
                        });
                    assert_eq!(again, r, "{value:?}");
                }
            },
        );
    }

    #[test]
    fn decide_admits_only_an_active_matching_grant() {
        let r = sample();
        let records = [r.clone()];
        let none: &[String] = &[];
        let during = at(1_795_003_600);
        assert_eq!(
            decide(
                &records,
                &[],
                &conn("alice@example.com", "203.0.113.9", none),
                during
            ),
            Decision::Admit(Admission::Grant(r.id.clone()))
        );
        let refused = |c: &Connection<'_>, now| match decide(&records, &[], c, now) {
            Decision::Refuse(m) => m,
            d => panic!("admitted: {d:?}"),
        };
        let wrong_ip = refused(&conn("alice@example.com", "198.51.100.7", none), during);
        assert_eq!(
            wrong_ip,
            "no active jit grant for alice@example.com from 198.51.100.7; grant abcdefgh2345 admits only 203.0.113.0/24, until 2026-11-18T13:06:40Z"
        );
        let wrong_user = refused(&conn("mallory", "203.0.113.9", none), during);
        assert!(
            wrong_user.starts_with("no jit grant for mallory from 203.0.113.9"),
            "{wrong_user}"
        );
        // The one expiry rule: from expires_at on, nothing is admitted.
        let expired = refused(
            &conn("alice@example.com", "203.0.113.9", none),
            r.grant.expires_at,
        );
        assert_eq!(
            expired,
            "no active jit grant for alice@example.com from 203.0.113.9; the last one expired at 2026-11-18T13:06:40Z"
        );
        let mut revoked = r.clone();
        revoked.grant.revoked_at = Some(at(1_795_001_000));
        let revoked_msg = match decide(
            &[revoked],
            &[],
            &conn("alice@example.com", "203.0.113.9", none),
            during,
        ) {
            Decision::Refuse(m) => m,
            d => panic!("a revoked grant admitted: {d:?}"),
        };
        assert!(
            revoked_msg.ends_with("the last one was revoked at 2026-11-18T11:23:20Z"),
            "{revoked_msg}"
        );
    }

    #[test]
    fn groups_common_names_and_standing_ranges() {
        let mut group = sample();
        group.grant.identity = Identity::Group("vpn-admins".into());
        group.grant.cidr = None;
        let mut device = sample();
        device.id = GrantId::parse("zzzzzzzzzzzz").unwrap();
        device.grant.identity = Identity::CommonName("laptop-42".into());
        let records = [group.clone(), device.clone()];
        let during = at(1_795_003_600);
        let groups = vec!["staff".to_string(), "vpn-admins".to_string()];
        assert_eq!(
            decide(&records, &[], &conn("carol", "192.0.2.1", &groups), during),
            Decision::Admit(Admission::Grant(group.id.clone()))
        );
        let cert = Connection {
            username: "",
            common_name: "laptop-42",
            groups: &[],
            public_ip: "203.0.113.1".parse().unwrap(),
        };
        assert_eq!(
            decide(&records, &[], &cert, during),
            Decision::Admit(Admission::Grant(device.id.clone()))
        );
        let office: IpNet = "198.51.100.0/24".parse().unwrap();
        let anyone = conn("nobody", "198.51.100.20", &[]);
        let d = decide(&[], &[office], &anyone, during);
        assert_eq!(d, Decision::Admit(Admission::Standing(office)));
        if let Decision::Admit(a) = d {
            assert_eq!(a.status(), "always-allow:198.51.100.0/24");
        }
        let nobody = Connection {
            username: "",
            common_name: "",
            groups: &[],
            public_ip: "192.0.2.1".parse().unwrap(),
        };
        assert!(
            matches!(decide(&records, &[], &nobody, during), Decision::Refuse(m) if m.contains("no username"))
        );
    }

    #[test]
    fn addresses_round_trip_and_refuse_garbage() {
        let id = GrantId::parse("abcdefgh2345").unwrap();
        let a = address("cvpn-endpoint-0123456789abcdef0", &id);
        assert_eq!(a, "cvpn-endpoint-0123456789abcdef0:abcdefgh2345");
        assert_eq!(
            parse_address(&a).unwrap(),
            ("cvpn-endpoint-0123456789abcdef0".to_string(), id)
        );
        for bad in [
            "cvpn-endpoint-0123456789abcdef0",
            "cvpn-endpoint-0123:abcdefgh2345",
            "acl-0123456789abcdef0:abcdefgh2345",
            "cvpn-endpoint-0123456789abcdef0:ingress:200",
            "cvpn-endpoint-0123456789ABCDEF0:abcdefgh2345",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_stay_within_aws_limit() {
        let long = "ü".repeat(400);
        let none: &[String] = &[];
        let c = conn(&long, "192.0.2.1", none);
        let Decision::Refuse(m) = decide(&[], &[], &c, at(0)) else {
            panic!("admitted")
        };
        assert_eq!(m.chars().count(), MESSAGE_MAX);
        assert!(m.ends_with('…'));
    }
}
