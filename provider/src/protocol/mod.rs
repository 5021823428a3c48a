//! The write protocols: how jit changes AWS so that every intermediate state is recoverable and
//! no step ever acts on what another grant (or someone else) owns. The resources and `jitctl`
//! both write through here; the state machines are described in DESIGN.md.

pub mod client_vpn;
pub mod nacl;
