//! terraform-provider-jit: just-in-time network access on AWS as Terraform resources.
//!
//! Layout: `plugin` (go-plugin handshake and mTLS) → `server` (tfplugin6 dispatch) →
//! `resources/*` (one file per resource) over `tf` (values, schemas, diagnostics), with AWS
//! behind `aws` and time behind `clock`.

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
