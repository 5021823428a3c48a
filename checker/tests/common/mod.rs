//! Shared by the integration tests.

use std::path::PathBuf;

/// This package's directory, from the variable cargo and nextest set when they run a test (not
/// `env!`, which a test binary reused from another checkout would carry over).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo/nextest"))
}
