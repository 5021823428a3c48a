//! terraform-provider-jit: just-in-time network access on AWS as Terraform resources.
//!
//! Layout: `plugin` (go-plugin handshake and mTLS) → `server` (tfplugin6 dispatch, with the
//! protocol conversions in `server::wire`) → `resources/*` (one file per resource, the argument
//! rules they share in `resources::common`) over `tf` (values and their codec, attribute paths,
//! diagnostics, typed reading, schemas). The network-ACL grant domain is `grant`, its write
//! protocol `protocol`, the policy documents `policy`; `ctl` is `jitctl`, which uses those and
//! never a resource. AWS is behind `aws`, time behind `clock`. Imports flow one way:
//! `tests/layering.rs` fails on any cycle.

pub mod aws;
pub mod clock;
pub mod config;
pub mod ctl;
pub mod docs;
pub mod duration;
pub mod grant;
pub mod logging;
pub mod plugin;
pub mod policy;
pub mod proto;
pub mod protocol;
pub mod resource;
pub mod resources;
pub mod server;
pub mod tf;
