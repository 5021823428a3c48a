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
