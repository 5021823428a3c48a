//! A network ACL as jit sees it at one moment: its entries and its tags. Plain data, filled in
//! by `aws::nacl` from `DescribeNetworkAcls` (or by the fakes in tests).

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::grant::model::{Direction, EntrySpec, Ports, Protocol, RuleAction};
use crate::grant::record::{Record, TAG_PREFIX};

/// One entry of a network ACL as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub direction: Direction,
    pub rule_number: i32,
    pub protocol: Protocol,
    pub action: RuleAction,
    /// None only for malformed entries AWS should never return.
    pub cidr: Option<IpNet>,
    pub ports: Option<Ports>,
}

/// The entry AWS holds once `spec` is created.
impl From<&EntrySpec> for AclEntry {
    fn from(spec: &EntrySpec) -> AclEntry {
        AclEntry {
            direction: spec.direction,
            rule_number: spec.rule_number,
            protocol: spec.protocol,
            action: spec.action,
            cidr: Some(spec.cidr),
            ports: spec.ports,
        }
    }
}

impl AclEntry {
    /// Whether this entry is exactly what `spec` describes.
    pub fn matches(&self, spec: &EntrySpec) -> bool {
        self.direction == spec.direction
            && self.rule_number == spec.rule_number
            && self.protocol == spec.protocol
            && self.action == spec.action
            && self.cidr == Some(spec.cidr)
            && (!spec.protocol.has_ports() || self.ports == spec.ports)
    }

    /// A human description, for errors that say what holds a rule number.
    pub fn describe(&self) -> String {
        let cidr = self.cidr.map_or_else(|| "?".into(), |c| c.to_string());
        let mut s = format!(
            "rule {} ({}): {} {} {}",
            self.rule_number,
            self.direction,
            self.action.as_str(),
            self.protocol,
            cidr
        );
        if let Some(p) = self.ports {
            s.push_str(&format!(" port {p}"));
        }
        s
    }
}

/// A network ACL's entries and tags at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AclView {
    pub acl_id: String,
    pub vpc_id: Option<String>,
    pub entries: Vec<AclEntry>,
    pub tags: BTreeMap<String, String>,
}

/// A `jit:grant:` tag as found on an ACL: decoded, or why it could not be.
#[derive(Debug, Clone, PartialEq)]
pub enum Tagged {
    Record(Record),
    Unreadable {
        key: String,
        value: String,
        problem: String,
    },
}

impl AclView {
    pub fn entry(&self, direction: Direction, rule_number: i32) -> Option<&AclEntry> {
        self.entries
            .iter()
            .find(|e| e.direction == direction && e.rule_number == rule_number)
    }

    /// Every `jit:grant:` tag, decoded where it can be.
    pub fn jit_tags(&self) -> impl Iterator<Item = Tagged> + '_ {
        self.tags
            .range(TAG_PREFIX.to_string()..)
            .take_while(|(k, _)| k.starts_with(TAG_PREFIX))
            .map(|(k, v)| match Record::from_tag(k, v) {
                Ok(r) => Tagged::Record(r),
                Err(e) => Tagged::Unreadable {
                    key: k.clone(),
                    value: v.clone(),
                    problem: e.to_string(),
                },
            })
    }

    /// Every readable jit record on the ACL.
    pub fn records(&self) -> Vec<Record> {
        self.jit_tags()
            .filter_map(|t| match t {
                Tagged::Record(r) => Some(r),
                Tagged::Unreadable { .. } => None,
            })
            .collect()
    }
}
