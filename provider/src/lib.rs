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
pub mod connect_handler;
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

/// The version of this build (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit this build was made from: `JIT_BUILD_COMMIT` at build time (`scripts/release.sh` sets it from
/// git), or `unknown` (see `build.rs`).
pub const COMMIT: &str = env!("JIT_COMMIT");

/// What `--version` prints after the program's name: `0.2.0 (commit 1a2b…)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("JIT_COMMIT"),
    ")"
);
