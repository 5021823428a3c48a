//! IAM source-IP allowlists whose temporary entries expire inside AWS: the CIDR set algebra,
//! the document model (render, decode, prune), an evaluator for what a document means, the
//! revoke markers `jitctl` leaves on a policy, and which jitlint rules a document jit writes must
//! pass (`guardrail`).
//!
//! Pure code: no AWS and no Terraform, so the provider and `jitctl` share it.

pub mod cidrs;
pub mod document;
pub mod eval;
pub mod guardrail;
pub mod revoke;
#[cfg(test)]
mod testing;

pub use document::{Fit, Spec, Temporary, same_document};
