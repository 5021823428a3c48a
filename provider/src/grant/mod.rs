//! The network-ACL grant domain: what a grant is, how it is recorded in AWS, and what state a
//! recorded grant is in. Pure: no Terraform types, no AWS SDK, no async. The `jit_access_rule`
//! resource and `jitctl` both build on it, so each fact has one home:
//!
//! - [`model`]: the model itself: directions, actions, protocols, ports, the entry a grant opens
//!   ([`EntrySpec`]) and the grant ([`Grant`]), plus the grant address `acl-…:ingress:200`;
//! - [`id`]: the grant's unique identity ([`GrantId`]), generated at create;
//! - [`record`]: the one-tag-per-grant codec ([`Record`]), intents and revoke markers included;
//! - [`acl`]: a network ACL's entries and tags at one moment ([`AclView`]);
//! - [`lifecycle`]: who owns the entry at a rule number, and the grant-state machine with its
//!   one expiry rule;
//! - [`client_vpn`]: Client VPN grants (who may connect to an endpoint, from where), their tag
//!   on the endpoint (same key, codec, time bounds and revoke marker), and the client-connect
//!   handler's decision.
//!
//! This file only names them for the rest of the crate; the modules above import each other by
//! their own paths, never through it.

pub mod acl;
pub mod client_vpn;
pub mod id;
pub mod lifecycle;
pub mod model;
#[cfg(test)]
pub(crate) mod mutate;
pub mod record;

pub use acl::{AclEntry, AclView};
pub use id::GrantId;
pub use model::{
    Direction, EntrySpec, Grant, Ports, Protocol, RULE_NUMBER_MAX, RULE_NUMBER_MIN, RuleAction,
    address, parse_address, valid_acl_id,
};
pub use record::{Record, TAG_PREFIX, TAG_VALUE_MAX, TAGS_PER_RESOURCE_MAX, TagError};
